// gjstap.js: what the GJS tests share (imported as imports.gjstap)
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A spawned child runs its test script again up to Mproc.init(), importing
// this module too, so nothing here prints or starts anything at import time.

const {GIRepository, GLib} = imports.gi;
const System = imports.system;

// GJS (1.74) can call Mproc.init(null) only if the typelib says that
// mproc_init()'s argv may be NULL; with a non-NULL array it crashes when the
// array is (transfer full). Returns why the typelib does not allow it, or null.
function initProblem() {
    const info = GIRepository.Repository.get_default().find_by_name('Mproc', 'init');
    if (info === null)
        return 'Mproc.init not found in the typelib';
    const n = GIRepository.callable_info_get_n_args(info);
    for (let i = 0; i < n; i++) {
        const arg = GIRepository.callable_info_get_arg(info, i);
        if (arg.get_name() === 'argv' && !GIRepository.arg_info_may_be_null(arg))
            return 'mproc_init(): argv is not (nullable) in the typelib, so GJS cannot call Mproc.init(null)';
    }
    return null;
}

// Leaves with a TAP "skip everything" if GJS cannot call Mproc.init().
function requireInit() {
    const problem = initProblem();
    if (problem !== null) {
        print(`1..0 # SKIP ${problem}`);
        System.exit(0);
    }
}

var Tap = class Tap {
    constructor() {
        this._n = 0;
        this._failed = 0;
    }

    ok(condition, name, detail = '') {
        this._n++;
        if (!condition)
            this._failed++;
        print(`${condition ? 'ok' : 'not ok'} ${this._n} ${name}`);
        if (!condition && detail !== '')
            print(`# ${String(detail).replace(/\n/g, '\n# ')}`);
    }

    // Runs an async test function; an exception fails it.
    async test(name, func) {
        try {
            const detail = await func();
            this.ok(detail === undefined || detail === true, name, detail);
        } catch (e) {
            this.ok(false, name, `${e}\n${e.stack ?? ''}`);
        }
    }

    // Prints the plan and leaves with the right exit status. After a
    // failure, children that still wait for something are killed rather
    // than joined at exit, so that a failing test does not hang.
    finish() {
        print(`1..${this._n}`);
        if (this._failed > 0)
            imports.gi.Mproc.active_children().forEach(child => child.kill());
        System.exit(this._failed > 0 ? 1 : 0);
    }
};

// Runs async main(tap) in a GLib main loop, then finishes the TAP stream.
function run(main) {
    const tap = new Tap();
    const loop = new GLib.MainLoop(null, false);
    main(tap).catch(e => tap.ok(false, 'unexpected exception', `${e}\n${e.stack ?? ''}`))
        .finally(() => loop.quit());
    loop.run();
    tap.finish();
}

// Resolves after @ms milliseconds, without blocking the main loop.
function sleep(ms) {
    return new Promise(resolve => GLib.timeout_add(GLib.PRIORITY_DEFAULT, ms, () => {
        resolve();
        return GLib.SOURCE_REMOVE;
    }));
}
