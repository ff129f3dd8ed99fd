#!/usr/bin/env gjs
// pool.js: Pool.map against the built-in map (the seed's §10) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The task and the initializer are JavaScript functions registered by name;
// the pool's workers are spawned gjs processes that run this script again
// up to Mproc.init(), which then serves tasks until the pool is closed.
// map_async() is awaited from a GLib main loop: the main loop never blocks
// while the workers compute.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

function doCalculation(data) {
    return new GLib.Variant('x', data.unpack() * 2);
}

function startProcess() {
    print(`Starting ${Mproc.current_process().get_name()}`);
    return new GLib.Variant('()', []);
}

// Before Mproc.init(): a spawned worker runs this script up to there.
Mproc.register_task('do_calculation', doCalculation);
Mproc.register_task('start_process', startProcess);
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Pool.prototype, 'map_async', 'map_finish');
Gio._promisify(Mproc.Pool.prototype, 'join_async', 'join_finish');

async function main() {
    const inputs = [...Array(10).keys()];
    print(`Input   : [${inputs.join(', ')}]`);

    const builtinOutputs = inputs.map(x => doCalculation(new GLib.Variant('x', x)).unpack());
    print(`Built-in: [${builtinOutputs.join(', ')}]`);

    const pool = Mproc.Pool.new_full(context, Mproc.cpu_count() * 2, 'start_process', null, 0);
    const poolOutputs = await pool.map_async('do_calculation', new GLib.Variant('ax', inputs),
        0, -1, null, null);
    pool.close();                 // no more tasks
    await pool.join_async(-1, null);  // wrap up current tasks
    print(`Pool    : [${poolOutputs.deepUnpack().join(', ')}]`);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
