#!/usr/bin/env python3
# The translations' bookkeeping, checked: every source file that marks a
# message with _() or N_() is listed in POTFILES.in (and every listed file
# exists), and every language in LINGUAS translates the whole committed
# template (no untranslated or fuzzy entry).
#
# check-po.py SOURCE-ROOT

import os
import re
import subprocess
import sys

root = sys.argv[1]
po = os.path.join(root, 'po')
fail = False


def read_list(name):
    with open(os.path.join(po, name), encoding='utf-8') as f:
        return [l.strip() for l in f if l.strip() and not l.startswith('#')]


listed = set(read_list('POTFILES.in'))
for path in sorted(listed):
    if not os.path.exists(os.path.join(root, path)):
        print(f'FAIL: {path} is in POTFILES.in but does not exist')
        fail = True

marked = re.compile(r'(?<![A-Za-z0-9_])N?_\s*\(')
for directory in ('mproc-glib',):
    for dirpath, _, files in os.walk(os.path.join(root, directory)):
        for name in sorted(files):
            if not name.endswith(('.c', '.h')) or name == 'mproc-i18n-private.h':
                continue
            path = os.path.relpath(os.path.join(dirpath, name), root)
            with open(os.path.join(root, path), encoding='utf-8') as f:
                if marked.search(f.read()) and path not in listed:
                    print(f'FAIL: {path} marks messages but is not in po/POTFILES.in')
                    fail = True

for lang in read_list('LINGUAS'):
    for lang in lang.split():
        out = subprocess.run(['msgfmt', '-c', '--statistics', '-o', os.devnull,
                              os.path.join(po, lang + '.po')],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        stats = out.stdout.strip()
        print(f'{lang}: {stats}')
        if out.returncode != 0 or 'untranslated' in stats or 'fuzzy' in stats:
            print(f'FAIL: {lang}.po is not a complete, valid translation')
            fail = True
        # complete against the template, not only against itself
        pot_ids = subprocess.run(['msgcomm', '--unique', '--no-location',
                                  os.path.join(po, 'mproc-glib.pot'),
                                  os.path.join(po, lang + '.po')],
                                 stdout=subprocess.PIPE, universal_newlines=True).stdout
        missing = [l for l in pot_ids.splitlines() if l.startswith('msgid "') and l != 'msgid ""']
        if missing:
            print(f'FAIL: {lang}.po and the template differ ({len(missing)} msgids): '
                  'run the mproc-glib-update-po target')
            fail = True

sys.exit(1 if fail else 0)
