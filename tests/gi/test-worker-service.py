#!/usr/bin/python3
"""mproc-worker-service from Python: a private session bus (Gio.TestDBus)
activates the in-tree service with the example module; Python submits and
maps through Gio, runs examples/python/pool-dbus-client.py and `gdbus
call`, and checks that a target's error comes back as the same GError
(domain mproc-error-quark, once Mproc has registered it for D-Bus).

    test-worker-service.py SERVICES_DIR CLIENT_SCRIPT

Run with Debian's /usr/bin/python3, GI_TYPELIB_PATH and LD_LIBRARY_PATH
pointing at the build. Prints TAP."""

import os
import subprocess
import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import Gio, GLib, Mproc  # noqa: E402

BUS_NAME = 'org.gnome.Mproc.Test.WorkerService'
PATH = '/org/gnome/Mproc/Pool'
INTERFACE = 'org.gnome.Mproc.Pool1'

services_dir, client_script = sys.argv[1], sys.argv[2]
results = []


def check(name, ok, detail=''):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}{' # ' + str(detail) if detail and not ok else ''}",
          flush=True)


Mproc.error_quark()   # registers the domain's D-Bus error names

bus = Gio.TestDBus.new(Gio.TestDBusFlags.NONE)
bus.add_service_dir(services_dir)
bus.up()
env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.get_bus_address())
try:
    connection = Gio.DBusConnection.new_for_address_sync(
        bus.get_bus_address(),
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    pool = Gio.DBusProxy.new_sync(connection, Gio.DBusProxyFlags.NONE, None, BUS_NAME, PATH, INTERFACE, None)

    value = pool.Submit('(sv)', 'example.echo', GLib.Variant('s', 'from Python'))
    check('Submit from Python (activating the service)', value == 'from Python', value)

    results_map = pool.Map('(sav)', 'example.double', [GLib.Variant('x', i) for i in range(10)])
    check('Map from Python', results_map == [2 * i for i in range(10)], results_map)

    packed = pool.MapArray('(sv)', 'example.double', GLib.Variant('ax', list(range(1000))))
    check('MapArray from Python', packed == [2 * i for i in range(1000)], packed[:5])

    try:
        pool.Submit('(sv)', 'example.fail', GLib.Variant('s', 'nothing here'))
        check('a target error raises', False)
    except GLib.Error as e:
        check('a target error is the same GError in Python',
              e.domain == 'mproc-error-quark' and e.code == Mproc.Error.NOT_FOUND, (e.domain, e.code))

    try:
        pool.Submit('(sv)', 'os.system', GLib.Variant('s', 'true'))
        check('an unknown target raises', False)
    except GLib.Error as e:
        check('an unknown target is refused with UNKNOWN_TARGET',
              e.domain == 'mproc-error-quark' and e.code == Mproc.Error.UNKNOWN_TARGET, (e.domain, e.code))

    out = subprocess.run([sys.executable, client_script, BUS_NAME], env=env, capture_output=True,
                         text=True, timeout=60)
    check('examples/python/pool-dbus-client.py runs',
          out.returncode == 0 and 'Map example.double: [0, 2, 4, 6, 8]' in out.stdout
          and 'org.gnome.Mproc.Error.NotFound' in out.stdout, out.stdout + out.stderr)

    out = subprocess.run(['gdbus', 'call', '--session', '--dest', BUS_NAME, '--object-path', PATH,
                          '--method', INTERFACE + '.Map', 'example.double', '[<int64 20>, <int64 21>]'],
                         env=env, capture_output=True, text=True, timeout=60)
    check('gdbus call Map', out.stdout.strip() == '([<int64 40>, <int64 42>],)', out.stdout + out.stderr)
    connection.close_sync(None)
finally:
    bus.down()

print(f'1..{len(results)}')
sys.exit(0 if all(results) else 1)
