# PyGObject override for the Mproc-1 namespace (mproc-glib).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A Pythonic surface for ``gi.repository.Mproc``.

What it changes, for Python programs only (C and GJS see the plain API):

- The fork start method forks through ``os.fork()`` (``Mproc.set_fork_func``):
  PyGObject calls C with the interpreter lock released, so a ``fork()`` done
  in C while another Python thread runs would leave the child waiting for
  ever for that lock; ``os.fork()`` prepares the interpreter first.
- Targets and pool tasks are plain Python functions: ``@Mproc.register_target``
  and ``@Mproc.register_task`` (register them before ``Mproc.init()``: a
  spawn or forkserver child runs the script again, up to ``Mproc.init()``).
- ``Mproc.Process(target=f, args=(queue, 1, 'x'))`` mixes shared objects and
  plain values in ``args``, as ``multiprocessing.Process`` does.
- Values are converted to and from ``GLib.Variant`` (``to_variant()``,
  ``from_variant()``); a ``GLib.Variant`` is passed through unchanged.
- Timeouts are in seconds, ``None`` (or a negative number) waits for ever;
  a wait that times out returns ``False`` where Python's does.
- Locks, semaphores and conditions are context managers; managers make
  dicts, lists and namespaces; shared dicts and lists index like Python's.

Errors are raised as ``GLib.Error`` in the ``Mproc.Error`` domain
(``e.matches(Mproc.error_quark(), Mproc.Error.TIMED_OUT)``).
"""

import os
import sys
import traceback

from gi.repository import GLib, GObject

from ..overrides import override
from ..module import get_introspection_module

Mproc = get_introspection_module('Mproc')

__all__ = []

_ARGS_MAGIC = 'mproc-python-args-1'
_ARGS_TYPE = '(saiava{sv})'


# --- values ---------------------------------------------------------------

def to_variant(value):
    """Converts a Python value to a GLib.Variant: bool ``b``, int ``x``,
    float ``d``, str ``s``, bytes ``ay``, None ``mv`` (nothing), tuple
    ``(…)``, list ``aT`` when its items share a type (else ``av``), dict
    ``a{Kv}``; an object with a ``to_variant()`` method converts itself."""
    if isinstance(value, GLib.Variant):
        return value
    if value is None:
        return GLib.Variant('mv', None)
    if isinstance(value, bool):
        return GLib.Variant('b', value)
    if isinstance(value, int):
        return GLib.Variant('x', value)
    if isinstance(value, float):
        return GLib.Variant('d', value)
    if isinstance(value, str):
        return GLib.Variant('s', value)
    if isinstance(value, (bytes, bytearray)):
        return GLib.Variant('ay', bytes(value))
    if isinstance(value, tuple):
        return GLib.Variant.new_tuple(*[to_variant(v) for v in value])
    if isinstance(value, (list, range)):
        children = [to_variant(v) for v in value]
        types = {c.get_type_string() for c in children}
        if len(types) == 1:
            return GLib.Variant.new_array(GLib.VariantType(types.pop()), children)
        return GLib.Variant.new_array(GLib.VariantType('v'),
                                      [GLib.Variant.new_variant(c) for c in children])
    if isinstance(value, dict):
        keys = [to_variant(k) for k in value]
        key_types = {k.get_type_string() for k in keys}
        if len(key_types) > 1 or (key_types and not GLib.VariantType(next(iter(key_types))).is_basic()):
            raise TypeError('dict keys must all be of one basic type to become a GLib.Variant')
        key_type = key_types.pop() if key_types else 's'
        entries = [GLib.Variant.new_dict_entry(k, GLib.Variant.new_variant(to_variant(v)))
                   for k, v in zip(keys, value.values())]
        return GLib.Variant.new_array(GLib.VariantType(f'{{{key_type}v}}'), entries)
    if hasattr(value, 'to_variant'):
        return value.to_variant()
    raise TypeError(f'cannot convert {type(value).__name__} to a GLib.Variant')


def from_variant(variant):
    """Converts a GLib.Variant (or None) to the Python value it holds."""
    if variant is None:
        return None
    if not isinstance(variant, GLib.Variant):
        return variant
    t = variant.get_type_string()
    if t == 'ay':
        return bytes(variant.unpack())
    if not variant.is_container():
        return variant.unpack()
    if t[0] == 'v':
        return from_variant(variant.get_variant())
    if t[0] == 'm':
        return None if variant.n_children() == 0 else from_variant(variant.get_child_value(0))
    children = [variant.get_child_value(i) for i in range(variant.n_children())]
    if t.startswith('a{'):
        return {from_variant(e.get_child_value(0)): from_variant(e.get_child_value(1))
                for e in children}
    if t[0] == '(':
        return tuple(from_variant(c) for c in children)
    return [from_variant(c) for c in children]


def _usec(timeout):
    """Seconds (None or negative: for ever) to the library's microseconds."""
    if timeout is None or timeout < 0:
        return -1
    return int(timeout * 1000000)


