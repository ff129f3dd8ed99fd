#!/usr/bin/python3
"""bench/scale.py - the scale_* series of bench-scale.c, with Python and peers.

    /usr/bin/python3 bench/scale.py [--quick] [--reps N] [--pin] [--only NAME]... [--list]

Runs the workloads described at the top of bench/bench-scale.c (the
definitions that count, same N, same start and stop of the clock) with
Python's multiprocessing (fork context), printing "<series>@<x>", and,
where a user would pick something else, with that peer, printing
"peer_<system>_<series>@<x>" (the anchors' naming):

  pyzmq  scale_queue_size: PUSH (producer child) / PULL (parent) over a
         fresh ipc:// per repetition, 64 MiB messages with copy=False, as
         ../shared/anchors/peers_py.py does for queue_large_1mib;
  cf     scale_pool_map_items, scale_pool_map_chunksize:
         concurrent.futures.ProcessPoolExecutor(2, fork), map with the same
         chunksize as Pool.map.

A peer whose module is missing is skipped with a message on stderr.  One
JSON line per point on stdout (the anchors' fields); like bench-scale.c, a
point stops repeating once its repetitions took BUDGET seconds (at least
one timed repetition).  --only NAME keeps the series whose name (with or
without peer_<system>_) starts with NAME.
"""

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time

clock = time.perf_counter   # CLOCK_MONOTONIC, comparable across processes
BUDGET = 3.0
MIB = 1 << 20
CTX = mp.get_context('fork')
_PIN_CPUS = None
_SCALE = 1.0


def double(x):
    return 2 * x


def noop():
    pass


def _pin(slot):
    if _PIN_CPUS:
        os.sched_setaffinity(0, {_PIN_CPUS[(slot + 1) % len(_PIN_CPUS)]})


def _scale(n, minimum):
    return max(minimum, int(n * _SCALE))


class Gate:
    """The anchors' start gate: children announce themselves, busy-wait."""

    def __init__(self, parties):
        self.parties = parties
        self._ready = CTX.Semaphore(0)
        self._go = CTX.Value('i', 0, lock=False)

    def child_wait(self):
        self._ready.release()
        while not self._go.value:
            pass

    def parent_open(self):
        for _ in range(self.parties):
            self._ready.acquire()
        t0 = clock()
        self._go.value = 1
        return t0


def _check(*procs):
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f'child exited with {p.exitcode}')


def emit(metric, unit, n, samples):
    f = lambda x: float(f'{x:.6g}')
    print(json.dumps({'metric': metric, 'value': f(statistics.median(samples)), 'unit': unit,
                      'n': n, 'reps': len(samples), 'min': f(min(samples)),
                      'max': f(max(samples)), 'samples': [f(s) for s in samples]}), flush=True)


def point(metric, unit, n, once, reps):
    once()
    samples, spent = [], 0.0
    while len(samples) < reps and (not samples or spent < BUDGET):
        t0 = clock()
        samples.append(once())
        spent += clock() - t0
    emit(metric, unit, n, samples)


# ---- scale_queue_size ------------------------------------------------------

SIZES = [8, 64, 512, 4096, 32768, 262144, MIB, 8 * MIB, 64 * MIB]


