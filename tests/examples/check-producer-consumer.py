#!/usr/bin/python3
"""§2: fan-out/fan-in with poison pills (both versions).

Invariants: 'Creating N consumers' first (N = 2 x CPUs); each task i*i
handled by exactly one consumer; each consumer exits exactly once; each
result exactly once; consumers named Consumer-1..N. With the JoinableQueue
(program name joinable-queue), every Result line comes after every Exiting
line: the parent prints only after join()."""

import os
import re
import sys
sys.path.insert(0, os.path.dirname(__file__))
import checklib  # noqa: E402

JOINABLE = os.path.basename(sys.argv[1]).startswith('joinable')


def check(lines, method):
    n = 2 * os.cpu_count()
    assert lines[0] == f'Creating {n} consumers', lines[:1]
    names = {f'Consumer-{k}' for k in range(1, n + 1)}
    tasks, exits, results = [], [], []
    for i, line in enumerate(lines[1:], 1):
        if m := re.fullmatch(r'(Consumer-\d+): (\d+) \* (\d+)', line):
            assert m[1] in names and m[2] == m[3], line
            tasks.append(int(m[2]))
        elif m := re.fullmatch(r'(Consumer-\d+): Exiting', line):
            assert m[1] in names, line
            exits.append((i, m[1]))
        elif m := re.fullmatch(r'Result: (\d+) \* (\d+) = (\d+)', line):
            a, b, p = map(int, m.groups())
            assert a == b and p == a * a, line
            results.append((i, a))
        else:
            raise AssertionError(f'unexpected line {line!r}')
    assert sorted(tasks) == list(range(10)), tasks
    assert sorted(name for _, name in exits) == sorted(names), exits
    assert sorted(a for _, a in results) == list(range(10)), results
    if JOINABLE:
        assert max(i for i, _ in exits) < min(i for i, _ in results), 'a result before an exit'


checklib.main(check)
