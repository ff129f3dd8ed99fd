#!/usr/bin/python3
# Checks examples/pool-maxtasksperchild (scenarios.md §10, maxtasksperchild
# variant, and §12) under every start method: 40 one-item tasks on 2 x CPUs
# workers that are replaced after 2 tasks each.  Results in input order; at
# least 20 workers ran tasks, none more than 2; every worker (replacements
# included) ran the initializer once, under a name of its own.
#
#   /usr/bin/python3 check-pool-maxtasksperchild.py <path to the example>
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import subprocess
import sys

METHODS = ('fork', 'spawn', 'forkserver')
N = 40
MAXTASKS = 2


def fail(method, message, lines):
    sys.stderr.write(f'check-pool-maxtasksperchild [{method}]: {message}\n')
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

    if not lines or lines[0] != 'Input   : ' + str(list(range(N))):
        fail(method, 'first line must be the input', lines)
    pool = [line for line in lines if line.startswith('Pool    : ')]
    if pool != ['Pool    : ' + str([2 * i for i in range(N)])]:
        fail(method, 'one Pool line, doubled, in input order', lines)
    if lines[-2] != f'Tasks   : {N}, maxtasksperchild {MAXTASKS}':
        fail(method, 'missing the Tasks line', lines)
    m = re.fullmatch(r'Workers : (\d+) ran tasks, at most (\d+) tasks each', lines[-1])
    if m is None:
        fail(method, 'missing the Workers line', lines)
    ran, most = int(m.group(1)), int(m.group(2))
    if most > MAXTASKS:
        fail(method, f'a worker ran {most} tasks, more than maxtasksperchild', lines)
    if ran < N // MAXTASKS:
        fail(method, f'only {ran} workers ran tasks: no replacement', lines)

    names = []
    for line in lines:
        s = re.fullmatch(r'Starting (PoolWorker-\d+)', line)
        if s is not None:
            names.append(s.group(1))
    if len(names) != len(set(names)):
        fail(method, 'a worker name started twice', lines)
    # every worker that ran tasks started; so did the first `workers` ones,
    # and the last replacements may have started with nothing left to do
    if len(names) < max(ran, workers) or len(names) > ran + workers:
        fail(method, f'{len(names)} initializer runs for {ran} workers that ran tasks', lines)
    if 'PoolWorker-1' not in names or f'PoolWorker-{workers + 1}' not in names:
        fail(method, 'replacement workers must continue the numbering', lines)
    if proc.stderr.strip():
        fail(method, f'unexpected stderr: {proc.stderr}', lines)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: check-pool-maxtasksperchild.py <example program>')
    for method in METHODS:
        check_one(sys.argv[1], method)
    print('check-pool-maxtasksperchild: ok under ' + ', '.join(METHODS))


main()
