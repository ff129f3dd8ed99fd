#!/usr/bin/python3
# Checks examples/manager-list-model: the parent's main loop sees every
# append of the child as items-changed at the end of the list, in order.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checklib import main  # noqa: E402

NAMES = ['ant', 'bee', 'cat', 'dog', 'eel']
LINE = re.compile(r'^items-changed: position (\d+), removed (\d+), added (\d+) -> \[(.*)\]$')


def check(lines, method):
    model = []
    for line in lines:
        m = LINE.match(line)
        if not m:
            raise AssertionError(f'unexpected line {line!r}')
        position, removed, added = (int(x) for x in m.groups()[:3])
        shown = [x for x in m.group(4).split(', ') if x]
        if position + removed > len(model):
            raise AssertionError(f'change out of range: {line!r}')
        model[position:position + removed] = shown[position:position + added]
        if model != shown or model != NAMES[:len(model)]:
            raise AssertionError(f'model {model!r} does not match {line!r}')
    if model != NAMES:
        raise AssertionError(f'final model {model!r}')


main(check)
