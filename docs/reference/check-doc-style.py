#!/usr/bin/env python3
# Fails when the reference disagrees with the release it documents, or when
# a reader cannot tell which language a code block is in:
#
# - every symbol of Mproc-1.gir that says when it appeared says the
#   project's version (`Since: 0.1`), and marks the API as unstable before
#   1.0 (`Stability: Unstable`); classes, functions and methods must say it;
# - every ```c, ```python and ```js block (and gtk-doc |[ ]| block), in the guide pages and in the
#   sources' doc comments, follows its label: a **C**, **Python** or **GJS**
#   line, or a heading naming the language.
#
# check-doc-style.py GIR VERSION GUIDE-DIR SOURCE-DIR…

import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

gir, version, guide_dir, *source_dirs = sys.argv[1:]
major, minor = version.split('.')[:2]
since = f'{major}.{minor}'
stability = 'Unstable' if major == '0' else 'Stable'

NS = {'core': 'http://www.gtk.org/introspection/core/1.0',
      'glib': 'http://www.gtk.org/introspection/glib/1.0',
      'c': 'http://www.gtk.org/introspection/c/1.0'}
CORE = '{%s}' % NS['core']
GLIB = '{%s}' % NS['glib']
# What must carry Since and Stability; other nodes are checked when they do.
REQUIRED = {CORE + 'class', CORE + 'interface', CORE + 'enumeration', CORE + 'bitfield',
            CORE + 'function', CORE + 'method', CORE + 'constructor', CORE + 'callback',
            CORE + 'record'}
CHECKED = REQUIRED | {CORE + 'property', GLIB + 'signal', CORE + 'constant',
                      CORE + 'virtual-method', CORE + 'alias'}

failures = []


def name_of(node, parent):
    name = node.get(f'{{{NS["c"]}}}identifier') or node.get(f'{{{NS["c"]}}}type') or node.get('name')
    if parent is not None and node.tag in (CORE + 'property', GLIB + 'signal', CORE + 'virtual-method'):
        return f'{parent.get("name")}:{node.get("name")}'
    return name


def walk(node, parent):
    for child in node:
        if child.tag == CORE + 'field':   # a class struct's slot: its vfunc is checked
            continue
        if child.tag in CHECKED:
            skip = (child.tag == CORE + 'record' and
                    (child.get(GLIB + 'is-gtype-struct-for') is not None or
                     child.get('disguised') == '1' or
                     child.get('name', '').endswith('Private')))
            if not skip:
                label = name_of(child, node)
                got = child.get('version')
                if got is None and child.tag in REQUIRED:
                    failures.append(f'{label}: no "Since: {since}"')
                elif got is not None and got != since:
                    failures.append(f'{label}: "Since: {got}", the version is {since}')
                if got is not None and child.get('stability') != stability:
                    failures.append(f'{label}: stability {child.get("stability")}, '
                                    f'expected "Stability: {stability}"')
        walk(child, child)


walk(ET.parse(gir).getroot().find('core:namespace', NS), None)

LABELS = {'c': ('**C**', 'C'), 'python': ('**Python**', 'Python'), 'js': ('**GJS**', 'GJS')}


def check_blocks(path, lines):
    """@lines: the text's lines, comment decoration already removed."""
    inside = False
    for i, line in enumerate(lines):
        gtkdoc = re.match(r'\|\[(?:<!-- language="(\w+)" -->)?', line)
        if gtkdoc:     # gtk-doc's |[<!-- language="C" --> … ]|
            lang = {'c': 'c', 'python': 'python', 'javascript': 'js', 'js': 'js'}.get(
                (gtkdoc.group(1) or '').lower(), '')
        elif line.startswith(']|') or line.startswith('```') and inside:
            inside = False
            continue
        elif line.startswith('```'):
            inside = True
            lang = line[3:].strip()
        else:
            continue
        if lang not in LABELS:
            continue
        j = i - 1
        while j >= 0 and lines[j].strip() == '':
            j -= 1
        previous = lines[j].strip() if j >= 0 else ''
        bold, word = LABELS[lang]
        heading = re.match(r'#+ +(.*)$', previous)
        if previous != bold and not (heading and heading.group(1).split()[0] == word):
            failures.append(f'{path}:{i + 1}: a ```{lang} block without a "{bold}" label before it')


for page in sorted(glob.glob(os.path.join(guide_dir, '*.md'))):
    if os.path.basename(page) == 'README.md':
        continue
    with open(page, encoding='utf-8') as f:
        check_blocks(page, f.read().split('\n'))

for source_dir in source_dirs:
    for path in sorted(glob.glob(os.path.join(source_dir, '**', '*.[ch]'), recursive=True)):
        with open(path, encoding='utf-8') as f:
            text = f.read()
        for m in re.finditer(r'/\*\*\n(.*?)\*/', text, re.S):
            start = text.count('\n', 0, m.start(1))
            body = [re.sub(r'^\s*\* ?', '', line) for line in m.group(1).split('\n')]
            before = len(failures)
            check_blocks(path, body)
            # report the line in the file, not in the comment
            for k in range(before, len(failures)):
                head, _, rest = failures[k].partition(': ')
                p, _, n = head.rpartition(':')
                failures[k] = f'{p}:{start + int(n)}: {rest}'

for line in failures:
    print('FAIL:', line)
print(f'{len(failures)} problems')
sys.exit(1 if failures else 0)
