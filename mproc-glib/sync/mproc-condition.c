/* mproc-condition.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Waiters take a slot in shared memory (state, pid, ticket) while they hold
 * the condition's lock; notify(n), also under the lock, marks the n oldest
 * live waiting slots as signalled and wakes the wait point; each waiter's
 * check looks at its own slot only.  So notify(n) wakes exactly n waiters
 * (no later waiter can steal a wake-up), a waiter that times out or is
 * cancelled takes its slot back under the lock (no wake-up is lost on it),
 * and a waiter that was killed is recognised by notify (its pid is gone)
 * and skipped.
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "mproc-condition.h"
#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-lock.h"
#include "mproc-rlock.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/**
 * MprocCondition:
 *
 * A condition variable shared between processes: Python's
 * `multiprocessing.Condition`.
 *
 * It is bound to a lock, a [class@Mproc.RLock] of its own by default or the
 * [class@Mproc.Lock] or [class@Mproc.RLock] given at construction. Hold the
 * lock (with [method@Mproc.Condition.acquire]) to wait or notify:
 * [method@Mproc.Condition.wait] releases it, sleeps until notified and
 * takes it back.
 *
 * **C**
 *
 * ```c
 * mproc_condition_acquire (cond, -1, NULL, NULL);
 * while (!ready)
 *   mproc_condition_wait (cond, -1, NULL, NULL);
 * mproc_condition_release (cond, NULL);
 * ```
 *
 * [method@Mproc.Condition.notify] wakes exactly the number of waiters
 * asked for (fewer if fewer wait): a waiter that arrives later cannot steal
 * the wake-up, and a waiter that was killed does not absorb one. A notify
 * is not remembered: nobody waiting, nobody woken. At most 256 threads may
 * wait on one condition at a time.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_CONDITION, "lock", lock, NULL)` (GJS's
 * `new Mproc.Condition({lock})`, Python's `GObject.new()` or a subclass)
 * makes a complete condition, with an [class@Mproc.RLock] of its own when
 * no lock is given: its shared memory is made by
 * [method@Gio.Initable.init], or on first use when nobody called it.
 *
 * ## Thread safety
 *
 * All methods may be called from any thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */

#define MAX_WAITERS 256

enum { SLOT_FREE, SLOT_WAITING, SLOT_SIGNALLED };

typedef struct
{
  guint32 state;
  gint32  pid;
  guint64 ticket;
} CondSlot;

typedef struct
{
  guint64  next_ticket;
  CondSlot slots[MAX_WAITERS];
} CondShared;

struct _MprocCondition
{
  GObject        parent_instance;
  MprocInitOnce  once;
  MprocSync     *sync;
  CondShared    *shared;
  MprocLock     *lock;        /* an MprocLock or MprocRLock; NULL until init without one */
  MprocSync     *lock_sync;
};

enum {
  PROP_0,
  PROP_LOCK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_condition_initable_init (GInitableIface *iface);
static void mproc_condition_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocCondition, mproc_condition, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_condition_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_condition_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

static void
mproc_condition_finalize (GObject *object)
{
  MprocCondition *self = MPROC_CONDITION (object);

  g_clear_pointer (&self->sync, mproc_sync_free);
  g_clear_object (&self->lock);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_condition_parent_class)->finalize (object);
}

