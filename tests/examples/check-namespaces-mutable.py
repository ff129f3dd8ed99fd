#!/usr/bin/python3
# Checks examples/namespaces-mutable (scenarios.md §9 and §12): mutating
# the copy got from the namespace changes nothing: [] before and after.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import main  # noqa: E402


def check(lines, method):
    if lines != ['Before event, consumer got: []', 'After event, consumer got: []']:
        raise AssertionError(f'unexpected output {lines!r}')


main(check)
