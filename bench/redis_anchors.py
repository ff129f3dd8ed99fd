#!/usr/bin/python3
"""Anchors of the redis_* rows (bench/bench-redis.c), in the anchors' JSON.

  redis_anchors.py --side raw|py [--only PREFIX] [--quick] [--reps N]

raw: redis-benchmark and the hiredis queue patterns of
../shared/distributed-bench/qbench.c against a redis-server started here
(unix socket and a random loopback port, nothing saved), stopped by pid.
py: Python's own "beyond one machine", a BaseManager over TCP loopback.
peers: the task queues a Python user would pick for the redis_pool_* rows,
RQ and Celery (Debian's python3-rq, python3-celery), on a redis-server of
their own, as peer_<system>_<metric> lines.
Names: raw_<metric> and <metric>, paired by bench/table.py.  Also prints
the plain redis-benchmark figures (raw_redis_bench_*), for the report.
"""

import argparse
import csv
import io
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing.managers import BaseManager, DictProxy

HERE = os.path.dirname(os.path.abspath(__file__))
QBENCH = os.path.join(HERE, '..', '..', 'shared', 'distributed-bench', 'qbench.c')


def emit(metric, unit, n, samples):
    print(json.dumps({'metric': metric, 'value': statistics.median(samples), 'unit': unit,
                      'n': n, 'reps': len(samples), 'min': min(samples), 'max': max(samples),
                      'samples': samples}), flush=True)


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='mproc-anchor-redis-')
        self.sock = os.path.join(self.dir, 'r.sock')
        for _ in range(20):
            self.port = random.randint(20000, 60000)
            self.proc = subprocess.Popen(
                ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1',
                 '--unixsocket', self.sock, '--unixsocketperm', '700', '--save', '',
                 '--appendonly', 'no', '--dir', self.dir],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                r = subprocess.run(['redis-cli', '-s', self.sock, 'PING'], capture_output=True, text=True)
                if r.stdout.strip() == 'PONG':
                    return
                time.sleep(0.02)
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError('redis-server did not start')

    def stop(self):
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench_rps(server, args):
    out = subprocess.run(['redis-benchmark', '-s', server.sock, '--csv'] + args,
                         capture_output=True, text=True, timeout=300).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return {r[0]: float(r[1]) for r in rows[1:] if len(r) > 1}


