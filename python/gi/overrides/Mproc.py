# PyGObject override for the Mproc-1 namespace (mproc-glib).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""``from gi.repository import Mproc``: a drop-in for ``multiprocessing``.

A program written for Python's ``multiprocessing`` runs on Mproc with only
its import changed, wherever its values are plain data:

- ``Process``, ``Queue``, ``JoinableQueue``, ``SimpleQueue``, ``Pipe``,
  ``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Event``,
  ``Condition``, ``Barrier``, ``Value``, ``Array``, ``RawValue``,
  ``RawArray``, ``Manager``, ``Pool``, ``cpu_count()``,
  ``current_process()``, ``parent_process()``, ``active_children()``,
  ``get_context()``, ``set_start_method()``, ``get_start_method()``,
  ``get_all_start_methods()``, ``connection.wait()`` take Python's
  arguments (``block``, ``timeout`` in seconds) and return what Python's do.
- Functions travel by reference, as pickle sends them: a module-level
  function needs no registration within the program's own processes and
  pools; under fork any callable (a lambda, a closure) is a ``Process``
  target, with any arguments. Spawn and forkserver children import the main
  script as ``__mp_main__``, so its ``if __name__ == '__main__':`` block
  does not run there. ``@Mproc.register_target`` and
  ``@Mproc.register_task`` remain for what other programs may call (D-Bus
  exports): a reference is honoured only with this program's secret.
- Errors are Python's: ``queue.Empty``/``queue.Full``, ``EOFError``,
  ``threading.BrokenBarrierError``, ``TimeoutError``, ``KeyError``,
  ``IndexError``, ``AttributeError``, ``ValueError``; a task's exception is
  raised again in the caller with the remote traceback as ``__cause__``.
  Each is a ``GLib.Error`` too (``e.domain``, ``e.code``, ``e.matches()``).
- Values are converted to ``GLib.Variant`` and back exactly: None, bool,
  int of any size, float, complex, str, bytes, bytearray, tuple, list, dict,
  set, frozenset, range, nested; instances of module-level classes by their
  ``__dict__``. ``bytes`` travel as ``GLib.Bytes``, lists of ints or floats
  as packed arrays.

What Python lacks is kept: ``Gio.Cancellable`` arguments, the ``_async``
methods of the library, ``progress=`` on pool maps, a dead pool worker as
an exception.
"""

import array as _array
import builtins
import collections.abc
import importlib
import os
import queue as _queue
import secrets
import signal
import sys
import threading
import time
import traceback
import types

from gi.repository import Gio, GLib, GObject

from ..overrides import override
from ..module import get_introspection_module

Mproc = get_introspection_module('Mproc')

__all__ = []

_BOOTSTRAP_ENV = 'MPROC_BOOTSTRAP'
_TOKEN_ENV = 'MPROC_PYTHON_TOKEN'
_ARGS_MAGIC = 'mproc-python-args-1'       # registered targets
_CALL_MAGIC = 'mproc-python-call:'        # by reference, followed by the reference
_ARGS_TYPE = '(saiava{sv})'
_PY_TARGET = 'mproc-python'               # the target of every Pythonic process
_CODES_KEY = ' mproc-typecodes'           # in a Process's kwargs: no identifier

# A reference to code (a function, a class) received in a value is honoured
# only with this secret, which the program's own children inherit: a peer
# that merely shares a queue cannot make this process import anything.
_TOKEN = os.environ.get(_TOKEN_ENV) or secrets.token_hex(16)
os.environ[_TOKEN_ENV] = _TOKEN


# --- errors ------------------------------------------------------------------

class ProcessError(Exception):
    """The base of multiprocessing's own exceptions."""


class BufferTooShort(ProcessError):
    """``recv_bytes_into()`` was given a buffer too small for the message;
    ``args[0]`` is the message."""


class TimeoutError(ProcessError, builtins.TimeoutError):
    """A result did not arrive in time (``AsyncResult.get(timeout)``)."""


class AuthenticationError(ProcessError):
    """A peer failed authentication."""


class RemoteTraceback(Exception):
    """The ``__cause__`` of a task's exception: the traceback in the worker."""

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return self.tb


__all__ += ['ProcessError', 'BufferTooShort', 'TimeoutError', 'AuthenticationError',
            'RemoteTraceback']

_error_classes = {}


def _error_class(base):
    """``base`` that is also a GLib.Error, made once per base."""
    cls = _error_classes.get(base)
    if cls is None:
        if issubclass(base, GLib.Error):
            cls = base
        elif issubclass(GLib.Error, base):
            # GLib.Error is a RuntimeError already: no class can put
            # RuntimeError before it
            cls = GLib.Error
        else:
            cls = type(base.__name__, (base, GLib.Error), {
                '__module__': base.__module__,
                '__qualname__': base.__qualname__,
                '__init__': lambda self, *args: base.__init__(self, *args),
                '__str__': base.__str__,
                '__repr__': base.__repr__,
                '__reduce__': BaseException.__reduce__,
            })
        _error_classes[base] = cls
    return cls


def _as(base, error, *args):
    """``error`` (a GLib.Error) as an instance of ``base`` that is still a
    GLib.Error with the same domain, code and message."""
    cls = _error_class(base)
    e = cls.__new__(cls, *(args or (error.message,)))
    BaseException.__init__(e, *(args or (error.message,)))
    e.message, e.domain, e.code = error.message, error.domain, error.code
    e.__cause__ = None
    return e


def _bad_argument(message):
    """Python's ValueError for misuse that the library reports as
    G_IO_ERROR_INVALID_ARGUMENT, catchable as either."""
    return _as(ValueError, GLib.Error.new_literal(Gio.io_error_quark(), message,
                                                  int(Gio.IOErrorEnum.INVALID_ARGUMENT)))


def _mproc_error(base, message, code):
    """``base`` raised by the override itself, catchable as the GLib.Error
    of the library's domain it stands for."""
    return _as(base, GLib.Error.new_literal(Mproc.error_quark(), message, int(code)))


def _code(error):
    if isinstance(error, GLib.Error) and error.domain == 'mproc-error-quark':
        return error.code
    return None


_E = Mproc.Error


def _timed_out(error):
    return _code(error) == int(_E.TIMED_OUT)


def _translate(error, table=None):
    """Python's exception for a GLib.Error of the Mproc domain; ``table``
    maps codes to exception classes for the call at hand."""
    code = _code(error)
    if code is None:
        return error
    if table and code in table:
        base = table[code]
    else:
        base = _DEFAULT_ERRORS.get(code)
    if base is None:
        return error
    return _as(base, error)


def _raise(error, table=None):
    e = _translate(error, table)
    if e is error:
        raise error
    raise e from None


__all__ += []


# --- values ------------------------------------------------------------------

_VT_AY = GLib.VariantType.new('ay')
_VT_AX = GLib.VariantType.new('ax')
_VT_AD = GLib.VariantType.new('ad')
_VT_V = GLib.VariantType.new('v')
_VT_S = GLib.VariantType.new('s')
_NONE = None
_TAG = 'mproc:'

_new_int64 = GLib.Variant.new_int64
_new_double = GLib.Variant.new_double
_new_string = GLib.Variant.new_string
_new_boolean = GLib.Variant.new_boolean
_new_variant = GLib.Variant.new_variant
_new_from_bytes = GLib.Variant.new_from_bytes
_new_array = GLib.Variant.new_array
_new_tuple = GLib.Variant.new_tuple
_Bytes = GLib.Bytes.new

# While a Process's arguments are encoded: the shared objects found in them.
_encoding = threading.local()


def _tagged(kind, payload):
    return _new_tuple(_new_string(_TAG + kind), _new_variant(payload))


def _none():
    global _NONE
    if _NONE is None:
        _NONE = GLib.Variant.new_maybe(_VT_V, None)
    return _NONE


def _bytes_variant(data):
    return _new_from_bytes(_VT_AY, _Bytes(data), True)


def _reference(obj):
    """module:qualname of a function or class that can be found again by
    importing its module, or None."""
    module = getattr(obj, '__module__', None)
    qualname = getattr(obj, '__qualname__', None)
    if module is None or qualname is None or '<' in qualname:
        return None
    if module == '__mp_main__':
        module = '__main__'
    try:
        found = _resolve(module, qualname)
    except Exception:
        return None
    return f'{module}:{qualname}' if found is obj else None


def _resolve(module, qualname):
    if module in ('__main__', '__mp_main__'):
        mod = sys.modules.get('__mp_main__') or sys.modules['__main__']
    else:
        mod = sys.modules.get(module) or importlib.import_module(module)
    obj = mod
    for part in qualname.split('.'):
        obj = getattr(obj, part)
    return obj


def _list_variant(value):
    n = len(value)
    if n:
        kinds = set(map(type, value))
        if len(kinds) == 1:
            kind = kinds.pop()
            try:
                if kind is int:
                    return _new_from_bytes(_VT_AX, _Bytes(_array.array('q', value).tobytes()), True)
                if kind is float:
                    return _new_from_bytes(_VT_AD, _Bytes(_array.array('d', value).tobytes()), True)
            except OverflowError:
                pass
    children = [to_variant(v) for v in value]
    if n:
        types_ = {c.get_type_string() for c in children}
        if len(types_) == 1:
            return _new_array(GLib.VariantType.new(types_.pop()), children)
    return _new_array(_VT_V, [_new_variant(c) for c in children])


def _dict_variant(value):
    if value:
        kinds = set(map(type, value))
        if len(kinds) == 1:
            kind = kinds.pop()
            key = {str: ('s', _new_string), int: ('x', _new_int64), float: ('d', _new_double),
                   bool: ('b', _new_boolean)}.get(kind)
            if key is not None:
                try:
                    entries = [GLib.Variant.new_dict_entry(key[1](k), _new_variant(to_variant(v)))
                               for k, v in value.items()]
                    return _new_array(GLib.VariantType.new('{%sv}' % key[0]), entries)
                except OverflowError:
                    pass
    else:
        return GLib.Variant('a{sv}', {})
    return _tagged('dict', _new_array(GLib.VariantType.new('(vv)'), [
        _new_tuple(_new_variant(to_variant(k)), _new_variant(to_variant(v)))
        for k, v in value.items()]))


def to_variant(value):
    """Converts a Python value to a GLib.Variant that ``from_variant()``
    turns back into an equal value of the same type.

    Natural types first, which C and GJS peers read as they are: bool ``b``,
    int ``x``, float ``d``, str ``s``, bytes ``ay``, None ``mv``, tuple
    ``(…)``, list ``aT`` (packed for ints and floats; ``av`` when mixed), dict
    with keys of one basic type ``a{Kv}``. What GVariant has no type for is
    tagged ``(sv)``: big ints, complex, bytearray, set, frozenset, range, dicts
    with mixed keys, module-level functions and classes (by reference) and
    instances of module-level classes (by their ``__dict__``). An object with
    a ``to_variant()`` method converts itself; a GLib.Variant is kept."""
    t = type(value)
    if t is int:
        if -0x8000000000000000 <= value <= 0x7fffffffffffffff:
            return _new_int64(value)
        return _tagged('int', _new_string(str(value)))
    if t is str:
        return _new_string(value)
    if t is bytes:
        return _bytes_variant(value)
    if t is float:
        return _new_double(value)
    if t is bool:
        return _new_boolean(value)
    if value is None:
        return _none()
    if t is tuple:
        return _new_tuple(*[to_variant(v) for v in value]) if value else GLib.Variant('()', ())
    if t is list:
        return _list_variant(value)
    if t is dict:
        return _dict_variant(value)
    if isinstance(value, GLib.Variant):
        return value
    if t is bytearray:
        return _tagged('bytearray', _bytes_variant(bytes(value)))
    if t is complex:
        return _tagged('complex', _new_tuple(_new_double(value.real), _new_double(value.imag)))
    if t is set or t is frozenset:
        return _tagged(t.__name__, _list_variant(list(value)))
    if t is range:
        return _tagged('range', _new_tuple(_new_int64(value.start), _new_int64(value.stop),
                                           _new_int64(value.step)))
    if isinstance(value, Mproc.Shareable):
        sink = getattr(_encoding, 'objects', None)
        if sink is None:
            raise TypeError(f'a shared {type(value).__name__} cannot be sent as a value: pass it '
                            'in the args of a Process (or give the child its own)')
        sink.append(value)
        return _tagged('object', _new_int64(len(sink) - 1))
    if hasattr(value, 'to_variant'):
        return value.to_variant()
    if isinstance(value, BaseException):
        return _exception_variant(value)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        ref = _reference(value)
        if ref is not None:
            return _tagged('ref', _new_tuple(_new_string(_TOKEN), _new_string(ref)))
        raise TypeError(f'cannot send {value!r} to another process: only functions and classes '
                        'defined at the top level of a module travel (by reference); under the fork '
                        'start method pass it in the args of a Process')
    if isinstance(value, (list, tuple, dict, int, float, str, bytes)):
        # subclasses travel as their base type
        for base in (bool, int, float, str, bytes, tuple, list, dict):
            if isinstance(value, base):
                return to_variant(base(value))
    state = getattr(value, '__dict__', None)
    ref = _reference(t)
    if state is not None and ref is not None and not isinstance(value, GLib.Object):
        return _tagged('instance', _new_tuple(_new_string(_TOKEN), _new_string(ref),
                                              _dict_variant(dict(state))))
    raise TypeError(f'cannot send a {t.__module__}.{t.__qualname__} object to another process: '
                    'it is not plain data (None, bool, int, float, complex, str, bytes, bytearray, '
                    'tuple, list, dict, set, frozenset) nor an instance of a class defined at the '
                    'top level of a module; convert it to plain data first, or give its class a '
                    'to_variant() method')


