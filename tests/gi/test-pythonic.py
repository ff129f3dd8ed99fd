#!/usr/bin/python3
"""The Mproc override from Python: async calls from a GLib.MainLoop, errors
as GLib.Error in the Mproc.Error domain, Python targets under fork, this
very script as the worker script of spawn and forkserver children (the
interpreter executed again, up to Mproc.init()), Python pool tasks, and a
Python pool worker killed with SIGKILL. Prints TAP."""

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading

import gi
gi.require_version('Mproc', '1')
from gi.repository import Gio, GLib, Mproc  # noqa: E402

TIMEOUT = 30   # seconds, an upper bound for any wait here


# --- targets and tasks: registered before Mproc.init(), so that spawn and
# forkserver children, which run this script again up to there, know them.

@Mproc.register_target
def describe(queue, number, text, flag=False):
    """Sends back what it received and where it runs."""
    queue.put((number, text, flag, os.getpid(), Mproc.current_process().get_name()))
    return number


@Mproc.register_target
def exit_with(code):
    sys.exit(code)


@Mproc.register_target
def raise_error():
    raise RuntimeError('raised on purpose by a test target')


@Mproc.register_target('fill-dict')
def fill_dict(d, n):
    for i in range(n):
        d[i] = i * i


@Mproc.register_target
def draw(queue):
    """What Python's at-fork handlers set up in a child."""
    queue.put((random.random(), threading.current_thread() is threading.main_thread(),
               threading.active_count()))


@Mproc.register_target
def add_to_shared(counter, numbers):
    for _ in range(100):
        with counter.get_lock():
            counter.value += 1
    with numbers.get_lock():
        for i in range(len(numbers)):
            numbers[i] = -numbers[i]


@Mproc.register_target
def echo_pipe(conn):
    conn.send(conn.recv())
    conn.close()


@Mproc.register_task
def triple(x):
    return 3 * x


@Mproc.register_task
def pid_of_worker(x):
    return os.getpid()


@Mproc.register_task
def fail_task(x):
    if x == 'glib':
        raise GLib.Error.new_literal(Gio.io_error_quark(), 'as a GLib.Error', int(Gio.IOErrorEnum.BUSY))
    raise ValueError(f'bad input {x}')


@Mproc.register_task
def kill_myself(x):
    os.kill(os.getpid(), signal.SIGKILL)


Mproc.init()

results = []


def check(name, ok, detail=''):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}"
          f"{' # ' + str(detail) if detail and not ok else ''}", flush=True)


def run_loop(start):
    """Runs a main loop until start(done) calls done(value); a bounded wait."""
    loop = GLib.MainLoop()
    box = {}

    def done(value):
        box['value'] = value
        loop.quit()

    ticks = {'n': 0}

    def tick():
        ticks['n'] += 1
        return GLib.SOURCE_CONTINUE
    ticker = GLib.timeout_add(5, tick)
    guard = GLib.timeout_add_seconds(TIMEOUT, loop.quit)
    start(done)
    loop.run()
    GLib.source_remove(ticker)
    if 'value' in box:
        GLib.source_remove(guard)
    return box.get('value', 'timed out'), ticks['n']


def mproc_error(e, code):
    return isinstance(e, GLib.Error) and e.domain == 'mproc-error-quark' and \
        e.matches(Mproc.error_quark(), code) and e.code == int(code)


METHODS = [Mproc.StartMethod.FORK, Mproc.StartMethod.SPAWN, Mproc.StartMethod.FORKSERVER]
print(f'1..{15 + 4 * len(METHODS)}', flush=True)

# --- Python targets under every start method (spawn and forkserver run this
# script again as the worker script)
for method in METHODS:
    nick = method.value_nick
    context = Mproc.Context.new(method)
    queue = Mproc.Queue()
    p = Mproc.Process(target=describe, args=(queue, 42, 'héllo'), kwargs={'flag': True},
                      context=context)
    p.start()
    got = queue.get(TIMEOUT)
    p.join(TIMEOUT)
    check(f'{nick}: a Python target gets its args, kwargs and queue, and its exit code',
          got[:3] == (42, 'héllo', True) and got[3] == p.pid and got[3] != os.getpid() and
          got[4] == p.name and p.exitcode == 42, (got, p.exitcode))

    codes = []
    for target, args in ((exit_with, (7,)), (raise_error, ())):
        q = Mproc.Process(target=target, args=args, context=context)
        q.start()
        q.join(TIMEOUT)
        codes.append(q.exitcode)
    check(f'{nick}: sys.exit() gives the exit code, an exception exit code 1', codes == [7, 1], codes)

    queue = Mproc.Queue()
    children = [Mproc.Process(target=draw, args=(queue,), context=context) for _ in range(4)]
    for c in children:
        c.start()
    draws = [queue.get(TIMEOUT) for _ in children]
    for c in children:
        c.join(TIMEOUT)
    check(f'{nick}: children reseed random and run in their main thread, as after os.fork()',
          len({d[0] for d in draws}) == 4 and all(d[1] and d[2] == 1 for d in draws), draws)

    with Mproc.Pool(processes=2, context=context) as pool:
        mapped = pool.map(triple, range(10), timeout=TIMEOUT)
    check(f'{nick}: a Python pool task', mapped == [3 * i for i in range(10)], mapped)

