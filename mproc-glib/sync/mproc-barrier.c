/* mproc-barrier.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * State, in shared memory, under a lock word (a participant killed
 * while it holds it leaves the barrier broken, not stuck): the number of
 * parties, how many arrived in this generation and their pids, the
 * generation (bumped when the barrier trips or is reset), the generation
 * last ended by a reset, and the broken flag.  A waiter watches, through
 * pidfds, the processes that arrived before it in its generation: when one
 * dies, the barrier is broken and everybody is woken.  Blocking waits run
 * the async wait in a private main context, so that they watch the same
 * fds (and the cancellable).
 */

#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "mproc-barrier.h"
#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/**
 * MprocBarrier:
 *
 * A barrier shared between processes: Python's `multiprocessing.Barrier`.
 *
 * [method@Mproc.Barrier.wait] blocks until the number of parties given at
 * construction have called it, then releases them all at once, and the
 * barrier can be used again. Each gets its arrival index, 0 for the first.
 *
 * The barrier breaks (%MPROC_ERROR_BROKEN_BARRIER for every waiter, now
 * and later, until [method@Mproc.Barrier.reset]) when it is aborted, when a
 * waiter times out or is cancelled, or when a process that is waiting at
 * it dies: a killed participant never leaves the others hanging.
 *
 * `g_object_new (MPROC_TYPE_BARRIER, "parties", 3, NULL)` (GJS's
 * `new Mproc.Barrier({parties: 3})`, Python's `GObject.new()` or a
 * subclass) makes a complete barrier: its shared memory is made by
 * [method@Gio.Initable.init], or on first use when nobody called it.
 *
 * ## Thread safety
 *
 * All methods may be called from any thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */

#define MAX_PARTIES 256

typedef struct
{
  MprocMutexShared guard;
  guint32          parties;
  guint32          count;
  guint32          generation;
  guint32          reset_generation;   /* generation last ended by reset, + 1 (0: none) */
  guint32          broken;
  gint32           pids[MAX_PARTIES];
} BarrierShared;

struct _MprocBarrier
{
  GObject        parent_instance;
  MprocInitOnce  once;
  MprocSync     *sync;
  BarrierShared *shared;
  guint          parties;   /* construct property */
};

enum {
  PROP_0,
  PROP_PARTIES,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_barrier_initable_init (GInitableIface *iface);
static void mproc_barrier_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocBarrier, mproc_barrier, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_barrier_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_barrier_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

static void
mproc_barrier_finalize (GObject *object)
{
  MprocBarrier *self = MPROC_BARRIER (object);

  g_clear_pointer (&self->sync, mproc_sync_free);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_barrier_parent_class)->finalize (object);
}

