#!/usr/bin/python3
"""A program that registered nothing: its spawned pool workers and process
children still know the library's own shared types (a pool's channel is a
private type, found without any registration), and report unknown targets
as UNKNOWN_TARGET instead of dying. Prints TAP."""

import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402

Mproc.init(sys.argv)

print('1..2', flush=True)
for n, method in enumerate((Mproc.StartMethod.SPAWN, Mproc.StartMethod.FORKSERVER), 1):
    context = Mproc.Context.new(method)
    with Mproc.Pool(processes=1, context=context) as pool:
        try:
            pool.apply('nothing-registered', 1)
            ok, detail = False, 'apply succeeded'
        except GLib.Error as e:
            ok = e.matches(Mproc.Error.quark(), Mproc.Error.UNKNOWN_TARGET)
            detail = e.message
    print(f"{'ok' if ok else 'not ok'} {n} {method.value_nick}: UNKNOWN_TARGET, "
          f"no dead worker ({detail})", flush=True)
