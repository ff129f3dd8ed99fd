/* mproc-process.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mproc-enum-types.h"
#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-main.h"
#include "mproc-process-private.h"
#include "mproc-runtime-private.h"
#include "mproc-shareable-private.h"
#include "mproc-wire-private.h"

/**
 * MprocProcess:
 *
 * A target run in a child process, as Python's `multiprocessing.Process`.
 *
 * A process runs a target registered by name with [func@Mproc.register_target],
 * receiving plain values (a #GVariant, never code) and shared objects
 * ([iface@Mproc.Shareable]: queues, locks, events…). Or it runs the
 * [vfunc@Mproc.Process.run] of a subclass.
 *
 * **C**
 *
 * |[<!-- language="C" -->
 * static int
 * worker (MprocProcess *process, GVariant *args, gpointer user_data)
 * {
 *   g_print ("Worker %d in %s\n", g_variant_get_int32 (args),
 *            mproc_process_get_name (process));
 *   return 0;
 * }
 *
 * int
 * main (int argc, char **argv)
 * {
 *   g_autoptr(MprocProcess) p = NULL;
 *
 *   mproc_register_target ("worker", worker, NULL, NULL);
 *   mproc_init (&argc, &argv);   // a child runs its target here and exits
 *
 *   p = mproc_process_new ("worker", g_variant_new_int32 (1));
 *   mproc_process_start (p, NULL);
 *   mproc_process_join (p, -1, NULL, NULL);
 *   return mproc_process_get_exit_code (p);
 * }
 * ]|
 *
 * ## Subclasses
 *
 * A subclass overrides [vfunc@Mproc.Process.run]. Under the fork start
 * method the child runs it on its copy of the object. Under spawn and
 * forkserver a new instance is built in the child from the values of the
 * subclass's read-write GObject properties: plain values (booleans, numbers,
 * strings, string arrays, enums, flags, #GVariant) are copied and properties
 * holding an [iface@Mproc.Shareable] object are transferred like the objects
 * of [method@Mproc.Process.add_object]. State kept elsewhere does not reach
 * the child. The child must know the type by name: call g_type_ensure() on it
 * before [func@Mproc.init], or link the program with `-rdynamic`.
 *
 * ## Reaping
 *
 * No zombie is left behind: an exited child is reaped by
 * [method@Mproc.Process.join], by the watch that emits
 * [signal@Mproc.Process::exited] in the main context that was the thread
 * default when the object was created, by [func@Mproc.active_children], or at
 * exit by [func@Mproc.shutdown].
 *
 * ## Thread safety
 *
 * The methods of a process can be called from any thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */

typedef struct
{
  GMutex         lock;
  MprocContext  *context;
  char          *target;
  GVariant      *args;
  char          *name;
  char          *identity;
  GPtrArray     *objects;
  gboolean       daemon;
  ProcessState   state;
  GPid           pid;
  int            pidfd;
  int            exit_code;
  GMainContext  *main_context;
  GSource       *watch;
  gboolean       exited_emitted;
  int            status_fd;      /* spawn, forkserver: mproc-start-status.c */
  GError        *start_error;    /* what the child reported before exiting */
  char          *executable;     /* spawn: the program to run, NULL for ours */
} MprocProcessPrivate;

enum {
  PROP_0,
  PROP_CONTEXT,
  PROP_TARGET,
  PROP_ARGS,
  PROP_NAME,
  PROP_DAEMON,
  PROP_PID,
  PROP_EXIT_CODE,
  N_PROPS
};

enum {
  EXITED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* Set while building process objects that describe existing processes (the
 * main process, the parent), which must not take a child number. */
static GPrivate describing_existing;

G_DEFINE_TYPE_WITH_PRIVATE (MprocProcess, mproc_process, G_TYPE_OBJECT)

#define PRIV(self) ((MprocProcessPrivate *) mproc_process_get_instance_private (self))

static void process_emit_exited (MprocProcess *self);

static int
mproc_process_real_run (MprocProcess *self)
{
  MprocProcessPrivate *priv = PRIV (self);
  MprocTargetFunc func;
  gpointer user_data;

  if (priv->target == NULL)
    return 0;

  if (!mproc_runtime_lookup_target (priv->target, &func, &user_data))
    {
      g_printerr (_("No target named “%s” is registered in this program"), priv->target);
      g_printerr ("\n");
      return 1;
    }

  return func (self, priv->args, user_data);
}

static void
mproc_process_constructed (GObject *object)
{
  MprocProcess *self = MPROC_PROCESS (object);
  MprocProcessPrivate *priv = PRIV (self);

  G_OBJECT_CLASS (mproc_process_parent_class)->constructed (object);

  if (priv->context == NULL)
    priv->context = g_object_ref (mproc_context_get_default ());

  /* An object that describes an existing process (the current one, its
   * parent, or the one a child rebuilds from its start message) is never
   * started: it takes no child number and watches no context, which keeps
   * a child's start-up free of main-context creation. */
  if (g_private_get (&describing_existing) == NULL)
    {
      char *name = mproc_runtime_next_name (G_OBJECT_TYPE (self));

      priv->main_context = g_main_context_ref_thread_default ();

      priv->identity = mproc_runtime_dup_identity ();
      if (priv->name == NULL)
        priv->name = name;
      else
        g_free (name);
    }
}

static void
mproc_process_dispose (GObject *object)
{
  MprocProcess *self = MPROC_PROCESS (object);
  MprocProcessPrivate *priv = PRIV (self);

  if (priv->watch != NULL)
    {
      g_source_destroy (priv->watch);
      g_clear_pointer (&priv->watch, g_source_unref);
    }
  g_clear_pointer (&priv->objects, g_ptr_array_unref);

  G_OBJECT_CLASS (mproc_process_parent_class)->dispose (object);
}

static void
mproc_process_finalize (GObject *object)
{
  MprocProcess *self = MPROC_PROCESS (object);
  MprocProcessPrivate *priv = PRIV (self);

  mproc_clear_fd (&priv->pidfd);
  mproc_clear_fd (&priv->status_fd);
  g_clear_error (&priv->start_error);
  g_clear_object (&priv->context);
  g_clear_pointer (&priv->target, g_free);
  g_clear_pointer (&priv->args, g_variant_unref);
  g_clear_pointer (&priv->name, g_free);
  g_clear_pointer (&priv->identity, g_free);
  g_clear_pointer (&priv->executable, g_free);
  g_clear_pointer (&priv->main_context, g_main_context_unref);
  g_mutex_clear (&priv->lock);

  G_OBJECT_CLASS (mproc_process_parent_class)->finalize (object);
}

static void
mproc_process_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MprocProcess *self = MPROC_PROCESS (object);
  MprocProcessPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      g_value_set_object (value, priv->context);
      break;

    case PROP_TARGET:
      g_value_set_string (value, priv->target);
      break;

    case PROP_ARGS:
      g_value_set_variant (value, priv->args);
      break;

    case PROP_NAME:
      g_mutex_lock (&priv->lock);
      g_value_set_string (value, priv->name);
      g_mutex_unlock (&priv->lock);
      break;

    case PROP_DAEMON:
      g_value_set_boolean (value, mproc_process_get_daemon (self));
      break;

    case PROP_PID:
      g_value_set_int (value, mproc_process_get_pid (self));
      break;