# --- unregistered functions and lambdas run under fork
fork = Mproc.Context.new(Mproc.StartMethod.FORK)
queue = Mproc.Queue()
lambdas = [Mproc.Process(target=lambda q, i=i: q.put(i * 10), args=(queue,), context=fork)
           for i in range(3)]
for p in lambdas:
    p.start()
got = sorted(queue.get(TIMEOUT) for _ in lambdas)
for p in lambdas:
    p.join(TIMEOUT)
try:
    Mproc.Process(target=lambda: None, context=Mproc.Context.new(Mproc.StartMethod.SPAWN))
    refused = None
except ValueError as e:
    refused = e
check('fork runs unregistered lambdas, each its own; spawn refuses them',
      got == [0, 10, 20] and refused is not None, (got, refused))

# --- Condition.wait_for with a Python predicate
cond = Mproc.Condition()
calls = []
with cond:
    waited = (cond.wait_for(lambda: calls.append(1) or True),
              cond.wait_for(lambda: False, timeout=0.01))
check('Condition.wait_for takes a Python predicate and a timeout in seconds',
      waited == (True, False) and calls == [1], (waited, calls))

# --- shared Value and Array, as multiprocessing's
counter = Mproc.Value('i', 0)
numbers = Mproc.Array('d', [0.5, 1.5, 2.5])
adders = [Mproc.Process(target=add_to_shared, args=(counter, numbers)) for _ in range(3)]
for p in adders:
    p.start()
for p in adders:
    p.join(TIMEOUT)
check('Value and Array shared with children, under the Value\'s lock',
      counter.value == 300 and numbers[:] == [-0.5, -1.5, -2.5] and
      numbers.tolist() == [-0.5, -1.5, -2.5], (counter.value, numbers[:]))

# --- values and pipes
VALUE = {'name': 'x', 'items': [1, 2, 3], 'mixed': [1, 'a', None], 'pair': (1.5, True),
         'bytes': b'\x00\x01', 'nested': {'n': None}}
round_trip = Mproc.from_variant(Mproc.to_variant(VALUE))
check('Python values survive the GLib.Variant round trip',
      round_trip == VALUE and Mproc.to_variant([1, 2]).get_type_string() == 'ax' and
      Mproc.to_variant([1, 'a']).get_type_string() == 'av', round_trip)

ours, theirs = Mproc.Pipe()
p = Mproc.Process(target=echo_pipe, args=(theirs,))
p.start()
theirs.close()
ours.send(VALUE)
echoed = ours.recv() if ours.poll(TIMEOUT) else 'nothing'
p.join(TIMEOUT)
ours.close()
check('a Pipe carries Python values to a child and back', echoed == VALUE, echoed)

# --- async calls from a main loop
queue = Mproc.Queue()
producer = Mproc.Process(target=describe, args=(queue, 5, 'async'))
value, ticks = run_loop(lambda done: (
    queue.get_async(TIMEOUT, None, lambda q, res: done(q.get_finish(res))),
    producer.start()))
producer.join(TIMEOUT)
check('queue get_async from a main loop receives a child\'s put',
      isinstance(value, tuple) and value[:2] == (5, 'async'), value)

event = Mproc.Event()
value, ticks = run_loop(lambda done: (
    event.wait_async(None, None, lambda e, res: done(e.wait_finish(res))),
    GLib.timeout_add(50, lambda: event.set() or GLib.SOURCE_REMOVE)))
check('event wait_async completes when the event is set, the loop kept running',
      value is True and ticks > 0, (value, ticks))

pool = Mproc.Pool(processes=2)
progress = []
value, ticks = run_loop(lambda done: pool.map_async(
    triple, range(20), 1, TIMEOUT, None, lambda p, res: done(p.map_finish(res)),
    progress=lambda n_done, n_items, *data: progress.append((n_done, n_items))))
check('pool map_async from a main loop, with progress',
      value == [3 * i for i in range(20)] and progress and progress[-1] == (20, 20) and
      progress == sorted(progress), (value, progress))

