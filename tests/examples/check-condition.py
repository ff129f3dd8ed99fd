#!/usr/bin/python3
# Checks examples/condition (scenarios.md §5 and §12): stage 2 runs only after
# s1 is done, and both stage-2 processes run.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sync_check_common import check, main, run  # noqa: E402


def check_one(program, method):
    lines, elapsed = run(program, method)
    expected_head = ['Starting stage_2[1]', 'Starting stage_2[2]', 'Starting s1',
                     's1 done and ready for stage 2']
    check(method, len(lines) == 6, 'expected 6 lines', lines)
    check(method, lines[:4] == expected_head, 'stage 1 did not come first', lines)
    check(method, sorted(lines[4:]) == ['stage_2[1] running', 'stage_2[2] running'],
          'both stage-2 processes must run after s1', lines)
    check(method, 1.9 <= elapsed < 15, f'took {elapsed:.1f} s, expected about 2 s')


main(check_one)
