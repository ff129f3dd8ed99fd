// test-gjs-default.js: under gjs, the default start method is spawn, and
// nothing warns about forking a multi-threaded process. Prints TAP.
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The warning is looked for in the stderr of this script run again as a
// subprocess (MPROC_TEST_CHILD=1), which starts a process, a pool and a
// manager without choosing a context.

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GLib, Gio, Mproc} = imports.gi;
const {requireInit, run} = imports.gjstap;
const System = imports.system;

function report(process, args) {
    process.get_object(0).put(new GLib.Variant('x', new Gio.Credentials().get_unix_pid()), -1, null);
    return 7;
}

function double(arg) {
    return new GLib.Variant('x', arg.unpack() * 2);
}

requireInit();
Mproc.register_target('report', report);
Mproc.register_task('double', double);
Mproc.init(null);

Gio._promisify(Gio.Subprocess.prototype, 'communicate_utf8_async', 'communicate_utf8_finish');

// The child mode: use the defaults, print what happened.
if (GLib.getenv('MPROC_TEST_CHILD') === '1') {
    const queue = Mproc.Queue.new(0);
    const p = Mproc.Process.new('report', null);
    p.add_object(queue);
    p.start();
    const pid = queue.get(-1, null).unpack();
    p.join(-1, null);
    const pool = Mproc.Pool.new(2);
    const doubled = pool.map('double', new GLib.Variant('ax', [1, 2, 3]), 0, -1, null).deepUnpack();
    pool.close();
    pool.join(-1, null);
    const manager = Mproc.Manager.new();
    manager.start(null);
    manager.shutdown(null);
    print(`method=${Mproc.Context.get_default().get_start_method()} child=${pid !== 0} ` +
          `exit=${p.get_exit_code()} doubled=${doubled.join(',')}`);
    System.exit(0);
}

async function runChild(extraEnv) {
    const launcher = new Gio.SubprocessLauncher({
        flags: Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE,
    });
    launcher.setenv('MPROC_TEST_CHILD', '1', true);
    launcher.unsetenv('MPROC_START_METHOD');
    for (const [k, v] of Object.entries(extraEnv))
        launcher.setenv(k, v, true);
    const proc = launcher.spawnv(['gjs', System.programPath]);
    const [stdout, stderr] = await proc.communicate_utf8_async(null, null);
    return {stdout, stderr, status: proc.get_exit_status()};
}

run(async tap => {
    tap.ok(Mproc.Context.get_default().get_start_method() === Mproc.StartMethod.SPAWN,
        'the default context spawns under gjs after Mproc.init()',
        `start method ${Mproc.Context.get_default().get_start_method()}`);

    await tap.test('defaults start a process, a pool and a manager, and nothing warns', async () => {
        const {stdout, stderr, status} = await runChild({});
        if (status !== 0)
            return `exit status ${status}\n${stderr}`;
        if (stdout.trim() !== `method=${Mproc.StartMethod.SPAWN} child=true exit=7 doubled=2,4,6`)
            return `stdout: ${stdout}\nstderr: ${stderr}`;
        if (stderr.includes('multi-threaded'))
            return `it warned:\n${stderr}`;
        return true;
    });
});