    case PROP_EXIT_CODE:
      g_value_set_int (value, mproc_process_get_exit_code (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_process_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MprocProcess *self = MPROC_PROCESS (object);
  MprocProcessPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      priv->context = g_value_dup_object (value);
      break;

    case PROP_TARGET:
      priv->target = g_value_dup_string (value);
      break;

    case PROP_ARGS:
      priv->args = g_value_dup_variant (value);
      break;

    case PROP_NAME:
      mproc_process_set_name (self, g_value_get_string (value));
      break;

    case PROP_DAEMON:
      mproc_process_set_daemon (self, g_value_get_boolean (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_process_class_init (MprocProcessClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = mproc_process_constructed;
  object_class->dispose = mproc_process_dispose;
  object_class->finalize = mproc_process_finalize;
  object_class->get_property = mproc_process_get_property;
  object_class->set_property = mproc_process_set_property;

  klass->run = mproc_process_real_run;

  /**
   * MprocProcess:context:
   *
   * The context whose start method starts the process; the default context
   * when %NULL is given.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_CONTEXT] =
    g_param_spec_object ("context", NULL, NULL,
                         MPROC_TYPE_CONTEXT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocProcess:target:
   *
   * The name of the registered target the default
   * [vfunc@Mproc.Process.run] calls, or %NULL to do nothing.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_TARGET] =
    g_param_spec_string ("target", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocProcess:args:
   *
   * The arguments passed to the target.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_ARGS] =
    g_param_spec_variant ("args", NULL, NULL,
                          G_VARIANT_TYPE_ANY, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocProcess:name:
   *
   * The name of the process, for messages. By default the class name and the
   * process's place among its parent's children, as in Python:
   * "Process-1", "Process-2", and in the child Process-1, "Process-1:1"; a
   * subclass named "Consumer" gives "Consumer-1".
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL,
                         NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocProcess:daemon:
   *
   * Whether the process is a daemon: daemon processes are terminated when
   * their parent exits, the others are waited for. Set it before starting.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_DAEMON] =
    g_param_spec_boolean ("daemon", NULL, NULL,
                          FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocProcess:pid:
   *
   * The process id, or 0 before the process is started.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_PID] =
    g_param_spec_int ("pid", NULL, NULL,
                      0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * MprocProcess:exit-code:
   *
   * The exit code once the process has exited: the status it exited with, or
   * minus the number of the signal that killed it (as Python). 0 before.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_EXIT_CODE] =
    g_param_spec_int ("exit-code", NULL, NULL,
                      G_MININT, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MprocProcess::exited:
   * @self: the process
   * @exit_code: its exit code
   *
   * Emitted once, in the main context that was the thread default when the
   * process object was created, after the process has exited and been
   * reaped.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  signals[EXITED] =
    g_signal_new ("exited",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
mproc_process_init (MprocProcess *self)
{
  MprocProcessPrivate *priv = PRIV (self);

  g_mutex_init (&priv->lock);
  priv->pidfd = -1;
  priv->status_fd = -1;
  priv->objects = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * mproc_process_new:
 * @target: (nullable): the name of a target registered with [func@Mproc.register_target]
 * @args: (nullable): the target's arguments; a floating reference is sunk
 *
 * Creates a process, not yet started, in the default context.
 *
 * Returns: (transfer full): a new process
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocProcess *
mproc_process_new (const char *target,
                   GVariant   *args)
{
  return mproc_process_new_with_context (NULL, target, args);
}

/**
 * mproc_process_new_with_context:
 * @context: (nullable): the context, or %NULL for the default one
 * @target: (nullable): the name of a target registered with [func@Mproc.register_target]
 * @args: (nullable): the target's arguments; a floating reference is sunk
 *
 * Creates a process, not yet started, in @context.
 *
 * Returns: (transfer full): a new process
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocProcess *
mproc_process_new_with_context (MprocContext *context,
                                const char   *target,
                                GVariant     *args)
{
  MprocProcess *ret;

  g_return_val_if_fail (context == NULL || MPROC_IS_CONTEXT (context), NULL);

  if (args != NULL)
    g_variant_ref_sink (args);
  ret = g_object_new (MPROC_TYPE_PROCESS,
                      "context", context,
                      "target", target,
                      "args", args,
                      NULL);
  if (args != NULL)
    g_variant_unref (args);

  return ret;
}

MprocProcess *
mproc_process_new_for_pid (const char *name,
                           GPid        pid)
{
  MprocProcess *ret;

  g_private_set (&describing_existing, GINT_TO_POINTER (1));
  ret = g_object_new (MPROC_TYPE_PROCESS, "name", name, NULL);
  g_private_set (&describing_existing, NULL);

  PRIV (ret)->state = PROCESS_STATE_SELF;
  PRIV (ret)->pid = pid;

  return ret;
}

/**
 * mproc_process_get_context:
 * @self: a process
 *
 * Gets the context whose start method starts @self.
 *
 * Returns: (transfer none): the context of @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocContext *
mproc_process_get_context (MprocProcess *self)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), NULL);

  return PRIV (self)->context;
}

/**
 * mproc_process_get_target:
 * @self: a process
 *
 * Gets the name of the registered target @self runs.
 *
 * Returns: (nullable): the name of the target of @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
const char *
mproc_process_get_target (MprocProcess *self)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), NULL);

  return PRIV (self)->target;
}

/**
 * mproc_process_get_args:
 * @self: a process
 *
 * Gets the arguments given to the target of @self.
 *
 * Returns: (transfer none) (nullable): the arguments of @self's target
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_process_get_args (MprocProcess *self)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), NULL);

  return PRIV (self)->args;
}

/**
 * mproc_process_get_name:
 * @self: a process
 *
 * Gets the name of @self, used in messages and by the examples.
 *
 * Returns: the name of @self (see [property@Mproc.Process:name])
 *
 * Since: 0.1
 * Stability: Unstable
 */
const char *
mproc_process_get_name (MprocProcess *self)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), NULL);

  return PRIV (self)->name;
}

/**
 * mproc_process_set_name:
 * @self: a process
 * @name: a name
 *
 * Renames @self. The name travels to the child when it starts; renaming
 * afterwards changes only this object.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_process_set_name (MprocProcess *self,
                        const char   *name)
{
  MprocProcessPrivate *priv;

  g_return_if_fail (MPROC_IS_PROCESS (self));

  priv = PRIV (self);
  if (name == NULL)
    return;   /* constructed() picks the default name */

  g_mutex_lock (&priv->lock);
  if (g_strcmp0 (priv->name, name) == 0)
    {
      g_mutex_unlock (&priv->lock);
      return;
    }
  g_free (priv->name);
  priv->name = g_strdup (name);
  g_mutex_unlock (&priv->lock);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/**
 * mproc_process_get_daemon:
 * @self: a process
 *
 * Tells whether @self is terminated, rather than waited for, when its
 * parent exits.
 *
 * Returns: whether @self is a daemon process
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_get_daemon (MprocProcess *self)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), FALSE);

  return PRIV (self)->daemon;
}

/**
 * mproc_process_set_daemon:
 * @self: a process, not yet started
 * @daemon: whether @self is a daemon
 *
 * Makes @self a daemon process (see [property@Mproc.Process:daemon]).
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_process_set_daemon (MprocProcess *self,
                          gboolean      daemon)
{
  MprocProcessPrivate *priv;

  g_return_if_fail (MPROC_IS_PROCESS (self));

  priv = PRIV (self);
  g_return_if_fail (priv->state == PROCESS_STATE_NEW);

  daemon = !!daemon;
  if (priv->daemon == daemon)
    return;
  priv->daemon = daemon;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DAEMON]);
}

/**
 * mproc_process_get_pid:
 * @self: a process
 *
 * Gets the process id of @self once started.
 *
 * Returns: the process id of @self, or 0 if it was not started
 *
 * Since: 0.1
 * Stability: Unstable
 */
GPid
mproc_process_get_pid (MprocProcess *self)
{
  GPid ret;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), 0);

  g_mutex_lock (&PRIV (self)->lock);
  ret = PRIV (self)->pid;
  g_mutex_unlock (&PRIV (self)->lock);

  return ret;
}

/**
 * mproc_process_has_exited:
 * @self: a process
 *
 * Returns whether @self is known to have exited (it has been reaped). See
 * [method@Mproc.Process.is_alive] to check now.
 *
 * Returns: %TRUE if the exit code of @self is known
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_has_exited (MprocProcess *self)
{
  gboolean ret;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), FALSE);

  g_mutex_lock (&PRIV (self)->lock);
  ret = PRIV (self)->state == PROCESS_STATE_EXITED ||
        (PRIV (self)->state == PROCESS_STATE_CLOSED && PRIV (self)->pid != 0);
  g_mutex_unlock (&PRIV (self)->lock);

  return ret;
}

/**
 * mproc_process_get_exit_code:
 * @self: a process
 *
 * Returns the exit code of @self once it has exited: the status it passed to
 * exit() or returned from its target, or minus the number of the signal that
 * killed it (-9 for SIGKILL), as Python's `exitcode`. Before that, 0: check
 * [method@Mproc.Process.has_exited].
 *
 * Returns: the exit code
 *
 * Since: 0.1
 * Stability: Unstable
 */
int
mproc_process_get_exit_code (MprocProcess *self)
{
  int ret;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), 0);

  g_mutex_lock (&PRIV (self)->lock);
  ret = PRIV (self)->exit_code;
  g_mutex_unlock (&PRIV (self)->lock);

  return ret;
}

