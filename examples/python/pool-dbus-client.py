#!/usr/bin/python3
"""A Python client of mproc-worker-service on the session bus, with PyGObject's
Gio only (no mproc-glib on this side).

    pool-dbus-client.py [BUS_NAME]

SPDX-License-Identifier: LGPL-2.1-or-later
"""

import mmap
import os
import struct
import sys

from gi.repository import Gio, GLib

BUS_NAME = sys.argv[1] if len(sys.argv) > 1 else 'org.gnome.Mproc.WorkerService'
PATH = '/org/gnome/Mproc/Pool'
INTERFACE = 'org.gnome.Mproc.Pool1'

bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
pool = Gio.DBusProxy.new_sync(bus, Gio.DBusProxyFlags.DO_NOT_AUTO_START_AT_CONSTRUCTION,
                              None, BUS_NAME, PATH, INTERFACE, None)

# Submit: one task; the bus starts the service on demand.
print('Submit example.echo:', pool.Submit('(sv)', 'example.echo', GLib.Variant('s', 'hello')))

# Map: each item boxed in a variant; the results come back in order.
items = [GLib.Variant('x', i) for i in range(5)]
print('Map example.double:', pool.Map('(sav)', 'example.double', items))

# MapArray: one packed array (ax), the fast way for many tiny items.
print('MapArray example.double:',
      pool.MapArray('(sv)', 'example.double', GLib.Variant('ax', list(range(10)))))

# MapInto: the items and the results in two memfds of ours, which the
# service's workers read and write themselves: the fastest way for large
# maps, the memfds being reusable from call to call.
N = 100000
items_fd = os.memfd_create('items')
results_fd = os.memfd_create('results')
os.ftruncate(items_fd, N * 8)
os.ftruncate(results_fd, N * 8)
with mmap.mmap(items_fd, N * 8) as items, mmap.mmap(results_fd, N * 8, prot=mmap.PROT_READ) as results:
    struct.pack_into(f'={N}q', items, 0, *range(N))
    fds = Gio.UnixFDList.new_from_array([items_fd, results_fd])   # takes them
    reply, _ = bus.call_with_unix_fd_list_sync(
        BUS_NAME, PATH, INTERFACE, 'MapInto',
        GLib.Variant('(sshuh)', ('example.double', 'ax', 0, N, 1)),
        GLib.VariantType('(s)'), Gio.DBusCallFlags.NONE, -1, fds, None)
    print(f'MapInto {reply[0]}: {N} items, sum {sum(struct.unpack_from(f"={N}q", results))}')

# A target's error: its D-Bus name tells the MprocError code.
try:
    pool.Submit('(sv)', 'example.fail', GLib.Variant('s', 'no such file'))
except GLib.Error as e:
    print('Submit example.fail:', Gio.DBusError.get_remote_error(e), e.message)

print('Workers:', pool.get_cached_property('Workers'))