static void
mproc_barrier_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_PARTIES:
      g_value_set_uint (value, mproc_barrier_get_parties (MPROC_BARRIER (object)));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_barrier_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_PARTIES:
      MPROC_BARRIER (object)->parties = g_value_get_uint (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_barrier_class_init (MprocBarrierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_barrier_finalize;
  object_class->get_property = mproc_barrier_get_property;
  object_class->set_property = mproc_barrier_set_property;

  /**
   * MprocBarrier:parties:
   *
   * How many must wait before all are released (1 to 256).
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_PARTIES] =
    g_param_spec_uint ("parties", NULL, NULL,
                       1, MAX_PARTIES, 1,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_barrier_init (MprocBarrier *self)
{
  self->parties = 1;
}

static void
barrier_take (MprocBarrier *self,
              MprocSync    *sync)
{
  self->sync = sync;
  self->shared = mproc_sync_get_state (sync);
}

static gboolean
barrier_init_shared (GInitable     *initable,
                     GCancellable  *cancellable,
                     GError       **error)
{
  MprocBarrier *self = MPROC_BARRIER (initable);
  MprocSync *sync;

  sync = mproc_sync_new (sizeof (BarrierShared), "mproc-barrier", error);
  if (sync == NULL)
    return FALSE;
  barrier_take (self, sync);
  mproc_mutex_shared_init (&self->shared->guard, FALSE);
  self->shared->parties = self->parties;
  return TRUE;
}

static gboolean
mproc_barrier_initable_init_impl (GInitable     *initable,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  return mproc_init_once_run (&MPROC_BARRIER (initable)->once, initable, barrier_init_shared,
                              cancellable, error);
}

static void
mproc_barrier_initable_init (GInitableIface *iface)
{
  iface->init = mproc_barrier_initable_init_impl;
}

static GVariant *
mproc_barrier_serialize (MprocShareable  *shareable,
                         GArray          *fds,
                         GError         **error)
{
  return mproc_sync_serialize (MPROC_BARRIER (shareable)->sync, fds, error);
}

static gboolean
mproc_barrier_attach (MprocShareable  *shareable,
                      GVariant        *handle,
                      GArray          *fds,
                      GError         **error)
{
  MprocBarrier *self = MPROC_BARRIER (shareable);
  MprocSync *sync = mproc_sync_new_from_handle (handle, fds, sizeof (BarrierShared), error);

  if (sync == NULL)
    return FALSE;
  barrier_take (self, sync);
  mproc_init_once_mark_done (&self->once);
  return TRUE;
}

static void
mproc_barrier_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_barrier_serialize;
  iface->attach = mproc_barrier_attach;
}

/**
 * mproc_barrier_new:
 * @parties: how many must wait before all are released (1 to 256)
 * @error: return location for a #GError
 *
 * Creates a barrier in shared memory.
 *
 * Returns: (transfer full): a new `MprocBarrier`, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocBarrier *
mproc_barrier_new (guint    parties,
                   GError **error)
{
  g_return_val_if_fail (parties >= 1 && parties <= MAX_PARTIES, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_BARRIER, NULL, error, "parties", parties, NULL);
}

/* The guard: a holder that died leaves the barrier broken. */
static void
guard_lock (MprocBarrier *self)
{
  if (mproc_mutex_shared_lock (&self->shared->guard) == MPROC_MUTEX_OWNER_DIED)
    self->shared->broken = 1;
}

static void
guard_unlock (MprocBarrier *self)
{
  mproc_mutex_shared_unlock (&self->shared->guard);
}

/**
 * mproc_barrier_get_parties:
 * @self: a `MprocBarrier`
 *
 * Gets the number of parties that must wait before all of them pass.
 *
 * Returns: the number of parties
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_barrier_get_parties (MprocBarrier *self)
{
  g_return_val_if_fail (MPROC_IS_BARRIER (self), 0);

  if (!READY (self, NULL))
    return 0;

  return self->shared->parties;
}

/**
 * mproc_barrier_get_n_waiting:
 * @self: a `MprocBarrier`
 *
 * Gets how many parties are waiting at the barrier now, in every
 * process; the figure is already stale when other processes use it.
 *
 * Returns: how many are waiting now
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_barrier_get_n_waiting (MprocBarrier *self)
{
  g_return_val_if_fail (MPROC_IS_BARRIER (self), 0);

  if (!READY (self, NULL))
    return 0;

  return g_atomic_int_get (&self->shared->count);
}

/**
 * mproc_barrier_is_broken:
 * @self: a `MprocBarrier`
 *
 * Tells whether the barrier is broken: aborted, or a waiting party
 * died or gave up.
 *
 * Returns: %TRUE when the barrier is broken
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_barrier_is_broken (MprocBarrier *self)
{
  g_return_val_if_fail (MPROC_IS_BARRIER (self), FALSE);

  if (!READY (self, NULL))
    return 0;

  return g_atomic_int_get (&self->shared->broken) != 0;
}

static void
set_broken_error (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER,
                       _("The barrier is broken"));
}

/* Breaks generation @generation if it is still the current one. */
static void
break_generation (MprocBarrier *self,
                  guint32       generation)
{
  gboolean changed = FALSE;

  guard_lock (self);
  if (self->shared->generation == generation && !self->shared->broken)
    {
      g_atomic_int_set (&self->shared->broken, 1);
      changed = TRUE;
    }
  guard_unlock (self);
  if (changed)
    mproc_sync_wake (self->sync, G_MAXINT);
}

/**
 * mproc_barrier_abort:
 * @self: a `MprocBarrier`
 *
 * Breaks the barrier: current and later waiters fail with
 * %MPROC_ERROR_BROKEN_BARRIER until [method@Mproc.Barrier.reset].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_barrier_abort (MprocBarrier *self)
{
  g_return_if_fail (MPROC_IS_BARRIER (self));

  if (!READY (self, NULL))
    return;

  guard_lock (self);
  g_atomic_int_set (&self->shared->broken, 1);
  guard_unlock (self);
  mproc_sync_wake (self->sync, G_MAXINT);
}

/**
 * mproc_barrier_reset:
 * @self: a `MprocBarrier`
 *
 * Returns the barrier to its initial, unbroken state; those waiting now
 * fail with %MPROC_ERROR_BROKEN_BARRIER.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_barrier_reset (MprocBarrier *self)
{
  BarrierShared *shared;

  g_return_if_fail (MPROC_IS_BARRIER (self));

  if (!READY (self, NULL))
    return;

  shared = self->shared;
  guard_lock (self);
  shared->reset_generation = shared->generation + 1;
  shared->count = 0;
  g_atomic_int_set (&shared->broken, 0);
  g_atomic_int_set (&shared->generation, shared->generation + 1);
  guard_unlock (self);
  mproc_sync_wake (self->sync, G_MAXINT);
}

typedef struct
{
  MprocBarrier    *self;
  guint32          generation;
  gint             index;
  MprocDeathWatch *watch;
} WaitData;

static void
wait_data_free (gpointer data)
{
  WaitData *wd = data;

  mproc_death_watch_free (wd->watch);
  g_free (wd);
}

static void
participant_died (gpointer user_data,
                  int      pid)
{
  WaitData *wd = user_data;

  mproc_death_watch_set (wd->watch, NULL, 0, FALSE);
  break_generation (wd->self, wd->generation);
}

static gboolean
wait_check (gpointer   user_data,
            GError   **error)
{
  GTask *task = user_data;
  WaitData *wd = g_task_get_task_data (task);
  BarrierShared *shared = wd->self->shared;
  guint32 generation = g_atomic_int_get (&shared->generation);
  int pids[MAX_PARTIES];
  guint n = 0;
  guint count;
  int self_pid = getpid ();

  if (generation != wd->generation)
    {
      if ((guint32) g_atomic_int_get (&shared->reset_generation) == wd->generation + 1)
        {
          set_broken_error (error);
          return FALSE;
        }
      return TRUE;
    }
  if (g_atomic_int_get (&shared->broken))
    {
      set_broken_error (error);
      return FALSE;
    }

  /* Watch the others that arrived in this generation. */
  count = MIN (g_atomic_int_get (&shared->count), MAX_PARTIES);
  for (guint i = 0; i < count; i++)
    {
      int pid = g_atomic_int_get (&shared->pids[i]);

      if (pid > 0 && pid != self_pid)
        pids[n++] = pid;
    }
  if (wd->watch == NULL)
    wd->watch = mproc_death_watch_new (g_task_get_context (task), participant_died, wd);
  if (!mproc_death_watch_set (wd->watch, pids, n, FALSE))
    break_generation (wd->self, wd->generation);   /* one is already gone; re-checked on the wake */
  return FALSE;
}

static void
wait_done (gpointer  user_data,
           gboolean  success,
           GError   *error)
{
  GTask *task = user_data;
  WaitData *wd = g_task_get_task_data (task);

  g_clear_pointer (&wd->watch, mproc_death_watch_free);
  if (success)
    g_task_return_int (task, wd->index);
  else
    {
      /* A waiter that gives up breaks the barrier for the others, as in
       * Python. */
      if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER))
        break_generation (wd->self, wd->generation);
      g_task_return_error (task, g_error_copy (error));
    }
  g_object_unref (task);
}