/* Reaps the child if it has exited; TRUE if it has (now or before). */
gboolean
mproc_process_try_reap (MprocProcess *self)
{
  MprocProcessPrivate *priv = PRIV (self);
  gboolean reaped_now = FALSE;
  gboolean exited;

  g_mutex_lock (&priv->lock);
  if (priv->state == PROCESS_STATE_RUNNING)
    {
      siginfo_t info = { 0 };
      int r;

      do
        r = waitid (P_PIDFD, priv->pidfd, &info, WEXITED | WNOHANG);
      while (r < 0 && errno == EINTR);

      if (r < 0)
        {
          /* Someone else reaped it (a waitpid(-1) or SIGCHLD set to
           * SIG_IGN elsewhere in the program): its status is lost. */
          priv->exit_code = 255;
          priv->state = PROCESS_STATE_EXITED;
          reaped_now = TRUE;
        }
      else if (info.si_pid != 0)
        {
          if (info.si_code == CLD_EXITED)
            priv->exit_code = info.si_status;
          else
            priv->exit_code = -info.si_status;
          priv->state = PROCESS_STATE_EXITED;
          reaped_now = TRUE;
        }
      if (reaped_now)
        {
          /* sent before its exit: already there */
          priv->start_error = mproc_start_status_read (priv->status_fd, priv->name, priv->pid);
          mproc_clear_fd (&priv->status_fd);
        }
    }
  exited = priv->state != PROCESS_STATE_RUNNING && priv->state != PROCESS_STATE_SELF;
  g_mutex_unlock (&priv->lock);

  if (reaped_now)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXIT_CODE]);
      mproc_runtime_remove_child (self);
      process_emit_exited (self);
    }

  return exited;
}

static gboolean
emit_exited_cb (gpointer data)
{
  MprocProcess *self = data;
  MprocProcessPrivate *priv = PRIV (self);
  gboolean emit;
  GSource *watch;
  int exit_code;

  g_mutex_lock (&priv->lock);
  emit = !priv->exited_emitted;
  priv->exited_emitted = TRUE;
  exit_code = priv->exit_code;
  watch = g_steal_pointer (&priv->watch);
  g_mutex_unlock (&priv->lock);

  if (watch != NULL)
    {
      g_source_destroy (watch);
      g_source_unref (watch);
    }

  if (emit)
    g_signal_emit (self, signals[EXITED], 0, exit_code);

  return G_SOURCE_REMOVE;
}

/* ::exited belongs to the creator's main context: run it there, at once if
 * this thread owns that context (or can), else from an idle. */
static void
process_emit_exited (MprocProcess *self)
{
  g_main_context_invoke_full (PRIV (self)->main_context, G_PRIORITY_DEFAULT,
                              emit_exited_cb, g_object_ref (self), g_object_unref);
}

static gboolean
watch_cb (gint         fd,
          GIOCondition condition,
          gpointer     data)
{
  MprocProcess *self = data;

  /* Reaping emits ::exited; if join() reaped first, emit it from here. */
  if (!mproc_process_try_reap (self))
    return G_SOURCE_CONTINUE;
  emit_exited_cb (self);
  return G_SOURCE_REMOVE;
}

/**
 * mproc_process_is_alive:
 * @self: a process
 *
 * Returns whether @self has been started and has not exited yet (reaping it
 * if it has), as Python's `is_alive()`. The object returned by
 * [func@Mproc.current_process] is alive.
 *
 * Returns: %TRUE if the process is running
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_is_alive (MprocProcess *self)
{
  ProcessState state;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), FALSE);

  g_mutex_lock (&PRIV (self)->lock);
  state = PRIV (self)->state;
  g_mutex_unlock (&PRIV (self)->lock);

  if (state == PROCESS_STATE_SELF)
    return TRUE;
  if (state != PROCESS_STATE_RUNNING)
    return FALSE;
  return !mproc_process_try_reap (self);
}

/**
 * mproc_process_add_object:
 * @self: a process, not yet started
 * @object: a shared object
 *
 * Hands @object to the child: in the child,
 * [method@Mproc.Process.get_object] returns it (under fork) or an equivalent
 * object connected to the same shared state (under spawn and forkserver), at
 * the index of the order of the calls.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_process_add_object (MprocProcess   *self,
                          MprocShareable *object)
{
  g_return_if_fail (MPROC_IS_PROCESS (self));
  g_return_if_fail (MPROC_IS_SHAREABLE (object));
  g_return_if_fail (PRIV (self)->state == PROCESS_STATE_NEW);

  g_ptr_array_add (PRIV (self)->objects, g_object_ref (object));
}

/**
 * mproc_process_get_n_objects:
 * @self: a process
 *
 * Gets the number of shared objects handed to @self at its start.
 *
 * Returns: the number of shared objects handed to @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_process_get_n_objects (MprocProcess *self)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), 0);

  return PRIV (self)->objects != NULL ? PRIV (self)->objects->len : 0;
}

/**
 * mproc_process_get_object:
 * @self: a process
 * @index: the index of the object, in the order of [method@Mproc.Process.add_object]
 *
 * Returns one of the shared objects handed to @self, typically called by the
 * target in the child.
 *
 * Returns: (transfer none) (type GObject) (nullable): the object, or %NULL if
 *   @index is out of range
 *
 * Since: 0.1
 * Stability: Unstable
 */
gpointer
mproc_process_get_object (MprocProcess *self,
                          guint         index)
{
  g_return_val_if_fail (MPROC_IS_PROCESS (self), NULL);

  if (PRIV (self)->objects == NULL || index >= PRIV (self)->objects->len)
    return NULL;
  return PRIV (self)->objects->pdata[index];
}

/* --- Subclass state ---------------------------------------------------- */

