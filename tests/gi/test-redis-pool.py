#!/usr/bin/python3
# The pool on Redis from Python, and the seed's Pool example (§10) in C and
# Python with its workers started on their own (mproc-worker), by setting
# MPROC_POOL_URI.  A redis-server of its own on a unix socket.
#
#   test-redis-pool.py MPROC_WORKER MODULES_DIR EXAMPLE_POOL POOL_PY
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402

worker_exe, modules_dir, example_c, example_py = sys.argv[1:5]
n_tests = 0


def ok(name):
    global n_tests
    n_tests += 1
    print(f'ok {n_tests} {name}', flush=True)


def start_redis(folder):
    sock = os.path.join(folder, 'r.sock')
    proc = subprocess.Popen(['redis-server', '--port', '0', '--unixsocket', sock, '--unixsocketperm', '700',
                             '--save', '', '--appendonly', 'no', '--dir', folder],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = subprocess.run(['redis-cli', '-s', sock, 'PING'], capture_output=True, text=True)
        if r.stdout.strip() == 'PONG':
            return proc, f'unix:{sock}'
        time.sleep(0.02)
    raise RuntimeError('redis-server did not start')


def main():
    if shutil.which('redis-server') is None:
        print('1..0 # SKIP redis-server is not installed')
        return
    Mproc.init()
    folder = tempfile.mkdtemp(prefix='mproc-gi-redis-pool-')
    server, uri = start_redis(folder)
    worker = subprocess.Popen([worker_exe, '--uri', uri, '--pool', 'pool-example', '-j', '2',
                               '-m', modules_dir, '--host', 'gi-host'])
    try:
        pool = Mproc.Pool.new_for_uri(uri, 'pool-example', None)
        assert isinstance(pool, Mproc.Pool)
        assert pool.map('do_calculation', range(100)) == [2 * i for i in range(100)]
        assert pool.apply('do_calculation', 21) == 42
        ok('map and apply through the overrides')

        workers = pool.list_workers(None).unpack()
        assert len(workers) == 1, workers
        name, host, pid, targets, started, processes, lease_ms = workers[0]
        assert host == 'gi-host' and pid == worker.pid and processes == 2, workers
        assert 'do_calculation' in targets and 0 < lease_ms <= 5000, workers
        ok('list_workers')

        try:
            pool.apply('no-such-target', 1)
            raise AssertionError('an unknown target did not fail')
        except GLib.Error as e:
            assert e.matches(Mproc.Error.quark(), Mproc.Error.UNKNOWN_TARGET), e
        ok('errors are GLib.Error')

        loop = GLib.MainLoop()
        got = {}

        def done(source, result, *data):
            got['value'] = source.map_finish(result)
            loop.quit()

        pool.map_async('do_calculation', range(1000), 50, None, None, done,
                       progress=lambda n_done, n_items, *data: got.setdefault('progress', []).append(n_done))
        GLib.timeout_add_seconds(30, loop.quit)
        loop.run()
        assert got['value'] == [2 * i for i in range(1000)], got
        assert got['progress'][-1] == 1000
        ok('map_async with progress on the main loop')

        def opened(source, result, *data):
            got['pool'] = Mproc.Pool.new_for_uri_finish(result)
            loop.quit()

        Mproc.Pool.new_for_uri_async(uri, 'pool-example', None, opened)
        loop.run()
        assert got['pool'].apply('do_calculation', 5) == 10
        got['pool'].close()
        assert got['pool'].join(10)
        ok('new_for_uri_async')

        pool.close()
        assert pool.join(10)
        del pool

        env = dict(os.environ, MPROC_POOL_URI=uri)
        for program in ([example_c], ['/usr/bin/python3', example_py]):
            out = subprocess.run(program, env=env, capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            lines = out.stdout.splitlines()
            assert lines[0] == 'Input   : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]', lines
            assert lines[-1] == 'Pool    : [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]', lines
            ok(f'the seed\'s Pool example on mproc-worker: {os.path.basename(program[-1])}')
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(timeout=30) == 0
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            raise
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)
    print(f'1..{n_tests}', flush=True)


main()
