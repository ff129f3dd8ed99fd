// test-gjs-worker.js: JavaScript targets, Process subclasses and pool tasks
// run in spawned gjs workers. Prints TAP.
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Every child is a fresh gjs running this script again (the spawn start
// method); Mproc.init() then runs its target and exits. Fork is never used
// from GJS: SpiderMonkey runs helper threads, and forkserver's server would
// be a threaded gjs too, so its forks would be as unsafe.

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GLib, GObject, Gio, Mproc} = imports.gi;
const {requireInit, run} = imports.gjstap;

// Sends back what the child sees of itself, then exits with the code it
// was asked for.
function report(process, args) {
    const [code, message] = args.deepUnpack();
    const parent = Mproc.parent_process();
    process.get_object(0).put(new GLib.Variant('(sisis)', [
        message,
        new Gio.Credentials().get_unix_pid(),
        Mproc.current_process().get_name(),
        parent === null ? 0 : parent.get_pid(),
        parent === null ? '' : parent.get_name(),
    ]), -1, null);
    return code;
}

function addMany(process, args) {
    const value = process.get_object(0);
    const ready = process.get_object(1);
    ready.wait(-1, null);
    for (let i = 0; i < args.unpack(); i++)
        value.add(1);
    return 0;
}

// A Process subclass in JavaScript: its properties travel to the child.
const Echo = GObject.registerClass({
    GTypeName: 'GjsTestEcho',
    Properties: {
        'queue': GObject.ParamSpec.object('queue', '', '',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY, Mproc.Queue.$gtype),
        'prefix': GObject.ParamSpec.string('prefix', '', '',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY, ''),
        'count': GObject.ParamSpec.int('count', '', '',
            GObject.ParamFlags.READWRITE | GObject.ParamFlags.CONSTRUCT_ONLY, 0, 100, 0),
    },
}, class Echo extends Mproc.Process {
    vfunc_run() {
        for (let i = 0; i < this.count; i++)
            this.queue.put(new GLib.Variant('s', `${this.prefix}${i} from ${this.get_name()}`), -1, null);
        return 5;
    }
});

function square(arg) {
    return new GLib.Variant('x', arg.unpack() ** 2);
}

// set by the pool's initializer, in each worker
let workerTag = null;

function initWorker(args) {
    const [tag] = args.deepUnpack();
    workerTag = `${tag} ${new Gio.Credentials().get_unix_pid()}`;
    return new GLib.Variant('()', []);
}

function pidOf() {
    GLib.usleep(20000);  // so that every worker gets some of the tasks
    const pid = new Gio.Credentials().get_unix_pid();
    return new GLib.Variant('(is)', [pid, workerTag ?? 'no initializer']);
}

requireInit();
Mproc.register_target('report', report);
Mproc.register_target('add-many', addMany);
Mproc.register_task('square', square);
Mproc.register_task('init-worker', initWorker);
Mproc.register_task('pid-of', pidOf);
Mproc.init(null);

const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');
Gio._promisify(Mproc.Queue.prototype, 'get_async', 'get_finish');
Gio._promisify(Mproc.Pool.prototype, 'map_async', 'map_finish');
Gio._promisify(Mproc.Pool.prototype, 'apply_async', 'apply_finish');
Gio._promisify(Mproc.Pool.prototype, 'join_async', 'join_finish');
Gio._promisify(Mproc.PoolIterator.prototype, 'next_async', 'next_finish');

