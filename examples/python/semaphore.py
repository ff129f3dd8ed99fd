#!/usr/bin/python3
# The seed's §6: a Semaphore(3) lets at most three workers run at once.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import random
import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


class ActivePool:
    """The names of the active workers, in a manager's list, under a lock.
    It crosses to a child as its two shared objects."""

    def __init__(self, active, lock):
        self.active = active
        self.lock = lock

    def make_active(self, name):
        with self.lock:
            self.active.append(name)

    def make_inactive(self, name):
        with self.lock:
            self.active.remove(name)

    def __str__(self):
        with self.lock:
            return str(self.active.copy())


@Mproc.register_target
def worker(s, active, lock):
    pool = ActivePool(active, lock)
    name = Mproc.current_process().get_name()
    with s:
        pool.make_active(name)
        print(f'Now running: {pool}', flush=True)
        time.sleep(random.random())
        pool.make_inactive(name)


if __name__ == '__main__':
    Mproc.init()
    with Mproc.Manager() as manager:
        pool = ActivePool(manager.list(), Mproc.Lock())
        s = Mproc.Semaphore(3)
        jobs = [
            Mproc.Process(target=worker, name=str(i), args=(s, pool.active, pool.lock))
            for i in range(10)
        ]

        for j in jobs:
            j.start()

        for j in jobs:
            j.join()
            print(f'Now running: {pool}', flush=True)
