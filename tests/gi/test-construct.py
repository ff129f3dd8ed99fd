#!/usr/bin/python3
"""Every instantiable class of the Mproc-1 typelib, made the way bindings
make objects: GObject.new(type) (g_object_new() alone, no
g_initable_init()) and through a Python subclass, then used across a child
process under each start method (the subclass must arrive in the child as
itself). The walk fails on a type it does not know. Prints TAP."""

import sys

import gi
gi.require_version('GIRepository', '2.0')
gi.require_version('Mproc', '1')
from gi.repository import GIRepository, GLib, GObject, Mproc  # noqa: E402
from gi.module import get_introspection_module  # noqa: E402

# The C API itself (timeouts in µs), whatever the Python override adds.
C = get_introspection_module('Mproc')

TIMEOUT = 30 * GLib.USEC_PER_SEC

# The classes of a manager and of a pool: made the same two ways, each
# with a case of its own below (MANAGED_CASES, the pool's).
OTHERS = {}


# --- what each class is made with, and how parent and child use it ---------
# (properties, parent before the start, child, parent after the exit[, parent
# while the child runs]); each returns whether all went well

def _true(obj):
    return True


def _event_after(event):
    return C.Event.wait(event, TIMEOUT, None)


def _lock_before(lock):
    return C.Lock.acquire(lock, -1, None)


def _try_acquire(lock):
    try:
        return C.Lock.try_acquire(lock)
    except GLib.Error as e:
        if e.matches(Mproc.error_quark(), Mproc.Error.TIMED_OUT):
            return False
        raise


def _lock_child(lock):
    # held by the parent, in another process: not ours to take
    return not _try_acquire(lock)


def _lock_after(lock):
    C.Lock.release(lock)
    return _try_acquire(lock) and C.Lock.release(lock)


def _semaphore_child(sem):
    return sem.try_acquire() and sem.try_acquire() and not sem.try_acquire()


def _semaphore_after(sem):
    if sem.get_value() != 0 or not C.Semaphore.release(sem) or not C.Semaphore.release(sem):
        return False
    try:
        sem.release()   # bounded: a third release is one too many
    except GLib.Error as e:
        return e.matches(Mproc.error_quark(), Mproc.Error.TOO_MANY_RELEASES)
    return False


def _barrier_child(barrier):
    return C.Barrier.wait(barrier, TIMEOUT, None) >= 0


def _barrier_during(barrier):
    # the second party, while the child waits
    return barrier.get_parties() == 2 and C.Barrier.wait(barrier, TIMEOUT, None) >= 0


def _condition_before(cond):
    return C.Condition.acquire(cond, -1, None)


def _condition_child(cond):
    return not _try_acquire(cond.get_lock())


def _condition_after(cond):
    return C.Condition.release(cond) and isinstance(cond.get_lock(), Mproc.RLock)


def _value_child(value):
    value.add(5)
    return value.get_value_type() == Mproc.ValueType.INT32


def _value_after(value):
    return value.get_int() == 5 and C.Value.get_lock(value) is not None


def _array_child(array):
    array.set_int(2, 7)
    return array.get_length() == 3 and C.Array.get_lock(array) is None


def _array_after(array):
    return [array.get_int(i) for i in range(3)] == [0, 0, 7]


def _queue_child(queue):
    C.Queue.put(queue, GLib.Variant('s', 'from the child'), -1, None)
    return queue.get_maxsize() == 4


def _queue_after(queue):
    return C.Queue.get(queue, TIMEOUT, None).unpack() == 'from the child'


def _joinable_child(queue):
    return _queue_child(queue)


def _joinable_after(queue):
    return _queue_after(queue) and C.JoinableQueue.task_done(queue) and C.JoinableQueue.join(queue, TIMEOUT, None)


def _simple_child(queue):
    C.SimpleQueue.put(queue, GLib.Variant('s', 'from the child'), None)
    return True


def _simple_after(queue):
    return C.SimpleQueue.get(queue, None).unpack() == 'from the child'


# Made with a started manager as their "manager" property; the child
# changes the object, the parent sees the change.
def _dict_child(d):
    return C.Dict.set(d, GLib.Variant('s', 'who'), GLib.Variant('s', 'the child'), None)


def _dict_after(d):
    return C.Dict.get(d, GLib.Variant('s', 'who'), None).unpack() == 'the child'


def _list_child(lst):
    return C.List.append(lst, GLib.Variant('s', 'the child'), None)


def _list_after(lst):
    return C.List.get(lst, 0, None).unpack() == 'the child'


def _namespace_child(ns):
    return C.Namespace.set(ns, 'who', GLib.Variant('s', 'the child'), None)


def _namespace_after(ns):
    return C.Namespace.get(ns, 'who', None).unpack() == 'the child'


MANAGED_CASES = {
    'Dict': (_dict_child, _dict_after),
    'List': (_list_child, _list_after),
    'Namespace': (_namespace_child, _namespace_after),
}

