#!/usr/bin/python3
"""Misuse and failures reach Python as exceptions it can catch, never as a
critical, a False that reads like a timeout, or a crash: a process started
twice or joined unstarted, a pool joined while open, a condition notified
without its lock, bytes sent from outside their buffer, a manager whose
server was killed, a child that cannot find its target; and
mproc_connection_wait() over processes alone returns. Children are named
in /proc/PID/comm and on their command line. Prints TAP."""

import os
import signal
import sys
import threading
import time

import gi
gi.require_version('Mproc', '1')
from gi.repository import Gio, GLib, Mproc  # noqa: E402


def sleeper(process, args, *user_data):
    """Sleeps until killed, or exits when its connection receives a value."""
    if process.get_n_objects() > 0:
        process.get_object(0).recv_bytes(None)
        return 0
    while True:
        time.sleep(1)


Mproc.register_target('sleeper', sleeper)
Mproc.init(sys.argv)

results = []


def check(name, ok, detail=''):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}{' # ' + str(detail) if detail and not ok else ''}",
          flush=True)


def raises(func, domain, code):
    """The GLib.Error raised by func(), checked against domain and code."""
    try:
        func()
    except GLib.Error as e:
        return e.matches(domain, code), e.message
    return False, 'nothing raised'


mproc_error = Mproc.error_quark()
forkserver = Mproc.Context.new(Mproc.StartMethod.FORKSERVER)
spawn = Mproc.Context.new(Mproc.StartMethod.SPAWN)

# --- process misuse -----------------------------------------------------------
p = Mproc.Process.new_with_context(forkserver, 'sleeper', None)
ok, detail = raises(lambda: Mproc.Process.join(p, -1, None), mproc_error, Mproc.Error.INVALID_STATE)
check('join() of a process never started raises INVALID_STATE', ok, detail)
p.set_name('Misuse-Sleeper-1')
p.start()
ok, detail = raises(p.start, mproc_error, Mproc.Error.INVALID_STATE)
check('start() twice raises INVALID_STATE naming the process',
      ok and 'Misuse-Sleeper-1' in detail, detail)

# --- the child's name, where top and ps look --------------------------------------
pid = p.get_pid()
comm = cmdline = ''
for _ in range(3000):
    with open(f'/proc/{pid}/comm') as f:
        comm = f.read()
    if comm == 'Misuse-Sleeper-\n':
        break
    time.sleep(0.01)
with open(f'/proc/{pid}/cmdline', 'rb') as f:
    cmdline = f.read().rstrip(b'\0').decode()
check('a child is named in /proc/PID/comm', comm == 'Misuse-Sleeper-\n', repr(comm))
check('its command line reads "script: name"', cmdline == 'test-misuse: Misuse-Sleeper-1', repr(cmdline))

def child_comms():
    """The comm of each child of this process."""
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/stat') as f:
                comm, rest = f.read().split(' (', 1)[1].rsplit(') ', 1)
            if int(rest.split()[1]) == os.getpid():
                yield comm
        except (OSError, ValueError, IndexError):
            pass


check('the fork server is named "forkserver"', 'forkserver' in child_comms(), list(child_comms()))

# --- wait() over processes alone ----------------------------------------------
ready = Mproc.Connection.wait([p], 20000, None)
check('wait() over a running process alone returns at the timeout', len(ready) == 0, ready)
p.kill()
ready = Mproc.Connection.wait([p], -1, None)
check('wait() over a process alone returns at its exit', len(ready) == 1 and ready[0] == p, ready)
p.join()
p.close()
ok, detail = raises(p.start, mproc_error, Mproc.Error.INVALID_STATE)
check('start() after close() raises INVALID_STATE', ok, detail)

# --- a target registered after init() -------------------------------------------
Mproc.register_target('late', sleeper)
late = Mproc.Process.new_with_context(spawn, 'late', None)
late.start()
ok, detail = raises(late.join, mproc_error, Mproc.Error.UNKNOWN_TARGET)
check('a child without its target makes join() raise UNKNOWN_TARGET with the fix',
      ok and 'late' in detail and str(late.get_pid()) in detail and 'before mproc_init()' in detail, detail)

# --- condition, pipe, pool ------------------------------------------------------
cond = Mproc.Condition.new(None)
ok, detail = raises(lambda: Mproc.Condition.notify(cond, 1), mproc_error, Mproc.Error.NOT_OWNER)
check('Condition.notify() without the lock raises NOT_OWNER', ok, detail)
ok, detail = raises(lambda: Mproc.Condition.notify_all(cond), mproc_error, Mproc.Error.NOT_OWNER)
check('Condition.notify_all() without the lock raises NOT_OWNER', ok, detail)

a, b = Mproc.Pipe()
ok, detail = raises(lambda: a.send_bytes(GLib.Bytes.new(b'abc'), 2, 5, None),
                    Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT)
check('send_bytes() outside the buffer raises INVALID_ARGUMENT', ok, detail)

pool = Mproc.Pool.new_full(forkserver, 1, None, None, 0)
ok, detail = raises(lambda: Mproc.Pool.join(pool, -1, None), mproc_error, Mproc.Error.INVALID_STATE)
check('Pool.join() before close() raises INVALID_STATE', ok, detail)
pool.close()
Mproc.Pool.join(pool, -1, None)

# --- a manager whose server is killed ------------------------------------------------
manager = Mproc.Manager.new_with_context(forkserver)
manager.start(None)
d = Mproc.Dict.new(manager, None, None)
Mproc.Dict.set(d, GLib.Variant('i', 0), GLib.Variant('i', 0), None)
server_pid = manager.get_server_pid()
os.kill(server_pid, signal.SIGSTOP)
killer = threading.Timer(0.05, os.kill, (server_pid, signal.SIGKILL))
killer.start()
outcomes = []
for _ in range(3):
    outcomes.append(raises(lambda: Mproc.Dict.get(d, GLib.Variant('i', 0), None),
                           mproc_error, Mproc.Error.BROKEN))
    outcomes.append(raises(lambda: Mproc.Dict.contains(d, GLib.Variant('i', 0), None),
                           mproc_error, Mproc.Error.BROKEN))
killer.join()
check('after SIGKILL of the server every dict read raises BROKEN',
      all(ok for ok, _ in outcomes), outcomes)
del d
manager.shutdown(None)

print(f'1..{len(results)}', flush=True)
sys.exit(0 if all(results) else 1)