static gboolean
property_is_transferred (GParamSpec *pspec)
{
  return pspec->owner_type != MPROC_TYPE_PROCESS &&
         pspec->owner_type != G_TYPE_OBJECT &&
         (pspec->flags & G_PARAM_READABLE) != 0 &&
         (pspec->flags & G_PARAM_WRITABLE) != 0;
}

/* Shared objects made with g_object_new() alone (by a binding) get their
 * shared state now, before a fork() would copy them without it. */
static gboolean
prepare_shared_objects (MprocProcess  *self,
                        GError       **error)
{
  MprocProcessPrivate *priv = PRIV (self);
  g_autofree GParamSpec **pspecs = NULL;
  guint n_pspecs = 0;

  for (guint i = 0; i < priv->objects->len; i++)
    if (!mproc_shareable_prepare (priv->objects->pdata[i], error))
      return FALSE;

  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_autoptr(GObject) object = NULL;

      if (!property_is_transferred (pspecs[i]) || !g_type_is_a (pspecs[i]->value_type, MPROC_TYPE_SHAREABLE))
        continue;
      g_object_get (self, pspecs[i]->name, &object, NULL);
      if (object != NULL && !mproc_shareable_prepare (MPROC_SHAREABLE (object), error))
        return FALSE;
    }
  return TRUE;
}

/* Plain values become GVariants; a shared object becomes its index in
 * @objects (appended). NULL when the value cannot travel. */
static GVariant *
value_to_variant (const GValue *value,
                  GPtrArray    *objects)
{
  GType type = G_VALUE_TYPE (value);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN:
      return g_variant_new_boolean (g_value_get_boolean (value));
    case G_TYPE_CHAR:
      return g_variant_new_int32 (g_value_get_schar (value));
    case G_TYPE_UCHAR:
      return g_variant_new_byte (g_value_get_uchar (value));
    case G_TYPE_INT:
      return g_variant_new_int32 (g_value_get_int (value));
    case G_TYPE_UINT:
      return g_variant_new_uint32 (g_value_get_uint (value));
    case G_TYPE_LONG:
      return g_variant_new_int64 (g_value_get_long (value));
    case G_TYPE_ULONG:
      return g_variant_new_uint64 (g_value_get_ulong (value));
    case G_TYPE_INT64:
      return g_variant_new_int64 (g_value_get_int64 (value));
    case G_TYPE_UINT64:
      return g_variant_new_uint64 (g_value_get_uint64 (value));
    case G_TYPE_FLOAT:
      return g_variant_new_double (g_value_get_float (value));
    case G_TYPE_DOUBLE:
      return g_variant_new_double (g_value_get_double (value));
    case G_TYPE_ENUM:
      return g_variant_new_int32 (g_value_get_enum (value));
    case G_TYPE_FLAGS:
      return g_variant_new_uint32 (g_value_get_flags (value));
    case G_TYPE_STRING:
      return g_variant_new_maybe (G_VARIANT_TYPE_STRING,
                                  g_value_get_string (value) != NULL
                                    ? g_variant_new_string (g_value_get_string (value))
                                    : NULL);
    case G_TYPE_VARIANT:
      return g_variant_new_maybe (G_VARIANT_TYPE_VARIANT,
                                  g_value_get_variant (value) != NULL
                                    ? g_variant_new_variant (g_value_get_variant (value))
                                    : NULL);
    case G_TYPE_BOXED:
      if (type == G_TYPE_STRV)
        {
          const char * const *strv = g_value_get_boxed (value);
          return g_variant_new_strv (strv != NULL ? strv : (const char * const[]) { NULL }, -1);
        }
      return NULL;
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      {
        GObject *object = g_value_get_object (value);

        if (object == NULL)
          return g_variant_new_int32 (-1);
        if (!MPROC_IS_SHAREABLE (object))
          return NULL;
        g_ptr_array_add (objects, g_object_ref (object));
        return g_variant_new_int32 (objects->len - 1);
      }
    default:
      return NULL;
    }
}

static gboolean
variant_to_value (GVariant   *variant,
                  GParamSpec *pspec,
                  GPtrArray  *objects,
                  GValue     *value,
                  GError    **error)
{
  GType type = pspec->value_type;
  const GVariantType *expected;

  g_value_init (value, type);

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN: expected = G_VARIANT_TYPE_BOOLEAN; break;
    case G_TYPE_CHAR:    expected = G_VARIANT_TYPE_INT32; break;
    case G_TYPE_UCHAR:   expected = G_VARIANT_TYPE_BYTE; break;
    case G_TYPE_INT:     expected = G_VARIANT_TYPE_INT32; break;
    case G_TYPE_UINT:    expected = G_VARIANT_TYPE_UINT32; break;
    case G_TYPE_LONG:    expected = G_VARIANT_TYPE_INT64; break;
    case G_TYPE_ULONG:   expected = G_VARIANT_TYPE_UINT64; break;
    case G_TYPE_INT64:   expected = G_VARIANT_TYPE_INT64; break;
    case G_TYPE_UINT64:  expected = G_VARIANT_TYPE_UINT64; break;
    case G_TYPE_FLOAT:   expected = G_VARIANT_TYPE_DOUBLE; break;
    case G_TYPE_DOUBLE:  expected = G_VARIANT_TYPE_DOUBLE; break;
    case G_TYPE_ENUM:    expected = G_VARIANT_TYPE_INT32; break;
    case G_TYPE_FLAGS:   expected = G_VARIANT_TYPE_UINT32; break;
    case G_TYPE_STRING:  expected = G_VARIANT_TYPE ("ms"); break;
    case G_TYPE_VARIANT: expected = G_VARIANT_TYPE ("mv"); break;
    case G_TYPE_BOXED:   expected = G_VARIANT_TYPE_STRING_ARRAY; break;
    case G_TYPE_OBJECT:
    case G_TYPE_INTERFACE:
      expected = G_VARIANT_TYPE_INT32; break;
    default:
      expected = NULL;
    }

  if (expected == NULL || !g_variant_is_of_type (variant, expected) ||
      (G_TYPE_FUNDAMENTAL (type) == G_TYPE_BOXED && type != G_TYPE_STRV))
    goto bad;

  switch (G_TYPE_FUNDAMENTAL (type))
    {
    case G_TYPE_BOOLEAN: g_value_set_boolean (value, g_variant_get_boolean (variant)); break;
    case G_TYPE_CHAR:    g_value_set_schar (value, g_variant_get_int32 (variant)); break;
    case G_TYPE_UCHAR:   g_value_set_uchar (value, g_variant_get_byte (variant)); break;
    case G_TYPE_INT:     g_value_set_int (value, g_variant_get_int32 (variant)); break;
    case G_TYPE_UINT:    g_value_set_uint (value, g_variant_get_uint32 (variant)); break;
    case G_TYPE_LONG:    g_value_set_long (value, g_variant_get_int64 (variant)); break;
    case G_TYPE_ULONG:   g_value_set_ulong (value, g_variant_get_uint64 (variant)); break;
    case G_TYPE_INT64:   g_value_set_int64 (value, g_variant_get_int64 (variant)); break;
    case G_TYPE_UINT64:  g_value_set_uint64 (value, g_variant_get_uint64 (variant)); break;
    case G_TYPE_FLOAT:   g_value_set_float (value, g_variant_get_double (variant)); break;
    case G_TYPE_DOUBLE:  g_value_set_double (value, g_variant_get_double (variant)); break;
    case G_TYPE_ENUM:    g_value_set_enum (value, g_variant_get_int32 (variant)); break;
    case G_TYPE_FLAGS:   g_value_set_flags (value, g_variant_get_uint32 (variant)); break;
    case G_TYPE_STRING:
    case G_TYPE_VARIANT:
      {
        g_autoptr(GVariant) inner = g_variant_get_maybe (variant);

        if (inner == NULL)
          break;
        if (G_TYPE_FUNDAMENTAL (type) == G_TYPE_STRING)
          g_value_set_string (value, g_variant_get_string (inner, NULL));
        else
          g_value_take_variant (value, g_variant_get_variant (inner));
      }
      break;
    case G_TYPE_BOXED:
      g_value_take_boxed (value, g_variant_dup_strv (variant, NULL));
      break;
    default:
      {
        gint32 index = g_variant_get_int32 (variant);

        if (index == -1)
          break;
        if (index < 0 || (guint) index >= objects->len ||
            !g_type_is_a (G_OBJECT_TYPE (objects->pdata[index]), type))
          goto bad;
        g_value_set_object (value, objects->pdata[index]);
      }
    }

  return TRUE;

