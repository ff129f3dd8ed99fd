/* mproc-pool.c: a pool of worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-main.h"
#include "mproc-pool-parent-private.h"

/**
 * MprocPool:
 *
 * A pool of worker processes: Python's `multiprocessing.Pool`.
 *
 * A pool keeps [property@Mproc.Pool:processes] workers (by default one per
 * CPU) and runs registered targets ([func@Mproc.register_task],
 * [func@Mproc.register_chunk_task]) on them: [method@Mproc.Pool.map] and
 * [method@Mproc.Pool.starmap] return results in input order,
 * [method@Mproc.Pool.imap] and [method@Mproc.Pool.imap_unordered] deliver
 * them as they come through a [class@Mproc.PoolIterator], and
 * [method@Mproc.Pool.apply] runs one task.  Every call has an `_async` form
 * on GTask that never blocks the main loop and takes a #GCancellable:
 * cancelling removes the tasks of that call that no worker has started and
 * reports %G_IO_ERROR_CANCELLED, other calls go on.  The tasks already
 * running are told ([func@Mproc.Pool.task_get_cancellable]) and, if they go on
 * past [property@Mproc.Pool:cancel-grace], their workers are killed and
 * replaced.
 *
 * **C**
 *
 * ```c
 * static GVariant *
 * do_calculation (GVariant *arg, gpointer user_data, GError **error)
 * {
 *   return g_variant_new_int64 (g_variant_get_int64 (arg) * 2);
 * }
 *
 * int
 * main (int argc, char *argv[])
 * {
 *   mproc_register_task ("do_calculation", do_calculation, NULL, NULL);
 *   mproc_init (&argc, &argv);
 *
 *   g_autoptr(MprocPool) pool = mproc_pool_new (0, NULL);
 *   g_autoptr(GVariant) out = mproc_pool_map (pool, "do_calculation", items,
 *                                             0, -1, NULL, &error);
 *   mproc_pool_close (pool);
 *   mproc_pool_join (pool, -1, NULL, NULL);
 * }
 * ```
 *
 * Items and results are GVariants.  A map's items form one array value
 * (`aT`); the results come back as one array: `aR` when every result has
 * the type `R`, `av` otherwise.  Chunks of fixed-width arrays (`ax`, `ad`,
 * …) travel packed, and a chunk target receives them as one array, so a
 * map over millions of tiny items costs no allocation per item.
 *
 * Faults: a worker that dies (killed, crashed, or exiting inside a target)
 * fails only the task it was running, with %MPROC_ERROR_WORKER_DIED naming
 * its pid and the signal or exit status; tasks it had been sent but had not
 * started go to another worker.  The worker is replaced and the pool goes
 * on.  A task that runs longer than its call's timeout fails with
 * %MPROC_ERROR_TIMED_OUT and its worker is killed and replaced.  An error
 * set by a target reaches the caller with its domain, code and message.
 *
 * Workers die with the program; disposing of a pool that has not been
 * joined kills its workers and waits for them.
 *
 * ## Thread safety
 *
 * A pool belongs to the thread-default main context that was current when
 * it was made: use it from that thread only.  Its workers are served from
 * that context's main loop for `_async` calls; the blocking calls serve
 * them directly by polling their file descriptors, without iterating any
 * main context.
 *
 * Since: 0.1
 * Stability: Unstable
 */

enum {
  PROP_0,
  PROP_CONTEXT,
  PROP_PROCESSES,
  PROP_INITIALIZER,
  PROP_INITARGS,
  PROP_MAXTASKSPERCHILD,
  PROP_BUSY,
  PROP_QUEUED,
  PROP_CANCEL_GRACE,
  PROP_NICE,
  PROP_SCHED_IDLE,
  PROP_MEMORY_LIMIT,
  PROP_EXECUTABLE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocPool, mproc_pool, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_pool_initable_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      mproc_pool_async_initable_init))

gboolean
mproc_pool_check_running (MprocPool  *self,
                          GError    **error)
{
  if (self->state != POOL_RUN)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The pool is not running"));
      return FALSE;
    }
  return TRUE;
}

