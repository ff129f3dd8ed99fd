#!/usr/bin/python3
"""What CPython's Lib/test/_test_multiprocessing.py checks, in a broad
sample, rewritten for `from gi.repository import Mproc` and run under each
start method: processes and their exit codes, queues, pipes, locks,
semaphores, events, conditions, barriers, shared values, managers and
pools, with Python's exceptions and return conventions. Prints TAP."""

import os
import queue
import sys
import threading
import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc as mp  # noqa: E402

TIMEOUT = 30


def child_exit(code):
    sys.exit(code)


def child_raise():
    raise KeyError('from the child')


def child_returns():
    return 5


def put_name(q, value, *, extra=None):
    q.put((mp.current_process().name, value, extra, __name__))


def sleeper(seconds):
    time.sleep(seconds)


def add_many(counter, arr, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1
    for i in range(len(arr)):
        arr[i] = -arr[i]


def echo(conn):
    while True:
        try:
            obj = conn.recv()
        except EOFError:
            break
        if obj == 'STOP':       # under fork the child holds the other end too
            break
        conn.send(obj)
    conn.close()


def barrier_party(b, q):
    q.put(b.wait(TIMEOUT))


def event_setter(e):
    time.sleep(0.1)
    e.set()


def fill(d, lst, ns):
    d['child'] = os.getpid()
    d[(1, 2)] = {3, 4}
    lst.append('from child')
    ns.value = 42


def square(x):
    return x * x


def add(a, b, c=0):
    return a + b + c


def divide(a, b):
    return a / b


results = []


def check(name, ok, detail=''):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}"
          f"{' # ' + repr(detail)[:300] if not ok else ''}", flush=True)


def raises(exc, func, *args, **kwargs):
    try:
        func(*args, **kwargs)
    except exc as e:
        return e
    except BaseException as e:      # the wrong type
        return None if not isinstance(e, exc) else e
    return None


VALUES = [None, True, False, 0, -1, 2 ** 70, -2 ** 80, 1.5, float('inf'), 1 + 2j, '', 'héllo',
          b'', b'\x00\xff' * 10, bytearray(b'ab'), (), (1,), (1, 'a', None), [], [1, 2],
          [1, 'x', [2.5]], {}, {'a': 1}, {1: 'x', 'y': 2, (1, 2): None}, {1, 2, 3},
          frozenset({'a'}), range(1, 10, 3), {'nested': [({1: [b'x']},)]}]


