#!/usr/bin/python3
# Checks examples/semaphore (scenarios.md §6 and §12): 20 lines, never more
# than 3 active names, every worker seen active, the last line empty.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import ast
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sync_check_common import check, main, run  # noqa: E402

PREFIX = 'Now running: '


def check_one(program, method):
    lines, elapsed = run(program, method)
    check(method, len(lines) == 20, 'expected 20 lines', lines)
    seen = set()
    for line in lines:
        check(method, line.startswith(PREFIX), f'unexpected line {line!r}', lines)
        names = ast.literal_eval(line[len(PREFIX):])
        check(method, isinstance(names, list) and all(isinstance(n, str) for n in names),
              f'not a list of names: {line!r}', lines)
        check(method, len(names) <= 3, f'more than 3 active: {line!r}', lines)
        check(method, len(set(names)) == len(names), f'a name twice: {line!r}', lines)
        seen.update(names)
    check(method, seen == {str(i) for i in range(10)}, f'workers never seen active: {seen}', lines)
    check(method, lines[-1] == PREFIX + '[]', 'the last line must be an empty list', lines)
    check(method, elapsed < 20, f'took {elapsed:.1f} s')


main(check_one)
