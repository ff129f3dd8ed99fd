#!/usr/bin/python3
# Checks examples/manager-dict (scenarios.md §7 and §12): the dict holds
# {i: 2i} for i in 0..9, whatever order the children ran in.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import main  # noqa: E402


def check(lines, method):
    if len(lines) != 1 or not lines[0].startswith('Results: {') or not lines[0].endswith('}'):
        raise AssertionError(f'unexpected output {lines!r}')
    pairs = re.findall(r'(-?\d+): (-?\d+)', lines[0])
    contents = {int(k): int(v) for k, v in pairs}
    if contents != {i: 2 * i for i in range(10)} or len(pairs) != 10:
        raise AssertionError(f'wrong contents {lines[0]!r}')


main(check)
