// GJS override for the Mproc-1 namespace (mproc-glib).
//
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// GJS runs this file when a program first imports Mproc (imports.gi.Mproc
// or `import Mproc from 'gi://Mproc'`), if it lies in an `overrides`
// folder of GJS's search path: $XDG_DATA_DIRS/gjs-1.0/overrides, where
// mproc-glib installs it, or $GJS_PATH/overrides.
//
// What it changes: wherever a function or method takes a GLib.Variant (or
// a construct property is one), a plain JavaScript value is accepted too
// and converted as Mproc.toVariant() says; a task registered with Mproc.register_task() may return a plain
// value. A GLib.Variant passes through unchanged, so code written for the
// plain API keeps working. Results stay GLib.Variant: call recursiveUnpack()
// (or Mproc.fromVariant()) for plain values.

const {GIRepository, GLib} = imports.gi;

let Mproc;

// Why a value cannot become a GLib.Variant, as a TypeError naming the
// JavaScript type and where in the value it sits.
function _cannot(what, path, hint = '') {
    const where = path === '' ? '' : ` at ${path}`;
    return new TypeError(`Mproc: cannot convert ${what}${where} to a GLib.Variant${hint}`);
}

function _describe(value) {
    if (value === undefined)
        return 'undefined';
    if (typeof value === 'function')
        return 'a function';
    if (typeof value === 'symbol')
        return 'a symbol';
    const name = value?.constructor?.name;
    return name ? `an object of class ${name}` : `a ${typeof value}`;
}

