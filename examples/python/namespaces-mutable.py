#!/usr/bin/python3
# The seed's §9: changing a value read from a Namespace changes a copy only.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# To publish a changed list, set it on the namespace again.

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


@Mproc.register_target
def producer(ns, event):
    # DOES NOT UPDATE GLOBAL VALUE!
    my_list = ns.get('my_list')
    my_list.append('This is the value')
    event.set()


@Mproc.register_target
def consumer(ns, event):
    print('Before event, consumer got:', ns.get('my_list'), flush=True)
    event.wait()
    print('After event, consumer got:', ns.get('my_list'), flush=True)


if __name__ == '__main__':
    Mproc.init()
    with Mproc.Manager() as mgr:
        namespace = mgr.Namespace()
        namespace.set('my_list', [])
        event = Mproc.Event()
        p = Mproc.Process(target=producer, args=(namespace, event))
        c = Mproc.Process(target=consumer, args=(namespace, event))

        c.start()
        p.start()

        c.join()
        p.join()
