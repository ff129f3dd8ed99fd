#!/usr/bin/python3
"""PyGObject: a pool started with Mproc.Pool.new_async() from a main loop,
and a Python task that stops when its map_async() is cancelled
(Mproc.Pool.task_get_cancellable()). Prints TAP."""

import os
import sys
import tempfile
import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import Gio, GLib, Mproc  # noqa: E402

TIMEOUT = 30   # seconds, an upper bound for any wait here


def mark(directory, what):
    with open(os.path.join(directory, f'{os.getpid()}.{what}'), 'w'):
        pass


@Mproc.register_task
def spin_until_cancelled(directory):
    cancellable = Mproc.Pool.task_get_cancellable()
    mark(directory, 'running')
    while not cancellable.is_cancelled():
        time.sleep(0.001)
    mark(directory, 'cancelled')
    cancellable.set_error_if_cancelled()   # raises GLib.Error CANCELLED


@Mproc.register_task
def pid_of_worker(x):
    return os.getpid()


Mproc.init()

results = []


def check(name, ok, detail=''):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}"
          f"{' # ' + str(detail) if detail and not ok else ''}", flush=True)


def marks(directory, what):
    return [n for n in os.listdir(directory) if n.endswith('.' + what)]


def iterate_until(condition):
    deadline = time.monotonic() + TIMEOUT
    context = GLib.MainContext.default()
    while not condition() and time.monotonic() < deadline:
        if not context.iteration(False):
            time.sleep(0.001)
    return condition()


print('1..4', flush=True)

# --- new_async: the loop runs while the workers start
box = {}
ticks = {'n': 0}


def tick():
    ticks['n'] += 1
    return GLib.SOURCE_CONTINUE


ticker = GLib.idle_add(tick)
Mproc.Pool.new_async(Mproc.Context.new(Mproc.StartMethod.FORKSERVER), 2, None,
                     lambda source, res: box.setdefault('pool', Mproc.Pool.new_finish(res)))
iterate_until(lambda: 'pool' in box)
GLib.source_remove(ticker)
pool = box.get('pool')
check('Pool.new_async() from a main loop gives a started pool, the loop running meanwhile',
      pool is not None and pool.get_n_workers() == 2 and ticks['n'] > 1, (pool, ticks))

# --- cancel stops the running Python tasks
with tempfile.TemporaryDirectory() as directory:
    cancellable = Gio.Cancellable()
    done = {}
    pool.map_async(spin_until_cancelled, [directory, directory], 1, TIMEOUT, cancellable,
                   lambda p, res: done.setdefault('result', res))
    running = iterate_until(lambda: len(marks(directory, 'running')) == 2)
    t0 = time.monotonic()
    cancellable.cancel()
    stopped = iterate_until(lambda: len(marks(directory, 'cancelled')) == 2)
    elapsed = time.monotonic() - t0
    iterate_until(lambda: 'result' in done)
    try:
        pool.map_finish(done['result'])
        error = None
    except GLib.Error as e:
        error = e
    check('a cancelled map_async stops its running Python tasks through task_get_cancellable()',
          running and stopped and elapsed < 1 and error is not None and
          error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED),
          (running, stopped, elapsed, error))

    pids = {int(n.split('.')[0]) for n in marks(directory, 'running')}
    pid = pool.apply(pid_of_worker, 0, TIMEOUT)
    check('the workers that stopped by themselves serve on, not replaced',
          pid in pids and pool.get_cancel_grace() == 100, (pid, pids))

pool.close()
pool.join(TIMEOUT)

# --- construct properties through the override
nice_pool = Mproc.Pool(1, nice=3, cancel_grace=-1)
pid = nice_pool.apply(pid_of_worker, 0, TIMEOUT)
with open(f'/proc/{pid}/stat') as f:
    worker_nice = int(f.read().rsplit(')', 1)[1].split()[16])
check('Mproc.Pool(nice=3) raises the workers\' niceness by 3',
      worker_nice == min(os.getpriority(os.PRIO_PROCESS, 0) + 3, 19) and
      nice_pool.get_cancel_grace() == -1, worker_nice)
nice_pool.close()
nice_pool.join(TIMEOUT)
sys.exit(0 if all(results) else 1)
