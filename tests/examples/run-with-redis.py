#!/usr/bin/env python3
# Runs a command (an example's checker) with MPROC_MANAGER_URI pointing at a
# redis-server started here, so that the example's manager keeps its objects
# in Redis with the example itself unchanged; then checks that they really
# went there, and stops the server by its pid.
#
#   run-with-redis.py COMMAND [ARG…]
#
# Exits 77 (skipped) when redis-server is not installed.

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def command(sock_path, *words):
    """Sends one command over RESP and returns the first reply line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock_path)
        out = f'*{len(words)}\r\n' + ''.join(f'${len(w.encode())}\r\n{w}\r\n' for w in words)
        s.sendall(out.encode())
        reply = b''
        while not reply.endswith(b'\r\n'):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply.decode().split('\r\n', 1)[0]


def main():
    server = shutil.which('redis-server')
    if server is None:
        print('1..0 # SKIP redis-server is not installed')
        return 77
    with tempfile.TemporaryDirectory(prefix='mproc-redis-example-') as tmp:
        sock_path = os.path.join(tmp, 'r.sock')
        redis = subprocess.Popen([server, '--port', '0', '--unixsocket', sock_path,
                                  '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
                                  '--dir', tmp, '--daemonize', 'no', '--loglevel', 'warning'],
                                 stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if command(sock_path, 'PING') == '+PONG':
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or redis.poll() is not None:
                    print('# redis-server did not answer PING')
                    return 1
                time.sleep(0.02)

            env = dict(os.environ, MPROC_MANAGER_URI=f'unix:{sock_path}?prefix=example')
            status = subprocess.run(sys.argv[1:], env=env, check=False).returncode
            if status != 0:
                return status

            # the example's objects were made in Redis, not in a server of its own
            keys = command(sock_path, 'DBSIZE')
            if not keys.startswith(':') or int(keys[1:]) == 0:
                print(f'# FAIL: nothing was written to Redis (DBSIZE {keys})')
                return 1
            print(f'# the example ran against Redis ({keys[1:]} keys)')
            return 0
        finally:
            redis.send_signal(signal.SIGTERM)
            try:
                redis.wait(10)
            except subprocess.TimeoutExpired:
                redis.kill()
                redis.wait()


if __name__ == '__main__':
    sys.exit(main())
