#!/usr/bin/python3
# The seed's §1: pass one object to one worker through a queue.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# No pickle: the object crosses as a GLib.Variant (its to_variant()) and the
# child rebuilds it and runs its own code on the copy.

import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402


class MyFancyClass:

    def __init__(self, name):
        self.name = name

    def do_something(self):
        proc_name = Mproc.current_process().get_name()
        print(f'Doing something fancy in {proc_name} for {self.name}!', flush=True)

    def to_variant(self):
        return GLib.Variant('a{sv}', {'name': GLib.Variant('s', self.name)})


@Mproc.register_target
def worker(q):
    obj = MyFancyClass(**q.get())
    obj.do_something()


if __name__ == '__main__':
    Mproc.init()   # a spawn or forkserver child runs its target here
    queue = Mproc.Queue()

    p = Mproc.Process(target=worker, args=(queue,))
    p.start()

    queue.put(MyFancyClass('Fancy Dan'))

    # Wait for the worker to finish
    queue.close()
    queue.join_thread()
    p.join()
    sys.exit(p.exitcode)
