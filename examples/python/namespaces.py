#!/usr/bin/python3
# The seed's §8: a value set on a shared Namespace is seen by every process.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402


@Mproc.register_target
def producer(ns, event):
    ns.set('value', 'This is the value')
    event.set()


@Mproc.register_target
def consumer(ns, event):
    try:
        value = ns.get('value')
    except GLib.Error as err:
        print('Before event, consumer got:', err.message, flush=True)
    else:
        print('Before event, consumer got:', value, flush=True)
    event.wait()
    print('After event, consumer got:', ns.get('value'), flush=True)


if __name__ == '__main__':
    Mproc.init()
    with Mproc.Manager() as mgr:
        namespace = mgr.Namespace()
        event = Mproc.Event()
        p = Mproc.Process(target=producer, args=(namespace, event))
        c = Mproc.Process(target=consumer, args=(namespace, event))

        c.start()
        p.start()

        c.join()
        p.join()
