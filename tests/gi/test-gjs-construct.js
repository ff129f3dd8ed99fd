// test-gjs-construct.js: every instantiable class of the Mproc-1 typelib
// made with GJS's `new Mproc.X({...})` (g_object_new() alone) and as a
// JavaScript subclass, then used by a spawned gjs child (the subclass must
// reach the child as itself). The walk fails on a type it does not know.
// Prints TAP.
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Spawn only: SpiderMonkey runs helper threads, so fork (and a forkserver
// that is a threaded gjs) is unsafe here; test-construct.py covers those.

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GIRepository, GLib, GObject, Gio, Mproc} = imports.gi;
const {requireInit, run} = imports.gjstap;

const TIMEOUT = 30 * GLib.USEC_PER_SEC;

// The classes of a manager and of a pool, each with a case of its own.
const OTHERS = new Set([]);
const POOL_AND_MANAGER = ['Manager', 'Dict', 'List', 'Namespace', 'ListItem', 'Pool', 'PoolIterator'];

// Made with a started manager as their `manager` property: the child
// changes the object, the parent sees the change.
const MANAGED = {
    Dict: [d => d.set(new GLib.Variant('s', 'who'), new GLib.Variant('s', 'the child'), null),
        d => d.get(new GLib.Variant('s', 'who'), null).unpack() === 'the child'],
    List: [l => l.append(new GLib.Variant('s', 'the child'), null),
        l => l.get(0, null).unpack() === 'the child'],
    Namespace: [n => n.set('who', new GLib.Variant('s', 'the child'), null),
        n => n.get('who', null).unpack() === 'the child'],
};

function tryAcquire(lock) {
    try {
        return lock.try_acquire();
    } catch (e) {
        if (e.matches(Mproc.error_quark(), Mproc.Error.TIMED_OUT))
            return false;
        throw e;
    }
}

// props, parent before the start, child, parent after the exit, parent
// while the child runs; each returns whether all went well.
const CASES = {
    Event: [{}, null, e => (e.set(), true), e => e.wait(TIMEOUT, null)],
    Lock: [{}, l => l.acquire(-1, null), l => !tryAcquire(l), l => l.release() && tryAcquire(l) && l.release()],
    RLock: [{}, l => l.acquire(-1, null), l => !tryAcquire(l), l => l.release() && tryAcquire(l) && l.release()],
    Semaphore: [{initial_value: 2, bounded: true}, null,
        s => s.try_acquire() && s.try_acquire() && !s.try_acquire(),
        s => {
            if (s.get_value() !== 0 || !s.release() || !s.release())
                return false;
            try {
                s.release();
            } catch (e) {
                return e.matches(Mproc.error_quark(), Mproc.Error.TOO_MANY_RELEASES);
            }
            return false;
        }],
    Barrier: [{parties: 2}, null, b => b.wait(TIMEOUT, null) >= 0, () => true,
        b => b.get_parties() === 2 && b.wait(TIMEOUT, null) >= 0],
    Condition: [{}, c => c.acquire(-1, null), c => !tryAcquire(c.get_lock()),
        c => c.release() && c.get_lock() instanceof Mproc.RLock],
    Value: [{value_type: Mproc.ValueType.INT32}, null,
        v => v.add(5) === 5 && v.get_value_type() === Mproc.ValueType.INT32,
        v => v.get_int() === 5 && v.get_lock() !== null],
    Array: [{value_type: Mproc.ValueType.INT64, length: 3, with_lock: false}, null,
        a => (a.set_int(2, 7), a.get_length() === 3 && a.get_lock() === null),
        a => [0, 1, 2].map(i => a.get_int(i)).join() === '0,0,7'],
    Queue: [{maxsize: 4}, null,
        q => q.put(new GLib.Variant('s', 'from the child'), -1, null) && q.get_maxsize() === 4,
        q => q.get(TIMEOUT, null).unpack() === 'from the child'],
    JoinableQueue: [{maxsize: 4}, null,
        q => q.put(new GLib.Variant('s', 'from the child'), -1, null),
        q => q.get(TIMEOUT, null).unpack() === 'from the child' && q.task_done() && q.join(TIMEOUT, null)],
    SimpleQueue: [{}, null,
        q => q.put(new GLib.Variant('s', 'from the child'), null),
        q => q.get(null).unpack() === 'from the child'],
};
const SPECIAL = ['Connection', 'Context', 'Process'];

