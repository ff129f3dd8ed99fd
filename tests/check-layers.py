#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Keeps the library's layers as the tree shows them.

mproc-glib/ is split into folders by layer; a file includes only headers of
its own folder or of a layer below it. Fails (exit 1, one line per fault) on
  - an include of a header that lives in a higher layer, or in a sibling
    layer (manager and pool know nothing of each other);
  - a circle of includes between headers;
  - a library file over MAX_LINES lines, unless listed in LONG_FILES with the
    reason it is not split yet.
Run as: check-layers.py [SOURCE_ROOT]
"""

import os
import re
import sys

# Rank of each folder: a folder may include from folders of a strictly lower
# rank, and from itself. Folders of equal rank are siblings that do not
# include each other.
#
# "redis" is a backend of the manager: an entry of the manager's transport
# table (manager/mproc-manager-transport-private.h), so it sits above
# manager and includes its private headers; the manager never includes it
# and reaches it only through the table, which the top (mproc-builtins.c)
# fills.  It is beside dbus: neither knows the other.
LAYERS = {
    'base': 0,
    'ipc': 1,
    'sync': 1,
    'runtime': 2,
    'manager/server': 3,
    'manager': 4,
    'pool': 4,
    'redis': 5,
    'dbus': 5,
    '.': 6,            # mproc.h and mproc-builtins.c, on top of everything
}

# Sibling layers that may still include each other, each with its reason.
SIBLING_EXCEPTIONS = {
    # the manager's proxies of Lock/Event… travel as shareables built in sync
    # and the queues it publishes are ipc: none today
}

MAX_LINES = 1200

# Files over MAX_LINES not split yet, and why.
LONG_FILES = {
    'manager/server/mproc-manager-server.c':
        'the server\'s client loop, store dispatch and D-Bus hooks share one '
        'struct: it splits with the store without I/O',
    'runtime/mproc-process.c':
        'start, join and the child\'s side still share MprocProcessPrivate: '
        'it splits with the launcher table',
    'manager/mproc-manager.c':
        'the public object and its async calls: the async forms move out '
        'with the transport table',
    'manager/mproc-list.c':
        'a proxy: shrinks with the shared MprocManagerProxy base',
    'manager/mproc-dict.c':
        'a proxy: shrinks with the shared MprocManagerProxy base',
    'dbus/mproc-pool-dbus.c':
        'the pool\'s D-Bus export and its worker service share the '
        'introspection data: not split yet',
    'ipc/mproc-ring.c':
        'one lock-free structure: its reading and writing halves share '
        'static inline helpers',
    'redis/mproc-redis-client.c':
        'the RESP connection: its blocking and async calls and its connect '
        'share the locked struct and its pending replies: not split yet',
}

GENERATED = {'config.h', 'mproc-version.h', 'mproc-enum-types.h', 'mproc-dbus-resources.h',
             'mproc-version-macros.h'}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(rel):
    d = os.path.dirname(rel) or '.'
    return d


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    lib = os.path.join(root, 'mproc-glib')
    files = {}
    for dirpath, _, names in os.walk(lib):
        for name in names:
            if name.endswith(('.c', '.h')):
                rel = os.path.relpath(os.path.join(dirpath, name), lib)
                files[rel] = open(os.path.join(dirpath, name), encoding='utf-8').read()

    header_home = {}
    faults = []
    for rel in files:
        if rel.endswith('.h'):
            base = os.path.basename(rel)
            if base in header_home:
                faults.append(f'{rel}: header name also used by {header_home[base]}')
            header_home[base] = rel

    for rel in files:
        if folder_of(rel) not in LAYERS:
            faults.append(f'{rel}: folder “{folder_of(rel)}” is in no layer (add it to LAYERS)')

    graph = {}
    for rel, text in sorted(files.items()):
        mine = folder_of(rel)
        graph[rel] = []
        for inc in INCLUDE_RE.findall(text):
            name = os.path.basename(inc)
            if name in GENERATED:
                continue
            target = header_home.get(name)
            if target is None:
                faults.append(f'{rel}: includes “{inc}”, which is not in mproc-glib/')
                continue
            graph[rel].append(target)
            theirs = folder_of(target)
            if theirs == mine or mine not in LAYERS or theirs not in LAYERS:
                continue
            if LAYERS[theirs] > LAYERS[mine]:
                faults.append(f'{rel}: includes {target} from the higher layer “{theirs}”')
            elif LAYERS[theirs] == LAYERS[mine] and (mine, theirs) not in SIBLING_EXCEPTIONS:
                faults.append(f'{rel}: includes {target} from the sibling layer “{theirs}”')

    # circles of includes (depth-first, colouring)
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                circle = stack[stack.index(nxt):] + [nxt]
                faults.append('circle of includes: ' + ' -> '.join(circle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)

    for rel, text in sorted(files.items()):
        n = text.count('\n')
        if n > MAX_LINES and rel not in LONG_FILES:
            faults.append(f'{rel}: {n} lines (more than {MAX_LINES}): split it by responsibility')
    for rel in sorted(LONG_FILES):
        if rel in files and files[rel].count('\n') <= MAX_LINES:
            faults.append(f'{rel}: no longer over {MAX_LINES} lines: remove it from LONG_FILES')
        elif rel not in files:
            faults.append(f'{rel}: listed in LONG_FILES but gone: remove it')

    for f in faults:
        print(f)
    if faults:
        print(f'{len(faults)} layer fault(s)')
        return 1
    print(f'{len(files)} files in {len(set(map(folder_of, files)))} layers: ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
