// test-gjs-errors.js: errors reach GJS as GLib.Error with the Mproc error
// domain and code, from the library itself and from JavaScript tasks that
// throw in spawned gjs workers; a worker that dies fails only its task.
// Prints TAP.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GLib, Gio, Mproc} = imports.gi;
const {requireInit, run} = imports.gjstap;

function double(arg) {
    return new GLib.Variant('x', arg.unpack() * 2);
}

// Throws a GLib.Error of the Mproc domain: GJS hands it to the task's
// GError, the worker sends domain, code and message back.
function refuse(arg) {
    throw new GLib.Error(Mproc.error_quark(), Mproc.Error.NOT_FOUND, `no item ${arg.unpack()}`);
}

function denied() {
    throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED, 'not allowed');
}

function typeError() {
    throw new TypeError('not a number');
}

// Dies by SIGKILL in the middle of a task (GJS has no kill(): kill(1) does it).
function die(arg) {
    if (arg.unpack() === 3) {
        const pid = new Gio.Credentials().get_unix_pid();
        GLib.spawn_sync(null, ['kill', '-KILL', `${pid}`], null, GLib.SpawnFlags.SEARCH_PATH, null);
        GLib.usleep(10 * GLib.USEC_PER_SEC);  // not reached
    }
    return arg;
}

requireInit();
Mproc.register_task('double', double);
Mproc.register_task('refuse', refuse);
Mproc.register_task('denied', denied);
Mproc.register_task('type-error', typeError);
Mproc.register_task('die', die);
Mproc.init(null);

// spawn, never fork, from gjs: see the examples' comments
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);
Gio._promisify(Mproc.Queue.prototype, 'get_async', 'get_finish');
Gio._promisify(Mproc.Dict.prototype, 'get_async', 'get_finish');
Gio._promisify(Mproc.Manager.prototype, 'start_async', 'start_finish');
Gio._promisify(Mproc.Manager.prototype, 'shutdown_async', 'shutdown_finish');
Gio._promisify(Mproc.Pool.prototype, 'map_async', 'map_finish');
Gio._promisify(Mproc.Pool.prototype, 'apply_async', 'apply_finish');
Gio._promisify(Mproc.Pool.prototype, 'join_async', 'join_finish');
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

// What a call threw (or 'no error'), as a string for the TAP detail.
function thrown(func) {
    try {
        func();
        return 'no error';
    } catch (e) {
        return e;
    }
}

async function rejected(promise) {
    try {
        await promise;
        return 'no error';
    } catch (e) {
        return e;
    }
}

// true if @e is a GLib.Error of the Mproc domain with @code
function isMproc(e, code) {
    return e instanceof GLib.Error && e.domain === Mproc.error_quark() &&
        e.matches(Mproc.Error, code) && e.code === code;
}

run(async tap => {
    let e = thrown(() => Mproc.Queue.new(0).get_nowait());
    tap.ok(isMproc(e, Mproc.Error.EMPTY), 'get_nowait on an empty queue throws MPROC_ERROR_EMPTY', e);

    e = thrown(() => Mproc.Queue.new(0).get(10 * 1000, null));
    tap.ok(isMproc(e, Mproc.Error.TIMED_OUT), 'a timed get throws MPROC_ERROR_TIMED_OUT', e);

    const full = Mproc.Queue.new(1);
    full.put_nowait(new GLib.Variant('i', 1));
    e = thrown(() => full.put_nowait(new GLib.Variant('i', 2)));
    tap.ok(isMproc(e, Mproc.Error.FULL), 'put_nowait on a full queue throws MPROC_ERROR_FULL', e);

    const closed = Mproc.Queue.new(0);
    closed.close();
    e = thrown(() => closed.put(new GLib.Variant('i', 1), -1, null));
    tap.ok(isMproc(e, Mproc.Error.CLOSED), 'put on a closed queue throws MPROC_ERROR_CLOSED', e);

    e = await rejected(Mproc.Queue.new(0).get_async(10 * 1000, null));
    tap.ok(isMproc(e, Mproc.Error.TIMED_OUT), 'a timed get_async rejects with MPROC_ERROR_TIMED_OUT', e);

    const p = Mproc.Process.new_with_context(context, 'no-such-target', null);
    e = thrown(() => p.start());
    tap.ok(isMproc(e, Mproc.Error.UNKNOWN_TARGET), 'starting an unknown target throws MPROC_ERROR_UNKNOWN_TARGET', e);

    e = thrown(() => p.join(-1, null));
    tap.ok(isMproc(e, Mproc.Error.INVALID_STATE), 'joining a process never started throws MPROC_ERROR_INVALID_STATE', e);
    e = await rejected(p.join_async(-1, null));
    tap.ok(isMproc(e, Mproc.Error.INVALID_STATE), 'join_async of a process never started rejects with INVALID_STATE', e);

    const cond = Mproc.Condition.new(null);
    e = thrown(() => cond.notify_all());
    tap.ok(isMproc(e, Mproc.Error.NOT_OWNER), 'notify_all without the lock throws MPROC_ERROR_NOT_OWNER', e);

    const mgr = Mproc.Manager.new_with_context(context);
    await mgr.start_async(null);
    const d = Mproc.Dict.new(mgr, null, null);
    e = await rejected(d.get_async(new GLib.Variant('s', 'missing'), null));
    tap.ok(isMproc(e, Mproc.Error.NOT_FOUND), 'dict get_async of a missing key rejects with MPROC_ERROR_NOT_FOUND', e);
    await mgr.shutdown_async(null);
    e = thrown(() => d.get(new GLib.Variant('s', 'missing'), null));
    tap.ok(isMproc(e, Mproc.Error.BROKEN), 'a dict whose manager is gone throws MPROC_ERROR_BROKEN', e);

    const pool = Mproc.Pool.new_full(context, 2, null, null, 0);

    e = await rejected(pool.apply_async('refuse', new GLib.Variant('i', 7), -1, null));
    tap.ok(isMproc(e, Mproc.Error.NOT_FOUND) && e.message === 'no item 7',
        'a GLib.Error thrown by a JS task in a worker arrives with its domain, code and message', e);

    e = thrown(() => pool.apply('denied', new GLib.Variant('i', 0), -1, null));
    tap.ok(e instanceof GLib.Error && e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.PERMISSION_DENIED) &&
        e.message === 'not allowed', 'an error of another domain keeps its domain too', e);

    e = await rejected(pool.map_async('type-error', new GLib.Variant('ai', [1, 2]), 0, -1, null, null));
    tap.ok(e instanceof TypeError && e.message === 'not a number',
        'a TypeError thrown in a worker is a TypeError in the parent', e);

    e = await rejected(pool.map_async('die', new GLib.Variant('ax', [1, 2, 3, 4]), 1, -1, null, null));
    tap.ok(isMproc(e, Mproc.Error.WORKER_DIED), 'a worker killed by SIGKILL fails the call with MPROC_ERROR_WORKER_DIED', e);

    const again = (await pool.map_async('double', new GLib.Variant('ax', [1, 2, 3]), 0, -1, null, null)).deepUnpack();
    tap.ok(JSON.stringify(again) === '[2,4,6]' && pool.get_n_workers() === 2,
        'the pool replaces the dead worker and goes on', `${again} ${pool.get_n_workers()}`);

    e = await rejected(pool.join_async(-1, null));
    tap.ok(isMproc(e, Mproc.Error.INVALID_STATE), 'join_async of an open pool rejects with INVALID_STATE', e);

    pool.close();
    await pool.join_async(-1, null);
    tap.ok(Mproc.active_children().length === 0, 'no child is left running');
});
