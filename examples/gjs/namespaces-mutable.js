#!/usr/bin/env gjs
// namespaces-mutable.js: the seed's multiprocessing_namespaces_mutable.py
// (§9) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The parent stores an empty list in a namespace attribute. The producer
// gets it and appends to what it got: a JavaScript array unpacked from a
// copy, never set again, so the consumer sees an empty list before and
// after the event. To publish a change, set the attribute again.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

function producer(process) {
    const ns = process.get_object(0);
    const event = process.get_object(1);
    const myList = ns.get('my_list', null).deepUnpack();
    myList.push('This is the value');  // DOES NOT UPDATE GLOBAL VALUE!
    event.set();
    return 0;
}

function consumer(process) {
    const ns = process.get_object(0);
    const event = process.get_object(1);
    const show = () => `[${ns.get('my_list', null).deepUnpack().map(s => `'${s}'`).join(', ')}]`;
    print(`Before event, consumer got: ${show()}`);
    event.wait(-1, null);
    print(`After event, consumer got: ${show()}`);
    return 0;
}

// Before Mproc.init(): a spawned child runs this script up to there.
Mproc.register_target('producer', producer);
Mproc.register_target('consumer', consumer);
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Manager.prototype, 'start_async', 'start_finish');
Gio._promisify(Mproc.Manager.prototype, 'shutdown_async', 'shutdown_finish');
Gio._promisify(Mproc.Namespace.prototype, 'set_async', 'set_finish');
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

async function main() {
    const mgr = Mproc.Manager.new_with_context(context);
    await mgr.start_async(null);
    const namespace = Mproc.Namespace.new(mgr, null, null);
    await namespace.set_async('my_list', new GLib.Variant('as', []), null);
    const event = Mproc.Event.new();

    const c = Mproc.Process.new_with_context(context, 'consumer', null);
    const p = Mproc.Process.new_with_context(context, 'producer', null);
    for (const process of [c, p]) {
        process.add_object(namespace);
        process.add_object(event);
    }
    c.start();
    p.start();
    await c.join_async(-1, null);
    await p.join_async(-1, null);

    await mgr.shutdown_async(null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