/**
 * mproc_barrier_wait_async:
 * @self: a `MprocBarrier`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the barrier
 *   trips, breaks, or the wait times out or is cancelled
 * @user_data: data for @callback
 *
 * Arrives at the barrier now and waits for the others without blocking the
 * calling thread and without any helper thread. @callback runs in the
 * caller's thread-default main context; call
 * [method@Mproc.Barrier.wait_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_barrier_wait_async (MprocBarrier        *self,
                          gint64               timeout_usec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  BarrierShared *shared;
  GTask *task;
  WaitData *wd;
  gboolean tripped = FALSE;
  gboolean broken;

  g_return_if_fail (MPROC_IS_BARRIER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_barrier_wait_async);
  if (!mproc_init_once_ensure_task (&self->once, G_INITABLE (self), task))
    return;
  g_task_set_check_cancellable (task, FALSE);
  wd = g_new0 (WaitData, 1);
  wd->self = self;
  g_task_set_task_data (task, wd, wait_data_free);

  shared = self->shared;
  guard_lock (self);
  /* The count indexes pids[]: one that a sharer spoiled breaks the
   * barrier rather than steering the write. */
  if (shared->parties == 0 || shared->parties > MAX_PARTIES || shared->count >= shared->parties)
    g_atomic_int_set (&shared->broken, 1);
  broken = shared->broken;
  if (!broken)
    {
      wd->generation = shared->generation;
      wd->index = shared->count;
      g_atomic_int_set (&shared->pids[wd->index], getpid ());
      if (wd->index + 1 == (gint) shared->parties)
        {
          shared->count = 0;
          g_atomic_int_set (&shared->generation, shared->generation + 1);
          tripped = TRUE;
        }
      else
        g_atomic_int_set (&shared->count, wd->index + 1);
    }
  guard_unlock (self);

  if (broken)
    {
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER,
                               "%s", _("The barrier is broken"));
      g_object_unref (task);
      return;
    }
  if (tripped)
    {
      mproc_sync_wake (self->sync, G_MAXINT);
      g_task_return_int (task, wd->index);
      g_object_unref (task);
      return;
    }

  mproc_wait_point_wait_async (mproc_sync_get_wait_point (self->sync), wait_check, task,
                               timeout_usec, cancellable, wait_done, task);
}

