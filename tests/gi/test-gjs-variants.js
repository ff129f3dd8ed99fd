// test-gjs-variants.js: the GJS override (gjs/overrides/Mproc.js) turns
// plain JavaScript values into GLib.Variants wherever the API takes one, in
// queues, shared dicts and pools, and they arrive in other gjs processes
// with the types the override gave them; values with no Variant form throw a
// TypeError naming them. Prints TAP.
//
// SPDX-License-Identifier: LGPL-2.1-or-later

imports.gi.versions.Mproc = '1';
imports.searchPath.unshift(imports.gi.GLib.path_get_dirname(imports.system.programPath));
const {GLib, Gio, Mproc} = imports.gi;
const {requireInit, run} = imports.gjstap;

// Child: takes one value from the first queue and puts back its type and
// its JSON form, then a value made of plain JS values.
function echo(process) {
    const inbox = process.get_object(0);
    const outbox = process.get_object(1);
    const v = inbox.get(-1, null);
    outbox.put([v.get_type_string(), JSON.stringify(Mproc.fromVariant(v))], -1, null);
    outbox.put({from: 'child', list: [1, 2, 3], nested: {ok: true}}, -1, null);
    return 0;
}

// Child: reads a key of a shared dict and stores what it saw under another.
function dictReader(process) {
    const d = process.get_object(0);
    const v = d.get('k', null);
    d.set('seen', [v.get_type_string(), JSON.stringify(Mproc.fromVariant(v))], null);
    return 0;
}

// Child: reports the arguments it was started with.
function argsType(process, args) {
    process.get_object(0).put([args.get_type_string(), JSON.stringify(Mproc.fromVariant(args))], -1, null);
    return 0;
}

requireInit();
Mproc.register_target('echo', echo);
Mproc.register_target('args-type', argsType);
Mproc.register_target('dict-reader', dictReader);
// a task returning plain values
Mproc.register_task('double', arg => arg.unpack() * 2);
Mproc.register_task('describe', arg => ({type: arg.get_type_string(), value: Mproc.fromVariant(arg)}));
Mproc.register_task('bad-result', () => () => 1);
Mproc.init(null);

const context = Mproc.Context.new(Mproc.StartMethod.SPAWN);
Gio._promisify(Mproc.Queue.prototype, 'put_async', 'put_finish');
Gio._promisify(Mproc.Queue.prototype, 'get_async', 'get_finish');
Gio._promisify(Mproc.Manager.prototype, 'start_async', 'start_finish');
Gio._promisify(Mproc.Manager.prototype, 'shutdown_async', 'shutdown_finish');
Gio._promisify(Mproc.Pool.prototype, 'map_async', 'map_finish');
Gio._promisify(Mproc.Pool.prototype, 'join_async', 'join_finish');
Gio._promisify(Mproc.Process.prototype, 'join_async', 'join_finish');

function typeOf(value) {
    return Mproc.toVariant(value).get_type_string();
}

function thrown(func) {
    try {
        func();
        return 'no error';
    } catch (e) {
        return e;
    }
}

async function rejected(promise) {
    try {
        await promise;
        return 'no error';
    } catch (e) {
        return e;
    }
}

class Point {
    constructor() {
        this.x = 1;
    }
}

