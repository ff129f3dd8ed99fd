#!/usr/bin/python3
# The seed's §10: Pool.map against the built-in map, with an initializer
# printing once in each worker (the later version of the example).
# With MPROC_POOL_URI set, the tasks go to the pool "pool-example" on that
# Redis server, served by mproc-worker on any host (see examples/pool.c).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


# named as examples/pool.c names it, so that mproc-worker's module
# (examples/pool-worker) serves it too
@Mproc.register_task('do_calculation')
def do_calculation(data):
    return data * 2


@Mproc.register_task
def start_process(initargs):
    print(f'Starting {Mproc.current_process().get_name()}', flush=True)


if __name__ == '__main__':
    Mproc.init()
    inputs = list(range(10))
    print(f'Input   : {inputs}', flush=True)

    builtin_outputs = list(map(lambda x: x * 2, inputs))
    print(f'Built-in: {builtin_outputs}', flush=True)

    uri = os.environ.get('MPROC_POOL_URI')
    if uri:
        pool = Mproc.Pool.new_for_uri(uri, 'pool-example', None)
    else:
        pool_size = Mproc.cpu_count() * 2
        pool = Mproc.Pool(processes=pool_size, initializer=start_process)
    pool_outputs = pool.map(do_calculation, inputs)
    pool.close()  # no more tasks
    pool.join()   # wrap up current tasks

    print(f'Pool    : {pool_outputs}', flush=True)
