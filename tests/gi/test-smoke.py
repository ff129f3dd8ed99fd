#!/usr/bin/python3
"""GObject-introspection smoke test: Python starts a process through the
Mproc-1 typelib and joins it asynchronously from a GLib main loop.

Run with Debian's /usr/bin/python3 (python3-gi), GI_TYPELIB_PATH and
LD_LIBRARY_PATH pointing at the build. Prints TAP."""

import os
import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402


def exit_with(process, args, *user_data):
    """A target written in Python: exits with the code it is given."""
    return args.unpack()[0]


# Targets are registered before Mproc.init(): a spawn or forkserver child
# re-executes this script, which runs only up to Mproc.init().
Mproc.register_target('exit-with', exit_with)
Mproc.init(sys.argv)

results = []


def check(name, ok, detail=''):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}{' # ' + detail if detail and not ok else ''}",
          flush=True)


def join_async(method, code):
    context = Mproc.Context.new(method)
    process = Mproc.Process.new_with_context(context, 'exit-with', GLib.Variant('(i)', (code,)))
    loop = GLib.MainLoop()
    state = {'ticks': 0, 'joined': None, 'exited': None}

    def on_tick():
        state['ticks'] += 1
        return GLib.SOURCE_CONTINUE

    def on_joined(proc, result):
        state['joined'] = proc.join_finish(result)
        loop.quit()

    def on_exited(proc, exit_code):
        state['exited'] = exit_code

    process.connect('exited', on_exited)
    process.start()
    pid = process.get_pid()
    ticker = GLib.timeout_add(1, on_tick)
    process.join_async(-1, None, on_joined)
    GLib.timeout_add_seconds(30, loop.quit)
    loop.run()
    GLib.source_remove(ticker)
    # let ::exited be dispatched
    while GLib.MainContext.default().iteration(False):
        pass
    return process, pid, state


print('1..8', flush=True)
for method, code in ((Mproc.StartMethod.FORK, 3), (Mproc.StartMethod.SPAWN, 4),
                     (Mproc.StartMethod.FORKSERVER, 5)):
    process, pid, state = join_async(method, code)
    check(f'join_async under {method.value_nick}', state['joined'] is True and
          process.get_exit_code() == code and pid > 0 and pid != os.getpid(),
          repr((state, process.get_exit_code())))
    check(f'::exited under {method.value_nick}', state['exited'] == code, repr(state))

try:
    Mproc.Process.new('no-such-target', None).start()
    check('unknown target raises GLib.Error', False)
except GLib.Error as e:
    check('unknown target raises GLib.Error',
          e.domain == 'mproc-error-quark' and e.code == Mproc.Error.UNKNOWN_TARGET, str(e))

check('current process is MainProcess', Mproc.current_process().get_name() == 'MainProcess')
Mproc.shutdown()
sys.exit(0 if all(results) else 1)