void
mproc_pool_notify_load (MprocPool *self)
{
  guint busy, queued;

  mproc_pool_count_load (self, &busy, &queued);
  g_object_freeze_notify (G_OBJECT (self));
  if (busy != self->n_busy)
    {
      self->n_busy = busy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
  if (queued != self->n_queued)
    {
      self->n_queued = queued;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QUEUED]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

/* --- GObject ------------------------------------------------------------ */

void
mproc_pool_kill_all (MprocPool *self)
{
  for (guint i = 0; i < self->workers->len; i++)
    mproc_process_kill (((Worker *) g_ptr_array_index (self->workers, i))->process);
}

static void
mproc_pool_dispose (GObject *object)
{
  MprocPool *self = MPROC_POOL (object);

  /* Nothing may outlive the pool: kill and reap the workers. */
  if (self->workers != NULL)
    {
      if (self->workers->len > 0 && self->state != POOL_TERMINATE)
        mproc_pool_terminate (self);
      while (self->workers->len > 0)
        {
          Worker *w = g_ptr_array_index (self->workers, self->workers->len - 1);

          mproc_process_kill (w->process);
          mproc_process_join (w->process, -1, NULL, NULL);
          mproc_pool_remove_worker (self, w);
        }
    }
  if (self->backend != NULL)
    self->backend->dispose (self);
  g_queue_clear_full (&self->pending, (GDestroyNotify) mproc_pool_chunk_free);
  g_queue_clear_full (&self->dirty, (GDestroyNotify) mproc_pool_call_unref);

  if (self->notify_source != NULL)
    {
      g_source_destroy (self->notify_source);
      g_clear_pointer (&self->notify_source, g_source_unref);
    }
  if (self->timeout_source != NULL)
    {
      g_source_destroy (self->timeout_source);
      g_clear_pointer (&self->timeout_source, g_source_unref);
    }

  G_OBJECT_CLASS (mproc_pool_parent_class)->dispose (object);
}

static void
mproc_pool_finalize (GObject *object)
{
  MprocPool *self = MPROC_POOL (object);

  if (self->backend_destroy != NULL)
    self->backend_destroy (self->backend_data);
  g_clear_pointer (&self->workers, g_ptr_array_unref);
  g_clear_object (&self->context);
  g_free (self->initializer);
  g_free (self->executable);
  g_clear_pointer (&self->initargs, g_variant_unref);
  g_clear_pointer (&self->main_context, g_main_context_unref);

  G_OBJECT_CLASS (mproc_pool_parent_class)->finalize (object);
}

static void
mproc_pool_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MprocPool *self = MPROC_POOL (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      g_value_set_object (value, self->context);
      break;
    case PROP_PROCESSES:
      g_value_set_uint (value, self->processes);
      break;
    case PROP_INITIALIZER:
      g_value_set_string (value, self->initializer);
      break;
    case PROP_INITARGS:
      g_value_set_variant (value, self->initargs);
      break;
    case PROP_MAXTASKSPERCHILD:
      g_value_set_uint (value, self->maxtasksperchild);
      break;
    case PROP_BUSY:
      g_value_set_uint (value, self->n_busy);
      break;
    case PROP_QUEUED:
      g_value_set_uint (value, self->n_queued);
      break;
    case PROP_CANCEL_GRACE:
      g_value_set_int (value, self->cancel_grace_ms);
      break;
    case PROP_NICE:
      g_value_set_int (value, self->nice);
      break;
    case PROP_SCHED_IDLE:
      g_value_set_boolean (value, self->sched_idle);
      break;
    case PROP_MEMORY_LIMIT:
      g_value_set_uint64 (value, self->memory_limit);
      break;
    case PROP_EXECUTABLE:
      g_value_set_string (value, self->executable);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_pool_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MprocPool *self = MPROC_POOL (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      self->context = g_value_dup_object (value);
      break;
    case PROP_PROCESSES:
      self->processes = g_value_get_uint (value);
      break;
    case PROP_INITIALIZER:
      self->initializer = g_value_dup_string (value);
      if (self->initializer != NULL && self->initializer[0] == '\0')
        g_clear_pointer (&self->initializer, g_free);
      break;
    case PROP_INITARGS:
      self->initargs = g_value_dup_variant (value);
      break;
    case PROP_MAXTASKSPERCHILD:
      self->maxtasksperchild = g_value_get_uint (value);
      break;
    case PROP_CANCEL_GRACE:
      mproc_pool_set_cancel_grace (self, g_value_get_int (value));
      break;
    case PROP_NICE:
      self->nice = g_value_get_int (value);
      break;
    case PROP_SCHED_IDLE:
      self->sched_idle = g_value_get_boolean (value);
      break;
    case PROP_MEMORY_LIMIT:
      self->memory_limit = g_value_get_uint64 (value);
      break;
    case PROP_EXECUTABLE:
      self->executable = g_value_dup_string (value);
      if (self->executable != NULL && self->executable[0] == '\0')
        g_clear_pointer (&self->executable, g_free);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_pool_class_init (MprocPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mproc_pool_dispose;
  object_class->finalize = mproc_pool_finalize;
  object_class->get_property = mproc_pool_get_property;
  object_class->set_property = mproc_pool_set_property;

  /**
   * MprocPool:context:
   *
   * How the workers are started; %NULL for the default context.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_CONTEXT] =
    g_param_spec_object ("context", NULL, NULL, MPROC_TYPE_CONTEXT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:processes:
   *
   * The number of workers; 0 at construction means [func@Mproc.cpu_count].
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_PROCESSES] =
    g_param_spec_uint ("processes", NULL, NULL, 0, 4096, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:initializer:
   *
   * The name of a registered pool target ([func@Mproc.register_task]) that each
   * worker runs once, on [property@Mproc.Pool:initargs], before its first
   * task; its result is ignored.  A worker whose initializer fails exits.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_INITIALIZER] =
    g_param_spec_string ("initializer", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:initargs:
   *
   * The argument of the initializer; %NULL means an empty tuple.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_INITARGS] =
    g_param_spec_variant ("initargs", NULL, NULL, G_VARIANT_TYPE_ANY, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:maxtasksperchild:
   *
   * How many tasks a worker runs before it is replaced by a fresh one (a
   * chunk of a map counts as one task, as in Python); 0 for no limit.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_MAXTASKSPERCHILD] =
    g_param_spec_uint ("maxtasksperchild", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:busy:
   *
   * How many workers are running a task.  Notified in the pool's main
   * context when it changes (after the change: a blocking call's work is
   * notified when the main loop runs again).
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_BUSY] =
    g_param_spec_uint ("busy", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:queued:
   *
   * How many tasks wait for a worker (a chunk of a map counts as one task,
   * as in Python).  Notified as [property@Mproc.Pool:busy] is.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_QUEUED] =
    g_param_spec_uint ("queued", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:cancel-grace:
   *
   * How long, in milliseconds, a worker may go on running a task of a
   * cancelled call before the pool kills it and starts a new one; -1 to
   * let such tasks run to their end.
   *
   * A target sees the cancellation at once through
   * [func@Mproc.Pool.task_get_cancellable], and a chunk of item tasks stops
   * between items: only a target that checks nothing is killed.  Killing a
   * worker fails no other call: the tasks it had been sent and had not
   * started go to the other workers.  The pool kills from its main context
   * (or from its next blocking call, after a blocking call was cancelled).
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_CANCEL_GRACE] =
    g_param_spec_int ("cancel-grace", NULL, NULL, -1, G_MAXINT, 100,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_EXPLICIT_NOTIFY |
                      G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:nice:
   *
   * How much each worker adds to its niceness (nice(2)) before it runs
   * anything, so that its work yields the CPU to the application's own
   * threads; 0 leaves it as the parent's.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_NICE] =
    g_param_spec_int ("nice", NULL, NULL, 0, 19, 0,
                      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:sched-idle:
   *
   * Whether the workers run under the `SCHED_IDLE` policy: they get only
   * the CPU time nothing else wants.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_SCHED_IDLE] =
    g_param_spec_boolean ("sched-idle", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:memory-limit:
   *
   * The most memory, in bytes, each worker may use for its data
   * (`RLIMIT_DATA`), or 0 for no limit.  A target that allocates beyond it
   * fails with %MPROC_ERROR_WORKER_DIED saying so, and its worker is
   * replaced.  The limit counts what a worker started by fork inherits of
   * its parent: with a large parent, use the spawn or forkserver start
   * method.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_MEMORY_LIMIT] =
    g_param_spec_uint64 ("memory-limit", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:executable:
   *
   * A program to run the workers in instead of the application itself,
   * as Python's `multiprocessing.set_executable()`: a small helper that
   * registers the same pool targets and calls [func@Mproc.init] (with no
   * arguments of its own) spares each worker the loading of a large
   * application.  Only the spawn start method can use it: a pool with
   * another start method fails to start.  %NULL runs the application.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_EXECUTABLE] =
    g_param_spec_string ("executable", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_pool_init (MprocPool *self)
{
  self->workers = g_ptr_array_new ();
  g_queue_init (&self->pending);
  g_queue_init (&self->dirty);
  self->main_context = g_main_context_ref_thread_default ();
}

/**
 * mproc_pool_new:
 * @processes: the number of workers, or 0 for [func@Mproc.cpu_count]
 * @error: return location for a #GError
 *
 * Starts a pool of @processes workers with the default context, no
 * initializer and no task limit.  See [ctor@Mproc.Pool.new_full].
 *
 * Returns: (transfer full): a new pool, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPool *
mproc_pool_new (guint    processes,
                GError **error)
{
  return mproc_pool_new_full (NULL, processes, NULL, NULL, 0, error);
}

/**
 * mproc_pool_new_full:
 * @context: (nullable): how to start the workers, or %NULL for the default
 * @processes: the number of workers, or 0 for [func@Mproc.cpu_count]
 * @initializer: (nullable): a registered pool target each worker runs once
 * @initargs: (nullable): the argument of @initializer (a floating
 *   reference is sunk); %NULL for an empty tuple
 * @maxtasksperchild: replace a worker after this many tasks; 0 for never
 * @error: return location for a #GError
 *
 * Starts a pool.  The workers are named `PoolWorker-1`, `PoolWorker-2`, … in
 * the order the pool starts them (replacements included).  Blocks while
 * the workers are started (a fraction of a millisecond each with fork or
 * forkserver), not until they are ready: tasks wait for them.  To start
 * one from a main loop without blocking it, use [func@Mproc.Pool.new_async].
 *
 * Returns: (transfer full): a new pool, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPool *
mproc_pool_new_full (MprocContext *context,
                     guint         processes,
                     const char   *initializer,
                     GVariant     *initargs,
                     guint         maxtasksperchild,
                     GError      **error)
{
  g_return_val_if_fail (context == NULL || MPROC_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_POOL, NULL, error,
                         "context", context,
                         "processes", processes,
                         "initializer", initializer,
                         "initargs", initargs,
                         "maxtasksperchild", maxtasksperchild,
                         NULL);
}

/**
 * mproc_pool_get_cancel_grace:
 * @self: a pool
 *
 * Gets [property@Mproc.Pool:cancel-grace].
 *
 * Returns: the grace period in milliseconds, or -1
 *
 * Since: 0.1
 * Stability: Unstable
 */
int
mproc_pool_get_cancel_grace (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), -1);
  return self->cancel_grace_ms;
}

/**
 * mproc_pool_set_cancel_grace:
 * @self: a pool
 * @grace_ms: milliseconds, or -1 never to kill a worker for a cancellation
 *
 * Sets [property@Mproc.Pool:cancel-grace]; it applies to calls cancelled
 * afterwards.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_set_cancel_grace (MprocPool *self,
                             int        grace_ms)
{
  g_return_if_fail (MPROC_IS_POOL (self));

  grace_ms = MAX (grace_ms, -1);
  if (grace_ms == self->cancel_grace_ms)
    return;
  self->cancel_grace_ms = grace_ms;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CANCEL_GRACE]);
}

/**
 * mproc_pool_get_processes:
 * @self: a pool
 *
 * Gets the number of workers the pool keeps running.
 *
 * Returns: the number of workers the pool keeps
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_pool_get_processes (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  return self->processes;
}

/**
 * mproc_pool_get_maxtasksperchild:
 * @self: a pool
 *
 * Gets the number of tasks a worker runs before it is replaced by
 * a new one (0: never replaced).
 *
 * Returns: the number of tasks after which a worker is replaced, or 0
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_pool_get_maxtasksperchild (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  return self->maxtasksperchild;
}

/**
 * mproc_pool_get_context:
 * @self: a pool
 *
 * Gets the context whose start method starts the workers.
 *
 * Returns: (transfer none): the context that starts the workers
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocContext *
mproc_pool_get_context (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  return self->context;
}

/**
 * mproc_pool_get_initializer:
 * @self: a pool
 *
 * Gets the name of the registered target each worker runs once when
 * it starts.
 *
 * Returns: (nullable): the name of the initializer, or %NULL
 *
 * Since: 0.1
 * Stability: Unstable
 */
const char *
mproc_pool_get_initializer (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  return self->initializer;
}

/**
 * mproc_pool_get_n_workers:
 * @self: a pool
 *
 * Returns the number of worker processes the pool has now: after a worker
 * dies and before its replacement starts, or while workers retire after
 * [method@Mproc.Pool.close], fewer than [property@Mproc.Pool:processes].
 *
 * Returns: the number of live workers
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_pool_get_n_workers (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  return self->workers->len;
}

/**
 * mproc_pool_dup_worker_pids:
 * @self: a pool
 * @n_pids: (out): the number of pids returned
 *
 * Returns the process ids of the current workers.
 *
 * Returns: (transfer full) (array length=n_pids): the pids
 *
 * Since: 0.1
 * Stability: Unstable
 */
int *
mproc_pool_dup_worker_pids (MprocPool *self,
                            guint     *n_pids)
{
  int *pids;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (n_pids != NULL, NULL);

  pids = g_new0 (int, self->workers->len + 1);
  for (guint i = 0; i < self->workers->len; i++)
    pids[i] = ((Worker *) g_ptr_array_index (self->workers, i))->pid;
  *n_pids = self->workers->len;
  return pids;
}

/* --- apply ---------------------------------------------------------------- */

/**
 * mproc_pool_apply:
 * @self: a pool
 * @target: the name of a registered pool target
 * @arg: the argument (a floating reference is sunk)
 * @timeout_usec: how long the task may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @target on @arg in a worker and returns its result, as Python's
 * `apply()`.  Blocks the calling thread (without iterating any main
 * context) until the result is back.
 *
 * A task that runs longer than @timeout_usec fails with
 * %MPROC_ERROR_TIMED_OUT and its worker is replaced; a worker that dies
 * makes it fail with %MPROC_ERROR_WORKER_DIED; an error of the target is
 * returned as it is; %MPROC_ERROR_CLOSED if the pool is closed.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_apply (MprocPool     *self,
                  const char    *target,
                  GVariant      *arg,
                  gint64         timeout_usec,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(Call) call = NULL;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (arg != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_pool_check_running (self, error))
    {
      g_variant_unref (g_variant_ref_sink (arg));
      return NULL;
    }
  call = mproc_pool_call_new (self, CALL_APPLY, target, arg, 1, timeout_usec, NULL, FALSE);
  return mproc_pool_run_sync (self, call, cancellable, error);
}

/* Gives @call its GTask; FALSE if the pool is not running (@call has
 * failed then, and reports it from the main context). */
gboolean
mproc_pool_start_task (MprocPool           *self,
                       Call                *call,
                       gpointer             source_tag,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GError *error = NULL;

  call->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (call->task, source_tag);
  g_task_set_check_cancellable (call->task, FALSE);

  if (!mproc_pool_check_running (self, &error))
    {
      mproc_pool_call_fail (call, error);
      return FALSE;
    }
  return TRUE;
}

static void
pool_start_async (MprocPool     *self,
                  Call          *call,
                  gpointer       source_tag,
                  GCancellable  *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer       user_data)
{
  if (mproc_pool_start_task (self, call, source_tag, cancellable, callback, user_data))
    mproc_pool_submit (self, call);
}

/**
 * mproc_pool_apply_async:
 * @self: a pool
 * @target: the name of a registered pool target
 * @arg: the argument (a floating reference is sunk)
 * @timeout_usec: how long the task may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the result
 * @user_data: data for @callback
 *
 * Runs @target on @arg in a worker without blocking, as Python's
 * `apply_async()`.  @callback runs in the thread-default main context of
 * the caller; call [method@Mproc.Pool.apply_finish] from it.  Cancelling before a
 * worker takes the task removes it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_apply_async (MprocPool           *self,
                        const char          *target,
                        GVariant            *arg,
                        gint64               timeout_usec,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(Call) call = NULL;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (arg != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = mproc_pool_call_new (self, CALL_APPLY, target, arg, 1, timeout_usec, cancellable, FALSE);
  pool_start_async (self, call, mproc_pool_apply_async, cancellable, callback, user_data);
}

/**
 * mproc_pool_apply_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Pool.apply_async].
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_apply_finish (MprocPool     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_apply_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- map, starmap --------------------------------------------------------- */

gboolean
mproc_pool_check_items (GVariant  *items,
                        gboolean   star)
{
  if (!g_variant_is_of_type (items, G_VARIANT_TYPE_ARRAY))
    return FALSE;
  if (star && !g_variant_type_is_tuple (g_variant_type_element (g_variant_get_type (items))))
    return FALSE;
  return TRUE;
}

/**
 * mproc_pool_map:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of arguments (type `aT`; a floating reference is sunk)
 * @chunksize: items per task, or 0 for Python's default (about four
 *   chunks per worker)
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @target on every item of @items in the workers and returns the
 * results in input order, as Python's `map()`.  Blocks the calling thread,
 * without iterating any main context.
 *
 * The result is an array: `aR` when every result has the type `R`, `av`
 * otherwise; for an empty @items, an empty array of the type of @items.
 * The first error of a chunk fails the whole call; the chunks not started
 * yet are dropped.
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_map (MprocPool     *self,
                const char    *target,
                GVariant      *items,
                guint          chunksize,
                gint64         timeout_usec,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(Call) call = NULL;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (items != NULL && mproc_pool_check_items (items, FALSE), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!mproc_pool_check_running (self, error))
    {
      g_variant_unref (g_variant_ref_sink (items));
      return NULL;
    }
  call = mproc_pool_call_new (self, CALL_MAP, target, items, chunksize, timeout_usec, NULL, TRUE);
  return mproc_pool_run_sync (self, call, cancellable, error);
}

/**
 * mproc_pool_map_async:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of arguments (type `aT`; a floating reference is sunk)
 * @chunksize: items per task, or 0 for Python's default
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @progress_func: (nullable) (scope notified) (closure progress_data) (destroy progress_notify):
 *   called in the pool's main context as chunks complete
 * @progress_data: data for @progress_func
 * @progress_notify: (nullable): frees @progress_data
 * @callback: (scope async) (closure user_data): called with the results
 * @user_data: data for @callback
 *
 * The asynchronous form of [method@Mproc.Pool.map]: returns at once, and
 * @callback runs in the thread-default main context of the caller; call
 * [method@Mproc.Pool.map_finish] from it.  @progress_func, if given, follows the
 * number of items done (to drive a progress bar).  Cancelling removes the
 * chunks no worker has started and reports %G_IO_ERROR_CANCELLED.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_map_async (MprocPool             *self,
                      const char            *target,
                      GVariant              *items,
                      guint                  chunksize,
                      gint64                 timeout_usec,
                      GCancellable          *cancellable,
                      MprocPoolProgressFunc  progress_func,
                      gpointer               progress_data,
                      GDestroyNotify         progress_notify,
                      GAsyncReadyCallback    callback,
                      gpointer               user_data)
{
  g_autoptr(Call) call = NULL;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (items != NULL && mproc_pool_check_items (items, FALSE));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = mproc_pool_call_new (self, CALL_MAP, target, items, chunksize, timeout_usec, cancellable, TRUE);
  call->progress = progress_func;
  call->progress_data = progress_data;
  call->progress_notify = progress_notify;
  pool_start_async (self, call, mproc_pool_map_async, cancellable, callback, user_data);
}

/**
 * mproc_pool_map_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Pool.map_async].
 *
 * Returns: (transfer full): the results in input order, or %NULL with
 *   @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_map_finish (MprocPool     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_map_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_pool_starmap:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of argument tuples (type `a(…)`; a floating reference
 *   is sunk)
 * @chunksize: items per task, or 0 for Python's default
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * As [method@Mproc.Pool.map] over tuples, Python's `starmap()`: a pool target
 * takes one GVariant, so each tuple is handed to @target whole, and the
 * target reads its arguments from it.
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_starmap (MprocPool     *self,
                    const char    *target,
                    GVariant      *items,
                    guint          chunksize,
                    gint64         timeout_usec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (items != NULL && mproc_pool_check_items (items, TRUE), NULL);

  return mproc_pool_map (self, target, items, chunksize, timeout_usec, cancellable, error);
}

/**
 * mproc_pool_starmap_async:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of argument tuples (a floating reference is sunk)
 * @chunksize: items per task, or 0 for Python's default
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the results
 * @user_data: data for @callback
 *
 * The asynchronous form of [method@Mproc.Pool.starmap].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_starmap_async (MprocPool           *self,
                          const char          *target,
                          GVariant            *items,
                          guint                chunksize,
                          gint64               timeout_usec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(Call) call = NULL;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (items != NULL && mproc_pool_check_items (items, TRUE));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = mproc_pool_call_new (self, CALL_MAP, target, items, chunksize, timeout_usec, cancellable, TRUE);
  pool_start_async (self, call, mproc_pool_starmap_async, cancellable, callback, user_data);
}

/**
 * mproc_pool_starmap_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Pool.starmap_async].
 *
 * Returns: (transfer full): the results in input order, or %NULL with
 *   @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_starmap_finish (MprocPool     *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_starmap_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