def _timed_out(error):
    return error.matches(Mproc.error_quark(), Mproc.Error.TIMED_OUT)


__all__ += ['to_variant', 'from_variant']


# --- forking through Python --------------------------------------------------

def _flush_std_streams():
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


def _fork(*user_data):
    # What multiprocessing's fork Popen does: flush, or the child would write
    # the parent's buffered output once more.
    _flush_std_streams()
    try:
        return os.fork()
    except OSError:
        return -1


Mproc.set_fork_func(_fork)

# The fork server forks in C (it must: clone(CLONE_PARENT)), so Python does
# not know its children are new processes. A child notices (the pid it last
# saw differs) and does what os.fork() does in a child: Python's at-fork
# handlers run, so random reseeds and threading forgets the server's state.
_python_pid = os.getpid()


def _forked_in_python():
    global _python_pid
    _python_pid = os.getpid()


os.register_at_fork(after_in_child=_forked_in_python)


def _enter_child():
    global _python_pid
    if os.getpid() == _python_pid:
        return
    import ctypes
    ctypes.pythonapi.PyOS_AfterFork_Child()
    _python_pid = os.getpid()


# --- targets and tasks -------------------------------------------------------

def _exit_code(func, *args, **kwargs):
    """Runs a target as multiprocessing does: 0, the code of sys.exit(), or 1
    with the traceback printed when it raises."""
    _enter_child()
    try:
        result = func(*args, **kwargs)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        # The child leaves with _exit(): Python's buffers are flushed here.
        _flush_std_streams()


def _decode_args(process, args):
    """(positional, keyword) arguments of a Pythonic target."""
    if args is None:
        return (), {}
    if args.get_type_string() == _ARGS_TYPE and args.get_child_value(0).get_string() == _ARGS_MAGIC:
        slots = args.get_child_value(1).unpack()
        values = iter(from_variant(args.get_child_value(2)))
        kwargs = from_variant(args.get_child_value(3))
        positional = tuple(process.get_object(s) if s >= 0 else next(values) for s in slots)
        return positional, kwargs
    if args.get_type().is_tuple():
        return from_variant(args), {}
    return (from_variant(args),), {}


def _encode_args(args, kwargs):
    """The args variant and the shared objects of Process(args=…)."""
    slots, values, objects = [], [], []
    for arg in args:
        if isinstance(arg, Mproc.Shareable):
            slots.append(len(objects))
            objects.append(arg)
        else:
            slots.append(-1)
            values.append(GLib.Variant.new_variant(to_variant(arg)))
    kw = {k: GLib.Variant.new_variant(to_variant(v)) for k, v in (kwargs or {}).items()}
    variant = GLib.Variant.new_tuple(
        GLib.Variant('s', _ARGS_MAGIC),
        GLib.Variant('ai', slots),
        GLib.Variant.new_array(GLib.VariantType('v'), values),
        GLib.Variant('a{sv}', {}) if not kw else GLib.Variant.new_array(
            GLib.VariantType('{sv}'),
            [GLib.Variant.new_dict_entry(GLib.Variant('s', k), v) for k, v in kw.items()]))
    return variant, objects


_target_names = {}
_pythonic_targets = set()   # names of targets taking Process(args=…) as is


def _default_name(func):
    return f'{func.__module__}.{func.__qualname__}'