def queue_size_n(size):
    return _scale(min(50000, max(4, 128 * MIB // size)), 4)


def _size_producer(q, gate, n, size):
    _pin(0)
    payload = b'\x5a' * size
    gate.child_wait()
    for _ in range(n):
        q.put(payload)


def mp_queue_size(reps):
    for size in SIZES:
        n = queue_size_n(size)

        def once():
            q = CTX.Queue()
            gate = Gate(1)
            p = CTX.Process(target=_size_producer, args=(q, gate, n, size))
            p.start()
            t0 = gate.parent_open()
            for _ in range(n):
                if len(q.get()) != size:
                    raise AssertionError('scale_queue_size: wrong length')
            dt = clock() - t0
            _check(p)
            return n * size / dt / 1e6
        point(f'scale_queue_size@{size}', 'MB/s', n, once, reps)


def _zmq_producer(addr, gate, n, size):
    import zmq
    _pin(0)
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(addr)
    s.send(b'hello')
    payload = b'\x5a' * size
    copy = size < MIB
    gate.child_wait()
    for _ in range(n):
        s.send(payload, copy=copy)
    gate._ready.acquire()           # stay until the parent has everything
    s.close(linger=-1)
    ctx.term()


def pyzmq_queue_size(reps):
    import zmq
    tmp = tempfile.mkdtemp(prefix='scale_py.')
    count = [0]
    for size in SIZES:
        n = queue_size_n(size)

        def once():
            count[0] += 1
            addr = f'ipc://{tmp}/{count[0]}.ipc'
            ctx = zmq.Context()
            s = ctx.socket(zmq.PULL)
            s.bind(addr)
            gate = Gate(1)
            p = CTX.Process(target=_zmq_producer, args=(addr, gate, n, size))
            p.start()
            s.recv()
            copy = size < MIB
            t0 = gate.parent_open()
            for _ in range(n):
                m = s.recv(copy=copy)
                if len(m) != size:
                    raise AssertionError('peer scale_queue_size: wrong length')
            dt = clock() - t0
            gate._ready.release()
            _check(p)
            s.close()
            ctx.term()
            return n * size / dt / 1e6
        point(f'peer_pyzmq_scale_queue_size@{size}', 'MB/s', n, once, reps)


# ---- scale_queue_pc --------------------------------------------------------

PCS = [(1, 1), (1, 4), (4, 1), (2, 2), (3, 3), (4, 4)]


def _pc_producer(q, gate, start, count, slot):
    _pin(slot)
    gate.child_wait()
    for i in range(start, start + count):
        q.put(i)


def _pc_consumer(q, gate, k, slot, shared):
    _pin(slot)
    gate.child_wait()
    count, last = 0, 0.0
    while True:
        if q.get() < 0:
            break
        count += 1
        last = clock()
    shared[2 * k] = count
    shared[2 * k + 1] = last


def mp_queue_pc(reps):
    n = _scale(200000, 1000)
    for p_, c in PCS:
        def once():
            q = CTX.Queue()
            gate = Gate(p_ + c)
            shared = CTX.RawArray('d', 2 * c)
            producers = [CTX.Process(target=_pc_producer,
                                     args=(q, gate, n * i // p_, n * (i + 1) // p_ - n * i // p_, i))
                         for i in range(p_)]
            consumers = [CTX.Process(target=_pc_consumer, args=(q, gate, k, p_ + k, shared))
                         for k in range(c)]
            for x in producers + consumers:
                x.start()
            t0 = gate.parent_open()
            _check(*producers)
            for _ in range(c):
                q.put(-1)
            _check(*consumers)
            total = sum(shared[2 * k] for k in range(c))
            if total != n:
                raise AssertionError(f'scale_queue_pc: {total} of {n}')
            return n / (max(shared[2 * k + 1] for k in range(c)) - t0)
        point(f'scale_queue_pc@{p_}x{c}', 'msg/s', n, once, reps)


# ---- scale_pool_map_items / _chunksize ------------------------------------

ITEMS = [10 ** e for e in range(3, 8)]
CHUNKSIZES = [1, 4, 16, 64, 256, 1024, 2500]


def _default_chunksize(n):
    chunksize, extra = divmod(n, 4 * 2)
    return chunksize + 1 if extra else chunksize


def _pin_workers(pids):
    if _PIN_CPUS:
        for slot, pid in enumerate(sorted(pids)):
            os.sched_setaffinity(pid, {_PIN_CPUS[(slot + 1) % len(_PIN_CPUS)]})


def _map_series(series, system, reps, points):
    """points: (x, n, chunksize or None)."""
    for x, n, chunksize in points:
        if system == 'mp':
            pool = CTX.Pool(2)
            pool.map(double, range(100))
            _pin_workers(w.pid for w in pool._pool)
            run = lambda: pool.map(double, range(n), chunksize)
            prefix = ''
        else:
            from concurrent.futures import ProcessPoolExecutor
            pool = ProcessPoolExecutor(2, mp_context=CTX)
            list(pool.map(double, range(100)))
            _pin_workers(pool._processes)
            cs = chunksize or _default_chunksize(n)
            run = lambda: list(pool.map(double, range(n), chunksize=cs))
            prefix = f'peer_{system}_'

        def once():
            t0 = clock()
            result = run()
            dt = clock() - t0
            if len(result) != n or result[-1] != 2 * (n - 1) or result[n // 2] != 2 * (n // 2):
                raise AssertionError(f'{series}: wrong result')
            return n / dt
        point(f'{prefix}{series}@{x}', 'tasks/s', n, once, reps)
        if system == 'mp':
            pool.close()
            pool.join()
        else:
            pool.shutdown(wait=True)


def map_items(system):
    return lambda reps: _map_series('scale_pool_map_items', system, reps,
                                    [(n, _scale(n, 100), None) for n in ITEMS])


def map_chunksize(system):
    return lambda reps: _map_series('scale_pool_map_chunksize', system, reps,
                                    [(k, _scale(20000, 100), k) for k in CHUNKSIZES])


# ---- scale_manager_clients -------------------------------------------------

def _manager_client(d, gate, k, m, shared):
    _pin(k)
    len(d)
    gate.child_wait()
    for i in range(k * m, (k + 1) * m):
        d[i] = i
    shared[k] = clock()


def mp_manager_clients(reps):
    m = _scale(2000, 100)
    with CTX.Manager() as manager:
        for c in (1, 2, 4, 8, 16):
            def once():
                d = manager.dict()
                gate = Gate(c)
                shared = CTX.RawArray('d', c)
                clients = [CTX.Process(target=_manager_client, args=(d, gate, k, m, shared))
                           for k in range(c)]
                for x in clients:
                    x.start()
                t0 = gate.parent_open()
                _check(*clients)
                if len(d) != c * m:
                    raise AssertionError('scale_manager_clients: wrong size')
                return c * m / (max(shared) - t0)
            point(f'scale_manager_clients@{c}', 'ops/s', c * m, once, reps)


# ---- scale_process_burst ---------------------------------------------------

def mp_process_burst(reps):
    for k in (1, 4, 16, 64):
        def once():
            t0 = clock()
            procs = [CTX.Process(target=noop) for _ in range(k)]
            for p in procs:
                p.start()
            _check(*procs)
            return (clock() - t0) / k * 1e3
        point(f'scale_process_burst@{k}', 'ms', k, once, reps)


SERIES = [
    ('mp', 'scale_queue_size', mp_queue_size),
    ('pyzmq', 'scale_queue_size', pyzmq_queue_size),
    ('mp', 'scale_queue_pc', mp_queue_pc),
    ('mp', 'scale_pool_map_items', map_items('mp')),
    ('cf', 'scale_pool_map_items', map_items('cf')),
    ('mp', 'scale_pool_map_chunksize', map_chunksize('mp')),
    ('cf', 'scale_pool_map_chunksize', map_chunksize('cf')),
    ('mp', 'scale_manager_clients', mp_manager_clients),
    ('mp', 'scale_process_burst', mp_process_burst),
]


def main():
    global _PIN_CPUS, _SCALE
    ap = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--pin', action='store_true')
    ap.add_argument('--only', action='append', default=[])
    ap.add_argument('--list', action='store_true')
    args = ap.parse_args()
    names = [(s, name if s == 'mp' else f'peer_{s}_{name}', fn) for s, name, fn in SERIES]
    if args.list:
        for _, full, _ in names:
            print(full)
        return 0
    if args.quick:
        _SCALE = 0.1
    if args.pin:
        _PIN_CPUS = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {_PIN_CPUS[0]})
    status = 0
    for system, full, fn in names:
        bare = full if system == 'mp' else full[len(f'peer_{system}_'):]
        if args.only and not any(full.startswith(o) or bare.startswith(o) for o in args.only):
            continue
        if system == 'pyzmq':
            try:
                import zmq  # noqa: F401
            except ImportError:
                print(f'scale.py: no pyzmq, {full} skipped', file=sys.stderr)
                status = 1
                continue
        fn(args.reps)
    return status


if __name__ == '__main__':
    sys.exit(main())
