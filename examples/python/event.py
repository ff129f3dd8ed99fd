#!/usr/bin/python3
# The seed's §3: an Event waited on with and without a timeout.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


@Mproc.register_target
def wait_for_event(e):
    """Wait for the event to be set before doing anything"""
    print('wait_for_event: starting', flush=True)
    e.wait()
    print(f'wait_for_event: e.is_set()-> {e.is_set()}', flush=True)


@Mproc.register_target
def wait_for_event_timeout(e, t):
    """Wait t seconds and then timeout"""
    print('wait_for_event_timeout: starting', flush=True)
    e.wait(t)
    print(f'wait_for_event_timeout: e.is_set()-> {e.is_set()}', flush=True)


if __name__ == '__main__':
    Mproc.init()
    e = Mproc.Event()
    w1 = Mproc.Process(name='block', target=wait_for_event, args=(e,))
    w1.start()

    w2 = Mproc.Process(name='non-block', target=wait_for_event_timeout, args=(e, 2))
    w2.start()

    print('main: waiting before calling Event.set()', flush=True)
    time.sleep(3)
    e.set()
    print('main: event is set', flush=True)
    # no join: children are joined at exit, as in Python
