// test-gjs-examples.js: runs each GJS example of examples/gjs/ with gjs and
// checks the invariants of its output (the seed's scenarios.md §12:
// invariants, not transcripts). Prints TAP.
//
//   gjs test-gjs-examples.js <examples/gjs directory>
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GLib, Gio, Mproc} = imports.gi;
const {requireInit, run} = imports.gjstap;

requireInit();

const examplesDir = ARGV[0];
Gio._promisify(Gio.Subprocess.prototype, 'communicate_utf8_async', 'communicate_utf8_finish');
Gio._promisify(Gio.Subprocess.prototype, 'wait_check_async', 'wait_check_finish');

// Runs one example; resolves to its stdout lines. A non-zero exit status or
// anything on stderr (a JS exception, a GLib warning) fails it.
async function runExample(name) {
    const proc = Gio.Subprocess.new(['gjs', GLib.build_filenamev([examplesDir, `${name}.js`])],
        Gio.SubprocessFlags.STDOUT_PIPE | Gio.SubprocessFlags.STDERR_PIPE);
    const [stdout, stderr] = await proc.communicate_utf8_async(null, null);
    if (!proc.get_if_exited() || proc.get_exit_status() !== 0)
        throw new Error(`${name}: exit status ${proc.get_status()}\n${stderr}`);
    if (stderr.trim() !== '')
        throw new Error(`${name}: unexpected stderr:\n${stderr}`);
    return stdout.split('\n').slice(0, -1);
}

function check(condition, message, lines) {
    if (!condition)
        throw new Error(`${message}\noutput:\n${lines.join('\n')}`);
}

const sameList = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const range = n => [...Array(n).keys()];

// §1: exactly one line, naming the child.
function checkUserObject(lines) {
    check(sameList(lines, ['Doing something fancy in Process-1 for Fancy Dan!']), 'unexpected output', lines);
}

// §2, the JoinableQueue version: each task handled once, each consumer exits
// once, each result once, and every result after every exit (the parent
// prints only after join()).
function checkProducerConsumer(lines) {
    const n = Mproc.cpu_count() * 2;
    check(lines[0] === `Creating ${n} consumers`, 'first line', lines);
    const names = range(n).map(k => `Consumer-${k + 1}`);
    const tasks = [], exits = [], results = [];
    lines.slice(1).forEach((line, i) => {
        let m;
        if ((m = /^(Consumer-\d+): (\d+) \* (\d+)$/.exec(line))) {
            check(names.includes(m[1]) && m[2] === m[3], `bad line ${line}`, lines);
            tasks.push(Number(m[2]));
        } else if ((m = /^(Consumer-\d+): Exiting$/.exec(line))) {
            check(names.includes(m[1]), `bad line ${line}`, lines);
            exits.push([i, m[1]]);
        } else if ((m = /^Result: (\d+) \* (\d+) = (\d+)$/.exec(line))) {
            const [a, b, p] = m.slice(1).map(Number);
            check(a === b && p === a * a, `bad line ${line}`, lines);
            results.push([i, a]);
        } else {
            check(false, `unexpected line ${line}`, lines);
        }
    });
    check(sameList(tasks.sort((a, b) => a - b), range(10)), 'each task once', lines);
    check(sameList(exits.map(([, name]) => name).sort(), [...names].sort()), 'each consumer exits once', lines);
    check(sameList(results.map(([, a]) => a).sort((a, b) => a - b), range(10)), 'each result once', lines);
    check(Math.max(...exits.map(([i]) => i)) < Math.min(...results.map(([i]) => i)),
        'a result before an exit', lines);
}

// §3: the six lines; the timed-out wait returns False before the event is
// set; the blocking wait returns True (it can return only once set); each
// process starts before it reports.
function checkEvent(lines) {
    const expected = [
        'main: waiting before calling Event.set()',
        'wait_for_event: starting',
        'wait_for_event_timeout: starting',
        'wait_for_event_timeout: e.is_set()-> False',
        'main: event is set',
        'wait_for_event: e.is_set()-> True',
    ];
    check(lines.length === 6 && sameList([...lines].sort(), [...expected].sort()), 'unexpected lines', lines);
    const at = line => lines.indexOf(line);
    check(at(expected[3]) < at(expected[4]), 'the timed-out wait did not return before the event was set', lines);
    check(at(expected[0]) < at(expected[4]), 'main printed out of order', lines);
    check(at(expected[1]) < at(expected[5]) && at(expected[2]) < at(expected[3]), 'a waiter printed out of order', lines);
}

// §7: the dict holds {i: 2i}, whatever order the children ran in.
function checkManagerDict(lines) {
    check(lines.length === 1 && /^Results: \{.*\}$/.test(lines[0]), 'unexpected output', lines);
    const pairs = [...lines[0].matchAll(/(-?\d+): (-?\d+)/g)].map(m => [Number(m[1]), Number(m[2])]);
    const contents = new Map(pairs);
    check(pairs.length === 10 && contents.size === 10 && range(10).every(i => contents.get(i) === 2 * i),
        'wrong contents', lines);
}

// §10 (later version): Input and Built-in first, one "Starting PoolWorker-k"
// per worker in any order, then the Pool line, in input order.
function checkPool(lines) {
    const n = Mproc.cpu_count() * 2;
    const doubled = '[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]';
    check(lines.length === 3 + n, `expected ${3 + n} lines`, lines);
    check(lines[0] === 'Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]', 'first line', lines);
    check(lines[1] === `Built-in: ${doubled}`, 'second line', lines);
    check(lines[lines.length - 1] === `Pool    : ${doubled}`, 'last line', lines);
    const started = lines.slice(2, -1).map(line => /^Starting (PoolWorker-\d+)$/.exec(line)?.[1]).sort();
    check(sameList(started, range(n).map(k => `PoolWorker-${k + 1}`).sort()), 'each worker starts once', lines);
}

const checks = {
    'user-object': checkUserObject,
    'producer-consumer': checkProducerConsumer,
    'event': checkEvent,
    'manager-dict': checkManagerDict,
    'pool': checkPool,
};

run(async tap => {
    for (const [name, checkLines] of Object.entries(checks)) {
        await tap.test(`examples/gjs/${name}.js`, async () => {
            checkLines(await runExample(name));
        });
    }
});