manager = Mproc.Manager()
manager.start(None)
d = manager.dict()
filler = Mproc.Process(target='fill-dict', args=(d, 5))
filler.start()
filler.join(TIMEOUT)
value, ticks = run_loop(lambda done: d.get_async(
    GLib.Variant('x', 4), None, lambda dd, res: done(dd.get_finish(res).unpack())))
check('manager dict: a child\'s writes, read with get_async from a main loop',
      value == 16 and d.copy() == {i: i * i for i in range(5)} and len(d) == 5 and
      4 in d and 5 not in d and d[3] == 9, (value, d.copy()))

# --- errors arrive as GLib.Error with the Mproc.Error domain and code
errors = {}
try:
    Mproc.Queue().get_nowait()
except GLib.Error as e:
    errors['empty'] = e
try:
    Mproc.Process('no-such-target').start()
except GLib.Error as e:
    errors['unknown'] = e
try:
    Mproc.Lock().release()
except GLib.Error as e:
    errors['not-owner'] = e
try:
    d['missing']
except KeyError as e:
    errors['not-found'] = e.__cause__
cancellable = Gio.Cancellable()
cancellable.cancel()
try:
    Mproc.Event().wait(None, cancellable)
except GLib.Error as e:
    errors['cancelled'] = e
check('errors are GLib.Error in the Mproc.Error domain with their codes',
      mproc_error(errors.get('empty'), Mproc.Error.EMPTY) and
      mproc_error(errors.get('unknown'), Mproc.Error.UNKNOWN_TARGET) and
      mproc_error(errors.get('not-owner'), Mproc.Error.NOT_OWNER) and
      mproc_error(errors.get('not-found'), Mproc.Error.NOT_FOUND) and
      errors.get('cancelled') is not None and
      errors['cancelled'].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED),
      {k: (v.domain, v.code) if isinstance(v, GLib.Error) else v for k, v in errors.items()})

def _finish_error(q, res):
    try:
        return q.get_finish(res)
    except GLib.Error as e:
        return e


value, ticks = run_loop(lambda done: Mproc.Queue().get_async(
    0.05, None, lambda q, res: done(_finish_error(q, res))))
check('an _async call that times out raises TIMED_OUT from its _finish',
      mproc_error(value, Mproc.Error.TIMED_OUT), value)
manager.shutdown(None)

# --- a worker script named relative to a directory the program has left
here = os.path.dirname(os.path.abspath(__file__))
with tempfile.TemporaryDirectory(prefix='gi-chdir-') as elsewhere:
    runs = {}
    for method in METHODS:
        run = subprocess.run([sys.executable, 'script-chdir.py', elsewhere], cwd=here,
                             env=dict(os.environ, MPROC_START_METHOD=method.value_nick),
                             capture_output=True, text=True, timeout=2 * TIMEOUT)
        runs[method.value_nick] = (run.returncode, run.stdout.strip(), run.stderr[-300:])
check('python3 script.py, then chdir: spawn and forkserver find the script, '
      'targets work in the parent\'s directory',
      all(r[:2] == (0, os.path.realpath(elsewhere)) for r in runs.values()), runs)

# --- a Python task's exception reaches the caller as a GLib.Error
with Mproc.Pool(processes=1) as pool:
    failures = []
    for arg in (3, 'glib'):
        try:
            pool.apply(fail_task, arg, TIMEOUT)
            failures.append(None)
        except GLib.Error as e:
            failures.append(e)
    after_failures = pool.apply(triple, 2, TIMEOUT)
check('a task\'s exception arrives as GLib.Error, its own or FAILED with its text',
      mproc_error(failures[0], Mproc.Error.FAILED) and 'ValueError: bad input 3' in failures[0].message and
      failures[1] is not None and failures[1].matches(Gio.io_error_quark(), Gio.IOErrorEnum.BUSY) and
      after_failures == 6, failures)

# --- a Python pool worker killed with SIGKILL: WORKER_DIED, the pool goes on
pool = Mproc.Pool(processes=2)
before = sorted(pool.dup_worker_pids())
try:
    pool.apply(kill_myself, 0, TIMEOUT)
    died = None
except GLib.Error as e:
    died = e
mapped = pool.map(triple, range(10), timeout=TIMEOUT)
after = sorted(pool.dup_worker_pids())
check('SIGKILL of a Python pool worker fails its task with WORKER_DIED',
      mproc_error(died, Mproc.Error.WORKER_DIED), died)
check('the pool goes on with a new worker',
      mapped == [3 * i for i in range(10)] and len(after) == 2 and after != before,
      (mapped, before, after))
pool.close()
pool.join(TIMEOUT)

Mproc.shutdown()
sys.exit(0 if all(results) else 1)
