// test-gjs-async.js: the library's _async/_finish pairs as Promises
// (Gio._promisify) awaited from a GLib main loop in GJS, with the other
// side in spawned gjs children. Prints TAP.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GLib, Gio, Mproc} = imports.gi;
const {requireInit, run, sleep} = imports.gjstap;

// Puts args' items on the queue (object 0) once the event (object 1) is set.
function putWhenSet(process, args) {
    process.get_object(1).wait(-1, null);
    for (const item of args.deepUnpack())
        process.get_object(0).put(new GLib.Variant('s', item), -1, null);
    return 0;
}

// Takes every item of the joinable queue (object 0), marks each done.
function drain(process, args) {
    const queue = process.get_object(0);
    for (let i = 0; i < args.unpack(); i++) {
        queue.get(-1, null);
        queue.task_done();
    }
    return 0;
}

// Waits at the barrier (object 0).
function meet(process) {
    process.get_object(0).wait(-1, null);
    return 0;
}

// Holds the lock (object 0) until the event (object 1) is set.
function holdLock(process) {
    const lock = process.get_object(0);
    lock.acquire(-1, null);
    process.get_object(2).set();  // "I hold it"
    process.get_object(1).wait(-1, null);
    lock.release();
    return 0;
}

// Appends to a manager list and sets a namespace attribute.
function touchManager(process) {
    process.get_object(0).append(new GLib.Variant('s', 'from child'), null);
    process.get_object(1).set('who', new GLib.Variant('s', 'child'), null);
    return 0;
}

// Appends args' strings to the manager list (object 0) and sets each as a
// key of the manager dict (object 1).
function fillManager(process, args) {
    for (const item of args.deepUnpack()) {
        process.get_object(0).append(new GLib.Variant('s', item), null);
        process.get_object(1).set(new GLib.Variant('s', item), new GLib.Variant('b', true), null);
    }
    return 0;
}

requireInit();
Mproc.register_target('put-when-set', putWhenSet);
Mproc.register_target('drain', drain);
Mproc.register_target('meet', meet);
Mproc.register_target('hold-lock', holdLock);
Mproc.register_target('touch-manager', touchManager);
Mproc.register_target('fill-manager', fillManager);
// In a spawned child this call runs the child's target and exits.
Mproc.init(null);

// spawn, never fork, from gjs: see the examples' comments
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

const promisify = (klass, ...names) => names.forEach(
    name => Gio._promisify(klass.prototype, `${name}_async`, `${name}_finish`));
promisify(Mproc.Queue, 'get', 'put');
promisify(Mproc.JoinableQueue, 'join');
promisify(Mproc.Event, 'wait');
promisify(Mproc.Lock, 'acquire');
promisify(Mproc.Semaphore, 'acquire');
promisify(Mproc.Barrier, 'wait');
promisify(Mproc.Process, 'join');
promisify(Mproc.Manager, 'start', 'shutdown', 'ping');
promisify(Mproc.Dict, 'set', 'get', 'items', 'len', 'pop', 'contains');
promisify(Mproc.List, 'len', 'slice', 'append');
promisify(Mproc.Namespace, 'get', 'set', 'list_names');

function start(target, args, ...objects) {
    const p = Mproc.Process.new_with_context(context, target, args);
    objects.forEach(o => p.add_object(o));
    p.start();
    return p;
}

