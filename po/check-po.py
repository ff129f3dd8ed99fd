#!/usr/bin/env python3
# The translations' bookkeeping, checked: every source file that marks a
# message with _() or N_() is listed in POTFILES.in (and every listed file
# exists), the committed template holds exactly the messages of those
# files, and every language in LINGUAS translates the whole committed
# template (no untranslated or fuzzy entry).
#
# check-po.py SOURCE-ROOT

import os
import re
import subprocess
import sys
import tempfile

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
for directory in ('mproc-glib', 'service'):
    for dirpath, _, files in os.walk(os.path.join(root, directory)):
        for name in sorted(files):
            if not name.endswith(('.c', '.h')) or name == 'mproc-i18n-private.h':
                continue
            path = os.path.relpath(os.path.join(dirpath, name), root)
            with open(os.path.join(root, path), encoding='utf-8') as f:
                if marked.search(f.read()) and path not in listed:
                    print(f'FAIL: {path} marks messages but is not in po/POTFILES.in')
                    fail = True



def unique_msgids(a, b):
    """msgids in only one of two catalogues (obsolete entries left out)."""
    out = subprocess.run(['msgcomm', '--unique', '--no-location', '--no-wrap', a, b],
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    return [l for l in out.splitlines() if l.startswith('msgid "') and l != 'msgid ""']


# The template, made again from the sources (the keywords of meson's "glib"
# preset), must have the committed template's msgids: a message added or
# changed without `ninja -C _build mproc-glib-pot` fails here.
with tempfile.TemporaryDirectory(prefix='mproc-po-check-') as tmp:
    fresh = os.path.join(tmp, 'fresh.pot')
    out = subprocess.run(['xgettext', '--from-code=UTF-8', '--keyword=_', '--keyword=N_',
                          '--keyword=C_:1c,2', '--keyword=NC_:1c,2', '-D', root,
                          '-f', os.path.join(po, 'POTFILES.in'), '-o', fresh],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    for line in out.stdout.splitlines():
        if 'ends in the middle of a directive' in line:
            # a format macro inside a msgid: xgettext cut it short
            print('note:', line)
    if out.returncode != 0:
        print('FAIL: xgettext:', out.stdout.strip())
        fail = True
    else:
        stale = unique_msgids(fresh, os.path.join(po, 'mproc-glib.pot'))
        if stale:
            print(f'FAIL: po/mproc-glib.pot is not up to date with the sources ({len(stale)} msgids '
                  'differ): run `ninja -C _build mproc-glib-pot mproc-glib-update-po` (po/README.md)')
            for line in stale[:10]:
                print('  ', line)
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
        missing = unique_msgids(os.path.join(po, 'mproc-glib.pot'), os.path.join(po, lang + '.po'))
        if missing:
            print(f'FAIL: {lang}.po and the template differ ({len(missing)} msgids): '
                  'run the mproc-glib-update-po target')
            fail = True

sys.exit(1 if fail else 0)