def _check_token(token):
    if token != _TOKEN:
        raise ValueError('a value names code of another program: refused')


def _decode_tagged(kind, payload):
    if kind == 'int':
        return int(payload.get_string())
    if kind == 'bytearray':
        return bytearray(payload.get_data_as_bytes().get_data())
    if kind == 'complex':
        return complex(payload.get_child_value(0).get_double(), payload.get_child_value(1).get_double())
    if kind == 'set':
        return set(from_variant(payload))
    if kind == 'frozenset':
        return frozenset(from_variant(payload))
    if kind == 'range':
        return range(*(payload.get_child_value(i).get_int64() for i in range(3)))
    if kind == 'dict':
        ret = {}
        for i in range(payload.n_children()):
            pair = payload.get_child_value(i)
            ret[from_variant(pair.get_child_value(0))] = from_variant(pair.get_child_value(1))
        return ret
    if kind == 'object':
        objects = getattr(_encoding, 'received', None)
        if objects is None:
            raise ValueError('a shared object reference outside of process arguments')
        return objects[payload.get_int64()]
    if kind == 'ref':
        module, qualname = payload.get_child_value(1).get_string().split(':', 1)
        if module == 'builtins' and '.' not in qualname:
            # a built-in type (float, int…) is data, from any program
            found = getattr(builtins, qualname, None)
            if isinstance(found, type):
                return found
        _check_token(payload.get_child_value(0).get_string())
        return _resolve(module, qualname)
    if kind == 'instance':
        _check_token(payload.get_child_value(0).get_string())
        cls = _resolve(*payload.get_child_value(1).get_string().split(':', 1))
        obj = cls.__new__(cls)
        obj.__dict__.update(from_variant(payload.get_child_value(2)))
        return obj
    if kind == 'exception':
        return _exception_from_variant(payload)
    raise ValueError(f'unknown tagged value {kind!r}')


def from_variant(variant):
    """Converts a GLib.Variant (or None) to the Python value it holds: the
    inverse of ``to_variant()``."""
    if variant is None:
        return None
    if not isinstance(variant, GLib.Variant):
        return variant
    t = variant.get_type_string()
    c = t[0]
    if c == 'x':
        return variant.get_int64()
    if c == 's':
        return variant.get_string()
    if c == 'v':
        return from_variant(variant.get_variant())
    if c == 'd':
        return variant.get_double()
    if c == 'b':
        return variant.get_boolean()
    if c == 'a':
        if t == 'ay':
            return variant.get_data_as_bytes().get_data()
        if t == 'ax':
            return _array.array('q', variant.get_data_as_bytes().get_data()).tolist()
        if t == 'ad':
            return _array.array('d', variant.get_data_as_bytes().get_data()).tolist()
        n = variant.n_children()
        if t[1] == '{':
            ret = {}
            for i in range(n):
                e = variant.get_child_value(i)
                ret[from_variant(e.get_child_value(0))] = from_variant(e.get_child_value(1))
            return ret
        if t == 'av':
            return [from_variant(variant.get_child_value(i).get_variant()) for i in range(n)]
        return [from_variant(variant.get_child_value(i)) for i in range(n)]
    if c == 'm':
        return None if variant.n_children() == 0 else from_variant(variant.get_child_value(0))
    if c == '(':
        n = variant.n_children()
        if t == '(sv)':
            kind = variant.get_child_value(0).get_string()
            if kind.startswith(_TAG):
                return _decode_tagged(kind[len(_TAG):], variant.get_child_value(1).get_variant())
        return tuple(from_variant(variant.get_child_value(i)) for i in range(n))
    return variant.unpack()


def _usec(timeout):
    """Seconds (None: for ever; negative: no wait) to the library's µs."""
    if timeout is None:
        return -1
    if timeout < 0:
        return 0
    return int(timeout * 1000000)


def _usec_ever(timeout):
    """For the library's own timeouts: negative waits for ever."""
    return -1 if timeout is None or timeout < 0 else int(timeout * 1000000)


__all__ += ['to_variant', 'from_variant']


# --- exceptions of tasks, as values -----------------------------------------

def _exception_variant(e):
    """An exception with its type, arguments and traceback text."""
    tb = getattr(e, '_mproc_tb', None) or ''.join(traceback.format_exception(type(e), e, e.__traceback__))
    ref = _reference(type(e)) or f'builtins:{_builtin_base(type(e)).__name__}'
    try:
        args = to_variant(tuple(e.args))
    except TypeError:
        args = to_variant(tuple(str(a) for a in e.args))
    domain, code = ('', 0)
    if isinstance(e, GLib.Error):
        domain, code = e.domain, e.code
        args = to_variant((e.message,))
    return _tagged('exception', _new_tuple(_new_string(_TOKEN), _new_string(ref), args,
                                           _new_string(tb), _new_string(domain),
                                           _new_int64(code)))


def _builtin_base(cls):
    for base in cls.__mro__:
        if getattr(builtins, base.__name__, None) is base:
            return base
    return Exception


def _exception_from_variant(payload):
    token = payload.get_child_value(0).get_string()
    ref = payload.get_child_value(1).get_string()
    args = from_variant(payload.get_child_value(2))
    tb = payload.get_child_value(3).get_string()
    domain = payload.get_child_value(4).get_string()
    code = payload.get_child_value(5).get_int64()
    if domain:
        e = GLib.Error(args[0] if args else '', domain, code)
    else:
        module, qualname = ref.split(':', 1)
        cls = None
        if module == 'builtins' or token == _TOKEN:
            try:
                cls = _resolve(module, qualname)
            except Exception:
                cls = None
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            cls = Exception
        try:
            e = cls(*args)
        except Exception:
            e = Exception(*args)
        if not isinstance(e, GLib.Error):
            message = f'{qualname}: {e}'
            try:
                e.domain, e.code, e.message = 'mproc-error-quark', int(_E.FAILED), message
            except (AttributeError, TypeError):
                pass
    e.__cause__ = RemoteTraceback(f'\n"""\n{tb}"""')
    return e


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


# --- children started by spawn and forkserver --------------------------------
#
# They run `python3 -c <bootstrap> argv…`: the bootstrap, which names the
# parent's main script, imports it as __mp_main__ (its __main__ block does not
# run), then calls mproc_init(), which runs the target (or the fork server).
# The script's own argv follows, so that the library names the child after
# the script ("script: Process-1").

_BOOTSTRAP_CODE = ('import gi; gi.require_version("Mproc", "1"); '
                   'from gi.repository import Mproc; '
                   'import gi.overrides.Mproc as m; m._child_main({!r}, {!r})')
_bootstrapping = False
_main_kind = _main_value = None


def _interpreter_flags():
    try:
        import subprocess
        return subprocess._args_from_interpreter_flags()
    except Exception:
        return []


def _set_child_argv(kind, value, argv):
    global _main_kind, _main_value
    _main_kind, _main_value = kind, value
    try:
        same = os.path.realpath(sys.executable) == os.path.realpath('/proc/self/exe')
    except OSError:
        same = False
    if not same or not hasattr(Mproc, 'set_child_argv'):
        return      # an interpreter embedded in another program: it runs main() again
    Mproc.set_child_argv([sys.executable, *_interpreter_flags(),
                          '-c', _BOOTSTRAP_CODE.format(kind, value), *argv])


def _describe_main():
    main = sys.modules.get('__main__')
    spec = getattr(main, '__spec__', None)
    path = getattr(main, '__file__', None)
    if spec is not None and spec.name not in ('__main__', None) and not spec.name.endswith('.__main__'):
        return 'module', spec.name
    if path and os.path.exists(path):
        return 'path', os.path.abspath(path)
    return 'none', ''


def _import_main(kind, value):
    if kind == 'path':
        sys.path[0] = os.path.dirname(value)
        module = types.ModuleType('__mp_main__')
        module.__file__ = value
        module.__builtins__ = builtins
        sys.modules['__mp_main__'] = sys.modules['__main__'] = module
        with open(value, 'rb') as f:
            code = compile(f.read(), value, 'exec')
        exec(code, module.__dict__)
    elif kind == 'module':
        import runpy
        globals_ = runpy.run_module(value, run_name='__mp_main__', alter_sys=False)
        module = types.ModuleType('__mp_main__')
        module.__dict__.update(globals_)
        sys.modules['__mp_main__'] = sys.modules['__main__'] = module


def _child_main(kind, value):
    """The bootstrap of a spawned or forkserver child."""
    global _bootstrapping
    del sys.argv[:1]    # '-c'; the parent's argv follows
    _set_child_argv(kind, value, sys.argv)
    _bootstrapping = True
    try:
        _import_main(kind, value)
    finally:
        _bootstrapping = False
    Mproc.init(list(sys.argv))
    sys.exit(1)     # mproc_init() returns only if this is no child


def _set_up_parent():
    if os.environ.get(_BOOTSTRAP_ENV):
        return
    kind, value = _describe_main()
    _set_child_argv(kind, value, list(sys.argv))
    Mproc.init(list(sys.argv))


# --- targets and tasks -------------------------------------------------------

def _exit_code(func, *args, returns_code=False, **kwargs):
    """Runs a target as multiprocessing does: 0, the code of sys.exit(), or 1
    with the traceback printed when it raises."""
    _enter_child()
    try:
        result = func(*args, **kwargs)
        if returns_code and isinstance(result, int) and not isinstance(result, bool):
            return result
        return 0
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:
        name = Mproc.current_process().get_name()
        sys.stderr.write(f'Process {name}:\n')
        traceback.print_exc()
        return 1
    finally:
        # The child leaves with _exit(): Python's buffers are flushed here.
        _flush_std_streams()


_by_id = {}     # under fork: what a child finds in the memory it inherited


def _decode_args(process, args):
    """(function reference, positional, keyword) arguments of a Pythonic
    target; the reference is None for a registered target."""
    if args is None:
        return None, (), {}
    magic = args.get_child_value(0).get_string() if args.get_type_string() == _ARGS_TYPE else None
    if magic == _ARGS_MAGIC or (magic or '').startswith(_CALL_MAGIC):
        objects = [process.get_object(i) for i in range(process.get_n_objects())]
        slots = args.get_child_value(1).unpack()
        _encoding.received = objects
        try:
            values = iter(from_variant(args.get_child_value(2)))
            kwargs = from_variant(args.get_child_value(3))
            for obj, code in zip(objects, kwargs.pop(_CODES_KEY, ())):
                if code:
                    obj._setup(code)
            positional = tuple(objects[s] if s >= 0 else next(values) for s in slots)
        finally:
            _encoding.received = None
        ref = magic[len(_CALL_MAGIC):] if magic != _ARGS_MAGIC else None
        return ref, positional, kwargs
    if args.get_type().is_tuple():
        return None, from_variant(args), {}
    return None, (from_variant(args),), {}


def _encode_args(magic, args, kwargs):
    """The args variant and the shared objects of Process(args=…)."""
    slots, values = [], []
    _encoding.objects = objects = []
    try:
        for arg in args:
            if isinstance(arg, Mproc.Shareable):
                slots.append(len(objects))
                objects.append(arg)
            else:
                slots.append(-1)
                values.append(_new_variant(to_variant(arg)))
        kwargs = dict(kwargs or {})
        codes = [getattr(o, '_code', '') for o in objects]
        if any(codes):
            # what the typecode of a Value or Array means (the library
            # knows only its element type)
            kwargs[_CODES_KEY] = codes
        kw = [GLib.Variant.new_dict_entry(_new_string(k), _new_variant(to_variant(v)))
              for k, v in kwargs.items()]
    finally:
        _encoding.objects = None
    variant = _new_tuple(
        _new_string(magic), GLib.Variant('ai', slots), _new_array(_VT_V, values),
        _new_array(GLib.VariantType.new('{sv}'), kw))
    return variant, objects


def _run_python_target(process, args, *data):
    _enter_child()
    ref, positional, kwargs = _decode_args(process, args)
    if ref.startswith('id:'):
        entry = _by_id.get(ref)
        if entry is None:
            print(f'mproc: the target of {process.get_name()} is not in this process', file=sys.stderr)
            return 1
        func, positional, kwargs = entry
        received = iter([process.get_object(i) for i in range(process.get_n_objects())])
        positional = tuple(next(received) if isinstance(a, Mproc.Shareable) else a
                           for a in positional)
    elif ref == 'run:':
        func = process.run
    else:
        try:
            func = _resolve(*ref.split(':', 1))
        except Exception:
            traceback.print_exc()
            return 1
    return _exit_code(func, *positional, **kwargs)


