#!/usr/bin/python3
"""The examples of Python's multiprocessing documentation (retyped), each
run twice as a script: with `import multiprocessing` and with only its
import block changed to the Mproc override. Their outputs must match
(after masking pids and addresses; lines sorted where the example's own
output order depends on scheduling). Prints TAP."""

import os
import re
import subprocess
import sys
import tempfile

TIMEOUT = 60
MP = 'import gi\ngi.require_version("Mproc", "1")\nfrom gi.repository import Mproc as multiprocessing\n'

# (name, sort lines?, body): the body imports through the names below,
# which the header binds to multiprocessing or to Mproc.
EXAMPLES = [
    ('pool intro', False, '''
from multiprocessing import Pool

def f(x):
    return x*x

if __name__ == '__main__':
    with Pool(5) as p:
        print(p.map(f, [1, 2, 3]))
'''),
    ('Process hello', False, '''
from multiprocessing import Process

def f(name):
    print('hello', name)

if __name__ == '__main__':
    p = Process(target=f, args=('bob',))
    p.start()
    p.join()
'''),
    ('Process info', False, '''
from multiprocessing import Process
import os

def info(title):
    print(title)
    print('module name:', __name__)
    print('parent process:', os.getppid())
    print('process id:', os.getpid())

def f(name):
    info('function f')
    print('hello', name)

if __name__ == '__main__':
    info('main line')
    p = Process(target=f, args=('bob',))
    p.start()
    p.join()
'''),
    ('set_start_method spawn', False, '''
import multiprocessing as mp

def foo(q):
    q.put('hello')

if __name__ == '__main__':
    mp.set_start_method('spawn')
    q = mp.Queue()
    p = mp.Process(target=foo, args=(q,))
    p.start()
    print(q.get())
    p.join()
'''),
    ('get_context spawn', False, '''
import multiprocessing as mp

def foo(q):
    q.put('hello')

if __name__ == '__main__':
    ctx = mp.get_context('spawn')
    q = ctx.Queue()
    p = ctx.Process(target=foo, args=(q,))
    p.start()
    print(q.get())
    p.join()
'''),
    ('Queue', False, '''
from multiprocessing import Process, Queue

def f(q):
    q.put([42, None, 'hello'])

if __name__ == '__main__':
    q = Queue()
    p = Process(target=f, args=(q,))
    p.start()
    print(q.get())    # prints "[42, None, 'hello']"
    p.join()
'''),
    ('Pipe', False, '''
from multiprocessing import Process, Pipe

def f(conn):
    conn.send([42, None, 'hello'])
    conn.close()

if __name__ == '__main__':
    parent_conn, child_conn = Pipe()
    p = Process(target=f, args=(child_conn,))
    p.start()
    print(parent_conn.recv())   # prints "[42, None, 'hello']"
    p.join()
'''),
    ('Lock', True, '''
from multiprocessing import Process, Lock

def f(l, i):
    l.acquire()
    try:
        print('hello world', i)
    finally:
        l.release()

if __name__ == '__main__':
    lock = Lock()

    for num in range(10):
        Process(target=f, args=(lock, num)).start()
'''),
    ('Value and Array', False, '''
from multiprocessing import Process, Value, Array

def f(n, a):
    n.value = 3.1415927
    for i in range(len(a)):
        a[i] = -a[i]

if __name__ == '__main__':
    num = Value('d', 0.0)
    arr = Array('i', range(10))

    p = Process(target=f, args=(num, arr))
    p.start()
    p.join()

    print(num.value)
    print(arr[:])
'''),
    ('Manager', False, '''
from multiprocessing import Process, Manager

def f(d, l):
    d[1] = '1'
    d['2'] = 2
    d[0.25] = None
    l.reverse()

if __name__ == '__main__':
    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(10))

        p = Process(target=f, args=(d, l))
        p.start()
        p.join()

        print(d)
        print(l)
'''),
    ('Pool of workers', False, '''
from multiprocessing import Pool, TimeoutError
import time
import os

def f(x):
    return x*x

if __name__ == '__main__':
    # start 4 worker processes
    with Pool(processes=4) as pool:

        # print "[0, 1, 4,..., 81]"
        print(pool.map(f, range(10)))

        # print same numbers in arbitrary order
        for i in sorted(pool.imap_unordered(f, range(10))):
            print(i)

        # evaluate "f(20)" asynchronously
        res = pool.apply_async(f, (20,))      # runs in *only* one process
        print(res.get(timeout=1))             # prints "400"

        # evaluate "os.getpid()" asynchronously
        res = pool.apply_async(os.getpid, ()) # runs in *only* one process
        print(res.get(timeout=1))             # prints the PID of that process

        # launching multiple evaluations asynchronously *may* use more processes
        multiple_results = [pool.apply_async(os.getpid, ()) for i in range(4)]
        print(len([res.get(timeout=1) for res in multiple_results]))

        # make a single worker sleep for 10 seconds
        res = pool.apply_async(time.sleep, (10,))
        try:
            print(res.get(timeout=1))
        except TimeoutError:
            print("We lacked patience and got a multiprocessing.TimeoutError")

        print("For the moment, the pool remains available for more work")

    # exiting the 'with'-block has stopped the pool
    print("Now the pool is closed and no longer available")
'''),
    ('Process terminate', False, '''
import multiprocessing, time, signal
mp_context = multiprocessing.get_context('spawn')
if __name__ == '__main__':
    p = mp_context.Process(target=time.sleep, args=(1000,))
    print(p.is_alive())
    p.start()
    print(p.is_alive())
    p.terminate()
    time.sleep(0.1)
    p.join()
    print(p.is_alive())
    print(p.exitcode == -signal.SIGTERM)
'''),
    ('Connection objects', False, '''
from multiprocessing import Pipe
a, b = Pipe()
a.send([1, 'hello', None])
print(b.recv())
b.send_bytes(b'thank you')
print(a.recv_bytes())
import array
arr1 = array.array('i', range(5))
arr2 = array.array('i', [0] * 10)
a.send_bytes(arr1)
count = b.recv_bytes_into(arr2)
assert count == len(arr1) * arr1.itemsize
print(arr2)
'''),
    ('proxy objects', False, '''
from multiprocessing import Manager
manager = Manager()
l = manager.list([i*i for i in range(10)])
print(l)
print(l[4])
print(l[2:5])
lproxy = manager.list()
lproxy.append({})
d = lproxy[0]
d['a'] = 1
d['b'] = 2
lproxy[0] = d
print(lproxy)
manager.shutdown()
'''),
    ('connection.wait', True, '''
from multiprocessing import Process, Pipe, current_process
from multiprocessing.connection import wait

def foo(w):
    for i in range(10):
        w.send((i, current_process().name))
    w.close()

if __name__ == '__main__':
    readers = []

    for i in range(4):
        r, w = Pipe(duplex=False)
        readers.append(r)
        p = Process(target=foo, args=(w,))
        p.start()
        # We close the writable end of the pipe now to be sure that
        # p is the only process which owns a handle for it.  This
        # ensures that when p closes its handle for the writable end,
        # wait() will promptly report the readable end as being ready.
        w.close()

    while readers:
        for r in wait(readers):
            try:
                msg = r.recv()
            except EOFError:
                readers.remove(r)
            else:
                print(msg)
'''),
    ('queues of tasks (mp_workers)', True, '''
import time
import random

from multiprocessing import Process, Queue, current_process, freeze_support

def worker(input, output):
    for func, args in iter(input.get, 'STOP'):
        result = calculate(func, args)
        output.put(result)

def calculate(func, args):
    result = func(*args)
    return '%s says that %s%s = %s' % \\
        (current_process().name, func.__name__, args, result)

def mul(a, b):
    time.sleep(0.05*random.random())
    return a * b

def plus(a, b):
    time.sleep(0.05*random.random())
    return a + b

def test():
    NUMBER_OF_PROCESSES = 4
    TASKS1 = [(mul, (i, 7)) for i in range(20)]
    TASKS2 = [(plus, (i, 8)) for i in range(10)]

    task_queue = Queue()
    done_queue = Queue()

    for task in TASKS1:
        task_queue.put(task)

    for i in range(NUMBER_OF_PROCESSES):
        Process(target=worker, args=(task_queue, done_queue)).start()

    print('Unordered results:')
    for i in range(len(TASKS1)):
        print('\\t', done_queue.get())

    for task in TASKS2:
        task_queue.put(task)

    for i in range(len(TASKS2)):
        print('\\t', done_queue.get())

    for i in range(NUMBER_OF_PROCESSES):
        task_queue.put('STOP')

if __name__ == '__main__':
    freeze_support()
    test()
'''),
]

