#!/usr/bin/python3
# Checks examples/manager-dbus-object (issue #6, "your own shared objects"):
# two workers increment a counter served by the manager over D-Bus, 1000
# times each; both finish and the parent reads exactly 2000.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import main  # noqa: E402


def check(lines, method):
    if len(lines) != 3:
        raise AssertionError(f'unexpected output {lines!r}')
    if sorted(lines[:2]) != ['worker 0: done', 'worker 1: done']:
        raise AssertionError(f'unexpected worker lines {lines[:2]!r}')
    if lines[2] != 'Value: 2000':
        raise AssertionError(f'unexpected total {lines[2]!r}')


main(check)