Mproc.register_target(_PY_TARGET, _run_python_target)

_target_names = {}
_pythonic_targets = set()   # names of targets taking Process(args=…) as is


def _default_name(func):
    # the same name in a child, which imports the main script as __mp_main__
    module = '__main__' if func.__module__ == '__mp_main__' else func.__module__
    return f'{module}.{func.__qualname__}'


def register_target(name_or_func=None, func=None, *user_data):
    """Registers a process target under a name, for programs that start it
    by name (a C peer, or ``Mproc.Process(target='name')``). Python
    programs need not register anything: a function is found by reference.

    As a decorator, ``@Mproc.register_target`` or
    ``@Mproc.register_target('name')``: the function receives the ``args``
    (and ``kwargs``) of ``Mproc.Process(target=…, args=…)``, shared objects
    included, and its return value (an int) or ``sys.exit()`` code is the
    exit code. ``Mproc.register_target('name', func)`` registers a function
    with the C signature ``func(process, args)`` (args a GLib.Variant)."""
    if isinstance(name_or_func, str) and func is not None:
        def run_c_style(process, args, *data):
            return _exit_code(func, process, args, *user_data, returns_code=True)
        Mproc.register_target(name_or_func, run_c_style)
        _target_names[func] = name_or_func
        return func

    def decorate(f, name=None):
        name = name or _default_name(f)

        def run(process, args, *data):
            _enter_child()
            _, positional, kwargs = _decode_args(process, args)
            return _exit_code(f, *positional, returns_code=True, **kwargs)
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
                                  int(_E.FAILED))


def _task_result(func, arg):
    _enter_child()
    try:
        return to_variant(func(from_variant(arg)))
    except Exception as e:
        raise _task_error(e) from None
    finally:
        _flush_std_streams()


def register_task(name_or_func=None, func=None, *user_data):
    """Registers a pool task under a name, for peers that call it by name
    (D-Bus exports of a pool). Python pools need not register anything.

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


def init(argv=None):
    """Not needed any more: the override prepares the library when it is
    imported. Kept for programs that call it; it makes forkserver the
    default start method, as ``mproc_init()`` does in C, unless one was
    chosen."""
    if _bootstrapping:
        # A script written for earlier versions, with no __main__ guard:
        # the child runs its target here, as it did then.
        Mproc.init(list(sys.argv))
        sys.exit(1)
    global _default_method
    if _default_method is None and not os.environ.get('MPROC_START_METHOD'):
        _default_method = 'forkserver'
    return None


__all__ += ['register_target', 'register_task', 'init']


# --- pool tasks by reference -------------------------------------------------
#
# A Python function runs in a pool as the task named
# mproc-py:<token>:<mode>:<module>:<qualname>; a worker that does not know
# it asks the resolver below, which imports the module. The token keeps
# D-Bus peers from naming code.

_TASK_PREFIX = f'mproc-py:{_TOKEN}:'


def _make_chunk_task(func, mode):
    if mode == 's':
        def call(item):
            return func(*item)
    elif mode == 'a':
        def call(item):
            return func(*item[0], **item[1])
    else:
        call = func

    def run_chunk(items, *data):
        _enter_child()
        results = []
        append = results.append
        it = iter(from_variant(items))
        try:
            # one loop for the whole chunk; an exception is kept as the
            # item's result and the loop goes on with the next item
            while True:
                try:
                    for item in it:
                        append(call(item))
                    break
                except Exception as e:
                    e._mproc_tb = ''.join(traceback.format_exception(type(e), e, e.__traceback__))
                    append(e)
            return to_variant(results)
        finally:
            _flush_std_streams()
    return run_chunk


_task_cache = {}


def _task_for(func, mode):
    """The task name of a Python function in a pool."""
    key = (func, mode)
    name = _task_cache.get(key)
    if name is not None:
        return name
    ref = _reference(func)
    if ref is None:
        raise _as_pickling_error(func)
    name = _TASK_PREFIX + mode + ':' + ref
    Mproc.register_chunk_task(name, _make_chunk_task(func, mode))
    _task_cache[key] = name
    return name


def _as_pickling_error(func):
    import pickle
    cls = type('PicklingError', (pickle.PicklingError, ValueError), {'__module__': 'pickle'})
    return cls(f"Can't pickle {func!r}: it is not found as {getattr(func, '__module__', '?')}."
               f"{getattr(func, '__qualname__', '?')} (only functions defined at the top level "
               'of a module run in another process, except under fork as a Process target)')


def _resolve_task(name, *data):
    if not name.startswith(_TASK_PREFIX):
        return False
    try:
        mode, module, qualname = name[len(_TASK_PREFIX):].split(':', 2)
        func = _resolve(module, qualname)
    except Exception:
        traceback.print_exc()
        return False
    Mproc.register_chunk_task(name, _make_chunk_task(func, mode))
    return True


if hasattr(Mproc, 'set_task_resolver'):
    Mproc.set_task_resolver(_resolve_task)


# --- contexts and start methods ----------------------------------------------

_METHODS = {'fork': Mproc.StartMethod.FORK, 'spawn': Mproc.StartMethod.SPAWN,
            'forkserver': Mproc.StartMethod.FORKSERVER}
_default_method = None
_contexts = {}


def _method_name(method):
    if isinstance(method, Mproc.StartMethod):
        return method.value_nick
    return method


def _c_context(method=None):
    method = _method_name(method) or get_start_method()
    ctx = _contexts.get(method)
    if ctx is None:
        if method not in _METHODS:
            raise ValueError(f'cannot find context for {method!r}')
        ctx = _contexts[method] = Mproc.Context.new(_METHODS[method])
    return ctx


def _context_arg(context):
    """A context argument: a Mproc.Context, a _Context, a name or None."""
    if context is None:
        return _c_context()
    if isinstance(context, _Context):
        return _c_context(context._method)
    if isinstance(context, (str, Mproc.StartMethod)):
        return _c_context(context)
    return context


def get_start_method(allow_none=False):
    """The default start method: the one set with ``set_start_method()``,
    else ``$MPROC_START_METHOD``, else fork (as Python 3.11 on Linux)."""
    if _default_method is not None:
        return _default_method
    forced = os.environ.get('MPROC_START_METHOD')
    if forced in _METHODS:
        return forced
    return None if allow_none else 'fork'


def set_start_method(method, force=False):
    """Sets the default start method, once (``force=True`` to change it)."""
    global _default_method
    if _default_method is not None and not force:
        raise RuntimeError('context has already been set')
    if method is not None and method not in _METHODS:
        raise ValueError(f'cannot find context for {method!r}')
    _default_method = method


def get_all_start_methods():
    return ['fork', 'spawn', 'forkserver']


def get_context(method=None):
    """A context whose attributes are this module's, for one start method."""
    if method is None:
        return _DefaultContext()
    if method not in _METHODS:
        raise ValueError(f'cannot find context for {method!r}')
    return _Context(method)


def cpu_count():
    return Mproc.cpu_count()


def current_process():
    return Mproc.current_process()


def parent_process():
    return Mproc.parent_process()


def active_children():
    return list(Mproc.active_children())


def freeze_support():
    """Nothing to do: there are no frozen executables here."""


def get_logger():
    import logging
    return logging.getLogger('multiprocessing')


def log_to_stderr(level=None):
    import logging
    logger = get_logger()
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter('[%(levelname)s/%(processName)s] %(message)s'))
        logger.addHandler(handler)
    if level:
        logger.setLevel(level)
    return logger


def allow_connection_pickling():
    """Nothing to do: connections travel in a Process's args."""


def set_executable(executable):
    """Not supported: children run this interpreter."""


def set_forkserver_preload(module_names):
    """Modules the fork server imports before forking (it imports the main
    script anyway)."""
    for name in module_names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


__all__ += ['get_start_method', 'set_start_method', 'get_all_start_methods', 'get_context',
            'cpu_count', 'current_process', 'parent_process', 'active_children',
            'freeze_support', 'get_logger', 'log_to_stderr', 'allow_connection_pickling',
            'set_executable', 'set_forkserver_preload']


# --- processes ---------------------------------------------------------------

_STATE_NAMES = {True: 'started'}


@override
class Process(Mproc.Process):
    """``Mproc.Process(group=None, target=None, name=None, args=(),
    kwargs={}, *, daemon=None, context=None)``, as
    ``multiprocessing.Process``. ``target`` is a function (found by
    reference; under fork any callable, its arguments anything) or the name
    of a registered target. A subclass may override ``run()``."""

    def __init__(self, group=None, target=None, name=None, args=(), kwargs=None, *,
                 daemon=None, context=None, **properties):
        if group is not None and target is None and (callable(group) or isinstance(group, str)):
            target, group = group, None     # Process('name') of earlier versions
        if group is not None:
            raise ValueError('group argument must be None for now')
        ctx = _context_arg(context or getattr(type(self), '_mproc_method', None))
        method = ctx.get_start_method()
        objects = []
        args = tuple(args) if not isinstance(args, GLib.Variant) else args
        kwargs = dict(kwargs or {})
        self_run = type(self).run is not Process.run
        if callable(target) and target in _target_names:
            target = _target_names[target]      # registered: its return value is the exit code
        if isinstance(target, str):
            properties['target'] = target
            if isinstance(args, GLib.Variant):
                variant = args
            elif not args and not kwargs:
                variant = None
            elif target in _pythonic_targets:
                variant, objects = _encode_args(_ARGS_MAGIC, args, kwargs)
            else:
                # a C-style target gets plain values and finds objects with get_object()
                variant = to_variant(tuple(a for a in args if not isinstance(a, Mproc.Shareable)))
                objects = [a for a in args if isinstance(a, Mproc.Shareable)]
        elif target is None and not self_run:
            variant = args if isinstance(args, GLib.Variant) else None
        else:
            properties['target'] = _PY_TARGET
            ref = 'run:' if target is None else None
            if ref is None and method != Mproc.StartMethod.FORK:
                ref = _reference(target)
                if ref is None:
                    raise _as_pickling_error(target)
            if ref is None:
                # fork: the child finds the target and its arguments in the
                # memory it inherits, whatever they are
                ref = f'id:{id(self):x}:{len(_by_id)}'
                _by_id[ref] = (target, args, kwargs)
                variant, _ = _encode_args(_CALL_MAGIC + ref, (), {})
                # shared objects in args still travel as the library hands
                # them over: a child's handle is made for it
                objects = [a for a in args if isinstance(a, Mproc.Shareable)]
            else:
                variant, objects = _encode_args(_CALL_MAGIC + ref, args, kwargs)
        properties['context'] = ctx
        if variant is not None:
            properties['args'] = variant
        super().__init__(**properties)
        self._target, self._args, self._kwargs = target, args, kwargs
        if name is not None:
            self.set_name(str(name))
        if daemon is not None:
            self.set_daemon(daemon)
        elif _current_is_daemon():
            self.set_daemon(True)
        for obj in objects:
            self.add_object(obj)
        self._started = False

    def __init_subclass__(cls, **kwargs):
        # A subclass's do_run() runs in the child, which leaves with _exit():
        # flush Python's buffers and turn exceptions into exit codes there.
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get('do_run')
        if '__gtype_name__' not in cls.__dict__ and '<' not in cls.__qualname__:
            # the same type name in a spawned child, which imports the main
            # script as __mp_main__
            module = '__main__' if cls.__module__ == '__mp_main__' else cls.__module__
            cls.__gtype_name__ = f'{module}+{cls.__qualname__}'.replace('.', '+')
        if run is not None and not getattr(run, '_mproc_wrapped', False):
            def do_run(self):
                return _exit_code(run, self, returns_code=True)
            do_run._mproc_wrapped = True
            cls.do_run = do_run

    def run(self):
        """What the child runs: the target, with its arguments."""
        target = getattr(self, '_target', None)
        if callable(target):
            target(*self._args, **self._kwargs)

    def start(self):
        try:
            Mproc.Process.start(self)
        except GLib.Error as e:
            _raise(e, {int(_E.INVALID_STATE): AssertionError})
        self._started = True

    name = property(lambda self: self.get_name(), lambda self, v: self.set_name(str(v)))

    @property
    def daemon(self):
        return self.get_daemon()

    @daemon.setter
    def daemon(self, value):
        if self.get_pid() > 0:
            raise AssertionError('process has already started')
        self.set_daemon(bool(value))

    pid = property(lambda self: self.get_pid() or None)
    ident = pid

    @property
    def exitcode(self):
        if self.get_pid() <= 0 or not self.has_exited():
            if self.get_pid() > 0 and self is not Mproc.current_process():
                self.is_alive()     # reaps an exited child, as Python's poll()
                if self.has_exited():
                    return self.get_exit_code()
            return None
        return self.get_exit_code()

    @property
    def authkey(self):
        return os.environ.get(_TOKEN_ENV, '').encode()

    @property
    def sentinel(self):
        raise AttributeError('sentinel is not available: use join() or connection.wait([process])')

    def join(self, timeout=None, cancellable=None):
        """Waits for the process to exit, at most ``timeout`` seconds;
        returns None, as Python's (check ``exitcode``)."""
        try:
            Mproc.Process.join(self, _usec(timeout), cancellable)
        except GLib.Error as e:
            if not _timed_out(e):
                _raise(e, {int(_E.INVALID_STATE): AssertionError})
        return None

    def is_alive(self):
        if self is Mproc.current_process():
            return True
        return Mproc.Process.is_alive(self)

    def terminate(self):
        Mproc.Process.terminate(self)

    def kill(self):
        Mproc.Process.kill(self)

    def close(self):
        try:
            Mproc.Process.close(self)
        except GLib.Error as e:
            _raise(e, {int(_E.STILL_RUNNING): ValueError, int(_E.INVALID_STATE): ValueError})

    def __repr__(self):
        pid = self.get_pid()
        if self is Mproc.current_process():
            status = 'started'
        elif pid <= 0:
            status = 'initial'
        elif self.exitcode is not None:
            code = self.exitcode
            if code < 0:
                try:
                    code = signal.Signals(-code).name
                    code = f'-{code}'
                except ValueError:
                    pass
            status = 'stopped' if code == 0 else f'stopped exitcode={code}'
        else:
            status = 'started'
        info = f"<{type(self).__name__} name='{self.get_name()}'"
        if pid > 0:
            info += f' pid={pid}'
        info += f' parent={os.getpid() if self is not Mproc.current_process() else os.getppid()}'
        return info + f' {status}' + (' daemon>' if self.get_daemon() else '>')


