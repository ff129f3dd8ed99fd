#!/usr/bin/python3
# Checks examples/pool (scenarios.md §10 and §12) under every start method:
# Input and Built-in lines first, one "Starting PoolWorker-N" line per worker
# (2 x CPUs of them, names unique, any order), then the Pool line, in input
# order, equal to the built-in map.
#
#   /usr/bin/python3 check-pool.py <path to examples/pool>
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import subprocess
import sys

METHODS = ('fork', 'spawn', 'forkserver')
INPUT = 'Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]'
DOUBLED = '[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]'


def fail(method, message, lines):
    sys.stderr.write(f'check-pool [{method}]: {message}\n')
    for line in lines:
        sys.stderr.write(f'  | {line}\n')
    sys.exit(1)


def check_one(program, method):
    env = dict(os.environ, MPROC_START_METHOD=method)
    proc = subprocess.run([program], env=env, capture_output=True, text=True, timeout=60)
    lines = proc.stdout.splitlines()
    if proc.returncode != 0:
        fail(method, f'exit status {proc.returncode}; stderr: {proc.stderr}', lines)
    workers = 2 * len(os.sched_getaffinity(0))
    if len(lines) != 3 + workers:
        fail(method, f'expected {3 + workers} lines', lines)
    if lines[0] != INPUT:
        fail(method, 'first line must be the input', lines)
    if lines[1] != 'Built-in: ' + DOUBLED:
        fail(method, 'second line must be the built-in map', lines)
    if lines[-1] != 'Pool    : ' + DOUBLED:
        fail(method, 'last line must be the pool map, in input order', lines)
    starting = lines[2:-1]
    names = []
    for line in starting:
        m = re.fullmatch(r'Starting (PoolWorker-\d+)', line)
        if m is None:
            fail(method, f'unexpected line {line!r}', lines)
        names.append(m.group(1))
    if len(set(names)) != workers:
        fail(method, 'each worker must start once, under its own name', lines)
    if sorted(names) != sorted(f'PoolWorker-{i}' for i in range(1, workers + 1)):
        fail(method, 'workers must be PoolWorker-1 .. PoolWorker-N', lines)
    if proc.stderr.strip():
        fail(method, f'unexpected stderr: {proc.stderr}', lines)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: check-pool.py <example program>')
    for method in METHODS:
        check_one(sys.argv[1], method)
    print('check-pool: ok under ' + ', '.join(METHODS))


main()
