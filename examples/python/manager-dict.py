#!/usr/bin/python3
# The seed's §7: a dict shared through a Manager.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402


@Mproc.register_target
def worker(d, key, value):
    d[key] = value


if __name__ == '__main__':
    Mproc.init()
    mgr = Mproc.Manager()
    mgr.start(None)
    d = mgr.dict()
    jobs = [Mproc.Process(target=worker, args=(d, i, i * 2)) for i in range(10)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    print('Results:', dict(sorted(d.copy().items())), flush=True)
    mgr.shutdown(None)
