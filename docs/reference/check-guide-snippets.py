#!/usr/bin/env python3
# Runs the guide's complete programs: every ```python block with an
# `if __name__ == '__main__':` and every ```js block that imports Mproc,
# against the built library (the environment points PyGObject and GJS at
# it). The guide's Python snippets leave out their imports: the first
# program's are put back. Fragments (the other blocks) are not run.
#
# check-guide-snippets.py GUIDE-DIR

import glob
import os
import re
import subprocess
import sys
import tempfile

HEADER = ("import gi\n"
          "gi.require_version('Mproc', '1')\n"
          "from gi.repository import Gio, GLib, Mproc\n")

guide_dir = sys.argv[1]
failures = 0
ran = 0

with tempfile.TemporaryDirectory(prefix='mproc-guide-') as tmp:
    for page in sorted(glob.glob(os.path.join(guide_dir, 'guide*.md'))):
        text = open(page, encoding='utf-8').read()
        for n, m in enumerate(re.finditer(r'```(python|js)\n(.*?)```\n', text, re.S)):
            lang, code = m.group(1), m.group(2)
            if lang == 'python':
                if "if __name__ == '__main__':" not in code:
                    continue
                if 'import gi\n' not in code:
                    code = HEADER + code
                path = os.path.join(tmp, f'{os.path.basename(page)}-{n}.py')
                argv = ['/usr/bin/python3', path]
            else:
                if 'imports.gi.versions.Mproc' not in code:
                    continue
                path = os.path.join(tmp, f'{os.path.basename(page)}-{n}.js')
                argv = ['gjs', path]
            with open(path, 'w', encoding='utf-8') as f:
                f.write(code)
            name = f'{os.path.basename(page)} block {n} ({lang})'
            ran += 1
            try:
                out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     universal_newlines=True, timeout=120, cwd=tmp)
            except subprocess.TimeoutExpired:
                print(f'FAIL: {name}: timed out')
                failures += 1
                continue
            bad = out.returncode != 0 or 'Traceback' in out.stderr or 'CRITICAL' in out.stderr
            print(('FAIL: ' if bad else 'ok: ') + name)
            if bad or out.stderr:
                sys.stdout.write(out.stdout[-2000:])
                sys.stdout.write(out.stderr[-2000:])
            failures += bad

print(f'{ran} programs run, {failures} failed')
sys.exit(1 if failures or not ran else 0)
