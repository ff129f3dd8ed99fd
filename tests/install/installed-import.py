# Imports Mproc from an installed typelib (GI_TYPELIB_PATH and
# LD_LIBRARY_PATH point at the prefix), starts nothing, makes one call fail
# and prints the GLib.Error it raises.
import locale

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc

# As a PyGObject application does, for LANGUAGE to take effect.
locale.setlocale(locale.LC_ALL, '')

q = Mproc.Queue.new(0)
try:
    q.get(0, None)
except GLib.Error as e:
    assert e.domain == 'mproc-error-quark', e.domain
    assert e.code == Mproc.Error.EMPTY, e.code
    print('error: ' + e.message)
else:
    raise SystemExit('get() on an empty queue did not fail')
