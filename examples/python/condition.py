#!/usr/bin/python3
# The seed's §5: a two-stage workflow synchronised by a Condition.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


@Mproc.register_target
def stage_1(cond):
    """perform first stage of work, then notify stage_2 to continue"""
    name = Mproc.current_process().get_name()
    print(f'Starting {name}', flush=True)
    with cond:
        print(f'{name} done and ready for stage 2', flush=True)
        cond.notify_all()


@Mproc.register_target
def stage_2(cond):
    """wait for the condition telling us stage_1 is done"""
    name = Mproc.current_process().get_name()
    print(f'Starting {name}', flush=True)
    with cond:
        cond.wait()
        print(f'{name} running', flush=True)


if __name__ == '__main__':
    Mproc.init()
    condition = Mproc.Condition()
    s1 = Mproc.Process(name='s1', target=stage_1, args=(condition,))
    s2_clients = [
        Mproc.Process(name=f'stage_2[{i}]', target=stage_2, args=(condition,))
        for i in range(1, 3)
    ]

    for c in s2_clients:
        c.start()
        time.sleep(1)
    s1.start()

    s1.join()
    for c in s2_clients:
        c.join()