# The listener and the client of the documentation, one thread each (they
# are two programs there); PORT is a free port of this run.
EXAMPLES.append(('Listener and Client', True, '''
from multiprocessing.connection import Listener, Client
from array import array
import threading

address = ('localhost', PORT)     # family is deduced to be 'AF_INET'

def serve(listener):
    with listener.accept() as conn:
        print('connection accepted from', listener.last_accepted)
        conn.send([2.25, None, 'junk', float])
        conn.send_bytes(b'hello')
        conn.send_bytes(array('i', [42, 1729]))

with Listener(address, authkey=b'secret password') as listener:
    server = threading.Thread(target=serve, args=(listener,))
    server.start()

    with Client(address, authkey=b'secret password') as conn:
        print(conn.recv())                  # => [2.25, None, 'junk', float]
        print(conn.recv_bytes())            # => 'hello'
        arr = array('i', [0, 0, 0, 0, 0])
        print(conn.recv_bytes_into(arr))    # => 8
        print(arr)                          # => array('i', [42, 1729, 0, 0, 0])
    server.join()
'''))

# logging: what reaches stderr is compared (its lines of the main process:
# the manager's INFO lines are multiprocessing's own).
EXAMPLES.append(('logging', False, '''
import multiprocessing, logging
logger = multiprocessing.log_to_stderr()
logger.setLevel(logging.INFO)
logger.warning('doomed')
m = multiprocessing.Manager()
del m
'''))
STDERR_LINES = {'logging': r'^\[WARNING/MainProcess\] '}

