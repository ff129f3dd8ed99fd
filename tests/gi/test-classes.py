#!/usr/bin/python3
"""The library's classes through the Mproc-1 typelib, from PyGObject:
queues, events, locks, values, pools and managers, with Python targets and
tasks run in child processes. Prints TAP."""

import sys

import gi
gi.require_version('Mproc', '1')
from gi.repository import GLib, Mproc  # noqa: E402


def producer(process, args, *user_data):
    queue = process.get_object(0)
    for i in range(args.unpack()[0]):
        queue.put(GLib.Variant('x', i), -1, None)
    return 0


def add_atomically(process, args, *user_data):
    value = process.get_object(0)
    for _ in range(500):
        value.add(1)
    return 0


def double(arg, *user_data):
    return GLib.Variant('x', arg.unpack() * 2)


# Registered before Mproc.init(): spawned and forkserver children run the
# script only up to there.
Mproc.register_target('producer', producer)
Mproc.register_target('add', add_atomically)
Mproc.register_task('double', double)
Mproc.init(sys.argv)

results = []


def check(name, ok, detail=''):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}"
          f"{' # ' + str(detail) if detail and not ok else ''}", flush=True)


print('1..8', flush=True)

for method in (Mproc.StartMethod.FORK, Mproc.StartMethod.FORKSERVER):
    queue = Mproc.Queue.new(0)
    process = Mproc.Process.new_with_context(Mproc.Context.new(method), 'producer',
                                             GLib.Variant('(i)', (5,)))
    process.add_object(queue)
    process.start()
    got = [queue.get(10) for _ in range(5)]   # seconds, in Python
    process.join(-1, None)
    check(f'queue from a Python target ({method.value_nick})',
          got == [0, 1, 2, 3, 4] and process.get_exit_code() == 0, got)

try:
    Mproc.Queue.new(0).get_nowait()
    check('get_nowait on an empty queue raises EMPTY', False)
except GLib.Error as e:
    check('get_nowait on an empty queue raises EMPTY',
          e.matches(Mproc.error_quark(), Mproc.Error.EMPTY), e)

event = Mproc.Event.new()
timed_out = event.wait(0.01)
event.set()
check('event wait times out with False, then returns True', timed_out is False and event.wait(-1, None))

# async wait from a GLib main loop
event = Mproc.Event.new()
loop = GLib.MainLoop()
state = {}


def on_waited(source, result):
    state['result'] = source.wait_finish(result)
    loop.quit()


event.wait_async(-1, None, on_waited)
GLib.timeout_add(20, lambda: event.set() or False)
GLib.timeout_add_seconds(10, loop.quit)
loop.run()
check('event wait_async from a main loop', state.get('result') is True, state)

value = Mproc.Value.new(Mproc.ValueType.INT64, True)
children = [Mproc.Process.new('add', None) for _ in range(3)]
for child in children:
    child.add_object(value)
    child.start()
for child in children:
    child.join()
check('shared value: atomic adds from three processes', value.get_int() == 1500, value.get_int())

pool = Mproc.Pool.new(2)
mapped = pool.map('double', GLib.Variant('ax', list(range(10))), 0, -1, None)
check('pool map with a Python task', mapped == [2 * i for i in range(10)], mapped)
pool.close()
pool.join(-1, None)

manager = Mproc.Manager.new()
manager.start(None)
d = Mproc.Dict.new(manager, None, None)
d.set(GLib.Variant('s', 'a'), GLib.Variant('i', 1), None)
try:
    d.get(GLib.Variant('s', 'missing'), None)
    missing = None
except GLib.Error as e:
    missing = e
check('manager dict set/get, NOT_FOUND as GLib.Error',
      d.get(GLib.Variant('s', 'a'), None).unpack() == 1 and missing is not None and
      missing.matches(Mproc.error_quark(), Mproc.Error.NOT_FOUND), missing)
manager.shutdown(None)

Mproc.shutdown()
sys.exit(0 if all(results) else 1)
