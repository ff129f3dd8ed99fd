#!/usr/bin/python3
# Finds mentions of C functions, `mproc_foo()`, that are not links in the
# reference (the gtk-doc comments of the library's sources) and the guide
# (docs/reference/*.md), and with --fix turns them into gi-docgen links:
# [func@Mproc.init], [method@Mproc.Pool.map], [ctor@Mproc.Pool.new],
# [func@Mproc.Process.…].  What a symbol is comes from Mproc-1.gir.
#
# Fenced code blocks are code, not prose, and are left alone; so are
# comments that are not documentation (/* … */ rather than /** … */).
# A mention of a function the GIR does not have (a private helper, a
# service module's entry point) cannot be linked: it is reported, and is an
# error unless listed in NOT_IN_GIR below.
#
# In the guide's pages, every C, Python or GJS code block is labelled too
# (a line **C**, **Python** or **GJS** before it), and --fix adds them.
#
# doc-links.py [--fix] [--exclude DIR]... GIR FILE-OR-DIR...
# Exits 1 when an unlinked mention is left (after --fix: none can be).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import sys
import xml.etree.ElementTree as ET

NS = {'core': 'http://www.gtk.org/introspection/core/1.0',
      'c': 'http://www.gtk.org/introspection/c/1.0'}
C_ID = '{%s}identifier' % NS['c']

# Public C API that is not in the GIR, so has no page to link to.
NOT_IN_GIR = {
    'mproc_worker_module_init',   # a service module's entry point (mproc-worker-module.h)
    'mproc_lock_locker_new',      # inline helpers of g_autoptr(MprocLockLocker)
    'mproc_lock_locker_free',
}

MENTION = re.compile(r'\b(mproc_[a-z0-9_]+)\(\)')
CODE_SPAN = re.compile(r'`[^`\n]+`')


def gir_links(gir):
    """C identifier -> gi-docgen link, for every callable of the GIR."""
    links = {}
    root = ET.parse(gir).getroot()
    ns = root.find('core:namespace', NS)
    name = ns.get('name')
    for fn in ns.findall('core:function', NS):
        links[fn.get(C_ID)] = f'[func@{name}.{fn.get("name")}]'
    for kind in ('class', 'record', 'interface', 'enumeration', 'bitfield'):
        for t in ns.findall(f'core:{kind}', NS):
            tname = t.get('name')
            for tag, link in (('method', 'method'), ('constructor', 'ctor'), ('function', 'func')):
                for fn in t.findall(f'core:{tag}', NS):
                    links[fn.get(C_ID)] = f'[{link}@{name}.{tname}.{fn.get("name")}]'
    links.pop(None, None)
    return links


def prose_spans(path, text):
    """(start, end) of the parts of @text that are prose."""
    if path.endswith('.md'):
        spans = []
        pos = 0
        in_code = False
        for line in text.splitlines(keepends=True):
            if line.lstrip().startswith('```'):
                in_code = not in_code
            elif not in_code:
                spans.append((pos, pos + len(line)))
            pos += len(line)
        return spans
    # C: documentation comments only
    return [(m.start(), m.end()) for m in re.finditer(r'/\*\*.*?\*/', text, re.S)]


LABELS = {'c': 'C', 'python': 'Python', 'js': 'GJS'}


def label_blocks(path, text, fix, problems):
    """Every C, Python or GJS block of a page says which it is: a line
    **C**, **Python** or **GJS** (or a heading of that name) before it."""
    lines = text.split('\n')
    out = []
    in_code = False
    for i, line in enumerate(lines):
        fence = line.strip()
        if fence.startswith('```'):
            lang = fence[3:].strip()
            if not in_code and lang in LABELS:
                prev = next((l.strip() for l in reversed(out) if l.strip()), '')
                label = LABELS[lang]
                if prev not in (f'**{label}**', f'### {label}', f'#### {label}'):
                    if fix:
                        out += [f'**{label}**', '']
                    else:
                        problems.append(f'{path}:{i + 1}: a {label} block without a **{label}** label')
            in_code = not in_code
        out.append(line)
    return '\n'.join(out)


def process(path, links, fix):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    problems = []
    edits = []
    if path.endswith('.md'):
        labelled = label_blocks(path, text, fix, problems)
        if labelled != text:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(labelled)
            print(f'{path}: code blocks labelled')
            text = labelled
    for start, end in prose_spans(path, text):
        code_spans = [(c.start(), c.end()) for c in CODE_SPAN.finditer(text, start, end)]
        for m in MENTION.finditer(text, start, end):
            symbol = m.group(1)
            s, e = m.start(), m.end()
            if text[s - 1:s] == '[' or text[e:e + 1] == ']':
                continue   # already the text of a link
            span = next(((cs, ce) for cs, ce in code_spans if cs < s and e < ce), None)
            if span is not None:
                if text[span[0] + 1:span[1] - 1] != m.group(0):
                    continue   # part of a longer piece of code
                s, e = span   # `mproc_x()` as a whole becomes the link
            line = text.count('\n', 0, s) + 1
            link = links.get(symbol)
            if link is None:
                if symbol not in NOT_IN_GIR:
                    problems.append(f'{path}:{line}: {symbol}() is not in the GIR: no page to link to')
                continue
            if fix:
                edits.append((s, e, link))
            else:
                problems.append(f'{path}:{line}: {text[s:e]} is not a link; write {link}')
    if edits:
        for s, e, link in sorted(edits, reverse=True):
            text = text[:s] + link + text[e:]
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        print(f'{path}: {len(edits)} mentions linked')
    return problems


def files_under(paths, excluded):
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if os.path.join(root, d) not in excluded)
                for n in sorted(names):
                    if n.endswith(('.c', '.h', '.md')) and '-private' not in n:
                        yield os.path.join(root, n)
        else:
            yield p


def main(argv):
    fix = False
    excluded = set()
    args = []
    it = iter(argv)
    for a in it:
        if a == '--fix':
            fix = True
        elif a == '--exclude':
            excluded.add(os.path.normpath(next(it)))
        else:
            args.append(a)
    if len(args) < 2:
        print(__doc__ or 'usage: doc-links.py [--fix] GIR FILE-OR-DIR...', file=sys.stderr)
        return 2
    links = gir_links(args[0])
    problems = []
    n_files = 0
    for path in files_under(args[1:], excluded):
        n_files += 1
        problems += process(path, links, fix)
    for p in problems:
        print(p)
    print(f'{n_files} files, {len(problems)} unlinked mentions')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
