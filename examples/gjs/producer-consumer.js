#!/usr/bin/env gjs
// producer-consumer.js: the seed's §2 in GJS, a worker pool by hand with
// poison pills (the later version: a JoinableQueue, task_done() after every
// item, and the parent's join() before it reads the results).
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Run from a build tree:
//   GI_TYPELIB_PATH=_build/mproc-glib LD_LIBRARY_PATH=_build/mproc-glib \
//     gjs examples/gjs/producer-consumer.js
//
// Consumer is an Mproc.Process subclass written in JavaScript: its run()
// is a JS function, and its two queues are GObject properties, which is how
// its state reaches the child. The child is a spawned gjs: the spawn start
// method runs this script again from the top, and Mproc.init() then turns
// that gjs process into the consumer. Everything above Mproc.init() runs in
// every child, so only definitions go there.

imports.gi.versions.Mproc = '1';
const {GLib, GObject, Gio, Mproc} = imports.gi;

// A task is a "m(ii)": Just (a, b), or Nothing, the poison pill.
const Consumer = GObject.registerClass({
    // named plain "Consumer", so that its processes are named Consumer-1,
    // Consumer-2… as in the seed
    GTypeName: 'Consumer',
    Properties: {
        'task-queue': GObject.ParamSpec.object('task-queue', '', '',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY,
            Mproc.JoinableQueue.$gtype),
        'result-queue': GObject.ParamSpec.object('result-queue', '', '',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY,
            Mproc.Queue.$gtype),
    },
}, class Consumer extends Mproc.Process {
    // Runs in the child process; returns its exit code.
    vfunc_run() {
        const name = this.get_name();
        for (;;) {
            const task = this.task_queue.get(-1, null).get_maybe();
            if (task === null) {
                // Poison pill means shutdown
                print(`${name}: Exiting`);
                this.task_queue.task_done();
                break;
            }
            const [a, b] = task.deepUnpack();
            print(`${name}: ${a} * ${b}`);
            GLib.usleep(GLib.USEC_PER_SEC / 10);  // pretend to take some time to do the work
            this.task_queue.task_done();
            this.result_queue.put(new GLib.Variant('s', `${a} * ${b} = ${a * b}`), -1, null);
        }
        return 0;
    }
});

// In a child, this call runs the child's work and exits.
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Queue.prototype, 'put_async', 'put_finish');
Gio._promisify(Mproc.Queue.prototype, 'get_async', 'get_finish');
Gio._promisify(Mproc.JoinableQueue.prototype, 'join_async', 'join_finish');
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

async function main() {
    // Establish communication queues
    const tasks = Mproc.JoinableQueue.new(0);
    const results = Mproc.Queue.new(0);

    // Start consumers
    const numConsumers = Mproc.cpu_count() * 2;
    print(`Creating ${numConsumers} consumers`);
    const consumers = [];
    for (let i = 0; i < numConsumers; i++) {
        const consumer = new Consumer({
            context,
            task_queue: tasks,
            result_queue: results,
        });
        consumer.start();
        consumers.push(consumer);
    }

    // Enqueue jobs
    const numJobs = 10;
    for (let i = 0; i < numJobs; i++)
        await tasks.put_async(new GLib.Variant('m(ii)', [i, i]), -1, null);

    // Add a poison pill for each consumer
    for (let i = 0; i < numConsumers; i++)
        await tasks.put_async(new GLib.Variant('m(ii)', null), -1, null);

    // Wait for all of the tasks to finish
    await tasks.join_async(-1, null);

    // Start printing results
    for (let i = 0; i < numJobs; i++) {
        const result = await results.get_async(-1, null);
        print(`Result: ${result.unpack()}`);
    }

    for (const consumer of consumers)
        await consumer.join_async(-1, null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
