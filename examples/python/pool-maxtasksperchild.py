#!/usr/bin/python3
# The later §10 variant: Pool.map with maxtasksperchild=2, so a worker is
# replaced after two tasks and the new one's initializer prints its name.
# With only 10 items nothing would be replaced: this maps 40, one per task.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import collections
import os

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402

N_ITEMS = 40
MAXTASKS = 2


@Mproc.register_task
def do_calculation(data):
    return (data * 2, os.getpid())


@Mproc.register_task
def start_process(initargs):
    print(f'Starting {Mproc.current_process().get_name()}', flush=True)


if __name__ == '__main__':
    Mproc.init()
    inputs = list(range(N_ITEMS))
    print(f'Input   : {inputs}', flush=True)

    pool_size = Mproc.cpu_count() * 2
    pool = Mproc.Pool(processes=pool_size, initializer=start_process,
                      maxtasksperchild=MAXTASKS)
    # chunksize 1: each item is one task, as maxtasksperchild counts tasks
    outputs = pool.map(do_calculation, inputs, chunksize=1)
    pool.close()
    pool.join()

    print(f'Pool    : {[x for x, _ in outputs]}', flush=True)
    per_pid = collections.Counter(pid for _, pid in outputs)
    print(f'Tasks   : {N_ITEMS}, maxtasksperchild {MAXTASKS}', flush=True)
    print(f'Workers : {len(per_pid)} ran tasks, at most {max(per_pid.values())} tasks each',
          flush=True)