// Registered before Mproc.init(): a spawned child runs the script up to
// there, so it knows these types by name.
const SUBCLASSES = {};
for (const name of [...Object.keys(CASES), ...SPECIAL, ...POOL_AND_MANAGER]) {
    SUBCLASSES[name] = GObject.registerClass({GTypeName: `GjsConstructSub${name}`},
        class extends Mproc[name] {});
}

// objects: the object under test; args: (class name, GType name)
function useObject(process, args) {
    const [name, typeName] = args.deepUnpack();
    const obj = process.get_object(0);
    if (obj.constructor.$gtype.name !== typeName)
        return 2;
    if (name in MANAGED)
        return MANAGED[name][0](obj) ? 0 : 1;
    return CASES[name][2](obj) ? 0 : 1;
}

function useConnection(process, args) {
    const conn = process.get_object(0);
    if (conn.constructor.$gtype.name !== args.deepUnpack()[0])
        return 2;
    conn.send(new GLib.Variant('s', `${conn.recv(null).unpack()} and back`), null);
    return 0;
}

requireInit();
Mproc.register_target('use-object', useObject);
Mproc.register_target('use-connection', useConnection);
Mproc.register_target('exit-seven', () => 7);
Mproc.register_task('construct-double', arg => new GLib.Variant('x', arg.unpack() * 2));
Mproc.init(null);

const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

function start(target, args, obj) {
    const process = Mproc.Process.new_with_context(context, target, args);
    if (obj)
        process.add_object(obj);
    process.start();
    return process;
}

async function join(process) {
    await process.join_async(-1, null);
    return process.get_exit_code();
}

function instantiableTypes() {
    const repo = GIRepository.Repository.get_default();
    const names = [];
    for (let i = 0; i < repo.get_n_infos('Mproc'); i++) {
        const info = repo.get_info('Mproc', i);
        if (info.get_type() === GIRepository.InfoType.OBJECT && !GIRepository.object_info_get_abstract(info))
            names.push(info.get_name());
    }
    return names;
}

async function sharedCase(name, Cls) {
    const [props, before, , after, during] = CASES[name];
    const obj = new Cls(props);
    if (before && !before(obj))
        return 'parent could not use it before the child';
    const process = start('use-object', new GLib.Variant('(ss)', [name, Cls.$gtype.name]), obj);
    if (during && !during(obj)) {
        await join(process);
        return 'parent could not use it while the child ran';
    }
    const code = await join(process);
    return code === 0 && after(obj) ? true : `exit code ${code}`;
}

async function connectionCase(Cls) {
    const a = new Cls({duplex: true});
    const b = a.take_peer();
    if (b === null || a.take_peer() !== null || b.constructor !== Cls)
        return 'no peer of the same class';
    const process = start('use-connection', new GLib.Variant('(s)', [Cls.$gtype.name]), b);
    b.close();
    a.send(new GLib.Variant('s', 'there'), null);
    const got = a.recv(null).unpack();
    return await join(process) === 0 && got === 'there and back' ? true : got;
}

async function contextCase(Cls) {
    const ctx = new Cls({start_method: Mproc.StartMethod.SPAWN});
    const process = new Mproc.Process({context: ctx, target: 'exit-seven'});
    process.start();
    return await join(process) === 7 && process.context === ctx;
}

async function processCase(Cls) {
    const process = new Cls({context, target: 'exit-seven'});
    process.start();
    return await join(process) === 7;
}

Gio._promisify(Mproc.Manager.prototype, 'start_async', 'start_finish');
Gio._promisify(Mproc.Manager.prototype, 'shutdown_async', 'shutdown_finish');
// (callback style: a promisified GAsyncInitable method is not found on a
// class that implements a second interface, as MprocList does GListModel)
function initAsync(obj) {
    return new Promise((resolve, reject) => obj.init_async(GLib.PRIORITY_DEFAULT, null, (o, res) => {
        try {
            resolve(obj.init_finish(res));
        } catch (e) {
            reject(e);
        }
    }));
}