static void
mproc_condition_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_LOCK:
      g_value_set_object (value, mproc_condition_get_lock (MPROC_CONDITION (object)));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_condition_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_LOCK:
      MPROC_CONDITION (object)->lock = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_condition_class_init (MprocConditionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_condition_finalize;
  object_class->get_property = mproc_condition_get_property;
  object_class->set_property = mproc_condition_set_property;

  /**
   * MprocCondition:lock:
   *
   * The lock that must be held around waits and notifications, a
   * [class@Mproc.Lock] or an [class@Mproc.RLock]; when none is given at
   * construction, the condition makes an [class@Mproc.RLock] of its own.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_LOCK] =
    g_param_spec_object ("lock", NULL, NULL,
                         MPROC_TYPE_LOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_condition_init (MprocCondition *self)
{
}

static gboolean
condition_init_shared (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  MprocCondition *self = MPROC_CONDITION (initable);

  if (self->lock == NULL)
    self->lock = (MprocLock *) mproc_rlock_new (error);
  else if (!g_initable_init (G_INITABLE (self->lock), cancellable, error))
    return FALSE;
  if (self->lock == NULL)
    return FALSE;

  self->sync = mproc_sync_new (sizeof (CondShared), "mproc-condition", error);
  if (self->sync == NULL)
    return FALSE;
  self->shared = mproc_sync_get_state (self->sync);
  self->lock_sync = mproc_lock_get_sync (self->lock);
  return TRUE;
}

static gboolean
mproc_condition_initable_init_impl (GInitable     *initable,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  return mproc_init_once_run (&MPROC_CONDITION (initable)->once, initable, condition_init_shared,
                              cancellable, error);
}

static void
mproc_condition_initable_init (GInitableIface *iface)
{
  iface->init = mproc_condition_initable_init_impl;
}

static GVariant *
mproc_condition_serialize (MprocShareable  *shareable,
                           GArray          *fds,
                           GError         **error)
{
  MprocCondition *self = MPROC_CONDITION (shareable);
  g_autoptr(GVariant) sync = NULL;
  GVariant *lock;

  if (!READY (self, error))
    return NULL;
  sync = mproc_sync_serialize (self->sync, fds, error);
  if (sync == NULL)
    return NULL;
  lock = mproc_shareable_serialize (MPROC_SHAREABLE (self->lock), fds, error);
  if (lock == NULL)
    return NULL;
  return g_variant_new ("(@(hh)@(sv))", g_steal_pointer (&sync), lock);
}

static gboolean
mproc_condition_attach (MprocShareable  *shareable,
                        GVariant        *handle,
                        GArray          *fds,
                        GError         **error)
{
  MprocCondition *self = MPROC_CONDITION (shareable);
  g_autoptr(GVariant) sync_h = NULL;
  g_autoptr(GVariant) lock_h = NULL;
  MprocShareable *lock;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("((hh)(sv))")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed synchronisation object"));
      return FALSE;
    }
  sync_h = g_variant_get_child_value (handle, 0);
  lock_h = g_variant_get_child_value (handle, 1);

  lock = mproc_shareable_deserialize (lock_h, fds, error);
  if (lock == NULL)
    return FALSE;
  if (!MPROC_IS_LOCK (lock))
    {
      g_object_unref (lock);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed synchronisation object"));
      return FALSE;
    }
  self->sync = mproc_sync_new_from_handle (sync_h, fds, sizeof (CondShared), error);
  if (self->sync == NULL)
    {
      g_object_unref (lock);
      return FALSE;
    }
  self->shared = mproc_sync_get_state (self->sync);
  g_clear_object (&self->lock);
  self->lock = MPROC_LOCK (lock);
  self->lock_sync = mproc_lock_get_sync (self->lock);
  mproc_init_once_mark_done (&self->once);
  return TRUE;
}

static void
mproc_condition_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_condition_serialize;
  iface->attach = mproc_condition_attach;
}

/**
 * mproc_condition_new:
 * @lock: (nullable): the lock to use, a [class@Mproc.Lock] or an
 *   [class@Mproc.RLock], or %NULL for a new [class@Mproc.RLock]
 * @error: return location for a #GError
 *
 * Creates a condition variable in shared memory.
 *
 * Returns: (transfer full): a new `MprocCondition`, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocCondition *
mproc_condition_new (MprocLock  *lock,
                     GError    **error)
{
  g_return_val_if_fail (lock == NULL || MPROC_IS_LOCK (lock), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_CONDITION, NULL, error, "lock", lock, NULL);
}

/**
 * mproc_condition_get_lock:
 * @self: a `MprocCondition`
 *
 * Gets the lock that must be held around waits and notifications.
 *
 * Returns: (transfer none): the lock of @self, a [class@Mproc.Lock] or an
 *   [class@Mproc.RLock]
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocLock *
mproc_condition_get_lock (MprocCondition *self)
{
  g_return_val_if_fail (MPROC_IS_CONDITION (self), NULL);

  if (!READY (self, NULL))
    return NULL;

  return self->lock;
}

/**
 * mproc_condition_acquire:
 * @self: a `MprocCondition`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Acquires the lock of @self; see [method@Mproc.Lock.acquire].
 *
 * Returns: %TRUE when acquired; %FALSE with @error set otherwise (on
 *   %MPROC_ERROR_OWNER_DIED the lock is held)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_condition_acquire (MprocCondition  *self,
                         gint64           timeout_usec,
                         GCancellable    *cancellable,
                         GError         **error)
{
  g_return_val_if_fail (MPROC_IS_CONDITION (self), FALSE);

  if (!READY (self, error))
    return FALSE;

  return mproc_mutex_acquire (self->lock_sync, timeout_usec, cancellable, error);
}

/**
 * mproc_condition_release:
 * @self: a `MprocCondition`
 * @error: return location for a #GError
 *
 * Releases the lock of @self; see [method@Mproc.Lock.release].
 *
 * Returns: %TRUE, or %FALSE with %MPROC_ERROR_NOT_OWNER
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_condition_release (MprocCondition  *self,
                         GError         **error)
{
  g_return_val_if_fail (MPROC_IS_CONDITION (self), FALSE);

  if (!READY (self, error))
    return FALSE;

  return mproc_mutex_release (self->lock_sync, error);
}

static gboolean
pid_is_gone (gint32 pid)
{
  return kill (pid, 0) < 0 && errno == ESRCH;
}

/* Under the lock. Returns the slot index, or -1 with @error set. */
static int
slot_take (MprocCondition  *self,
           GError         **error)
{
  CondShared *shared = self->shared;
  gint32 pid = getpid ();

  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < MAX_WAITERS; i++)
      {
        CondSlot *slot = &shared->slots[i];

        /* Second pass: take back the slots of dead waiters. */
        if (slot->state == SLOT_FREE || (pass == 1 && pid_is_gone (slot->pid)))
          {
            slot->pid = pid;
            slot->ticket = shared->next_ticket++;
            g_atomic_int_set (&slot->state, SLOT_WAITING);
            return i;
          }
      }

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
               _("Too many waiters on a condition (at most %d)"), MAX_WAITERS);
  return -1;
}