def run(method):
    ctx = mp.get_context(method)
    tag = method

    # --- processes
    p = ctx.Process(target=child_exit, args=(3,))
    check(f'{tag}: initial state', p.exitcode is None and not p.is_alive() and
          'initial' in repr(p), repr(p))
    p.start()
    check(f'{tag}: join(-1) returns at once', p.join(-1) is None)
    p.join(TIMEOUT)
    check(f'{tag}: sys.exit(3) is exit code 3, join() returns None', p.exitcode == 3, p.exitcode)
    check(f'{tag}: starting twice raises AssertionError', isinstance(raises(AssertionError, p.start),
                                                                    AssertionError))
    codes = []
    for target in (child_raise, child_returns):
        q = ctx.Process(target=target)
        q.start()
        q.join(TIMEOUT)
        codes.append(q.exitcode)
    check(f'{tag}: an exception is exit code 1, a return value is ignored', codes == [1, 0], codes)

    s = ctx.Process(target=sleeper, args=(60,), name='sleepy', daemon=True)
    s.start()
    alive = s.is_alive()
    s.terminate()
    s.join(TIMEOUT)
    check(f'{tag}: terminate() gives -SIGTERM, name and daemon kept',
          alive and s.exitcode == -15 and s.name == 'sleepy' and s.daemon, (s.exitcode, s.name))

    q = ctx.Queue()
    p = ctx.Process(target=put_name, args=(q, [1, (2, 3)]), kwargs={'extra': {'k': b'v'}})
    p.start()
    got = q.get(timeout=TIMEOUT)
    p.join(TIMEOUT)
    check(f'{tag}: args and kwargs reach a module-level target, __mp_main__ outside fork',
          got[1:3] == ([1, (2, 3)], {'k': b'v'}) and got[0] == p.name and
          got[3] == ('__main__' if method == 'fork' else '__mp_main__'), got)

    # --- queues
    q = ctx.Queue(maxsize=1)
    check(f'{tag}: Queue.get(False) on empty raises queue.Empty',
          isinstance(raises(queue.Empty, q.get, False), queue.Empty))
    t0 = time.monotonic()
    e = raises(queue.Empty, q.get, True, 0.2)
    check(f'{tag}: Queue.get(timeout=0.2) waits then raises queue.Empty, a GLib.Error too',
          isinstance(e, queue.Empty) and isinstance(e, GLib.Error) and
          time.monotonic() - t0 >= 0.15, e)
    q.put(1)
    check(f'{tag}: a full Queue raises queue.Full', isinstance(raises(queue.Full, q.put, 2, False),
                                                             queue.Full) and
          isinstance(raises(queue.Full, q.put, 2, True, 0.05), queue.Full))
    check(f'{tag}: qsize, full, get_nowait', q.qsize() == 1 and q.full() and q.get_nowait() == 1
          and q.empty())

    jq = ctx.JoinableQueue()
    jq.put('x')
    jq.get()
    jq.task_done()
    check(f'{tag}: JoinableQueue.join after task_done; task_done too often is ValueError',
          jq.join() is None and isinstance(raises(ValueError, jq.task_done), ValueError))

    # --- values round-trip through a queue and a pipe
    q = ctx.Queue()
    for v in VALUES:
        q.put(v)
    back = [q.get(timeout=TIMEOUT) for _ in VALUES]
    check(f'{tag}: every plain value round-trips through a Queue, types kept',
          back == VALUES and [type(v) for v in back] == [type(v) for v in VALUES], back)
    a, b = ctx.Pipe()
    p = ctx.Process(target=echo, args=(b,))
    p.start()
    b.close()
    echoed = []
    for v in VALUES:
        a.send(v)
        echoed.append(a.recv())
    a.send('STOP')
    a.close()
    p.join(TIMEOUT)
    check(f'{tag}: a Pipe echoes every value through a child', echoed == VALUES, echoed)
    a, b = ctx.Pipe(duplex=False)
    b.send_bytes(b'raw bytes', 4, 5)
    raw = a.recv_bytes()
    check(f'{tag}: send_bytes(buf, offset, size)', raw == b'bytes', raw)
    check(f'{tag}: poll() is False on an empty pipe, poll(0.1) too',
          a.poll() is False and a.poll(0.1) is False)
    b.send_bytes(b'1234567890')
    buf = bytearray(4)
    e = raises(mp.BufferTooShort, a.recv_bytes_into, buf)
    check(f'{tag}: recv_bytes_into a short buffer raises BufferTooShort with the message',
          e is not None and e.args[0] == b'1234567890', e)
    b.close()
    check(f'{tag}: recv() on a closed pipe raises EOFError', isinstance(raises(EOFError, a.recv),
                                                                        EOFError))

    # --- locks and friends
    lock = ctx.Lock()
    check(f'{tag}: Lock.acquire(False) is False while held',
          lock.acquire() is True and lock.acquire(False) is False and
          lock.acquire(timeout=0.05) is False)
    lock.release()
    check(f'{tag}: releasing an unlocked Lock raises ValueError',
          isinstance(raises(ValueError, lock.release), ValueError))
    rlock = ctx.RLock()
    check(f'{tag}: RLock is reentrant', rlock.acquire() and rlock.acquire() and
          rlock.release() is None and rlock.release() is None)
    sem = ctx.Semaphore(2)
    check(f'{tag}: Semaphore counts', sem.acquire() and sem.acquire() and not sem.acquire(False))
    bsem = ctx.BoundedSemaphore(1)
    check(f'{tag}: BoundedSemaphore released too often raises ValueError',
          isinstance(raises(ValueError, bsem.release), ValueError))
    ev = ctx.Event()
    check(f'{tag}: Event.wait(t) returns False, then True once set',
          ev.wait(0.05) is False and not ev.is_set())
    p = ctx.Process(target=event_setter, args=(ev,))
    p.start()
    check(f'{tag}: a child sets the Event', ev.wait(TIMEOUT) is True)
    p.join(TIMEOUT)
    cond = ctx.Condition()
    with cond:
        check(f'{tag}: Condition.wait(t) is False after t, wait_for returns the predicate',
              cond.wait(0.05) is False and cond.wait_for(lambda: 7, 0.05) == 7)
    bar = ctx.Barrier(3)
    q = ctx.Queue()
    ps = [ctx.Process(target=barrier_party, args=(bar, q)) for _ in range(2)]
    for p in ps:
        p.start()
    mine = bar.wait(TIMEOUT)
    indices = sorted([mine] + [q.get(timeout=TIMEOUT) for _ in ps])
    for p in ps:
        p.join(TIMEOUT)
    check(f'{tag}: Barrier.wait returns 0..parties-1', indices == [0, 1, 2] and bar.parties == 3,
          indices)
    bar2 = ctx.Barrier(2)
    e = raises(threading.BrokenBarrierError, bar2.wait, 0.05)
    check(f'{tag}: a Barrier timeout breaks it: BrokenBarrierError',
          isinstance(e, threading.BrokenBarrierError) and bar2.broken, e)

    # --- shared values
    counter = ctx.Value('i', 0)
    arr = ctx.Array('d', [1.0, 2.0, 3.0])
    ps = [ctx.Process(target=add_many, args=(counter, arr, 100)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(TIMEOUT)
    check(f'{tag}: Value under its lock and Array shared with children',
          counter.value == 200 and arr[:] == [1.0, 2.0, 3.0], (counter.value, arr[:]))
    codes = {c: ctx.Value(c, 0) for c in 'bBhHiIlLqQ'}
    for c, v in codes.items():
        v.value = -1
    check(f'{tag}: typecodes have ctypes meanings (wrap at their width)',
          [codes[c].value for c in 'bBhHiIlLqQ'] ==
          [-1, 255, -1, 65535, -1, 2 ** 32 - 1, -1, 2 ** 64 - 1, -1, 2 ** 64 - 1],
          [codes[c].value for c in 'bBhHiIlLqQ'])
    carr = ctx.Array('c', b'hello')
    raw = ctx.RawArray('i', range(5))
    raw[1:3] = [10, 20]
    check(f'{tag}: c arrays, slices and RawArray',
          carr.value == b'hello' and carr[0] == b'h' and raw[:] == [0, 10, 20, 3, 4] and
          raw[-1] == 4 and isinstance(raises(IndexError, raw.__getitem__, 5), IndexError))

    # --- a manager, usable without start()
    mgr = ctx.Manager()
    d = mgr.dict({'a': 1})
    lst = mgr.list(range(3))
    ns = mgr.Namespace()
    p = ctx.Process(target=fill, args=(d, lst, ns))
    p.start()
    p.join(TIMEOUT)
    check(f'{tag}: a child writes a manager dict, list and Namespace attribute',
          d['child'] == p.pid and d[(1, 2)] == {3, 4} and lst[-1] == 'from child' and
          ns.value == 42, (d.copy(), lst.copy()))
    check(f'{tag}: dict proxy is a MutableMapping',
          sorted(map(str, d.keys())) == ['(1, 2)', 'a', 'child'] and d.get('zz', 9) == 9 and
          d.pop('a') == 1 and 'a' not in d and d.setdefault('s', 5) == 5 and len(d) == 3 and
          isinstance(raises(KeyError, d.__getitem__, 'nope'), KeyError))
    lst.extend([5, 4])
    lst.sort(key=str)
    check(f'{tag}: list proxy is a MutableSequence',
          lst[1:3] == [1, 2] and lst[-1] == 'from child' and lst.index(5) == 4 and
          lst.count(2) == 1 and isinstance(raises(IndexError, lst.__getitem__, 99), IndexError),
          lst.copy())
    del ns.value
    check(f'{tag}: Namespace attribute deleted: AttributeError',
          isinstance(raises(AttributeError, getattr, ns, 'value'), AttributeError))
    mgr.shutdown()

    # --- pools
    with ctx.Pool(2) as pool:
        check(f'{tag}: map, starmap, apply with kwds',
              pool.map(square, range(10)) == [x * x for x in range(10)] and
              pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7] and
              pool.apply(add, (1, 2), {'c': 3}) == 6)
        got = []
        r = pool.map_async(square, range(5), callback=got.append)
        check(f'{tag}: map_async: get, ready, successful, callback',
              r.get(TIMEOUT) == [0, 1, 4, 9, 16] and r.ready() and r.successful() and
              got == [[0, 1, 4, 9, 16]])
        errs = []
        r = pool.apply_async(divide, (1, 0), error_callback=errs.append)
        e = raises(ZeroDivisionError, r.get, TIMEOUT)
        check(f'{tag}: a task\'s exception is raised again, remote traceback as __cause__',
              isinstance(e, ZeroDivisionError) and 'divide' in str(e.__cause__) and
              not r.successful() and len(errs) == 1, (e, e and e.__cause__))
        slow = pool.apply_async(sleeper, (2,))
        check(f'{tag}: get(timeout) raises TimeoutError and leaves the task running',
              isinstance(raises(mp.TimeoutError, slow.get, 0.1), mp.TimeoutError) and
              not slow.ready())
        check(f'{tag}: imap and imap_unordered with chunksize',
              list(pool.imap(square, range(7), chunksize=3)) == [x * x for x in range(7)] and
              sorted(pool.imap_unordered(square, range(7))) == sorted(x * x for x in range(7)))
        check(f'{tag}: builtins by reference (os.getpid)',
              pool.apply(os.getpid) not in (os.getpid(), None))
    pool.join()
    check(f'{tag}: a terminated pool refuses work with ValueError',
          isinstance(raises(ValueError, pool.map, square, [1]), ValueError))


def run_each_method():
    """Each start method in an interpreter of its own, TAP merged."""
    import subprocess
    n = 0
    ok = True
    for method in mp.get_all_start_methods():
        proc = subprocess.run([sys.executable, __file__, method], capture_output=True,
                              text=True, timeout=100)
        for line in proc.stdout.splitlines():
            m = re.match(r'(ok|not ok) \d+ (.*)', line)
            if m:
                n += 1
                ok &= m.group(1) == 'ok'
                print(f'{m.group(1)} {n} {m.group(2)}', flush=True)
        if proc.returncode != 0:
            n += 1
            ok = False
            print(f'not ok {n} {method}: exit status {proc.returncode} # {proc.stderr[-500:]!r}')
    print(f'1..{n}', flush=True)
    return 0 if ok else 1


def listener_checks():
    """Listener and Client between two threads: values, bytes, the authkey."""
    box = {}

    def serve(listener):
        try:
            with listener.accept() as conn:
                conn.send({'k': (1, 2.5, None)})
                box['got'] = conn.recv_bytes()
        except Exception as e:
            box['error'] = e

    with mp.connection.Listener(('localhost', 0), authkey=b'key') as listener:
        server = threading.Thread(target=serve, args=(listener,))
        server.start()
        with mp.connection.Client(listener.address, authkey=b'key') as conn:
            value = conn.recv()
            conn.send_bytes(b'xyz', 1)
            server.join(TIMEOUT)
            ready = mp.connection.wait([conn], TIMEOUT)     # the server closed its end
            eof = raises(EOFError, conn.recv)
    check('Listener/Client: a value and bytes travel, authkey accepted, EOFError at the end',
          value == {'k': (1, 2.5, None)} and box.get('got') == b'yz' and ready == [conn] and
          isinstance(eof, EOFError), (value, box, ready))

    path = os.path.join(os.environ.get('TMPDIR', '/tmp'), f'mproc-test-{os.getpid()}')
    with mp.connection.Listener(path, authkey=b'right') as listener:
        server = threading.Thread(target=serve, args=(listener,))
        server.start()
        error = raises(mp.AuthenticationError, mp.connection.Client, path, authkey=b'wrong')
        server.join(TIMEOUT)
    check('Listener/Client on a Unix socket: a wrong authkey is AuthenticationError on both ends',
          isinstance(error, mp.AuthenticationError) and
          isinstance(box.get('error'), mp.AuthenticationError) and not os.path.exists(path),
          (error, box))


if __name__ == '__main__':
    if len(sys.argv) == 1:
        import re
        sys.exit(run_each_method())
    methods = sys.argv[1:]
    check('module surface', mp.cpu_count() >= 1 and mp.get_start_method() == 'fork' and
          mp.current_process().name == 'MainProcess' and mp.parent_process() is None and
          mp.active_children() == [])
    if methods == ['fork']:
        listener_checks()
    for method in methods:
        run(method)
    print(f'1..{len(results)}', flush=True)
    sys.exit(0 if all(results) else 1)
