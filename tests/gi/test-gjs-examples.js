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

// §4: both lines, whole (the lock kept the byte-by-byte writes apart), in
// either order.
function checkLock(lines) {
    check(sameList([...lines].sort(), ['Lock acquired directly', 'Lock acquired via with']),
        'jumbled or missing lines', lines);
}

// §5: both stage-2 processes start, then s1; they run only after s1 is done.
function checkCondition(lines) {
    check(lines.length === 6, 'expected 6 lines', lines);
    check(sameList(lines.slice(0, 4),
        ['Starting stage_2[1]', 'Starting stage_2[2]', 'Starting s1', 's1 done and ready for stage 2']),
        'stage 1 did not come first', lines);
    check(sameList(lines.slice(4).sort(), ['stage_2[1] running', 'stage_2[2] running']),
        'both stage-2 processes must run after s1', lines);
}

// §6: 20 lines "Now running: [...]"; never more than 3 names, never one
// twice; every worker seen active; the last list empty.
function checkSemaphore(lines) {
    const prefix = 'Now running: ';
    check(lines.length === 20, 'expected 20 lines', lines);
    const seen = new Set();
    for (const line of lines) {
        check(line.startsWith(prefix) && /^\[('\d'(, '\d')*)?\]$/.test(line.slice(prefix.length)),
            `unexpected line ${line}`, lines);
        const names = [...line.slice(prefix.length).matchAll(/'(\d)'/g)].map(m => m[1]);
        check(names.length <= 3, `more than 3 active: ${line}`, lines);
        check(new Set(names).size === names.length, `a name twice: ${line}`, lines);
        names.forEach(name => seen.add(name));
    }
    check(sameList([...seen].sort(), range(10).map(String)), 'a worker was never active', lines);
    check(lines[lines.length - 1] === `${prefix}[]`, 'the last list must be empty', lines);
}

// §8: before the event, the value or the error naming the missing
// attribute (a race, as in the seed); after it, the value.
function checkNamespaces(lines) {
    const value = 'This is the value';
    const prefix = 'Before event, consumer got: ';
    check(lines.length === 2 && lines[0].startsWith(prefix), 'unexpected output', lines);
    const got = lines[0].slice(prefix.length);
    check(got === value || (got.includes('value') && got.includes('attribute')),
        'the error does not name the attribute', lines);
    check(lines[1] === `After event, consumer got: ${value}`, 'unexpected second line', lines);
}

// §9: the list is empty before and after: the producer changed a copy.
function checkNamespacesMutable(lines) {
    check(sameList(lines, ['Before event, consumer got: []', 'After event, consumer got: []']),
        'unexpected output', lines);
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
    'lock': checkLock,
    'condition': checkCondition,
    'semaphore': checkSemaphore,
    'manager-dict': checkManagerDict,
    'namespaces': checkNamespaces,
    'namespaces-mutable': checkNamespacesMutable,
    'pool': checkPool,
};

// test-gjs-examples.js DIR [NAME…]: only the examples named, if any
const only = ARGV.slice(1);

run(async tap => {
    for (const [name, checkLines] of Object.entries(checks)) {
        if (only.length > 0 && !only.includes(name))
            continue;
        await tap.test(`examples/gjs/${name}.js`, async () => {
            checkLines(await runExample(name));
        });
    }
});