def _current_is_daemon():
    try:
        return Mproc.current_process().get_daemon()
    except Exception:
        return False


__all__.append('Process')


# --- queues ------------------------------------------------------------------

_QUEUE_GET = {int(_E.TIMED_OUT): _queue.Empty, int(_E.EMPTY): _queue.Empty,
              int(_E.CLOSED): ValueError}
_QUEUE_PUT = {int(_E.TIMED_OUT): _queue.Full, int(_E.FULL): _queue.Full,
              int(_E.CLOSED): ValueError}


def _with(mixin, cls):
    """The bases of an override: ``mixin`` unless the parent's override
    has it already."""
    return (cls,) if issubclass(cls, mixin) else (mixin, cls)


_queue_put_int64 = getattr(Mproc.Queue, 'put_int64', None)


class _QueueMethods:
    """Python's put() and get() over the library's."""

    _int64_ok = _queue_put_int64 is not None   # False once a queue has none (Redis)

    def put(self, obj, block=True, timeout=None, cancellable=None):
        if type(obj) is int and block and self._int64_ok and \
                -0x8000000000000000 <= obj <= 0x7fffffffffffffff:
            # the same message as put() of an int64 GVariant, without one
            try:
                _queue_put_int64(self, obj, -1 if timeout is None else _usec(timeout), cancellable)
                return
            except GLib.Error as e:
                if not e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_SUPPORTED):
                    _raise(e, _QUEUE_PUT)
                self._int64_ok = False
        v = to_variant(obj)
        try:
            if block:
                self._c.put(self, v, _usec(timeout), cancellable)
            else:
                self._c.put_nowait(self, v)
        except GLib.Error as e:
            _raise(e, _QUEUE_PUT)

    def get(self, block=True, timeout=None, cancellable=None):
        try:
            if block:
                v = self._c.get(self, _usec(timeout), cancellable)
            else:
                v = self._c.get_nowait(self)
        except GLib.Error as e:
            _raise(e, _QUEUE_GET)
        return from_variant(v)

    def put_nowait(self, obj):
        return self.put(obj, False)

    def get_nowait(self):
        return self.get(False)

    def put_async(self, obj, timeout=None, cancellable=None, callback=None, *user_data):
        return self._c.put_async(self, to_variant(obj), _usec_ever(timeout), cancellable,
                                 callback, *user_data)

    def get_async(self, timeout=None, cancellable=None, callback=None, *user_data):
        return self._c.get_async(self, _usec_ever(timeout), cancellable, callback, *user_data)

    def get_finish(self, result):
        try:
            return from_variant(self._c.get_finish(self, result))
        except GLib.Error as e:
            if _timed_out(e):
                raise
            _raise(e, _QUEUE_GET)

    def qsize(self):
        return self.get_qsize()

    def empty(self):
        return self.is_empty()

    def full(self):
        return self.is_full()

    def close(self):
        self._c.close(self)

    def join_thread(self):
        self._c.join_thread(self)

    def cancel_join_thread(self):
        self._c.cancel_join_thread(self)


@override
class Queue(_QueueMethods, Mproc.Queue):
    """``Mproc.Queue(maxsize=0)``, as ``multiprocessing.Queue``:
    ``put(obj, block=True, timeout=None)``, ``get(block=True,
    timeout=None)`` raising ``queue.Full`` and ``queue.Empty``."""
    _c = Mproc.Queue

    def __new__(cls, maxsize=0, *, ctx=None):
        return Mproc.Queue.new(max(0, maxsize))

    def __init__(self, *args, **kwargs):
        pass


@override
class JoinableQueue(*_with(_QueueMethods, Mproc.JoinableQueue)):
    _c = Mproc.Queue      # the library's put() and get(), not the override's

    def __new__(cls, maxsize=0, *, ctx=None):
        return Mproc.JoinableQueue.new(max(0, maxsize))

    def __init__(self, *args, **kwargs):
        pass

    def task_done(self):
        try:
            Mproc.JoinableQueue.task_done(self)
        except GLib.Error as e:
            _raise(e, {int(_E.TOO_MANY_RELEASES): ValueError, int(_E.INVALID_STATE): ValueError})

    def join(self, timeout=None, cancellable=None):
        """Waits until every item put has been marked done; returns False if
        ``timeout`` seconds passed first (Python's waits for ever)."""
        try:
            Mproc.JoinableQueue.join(self, _usec(timeout), cancellable)
            return None if timeout is None else True
        except GLib.Error as e:
            if _timed_out(e):
                return False
            _raise(e)


@override
class SimpleQueue(Mproc.SimpleQueue):
    def __new__(cls, *, ctx=None):
        return Mproc.SimpleQueue.new()

    def __init__(self, *args, **kwargs):
        pass

    def put(self, obj, cancellable=None):
        try:
            return Mproc.SimpleQueue.put(self, to_variant(obj), cancellable)
        except GLib.Error as e:
            _raise(e, {int(_E.CLOSED): ValueError})

    def get(self, cancellable=None):
        try:
            return from_variant(Mproc.SimpleQueue.get(self, cancellable))
        except GLib.Error as e:
            _raise(e, {int(_E.CLOSED): ValueError})

    def get_finish(self, result):
        return from_variant(Mproc.SimpleQueue.get_finish(self, result))

    def empty(self):
        return self.is_empty()


# --- pipes -------------------------------------------------------------------

_RECV = {int(_E.BROKEN): EOFError, int(_E.CLOSED): OSError}
_SEND = {int(_E.BROKEN): BrokenPipeError, int(_E.CLOSED): OSError}