def register_target(name_or_func=None, func=None, *user_data):
    """Registers a process target; call it before ``Mproc.init()``.

    As a decorator, ``@Mproc.register_target`` or
    ``@Mproc.register_target('name')``: the function receives the ``args``
    (and ``kwargs``) of ``Mproc.Process(target=…, args=…)``, shared objects
    included, and its return value (an int) or ``sys.exit()`` code is the
    exit code. ``Mproc.register_target('name', func)`` registers a function
    with the C signature ``func(process, args)`` (args a GLib.Variant)."""
    if isinstance(name_or_func, str) and func is not None:
        def run_c_style(process, args, *data):
            return _exit_code(func, process, args, *user_data)
        Mproc.register_target(name_or_func, run_c_style)
        _target_names[func] = name_or_func
        return func

    def decorate(f, name=None):
        name = name or _default_name(f)

        def run(process, args, *data):
            positional, kwargs = _decode_args(process, args)
            return _exit_code(f, *positional, **kwargs)
        Mproc.register_target(name, run)
        _target_names[f] = name
        _pythonic_targets.add(name)
        return f

    if callable(name_or_func):
        return decorate(name_or_func)
    return lambda f: decorate(f, name_or_func)


def _task_error(e):
    """A task's exception as the GLib.Error its caller gets (PyGObject sets a
    callback's GError from a raised GLib.Error); the traceback goes to the
    worker's stderr, as multiprocessing's pool shows it."""
    if isinstance(e, GLib.Error):
        return e
    traceback.print_exc()
    return GLib.Error.new_literal(Mproc.error_quark(), f'{type(e).__name__}: {e}',
                                  int(Mproc.Error.FAILED))


def _task_result(func, arg):
    _enter_child()
    try:
        return to_variant(func(from_variant(arg)))
    except Exception as e:
        raise _task_error(e) from None
    finally:
        _flush_std_streams()


def register_task(name_or_func=None, func=None, *user_data):
    """Registers a pool task; call it before ``Mproc.init()``.

    As a decorator (``@Mproc.register_task`` or
    ``@Mproc.register_task('name')``) the function takes and returns plain
    Python values. ``Mproc.register_task('name', func)`` registers a function
    taking and returning GLib.Variant. An exception fails the task: its
    caller gets it as a GLib.Error (``Mproc.Error.FAILED``, with the
    exception's type and text, unless it is a GLib.Error already)."""
    if isinstance(name_or_func, str) and func is not None:
        def run_variant(arg, *data):
            _enter_child()
            try:
                return to_variant(func(arg, *user_data))
            except Exception as e:
                raise _task_error(e) from None
            finally:
                _flush_std_streams()
        Mproc.register_task(name_or_func, run_variant)
        _target_names[func] = name_or_func
        return func

    def decorate(f, name=None):
        name = name or _default_name(f)
        Mproc.register_task(name, lambda arg, *data: _task_result(f, arg))
        _target_names[f] = name
        return f

    if callable(name_or_func):
        return decorate(name_or_func)
    return lambda f: decorate(f, name_or_func)


def _target_name(target, context):
    """The registered name of a target given as a function."""
    if target is None or isinstance(target, str):
        return target
    name = _target_names.get(target)
    if name is not None:
        return name
    method = (context or Mproc.Context.get_default()).get_start_method()
    if method != Mproc.StartMethod.FORK:
        raise ValueError(f'{_default_name(target)} is not registered: decorate it with '
                         '@Mproc.register_target (before Mproc.init()) to run it under '
                         f'the {method.value_nick} start method')
    # A fork child inherits the registration made here; the name is unique,
    # as two lambdas share their qualified name.
    register_target(f'{_default_name(target)}#{id(target):x}')(target)
    return _target_names[target]


def init(argv=None):
    """``Mproc.init()`` with ``sys.argv``: in a child started by spawn or
    forkserver, runs its target and never returns."""
    import ctypes  # noqa: F401 -- loaded once, in the fork server too (_enter_child)
    return Mproc.init(list(sys.argv if argv is None else argv))


__all__ += ['register_target', 'register_task', 'init']


# --- processes ---------------------------------------------------------------