/* Under the lock: TRUE when the slot was signalled; frees it. */
static gboolean
slot_give_back (MprocCondition *self,
                int             index)
{
  CondSlot *slot = &self->shared->slots[index];
  gboolean signalled = g_atomic_int_get (&slot->state) == SLOT_SIGNALLED;

  g_atomic_int_set (&slot->state, SLOT_FREE);
  return signalled;
}

static gboolean
slot_check (gpointer   user_data,
            GError   **error)
{
  return g_atomic_int_get ((guint32 *) user_data) == SLOT_SIGNALLED;
}

/* Common start of wait and wait_async: under the lock. */
static int
wait_begin (MprocCondition  *self,
            guint           *saved_count,
            GError         **error)
{
  int index;

  if (!mproc_mutex_is_owned (self->lock_sync))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("Cannot wait on a condition whose lock the calling thread does not hold"));
      return -1;
    }
  index = slot_take (self, error);
  if (index < 0)
    return -1;
  if (!mproc_mutex_release_all (self->lock_sync, saved_count, error))
    {
      slot_give_back (self, index);
      return -1;
    }
  return index;
}

/* Common end: the lock is held again. Folds the outcome of the wait
 * (@wait_error, may be NULL) and the slot state into the result. */
static gboolean
wait_end (MprocCondition  *self,
          int              index,
          guint            saved_count,
          GError          *wait_error,
          GError         **error)
{
  mproc_mutex_restore_count (self->lock_sync, saved_count);

  /* Signalled wins over a timeout or a cancellation that came at the same
   * time: the wake-up was given to us and must not be lost. */
  if (slot_give_back (self, index))
    return TRUE;
  if (wait_error != NULL && !g_error_matches (wait_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
    g_propagate_error (error, g_error_copy (wait_error));
  return FALSE;
}

/**
 * mproc_condition_wait:
 * @self: a `MprocCondition`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Releases the lock of @self (every level of an [class@Mproc.RLock]),
 * blocks the calling thread until notified, @timeout_usec passes or
 * @cancellable is cancelled, then takes the lock back. The calling thread
 * must hold the lock. Never call it from a thread that runs a main loop:
 * use [method@Mproc.Condition.wait_async] there.
 *
 * Returns: %TRUE when notified; %FALSE when the wait timed out (@error not
 *   set, as Python's `wait()` returns `False`) or failed (@error set:
 *   %G_IO_ERROR_CANCELLED, %MPROC_ERROR_NOT_OWNER). The lock is held again
 *   in every case but %MPROC_ERROR_NOT_OWNER.
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_condition_wait (MprocCondition  *self,
                      gint64           timeout_usec,
                      GCancellable    *cancellable,
                      GError         **error)
{
  g_autoptr(GError) wait_error = NULL;
  guint saved_count = 0;
  int index;

  g_return_val_if_fail (MPROC_IS_CONDITION (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!READY (self, error))
    return FALSE;

  index = wait_begin (self, &saved_count, error);
  if (index < 0)
    return FALSE;

  mproc_wait_point_wait (mproc_sync_get_wait_point (self->sync), slot_check,
                         &self->shared->slots[index].state, timeout_usec, cancellable,
                         &wait_error);

  /* Python takes the lock back whatever happened; so do we, and a holder
   * that died meanwhile leaves it to us (OWNER_DIED) all the same. */
  mproc_mutex_acquire (self->lock_sync, -1, NULL, NULL);
  return wait_end (self, index, saved_count, wait_error, error);
}

typedef struct
{
  int     index;
  guint   saved_count;
  GError *wait_error;
} WaitData;

static void
wait_data_free (gpointer data)
{
  WaitData *wd = data;

  g_clear_error (&wd->wait_error);
  g_free (wd);
}

static void
wait_reacquired_cb (GObject      *source_object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  MprocCondition *self = g_task_get_source_object (task);
  WaitData *wd = g_task_get_task_data (task);
  GError *error = NULL;
  gboolean notified;

  g_task_propagate_boolean (G_TASK (result), NULL);   /* held, even on OWNER_DIED */
  notified = wait_end (self, wd->index, wd->saved_count, wd->wait_error, &error);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, notified);
  g_object_unref (task);
}

