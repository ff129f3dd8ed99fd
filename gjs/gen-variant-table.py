#!/usr/bin/env python3
# Writes gjs/overrides/Mproc.js from Mproc.js.in and Mproc-1.gir: the table
# of every function, method and construct property of the namespace that
# takes a GLib.Variant, with the arguments as GJS passes them (no output
# arguments, array lengths, or a callback's user_data and destroy notify).
# Made at build time, so that importing Mproc in gjs does not walk the
# typelib, which every spawned gjs child would pay for.
#
# gen-variant-table.py GIR TEMPLATE OUTPUT

import json
import sys
import xml.etree.ElementTree as ET

gir, template, output = sys.argv[1:4]
CORE = '{http://www.gtk.org/introspection/core/1.0}'


def is_variant(node):
    t = node.find(CORE + 'type')
    return t is not None and t.get('name') == 'GLib.Variant'


def visible_args(callable_node):
    """[[is_variant, nullable], …] for the arguments GJS passes, or None
    when none of them is a GLib.Variant."""
    params_node = callable_node.find(CORE + 'parameters')
    params = [] if params_node is None else params_node.findall(CORE + 'parameter')
    if not any(is_variant(p) for p in params):
        return None
    hidden = set()
    for p in params:
        # a callback's closure and destroy notify are not passed from JS
        if p.get('scope') is not None:
            for attr in ('closure', 'destroy'):
                if p.get(attr) is not None:
                    hidden.add(int(p.get(attr)))
        array = p.find(CORE + 'array')
        if array is not None and array.get('length') is not None:
            hidden.add(int(array.get('length')))
    ret = callable_node.find(CORE + 'return-value')
    if ret is not None:
        array = ret.find(CORE + 'array')
        if array is not None and array.get('length') is not None:
            hidden.add(int(array.get('length')))
    out = []
    for i, p in enumerate(params):
        if i in hidden or p.get('direction') == 'out':
            continue
        nullable = p.get('nullable') == '1' or p.get('allow-none') == '1'
        out.append([is_variant(p), is_variant(p) and nullable])
    return out


namespace = ET.parse(gir).getroot().find(CORE + 'namespace')
table = {'functions': {}, 'types': {}}
for node in namespace:
    if node.get('introspectable') == '0':
        continue
    if node.tag == CORE + 'function':
        args = visible_args(node)
        if args is not None:
            table['functions'][node.get('name')] = args
        continue
    if node.tag not in (CORE + 'class', CORE + 'interface', CORE + 'record'):
        continue
    entry = {'props': [], 'methods': []}
    for child in node:
        if child.get('introspectable') == '0':
            continue
        if child.tag == CORE + 'property' and is_variant(child):
            entry['props'].append(child.get('name'))
        elif child.tag in (CORE + 'method', CORE + 'constructor', CORE + 'function'):
            args = visible_args(child)
            if args is not None:
                entry['methods'].append([child.get('name'), child.tag == CORE + 'method', args])
    if entry['props'] or entry['methods']:
        table['types'][node.get('name')] = entry

with open(template, encoding='utf-8') as f:
    text = f.read()
if '@VARIANT_TABLE@' not in text:
    sys.exit(f'{template}: no @VARIANT_TABLE@')
with open(output, 'w', encoding='utf-8') as f:
    f.write(text.replace('@VARIANT_TABLE@', json.dumps(table, sort_keys=True)))