function _isPlainObject(value) {
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function _convert(value, path, seen) {
    if (value instanceof GLib.Variant)
        return value;
    if (value === null)
        return new GLib.Variant('mv', null);
    switch (typeof value) {
    case 'boolean':
        return new GLib.Variant('b', value);
    case 'number':
        // JavaScript has one number type: whole numbers that a double holds
        // exactly are integers (x), the others doubles (d)
        return Number.isSafeInteger(value)
            ? new GLib.Variant('x', value) : new GLib.Variant('d', value);
    case 'bigint':
        if (value >= INT64_MIN && value <= INT64_MAX)
            return GLib.Variant.new_int64(value);
        if (value >= 0n && value <= UINT64_MAX)
            return GLib.Variant.new_uint64(value);
        throw _cannot(`the BigInt ${value}`, path, ': it does not fit in 64 bits');
    case 'string':
        return new GLib.Variant('s', value);
    case 'object':
        break;
    default:
        throw _cannot(_describe(value), path);
    }

    if (value instanceof Uint8Array)
        return new GLib.Variant('ay', value);
    if (value instanceof GLib.Bytes)
        return new GLib.Variant('ay', value.toArray());
    if (seen.has(value))
        throw _cannot('a value that contains itself', path);
    seen.add(value);
    try {
        if (Array.isArray(value))
            return _convertArray(value, path, seen);
        if (value instanceof Map)
            return _convertMap(value, path, seen);
        if (_isPlainObject(value)) {
            const entries = Object.entries(value).map(([k, v]) =>
                new GLib.Variant('{sv}', [k, _convert(v, `${path}.${k}`, seen)]));
            return GLib.Variant.new_array(new GLib.VariantType('{sv}'), entries);
        }
    } finally {
        seen.delete(value);
    }
    throw _cannot(_describe(value), path,
        ': only booleans, numbers, BigInts, strings, null, arrays, Uint8Arrays, ' +
        'Maps, plain objects and GLib.Variants convert');
}

// An array is aT when its items convert to one type T (numbers mixing whole
// and fractional ones are all doubles), else av: the receiver sees every
// item's own type.
function _convertArray(value, path, seen) {
    if (value.length > 0 && value.every(v => typeof v === 'number') &&
        !value.every(v => Number.isSafeInteger(v)))
        return new GLib.Variant('ad', value);
    const children = value.map((v, i) => _convert(v, `${path}[${i}]`, seen));
    const types = new Set(children.map(c => c.get_type_string()));
    if (types.size === 1)
        return GLib.Variant.new_array(new GLib.VariantType(types.values().next().value), children);
    if (types.size === 0)
        return GLib.Variant.new_array(new GLib.VariantType('v'), []);
    return GLib.Variant.new_array(new GLib.VariantType('v'),
        children.map(c => GLib.Variant.new_variant(c)));
}

// A Map is a{Kv}: its keys must share one basic type K (a dictionary key).
function _convertMap(value, path, seen) {
    const keys = [...value.keys()].map((k, i) => _convert(k, `${path}<key ${i}>`, seen));
    const keyTypes = new Set(keys.map(k => k.get_type_string()));
    if (keyTypes.size > 1)
        throw _cannot(`a Map whose keys have several types (${[...keyTypes].join(', ')})`, path);
    const keyType = keyTypes.size === 1 ? keyTypes.values().next().value : 's';
    if (!new GLib.VariantType(keyType).is_basic())
        throw _cannot(`a Map with keys of type ${keyType}`, path,
            ': keys must be numbers, strings or booleans');
    const values = [...value.values()];
    const entries = keys.map((k, i) => GLib.Variant.new_dict_entry(k,
        GLib.Variant.new_variant(_convert(values[i], `${path}.get(${k.print(false)})`, seen))));
    return GLib.Variant.new_array(new GLib.VariantType(`{${keyType}v}`), entries);
}

/**
 * Mproc.toVariant:
 * @value: a JavaScript value
 *
 * Converts a plain JavaScript value to a GLib.Variant: boolean b, whole
 * number x, other number d, BigInt x (t above the int64 range), string s,
 * Uint8Array and GLib.Bytes ay, null mv (nothing), array aT when its items
 * share one type T (else av; numbers mixing whole and fractional ones are
 * ad), plain object a{sv}, Map a{Kv}. A GLib.Variant is returned as it is.
 *
 * Throws a TypeError naming the value that has no Variant form (undefined,
 * functions, class instances, a value that contains itself, Map keys of
 * several types).
 *
 * Returns: a GLib.Variant
 */
function toVariant(value) {
    return _convert(value, '', new Set());
}

/**
 * Mproc.fromVariant:
 * @variant: a GLib.Variant, or null
 *
 * The plain JavaScript value a GLib.Variant holds, unpacked all the way down
 * (GLib.Variant.prototype.recursiveUnpack()); a maybe holding nothing is
 * null; null gives null.
 */
function fromVariant(variant) {
    if (variant === null || variant === undefined)
        return null;
    if (!(variant instanceof GLib.Variant))
        return variant;
    if (variant.get_type_string().startsWith('m') && variant.n_children() === 0)
        return null;
    return variant.recursiveUnpack();
}

// What the typelib says of a callable: for each argument JavaScript passes,
// whether it is a GLib.Variant and whether it may be null. GJS leaves out
// output arguments, array lengths and a callback's user_data and destroy
// notify; the remaining ones keep their order.
function _variantArgs(info) {
    const n = GIRepository.callable_info_get_n_args(info);
    const hidden = new Set();
    const args = [];
    for (let i = 0; i < n; i++) {
        const arg = GIRepository.callable_info_get_arg(info, i);
        const type = GIRepository.arg_info_get_type(arg);
        const closure = GIRepository.arg_info_get_closure(arg);
        const destroy = GIRepository.arg_info_get_destroy(arg);
        if (closure >= 0 && closure !== i)
            hidden.add(closure);
        if (destroy >= 0 && destroy !== i)
            hidden.add(destroy);
        if (GIRepository.type_info_get_tag(type) === GIRepository.TypeTag.ARRAY) {
            const length = GIRepository.type_info_get_array_length(type);
            if (length >= 0)
                hidden.add(length);
        }
        args.push({arg, type});
    }
    const ret = GIRepository.callable_info_get_return_type(info);
    if (GIRepository.type_info_get_tag(ret) === GIRepository.TypeTag.ARRAY) {
        const length = GIRepository.type_info_get_array_length(ret);
        if (length >= 0)
            hidden.add(length);
    }

    const visible = [];
    args.forEach(({arg, type}, i) => {
        if (hidden.has(i) ||
            GIRepository.arg_info_get_direction(arg) === GIRepository.Direction.OUT)
            return;
        visible.push({variant: _isVariant(type), nullable: GIRepository.arg_info_may_be_null(arg)});
    });
    return visible.some(a => a.variant) ? visible : null;
}

function _isVariant(type) {
    if (GIRepository.type_info_get_tag(type) !== GIRepository.TypeTag.INTERFACE)
        return false;
    const iface = GIRepository.type_info_get_interface(type);
    return iface.get_namespace() === 'GLib' && iface.get_name() === 'Variant';
}

// GObject construct properties of type GLib.Variant (Process:args…) take
// plain values too: `new Mproc.Process({target: 'work', args: [1, 2]})`.
function _wrapInit(klass, names) {
    // GJS accepts 'some-name', 'some_name' and 'someName' alike
    const canonical = key => key.replace(/_/g, '-').replace(/[A-Z]/g, c => `-${c.toLowerCase()}`);
    const wanted = new Set(names);
    const init = klass.prototype._init;
    klass.prototype._init = function (props, ...rest) {
        if (props !== null && typeof props === 'object') {
            let copy = null;
            for (const key of Object.keys(props)) {
                const value = props[key];
                if (!wanted.has(canonical(key)) || value === null || value instanceof GLib.Variant)
                    continue;
                copy ??= {...props};
                copy[key] = toVariant(value);
            }
            if (copy !== null)
                props = copy;
        }
        return init.call(this, props, ...rest);
    };
}

function _wrap(func, visible) {
    return function (...args) {
        visible.forEach(({variant, nullable}, i) => {
            if (!variant || i >= args.length)
                return;
            if (args[i] === null && nullable)
                return;
            args[i] = toVariant(args[i]);
        });
        return func.apply(this, args);
    };
}

// Wraps every method and constructor of the namespace that takes a
// GLib.Variant, so that it takes plain values too.
function _wrapVariantArgs(namespace) {
    const repo = GIRepository.Repository.get_default();
    const n = repo.get_n_infos('Mproc');
    for (let i = 0; i < n; i++) {
        const info = repo.get_info('Mproc', i);
        const infoType = info.get_type();
        let nMethods, getMethod;
        if (infoType === GIRepository.InfoType.OBJECT) {
            nMethods = GIRepository.object_info_get_n_methods;
            getMethod = GIRepository.object_info_get_method;
        } else if (infoType === GIRepository.InfoType.STRUCT ||
                   infoType === GIRepository.InfoType.BOXED) {
            nMethods = GIRepository.struct_info_get_n_methods;
            getMethod = GIRepository.struct_info_get_method;
        } else if (infoType === GIRepository.InfoType.INTERFACE) {
            nMethods = GIRepository.interface_info_get_n_methods;
            getMethod = GIRepository.interface_info_get_method;
        } else if (infoType === GIRepository.InfoType.FUNCTION) {
            const visible = _variantArgs(info);
            if (visible !== null && typeof namespace[info.get_name()] === 'function')
                namespace[info.get_name()] = _wrap(namespace[info.get_name()], visible);
            continue;
        } else {
            continue;
        }

        const klass = namespace[info.get_name()];
        if (klass === undefined)
            continue;
        if (infoType === GIRepository.InfoType.OBJECT) {
            const names = [];
            for (let j = 0; j < GIRepository.object_info_get_n_properties(info); j++) {
                const prop = GIRepository.object_info_get_property(info, j);
                if (_isVariant(GIRepository.property_info_get_type(prop)))
                    names.push(prop.get_name());
            }
            if (names.length > 0)
                _wrapInit(klass, names);
        }
        for (let j = 0; j < nMethods(info); j++) {
            const method = getMethod(info, j);
            const visible = _variantArgs(method);
            if (visible === null)
                continue;
            const flags = GIRepository.function_info_get_flags(method);
            const owner = flags & GIRepository.FunctionInfoFlags.IS_METHOD
                ? klass.prototype : klass;
            const name = method.get_name();
            if (owner && typeof owner[name] === 'function')
                owner[name] = _wrap(owner[name], visible);
        }
    }
}

function _init() {
    Mproc = this;
    Mproc.toVariant = toVariant;
    Mproc.fromVariant = fromVariant;

    _wrapVariantArgs(Mproc);

    // A task's result becomes a GLib.Variant as an argument does, so a task
    // may return a plain value.
    for (const name of ['register_task', 'register_chunk_task']) {
        const register = Mproc[name];
        if (typeof register !== 'function')
            continue;
        Mproc[name] = function (taskName, func, ...rest) {
            if (typeof func !== 'function')
                return register.call(this, taskName, func, ...rest);
            return register.call(this, taskName,
                (...args) => toVariant(func(...args)), ...rest);
        };
    }
}