CASES = {
    'Event': ({}, None, lambda e: (e.set(), True)[1], _event_after),
    'Lock': ({}, _lock_before, _lock_child, _lock_after),
    'RLock': ({}, _lock_before, _lock_child, _lock_after),
    'Semaphore': ({'initial_value': 2, 'bounded': True}, None, _semaphore_child, _semaphore_after),
    'Barrier': ({'parties': 2}, None, _barrier_child, _true, _barrier_during),
    'Condition': ({}, _condition_before, _condition_child, _condition_after),
    'Value': ({'value_type': Mproc.ValueType.INT32}, None, _value_child, _value_after),
    'Array': ({'value_type': Mproc.ValueType.INT64, 'length': 3, 'with_lock': False},
              None, _array_child, _array_after),
    'Queue': ({'maxsize': 4}, None, _queue_child, _queue_after),
    'JoinableQueue': ({'maxsize': 4}, None, _joinable_child, _joinable_after),
    'SimpleQueue': ({}, None, _simple_child, _simple_after),
}

POOL_AND_MANAGER = ['Manager', 'Dict', 'List', 'Namespace', 'ListItem', 'Pool', 'PoolIterator']

# A subclass of each, defined before Mproc.init(): a spawned or forkserver
# child runs the script up to there, so it knows these types by name.
SUBCLASSES = {}
for _name in list(CASES) + ['Connection', 'Context', 'Process'] + POOL_AND_MANAGER:
    SUBCLASSES[_name] = type('Sub' + _name, (getattr(Mproc, _name),),
                             {'__gtype_name__': 'TestConstructSub' + _name})


def use_object(process, args, *user_data):
    """objects: the object under test; args: (class name, GType name)."""
    name, type_name = args.unpack()
    obj = process.get_object(0)
    if obj.__gtype__.name != type_name:
        print(f'# child got a {obj.__gtype__.name}, not a {type_name}', flush=True)
        return 2
    if name in MANAGED_CASES:
        return 0 if MANAGED_CASES[name][0](obj) else 1
    return 0 if CASES[name][2](obj) else 1


def use_connection(process, args, *user_data):
    conn = process.get_object(0)
    if conn.__gtype__.name != args.unpack()[0]:
        return 2
    C.Connection.send(conn, GLib.Variant('s', C.Connection.recv(conn, None).unpack() + ' and back'), None)
    return 0


def exit_seven(process, args, *user_data):
    return 7


Mproc.register_target('use-object', use_object)
Mproc.register_target('use-connection', use_connection)
Mproc.register_target('exit-seven', exit_seven)
Mproc.register_task('construct-double', lambda arg: GLib.Variant('x', arg.unpack() * 2))
Mproc.init(sys.argv)

METHODS = (Mproc.StartMethod.FORK, Mproc.StartMethod.SPAWN, Mproc.StartMethod.FORKSERVER)
results = []


def check(name, ok, detail=''):
    results.append(bool(ok))
    print(f"{'ok' if ok else 'not ok'} {len(results)} {name}"
          f"{' # ' + str(detail) if detail and not ok else ''}", flush=True)


def run(method, target, args, obj=None):
    process = Mproc.Process.new_with_context(Mproc.Context.new(method), target, args)
    if obj is not None:
        process.add_object(obj)
    process.start()
    return process


def join(process):
    return C.Process.join(process, TIMEOUT, None) and process.get_exit_code()


def instantiable_types():
    repo = GIRepository.Repository.get_default()
    for i in range(repo.get_n_infos('Mproc')):
        info = repo.get_info('Mproc', i)
        if info.get_type() == GIRepository.InfoType.OBJECT and \
           not GIRepository.object_info_get_abstract(info):
            yield info.get_name()


def try_case(label, func):
    try:
        ok, detail = func()
    except GLib.Error as e:
        ok, detail = False, e.message
    check(label, ok, detail)


def shared_case(name, cls, method):
    props, before, _, after, *during = CASES[name]
    obj = GObject.new(cls, **props)
    if before is not None and not before(obj):
        return False, 'parent could not use it before the child'
    process = run(method, 'use-object', GLib.Variant('(ss)', (name, cls.__gtype__.name)), obj)
    if during and not during[0](obj):
        join(process)
        return False, 'parent could not use it while the child ran'
    code = join(process)
    return code == 0 and after(obj), f'exit code {code}'


def connection_case(cls, method):
    a = GObject.new(cls, duplex=True)
    b = a.take_peer()
    if b is None or a.take_peer() is not None or type(b) is not cls:
        return False, 'no peer of the same class'
    process = run(method, 'use-connection', GLib.Variant('(s)', (cls.__gtype__.name,)), b)
    b.close()
    C.Connection.send(a, GLib.Variant('s', 'there'), None)
    got = C.Connection.recv(a, None).unpack()
    return join(process) == 0 and got == 'there and back', got


def context_case(cls, method):
    context = GObject.new(cls, start_method=method)
    process = GObject.new(Mproc.Process, context=context, target='exit-seven')
    process.start()
    return join(process) == 7 and process.props.context == context, None


def process_case(cls, method):
    process = GObject.new(cls, context=Mproc.Context.new(method), target='exit-seven')
    process.start()
    return join(process) == 7, None