# Documentation examples that cannot run with only the import changed, and why.
CANNOT = [
    ('BaseManager.register of a custom class (MathsClass, remote QueueManager)',
     'the manager server is the C library: it serves dicts, lists and namespaces, '
     'not arbitrary Python classes'),
    ('customized managers and proxies (mp_newtype)', 'same: custom proxy types'),
    ('nested proxies (a list proxy appended to a list proxy)', 'proxies are not values'),
]


def normalize(text, sort):
    text = re.sub(r'0x[0-9a-f]+', '0xADDR', text)
    text = re.sub(r'\b\d{3,7}\b', 'N', text)
    text = re.sub(r"(Fork|Spawn|Forkserver)?Process-[\d:]+", 'Process-N', text)
    text = re.sub(r"Process-N", 'Process-N', text)
    lines = text.splitlines()
    return sorted(lines) if sort else lines


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('localhost', 0))
        return s.getsockname()[1]


def run(body, header, workdir, name):
    path = os.path.join(workdir, name + '.py')
    with open(path, 'w') as f:
        f.write(header + body.replace('PORT', str(free_port())))
    proc = subprocess.run([sys.executable, path], capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=workdir)
    return proc.returncode, proc.stdout, proc.stderr


def main():
    print(f'1..{len(EXAMPLES)}', flush=True)
    passed = 0
    with tempfile.TemporaryDirectory(prefix='mp-docs-') as workdir:
        for i, (name, sort, body) in enumerate(EXAMPLES, 1):
            slug = re.sub(r'\W+', '_', name)
            py = run(body, '', workdir, 'py_' + slug)
            # only the import changed: "multiprocessing" resolves to Mproc
            ours_body = re.sub(r'from multiprocessing.connection import ([\w, ]+)',
                               lambda m: '\n'.join(f'{n.strip()} = multiprocessing.connection.{n.strip()}'
                                                   for n in m.group(1).split(',')), body)
            ours_body = ours_body.replace('import multiprocessing, logging', 'import logging')
            ours_body = ours_body.replace('import multiprocessing as mp\n', '')
            ours_body = ours_body.replace('import multiprocessing, time, signal',
                                          'import time, signal')
            ours_body = re.sub(r'from multiprocessing import ([\w, ]+)',
                               lambda m: '\n'.join(f'{n.strip()} = multiprocessing.{n.strip()}'
                                                   for n in m.group(1).split(',')), ours_body)
            header = MP + ('mp = multiprocessing\n' if 'mp.' in body else '')
            ours = run(ours_body, header, workdir, 'ours_' + slug)
            ok = py[0] == ours[0] == 0 and normalize(py[1], sort) == normalize(ours[1], sort)
            if name in STDERR_LINES:
                def picked(err):
                    return [line for line in err.splitlines() if re.match(STDERR_LINES[name], line)]
                ok = ok and picked(py[2]) == picked(ours[2]) != []
            passed += ok
            detail = '' if ok else f' # python {py[0]} {py[1][-200:]!r} ours {ours[0]} ' \
                                   f'{ours[1][-200:]!r} {ours[2][-400:]!r}'
            print(f"{'ok' if ok else 'not ok'} {i} {name}{detail}", flush=True)
    print(f'# {passed} of {len(EXAMPLES) + len(CANNOT)} documentation examples run with only '
          f'the import changed; {len(CANNOT)} cannot:', flush=True)
    for name, why in CANNOT:
        print(f'#   {name}: {why}')
    return 0 if passed == len(EXAMPLES) else 1


if __name__ == '__main__':
    sys.exit(main())