bad:
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Received a bad value for property “%s”"), pspec->name);
  return FALSE;
}

/* --- Start messages (spawn, forkserver) -------------------------------- */

GVariant *
mproc_process_build_start_message (MprocProcess  *self,
                                   GArray        *fds,
                                   GError       **error)
{
  g_autofree char *cwd = NULL;
  MprocProcessPrivate *priv = PRIV (self);
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree GParamSpec **pspecs = NULL;
  GVariantBuilder builder, props, descs;
  guint n_pspecs = 0;
  guint status_index = 0;

  for (guint i = 0; i < priv->objects->len; i++)
    g_ptr_array_add (objects, g_object_ref (priv->objects->pdata[i]));

  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (self), &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_auto(GValue) value = G_VALUE_INIT;
      GVariant *variant;

      if (!property_is_transferred (pspecs[i]))
        continue;

      g_value_init (&value, pspecs[i]->value_type);
      g_object_get_property (G_OBJECT (self), pspecs[i]->name, &value);
      variant = value_to_variant (&value, objects);
      if (variant == NULL)
        {
          g_variant_builder_clear (&props);
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Property “%s” of %s cannot be passed to another process"),
                       pspecs[i]->name, G_OBJECT_TYPE_NAME (self));
          return NULL;
        }
      g_variant_builder_add (&props, "{sv}", pspecs[i]->name, variant);
    }

  g_variant_builder_init (&descs, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < objects->len; i++)
    {
      GVariant *desc = mproc_shareable_serialize (objects->pdata[i], fds, error);

      if (desc == NULL)
        {
          g_variant_builder_clear (&props);
          g_variant_builder_clear (&descs);
          return NULL;
        }
      g_variant_builder_add (&descs, "v", desc);
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&builder, "{sv}", "type", g_variant_new_string (G_OBJECT_TYPE_NAME (self)));
  g_variant_builder_add (&builder, "{sv}", "name", g_variant_new_string (priv->name));
  g_variant_builder_add (&builder, "{sv}", "identity", g_variant_new_string (priv->identity));
  g_variant_builder_add (&builder, "{sv}", "parent-name",
                         g_variant_new_string (mproc_process_get_name (mproc_current_process ())));
  g_variant_builder_add (&builder, "{sv}", "daemon", g_variant_new_boolean (priv->daemon));
  if (priv->target != NULL)
    g_variant_builder_add (&builder, "{sv}", "target", g_variant_new_string (priv->target));
  if (priv->args != NULL)
    g_variant_builder_add (&builder, "{sv}", "args", g_variant_new_variant (priv->args));
  g_variant_builder_add (&builder, "{sv}", "n-objects", g_variant_new_uint32 (priv->objects->len));
  g_variant_builder_add (&builder, "{sv}", "objects", g_variant_builder_end (&descs));
  g_variant_builder_add (&builder, "{sv}", "properties", g_variant_builder_end (&props));
  /* The child works where the parent works at start(), as under fork; it
   * was executed in the directory of mproc_init() (mproc_spawn_self()). */
  cwd = g_get_current_dir ();
  g_variant_builder_add (&builder, "{sv}", "cwd", g_variant_new_bytestring (cwd));
  mproc_clear_fd (&priv->status_fd);
  priv->status_fd = mproc_start_status_new (fds, &status_index, error);
  if (priv->status_fd < 0)
    {
      g_variant_builder_clear (&builder);
      return NULL;
    }
  g_variant_builder_add (&builder, "{sv}", "status-fd", g_variant_new_handle (status_index));

  return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static MprocProcess *
process_from_start_message (GVariant  *message,
                            GArray    *fds,
                            GError   **error)
{
  g_autoptr(GVariantDict) dict = NULL;
  g_autoptr(GPtrArray) objects = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GVariant) descs = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  const char *type_name, *name, *identity, *parent_name, *target = NULL, *cwd = NULL;
  gboolean daemon = FALSE;
  guint32 n_objects = 0;
  GObjectClass *klass = NULL;
  MprocProcess *self = NULL;
  GVariantIter iter;
  const char *key;
  GVariant *child;
  GType type;

  g_array_set_clear_func (values, (GDestroyNotify) g_value_unset);

  if (!g_variant_is_of_type (message, G_VARIANT_TYPE_VARDICT))
    goto bad;

  dict = g_variant_dict_new (message);
  if (!g_variant_dict_lookup (dict, "type", "&s", &type_name) ||
      !g_variant_dict_lookup (dict, "name", "&s", &name) ||
      !g_variant_dict_lookup (dict, "identity", "&s", &identity) ||
      !g_variant_dict_lookup (dict, "parent-name", "&s", &parent_name) ||
      !g_variant_dict_lookup (dict, "n-objects", "u", &n_objects) ||
      !g_variant_dict_lookup (dict, "daemon", "b", &daemon))
    goto bad;
  g_variant_dict_lookup (dict, "target", "&s", &target);
  g_variant_dict_lookup (dict, "args", "v", &args);
  g_variant_dict_lookup (dict, "cwd", "^&ay", &cwd);
  descs = g_variant_dict_lookup_value (dict, "objects", G_VARIANT_TYPE ("av"));
  props = g_variant_dict_lookup_value (dict, "properties", G_VARIANT_TYPE_VARDICT);
  if (descs == NULL || props == NULL || n_objects > g_variant_n_children (descs))
    goto bad;

  type = mproc_type_from_name (type_name);
  if (type == G_TYPE_INVALID || !g_type_is_a (type, MPROC_TYPE_PROCESS))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET,
                   _("“%s” is not a process type of this program: call g_type_ensure() on it "
                     "before mproc_init()"),
                   type_name);
      return NULL;
    }

  g_variant_iter_init (&iter, descs);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) boxed = child;
      g_autoptr(GVariant) desc = g_variant_get_variant (boxed);
      MprocShareable *object = mproc_shareable_deserialize (desc, fds, error);

      if (object == NULL)
        return NULL;
      g_ptr_array_add (objects, object);
    }

  klass = g_type_class_ref (type);

  g_variant_iter_init (&iter, props);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &child))
    {
      g_autoptr(GVariant) value_variant = child;
      GParamSpec *pspec = g_object_class_find_property (klass, key);
      GValue value = G_VALUE_INIT;

      if (pspec == NULL || !property_is_transferred (pspec) ||
          !variant_to_value (value_variant, pspec, objects, &value, error))
        {
          g_value_unset (&value);
          if (error != NULL && *error == NULL)
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("Received a bad value for property “%s”"), key);
          g_type_class_unref (klass);
          return NULL;
        }
      g_ptr_array_add (names, (gpointer) pspec->name);
      g_array_append_val (values, value);
    }

