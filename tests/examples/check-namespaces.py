#!/usr/bin/python3
# Checks examples/namespaces (scenarios.md §8 and §12): before the event the
# consumer gets an error naming the attribute (or, if the producer won the
# race, the value); after the event, always the value.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import main  # noqa: E402

VALUE = 'This is the value'


def check(lines, method):
    if len(lines) != 2:
        raise AssertionError(f'unexpected output {lines!r}')
    before, after = lines
    prefix = 'Before event, consumer got: '
    if not before.startswith(prefix):
        raise AssertionError(f'unexpected first line {before!r}')
    got = before[len(prefix):]
    if got != VALUE and not ('value' in got and 'attribute' in got):
        raise AssertionError(f'the error does not name the attribute: {before!r}')
    if after != f'After event, consumer got: {VALUE}':
        raise AssertionError(f'unexpected second line {after!r}')


main(check)
