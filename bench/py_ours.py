#!/usr/bin/python3
"""bench/py_ours.py: Python's own workloads (../shared/anchors/py_mp_bench.py)
run through the Mproc override instead of multiprocessing.

The anchor script is executed unchanged, with `multiprocessing` in
sys.modules replaced by `gi.repository.Mproc`: same workloads, same metric
names, same JSON lines, same options (--quick, --only, --reps, --pin,
--list). It needs the typelib and the override on the paths, as the tests
set them (GI_TYPELIB_PATH, LD_LIBRARY_PATH, PYTHONPATH=python/).
"""

import os
import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import Mproc  # noqa: E402

ANCHOR = os.environ.get('MPROC_ANCHORS', os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      '..', '..', 'shared', 'anchors'))
SCRIPT = os.path.join(ANCHOR, 'py_mp_bench.py')

sys.modules['multiprocessing'] = Mproc
with open(SCRIPT, 'rb') as f:
    code = compile(f.read(), SCRIPT, 'exec')
# Run as this module: spawned children import this file as __mp_main__,
# which defines the same functions again (and runs no workload).
exec(code, globals())