#define ADD_PROP(prop_name, gtype, setter, val) G_STMT_START { \
    GValue v = G_VALUE_INIT; \
    g_value_init (&v, gtype); \
    setter (&v, val); \
    g_ptr_array_add (names, (gpointer) prop_name); \
    g_array_append_val (values, v); \
  } G_STMT_END

  ADD_PROP ("name", G_TYPE_STRING, g_value_set_string, name);
  ADD_PROP ("target", G_TYPE_STRING, g_value_set_string, target);
  ADD_PROP ("args", G_TYPE_VARIANT, g_value_set_variant, args);
  ADD_PROP ("daemon", G_TYPE_BOOLEAN, g_value_set_boolean, daemon);
#undef ADD_PROP

  g_private_set (&describing_existing, GINT_TO_POINTER (1));
  self = MPROC_PROCESS (g_object_new_with_properties (type, names->len,
                                                      (const char **) names->pdata,
                                                      (const GValue *) values->data));
  g_private_set (&describing_existing, NULL);
  g_type_class_unref (klass);

  /* The objects handed with add_object() come first; the rest were
   * property values. */
  g_ptr_array_set_size (PRIV (self)->objects, 0);
  for (guint i = 0; i < n_objects; i++)
    g_ptr_array_add (PRIV (self)->objects, g_object_ref (objects->pdata[i]));

  PRIV (self)->identity = g_strdup (identity);
  PRIV (self)->state = PROCESS_STATE_SELF;
  PRIV (self)->pid = getpid ();
  g_object_set_data_full (G_OBJECT (self), "mproc-parent-name", g_strdup (parent_name), g_free);
  if (cwd != NULL)
    g_object_set_data_full (G_OBJECT (self), "mproc-start-dir", g_strdup (cwd), g_free);

  return self;

bad:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed start message"));
  return NULL;
}

MprocProcess *
mproc_process_new_from_start_message (GVariant  *message,
                                      GArray    *fds,
                                      GError   **error)
{
  GError *local_error = NULL;
  MprocProcess *self;
  gint32 index;
  int status_fd = -1;

  /* taken first, so that any failure below reaches the parent */
  if (g_variant_is_of_type (message, G_VARIANT_TYPE_VARDICT) &&
      g_variant_lookup (message, "status-fd", "h", &index) &&
      index >= 0 && (guint) index < fds->len)
    {
      status_fd = g_array_index (fds, int, index);
      g_array_index (fds, int, index) = -1;
    }

  self = process_from_start_message (message, fds, &local_error);
  if (self == NULL)
    {
      mproc_start_status_report (status_fd, local_error);
      mproc_clear_fd (&status_fd);
      g_propagate_error (error, local_error);
      return NULL;
    }
  PRIV (self)->status_fd = status_fd;
  return self;
}

/* --- Child side -------------------------------------------------------- */

void
mproc_process_run_in_child (MprocProcess *self)
{
  MprocProcessPrivate *priv = PRIV (self);
  const char *parent_name;
  const char *start_dir;
  MprocTargetFunc func;
  gpointer user_data;
  int code;

  parent_name = g_object_get_data (G_OBJECT (self), "mproc-parent-name");
  start_dir = g_object_get_data (G_OBJECT (self), "mproc-start-dir");
  /* Where the parent was at start(); if that is gone, stay where we are. */
  if (start_dir != NULL && chdir (start_dir) < 0)
    g_debug ("Cannot work in %s: %s", start_dir, g_strerror (errno));
  mproc_runtime_enter_child (self, priv->identity,
                             parent_name != NULL ? parent_name : "MainProcess",
                             getppid ());

  /* A target registered after mproc_init() is not known to a spawned
   * child: say so to the parent, which reports it from join(). */
  if (MPROC_PROCESS_GET_CLASS (self)->run == mproc_process_real_run && priv->target != NULL &&
      !mproc_runtime_lookup_target (priv->target, &func, &user_data))
    {
      g_autoptr(GError) error = NULL;

      g_set_error (&error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET,
                   _("No target named “%s” is registered in the child: register it with "
                     "mproc_register_target() before mproc_init()"), priv->target);
      mproc_start_status_report (priv->status_fd, error);
      code = 1;
    }
  else
    {
      mproc_clear_fd (&priv->status_fd);
      code = MPROC_PROCESS_GET_CLASS (self)->run (self);
    }

  /* As Python does at a child's exit: wait for its own children. */
  mproc_shutdown ();
  /* Flush only what is pending: writing to an idle FILE costs a
   * copy-on-write fault for nothing. */
  if (__fpending (stdout) > 0)
    fflush (stdout);
  if (__fpending (stderr) > 0)
    fflush (stderr);
  _exit (code & 0xff);
}

void
mproc_process_forget (MprocProcess *self)
{
  MprocProcessPrivate *priv = PRIV (self);

  /* Right after fork(): the watch belongs to a context the child may run,
   * and the process is a sibling the child cannot reap. */
  if (priv->watch != NULL)
    {
      g_source_destroy (priv->watch);
      g_clear_pointer (&priv->watch, g_source_unref);
    }
  mproc_clear_fd (&priv->pidfd);
  priv->state = PROCESS_STATE_CLOSED;
  priv->exited_emitted = TRUE;
}

/* --- Starting ---------------------------------------------------------- */

static gboolean
start_fork (MprocProcess  *self,
            GPid          *pid,
            GError       **error)
{
  MprocProcessPrivate *priv = PRIV (self);
  g_autofree char *parent_name = NULL;
  GPid parent_pid = getpid ();
  int lifeline;
  pid_t child;

  lifeline = mproc_runtime_get_lifeline_fd (error);
  if (lifeline < 0)
    return FALSE;

  mproc_runtime_warn_if_threaded ();
  parent_name = g_strdup (mproc_process_get_name (mproc_current_process ()));
  g_object_set_data_full (G_OBJECT (self), "mproc-parent-name", g_strdup (parent_name), g_free);

  /* Or the child would print what the parent had buffered once more. */
  fflush (stdout);
  fflush (stderr);

  /* fork(), or the language runtime's fork (mproc_set_fork_func()) */
  child = mproc_runtime_fork ();
  if (child < 0)
    {
      int errsv = errno != 0 ? errno : EAGAIN;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a process: %s"), g_strerror (errsv));
      return FALSE;
    }

  if (child == 0)
    {
      mproc_runtime_hold_lifeline (lifeline, parent_pid);
      priv->state = PROCESS_STATE_SELF;
      priv->pid = getpid ();
      mproc_process_run_in_child (self);
    }

  *pid = child;
  return TRUE;
}

void
mproc_process_set_executable (MprocProcess *self,
                              const char   *executable)
{
  MprocProcessPrivate *priv = mproc_process_get_instance_private (self);

  g_free (priv->executable);
  priv->executable = g_strdup (executable);
}

static gboolean
start_spawn (MprocProcess  *self,
             GVariant      *message,
             GArray        *fds,
             GPid          *pid,
             GError       **error)
{
  MprocProcessPrivate *priv = mproc_process_get_instance_private (self);
  int parent_end = -1;
  int sv[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a process: %s"), g_strerror (errsv));
      return FALSE;
    }
  parent_end = sv[0];

  if (!mproc_spawn_program ("spawn", priv->executable, sv[1], pid, error))
    {
      close (sv[1]);
      mproc_clear_fd (&parent_end);
      return FALSE;
    }
  close (sv[1]);

  if (!mproc_wire_send_value (parent_end, message, (const int *) fds->data, fds->len, NULL, error))
    {
      /* The child died before reading its start message. */
      kill (*pid, SIGKILL);
      while (waitpid (*pid, NULL, 0) < 0 && errno == EINTR)
        ;
      g_prefix_error (error, "%s", _("Cannot start a process: "));
      mproc_clear_fd (&parent_end);
      return FALSE;
    }

  mproc_clear_fd (&parent_end);
  return TRUE;
}

