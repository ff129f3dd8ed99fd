# Helpers of the synchronisation examples' checkers (#5); standard library only.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import subprocess
import sys
import time

METHODS = ('fork', 'spawn', 'forkserver')


def run(program, method, timeout=60):
    """Runs the example under a start method; returns (lines, seconds)."""
    env = dict(os.environ, MPROC_START_METHOD=method)
    t0 = time.monotonic()
    proc = subprocess.run([program], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, text=True)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        fail(method, f'exit code {proc.returncode}, stderr:\n{proc.stderr}')
    if proc.stderr.strip():
        fail(method, f'unexpected stderr:\n{proc.stderr}')
    return proc.stdout.splitlines(), elapsed


def run_timed(program, method, timeout=60):
    """Like run(), but returns [(seconds since start, line)] as they arrive."""
    env = dict(os.environ, MPROC_START_METHOD=method)
    t0 = time.monotonic()
    proc = subprocess.Popen([program], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)
    timed = []
    for line in proc.stdout:
        timed.append((time.monotonic() - t0, line.rstrip('\n')))
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail(method, 'timed out')
    stderr = proc.stderr.read()
    if proc.returncode != 0:
        fail(method, f'exit code {proc.returncode}, stderr:\n{stderr}')
    if stderr.strip():
        fail(method, f'unexpected stderr:\n{stderr}')
    return timed, time.monotonic() - t0


def fail(method, message):
    print(f'FAIL [{method}]: {message}', file=sys.stderr)
    sys.exit(1)


def check(method, condition, message, lines=None):
    if not condition:
        if lines is not None:
            message += '\noutput:\n' + '\n'.join(lines)
        fail(method, message)


def main(check_one):
    if len(sys.argv) != 2:
        print(f'usage: {sys.argv[0]} <example program>', file=sys.stderr)
        sys.exit(2)
    for method in METHODS:
        check_one(sys.argv[1], method)
        print(f'ok [{method}]')
