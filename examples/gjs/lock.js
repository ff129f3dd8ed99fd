#!/usr/bin/env gjs
// lock.js: the seed's multiprocessing_lock.py (§4) in GJS
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Two processes write a line each to the stdout they inherited, one inside
// withLock() (Python's `with lock:`), the other acquiring and releasing
// explicitly. Each line is written one byte at a time, slowly: without the
// lock the two would be jumbled. Both are JavaScript functions run in
// spawned gjs processes.

imports.gi.versions.Mproc = '1';
const {GLib, Gio, Mproc} = imports.gi;

function writeSlowly(line) {
    // fd 1 itself, unbuffered, byte by byte
    const stdout = new Gio.UnixOutputStream({fd: 1, close_fd: false});
    for (const byte of new TextEncoder().encode(line)) {
        stdout.write_all(new Uint8Array([byte]), null);
        GLib.usleep(2000);
    }
}

// Runs func() holding lock, as Python's `with lock:` does.
function withLock(lock, func) {
    lock.acquire(-1, null);
    try {
        return func();
    } finally {
        lock.release();
    }
}

function workerWith(process) {
    const lock = process.get_object(0);
    withLock(lock, () => writeSlowly('Lock acquired via with\n'));
    return 0;
}

function workerNoWith(process) {
    const lock = process.get_object(0);
    lock.acquire(-1, null);
    try {
        writeSlowly('Lock acquired directly\n');
    } finally {
        lock.release();
    }
    return 0;
}

// Before Mproc.init(): a spawned child runs this script up to there.
Mproc.register_target('worker_with', workerWith);
Mproc.register_target('worker_no_with', workerNoWith);
Mproc.init(null);

// Never fork a gjs process: SpiderMonkey runs helper threads, which a fork()
// done from C would leave behind in the child holding their locks. The
// spawn start method starts a fresh gjs instead.
const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);

Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

async function main() {
    const lock = Mproc.Lock.new();
    const w = Mproc.Process.new_with_context(context, 'worker_with', null);
    const nw = Mproc.Process.new_with_context(context, 'worker_no_with', null);
    w.add_object(lock);
    nw.add_object(lock);
    w.start();
    nw.start();
    await w.join_async(-1, null);
    await nw.join_async(-1, null);
}

const loop = new GLib.MainLoop(null, false);
let status = 0;
main().catch(e => {
    logError(e);
    status = 1;
}).finally(() => loop.quit());
loop.run();
imports.system.exit(status);