def started_manager(cls, method):
    """A manager made with GObject.new() alone, then started."""
    manager = GObject.new(cls, context=Mproc.Context.new(method))
    if manager.get_address() is not None:
        raise AssertionError('a manager made with GObject.new() alone is not started yet')
    C.Manager.start(manager, None)
    return manager


def manager_case(cls, method):
    manager = started_manager(cls, method)
    # its proxies find it by its "manager" property
    d = GObject.new(Mproc.Dict, manager=manager, name='by-name')
    process = run(method, 'use-object', GLib.Variant('(ss)', ('Dict', 'MprocDict')), d)
    code = join(process)
    ok = code == 0 and _dict_after(d) and d.get_manager() == manager
    # the same named dict through a second proxy
    again = GObject.new(Mproc.Dict, manager=manager, name='by-name')
    ok = ok and _dict_after(again)
    del d, again
    C.Manager.shutdown(manager, None)
    return ok, f'exit code {code}'


def managed_case(name, cls, method):
    manager = C.Manager.new_with_context(Mproc.Context.new(method))
    C.Manager.start(manager, None)
    obj = GObject.new(cls, manager=manager)
    if obj.props.manager != manager or obj.props.name is not None:
        return False, 'construct properties not kept'
    # the child makes the first call: the parent opens it on serializing
    process = run(method, 'use-object', GLib.Variant('(ss)', (name, cls.__gtype__.name)), obj)
    code = join(process)
    ok = code == 0 and MANAGED_CASES[name][1](obj)
    del obj
    C.Manager.shutdown(manager, None)
    return ok, f'exit code {code}'


def managed_without_manager(cls):
    obj = GObject.new(cls)
    try:
        C.Dict.len(obj, None) if cls.__gtype__.is_a(Mproc.Dict) else \
            C.List.len(obj, None) if cls.__gtype__.is_a(Mproc.List) else \
            C.Namespace.has(obj, 'x', None)
    except GLib.Error as e:
        return e.matches(Mproc.error_quark(), Mproc.Error.INVALID_STATE), e.message
    return False, 'no error'


def pool_case(cls, method):
    pool = GObject.new(cls, context=Mproc.Context.new(method), processes=2)
    # the first call starts the workers
    got = C.Pool.apply(pool, 'construct-double', GLib.Variant('x', 21), TIMEOUT, None).unpack()
    n = pool.get_n_workers()
    C.Pool.close(pool)
    C.Pool.join(pool, TIMEOUT, None)
    return got == 42 and n == 2, (got, n)


def list_item_case(cls):
    item = GObject.new(cls, value=GLib.Variant('s', 'held'))
    return item.get_value().unpack() == 'held', None


def pool_iterator_case(cls):
    it = GObject.new(cls)
    try:
        C.PoolIterator.next(it, None)
    except GLib.Error as e:
        return e.matches(Mproc.error_quark(), Mproc.Error.INVALID_STATE) and it.get_n_items() == 0, e.message
    return False, 'no error'


N_POOL_AND_MANAGER = (5 * len(METHODS) + 2 + 3) * 2
print(f'1..{(len(CASES) + 3) * 2 * len(METHODS) + 1 + N_POOL_AND_MANAGER}', flush=True)

names = sorted(instantiable_types())
unknown = [n for n in names if n not in CASES and n not in OTHERS
           and n not in ('Connection', 'Context', 'Process') and n not in POOL_AND_MANAGER]
check('every instantiable type of the typelib is handled here', not unknown,
      f'new types: {unknown}')

for name in list(CASES) + ['Connection', 'Context', 'Process']:
    for method in METHODS:
        for how, cls in (('GObject.new', getattr(Mproc, name)), ('subclass', SUBCLASSES[name])):
            label = f'{name} by {how}, used across a {method.value_nick} child'
            if name == 'Connection':
                try_case(label, lambda: connection_case(cls, method))
            elif name == 'Context':
                try_case(label, lambda: context_case(cls, method))
            elif name == 'Process':
                try_case(label, lambda: process_case(cls, method))
            else:
                try_case(label, lambda: shared_case(name, cls, method))

for name in POOL_AND_MANAGER:
    for how, cls in (('GObject.new', getattr(Mproc, name)), ('subclass', SUBCLASSES[name])):
        if name == 'ListItem':
            try_case(f'{name} by {how}', lambda: list_item_case(cls))
            continue
        if name == 'PoolIterator':
            try_case(f'{name} by {how}, alone: its calls are a GError', lambda: pool_iterator_case(cls))
            continue
        if name in MANAGED_CASES:
            try_case(f'{name} by {how} without a manager: its calls are a GError',
                     lambda: managed_without_manager(cls))
        for method in METHODS:
            label = f'{name} by {how}, used across a {method.value_nick} child'
            if name == 'Manager':
                try_case(label, lambda: manager_case(cls, method))
            elif name == 'Pool':
                try_case(label, lambda: pool_case(cls, method))
            else:
                try_case(label, lambda: managed_case(name, cls, method))

sys.exit(0 if all(results) else 1)