@override
class Process(Mproc.Process):
    """``Mproc.Process(target=f, args=(…), kwargs={…}, name=…, daemon=…,
    context=…)``, as ``multiprocessing.Process``. ``target`` is a function
    (registered with ``@Mproc.register_target``, or any function under the
    fork start method) or the name of a registered target."""

    def __init__(self, target=None, args=(), kwargs=None, name=None, daemon=None,
                 context=None, **properties):
        objects = []
        if isinstance(args, GLib.Variant):
            variant = args
        elif not args and not kwargs and not callable(target):
            variant = None
        elif isinstance(target, str) and target not in _pythonic_targets:
            # a C-style target gets plain values and finds objects with get_object()
            variant, objects = (to_variant(tuple(a for a in args if not isinstance(a, Mproc.Shareable))),
                                [a for a in args if isinstance(a, Mproc.Shareable)])
        else:
            variant, objects = _encode_args(tuple(args), kwargs)
        if context is not None:
            properties['context'] = context
        if target is not None:
            properties['target'] = _target_name(target, context)
        if variant is not None:
            properties['args'] = variant
        super().__init__(**properties)
        if name is not None:
            self.set_name(name)
        if daemon is not None:
            self.set_daemon(daemon)
        for obj in objects:
            self.add_object(obj)

    def __init_subclass__(cls, **kwargs):
        # A subclass's do_run() runs in the child, which leaves with _exit():
        # flush Python's buffers and turn exceptions into exit codes there.
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get('do_run')
        if run is not None and not getattr(run, '_mproc_wrapped', False):
            def do_run(self):
                return _exit_code(run, self)
            do_run._mproc_wrapped = True
            cls.do_run = do_run

    name = property(lambda self: self.get_name(), lambda self, v: self.set_name(v))
    daemon = property(lambda self: self.get_daemon(), lambda self, v: self.set_daemon(v))
    pid = property(lambda self: self.get_pid() or None)
    exitcode = property(lambda self: self.get_exit_code() if self.has_exited() else None)

    def join(self, timeout=None, cancellable=None):
        """Waits for the process to exit; returns False if ``timeout``
        seconds passed first."""
        try:
            return Mproc.Process.join(self, _usec(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            raise


__all__.append('Process')


# --- queues ------------------------------------------------------------------

@override
class Queue(Mproc.Queue):
    """Values cross as GLib.Variant: ``put()`` converts, ``get()`` returns
    Python values."""

    def __new__(cls, maxsize=0):
        return Mproc.Queue.new(maxsize)

    def __init__(self, *args, **kwargs):
        pass

    def put(self, obj, timeout=None, cancellable=None):
        return Mproc.Queue.put(self, to_variant(obj), _usec(timeout), cancellable)

    def put_nowait(self, obj):
        return Mproc.Queue.put_nowait(self, to_variant(obj))

    def get(self, timeout=None, cancellable=None):
        return from_variant(Mproc.Queue.get(self, _usec(timeout), cancellable))

    def get_nowait(self):
        return from_variant(Mproc.Queue.get_nowait(self))

    def put_async(self, obj, timeout=None, cancellable=None, callback=None, *user_data):
        return Mproc.Queue.put_async(self, to_variant(obj), _usec(timeout), cancellable,
                                     callback, *user_data)

    def get_async(self, timeout=None, cancellable=None, callback=None, *user_data):
        return Mproc.Queue.get_async(self, _usec(timeout), cancellable, callback, *user_data)

    def get_finish(self, result):
        return from_variant(Mproc.Queue.get_finish(self, result))

    def qsize(self):
        return self.get_qsize()

    def empty(self):
        return self.is_empty()

    def full(self):
        return self.is_full()


@override
class JoinableQueue(Mproc.JoinableQueue):
    def __new__(cls, maxsize=0):
        return Mproc.JoinableQueue.new(maxsize)

    def __init__(self, *args, **kwargs):
        pass

    def join(self, timeout=None, cancellable=None):
        """Waits until every item put has been marked done; returns False if
        ``timeout`` seconds passed first."""
        try:
            return Mproc.JoinableQueue.join(self, _usec(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            raise


@override
class SimpleQueue(Mproc.SimpleQueue):
    def __new__(cls):
        return Mproc.SimpleQueue.new()

    def __init__(self, *args, **kwargs):
        pass

    def put(self, obj, cancellable=None):
        return Mproc.SimpleQueue.put(self, to_variant(obj), cancellable)

    def get(self, cancellable=None):
        return from_variant(Mproc.SimpleQueue.get(self, cancellable))

    def get_finish(self, result):
        return from_variant(Mproc.SimpleQueue.get_finish(self, result))


@override
class Connection(Mproc.Connection):
    """``send()`` converts to GLib.Variant, ``recv()`` returns Python
    values, ``poll(timeout)`` waits in seconds."""

    def send(self, obj, cancellable=None):
        return Mproc.Connection.send(self, to_variant(obj), cancellable)

    def recv(self, cancellable=None):
        return from_variant(Mproc.Connection.recv(self, cancellable))

    def send_async(self, obj, cancellable=None, callback=None, *user_data):
        return Mproc.Connection.send_async(self, to_variant(obj), cancellable, callback, *user_data)

    def recv_finish(self, result):
        return from_variant(Mproc.Connection.recv_finish(self, result))

    def poll(self, timeout=0, cancellable=None):
        return Mproc.Connection.poll(self, _usec(timeout), cancellable)


def Pipe(duplex=True):
    """Two connected ``Mproc.Connection`` ends, as ``multiprocessing.Pipe()``:
    with ``duplex=False`` the first end only receives, the second only
    sends."""
    ret = Mproc.pipe_new(duplex)
    return tuple(ret[-2:])


__all__ += ['Queue', 'JoinableQueue', 'SimpleQueue', 'Connection', 'Pipe']


# --- synchronisation ---------------------------------------------------------

def _acquire(cls, self, block, timeout, cancellable):
    if not block:
        return self.try_acquire()
    try:
        return cls.acquire(self, _usec(timeout), cancellable)
    except GLib.Error as e:
        if _timed_out(e):
            return False
        raise


class _Acquirable:
    """acquire(block=True, timeout=None) and the with statement."""

    def acquire(self, block=True, timeout=None, cancellable=None):
        return _acquire(self._c_class, self, block, timeout, cancellable)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
        return False


@override
class Lock(_Acquirable, Mproc.Lock):
    _c_class = Mproc.Lock

    def __new__(cls):
        return Mproc.Lock.new()

    def __init__(self, *args, **kwargs):
        pass


@override
class RLock(Mproc.RLock):
    # a Lock, so acquire() and the with statement come from Lock above
    def __new__(cls):
        return Mproc.RLock.new()

    def __init__(self, *args, **kwargs):
        pass


@override
class Semaphore(_Acquirable, Mproc.Semaphore):
    _c_class = Mproc.Semaphore

    def __new__(cls, value=1):
        return Mproc.Semaphore.new(value)

    def __init__(self, *args, **kwargs):
        pass


@override
class Condition(_Acquirable, Mproc.Condition):
    _c_class = Mproc.Condition

    def __new__(cls, lock=None):
        return Mproc.Condition.new(lock)

    def __init__(self, *args, **kwargs):
        pass

    def wait(self, timeout=None, cancellable=None):
        """Waits to be notified; returns False if ``timeout`` seconds passed
        first (the lock is held again either way)."""
        try:
            return Mproc.Condition.wait(self, _usec(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            raise

    def wait_for(self, predicate, timeout=None, cancellable=None):
        """Waits until ``predicate()`` is true; returns its last value (False
        after ``timeout`` seconds)."""
        return Mproc.Condition.wait_for(self, lambda *data: bool(predicate()), None,
                                        _usec(timeout), cancellable)

    def notify(self, n=1):
        return Mproc.Condition.notify(self, n)


@override
class Event(Mproc.Event):
    def __new__(cls):
        return Mproc.Event.new()

    def __init__(self, *args, **kwargs):
        pass

    def wait(self, timeout=None, cancellable=None):
        """Returns whether the event is set, after at most ``timeout``
        seconds."""
        return Mproc.Event.wait(self, _usec(timeout), cancellable)

    def wait_async(self, timeout=None, cancellable=None, callback=None, *user_data):
        return Mproc.Event.wait_async(self, _usec(timeout), cancellable, callback, *user_data)


@override
class Barrier(Mproc.Barrier):
    def __new__(cls, parties):
        return Mproc.Barrier.new(parties)

    def __init__(self, *args, **kwargs):
        pass

    def wait(self, timeout=None, cancellable=None):
        return Mproc.Barrier.wait(self, _usec(timeout), cancellable)


# --- shared values -------------------------------------------------------------

_TYPECODES = {'?': 'BOOLEAN', 'b': 'BOOLEAN', 'i': 'INT32', 'l': 'INT64', 'q': 'INT64',
              'f': 'FLOAT', 'd': 'DOUBLE'}


def _value_type(typecode):
    if isinstance(typecode, Mproc.ValueType):
        return typecode
    try:
        return getattr(Mproc.ValueType, _TYPECODES[typecode])
    except KeyError:
        raise ValueError(f'unknown typecode {typecode!r} (use ?, i, q, f, d or a Mproc.ValueType)')


def _getter(value_type):
    if value_type == Mproc.ValueType.BOOLEAN:
        return 'boolean'
    if value_type in (Mproc.ValueType.FLOAT, Mproc.ValueType.DOUBLE):
        return 'double'
    return 'int'


@override
class Value(Mproc.Value):
    """``Mproc.Value('i', 0)``, as ``multiprocessing.Value``: ``.value``
    reads and writes it, ``get_lock()`` is its lock (``lock=False``: none)."""

    def __new__(cls, typecode, value=None, lock=True):
        self = Mproc.Value.new(_value_type(typecode), bool(lock))
        if value is not None:
            self.value = value
        return self

    def __init__(self, *args, **kwargs):
        pass

    @property
    def value(self):
        return getattr(self, 'get_' + _getter(self.get_value_type()))()

    @value.setter
    def value(self, v):
        getattr(self, 'set_' + _getter(self.get_value_type()))(v)


@override
class Array(Mproc.Array):
    """``Mproc.Array('d', 10)`` or ``Mproc.Array('i', [1, 2, 3])``, as
    ``multiprocessing.Array``: indexes like a list."""

    def __new__(cls, typecode, size_or_initializer, lock=True):
        value_type = _value_type(typecode)
        items = None
        if isinstance(size_or_initializer, int):
            size = size_or_initializer
        else:
            items = list(size_or_initializer)
            size = len(items)
        self = Mproc.Array.new(value_type, size, bool(lock))
        for i, v in enumerate(items or ()):
            self[i] = v
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __len__(self):
        return self.get_length()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return getattr(self, 'get_' + _getter(self.get_value_type()))(index)

    def __setitem__(self, index, v):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        getattr(self, 'set_' + _getter(self.get_value_type()))(index, v)

    def tolist(self):
        return from_variant(self.get_values())


__all__ += ['Lock', 'RLock', 'Semaphore', 'Condition', 'Event', 'Barrier', 'Value', 'Array']


# --- managers ----------------------------------------------------------------

@override
class Manager(Mproc.Manager):
    """``with Mproc.Manager() as manager:`` starts the server and shuts it
    down; ``manager.dict()``, ``manager.list()`` and
    ``manager.Namespace()`` make shared objects."""

    def __new__(cls, context=None):
        return Mproc.Manager.new_with_context(context) if context is not None else Mproc.Manager.new()

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        if self.get_server_pid() <= 0:
            self.start(None)
        return self

    def __exit__(self, *exc):
        self.shutdown(None)
        return False

    def dict(self, name=None, cancellable=None):
        return Mproc.Dict.new(self, name, cancellable)

    def list(self, name=None, cancellable=None):
        return Mproc.List.new(self, name, cancellable)

    def Namespace(self, name=None, cancellable=None):
        return Mproc.Namespace.new(self, name, cancellable)


def _not_found(error):
    return error.matches(Mproc.error_quark(), Mproc.Error.NOT_FOUND)


@override
class Dict(Mproc.Dict):
    """Indexes like a dict: keys and values are converted to GLib.Variant."""

    def __getitem__(self, key):
        try:
            return from_variant(Mproc.Dict.get(self, to_variant(key), None))
        except GLib.Error as e:
            if _not_found(e):
                raise KeyError(key) from e
            raise

    def __setitem__(self, key, value):
        Mproc.Dict.set(self, to_variant(key), to_variant(value), None)

    def __delitem__(self, key):
        if not Mproc.Dict.remove(self, to_variant(key), None):
            raise KeyError(key)

    def __contains__(self, key):
        ret = Mproc.Dict.contains(self, to_variant(key), None)
        # (ok, answer) until the C boolean return is (skip)ped
        return ret[-1] if isinstance(ret, tuple) else ret

    def __len__(self):
        return Mproc.Dict.len(self, None)

    def copy(self):
        """The contents as a Python dict (one round trip)."""
        return dict(from_variant(Mproc.Dict.items(self, None)))


@override
class List(Mproc.List):
    """Indexes like a list: values are converted to GLib.Variant."""

    def __getitem__(self, index):
        return from_variant(Mproc.List.get(self, index, None))

    def __setitem__(self, index, value):
        Mproc.List.set(self, index, to_variant(value), None)

    def __len__(self):
        return Mproc.List.len(self, None)

    def append(self, value, cancellable=None):
        return Mproc.List.append(self, to_variant(value), cancellable)

    def remove(self, value, cancellable=None):
        return Mproc.List.remove(self, to_variant(value), cancellable)

    def copy(self):
        """The contents as a Python list (one round trip)."""
        return from_variant(Mproc.List.slice(self, 0, GLib.MAXINT32, None))


@override
class Namespace(Mproc.Namespace):
    """``get()`` and ``set()`` take Python values; reading a name that is not
    set raises GLib.Error NOT_FOUND."""

    def get(self, name, cancellable=None):
        return from_variant(Mproc.Namespace.get(self, name, cancellable))

    def set(self, name, value, cancellable=None):
        return Mproc.Namespace.set(self, name, to_variant(value), cancellable)

    def has(self, name, cancellable=None):
        """Whether ``name`` is set, as ``hasattr()``."""
        ret = Mproc.Namespace.has(self, name, cancellable)
        return ret[-1] if isinstance(ret, tuple) else ret


__all__ += ['Manager', 'Dict', 'List', 'Namespace']


# --- pools -------------------------------------------------------------------

def _task_name(func):
    if isinstance(func, str):
        return func
    name = _target_names.get(func)
    if name is None:
        raise ValueError(f'{_default_name(func)} is not registered: decorate it with '
                         '@Mproc.register_task before Mproc.init()')
    return name


def _items(iterable):
    return iterable if isinstance(iterable, GLib.Variant) else to_variant(list(iterable))


@override
class Pool(Mproc.Pool):
    """``Mproc.Pool(processes=None, initializer=None, initargs=None,
    maxtasksperchild=None, context=None, **properties)``; tasks are functions
    registered with ``@Mproc.register_task`` (or their names); other
    properties by name (``nice=10``, ``memory_limit=2**30``…)."""

    def __new__(cls, processes=None, initializer=None, initargs=None, maxtasksperchild=None,
                context=None, **properties):
        if not properties:
            return Mproc.Pool.new_full(context, processes or 0,
                                       None if initializer is None else _task_name(initializer),
                                       None if initargs is None else to_variant(initargs),
                                       maxtasksperchild or 0)
        pool = GObject.new(Mproc.Pool, context=context, processes=processes or 0,
                           initializer=None if initializer is None else _task_name(initializer),
                           initargs=None if initargs is None else to_variant(initargs),
                           maxtasksperchild=maxtasksperchild or 0, **properties)
        pool.init(None)
        return pool

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.terminate()
        return False

    def map(self, func, iterable, chunksize=0, timeout=None, cancellable=None):
        """Results in input order, as a list."""
        return from_variant(Mproc.Pool.map(self, _task_name(func), _items(iterable),
                                           chunksize, _usec(timeout), cancellable))

    def map_async(self, func, iterable, chunksize=0, timeout=None, cancellable=None,
                  callback=None, *user_data, progress=None):
        """``callback(pool, result)`` gets the list from ``map_finish(result)``;
        ``progress(n_done, n_items, None)`` follows the call."""
        kwargs = {'callback': callback}
        if user_data:
            kwargs['user_data'] = user_data[0] if len(user_data) == 1 else user_data
        if progress is not None:
            kwargs['progress_func'] = progress
        return Mproc.Pool.map_async(self, _task_name(func), _items(iterable), chunksize,
                                    _usec(timeout), cancellable, **kwargs)

    def map_finish(self, result):
        return from_variant(Mproc.Pool.map_finish(self, result))

    def apply(self, func, arg=None, timeout=None, cancellable=None):
        return from_variant(Mproc.Pool.apply(self, _task_name(func), to_variant(arg),
                                             _usec(timeout), cancellable))

    def join(self, timeout=None, cancellable=None):
        return Mproc.Pool.join(self, _usec(timeout), cancellable)


__all__.append('Pool')