def side_raw(only, scale, reps):
    server = Server()
    try:
        def want(m):
            return not only or any(m.startswith(o) or o.startswith(m) for o in only)
        n = max(20000 // scale, 1000)
        if want('redis_dict'):
            emit('raw_redis_dict_set', 'ops/s', 100000, [bench_rps(server, ['-c', '1', '-P', '16', '-n', '100000', '-t', 'set'])['SET'] for _ in range(reps)])
            emit('raw_redis_dict_get', 'ops/s', n, [bench_rps(server, ['-c', '1', '-n', str(n), '-t', 'get'])['GET'] for _ in range(reps)])
            emit('raw_redis_dict_update_10k', 'ops/s', 100000, [bench_rps(server, ['-P', '16', '-n', '100000', '-t', 'set'])['SET'] for _ in range(reps)])
            for p in (1, 16):
                r = bench_rps(server, ['-P', str(p), '-n', '100000', '-t', 'set,get,lpush'])
                for t, v in r.items():
                    emit(f'raw_redis_bench_{t.lower()}_p{p}', 'ops/s', 100000, [v])
        if want('redis_queue'):
            exe = os.path.join(tempfile.gettempdir(), f'mproc-qbench-{os.getpid()}')
            cflags = subprocess.run(['pkg-config', '--cflags', '--libs', 'hiredis'], capture_output=True, text=True).stdout.split()
            subprocess.run(['cc', '-O2', '-o', exe, QBENCH] + cflags, check=True)
            try:
                samples = []
                for _ in range(reps):
                    out = subprocess.run([exe, str(server.port), 'list', str(n), '1'], capture_output=True, text=True, timeout=300).stdout
                    samples.append(json.loads(out.strip().splitlines()[-1])['msgs_per_s'])
                emit('raw_redis_queue_small', 'msgs/s', n, samples)
                out = subprocess.run([exe, str(server.port), 'list', str(n * 10), '100'], capture_output=True, text=True, timeout=300).stdout
                emit('raw_redis_queue_batched', 'msgs/s', n * 10, [json.loads(out.strip().splitlines()[-1])['msgs_per_s']])
            finally:
                os.unlink(exe)
        if want('redis_lock'):
            samples = [1e6 / bench_rps(server, ['-c', '1', '-n', str(n), '-t', 'ping'])['PING_INLINE'] for _ in range(reps)]
            emit('raw_redis_lock_rtt', 'us', n, samples)
        if want('redis_pool'):
            exe = os.path.join(tempfile.gettempdir(), f'mproc-qbench-{os.getpid()}')
            cflags = subprocess.run(['pkg-config', '--cflags', '--libs', 'hiredis'], capture_output=True, text=True).stdout.split()
            subprocess.run(['cc', '-O2', '-o', exe, QBENCH] + cflags, check=True)
            try:
                if want('redis_pool_apply_rtt'):
                    # a request on one list, its reply on another: the floor of apply()
                    samples = []
                    for _ in range(reps):
                        out = subprocess.run([exe, str(server.port), 'rpc', str(n // 4)], capture_output=True, text=True, timeout=300).stdout
                        samples.append(json.loads(out.strip().splitlines()[-1])['round_trip_us'])
                    emit('raw_redis_pool_apply_rtt', 'us', n // 4, samples)
                if want('redis_pool_map_tiny'):
                    # pipelined XADD x100, XREADGROUP COUNT 100 + one XACK: a stream's best
                    m = max(100000 // scale, 10000)
                    samples = []
                    for _ in range(reps):
                        out = subprocess.run([exe, str(server.port), 'stream', str(m), '100'], capture_output=True, text=True, timeout=300).stdout
                        samples.append(json.loads(out.strip().splitlines()[-1])['msgs_per_s'])
                    emit('raw_redis_pool_map_tiny', 'items/s', m, samples)
            finally:
                os.unlink(exe)
    finally:
        server.stop()


RQ_TASKS = """
def noop(x):
    return x
"""

CELERY_TASKS = """
import os
from celery import Celery
port = int(os.environ['RB_PORT'])
app = Celery('ctasks', broker=f'redis://127.0.0.1:{port}/4', backend=f'redis://127.0.0.1:{port}/5')
app.conf.update(worker_prefetch_multiplier=4, task_acks_late=False, result_expires=600,
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
@app.task
def noop(x):
    return x
"""


def side_peers(only, scale, reps):
    """RQ (SimpleWorker, burst) and Celery (-P solo) against one redis-server."""
    def want(m):
        return not only or any(m.startswith(o) or o.startswith(m) for o in only)
    server = Server()
    tasks = tempfile.mkdtemp(prefix='mproc-anchor-tasks-')
    try:
        with open(os.path.join(tasks, 'rtasks.py'), 'w') as f:
            f.write(RQ_TASKS)
        with open(os.path.join(tasks, 'ctasks.py'), 'w') as f:
            f.write(CELERY_TASKS)
        sys.path.insert(0, tasks)
        env = dict(os.environ, PYTHONPATH=tasks, RB_PORT=str(server.port))
        os.environ['RB_PORT'] = str(server.port)
        from redis import Redis

        if want('redis_pool_map_tiny'):
            from rq import Queue
            from rtasks import noop as rq_noop
            n = max(500 // scale, 100)
            r = Redis(host='127.0.0.1', port=server.port, db=3)
            samples = []
            for _ in range(reps):
                r.flushdb()
                q = Queue('bench', connection=r)
                t0 = time.monotonic()
                for i in range(n):
                    q.enqueue(rq_noop, i, result_ttl=600)
                subprocess.run(['/usr/bin/python3', '-m', 'rq.cli', 'worker', '--burst', '-q',
                                '-w', 'rq.worker.SimpleWorker', '-u', f'redis://127.0.0.1:{server.port}/3', 'bench'],
                               env=env, cwd=tasks, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=300)
                t1 = time.monotonic()
                if len(q.finished_job_registry) != n:
                    raise RuntimeError('rq: not every job finished')
                samples.append(n / (t1 - t0))
            emit('peer_rq_redis_pool_map_tiny', 'items/s', n, samples)

        if want('redis_pool_apply_rtt') or want('redis_pool_map_tiny'):
            for db in (4, 5):
                Redis(host='127.0.0.1', port=server.port, db=db).flushdb()
            from ctasks import noop as c_noop
            w = subprocess.Popen(['/usr/bin/python3', '-m', 'celery', '-A', 'ctasks', 'worker', '-P', 'solo', '-c', '1',
                                  '-l', 'ERROR', '--without-gossip', '--without-mingle', '--without-heartbeat'],
                                 env=env, cwd=tasks, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                c_noop.delay(0).get(timeout=60)   # the worker is up
                if want('redis_pool_apply_rtt'):
                    samples = []
                    for _ in range(reps):
                        lat = []
                        for i in range(200):
                            t = time.monotonic()
                            c_noop.delay(i).get(timeout=30)
                            lat.append((time.monotonic() - t) * 1e6)
                        samples.append(statistics.median(lat))
                    emit('peer_celery_redis_pool_apply_rtt', 'us', 200, samples)
                if want('redis_pool_map_tiny'):
                    n = max(2000 // scale, 200)
                    samples = []
                    for _ in range(reps):
                        t0 = time.monotonic()
                        rs = [c_noop.delay(i) for i in range(n)]
                        for x in rs:
                            x.get(timeout=120)
                        samples.append(n / (time.monotonic() - t0))
                        # results dropped while the server is up
                        del rs, x
                    emit('peer_celery_redis_pool_map_tiny', 'items/s', n, samples)
            finally:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
    finally:
        server.stop()
        shutil.rmtree(tasks, ignore_errors=True)


class M(BaseManager):
    pass


_queue = None
_dict = {}


def _get_queue():
    global _queue
    if _queue is None:
        import queue
        _queue = queue.Queue()
    return _queue


M.register('get_queue', callable=_get_queue)
M.register('get_dict', callable=lambda: _dict, proxytype=DictProxy)
M.register('Lock', callable=__import__('threading').Lock, proxytype=__import__('multiprocessing.managers').managers.AcquirerProxy)


def _client(port):
    class C(BaseManager):
        pass
    C.register('get_queue')
    C.register('get_dict', proxytype=DictProxy)
    C.register('Lock', proxytype=__import__('multiprocessing.managers').managers.AcquirerProxy)
    c = C(address=('127.0.0.1', port), authkey=b'bench-key')
    c.connect()
    return c


def _consumer(port, n, out):
    q = _client(port).get_queue()
    out.put('ready')
    for _ in range(n):
        q.get()
    out.put(time.monotonic())


def side_py(only, scale, reps):
    def want(m):
        return not only or any(m.startswith(o) or o.startswith(m) for o in only)
    n = max(20000 // scale, 1000)
    m = M(address=('127.0.0.1', 0), authkey=b'bench-key')
    m.start()
    try:
        c = _client(m.address[1])
        if want('redis_dict'):
            sets, gets = [], []
            for _ in range(reps):
                d = c.get_dict()
                t0 = time.monotonic()
                for i in range(n):
                    d[i] = i
                t1 = time.monotonic()
                for i in range(n):
                    if d[i] != i:
                        raise AssertionError('wrong value')
                t2 = time.monotonic()
                sets.append(n / (t1 - t0))
                gets.append(n / (t2 - t1))
                d.clear()
            emit('redis_dict_set', 'ops/s', n, sets)
            emit('redis_dict_get', 'ops/s', n, gets)
        if want('redis_queue'):
            samples = []
            for _ in range(reps):
                out = mp.Queue()
                p = mp.Process(target=_consumer, args=(m.address[1], n, out))
                p.start()
                out.get()
                q = c.get_queue()
                t0 = time.monotonic()
                for _ in range(n):
                    q.put(b'x' * 64)
                tend = out.get()
                p.join()
                samples.append(n / (tend - t0))
            emit('redis_queue_small', 'msgs/s', n, samples)
        if want('redis_lock'):
            lock = c.Lock()
            samples = []
            for _ in range(reps):
                each = []
                for _ in range(n // 4):
                    t0 = time.monotonic()
                    lock.acquire()
                    each.append((time.monotonic() - t0) * 1e6)
                    lock.release()
                samples.append(statistics.median(each))
            emit('redis_lock_rtt', 'us', n // 4, samples)
    finally:
        m.shutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--side', choices=['raw', 'py', 'peers'], required=True)
    ap.add_argument('--only', action='append', default=[])
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--pin', action='store_true')
    a = ap.parse_args()
    scale = 10 if a.quick else 1
    {'raw': side_raw, 'py': side_py, 'peers': side_peers}[a.side](a.only, scale, a.reps)


if __name__ == '__main__':
    main()