async function managerCase(Cls) {
    // `new` alone: not started yet; started from the main loop
    const manager = new Cls({context});
    if (manager.get_address() !== null)
        return 'started by new';
    await manager.start_async(null);
    const dict = new Mproc.Dict({manager, name: 'by-name'});
    const code = await join(start('use-object', new GLib.Variant('(ss)', ['Dict', 'MprocDict']), dict));
    const again = new Mproc.Dict({manager, name: 'by-name'});
    const ok = code === 0 && MANAGED.Dict[1](dict) && MANAGED.Dict[1](again) && dict.get_manager() === manager;
    await manager.shutdown_async(null);
    return ok ? true : `exit code ${code}`;
}

async function managedCase(name, Cls) {
    const manager = Mproc.Manager.new_with_context(context);
    await manager.start_async(null);
    const obj = new Cls({manager});
    if (obj.manager !== manager || obj.name !== null)
        return 'construct properties not kept';
    // opened from the main loop, as g_async_initable_new_async() does
    await initAsync(obj);
    const code = await join(start('use-object', new GLib.Variant('(ss)', [name, Cls.$gtype.name]), obj));
    const ok = code === 0 && MANAGED[name][1](obj);
    await manager.shutdown_async(null);
    return ok ? true : `exit code ${code}`;
}

function managedWithoutManager(name, Cls) {
    const obj = new Cls();
    try {
        if (name === 'Namespace')
            obj.has('x', null);
        else
            obj.len(null);
    } catch (e) {
        return e.matches(Mproc.error_quark(), Mproc.Error.INVALID_STATE) ? true : e.message;
    }
    return 'no error';
}

async function poolCase(Cls) {
    const pool = new Cls({context, processes: 2});
    // the first call starts the workers
    const got = pool.apply('construct-double', new GLib.Variant('x', 21), TIMEOUT, null).unpack();
    const n = pool.get_n_workers();
    pool.close();
    pool.join(TIMEOUT, null);
    return got === 42 && n === 2 ? true : `${got} ${n}`;
}

function listItemCase(Cls) {
    return new Cls({value: new GLib.Variant('s', 'held')}).get_value().unpack() === 'held';
}

function poolIteratorCase(Cls) {
    const it = new Cls();
    try {
        it.next(null);
    } catch (e) {
        return e.matches(Mproc.error_quark(), Mproc.Error.INVALID_STATE) && it.get_n_items() === 0 ? true : e.message;
    }
    return 'no error';
}

run(async tap => {
    const unknown = instantiableTypes().filter(n => !(n in CASES) && !SPECIAL.includes(n) && !OTHERS.has(n) &&
        !POOL_AND_MANAGER.includes(n));
    tap.ok(unknown.length === 0, 'every instantiable type of the typelib is handled here', `new types: ${unknown}`);

    for (const name of [...Object.keys(CASES), ...SPECIAL]) {
        for (const [how, Cls] of [['new', Mproc[name]], ['a subclass', SUBCLASSES[name]]]) {
            // eslint-disable-next-line no-await-in-loop
            await tap.test(`${name} made by ${how}, used by a spawned child`, () => {
                if (name === 'Connection')
                    return connectionCase(Cls);
                if (name === 'Context')
                    return contextCase(Cls);
                if (name === 'Process')
                    return processCase(Cls);
                return sharedCase(name, Cls);
            });
        }
    }

    for (const name of POOL_AND_MANAGER) {
        for (const [how, Cls] of [['new', Mproc[name]], ['a subclass', SUBCLASSES[name]]]) {
            // eslint-disable-next-line no-await-in-loop
            await tap.test(`${name} made by ${how}${name === 'ListItem' || name === 'PoolIterator' ? ' alone' : ', used by a spawned child'}`, () => {
                if (name === 'Manager')
                    return managerCase(Cls);
                if (name === 'Pool')
                    return poolCase(Cls);
                if (name === 'ListItem')
                    return listItemCase(Cls);
                if (name === 'PoolIterator')
                    return poolIteratorCase(Cls);
                return managedCase(name, Cls);
            });
            if (name in MANAGED) {
                // eslint-disable-next-line no-await-in-loop
                await tap.test(`${name} made by ${how} without a manager: its calls are a GError`,
                    () => managedWithoutManager(name, Cls));
            }
        }
    }
});