/**
 * mproc_process_start:
 * @self: a process, not yet started
 * @error: return location for a #GError
 *
 * Starts @self in a child process with the start method of its context. Under
 * spawn and forkserver, the target's arguments and the shared objects are
 * sent to the child, which runs the target once [func@Mproc.init] sees it is a
 * child. Returns once the child exists; it may still be setting itself up.
 *
 * Fails with %MPROC_ERROR_UNKNOWN_TARGET when the target is not registered,
 * %MPROC_ERROR_START_METHOD_UNAVAILABLE when spawn or forkserver is asked for
 * in a program that did not call [func@Mproc.init], and %MPROC_ERROR_FAILED when
 * the system refuses a new process.
 *
 * Under forkserver this blocks for one round trip to the fork server (a
 * fraction of a millisecond), and the first time for the server's start.
 *
 * Returns: %TRUE if the process was started
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_start (MprocProcess  *self,
                     GError       **error)
{
  MprocProcessPrivate *priv;
  MprocStartMethod method;
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GVariant) message = NULL;
  GPid pid = 0;
  int pidfd;
  gboolean ok;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (priv->state != PROCESS_STATE_NEW)
    {
      if (priv->state == PROCESS_STATE_CLOSED)
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                     _("Cannot start process “%s”: it was closed"), priv->name);
      else if (priv->state == PROCESS_STATE_SELF)
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                     _("Cannot start process “%s”: it is the process running it"), priv->name);
      else
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                     _("Cannot start process “%s”: it was already started"), priv->name);
      return FALSE;
    }

  method = mproc_context_get_start_method (priv->context);

  if (method != MPROC_START_METHOD_FORK && !mproc_runtime_is_initialized ())
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_START_METHOD_UNAVAILABLE,
                   _("The %s start method needs mproc_init() to be called at the top of main()"),
                   method == MPROC_START_METHOD_SPAWN ? "spawn" : "forkserver");
      return FALSE;
    }

  if (priv->target != NULL && MPROC_PROCESS_GET_CLASS (self)->run == mproc_process_real_run)
    {
      MprocTargetFunc func;
      gpointer user_data;

      if (!mproc_runtime_lookup_target (priv->target, &func, &user_data))
        {
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET,
                       _("No target named “%s” is registered"), priv->target);
          return FALSE;
        }
    }

  /* As Python does at every start: reap the children that have exited. */
  g_list_free_full (mproc_active_children (), g_object_unref);

  if (!prepare_shared_objects (self, error))
    return FALSE;

  if (method != MPROC_START_METHOD_FORK)
    {
      fds = mproc_fd_array_new ();
      message = mproc_process_build_start_message (self, fds, error);
      if (message == NULL)
        return FALSE;
    }

  switch (method)
    {
    case MPROC_START_METHOD_FORK:
      ok = start_fork (self, &pid, error);
      break;
    case MPROC_START_METHOD_SPAWN:
      ok = start_spawn (self, message, fds, &pid, error);
      break;
    case MPROC_START_METHOD_FORKSERVER:
      ok = mproc_forkserver_start_child (message, fds, &pid, error);
      break;
    default:
      g_assert_not_reached ();
    }

  if (!ok)
    {
      mproc_clear_fd (&priv->status_fd);
      return FALSE;
    }

  /* The child cannot be reaped by anyone but us, so the pid is stable. */
  pidfd = pidfd_open (pid, 0);
  if (pidfd < 0)
    {
      int errsv = errno;

      kill (pid, SIGKILL);
      while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot watch the new process: %s"), g_strerror (errsv));
      return FALSE;
    }

  g_mutex_lock (&priv->lock);
  priv->pid = pid;
  priv->pidfd = pidfd;
  priv->state = PROCESS_STATE_RUNNING;
  priv->watch = g_unix_fd_source_new (pidfd, G_IO_IN);
  g_source_set_static_name (priv->watch, "[mproc] process watch");
  g_source_set_callback (priv->watch, (GSourceFunc) (void (*) (void)) watch_cb,
                         g_object_ref (self), g_object_unref);
  g_source_attach (priv->watch, priv->main_context);
  g_mutex_unlock (&priv->lock);

  mproc_runtime_add_child (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PID]);

  return TRUE;
}

/* --- Joining ----------------------------------------------------------- */

/* After the reap: FALSE with what the child reported, if it could not
 * run its target. */
static gboolean
join_check_start_error (MprocProcess  *self,
                        GError       **error)
{
  MprocProcessPrivate *priv = PRIV (self);
  GError *start_error;

  g_mutex_lock (&priv->lock);
  start_error = priv->start_error != NULL ? g_error_copy (priv->start_error) : NULL;
  g_mutex_unlock (&priv->lock);
  if (start_error == NULL)
    return TRUE;
  g_propagate_error (error, start_error);
  return FALSE;
}

static void
join_task_return_reaped (GTask *task)
{
  GError *error = NULL;

  if (join_check_start_error (g_task_get_source_object (task), &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Sets the error for joining @self in @state, a state that cannot be
 * joined; FALSE if it can be. */
static gboolean
join_set_state_error (MprocProcess  *self,
                      ProcessState   state,
                      GError       **error)
{
  const char *name = PRIV (self)->name;

  switch (state)
    {
    case PROCESS_STATE_NEW:
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                   _("Cannot join process “%s”: it was never started"), name);
      return TRUE;
    case PROCESS_STATE_SELF:
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                   _("Process “%s” cannot join itself"), name);
      return TRUE;
    case PROCESS_STATE_CLOSED:
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                   _("Cannot join process “%s”: it was closed"), name);
      return TRUE;
    case PROCESS_STATE_RUNNING:
    case PROCESS_STATE_EXITED:
    default:
      return FALSE;
    }
}

/**
 * mproc_process_join:
 * @self: a started process
 * @timeout_usec: how long to wait in microseconds, or -1 to wait for ever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits for @self to exit and reaps it. Unlike Python's `join(timeout)`, a
 * wait that times out is reported: %MPROC_ERROR_TIMED_OUT. Blocks the calling
 * thread: from a main loop, use [method@Mproc.Process.join_async].
 *
 * Returns: %TRUE once @self has exited
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_join (MprocProcess  *self,
                    gint64         timeout_usec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  MprocProcessPrivate *priv;
  gint64 deadline;
  int pidfd;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);
  if (join_set_state_error (self, priv->state, error))
    return FALSE;

  deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;

  while (!mproc_process_try_reap (self))
    {
      g_autoptr(GError) local_error = NULL;

      g_mutex_lock (&priv->lock);
      pidfd = priv->pidfd;
      g_mutex_unlock (&priv->lock);

      if (!mproc_fd_wait (pidfd, G_IO_IN, deadline, cancellable, &local_error))
        {
          if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                         _("Process “%s” did not exit in time"), priv->name);
          else
            g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }

  return join_check_start_error (self, error);
}

typedef struct
{
  int      pidfd;
  GSource *fd_source;
  GSource *cancel_source;
  GSource *timeout_source;
} JoinData;

/* The sources hold the task, which holds this: the callbacks drop the
 * sources before returning the task, or nothing would ever be freed. */
