#!/usr/bin/env gjs
// semaphore.js: the seed's multiprocessing_semaphore.py (§6) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Ten workers named "0" … "9", at most three at a time inside
// Semaphore(3); an ActivePool (a manager list of the active names and a
// lock) shows who is running. The workers are a JavaScript function run in
// spawned gjs processes; the manager's server is a spawned gjs too.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

class ActivePool {
    constructor(active, lock) {
        this.active = active;   // served by the manager: every process sees it
        this.lock = lock;
    }

    // Hands the pool to a process, as its objects 1 and 2.
    addTo(process) {
        process.add_object(this.active);
        process.add_object(this.lock);
    }

    static from(process) {
        return new ActivePool(process.get_object(1), process.get_object(2));
    }

    _locked(func) {
        this.lock.acquire(-1, null);
        try {
            return func();
        } finally {
            this.lock.release();
        }
    }

    makeActive(name) {
        this._locked(() => this.active.append(new GLib.Variant('s', name), null));
    }

    makeInactive(name) {
        this._locked(() => this.active.remove(new GLib.Variant('s', name), null));
    }

    // Python's str() of the list of active names
    toString() {
        const names = this._locked(() => this.active.slice(0, Number.MAX_SAFE_INTEGER, null).deepUnpack());
        return `[${names.map(v => `'${v.unpack()}'`).join(', ')}]`;
    }
}

function worker(process) {
    const s = process.get_object(0);
    const pool = ActivePool.from(process);
    const name = Mproc.current_process().get_name();
    s.acquire(-1, null);
    try {
        pool.makeActive(name);
        print(`Now running: ${pool}`);
        GLib.usleep(GLib.random_int_range(0, GLib.USEC_PER_SEC));
        pool.makeInactive(name);
    } finally {
        s.release();
    }
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

async function main() {
    const manager = Mproc.Manager.new_with_context(context);
    await manager.start_async(null);
    const pool = new ActivePool(Mproc.List.new(manager, null, null), Mproc.Lock.new());
    const s = Mproc.Semaphore.new(3);

    const jobs = [];
    for (let i = 0; i < 10; i++) {
        const job = Mproc.Process.new_with_context(context, 'worker', null);
        job.set_name(`${i}`);
        job.add_object(s);
        pool.addTo(job);
        job.start();
        jobs.push(job);
    }

    for (const job of jobs) {
        await job.join_async(-1, null);
        print(`Now running: ${pool}`);
    }

    await manager.shutdown_async(null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
