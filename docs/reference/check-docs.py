#!/usr/bin/env python3
# Fails when a public symbol of Mproc-1.gir has no documentation: runs
# `gi-docgen check` and reports every warning not listed in
# undocumented.txt (symbols in files whose owners have yet to describe
# them; the list should only ever shrink).
#
# check-docs.py GI-DOCGEN GIR INCLUDE-DIR ALLOWLIST

import re
import subprocess
import sys

gidocgen, gir, include_dir, allowlist_path = sys.argv[1:5]

allowed = set()
with open(allowlist_path, encoding='utf-8') as f:
    for line in f:
        line = line.split('#', 1)[0].strip()
        if line:
            allowed.add(line)

proc = subprocess.run([gidocgen, 'check', '--add-include-path=' + include_dir, gir],
                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                      universal_newlines=True, check=False)
output = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout)

failures = []
seen = set()
for line in output.splitlines():
    if 'WARNING' not in line:
        continue
    m = re.search(r"symbol '([^']+)'", line, re.IGNORECASE)
    symbol = m.group(1) if m else None
    if symbol in allowed:
        seen.add(symbol)
        print('known, to be described by its owner:', line)
    else:
        failures.append(line)

for symbol in sorted(allowed - seen):
    print('note: %s is documented now; remove it from %s' % (symbol, allowlist_path))

if proc.returncode != 0 and not failures and not seen:
    failures.append('gi-docgen check exited with status %d' % proc.returncode)

for line in failures:
    print('FAIL:', line)
print('%d undocumented symbols (%d known)' % (len(failures) + len(seen), len(seen)))
sys.exit(1 if failures else 0)