run(async tap => {
    // the conversions themselves
    const expected = [
        [true, 'b'], [7, 'x'], [-2.5, 'd'], [2n ** 63n, 't'], ['text', 's'], [null, 'mv'],
        [new Uint8Array([1, 2]), 'ay'], [[1, 2, 3], 'ax'], [[1, 2.5], 'ad'], [['a', 'b'], 'as'],
        [[1, 'a'], 'av'], [[], 'av'], [[[1], [2, 3]], 'aax'], [{a: 1, b: 'x'}, 'a{sv}'],
        [[{a: 1}, {b: 2}], 'aa{sv}'], [new Map([[1, 'one'], [2, 'two']]), 'a{xv}'],
        [new GLib.Variant('(ii)', [1, 2]), '(ii)'],
    ];
    for (const [value, type] of expected) {
        let got;
        try {
            got = typeOf(value);
        } catch (e) {
            got = e;
        }
        tap.ok(got === type, `toVariant(${String(value)}) is ${type}`, got);
    }
    const round = Mproc.fromVariant(Mproc.toVariant({a: [1, 2], b: {c: 'd'}, e: null}));
    tap.ok(JSON.stringify(round) === '{"a":[1,2],"b":{"c":"d"},"e":null}',
        'fromVariant(toVariant(v)) gives v back', JSON.stringify(round));

    const cyclic = [1];
    cyclic.push(cyclic);
    const bad = [
        [undefined, 'undefined'], [() => 1, 'a function'], [new Point(), 'class Point'],
        [{a: {b: Symbol('s')}}, 'a symbol at .a.b'], [cyclic, 'contains itself'],
        [new Map([[1, 'a'], ['b', 2]]), 'several types'], [2n ** 64n, 'does not fit'],
        [new Map([[[1], 'a']]), 'keys of type ax'],
    ];
    for (const [value, words] of bad) {
        const e = thrown(() => Mproc.toVariant(value));
        tap.ok(e instanceof TypeError && e.message.startsWith('Mproc: cannot convert') &&
            e.message.includes(words), `a value with no Variant form throws a TypeError (${words})`, e);
    }

    // a queue across processes
    const inbox = Mproc.Queue.new(0);
    const outbox = Mproc.Queue.new(0);
    let e = thrown(() => inbox.put(new Point(), -1, null));
    tap.ok(e instanceof TypeError && e.message.includes('class Point'),
        'queue.put of a class instance throws a TypeError', e);
    e = thrown(() => inbox.put(undefined, -1, null));
    tap.ok(e instanceof TypeError && e.message.includes('undefined'),
        'queue.put(undefined) throws a TypeError', e);
    tap.ok(inbox.get_qsize() === 0, 'nothing was put by the failed calls', inbox.get_qsize());

    const child = Mproc.Process.new_with_context(context, 'echo', null);
    child.add_object(inbox);
    child.add_object(outbox);
    child.start();
    await inbox.put_async([1, 2, 3], -1, null);
    const [type, json] = (await outbox.get_async(-1, null)).deepUnpack();
    tap.ok(type === 'ax' && json === '[1,2,3]', 'queue.put([1, 2, 3]) reaches a child as an ax',
        `${type} ${json}`);
    const back = await outbox.get_async(-1, null);
    tap.ok(back.get_type_string() === 'a{sv}' &&
        JSON.stringify(Mproc.fromVariant(back)) === '{"from":"child","list":[1,2,3],"nested":{"ok":true}}',
        'an object put by a child arrives as an a{sv}', back.print(true));
    await child.join_async(-1, null);
    tap.ok(child.get_exit_code() === 0, 'the child exits with 0', child.get_exit_code());

    // a construct property of type GLib.Variant
    const report = Mproc.Queue.new(0);
    const withArgs = new Mproc.Process({context, target: 'args-type', args: {n: 3, tags: ['a', 'b']}});
    withArgs.add_object(report);
    withArgs.start();
    const [argsType, argsJson] = (await report.get_async(-1, null)).deepUnpack();
    tap.ok(argsType === 'a{sv}' && argsJson === '{"n":3,"tags":["a","b"]}',
        "new Mproc.Process({args: {…}}) starts a child with an a{sv}", `${argsType} ${argsJson}`);
    await withArgs.join_async(-1, null);
    e = thrown(() => new Mproc.Process({target: 'args-type', args: Symbol('s')}));
    tap.ok(e instanceof TypeError && e.message.includes('a symbol'),
        'a construct property with no Variant form throws a TypeError', e);

    // a shared dict
    const mgr = Mproc.Manager.new_with_context(context);
    await mgr.start_async(null);
    const d = Mproc.Dict.new(mgr, null, null);
    d.set('k', {a: 1}, null);
    const reader = Mproc.Process.new_with_context(context, 'dict-reader', null);
    reader.add_object(d);
    reader.start();
    await reader.join_async(-1, null);
    const [seenType, seenJson] = d.get('seen', null).deepUnpack();
    tap.ok(seenType === 'a{sv}' && seenJson === '{"a":1}',
        "dict.set('k', {a: 1}) is read in a child as an a{sv}", `${seenType} ${seenJson}`);
    e = thrown(() => d.set('f', Math.max, null));
    tap.ok(e instanceof TypeError && e.message.includes('a function'),
        'dict.set of a function throws a TypeError', e);
    // GJS 1.74 returns [TRUE, answer] (it does not skip the return value)
    const has = key => [d.contains(key, null)].flat().pop();
    tap.ok(has('k') && !has('f'), 'contains() takes a plain key');
    await mgr.shutdown_async(null);

    // a pool
    const pool = Mproc.Pool.new_full(context, 2, null, null, 0);
    const doubled = pool.map('double', [1, 2, 3], 0, -1, null);
    tap.ok(doubled.get_type_string() === 'ax' && JSON.stringify(doubled.deepUnpack()) === '[2,4,6]',
        "pool.map(target, [1, 2, 3]) with a task returning numbers gives an ax", doubled.print(true));
    const described = Mproc.fromVariant(await pool.map_async('describe', ['a', 'b'], 0, -1, null, null));
    tap.ok(JSON.stringify(described) === '[{"type":"s","value":"a"},{"type":"s","value":"b"}]',
        'map_async takes a plain array too; tasks returning objects give aa{sv}', JSON.stringify(described));
    const one = pool.apply('double', 21, -1, null);
    tap.ok(one.get_type_string() === 'x' && one.unpack() === 42, 'apply takes a plain number', one.print(true));
    e = await rejected(pool.map_async('bad-result', [1], 0, -1, null, null));
    tap.ok(e instanceof TypeError && e.message.includes('a function'),
        'a task returning a function fails the call with a TypeError', e);
    pool.close();
    await pool.join_async(-1, null);
    tap.ok(Mproc.active_children().length === 0, 'no child is left running');
});
