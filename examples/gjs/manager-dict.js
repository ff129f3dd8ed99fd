#!/usr/bin/env gjs
// manager-dict.js: the seed's multiprocessing_manager_dict.py (§7) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Ten processes each store one key in a dict held by a manager's server;
// the parent prints the dict once they are done. The workers are a
// JavaScript function run in spawned gjs processes; the manager's server is
// a spawned gjs too (the library's own target, run by Mproc.init()).

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

function worker(process, args) {
    const d = process.get_object(0);
    const [key, value] = args.deepUnpack();
    d.set(new GLib.Variant('x', key), new GLib.Variant('x', value), null);
    return 0;
}

// Before Mproc.init(): a spawned child runs this script up to there.
Mproc.register_target('worker', worker);
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Manager.prototype, 'start_async', 'start_finish');
Gio._promisify(Mproc.Manager.prototype, 'shutdown_async', 'shutdown_finish');
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');
Gio._promisify(Mproc.Dict.prototype, 'items_async', 'items_finish');

async function main() {
    const mgr = Mproc.Manager.new_with_context(context);
    await mgr.start_async(null);
    const d = Mproc.Dict.new(mgr, null, null);

    const jobs = [];
    for (let i = 0; i < 10; i++) {
        const job = Mproc.Process.new_with_context(context, 'worker',
            new GLib.Variant('(xx)', [i, i * 2]));
        job.add_object(d);
        job.start();
        jobs.push(job);
    }
    for (const job of jobs)
        await job.join_async(-1, null);

    // like Python 3's dict, printed in key order
    const items = (await d.items_async(null)).deepUnpack()
        .map(([k, v]) => [k.unpack(), v.unpack()])
        .sort(([a], [b]) => a - b);
    print(`Results: {${items.map(([k, v]) => `${k}: ${v}`).join(', ')}}`);

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
