"""Shared by the examples' checkers: run an example under every start method
and hand its output lines to the checker (../shared/seed/scenarios.md §12:
invariants, not transcripts)."""

import os
import subprocess
import sys

METHODS = ('fork', 'spawn', 'forkserver')


def run(program, method, timeout=60):
    env = dict(os.environ, MPROC_START_METHOD=method)
    proc = subprocess.run([program], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True)
    if proc.returncode != 0:
        raise AssertionError(f'{method}: exit code {proc.returncode}\n{proc.stderr}')
    if proc.stderr.strip():
        raise AssertionError(f'{method}: unexpected stderr:\n{proc.stderr}')
    return proc.stdout.splitlines()


def main(check):
    """Runs check(lines, method) for every method; prints TAP-ish lines."""
    program = sys.argv[1]
    failed = 0
    for method in METHODS:
        try:
            check(run(program, method), method)
            print(f'ok {method}')
        except AssertionError as e:
            failed += 1
            print(f'not ok {method}: {e}')
    sys.exit(1 if failed else 0)