static void
join_data_clear_sources (JoinData *join)
{
  if (join->fd_source != NULL)
    {
      g_source_destroy (join->fd_source);
      g_clear_pointer (&join->fd_source, g_source_unref);
    }
  if (join->cancel_source != NULL)
    {
      g_source_destroy (join->cancel_source);
      g_clear_pointer (&join->cancel_source, g_source_unref);
    }
  if (join->timeout_source != NULL)
    {
      g_source_destroy (join->timeout_source);
      g_clear_pointer (&join->timeout_source, g_source_unref);
    }
}

static void
join_data_free (gpointer data)
{
  JoinData *join = data;

  join_data_clear_sources (join);
  mproc_clear_fd (&join->pidfd);
  g_free (join);
}

static gboolean
join_fd_cb (gint         fd,
            GIOCondition condition,
            gpointer     data)
{
  GTask *task = data;

  JoinData *join = g_task_get_task_data (task);

  if (!mproc_process_try_reap (g_task_get_source_object (task)))
    return G_SOURCE_CONTINUE;

  join_data_clear_sources (join);
  join_task_return_reaped (task);
  return G_SOURCE_REMOVE;
}

static gboolean
join_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  GTask *task = data;
  JoinData *join = g_task_get_task_data (task);

  /* Both sources run in the task's context, so there is no race: the first
   * to fire returns the task and silences the other. */
  join_data_clear_sources (join);
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

static gboolean
join_timeout_cb (gpointer data)
{
  GTask *task = data;
  JoinData *join = g_task_get_task_data (task);
  MprocProcess *self = g_task_get_source_object (task);

  join_data_clear_sources (join);
  if (mproc_process_try_reap (self))
    join_task_return_reaped (task);
  else
    g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                             _("Process “%s” did not exit in time"), PRIV (self)->name);
  return G_SOURCE_REMOVE;
}

/**
 * mproc_process_join_async:
 * @self: a started process
 * @timeout_usec: how long to wait in microseconds, or -1 to wait for ever
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once @self has exited,
 *   or the wait timed out or was cancelled
 * @user_data: data for @callback
 *
 * Waits for @self to exit without blocking: the wait is a source on the
 * process's pidfd in the thread-default main context, no thread. Call
 * [method@Mproc.Process.join_finish] from @callback. As with
 * [method@Mproc.Process.join], a wait that times out fails with
 * %MPROC_ERROR_TIMED_OUT, and joining a process that was never started or
 * was closed fails with %MPROC_ERROR_INVALID_STATE.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_process_join_async (MprocProcess        *self,
                          gint64               timeout_usec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  MprocProcessPrivate *priv;
  JoinData *join;
  int pidfd;

  g_return_if_fail (MPROC_IS_PROCESS (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  priv = PRIV (self);
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_process_join_async);

  if (join_set_state_error (self, priv->state, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;

  if (mproc_process_try_reap (self))
    {
      join_task_return_reaped (task);
      return;
    }

  /* A private dup: the source must not outlive the fd it polls, whatever
   * close() does to the process's own. */
  g_mutex_lock (&priv->lock);
  pidfd = priv->pidfd >= 0 ? fcntl (priv->pidfd, F_DUPFD_CLOEXEC, 3) : -1;
  g_mutex_unlock (&priv->lock);
  if (pidfd < 0)
    {
      if (mproc_process_try_reap (self))
        join_task_return_reaped (task);
      else
        g_task_return_boolean (task, FALSE);
      return;
    }

  join = g_new0 (JoinData, 1);
  join->pidfd = pidfd;
  g_task_set_task_data (task, join, join_data_free);

  join->fd_source = g_unix_fd_source_new (pidfd, G_IO_IN);
  g_source_set_static_name (join->fd_source, "[mproc] join");
  g_task_attach_source (task, join->fd_source, (GSourceFunc) (void (*) (void)) join_fd_cb);

  if (cancellable != NULL)
    {
      join->cancel_source = g_cancellable_source_new (cancellable);
      g_task_attach_source (task, join->cancel_source, (GSourceFunc) (void (*) (void)) join_cancelled_cb);
    }
  if (timeout_usec >= 0)
    {
      join->timeout_source = g_timeout_source_new ((guint) MIN ((timeout_usec + 999) / 1000, G_MAXUINT));
      g_task_attach_source (task, join->timeout_source, join_timeout_cb);
    }
}

/**
 * mproc_process_join_finish:
 * @self: a process
 * @result: the result given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Process.join_async].
 *
 * Returns: %TRUE once @self has exited, %FALSE with @error set if the wait
 *   timed out or was cancelled, or @self cannot be joined
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_join_finish (MprocProcess  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_process_join_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

int
mproc_process_get_pidfd (MprocProcess *self)
{
  int ret;

  g_mutex_lock (&PRIV (self)->lock);
  ret = PRIV (self)->pidfd;
  g_mutex_unlock (&PRIV (self)->lock);

  return ret;
}

/* --- Signals ----------------------------------------------------------- */

static void
send_signal (MprocProcess *self,
             int           signum)
{
  MprocProcessPrivate *priv = PRIV (self);

  g_mutex_lock (&priv->lock);
  /* Through the pidfd: never a recycled pid. */
  if (priv->state == PROCESS_STATE_RUNNING)
    pidfd_send_signal (priv->pidfd, signum, NULL, 0);
  /* The object of this very process (mproc_current_process()) has no
   * pidfd: a target may still terminate or kill itself through it. */
  else if (priv->pidfd < 0 && priv->pid == getpid ())
    kill (getpid (), signum);
  g_mutex_unlock (&priv->lock);
}

/**
 * mproc_process_terminate:
 * @self: a process
 *
 * Sends SIGTERM to @self if it is running; its exit code becomes -15 unless
 * it handles the signal. Does nothing if it has exited.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_process_terminate (MprocProcess *self)
{
  g_return_if_fail (MPROC_IS_PROCESS (self));

  send_signal (self, SIGTERM);
}

/**
 * mproc_process_kill:
 * @self: a process
 *
 * Sends SIGKILL to @self if it is running; its exit code becomes -9.
 * Called on [func@Mproc.current_process], it kills the calling process.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_process_kill (MprocProcess *self)
{
  g_return_if_fail (MPROC_IS_PROCESS (self));

  send_signal (self, SIGKILL);
}

/**
 * mproc_process_close:
 * @self: a process
 * @error: return location for a #GError
 *
 * Releases what @self holds (its pidfd, its shared objects). Fails with
 * %MPROC_ERROR_STILL_RUNNING if the process has not exited: join it first.
 * Afterwards only the getters may be called. Closing twice does nothing.
 *
 * Returns: %TRUE if @self is closed
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_process_close (MprocProcess  *self,
                     GError       **error)
{
  MprocProcessPrivate *priv;
  GSource *watch;

  g_return_val_if_fail (MPROC_IS_PROCESS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  priv = PRIV (self);

  if (priv->state == PROCESS_STATE_RUNNING && !mproc_process_try_reap (self))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_STILL_RUNNING,
                   _("Cannot close process “%s”: it is still running"), priv->name);
      return FALSE;
    }

  g_mutex_lock (&priv->lock);
  if (priv->state != PROCESS_STATE_SELF)
    priv->state = PROCESS_STATE_CLOSED;
  watch = g_steal_pointer (&priv->watch);
  mproc_clear_fd (&priv->pidfd);
  mproc_clear_fd (&priv->status_fd);
  g_mutex_unlock (&priv->lock);

  if (watch != NULL)
    {
      g_source_destroy (watch);
      g_source_unref (watch);
    }
  g_ptr_array_set_size (priv->objects, 0);

  return TRUE;
}
