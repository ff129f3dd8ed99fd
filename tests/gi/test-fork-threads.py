#!/usr/bin/python3
"""The fork start method while another Python thread is busy.

PyGObject calls C with the interpreter lock released: a fork() done in C
while another thread holds that lock leaves the child waiting for it for
ever. The Mproc override forks through os.fork() (Mproc.set_fork_func), so
processes and pool workers started with fork run their Python code. Every
wait here is bounded, and meson's timeout stops a hang. Prints TAP."""

import os
import sys
import threading

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402

ROUNDS = 20
TIMEOUT = 20   # seconds, for each wait: far more than a fork takes

results = []


def check(name, ok, detail=''):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}"
          f"{' # ' + str(detail) if detail and not ok else ''}", flush=True)


@Mproc.register_target
def report(queue, i):
    queue.put((i, os.getpid()))
    return 3


@Mproc.register_task
def square(x):
    return x * x


stop = threading.Event()


def spin():
    # pure Python: holds the interpreter lock nearly all the time
    n = 0
    while not stop.is_set():
        for k in range(1000):
            n += k


print('1..5', flush=True)
busy = [threading.Thread(target=spin) for _ in range(2)]
for t in busy:
    t.start()

fork = Mproc.Context.new(Mproc.StartMethod.FORK)
queue = Mproc.Queue()
got, codes = [], []
for i in range(ROUNDS):
    p = Mproc.Process(target=report, args=(queue, i), context=fork)
    p.start()
    try:
        got.append(queue.get(TIMEOUT))
    except GLib.Error as e:
        got.append(e.message)
    p.join(TIMEOUT)
    codes.append(p.exitcode if p.exitcode is not None else 'hung')
    if codes[-1] == 'hung':
        p.kill()
        p.join()
check(f'{ROUNDS} fork children ran Python while two threads were busy',
      [g[0] for g in got if isinstance(g, tuple)] == list(range(ROUNDS)), got)
check('their exit codes came from the Python target', codes == [3] * ROUNDS, codes)

pool = Mproc.Pool(processes=2, context=fork)
try:
    mapped = pool.map(square, range(20), timeout=TIMEOUT)
except GLib.Error as e:
    mapped = e.message
check('a fork pool ran Python tasks while two threads were busy',
      mapped == [x * x for x in range(20)], mapped)
pool.close()
check('the fork pool joined', pool.join(TIMEOUT))

# Workers replaced after each task: replacements are forked by the pool
# (wherever it starts them) through the same hook.
pool = Mproc.Pool(processes=2, maxtasksperchild=1, context=fork)
try:
    mapped = pool.map(square, range(8), chunksize=1, timeout=TIMEOUT)
except GLib.Error as e:
    mapped = e.message
pool.close()
check('a fork pool replaced its workers while two threads were busy',
      mapped == [x * x for x in range(8)] and pool.join(TIMEOUT), mapped)

stop.set()
for t in busy:
    t.join()
Mproc.shutdown()
sys.exit(0 if all(results) else 1)