@override
class Connection(Mproc.Connection):
    """One end of a ``Pipe()``, as ``multiprocessing.connection.Connection``:
    ``send``/``recv`` carry Python values, ``send_bytes``/``recv_bytes``
    bytes, ``poll(timeout)`` waits in seconds; ``recv()`` raises EOFError
    once the other end is closed and everything read."""

    def _check(self, readable=None):
        if self.is_closed():
            raise OSError('handle is closed')
        if readable is True and not self.get_readable():
            raise OSError('connection is write-only')
        if readable is False and not self.get_writable():
            raise OSError('connection is read-only')

    def send(self, obj, cancellable=None):
        self._check(False)
        v = to_variant(obj)
        try:
            Mproc.Connection.send(self, v, cancellable)
        except GLib.Error as e:
            _raise(e, _SEND)

    def recv(self, cancellable=None):
        self._check(True)
        try:
            return from_variant(Mproc.Connection.recv(self, cancellable))
        except GLib.Error as e:
            _raise(e, _RECV)

    def send_bytes(self, buf, offset=0, size=None, cancellable=None):
        """``buf`` is bytes-like or a ``GLib.Bytes`` (sent without a copy)."""
        self._check(False)
        if isinstance(buf, GLib.Bytes):
            data, length = buf, buf.get_size()
        else:
            m = memoryview(buf).cast('B')
            data, length = None, len(m)
        if offset < 0:
            raise _bad_argument('offset is negative')
        if offset > length:
            raise _bad_argument('buffer length < offset')
        if size is None:
            size = length - offset
        elif size < 0:
            raise _bad_argument('size is negative')
        elif offset + size > length:
            raise _bad_argument('buffer length < offset + size')
        if data is None:
            data = _Bytes(buf if isinstance(buf, bytes) else m.tobytes())
        try:
            Mproc.Connection.send_bytes(self, data, offset, size, cancellable)
        except GLib.Error as e:
            _raise(e, _SEND)

    def recv_bytes(self, maxlength=None, cancellable=None):
        self._check(True)
        if maxlength is not None and maxlength < 0:
            raise ValueError('negative maxlength')
        try:
            data = Mproc.Connection.recv_bytes(self, cancellable).get_data()
        except GLib.Error as e:
            _raise(e, _RECV)
        if maxlength is not None and len(data) > maxlength:
            self.close()
            raise OSError('bad message length')
        return data

    def recv_bytes_into(self, buf, offset=0, cancellable=None):
        data = self.recv_bytes(cancellable=cancellable)
        m = memoryview(buf).cast('B')
        if offset < 0 or offset > len(m):
            raise ValueError('offset out of bounds')
        if len(data) > len(m) - offset:
            raise BufferTooShort(data)
        m[offset:offset + len(data)] = data
        return len(data)

    def send_async(self, obj, cancellable=None, callback=None, *user_data):
        return Mproc.Connection.send_async(self, to_variant(obj), cancellable, callback, *user_data)

    def recv_finish(self, result):
        return from_variant(Mproc.Connection.recv_finish(self, result))

    def poll(self, timeout=0.0, cancellable=None):
        self._check(True)
        try:
            return Mproc.Connection.poll(self, _usec(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            _raise(e, _RECV)

    def close(self):
        Mproc.Connection.close(self)

    closed = property(lambda self: self.is_closed())
    readable = property(lambda self: self.get_readable())
    writable = property(lambda self: self.get_writable())

    def fileno(self):
        raise OSError('a Mproc connection has no single file descriptor')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def Pipe(duplex=True):
    """Two connected ``Connection`` ends, as ``multiprocessing.Pipe()``:
    with ``duplex=False`` the first end only receives, the second only
    sends."""
    ret = Mproc.pipe_new(duplex)
    return tuple(ret[-2:])


def _wait(object_list, timeout=None):
    """``multiprocessing.connection.wait()``: the connections (and
    processes) of ``object_list`` that are ready, after at most ``timeout``
    seconds."""
    objects = list(object_list)
    if not objects:
        if timeout:
            time.sleep(timeout)
        return []
    if all(isinstance(o, SocketConnection) for o in objects):
        import select
        ready, _, _ = select.select(objects, [], [], None if timeout is None else max(0.0, timeout))
        return [o for o in objects if o in ready]
    try:
        ready = Mproc.Connection.wait(objects, _usec(timeout), None)
    except GLib.Error as e:
        if _timed_out(e):
            return []
        _raise(e)
    ready = list(ready)
    return [o for o in objects if o in ready]


# --- Listener and Client: connections between programs over a socket --------
#
# Messages are framed by a 4-byte length; a value travels as its GVariant
# type string and serialised data, which names no code (references to
# functions and classes stay refused, as their token is another program's).
# With an authkey both ends prove that they know it (HMAC-SHA256 of a random
# challenge, each way) before anything else is read.

_FRAME = __import__('struct').Struct('!I')
_CHALLENGE = b'#MPROC-CHALLENGE#'


class SocketConnection:
    """A connection made by ``Listener.accept()`` or ``Client()``, as
    ``multiprocessing.connection.Connection``: ``send``/``recv``,
    ``send_bytes``/``recv_bytes``/``recv_bytes_into``, ``poll``, ``close``,
    ``fileno``, ``with``."""

    def __init__(self, sock):
        self._sock = sock

    def _checked(self):
        if self._sock is None:
            raise OSError('handle is closed')
        return self._sock

    closed = property(lambda self: self._sock is None)
    readable = writable = property(lambda self: True)

    def fileno(self):
        return self._checked().fileno()

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_bytes(self, buf, offset=0, size=None):
        m = memoryview(buf).cast('B')
        if offset < 0 or offset > len(m):
            raise ValueError('buffer length < offset')
        if size is None:
            size = len(m) - offset
        if size < 0 or offset + size > len(m):
            raise ValueError('buffer length < offset + size')
        self._checked().sendall(_FRAME.pack(size) + m[offset:offset + size].tobytes())

    def _read(self, n):
        sock, chunks = self._checked(), []
        while n > 0:
            chunk = sock.recv(n)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b''.join(chunks)

    def recv_bytes(self, maxlength=None):
        size, = _FRAME.unpack(self._read(_FRAME.size))
        if maxlength is not None and size > maxlength:
            self.close()
            raise OSError('bad message length')
        return self._read(size)

    def recv_bytes_into(self, buf, offset=0):
        data = self.recv_bytes()
        m = memoryview(buf).cast('B')
        if offset < 0 or offset > len(m):
            raise ValueError('offset out of bounds')
        if len(data) > len(m) - offset:
            raise BufferTooShort(data)
        m[offset:offset + len(data)] = data
        return len(data)

    def send(self, obj):
        v = to_variant(obj)
        self.send_bytes(v.get_type_string().encode() + b'\0' + v.get_data_as_bytes().get_data())

    def recv(self):
        data = self.recv_bytes()
        type_string, _, payload = data.partition(b'\0')
        try:
            vtype = GLib.VariantType.new(type_string.decode())
        except Exception:
            raise ValueError('not a value') from None
        v = GLib.Variant.new_from_bytes(vtype, GLib.Bytes.new(payload), False)
        if not v.is_normal_form():
            raise ValueError('not a value')
        return from_variant(v)

    def poll(self, timeout=0.0):
        import select
        ready, _, _ = select.select([self._checked()], [], [], None if timeout is None else
                                    max(0.0, timeout))
        return bool(ready)


def _address_family(address, family=None):
    import socket
    if family is not None:
        return getattr(socket, family) if isinstance(family, str) else family
    if isinstance(address, tuple):
        return socket.AF_INET6 if ':' in address[0] else socket.AF_INET
    return socket.AF_UNIX


def _digest(authkey, message):
    import hmac
    return hmac.new(authkey, message, 'sha256').digest()


def _prove(conn, authkey):
    """Answers the other end's challenge."""
    challenge = conn.recv_bytes(256)
    if not challenge.startswith(_CHALLENGE):
        raise AuthenticationError('the other end sent no challenge')
    conn.send_bytes(_digest(authkey, challenge))
    if conn.recv_bytes(256) != b'#WELCOME#':
        raise AuthenticationError('digest sent was rejected')


def _challenge(conn, authkey):
    """Checks that the other end knows authkey."""
    import hmac
    challenge = _CHALLENGE + secrets.token_bytes(32)
    conn.send_bytes(challenge)
    if not hmac.compare_digest(conn.recv_bytes(256), _digest(authkey, challenge)):
        conn.send_bytes(b'#FAILURE#')
        raise AuthenticationError('digest received was wrong')
    conn.send_bytes(b'#WELCOME#')


def _authkey(authkey):
    if authkey is not None and not isinstance(authkey, bytes):
        raise TypeError('authkey should be a byte string')
    return authkey


class Listener:
    """``Listener(address=None, family=None, backlog=1, authkey=None)``,
    as ``multiprocessing.connection.Listener``: a (host, port) tuple listens
    on TCP, a path on a Unix socket; ``accept()`` gives a connection whose
    peer proved it knows ``authkey``."""

    def __init__(self, address=None, family=None, backlog=1, authkey=None):
        import socket
        import tempfile
        self._authkey = _authkey(authkey)
        if address is None:
            fam = _address_family(None, family) if family is not None else socket.AF_UNIX
            address = ('localhost', 0) if fam != socket.AF_UNIX else \
                os.path.join(tempfile.mkdtemp(prefix='mproc-'), 'listener')
        fam = _address_family(address, family)
        self._socket = socket.socket(fam)
        if fam != socket.AF_UNIX:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(address)
        self._socket.listen(backlog)
        self._unlink = address if fam == socket.AF_UNIX else None
        self.address = self._socket.getsockname()
        self.last_accepted = None

    def accept(self):
        if self._socket is None:
            raise OSError('listener is closed')
        sock, self.last_accepted = self._socket.accept()
        conn = SocketConnection(sock)
        if self._authkey is not None:
            try:
                _challenge(conn, self._authkey)
                _prove(conn, self._authkey)
            except BaseException:
                conn.close()
                raise
        return conn

    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None
            if self._unlink:
                try:
                    os.unlink(self._unlink)
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def Client(address, family=None, authkey=None):
    """``Client(address, family=None, authkey=None)``: a connection to a
    ``Listener``, as ``multiprocessing.connection.Client``."""
    import socket
    authkey = _authkey(authkey)
    sock = socket.socket(_address_family(address, family))
    try:
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    conn = SocketConnection(sock)
    if authkey is not None:
        try:
            _prove(conn, authkey)
            _challenge(conn, authkey)
        except BaseException:
            conn.close()
            raise
    return conn


# --- logging -----------------------------------------------------------------

_LOG_FORMAT = '[%(levelname)s/%(processName)s] %(message)s'
_logger = None


class _ProcessNameFilter:
    """Names records after Mproc's current process (logging asks
    multiprocessing, which a program of Mproc need not import)."""

    def filter(self, record):
        try:
            record.processName = Mproc.current_process().get_name()
        except Exception:
            pass
        return True


def get_logger():
    """``multiprocessing.get_logger()``: the logger named "multiprocessing",
    its records named after the current process."""
    global _logger
    import logging
    if _logger is None:
        _logger = logging.getLogger('multiprocessing')
        _logger.propagate = False
        _logger.addFilter(_ProcessNameFilter())
    return _logger


def log_to_stderr(level=None):
    """``multiprocessing.log_to_stderr(level=None)``: get_logger() with a
    handler writing "[LEVEL/ProcessName] message" to stderr."""
    import logging
    logger = get_logger()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.addFilter(_ProcessNameFilter())
    logger.addHandler(handler)
    if level:
        logger.setLevel(level)
    return logger


__all__ += ['get_logger', 'log_to_stderr']


connection = types.SimpleNamespace(wait=_wait, Connection=Connection, Pipe=Pipe,
                                   Listener=Listener, Client=Client,
                                   BufferTooShort=BufferTooShort,
                                   AuthenticationError=AuthenticationError)

__all__ += ['Queue', 'JoinableQueue', 'SimpleQueue', 'Connection', 'Pipe', 'connection']


# --- synchronisation ---------------------------------------------------------

class _Acquirable:
    """acquire(block=True, timeout=None) and the with statement.

    The library's functions are kept unbound on the class (``_try``,
    ``_acquire``, ``_release``): an uncontended acquire or a release is one
    call into the library and no bound method made on the way."""

    _try = None     # try_acquire(), or None where there is none (Condition)

    def acquire(self, block=True, timeout=None, cancellable=None):
        try_ = self._try
        if try_ is not None:
            try:
                if try_(self):
                    return True
            except GLib.Error as e:
                if not _timed_out(e):
                    _raise(e)
            if not block:
                return False
        elif not block:
            timeout = 0
        try:
            return self._acquire(self, -1 if timeout is None else _usec(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            _raise(e)

    def release(self):
        try:
            self._release(self)
        except GLib.Error as e:
            _raise(e, self._release_errors)

    def __enter__(self):
        try_ = self._try
        if try_ is not None:
            try:
                if try_(self):
                    return True
            except GLib.Error:
                pass
        return self.acquire()

    def __exit__(self, *exc):
        try:
            self._release(self)
        except GLib.Error as e:
            _raise(e, self._release_errors)


def _acquirable(cls):
    """Keeps the library's functions of cls._c unbound on cls."""
    c = cls._c
    # a condition's acquire is its lock's, which it does not try first
    cls._try = staticmethod(c.try_acquire) \
        if c is not Mproc.Condition and hasattr(c, 'try_acquire') else None
    cls._acquire = staticmethod(c.acquire)
    cls._release = staticmethod(c.release)
    return cls


@override
@_acquirable
class Lock(_Acquirable, Mproc.Lock):
    _c = Mproc.Lock
    _release_errors = {int(_E.NOT_OWNER): ValueError}

    def __new__(cls, *, ctx=None):
        return Mproc.Lock.new()

    def __init__(self, *args, **kwargs):
        pass

    def __repr__(self):
        return '<Lock(owner=unknown)>'


@override
@_acquirable
class RLock(*_with(_Acquirable, Mproc.RLock)):
    _c = Mproc.Lock
    _release_errors = {int(_E.NOT_OWNER): AssertionError}

    def __new__(cls, *, ctx=None):
        return Mproc.RLock.new()

    def __init__(self, *args, **kwargs):
        pass


@override
@_acquirable
class Semaphore(_Acquirable, Mproc.Semaphore):
    _c = Mproc.Semaphore
    _release_errors = {int(_E.TOO_MANY_RELEASES): ValueError}

    def __new__(cls, value=1, *, ctx=None):
        if value < 0:
            raise ValueError('semaphore initial value must be >= 0')
        return Mproc.Semaphore.new(value)

    def __init__(self, *args, **kwargs):
        pass

    def get_value(self):
        return Mproc.Semaphore.get_value(self)


def BoundedSemaphore(value=1, *, ctx=None):
    """A semaphore whose ``release()`` above its initial value raises
    ValueError."""
    if value < 0:
        raise ValueError('semaphore initial value must be >= 0')
    return Mproc.Semaphore.new_bounded(value)


@override
@_acquirable
class Condition(_Acquirable, Mproc.Condition):
    _c = Mproc.Condition
    _release_errors = {int(_E.NOT_OWNER): AssertionError}

    def __new__(cls, lock=None, *, ctx=None):
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
            _raise(e, {int(_E.NOT_OWNER): RuntimeError})

    def wait_for(self, predicate, timeout=None, cancellable=None):
        """Waits until ``predicate()`` is true; returns its last value (False
        after ``timeout`` seconds)."""
        result = predicate()
        if result:
            return result
        deadline = None if timeout is None else time.monotonic() + timeout
        while not result:
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
            self.wait(wait, cancellable)
            result = predicate()
        return result

    def notify(self, n=1):
        try:
            return Mproc.Condition.notify(self, n)
        except GLib.Error as e:
            _raise(e, {int(_E.NOT_OWNER): RuntimeError})

    def notify_all(self):
        try:
            return Mproc.Condition.notify_all(self)
        except GLib.Error as e:
            _raise(e, {int(_E.NOT_OWNER): RuntimeError})


_event_wait = Mproc.Event.wait


@override
class Event(Mproc.Event):
    def __new__(cls, *, ctx=None):
        return Mproc.Event.new()

    def __init__(self, *args, **kwargs):
        pass

    def wait(self, timeout=None, cancellable=None):
        """Returns whether the event is set, after at most ``timeout``
        seconds."""
        # one call into the library, which returns at once when it is set
        return _event_wait(self, -1 if timeout is None else _usec(timeout), cancellable)

    def wait_async(self, timeout=None, cancellable=None, callback=None, *user_data):
        return Mproc.Event.wait_async(self, _usec_ever(timeout), cancellable, callback, *user_data)


_BARRIER = {int(_E.BROKEN_BARRIER): threading.BrokenBarrierError,
            int(_E.TIMED_OUT): threading.BrokenBarrierError}


@override
class Barrier(Mproc.Barrier):
    """``Mproc.Barrier(parties, action=None, timeout=None)``, as
    ``multiprocessing.Barrier``: ``wait()`` returns an index from 0 to
    parties - 1; ``action`` runs in the process that gets index 0."""

    def __new__(cls, parties, action=None, timeout=None, *, ctx=None):
        if parties < 1:
            raise ValueError('parties must be > 0')
        self = Mproc.Barrier.new(parties)
        return self

    def __init__(self, parties=None, action=None, timeout=None, *, ctx=None, **properties):
        self._action, self._timeout = action, timeout

    def wait(self, timeout=None, cancellable=None):
        if timeout is None:
            timeout = getattr(self, '_timeout', None)
        try:
            index = Mproc.Barrier.wait(self, _usec(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                Mproc.Barrier.abort(self)
            _raise(e, _BARRIER)
        action = getattr(self, '_action', None)
        if index == 0 and action is not None:
            try:
                action()
            except BaseException:
                Mproc.Barrier.abort(self)
                raise
        return index

    parties = property(lambda self: self.get_parties())
    n_waiting = property(lambda self: self.get_n_waiting())
    broken = property(lambda self: self.is_broken())


__all__ += ['Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition', 'Event', 'Barrier']


# --- shared values -------------------------------------------------------------

# Python's typecodes (those of ctypes, as multiprocessing.sharedctypes reads
# them) on the library's five element types: (element type, bits, signed).
_T = Mproc.ValueType
_TYPECODES = {
    '?': (_T.BOOLEAN, 0, False),
    'b': (_T.INT32, 8, True), 'B': (_T.INT32, 8, False),
    'h': (_T.INT32, 16, True), 'H': (_T.INT32, 16, False),
    'i': (_T.INT32, 32, True), 'I': (_T.INT64, 32, False),
    'l': (_T.INT64, 64, True), 'L': (_T.INT64, 64, False),
    'q': (_T.INT64, 64, True), 'Q': (_T.INT64, 64, False),
    'c': (_T.INT32, 8, False),
    'f': (_T.FLOAT, 0, False), 'd': (_T.DOUBLE, 0, False),
}
_CTYPES_CODES = {'c_bool': '?', 'c_byte': 'b', 'c_ubyte': 'B', 'c_short': 'h', 'c_ushort': 'H',
                 'c_int': 'i', 'c_uint': 'I', 'c_long': 'l', 'c_ulong': 'L', 'c_longlong': 'q',
                 'c_ulonglong': 'Q', 'c_char': 'c', 'c_float': 'f', 'c_double': 'd',
                 'c_int8': 'b', 'c_uint8': 'B', 'c_int16': 'h', 'c_uint16': 'H', 'c_int32': 'i',
                 'c_uint32': 'I', 'c_int64': 'q', 'c_uint64': 'Q', 'c_size_t': 'L',
                 'c_ssize_t': 'l'}


def _typecode(typecode):
    if isinstance(typecode, Mproc.ValueType):
        return {_T.BOOLEAN: '?', _T.INT32: 'i', _T.INT64: 'q', _T.FLOAT: 'f',
                _T.DOUBLE: 'd'}[typecode]
    if isinstance(typecode, type):
        code = _CTYPES_CODES.get(typecode.__name__)
        if code is None:
            raise TypeError(f'{typecode.__name__} is not a supported shared type: use one of '
                            f'{", ".join(sorted(_CTYPES_CODES))}')
        return code
    if typecode not in _TYPECODES:
        raise TypeError(f'unknown typecode {typecode!r}: use one of {"".join(_TYPECODES)} '
                        'or a ctypes type')
    return typecode


def _codec(code):
    """(to_store, from_store, getter, setter names) for a typecode."""
    vtype, bits, signed = _TYPECODES[code]
    kind = 'boolean' if vtype == _T.BOOLEAN else 'double' if vtype in (_T.FLOAT, _T.DOUBLE) else 'int'
    if code == 'c':
        def store(v):
            if not isinstance(v, (bytes, bytearray)) or len(v) != 1:
                raise TypeError('one character bytes, bytearray or integer expected')
            return v[0]
        return store, (lambda v: bytes((v & 0xff,))), kind
    if kind == 'int':
        mask = (1 << bits) - 1
        half = 1 << (bits - 1)

        def store(v):
            if not isinstance(v, int):
                raise TypeError(f'int expected instead of {type(v).__name__}')
            v &= mask
            if bits == 64 or (signed and bits < 64):
                if v >= half:
                    v -= 1 << bits
            return v

        if signed or bits == 64 and not signed:
            if signed:
                load = None
            else:
                def load(v):
                    return v & mask
        else:
            load = None
        return store, load, kind
    if kind == 'double':
        return (lambda v: float(v)), None, kind
    return (lambda v: bool(v)), None, kind


@override
class Value(Mproc.Value):
    """``Mproc.Value(typecode_or_type, *args, lock=True)``, as
    ``multiprocessing.Value``: ``.value`` reads and writes it (with Python's
    typecodes: ``'b'`` a signed char, ``'c'`` one byte, ``'I'``, ``'L'``,
    ``'Q'`` unsigned…), ``get_lock()`` is its lock (``lock=False``: a
    RawValue, no lock)."""

    def __new__(cls, typecode_or_type, *args, lock=True, ctx=None):
        code = _typecode(typecode_or_type)
        self = Mproc.Value.new(_TYPECODES[code][0], lock is not False)
        self._setup(code)
        if args:
            self.value = args[0]
        return self

    def __init__(self, *args, **kwargs):
        pass

    def _setup(self, code):
        store, load, kind = _codec(code)
        self._store, self._load, self._code = store, load, code
        self._get = getattr(self, 'get_' + kind)
        self._set = getattr(self, 'set_' + kind)
        # the ints that store() keeps as they are: set without it
        vtype, bits, signed = _TYPECODES[code]
        if kind != 'int' or code == 'c':
            self._lo, self._hi = 1, 0
        elif signed or bits == 64:
            self._lo, self._hi = (-(1 << (bits - 1)) if signed else 0), (1 << (bits - 1)) - 1
        else:
            self._lo, self._hi = 0, (1 << bits) - 1

    def _ensure(self):
        if not hasattr(self, '_get'):
            vtype = self.get_value_type()
            self._setup(_typecode(vtype))

    @property
    def value(self):
        try:
            v = self._get()
        except AttributeError:
            self._ensure()
            v = self._get()
        load = self._load
        return v if load is None else load(v)

    @value.setter
    def value(self, v):
        try:
            if type(v) is int and self._lo <= v <= self._hi:
                self._set(v)
                return
            self._set(self._store(v))
        except AttributeError:
            self._ensure()
            self._set(self._store(v))

    def get_lock(self):
        lock = Mproc.Value.get_lock(self)
        if lock is None:
            raise AttributeError("'RawValue' object has no attribute 'get_lock'")
        return lock

    def get_obj(self):
        return self

    def acquire(self, *args):
        return self.get_lock().acquire(*args)

    def release(self):
        return self.get_lock().release()

    def __enter__(self):
        return self.get_lock().__enter__()

    def __exit__(self, *exc):
        return self.get_lock().__exit__(*exc)

    def __repr__(self):
        return f'<Synchronized wrapper for c_{self._code!s}({self.value!r})>'


def RawValue(typecode_or_type, *args):
    return Value(typecode_or_type, *args, lock=False)


@override
class Array(Mproc.Array):
    """``Mproc.Array(typecode_or_type, size_or_initializer, lock=True)``, as
    ``multiprocessing.Array``: indexes and slices like a list; ``'c'``
    arrays have ``.value`` and ``.raw``."""

    def __new__(cls, typecode_or_type, size_or_initializer, *, lock=True, ctx=None):
        code = _typecode(typecode_or_type)
        items = None
        if isinstance(size_or_initializer, int):
            size = size_or_initializer
        else:
            items = list(size_or_initializer) if code != 'c' else \
                [bytes((b,)) for b in bytes(size_or_initializer)]
            size = len(items)
        self = Mproc.Array.new(_TYPECODES[code][0], size, lock is not False)
        self._setup(code)
        if items:
            self[:] = items
        return self

    def __init__(self, *args, **kwargs):
        pass

    def _setup(self, code):
        store, load, kind = _codec(code)
        self._store, self._load, self._code = store, load, code
        self._get = getattr(self, 'get_' + kind)
        self._set = getattr(self, 'set_' + kind)
        # the ints that store() keeps as they are: set without it
        vtype, bits, signed = _TYPECODES[code]
        if kind != 'int' or code == 'c':
            self._lo, self._hi = 1, 0
        elif signed or bits == 64:
            self._lo, self._hi = (-(1 << (bits - 1)) if signed else 0), (1 << (bits - 1)) - 1
        else:
            self._lo, self._hi = 0, (1 << bits) - 1

    def _ensure(self):
        if not hasattr(self, '_get'):
            self._setup(_typecode(self.get_value_type()))

    def __len__(self):
        return self.get_length()

    def _index(self, index):
        n = self.get_length()
        if not isinstance(index, int):
            raise TypeError('array indices must be integers')
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError('invalid index')
        return index

    def __getitem__(self, index):
        self._ensure()
        if isinstance(index, slice):
            values = self.tolist()
            return values[index]
        v = self._get(self._index(index))
        return v if self._load is None else self._load(v)

    def __setitem__(self, index, value):
        self._ensure()
        if isinstance(index, slice):
            positions = range(*index.indices(len(self)))
            values = [bytes((b,)) for b in value] if isinstance(value, (bytes, bytearray)) \
                else list(value)
            if len(values) != len(positions):
                raise ValueError('Can only assign sequence of same size')
            for i, v in zip(positions, values):
                self._set(i, self._store(v))
            return
        self._set(self._index(index), self._store(value))

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self):
        self._ensure()
        values = from_variant(self.get_values())
        if self._load is not None:
            values = [self._load(v) for v in values]
        if self._code in 'bBhH':
            values = [self._load(self._store(v)) if self._load else self._store(v) for v in values]
        return values

    @property
    def value(self):
        if self._code != 'c':
            raise AttributeError('only character arrays have .value')
        raw = self.raw
        end = raw.find(b'\0')
        return raw if end < 0 else raw[:end]

    @value.setter
    def value(self, v):
        if self._code != 'c':
            raise AttributeError('only character arrays have .value')
        if len(v) > len(self):
            raise ValueError('byte string too long')
        data = bytes(v) + (b'\0' if len(v) < len(self) else b'')
        self[:len(data)] = data

    @property
    def raw(self):
        return b''.join(self.tolist())

    def get_lock(self):
        lock = Mproc.Array.get_lock(self)
        if lock is None:
            raise AttributeError("'RawArray' object has no attribute 'get_lock'")
        return lock

    def get_obj(self):
        return self

    def __enter__(self):
        return self.get_lock().__enter__()

    def __exit__(self, *exc):
        return self.get_lock().__exit__(*exc)

    def __repr__(self):
        return f'<SynchronizedArray wrapper for {self.tolist()!r}>'


def RawArray(typecode_or_type, size_or_initializer):
    return Array(typecode_or_type, size_or_initializer, lock=False)


__all__ += ['Value', 'Array', 'RawValue', 'RawArray']


# --- managers ----------------------------------------------------------------

def _not_found(error):
    return _code(error) == int(_E.NOT_FOUND)


class _ManagerMethods:
    """What ``multiprocessing.managers.SyncManager`` makes. Containers are
    proxies served by the manager's process; the other objects are the
    library's shared objects, which every process of the program can use."""

    def dict(self, *args, cancellable=None, **kwargs):
        d = Mproc.Dict.new(self, None, cancellable)
        initial = dict(*args, **kwargs)
        if initial:
            d.update(initial)
        return d

    def list(self, sequence=(), cancellable=None):
        lst = Mproc.List.new(self, None, cancellable)
        items = list(sequence)
        if items:
            lst.extend(items)
        return lst

    def Namespace(self, cancellable=None, **kwargs):
        ns = Mproc.Namespace.new(self, None, cancellable)
        for k, v in kwargs.items():
            setattr(ns, k, v)
        return ns

    def Value(self, typecode, value, lock=True):
        return ValueProxy(self.Namespace(value=value))

    def Array(self, typecode, sequence, lock=True):
        return self.list(sequence)

    def Queue(self, maxsize=0):
        return Queue(maxsize)

    def JoinableQueue(self, maxsize=0):
        return JoinableQueue(maxsize)

    def Lock(self):
        return Lock()

    def RLock(self):
        return RLock()

    def Semaphore(self, value=1):
        return Semaphore(value)

    def BoundedSemaphore(self, value=1):
        return BoundedSemaphore(value)

    def Condition(self, lock=None):
        return Condition(lock)

    def Event(self):
        return Event()

    def Barrier(self, parties, action=None, timeout=None):
        return Barrier(parties, action, timeout)

    def Pool(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None):
        return Pool(processes, initializer, initargs, maxtasksperchild)


class ValueProxy:
    """``manager.Value(typecode, value)``: ``.value``, ``get()``, ``set()``;
    as in Python, the typecode is not enforced."""

    def __init__(self, namespace):
        self._ns = namespace

    def get(self):
        return self._ns.value

    def set(self, value):
        self._ns.value = value

    value = property(get, set)

    def __repr__(self):
        return f'{type(self).__name__}({self.get()!r})'


@override
class Manager(_ManagerMethods, Mproc.Manager):
    """``Mproc.Manager()``, as ``multiprocessing.Manager()``: a started
    manager; ``with`` shuts it down at the end. ``manager.dict()``,
    ``manager.list()``, ``manager.Namespace()``, ``manager.Queue()``,
    ``manager.Lock()``, ``manager.Value()``… make shared objects."""

    def __new__(cls, context=None, *, ctx=None, start=True):
        c = _context_arg(context or (ctx._method if isinstance(ctx, _Context) else None))
        self = Mproc.Manager.new_with_context(c)
        if start:
            self.start()
        return self

    def __init__(self, *args, **kwargs):
        pass

    def start(self, initializer=None, initargs=(), cancellable=None):
        if self.get_server_pid() > 0:
            if initializer is None and not callable(initializer):
                return None
            raise ProcessError('Already started server')
        if initializer is not None and not callable(initializer):
            cancellable, initializer = initializer, None
        try:
            Mproc.Manager.start(self, cancellable)
        except GLib.Error as e:
            # started already with no server of its own (on Redis, through
            # MPROC_MANAGER_URI): as above
            if e.matches(Mproc.error_quark(), int(_E.STILL_RUNNING)) and initializer is None:
                return None
            _raise(e, {int(_E.INVALID_STATE): ProcessError,
                       int(_E.STILL_RUNNING): ProcessError})

    def shutdown(self, cancellable=None):
        if self.get_server_pid() <= 0:
            return None
        return Mproc.Manager.shutdown(self, cancellable)

    def __enter__(self):
        if self.get_server_pid() <= 0:
            self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        return False

    @property
    def address(self):
        return self.get_address()

    @property
    def _process(self):
        return types.SimpleNamespace(pid=self.get_server_pid())

    def join(self, timeout=None):
        pass


def SyncManager(*, ctx=None):
    """``multiprocessing.managers.SyncManager()``: not started yet."""
    return Manager(ctx=ctx, start=False)


managers = types.SimpleNamespace(SyncManager=SyncManager, ValueProxy=ValueProxy)


class _ProxyBase:
    def _referent(self):
        raise NotImplementedError

    def __str__(self):
        return str(self._referent())

    def __reduce__(self):
        raise TypeError('a proxy travels in the args of a Process, not by pickling')


@override
class Dict(_ProxyBase, Mproc.Dict):
    """A dict served by a manager: a full ``MutableMapping`` whose keys and
    values are plain data."""

    _referent = lambda self: self.copy()    # noqa: E731

    def __getitem__(self, key):
        try:
            return from_variant(Mproc.Dict.get(self, to_variant(key), None))
        except GLib.Error as e:
            if _not_found(e):
                raise _as(KeyError, e, key) from e
            _raise(e)

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

    def __iter__(self):
        return iter(self.keys())

    def keys(self, cancellable=None):
        return from_variant(Mproc.Dict.keys(self, cancellable))

    def values(self, cancellable=None):
        return from_variant(Mproc.Dict.values(self, cancellable))

    def items(self, cancellable=None):
        return from_variant(Mproc.Dict.items(self, cancellable))

    def get(self, key, default=None, cancellable=None):
        if isinstance(key, GLib.Variant):
            return Mproc.Dict.get(self, key, default)   # the library's get(key, cancellable)
        return from_variant(Mproc.Dict.get_default(self, to_variant(key), to_variant(default),
                                                   cancellable))

    _MISSING = object()

    def pop(self, key, default=_MISSING):
        try:
            if default is Dict._MISSING:
                return from_variant(Mproc.Dict.pop(self, to_variant(key), None, None))
            return from_variant(Mproc.Dict.pop(self, to_variant(key), to_variant(default), None))
        except GLib.Error as e:
            if _not_found(e):
                raise _as(KeyError, e, key) from e
            _raise(e)

    def popitem(self):
        keys = self.keys()
        if not keys:
            raise KeyError('popitem(): dictionary is empty')
        return keys[-1], self.pop(keys[-1])

    def setdefault(self, key, default=None):
        return from_variant(Mproc.Dict.setdefault(self, to_variant(key), to_variant(default), None))

    def update(self, *args, **kwargs):
        pairs = dict(*args, **kwargs)
        if pairs:
            Mproc.Dict.update(self, _new_array(GLib.VariantType.new('(vv)'), [
                _new_tuple(_new_variant(to_variant(k)), _new_variant(to_variant(v)))
                for k, v in pairs.items()]), None)

    def clear(self):
        Mproc.Dict.clear(self, None)

    def copy(self):
        """The contents as a Python dict (one round trip)."""
        return dict(self.items())

    def __eq__(self, other):
        if isinstance(other, collections.abc.Mapping):
            return self.copy() == dict(other.items())
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"<DictProxy object, typeid 'dict' at {id(self):#x}>"


@override
class List(_ProxyBase, Mproc.List):
    """A list served by a manager: a full ``MutableSequence`` of plain
    data."""

    _referent = lambda self: self.copy()    # noqa: E731

    def _index(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError('list index out of range')
        return index

    def __getitem__(self, index):
        if isinstance(index, slice):
            if index.step in (None, 1) and (index.start or 0) >= 0 and (index.stop or 0) >= 0:
                stop = GLib.MAXINT32 if index.stop is None else index.stop
                return from_variant(Mproc.List.slice(self, index.start or 0, stop, None))
            return self.copy()[index]
        try:
            return from_variant(Mproc.List.get(self, index, None))
        except GLib.Error as e:
            if _not_found(e) or _code(e) == int(_E.INVALID_STATE):
                raise _as(IndexError, e, 'list index out of range') from e
            _raise(e)

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            items = self.copy()
            items[index] = value
            self._replace(items)
            return
        try:
            Mproc.List.set(self, index, to_variant(value), None)
        except GLib.Error as e:
            if _not_found(e) or _code(e) == int(_E.INVALID_STATE):
                raise _as(IndexError, e, 'list assignment index out of range') from e
            _raise(e)

    def __delitem__(self, index):
        if isinstance(index, slice):
            items = self.copy()
            del items[index]
            self._replace(items)
            return
        self.pop(index)

    def _replace(self, items):
        Mproc.List.clear(self, None)
        if items:
            Mproc.List.extend(self, to_variant(list(items)), None)

    def __len__(self):
        return Mproc.List.len(self, None)

    def __iter__(self):
        return iter(self.copy())

    def __contains__(self, value):
        return value in self.copy()

    def __iadd__(self, other):
        self.extend(other)
        return self

    def __imul__(self, n):
        self._replace(self.copy() * n)
        return self

    def __add__(self, other):
        return self.copy() + list(other)

    def __mul__(self, n):
        return self.copy() * n

    def __eq__(self, other):
        if isinstance(other, (list, List)):
            return self.copy() == list(other)
        return NotImplemented

    __hash__ = None

    def insert(self, index, value, cancellable=None):
        n = len(self)
        if index < 0:
            index = max(0, index + n)
        Mproc.List.insert(self, min(index, n), to_variant(value), cancellable)

    def append(self, value, cancellable=None):
        return Mproc.List.append(self, to_variant(value), cancellable)

    def extend(self, values, cancellable=None):
        values = list(values)
        if values:
            Mproc.List.extend(self, to_variant(values), cancellable)

    def pop(self, index=-1, cancellable=None):
        try:
            return from_variant(Mproc.List.pop(self, index, cancellable))
        except GLib.Error as e:
            if _not_found(e) or _code(e) == int(_E.INVALID_STATE):
                raise _as(IndexError, e, 'pop index out of range') from e
            _raise(e)

    def remove(self, value, cancellable=None):
        try:
            if not Mproc.List.remove(self, to_variant(value), cancellable):
                raise ValueError('list.remove(x): x not in list')
        except GLib.Error as e:
            if _not_found(e):
                raise _as(ValueError, e, 'list.remove(x): x not in list') from e
            _raise(e)

    def index(self, value, start=0, stop=None):
        return self.copy().index(value, start, *(() if stop is None else (stop,)))

    def count(self, value):
        return self.copy().count(value)

    def reverse(self):
        self._replace(self.copy()[::-1])

    def sort(self, key=None, reverse=False):
        self._replace(sorted(self.copy(), key=key, reverse=reverse))

    def clear(self):
        Mproc.List.clear(self, None)

    def copy(self):
        """The contents as a Python list (one round trip)."""
        return from_variant(Mproc.List.slice(self, 0, GLib.MAXINT32, None))

    def __repr__(self):
        return f"<ListProxy object, typeid 'list' at {id(self):#x}>"


    def __reversed__(self):
        return reversed(self.copy())


# GObject's metaclass is not ABCMeta: registered, not inherited
collections.abc.MutableMapping.register(Dict)
collections.abc.MutableSequence.register(List)


@override
class Namespace(Mproc.Namespace):
    """``manager.Namespace()``: attributes set on it are shared (names that
    start with ``_`` stay local, as in Python)."""

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        try:
            return from_variant(Mproc.Namespace.get(self, name, None))
        except GLib.Error as e:
            if _not_found(e):
                raise _as(AttributeError, e, name) from e
            _raise(e)

    def __setattr__(self, name, value):
        if name.startswith('_'):
            return object.__setattr__(self, name, value)
        Mproc.Namespace.set(self, name, to_variant(value), None)

    def __delattr__(self, name):
        if name.startswith('_'):
            return object.__delattr__(self, name)
        try:
            if not Mproc.Namespace.delete(self, name, None):
                raise AttributeError(name)
        except GLib.Error as e:
            if _not_found(e):
                raise _as(AttributeError, e, name) from e
            _raise(e)

    def get(self, name, cancellable=None):
        return from_variant(Mproc.Namespace.get(self, name, cancellable))

    def set(self, name, value, cancellable=None):
        return Mproc.Namespace.set(self, name, to_variant(value), cancellable)

    def has(self, name, cancellable=None):
        """Whether ``name`` is set, as ``hasattr()``."""
        ret = Mproc.Namespace.has(self, name, cancellable)
        return ret[-1] if isinstance(ret, tuple) else ret

    def __repr__(self):
        names = from_variant(Mproc.Namespace.list_names(self, None)) or []
        shown = ', '.join(f'{n}={getattr(self, n)!r}' for n in sorted(names))
        return f'Namespace({shown})'

    __str__ = __repr__


__all__ += ['Manager', 'Dict', 'List', 'Namespace', 'ValueProxy', 'SyncManager', 'managers']


# --- pools -------------------------------------------------------------------

class _Raised:
    pass


def _raised(v):
    return isinstance(v, BaseException) and type(v.__cause__) is RemoteTraceback


def _pool_value(variant, kind):
    """A pool's result: the value, or the task's exception raised."""
    values = from_variant(variant)
    if kind == 'plain':
        return values
    if kind == 'apply':
        if _raised(values):
            raise values
        return values
    if variant.get_type_string() not in ('ax', 'ad', 'as', 'ab'):
        for v in values:
            if _raised(v):
                raise v
    return values


def _is_timeout(x):
    """A number where Python's signature has a callback or keywords: a call
    in the library's convention (timeout, cancellable, callback)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _pool_errors(e):
    return _translate(e, {int(_E.CLOSED): ValueError, int(_E.INVALID_STATE): ValueError})


class AsyncResult:
    """What ``apply_async()``, ``map_async()`` and ``starmap_async()``
    return, as ``multiprocessing.pool.AsyncResult``. Callbacks run in the
    process that made the pool, while it waits on the pool (``get()``,
    ``wait()``, ``ready()``, ``join()``, another call)."""

    def __init__(self, pool, kind, callback=None, error_callback=None):
        self._pool, self._kind = pool, kind
        self._callback, self._error_callback = callback, error_callback
        self._done = False
        self._value = self._error = None

    def _complete(self, source, result, finish):
        try:
            self._value = _pool_value(finish(source, result), self._kind)
        except GLib.Error as e:
            self._error = _pool_errors(e)
        except BaseException as e:
            self._error = e
        self._done = True
        self._pool._pending.discard(self)
        if self._error is None and self._callback is not None:
            self._callback(self._value)
        elif self._error is not None and self._error_callback is not None:
            self._error_callback(self._error)

    def ready(self):
        if not self._done:
            self._pool._iterate(0)
        return self._done

    def successful(self):
        if not self.ready():
            raise ValueError(f'{self!r} not ready')
        return self._error is None

    def wait(self, timeout=None):
        self._pool._iterate_until(lambda: self._done, timeout)

    def get(self, timeout=None):
        self.wait(timeout)
        if not self._done:
            raise TimeoutError
        if self._error is not None:
            raise self._error
        return self._value


ApplyResult = MapResult = AsyncResult


@override
class PoolIterator(Mproc.PoolIterator):
    """What ``imap()`` and ``imap_unordered()`` return: a Python iterator
    of the results as they come (``next(timeout)`` raises TimeoutError after
    ``timeout`` seconds), and still the library's object, with its ``item``
    and ``finished`` signals."""

    def __iter__(self):
        return self

    def next(self, timeout=None, cancellable=None):
        if isinstance(timeout, Gio.Cancellable):    # the library's next(cancellable)
            timeout, cancellable = None, timeout
        pool = getattr(self, '_mproc_pool', None)
        if timeout is not None and pool is not None:
            box = {}

            def done(it, res, *data):
                try:
                    box['value'] = Mproc.PoolIterator.next_finish(it, res)
                except GLib.Error as e:
                    box['error'] = e
            pool._push()
            try:
                Mproc.PoolIterator.next_async(self, cancellable, done)
            finally:
                pool._pop()
            pool._iterate_until(lambda: box, timeout)
            if not box:
                raise TimeoutError
            if 'error' in box:
                raise _pool_errors(box['error'])
            value = box['value']
        else:
            try:
                value = Mproc.PoolIterator.next(self, cancellable)
            except GLib.Error as e:
                raise _pool_errors(e) from None
        if isinstance(value, tuple):
            value = value[0]
        if value is None:
            raise StopIteration
        return _pool_value(value, getattr(self, '_mproc_kind', 'apply'))

    __next__ = next


IMapIterator = PoolIterator


@override
class Pool(Mproc.Pool):
    """``Mproc.Pool(processes=None, initializer=None, initargs=(),
    maxtasksperchild=None, context=None, **properties)``, as
    ``multiprocessing.Pool``: tasks are
    functions defined at the top level of a module (by reference), their
    arguments and results plain data; a task's exception is raised again in
    the caller. ``apply``, ``apply_async``, ``map``, ``map_async``,
    ``starmap``, ``starmap_async``, ``imap``, ``imap_unordered``, ``close``,
    ``terminate``, ``join``, ``with``. Beyond Python: ``timeout=`` and
    ``cancellable=`` on the blocking calls, ``progress=`` on ``map_async``,
    a dead worker fails its task instead of hanging, and the pool's other
    properties by name (``nice=10``, ``memory_limit=2**30``…)."""

    def __new__(cls, processes=None, initializer=None, initargs=(), maxtasksperchild=None,
                context=None, **properties):
        if processes is not None and processes < 1:
            raise ValueError('Number of processes must be at least 1')
        if maxtasksperchild is not None and (not isinstance(maxtasksperchild, int) or
                                             maxtasksperchild <= 0):
            raise ValueError('maxtasksperchild must be a positive int or None')
        if initializer is not None and not callable(initializer) and not isinstance(initializer, str):
            raise TypeError('initializer must be a callable')
        main_context = GLib.MainContext.new()
        main_context.push_thread_default()
        try:
            init = None
            if initializer is not None:
                init = initializer if isinstance(initializer, str) else \
                    _target_names.get(initializer) or _task_for(initializer, 's')
            initargs = None if initializer is None else to_variant(tuple(initargs or ()))
            if not properties:
                self = Mproc.Pool.new_full(_context_arg(context), processes or 0, init,
                                           initargs, maxtasksperchild or 0)
            else:
                self = GObject.new(Mproc.Pool, context=_context_arg(context),
                                   processes=processes or 0, initializer=init,
                                   initargs=initargs, maxtasksperchild=maxtasksperchild or 0,
                                   **properties)
                self.init(None)
        finally:
            main_context.pop_thread_default()
        self._main_context = main_context
        self._pending = set()
        self._state = 'RUN'
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.terminate()
        return False

    # serving async calls: the pool's own main context, iterated here
    def _ctx(self):
        # a pool made by the library's constructors serves the default context
        return getattr(self, '_main_context', None) or GLib.MainContext.default()

    def _push(self):
        self._ctx().push_thread_default()

    def _pop(self):
        self._ctx().pop_thread_default()

    def _iterate(self, timeout):
        ctx = self._ctx()
        while ctx.iteration(False):
            pass

    def _iterate_until(self, done, timeout=None):
        ctx = self._ctx()
        if done():
            return
        deadline = None if timeout is None else time.monotonic() + max(0, timeout)
        while not done():
            if deadline is None:
                ctx.iteration(True)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                self._iterate(0)
                return
            source = GLib.timeout_source_new(max(1, int(left * 1000)))
            source.set_callback(lambda *a: GLib.SOURCE_REMOVE)
            source.attach(ctx)
            try:
                ctx.iteration(True)
            finally:
                source.destroy()

    # A call in the library's convention completes in the caller's main
    # context, but a pool made by Mproc.Pool() does its work in its own:
    # while such calls run, the caller's context drives the pool's.
    _BRIDGE_MS = 1

    def _bridge_enter(self):
        own = getattr(self, '_main_context', None)
        if own is None:
            return lambda *a: None
        self._bridged = getattr(self, '_bridged', 0) + 1
        if getattr(self, '_bridge_source', None) is None:
            source = GLib.timeout_source_new(self._BRIDGE_MS)
            source.set_callback(self._bridge_tick)
            source.attach(GLib.MainContext.ref_thread_default())
            self._bridge_source = source
        left = [True]

        def leave(*args):
            if left[0]:
                left[0] = False
                self._bridged -= 1
        return leave

    def _bridge_tick(self, *args):
        self._iterate(0)
        if self._bridged > 0:
            return GLib.SOURCE_CONTINUE
        self._bridge_source = None
        return GLib.SOURCE_REMOVE

    def _check_running(self):
        if getattr(self, '_state', 'RUN') != 'RUN':
            raise ValueError('Pool not running')

    def _task(self, func, mode):
        if isinstance(func, str):
            return func
        name = _target_names.get(func)
        if name is not None and mode == 'm':
            return name
        return _task_for(func, mode)

    @property
    def _pool(self):
        return [types.SimpleNamespace(pid=p) for p in self.dup_worker_pids()]

    @property
    def _processes(self):
        return self.get_processes()

    def _blocking(self, call, kind):
        self._iterate(0)
        try:
            return _pool_value(call(), kind)
        except GLib.Error as e:
            raise _pool_errors(e) from None

    # --- Python's API
    def apply(self, func, args=(), kwds={}, timeout=None, cancellable=None):
        self._check_running()
        if isinstance(func, str) or func in _target_names:
            mode, item = 'm', args      # a registered task takes one value
            if not isinstance(kwds, dict):
                # the library's apply(task, arg, timeout, cancellable)
                timeout, cancellable = kwds, timeout if timeout is not None else cancellable
        else:
            mode, item = ('s', tuple(args)) if not kwds else ('a', (tuple(args), dict(kwds)))
        name = self._task(func, mode)
        return self._blocking(lambda: Mproc.Pool.apply(self, name, to_variant(item), _usec_ever(timeout),
                                                       cancellable), 'apply' if mode != 'm' or
                              name.startswith(_TASK_PREFIX) else 'plain')

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None,
                    cancellable=None, *user_data):
        """An AsyncResult, as Python's. With a registered task, the library's
        ``apply_async(task, arg, timeout, cancellable, callback, *user_data)``
        works too: ``callback(pool, result)`` then calls ``apply_finish()``."""
        self._check_running()
        if (isinstance(func, str) or func in _target_names) and _is_timeout(kwds):
            name = self._task(func, 'm')
            # here callback is the cancellable, error_callback the callback
            ready = error_callback
            leave = self._bridge_enter()

            def finished(src, res, *data):
                leave()
                if ready is None:
                    return
                if cancellable is not None or user_data:
                    ready(src, res, cancellable, *user_data)
                else:
                    ready(src, res)
            Mproc.Pool.apply_async(self, name, to_variant(args), _usec_ever(kwds), callback,
                                   finished)
            return None
        mode, item = ('s', tuple(args)) if not kwds else ('a', (tuple(args), dict(kwds)))
        name = self._task(func, mode)
        result = AsyncResult(self, 'apply', callback, error_callback)
        self._start_async(result, Mproc.Pool.apply_async, Mproc.Pool.apply_finish,
                          name, to_variant(item), -1, cancellable)
        return result

    def apply_finish(self, result):
        """The value of the library's ``apply_async()`` call."""
        try:
            return _pool_value(Mproc.Pool.apply_finish(self, result), 'apply')
        except GLib.Error as e:
            raise _pool_errors(e) from None

    def map_finish(self, result):
        """The list of the library's ``map_async()`` call."""
        try:
            return _pool_value(Mproc.Pool.map_finish(self, result), 'map')
        except GLib.Error as e:
            raise _pool_errors(e) from None

    def _start_async(self, result, start, finish, *args, **kwargs):
        if not hasattr(self, '_pending'):
            self._pending = set()
        self._pending.add(result)
        self._push()
        try:
            start(self, *args, callback=lambda src, res, *d: result._complete(src, res, finish),
                  **kwargs)
        finally:
            self._pop()

    def _items(self, iterable, star=False):
        if isinstance(iterable, GLib.Variant):
            return iterable
        items = [tuple(i) for i in iterable] if star else list(iterable)
        return to_variant(items)

    def map(self, func, iterable, chunksize=None, timeout=None, cancellable=None):
        """Results in input order, as a list."""
        self._check_running()
        name = self._task(func, 'm')
        kind = 'map' if name.startswith(_TASK_PREFIX) else 'plain'
        items = self._items(iterable)
        return self._blocking(lambda: Mproc.Pool.map(self, name, items, chunksize or 0,
                                                     _usec_ever(timeout), cancellable), kind)

    def starmap(self, func, iterable, chunksize=None, timeout=None, cancellable=None):
        self._check_running()
        name = self._task(func, 's')
        items = self._items(iterable, True)
        return self._blocking(lambda: Mproc.Pool.map(self, name, items, chunksize or 0,
                                                     _usec(timeout), cancellable), 'map')

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None,
                  *more, progress=None, timeout=None, cancellable=None):
        """An AsyncResult for the list of results; ``progress(n_done,
        n_items)`` follows the call. The library's ``map_async(task, items,
        chunksize, timeout, cancellable, callback, *user_data)`` works too
        (a number where Python has ``callback``): ``callback(pool, result)``
        then calls ``map_finish()``."""
        return self._map_async(func, 'm', self._items(iterable), chunksize, callback,
                               error_callback, more, progress, timeout, cancellable)

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None,
                      *more, progress=None, timeout=None, cancellable=None):
        return self._map_async(func, 's', self._items(iterable, True), chunksize, callback,
                               error_callback, more, progress, timeout, cancellable)

    def _map_async(self, func, mode, items, chunksize, callback, error_callback, more, progress,
                   timeout, cancellable):
        self._check_running()
        name = self._task(func, mode)
        kwargs = {}
        if progress is not None:
            kwargs['progress_func'] = lambda n_done, n_items, *data: progress(n_done, n_items)
        if _is_timeout(callback) or more:
            # the library's convention: timeout (None: for ever), cancellable,
            # callback, user data
            ready, extra = (more[0] if more else None), more[1:]
            leave = self._bridge_enter()

            def finished(src, res, *data):
                leave()
                if ready is not None:
                    ready(src, res, *extra)
            kwargs['callback'] = finished
            Mproc.Pool.map_async(self, name, items, chunksize or 0, _usec_ever(callback),
                                 error_callback, **kwargs)
            return None
        result = AsyncResult(self, 'map', callback, error_callback)
        self._start_async(result, Mproc.Pool.map_async, Mproc.Pool.map_finish, name, items,
                          chunksize or 0, _usec(timeout), cancellable, **kwargs)
        return result

    def imap(self, func, iterable, chunksize=1, timeout=None, cancellable=None):
        """An iterator of the results in input order; also the library's
        ``Mproc.PoolIterator`` with its signals."""
        return self._imap(Mproc.Pool.imap, func, iterable, chunksize, timeout, cancellable)

    def imap_unordered(self, func, iterable, chunksize=1, timeout=None, cancellable=None):
        return self._imap(Mproc.Pool.imap_unordered, func, iterable, chunksize, timeout,
                          cancellable)

    def _imap(self, start, func, iterable, chunksize, timeout, cancellable):
        self._check_running()
        if chunksize < 1:
            raise ValueError(f'Chunksize must be 1+, not {chunksize:n}')
        name = self._task(func, 'm')
        it = start(self, name, self._items(iterable), chunksize, _usec_ever(timeout), cancellable)
        if timeout is not None or cancellable is not None:
            # the library's convention: its signals are wanted from the caller's loop
            it.connect('finished', self._bridge_enter())
        it._mproc_pool = self
        it._mproc_kind = 'apply' if name.startswith(_TASK_PREFIX) else 'plain'
        return it

    def close(self):
        self._state = 'CLOSE'
        Mproc.Pool.close(self)

    def terminate(self):
        self._state = 'TERMINATE'
        self._iterate(0)
        Mproc.Pool.terminate(self)

    def join(self, timeout=None, cancellable=None):
        """Waits for the workers to exit, after close() or terminate()."""
        if getattr(self, '_state', 'RUN') == 'RUN':
            raise _mproc_error(ValueError, 'Pool is still running', _E.INVALID_STATE)
        if timeout is not None and timeout < 0:
            timeout = None
        self._iterate_until(lambda: not getattr(self, '_pending', None), timeout)
        try:
            return Mproc.Pool.join(self, _usec_ever(timeout), cancellable)
        except GLib.Error as e:
            if _timed_out(e):
                return False
            raise _pool_errors(e) from None

    def __repr__(self):
        return f'<{type(self).__name__} state={getattr(self, "_state", "RUN")} pool_size={self.get_processes()}>'


pool = types.SimpleNamespace(Pool=Pool, AsyncResult=AsyncResult, ApplyResult=AsyncResult,
                             MapResult=AsyncResult, IMapIterator=IMapIterator,
                             RemoteTraceback=RemoteTraceback)

__all__ += ['Pool', 'AsyncResult', 'IMapIterator', 'pool']


# --- contexts ------------------------------------------------------------------

class _Context:
    """``get_context(method)``: this module's classes and functions, their
    processes started with one method."""

    def __init__(self, method):
        self._method = method

    def get_start_method(self, allow_none=False):
        return self._method

    def Process(self, *args, **kwargs):
        kwargs.setdefault('context', self._method)
        return Process(*args, **kwargs)

    def Pool(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None):
        return Pool(processes, initializer, initargs, maxtasksperchild, context=self._method)

    def Manager(self):
        return Manager(self._method)

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return globals()[name] if name in __all__ else getattr(Mproc, name)


class _DefaultContext(_Context):
    def __init__(self):
        pass

    @property
    def _method(self):
        return get_start_method()

    def get_start_method(self, allow_none=False):
        return get_start_method(allow_none)


__all__ += []


# --- errors by code ----------------------------------------------------------

_DEFAULT_ERRORS = {
    int(_E.TIMED_OUT): builtins.TimeoutError,
    int(_E.EMPTY): _queue.Empty,
    int(_E.FULL): _queue.Full,
    int(_E.BROKEN_BARRIER): threading.BrokenBarrierError,
    int(_E.TOO_MANY_RELEASES): ValueError,
    int(_E.INVALID_STATE): ValueError,
    int(_E.NOT_FOUND): KeyError,
}


# --- the program's exit --------------------------------------------------------
#
# The library waits for the children at exit() (an atexit() handler of C);
# Python's own atexit handlers run first, in Py_Finalize(). Waiting here, as
# multiprocessing does, keeps the interpreter's exit status whatever happens
# at the C level afterwards.

def _at_python_exit():
    try:
        Mproc.shutdown()
    except Exception:
        pass


import atexit  # noqa: E402
atexit.register(_at_python_exit)

_set_up_parent()
