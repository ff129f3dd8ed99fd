#!/usr/bin/python3
"""Run by test-pythonic.py by a relative path, from its own directory: it
moves to the directory given as argument and starts a Python target there
(under the start method of MPROC_START_METHOD). The re-executed script is
found (children start where Mproc.init() was called), and the target works
where the parent works. Prints the target's working directory."""

import os
import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


@Mproc.register_target
def where(queue):
    queue.put(os.getcwd())


if __name__ == '__main__':
    Mproc.init()
    os.chdir(sys.argv[1])
    queue = Mproc.Queue()
    p = Mproc.Process(target=where, args=(queue,))
    p.start()
    print(queue.get(30), flush=True)
    p.join()
