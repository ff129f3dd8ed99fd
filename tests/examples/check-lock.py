#!/usr/bin/python3
# Checks examples/lock (scenarios.md §4 and §12): both lines, whole, in
# either order (the lock keeps them from being jumbled).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sync_check_common import check, main, run  # noqa: E402


def check_one(program, method):
    lines, _ = run(program, method)
    check(method, sorted(lines) == ['Lock acquired directly', 'Lock acquired via with'],
          'lines missing or jumbled', lines)


main(check_one)
