#!/usr/bin/python3
"""§1: one object to one worker: exactly one line, naming the child."""

import os
import sys
sys.path.insert(0, os.path.dirname(__file__))
import checklib  # noqa: E402


def check(lines, method):
    assert lines == ['Doing something fancy in Process-1 for Fancy Dan!'], lines


checklib.main(check)
