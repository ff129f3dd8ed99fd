#!/usr/bin/env gjs
// user-object.js: the seed's §1 in GJS, passing one object to one worker
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Python pickles an instance of a user class onto a Queue. Here the user
// object is a small JavaScript class that describes itself as a GVariant
// and is rebuilt from one: the child gets a copy and runs its own code on
// it, so the line names the child. Nothing received is executed.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

class MyFancyClass {
    constructor(name) {
        this.name = name;
    }

    static fromVariant(variant) {
        const [name] = variant.deepUnpack();
        return new MyFancyClass(name);
    }

    toVariant() {
        return new GLib.Variant('(s)', [this.name]);
    }

    doSomething() {
        const procName = Mproc.current_process().get_name();
        print(`Doing something fancy in ${procName} for ${this.name}!`);
    }
}

function worker(process) {
    const queue = process.get_object(0);
    const obj = MyFancyClass.fromVariant(queue.get(-1, null));
    obj.doSomething();
    return 0;
}

// Before Mproc.init(): the spawned child runs this script up to there,
// where Mproc.init() runs the worker and exits.
Mproc.register_target('worker', worker);
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Queue.prototype, 'put_async', 'put_finish');
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

async function main() {
    const queue = Mproc.Queue.new(0);
    const p = Mproc.Process.new_with_context(context, 'worker', null);
    p.add_object(queue);
    p.start();

    await queue.put_async(new MyFancyClass('Fancy Dan').toVariant(), -1, null);

    // Wait for the worker to finish
    queue.close();
    queue.join_thread();
    await p.join_async(-1, null);
    return p.get_exit_code();
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().then(code => {
    status = code;
}, e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