run(async tap => {
    await tap.test('queue get_async waits for a child while the main loop runs', async () => {
        const queue = Mproc.Queue.new(0);
        const go = Mproc.Event.new();
        const child = start('put-when-set', new GLib.Variant('as', ['a', 'b', 'c']), queue, go);
        // three waiters at once, each resolved by one of the child's puts
        const pending = [queue.get_async(-1, null), queue.get_async(-1, null), queue.get_async(-1, null)];
        let ticks = 0;
        const tick = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 10, () => {
            if (++ticks === 5)
                go.set();  // the main loop is alive while the gets wait
            return GLib.SOURCE_CONTINUE;
        });
        const got = (await Promise.all(pending)).map(v => v.unpack()).sort();
        GLib.source_remove(tick);
        await child.join_async(-1, null);
        return ticks >= 5 && JSON.stringify(got) === '["a","b","c"]' ? true : `${ticks} ${got}`;
    });

    await tap.test('queue put_async then get_async in one process', async () => {
        const queue = Mproc.Queue.new(2);
        await queue.put_async(new GLib.Variant('(sx)', ['x', 42]), -1, null);
        const [s, x] = (await queue.get_async(-1, null)).deepUnpack();
        return s === 'x' && x === 42;
    });

    await tap.test('event wait_async resolves true when a child sets it, false on timeout', async () => {
        const e = Mproc.Event.new();
        const timedOut = await e.wait_async(20 * 1000, null);
        const setter = Mproc.Event.new();
        const queue = Mproc.Queue.new(0);
        // the child waits on "setter"; we set it, the child puts, we set "e"
        const child = start('put-when-set', new GLib.Variant('as', ['done']), queue, setter);
        const waiting = e.wait_async(-1, null);
        setter.set();
        await queue.get_async(-1, null);
        e.set();
        const woken = await waiting;
        await child.join_async(-1, null);
        return timedOut === false && woken === true;
    });

    await tap.test('joinable queue join_async resolves once a child marked every item done', async () => {
        const queue = Mproc.JoinableQueue.new(0);
        for (let i = 0; i < 5; i++)
            await queue.put_async(new GLib.Variant('i', i), -1, null);
        const child = start('drain', new GLib.Variant('i', 5), queue);
        await queue.join_async(-1, null);
        await child.join_async(-1, null);
        return child.get_exit_code() === 0 && queue.is_empty();
    });

    await tap.test('lock acquire_async waits for a child to release it', async () => {
        const lock = Mproc.Lock.new();
        const release = Mproc.Event.new();
        const held = Mproc.Event.new();
        const child = start('hold-lock', null, lock, release, held);
        await held.wait_async(-1, null);
        let busy;
        try {
            busy = lock.try_acquire();
        } catch (e) {
            busy = e.matches(Mproc.error_quark(), Mproc.Error.TIMED_OUT) ? 'timed out' : `${e}`;
        }
        const acquiring = lock.acquire_async(-1, null);
        release.set();
        const acquired = await acquiring;
        lock.release();
        await child.join_async(-1, null);
        return busy === 'timed out' && acquired === true ? true : `${busy} ${acquired}`;
    });

    await tap.test('semaphore acquire_async, and barrier wait_async with two children', async () => {
        const sem = Mproc.Semaphore.new(1);
        const first = await sem.acquire_async(-1, null);
        // a timed-out acquire rejects with MPROC_ERROR_TIMED_OUT
        const second = await sem.acquire_async(20 * 1000, null).then(
            () => 'acquired', e => e.matches(Mproc.error_quark(), Mproc.Error.TIMED_OUT));
        sem.release();
        const barrier = Mproc.Barrier.new(3);
        const children = [start('meet', null, barrier), start('meet', null, barrier)];
        const index = await barrier.wait_async(-1, null);
        for (const child of children)
            await child.join_async(-1, null);
        return first === true && second === true && index >= 0 && index < 3 &&
            children.every(c => c.get_exit_code() === 0) ? true : `${first} ${second} ${index}`;
    });

    await tap.test('manager start_async; dict, list and namespace calls as Promises', async () => {
        const mgr = Mproc.Manager.new_with_context(context);
        await mgr.start_async(null);
        await mgr.ping_async(null);
        const d = Mproc.Dict.new(mgr, null, null);
        const list = Mproc.List.new(mgr, null, null);
        const ns = Mproc.Namespace.new(mgr, null, null);
        await Promise.all([...Array(5).keys()].map(
            i => d.set_async(new GLib.Variant('i', i), new GLib.Variant('s', `v${i}`), null)));
        const child = start('touch-manager', null, list, ns);
        await child.join_async(-1, null);
        const len = await d.len_async(null);
        // a finish() with one (out) and a skipped gboolean: GJS 1.74 still
        // resolves the Promise with [out]
        const [has] = await d.contains_async(new GLib.Variant('i', 3), null);
        const popped = (await d.pop_async(new GLib.Variant('i', 3), null, null)).unpack();
        const items = (await d.items_async(null)).deepUnpack().map(([k, v]) => `${k.unpack()}=${v.unpack()}`).sort();
        await list.append_async(new GLib.Variant('s', 'from parent'), null);
        const slice = (await list.slice_async(0, 10, null)).deepUnpack().map(v => v.unpack());
        const who = (await ns.get_async('who', null)).unpack();
        const names = await ns.list_names_async(null);
        await mgr.shutdown_async(null);
        const detail = JSON.stringify({len, has, popped, items, slice, who, names});
        return len === 5 && has === true && popped === 'v3' &&
            JSON.stringify(items) === '["0=v0","1=v1","2=v2","4=v4"]' &&
            JSON.stringify(slice) === '["from child","from parent"]' && who === 'child' &&
            JSON.stringify(names) === '["who"]' ? true : detail;
    });

    await tap.test('a watched list (a GListModel) and dict signal a child\'s changes in the main loop', async () => {
        const mgr = Mproc.Manager.new_with_context(context);
        await mgr.start_async(null);
        const list = Mproc.List.new(mgr, null, null);
        const d = Mproc.Dict.new(mgr, null, null);
        list.watch(null);
        d.watch(null);
        const changedKeys = [];
        d.connect('changed', (_d, key) => changedKeys.push(key === null ? null : key.unpack()));
        const allSeen = new Promise(resolve => list.connect('items-changed', model => {
            if (model.get_n_items() === 3)
                resolve();
        }));
        const child = start('fill-manager', new GLib.Variant('as', ['a', 'b', 'c']), list, d);
        await allSeen;
        await child.join_async(-1, null);
        const items = [0, 1, 2].map(i => list.get_item(i).get_value().unpack());
        // the dict's signals may lag the list's: wait for them in the loop
        for (let i = 0; i < 500 && changedKeys.length < 3; i++)
            await sleep(10);
        await mgr.shutdown_async(null);
        return list.get_item_type() === Mproc.ListItem.$gtype && JSON.stringify(items) === '["a","b","c"]' &&
            JSON.stringify([...new Set(changedKeys)].sort()) === '["a","b","c"]'
            ? true : `${JSON.stringify(items)} ${JSON.stringify(changedKeys)}`;
    });

    await tap.test('a cancelled get_async rejects with G_IO_ERROR_CANCELLED', async () => {
        const queue = Mproc.Queue.new(0);
        const cancellable = new Gio.Cancellable();
        const pending = queue.get_async(-1, cancellable);
        await sleep(20);
        cancellable.cancel();
        try {
            await pending;
            return 'resolved';
        } catch (e) {
            return e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CANCELLED)
                ? true : `${e}`;
        }
    });

    tap.ok(Mproc.active_children().length === 0, 'no child is left running');
});
