#!/usr/bin/env gjs
// event.js: the seed's multiprocessing_event.py (§3) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// One Mproc.Event; "block" waits for it for ever, "nonblock" for 2 s; the
// main process sets it after 3 s, sleeping in its main loop rather than
// blocking it. A timed-out wait is not an error: wait() returns false.
//
// The two waiters are JavaScript functions registered as targets. They run
// in spawned gjs processes: the spawn start method runs this script again
// from the top, and Mproc.init() runs the target there, then exits. So
// targets are registered before Mproc.init(), and nothing is printed above it.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

function waitForEvent(process) {
    const e = process.get_object(0);
    print('wait_for_event: starting');
    const isSet = e.wait(-1, null);
    print(`wait_for_event: e.is_set()-> ${isSet ? 'True' : 'False'}`);
    return 0;
}

function waitForEventTimeout(process, args) {
    const e = process.get_object(0);
    const t = args.unpack();
    print('wait_for_event_timeout: starting');
    const isSet = e.wait(t, null);
    print(`wait_for_event_timeout: e.is_set()-> ${isSet ? 'True' : 'False'}`);
    return 0;
}

Mproc.register_target('wait_for_event', waitForEvent);
Mproc.register_target('wait_for_event_timeout', waitForEventTimeout);
// In a child, this call runs the child's target and exits.
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

function sleep(seconds) {
    return new Promise(resolve => GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, seconds, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
    }));
}

async function main() {
    const e = Mproc.Event.new();

    const w1 = Mproc.Process.new_with_context(context, 'wait_for_event', null);
    w1.set_name('block');
    w1.add_object(e);
    w1.start();

    const w2 = Mproc.Process.new_with_context(context, 'wait_for_event_timeout',
        new GLib.Variant('x', 2 * GLib.USEC_PER_SEC));
    w2.set_name('nonblock');
    w2.add_object(e);
    w2.start();

    print('main: waiting before calling Event.set()');
    await sleep(3);
    e.set();
    print('main: event is set');

    await w1.join_async(-1, null);
    await w2.join_async(-1, null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