/**
 * mproc_barrier_wait_finish:
 * @self: a `MprocBarrier`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Barrier.wait_async].
 *
 * Returns: as [method@Mproc.Barrier.wait]
 *
 * Since: 0.1
 * Stability: Unstable
 */
gint
mproc_barrier_wait_finish (MprocBarrier  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), -1);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_barrier_wait_async), -1);

  return (gint) g_task_propagate_int (G_TASK (result), error);
}

/**
 * mproc_barrier_wait:
 * @self: a `MprocBarrier`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Arrives at the barrier and blocks the calling thread until all parties
 * have arrived. Never call it from a thread that runs a main loop: use
 * [method@Mproc.Barrier.wait_async] there.
 *
 * Returns: the arrival index (0 to parties - 1), or -1 with @error set:
 *   %MPROC_ERROR_BROKEN_BARRIER, or %MPROC_ERROR_TIMED_OUT /
 *   %G_IO_ERROR_CANCELLED for the waiter that gave up (which breaks the
 *   barrier for the others)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gint
mproc_barrier_wait (MprocBarrier  *self,
                    gint64         timeout_usec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  MprocSyncBlock block;

  g_return_val_if_fail (MPROC_IS_BARRIER (self), -1);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  mproc_sync_block_begin (&block);
  mproc_barrier_wait_async (self, timeout_usec, cancellable, mproc_sync_block_cb, &block);
  result = mproc_sync_block_end (&block);

  return mproc_barrier_wait_finish (self, result, error);
}
