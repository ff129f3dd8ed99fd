#!/usr/bin/python3
# The seed's §4: a Lock guarding a shared stream, taken two ways.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


@Mproc.register_target
def worker_with(lock):
    with lock:
        sys.stdout.write('Lock acquired via with\n')
        sys.stdout.flush()


@Mproc.register_target
def worker_no_with(lock):
    lock.acquire()
    try:
        sys.stdout.write('Lock acquired directly\n')
        sys.stdout.flush()
    finally:
        lock.release()


if __name__ == '__main__':
    Mproc.init()
    lock = Mproc.Lock()
    w = Mproc.Process(target=worker_with, args=(lock,))
    nw = Mproc.Process(target=worker_no_with, args=(lock,))

    w.start()
    nw.start()

    w.join()
    nw.join()
