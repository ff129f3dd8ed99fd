# The Mproc override, imported from an installed prefix (PYTHONPATH at the
# prefix's Python directory): a pool task and a queue in plain Python values,
# and an error in the user's language. Run by test-install.sh.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import locale

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402


@Mproc.register_task
def double(x):
    return x * 2


if __name__ == '__main__':
    locale.setlocale(locale.LC_ALL, '')
    Mproc.init()
    assert type(Mproc.Queue()).__module__ == 'gi.overrides.Mproc', 'the override is not loaded'
    with Mproc.Pool(2) as pool:
        print('map:', pool.map(double, range(4)))
    try:
        Mproc.Queue().get(timeout=0)
    except GLib.Error as e:
        assert e.matches(Mproc.error_quark(), Mproc.Error.EMPTY), (e.domain, e.code)
        print('error: ' + e.message)
    else:
        raise SystemExit('get() on an empty queue did not fail')
