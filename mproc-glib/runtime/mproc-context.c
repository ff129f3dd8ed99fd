/* mproc-context.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-context.h"
#include "mproc-enum-types.h"
#include "mproc-runtime-private.h"

/**
 * MprocContext:
 *
 * A start method and what goes with it, as Python's `get_context()` returns.
 * Create processes in a context with [ctor@Mproc.Process.new_with_context].
 *
 * - fork: the child is a copy of the parent made by fork(); only the thread
 *   that called [method@Mproc.Process.start] exists in it, so any lock that
 *   another thread held at that moment (in malloc, in GLib, in a toolkit)
 *   stays locked in the child for ever. Fast, and fine in single-threaded
 *   programs; mproc-glib warns once when it forks a multi-threaded process.
 *   A language runtime can fork in its own way ([func@Mproc.set_fork_func], which
 *   the Python override uses to fork through `os.fork()`).
 * - spawn: the child executes the program again; main() runs up to
 *   [func@Mproc.init], which runs the target instead of returning.
 * - forkserver: a server process, started like a spawn child the first time it
 *   is needed, forks each child; the server is single-threaded, so this is as
 *   safe as spawn and almost as fast as fork.
 *
 * The same program works unchanged under all three: a process's target is
 * registered by name, and its arguments and shared objects are passed to the
 * child by value (under spawn and forkserver) or inherited (under fork).
 *
 * ## Thread safety
 *
 * Contexts are immutable and can be used from any thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */
struct _MprocContext
{
  GObject          parent_instance;
  MprocStartMethod start_method;
};

enum {
  PROP_0,
  PROP_START_METHOD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE (MprocContext, mproc_context, G_TYPE_OBJECT)

static void
mproc_context_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MprocContext *self = MPROC_CONTEXT (object);

  switch (prop_id)
    {
    case PROP_START_METHOD:
      g_value_set_enum (value, self->start_method);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_context_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MprocContext *self = MPROC_CONTEXT (object);

  switch (prop_id)
    {
    case PROP_START_METHOD:
      self->start_method = g_value_get_enum (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_context_class_init (MprocContextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = mproc_context_get_property;
  object_class->set_property = mproc_context_set_property;

  /**
   * MprocContext:start-method:
   *
   * How the processes of this context are started.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_START_METHOD] =
    g_param_spec_enum ("start-method", NULL, NULL,
                       MPROC_TYPE_START_METHOD,
                       MPROC_START_METHOD_FORK,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_context_init (MprocContext *self)
{
}

/**
 * mproc_context_new:
 * @start_method: how processes are started
 *
 * Creates a context whose processes are started with @start_method. The
 * spawn and forkserver methods need [func@Mproc.init] to have been called at the
 * top of main(); starting a process fails with
 * %MPROC_ERROR_START_METHOD_UNAVAILABLE otherwise.
 *
 * Returns: (transfer full): a new context
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocContext *
mproc_context_new (MprocStartMethod start_method)
{
  g_return_val_if_fail (start_method <= MPROC_START_METHOD_FORKSERVER, NULL);

  return g_object_new (MPROC_TYPE_CONTEXT, "start-method", start_method, NULL);
}

/**
 * mproc_context_get_default:
 *
 * Returns the context that processes use unless told otherwise: spawn in a
 * process that runs GJS (a gjs script, whose JavaScript engine cannot be
 * forked safely, even by a fork server), else forkserver when the program
 * called [func@Mproc.init] (safe with threads, as in every GTK application),
 * fork otherwise (with a warning the first time it forks a multi-threaded
 * process). The environment variable `MPROC_START_METHOD`
 * (`fork`, `spawn` or `forkserver`) overrides the choice, to run a program
 * under each method without changing it.
 *
 * Returns: (transfer none): the default context
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocContext *
mproc_context_get_default (void)
{
  static MprocContext *defaults[3];
  const char *forced = g_getenv ("MPROC_START_METHOD");
  MprocStartMethod which;

  if (g_strcmp0 (forced, "fork") == 0)
    which = MPROC_START_METHOD_FORK;
  else if (g_strcmp0 (forced, "spawn") == 0)
    which = MPROC_START_METHOD_SPAWN;
  else if (g_strcmp0 (forced, "forkserver") == 0)
    which = MPROC_START_METHOD_FORKSERVER;
  else if (mproc_runtime_is_gjs ())
    which = MPROC_START_METHOD_SPAWN;
  else
    which = mproc_runtime_is_initialized () ? MPROC_START_METHOD_FORKSERVER : MPROC_START_METHOD_FORK;

  if (g_once_init_enter (&defaults[which]))
    g_once_init_leave (&defaults[which], mproc_context_new (which));

  return defaults[which];
}

/**
 * mproc_context_get_start_method:
 * @self: a context
 *
 * Gets the start method of the processes made with @self.
 *
 * Returns: how the processes of @self are started
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocStartMethod
mproc_context_get_start_method (MprocContext *self)
{
  g_return_val_if_fail (MPROC_IS_CONTEXT (self), MPROC_START_METHOD_FORK);

  return self->start_method;
}