run(async tap => {
    const myPid = new Gio.Credentials().get_unix_pid();

    await tap.test('a JS target runs in a spawned gjs child, with its args and objects', async () => {
        const queue = Mproc.Queue.new(0);
        const p = Mproc.Process.new_with_context(context, 'report', new GLib.Variant('(is)', [7, 'hello']));
        p.set_name('reporter');
        p.add_object(queue);
        p.start();
        const [message, pid, name, parentPid, parentName] = (await queue.get_async(-1, null)).deepUnpack();
        await p.join_async(-1, null);
        const cmdline = new TextDecoder().decode(
            GLib.file_get_contents(`/proc/${myPid}/cmdline`)[1]).split('\0')[0];
        if (message !== 'hello' || pid !== p.get_pid() || pid === myPid || name !== 'reporter' ||
            parentPid !== myPid || parentName !== 'MainProcess')
            return JSON.stringify({message, pid, name, parentPid, parentName, myPid, child: p.get_pid()});
        // the exit code is the JS function's return value
        return p.get_exit_code() === 7 && /gjs/.test(cmdline) ? true : `${p.get_exit_code()} ${cmdline}`;
    });

    await tap.test('JS targets in three children share a Value and an Event', async () => {
        const value = Mproc.Value.new(Mproc.ValueType.INT64, true);
        const ready = Mproc.Event.new();
        const children = [0, 1, 2].map(() => {
            const child = Mproc.Process.new_with_context(context, 'add-many', new GLib.Variant('x', 1000));
            child.add_object(value);
            child.add_object(ready);
            child.start();
            return child;
        });
        ready.set();
        for (const child of children)
            await child.join_async(-1, null);
        return value.get_int() === 3000 && children.every(c => c.get_exit_code() === 0)
            ? true : `${value.get_int()} ${children.map(c => c.get_exit_code())}`;
    });

    await tap.test('a JS Process subclass runs its vfunc_run in a spawned child, with its properties', async () => {
        const queue = Mproc.Queue.new(0);
        const echo = new Echo({context, queue, prefix: 'item ', count: 3});
        echo.start();
        const got = [];
        for (let i = 0; i < 3; i++)
            got.push((await queue.get_async(-1, null)).unpack());
        await echo.join_async(-1, null);
        const name = echo.get_name();
        const want = [0, 1, 2].map(i => `item ${i} from ${name}`);
        return JSON.stringify(got) === JSON.stringify(want) && /^GjsTestEcho-\d+$/.test(name) &&
            echo.get_exit_code() === 5 ? true : `${JSON.stringify(got)} ${name} ${echo.get_exit_code()}`;
    });

    const pool = Mproc.Pool.new_full(context, 3, 'init-worker', new GLib.Variant('(s)', ['initialized in']), 0);

    await tap.test('pool map_async runs a JS task in spawned workers, results in input order', async () => {
        const items = [...Array(50).keys()];
        const out = (await pool.map_async('square', new GLib.Variant('ax', items), 0, -1, null, null)).deepUnpack();
        return JSON.stringify(out) === JSON.stringify(items.map(x => x * x)) ? true : JSON.stringify(out);
    });

    await tap.test('pool tasks run in the pool\'s workers, after the JS initializer ran there', async () => {
        const workers = new Set(pool.dup_worker_pids());
        const items = new GLib.Variant('av', [...Array(12).keys()].map(() => new GLib.Variant('()', [])));
        const out = (await pool.map_async('pid-of', items, 1, -1, null, null)).deepUnpack();
        return workers.size === 3 && !workers.has(myPid) &&
            out.every(([pid, tag]) => workers.has(pid) && tag === `initialized in ${pid}`)
            ? true : `${[...workers]} ${JSON.stringify(out)}`;
    });

    await tap.test('pool apply_async and imap next_async with a JS task', async () => {
        const one = (await pool.apply_async('square', new GLib.Variant('x', 12), -1, null)).unpack();
        const it = pool.imap('square', new GLib.Variant('ax', [1, 2, 3, 4]), 1, -1, null);
        const seen = [];
        for (let i = 0; i < 4; i++) {
            const [result, index] = await it.next_async(null);
            seen.push([index, result.unpack()]);
        }
        return one === 144 && JSON.stringify(seen) === '[[0,1],[1,4],[2,9],[3,16]]'
            ? true : `${one} ${JSON.stringify(seen)}`;
    });

    pool.close();
    await pool.join_async(-1, null);
    tap.ok(pool.get_n_workers() === 0, 'pool join_async waits for every worker');
    tap.ok(Mproc.active_children().length === 0, 'no child is left running');
});
