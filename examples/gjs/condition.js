#!/usr/bin/env gjs
// condition.js: the seed's multiprocessing_condition.py (§5) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A two-stage workflow: "s1" runs stage 1 and notifies all; "stage_2[1]"
// and "stage_2[2]", already waiting on the condition, then run in
// parallel. The stages are JavaScript functions run in spawned gjs
// processes; the parent sleeps in its main loop, never blocking it.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

function stage1(process) {
    const cond = process.get_object(0);
    const name = Mproc.current_process().get_name();
    print(`Starting ${name}`);
    cond.acquire(-1, null);
    print(`${name} done and ready for stage 2`);
    cond.notify_all();
    cond.release();
    return 0;
}

function stage2(process) {
    const cond = process.get_object(0);
    const name = Mproc.current_process().get_name();
    print(`Starting ${name}`);
    cond.acquire(-1, null);
    cond.wait(-1, null);
    print(`${name} running`);
    cond.release();
    return 0;
}

// Before Mproc.init(): a spawned child runs this script up to there.
Mproc.register_target('stage_1', stage1);
Mproc.register_target('stage_2', stage2);
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

function start(target, name, cond) {
    const process = Mproc.Process.new_with_context(context, target, null);
    process.set_name(name);
    process.add_object(cond);
    process.start();
    return process;
}

async function main() {
    const condition = Mproc.Condition.new(null);

    // both stage-2 processes must be waiting before s1 notifies: a
    // notification is not remembered
    const s2Clients = [];
    for (let i = 1; i <= 2; i++) {
        s2Clients.push(start('stage_2', `stage_2[${i}]`, condition));
        await sleep(1);
    }
    const s1 = start('stage_1', 's1', condition);

    await s1.join_async(-1, null);
    for (const client of s2Clients)
        await client.join_async(-1, null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