static void
wait_done (gpointer  user_data,
           gboolean  success,
           GError   *error)
{
  GTask *task = user_data;
  MprocCondition *self = g_task_get_source_object (task);
  WaitData *wd = g_task_get_task_data (task);

  if (error != NULL)
    wd->wait_error = g_error_copy (error);
  mproc_mutex_acquire_async (self->lock_sync, NULL, mproc_condition_wait_async, -1, NULL,
                             wait_reacquired_cb, task);
}

/**
 * mproc_condition_wait_async:
 * @self: a `MprocCondition`
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when notified (with
 *   the lock held again), on timeout or cancellation
 * @user_data: data for @callback
 *
 * Like [method@Mproc.Condition.wait], without blocking the calling thread
 * and without any helper thread: the lock is released at once, and taken
 * back asynchronously before @callback runs in the caller's thread-default
 * main context (whose thread then holds it). The calling thread must hold
 * the lock and iterate that context. Call
 * [method@Mproc.Condition.wait_finish] from @callback.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_condition_wait_async (MprocCondition      *self,
                            gint64               timeout_usec,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  GTask *task;
  WaitData *wd;
  GError *error = NULL;

  g_return_if_fail (MPROC_IS_CONDITION (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_condition_wait_async);
  if (!mproc_init_once_ensure_task (&self->once, G_INITABLE (self), task))
    return;
  g_task_set_check_cancellable (task, FALSE);
  wd = g_new0 (WaitData, 1);
  g_task_set_task_data (task, wd, wait_data_free);

  wd->index = wait_begin (self, &wd->saved_count, &error);
  if (wd->index < 0)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  mproc_wait_point_wait_async (mproc_sync_get_wait_point (self->sync), slot_check,
                               &self->shared->slots[wd->index].state, timeout_usec,
                               cancellable, wait_done, task);
}

/**
 * mproc_condition_wait_finish:
 * @self: a `MprocCondition`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Condition.wait_async].
 *
 * Returns: as [method@Mproc.Condition.wait]
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_condition_wait_finish (MprocCondition  *self,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_condition_wait_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_condition_wait_for:
 * @self: a `MprocCondition`
 * @predicate: (scope call) (closure user_data): the condition to wait for
 * @user_data: data for @predicate
 * @timeout_usec: how long to wait in microseconds in total, or -1 to wait
 *   forever
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Waits until @predicate returns %TRUE, as Python's `wait_for()`:
 * @predicate is evaluated first, then after every wake-up, with the lock
 * held. The calling thread must hold the lock.
 *
 * Returns: the last value of @predicate (%FALSE on timeout, @error not
 *   set), or %FALSE with @error set (%G_IO_ERROR_CANCELLED,
 *   %MPROC_ERROR_NOT_OWNER)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_condition_wait_for (MprocCondition           *self,
                          MprocConditionPredicate   predicate,
                          gpointer                  user_data,
                          gint64                    timeout_usec,
                          GCancellable             *cancellable,
                          GError                  **error)
{
  gint64 deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  gboolean result;

  g_return_val_if_fail (MPROC_IS_CONDITION (self), FALSE);
  g_return_val_if_fail (predicate != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  while (!(result = predicate (user_data)))
    {
      GError *local_error = NULL;
      gint64 remaining = -1;

      if (deadline >= 0)
        {
          remaining = deadline - g_get_monotonic_time ();
          if (remaining <= 0)
            break;
        }
      if (!mproc_condition_wait (self, remaining, cancellable, &local_error) && local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return FALSE;
        }
    }

  return result;
}

/**
 * mproc_condition_notify:
 * @self: a `MprocCondition`
 * @n: how many waiters to wake
 * @error: return location for a #GError
 *
 * Wakes the @n longest-waiting threads (fewer if fewer wait), in any
 * process. The calling thread must hold the lock: if it does not, fails
 * with %MPROC_ERROR_NOT_OWNER (Python raises `RuntimeError`).
 *
 * Returns: how many waiters were woken; 0 with @error set on failure
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_condition_notify (MprocCondition  *self,
                        guint            n,
                        GError         **error)
{
  CondShared *shared;
  guint woken = 0;

  g_return_val_if_fail (MPROC_IS_CONDITION (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (!READY (self, error))
    return 0;

  if (!mproc_mutex_is_owned (self->lock_sync))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("Cannot notify a condition whose lock the calling thread does not hold"));
      return 0;
    }

  shared = self->shared;
  while (woken < n)
    {
      CondSlot *oldest = NULL;

      for (int i = 0; i < MAX_WAITERS; i++)
        {
          CondSlot *slot = &shared->slots[i];

          if (slot->state == SLOT_WAITING && (oldest == NULL || slot->ticket < oldest->ticket))
            oldest = slot;
        }
      if (oldest == NULL)
        break;

      if (pid_is_gone (oldest->pid))
        {
          g_atomic_int_set (&oldest->state, SLOT_FREE);   /* killed while waiting */
          continue;
        }
      g_atomic_int_set (&oldest->state, SLOT_SIGNALLED);
      woken++;
    }

  /* Every waiter re-checks its own slot: a targeted futex wake could reach
   * the wrong one. */
  if (woken > 0)
    mproc_sync_wake (self->sync, G_MAXINT);
  return woken;
}

/**
 * mproc_condition_notify_all:
 * @self: a `MprocCondition`
 * @error: return location for a #GError
 *
 * Wakes every waiter, in every process. The calling thread must hold the
 * lock, as for [method@Mproc.Condition.notify].
 *
 * Returns: how many waiters were woken; 0 with @error set on failure
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_condition_notify_all (MprocCondition  *self,
                            GError         **error)
{
  return mproc_condition_notify (self, G_MAXUINT, error);
}
