/* mproc-sync.c: what the synchronisation primitives share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-sync-private.h.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-rlock.h"
#include "mproc-runtime-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

#ifndef PIDFD_THREAD
# define PIDFD_THREAD O_EXCL   /* Linux 6.9 */
#endif

#ifndef FUTEX_TID_MASK
# define FUTEX_TID_MASK 0x3fffffff
#endif

G_STATIC_ASSERT (sizeof (MprocWaitShared) <= MPROC_SYNC_STATE_OFFSET);

struct _MprocSync
{
  MprocShm       *shm;
  MprocWaitPoint *wp;
  guint           generation;   /* fork generation wp was made in */
  GMutex          mutex;        /* serialises the rebuild of wp */
};

/* ------------------------------------------------------------------------ */
/* Handle                                                                   */

static MprocSync *
sync_new_take (MprocShm  *shm,
               int        event_fd,
               GError   **error)
{
  MprocSync *sync;
  MprocWaitPoint *wp;

  wp = mproc_wait_point_new (mproc_shm_get_data (shm), event_fd, error);
  if (wp == NULL)
    {
      mproc_shm_unref (shm);
      return NULL;
    }

  sync = g_new0 (MprocSync, 1);
  sync->shm = shm;
  sync->wp = wp;
  sync->generation = mproc_runtime_get_fork_generation ();
  g_mutex_init (&sync->mutex);

  return sync;
}

/* A fresh, zeroed state of @state_size bytes. */
MprocSync *
mproc_sync_new (gsize        state_size,
                const char  *debug_name,
                GError     **error)
{
  MprocShm *shm;

  shm = mproc_shm_new (MPROC_SYNC_STATE_OFFSET + state_size, debug_name, error);
  if (shm == NULL)
    return NULL;

  return sync_new_take (shm, -1, error);
}

/* @handle is "(hh)" as made by mproc_sync_serialize(); the memfd must hold
 * at least the state this class expects. */
MprocSync *
mproc_sync_new_from_handle (GVariant  *handle,
                            GArray    *fds,
                            gsize      state_size,
                            GError   **error)
{
  g_autoptr(GVariant) shm_h = NULL;
  g_autoptr(GVariant) event_h = NULL;
  MprocShm *shm;
  int shm_fd;
  int event_fd;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(hh)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed synchronisation object"));
      return NULL;
    }

  shm_h = g_variant_get_child_value (handle, 0);
  event_h = g_variant_get_child_value (handle, 1);

  shm_fd = mproc_shareable_steal_fd (fds, shm_h, error);
  if (shm_fd < 0)
    return NULL;
  shm = mproc_shm_new_from_fd (shm_fd, MPROC_SYNC_STATE_OFFSET + state_size, error);
  if (shm == NULL)
    return NULL;

  event_fd = mproc_shareable_steal_fd (fds, event_h, error);
  if (event_fd < 0)
    {
      mproc_shm_unref (shm);
      return NULL;
    }

  return sync_new_take (shm, event_fd, error);
}

static int
dup_fd (int       fd,
        GError  **error)
{
  int copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);

  if (copy < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate file descriptor: %s"), g_strerror (errsv));
    }
  return copy;
}

/* Returns "(hh)", appending two dup()ed fds to @fds. */
GVariant *
mproc_sync_serialize (MprocSync  *sync,
                      GArray     *fds,
                      GError    **error)
{
  int shm_fd;
  int event_fd;

  shm_fd = dup_fd (mproc_shm_get_fd (sync->shm), error);
  if (shm_fd < 0)
    return NULL;
  event_fd = dup_fd (mproc_wait_point_get_fd (mproc_sync_get_wait_point (sync)), error);
  if (event_fd < 0)
    {
      mproc_clear_fd (&shm_fd);
      return NULL;
    }

  g_array_append_val (fds, shm_fd);
  g_array_append_val (fds, event_fd);
  return g_variant_new ("(hh)", fds->len - 2, fds->len - 1);
}

void
mproc_sync_free (MprocSync *sync)
{
  if (sync == NULL)
    return;

  g_clear_pointer (&sync->wp, mproc_wait_point_free);
  g_clear_pointer (&sync->shm, mproc_shm_unref);
  g_mutex_clear (&sync->mutex);
  g_free (sync);
}

/* The wait point of this process: an object inherited through fork()
 * makes its own on first use (one atomic load when nothing changed). */
MprocWaitPoint *
mproc_sync_get_wait_point (MprocSync *sync)
{
  guint generation = mproc_runtime_get_fork_generation ();
  MprocWaitPoint *wp;

  if (G_LIKELY ((guint) g_atomic_int_get (&sync->generation) == generation))
    return g_atomic_pointer_get (&sync->wp);

  g_mutex_lock (&sync->mutex);
  if (sync->generation != generation)
    {
      int fd = fcntl (mproc_wait_point_get_fd (sync->wp), F_DUPFD_CLOEXEC, 3);
      MprocWaitPoint *fresh = NULL;

      if (fd >= 0)
        fresh = mproc_wait_point_new (mproc_shm_get_data (sync->shm), fd, NULL);
      if (fresh != NULL)
        {
          /* The inherited handle is inert here: freeing it only closes
           * its fds. */
          mproc_wait_point_free (sync->wp);
          g_atomic_pointer_set (&sync->wp, fresh);
          g_atomic_int_set (&sync->generation, generation);
        }
      else
        g_error ("Cannot rebuild a wait point after fork: %s", g_strerror (errno));
    }
  wp = sync->wp;
  g_mutex_unlock (&sync->mutex);

  return wp;
}

gpointer
mproc_sync_get_state (MprocSync *sync)
{
  return (char *) mproc_shm_get_data (sync->shm) + MPROC_SYNC_STATE_OFFSET;
}

MprocWaitShared *
mproc_sync_get_wait_shared (MprocSync *sync)
{
  return mproc_shm_get_data (sync->shm);
}

void
mproc_sync_wake (MprocSync *sync,
                 int        n)
{
  mproc_wait_point_wake (mproc_sync_get_wait_point (sync), n);
}

int
mproc_sync_self_tid (void)
{
  static __thread int tid;
  static __thread guint tid_generation;
  guint generation = mproc_runtime_get_fork_generation ();

  if (G_UNLIKELY (tid == 0 || tid_generation != generation))
    {
      tid = (int) syscall (SYS_gettid);
      tid_generation = generation;
    }
  return tid;
}

/* ------------------------------------------------------------------------ */
/* Blocking on an async operation                                           */

void
mproc_sync_block_begin (MprocSyncBlock *block)
{
  block->context = g_main_context_new ();
  block->result = NULL;
  g_main_context_push_thread_default (block->context);
}

void
mproc_sync_block_cb (GObject      *source_object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  MprocSyncBlock *block = user_data;

  block->result = g_object_ref (result);
}

GAsyncResult *
mproc_sync_block_end (MprocSyncBlock *block)
{
  while (block->result == NULL)
    g_main_context_iteration (block->context, TRUE);
  g_main_context_pop_thread_default (block->context);
  /* Let what the operation left (a retiring wait source) go now. */
  while (g_main_context_iteration (block->context, FALSE))
    ;
  g_main_context_unref (block->context);
  block->context = NULL;

  return g_steal_pointer (&block->result);
}

/* ------------------------------------------------------------------------ */
/* Death watch                                                              */

struct _MprocDeathWatch
{
  GMainContext   *context;
  GSource        *source;
  int            *pids;
  int            *pidfds;
  guint           n;
  MprocDeathFunc  func;
  gpointer        user_data;
};

typedef struct
{
  GSource          source;
  MprocDeathWatch *watch;
  gpointer        *tags;
} DeathSource;

static gboolean
death_source_dispatch (GSource     *gsource,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  DeathSource *ds = (DeathSource *) gsource;
  MprocDeathWatch *watch = ds->watch;

  for (guint i = 0; i < watch->n; i++)
    {
      if (g_source_query_unix_fd (gsource, ds->tags[i]) != 0)
        {
          int pid = watch->pids[i];

          /* Fire once: the pidfd stays readable. The callback may
           * re-target or free the watch. */
          watch->func (watch->user_data, pid);
          return G_SOURCE_CONTINUE;
        }
    }

  return G_SOURCE_CONTINUE;
}

static void
death_source_finalize (GSource *gsource)
{
  g_free (((DeathSource *) gsource)->tags);
}

static GSourceFuncs death_source_funcs = {
  NULL, NULL, death_source_dispatch, death_source_finalize, NULL, NULL,
};

MprocDeathWatch *
mproc_death_watch_new (GMainContext   *context,
                       MprocDeathFunc  func,
                       gpointer        user_data)
{
  MprocDeathWatch *watch = g_new0 (MprocDeathWatch, 1);

  watch->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  watch->func = func;
  watch->user_data = user_data;

  return watch;
}

static void
death_watch_clear (MprocDeathWatch *watch)
{
  if (watch->source != NULL)
    {
      g_source_destroy (watch->source);
      g_clear_pointer (&watch->source, g_source_unref);
    }
  for (guint i = 0; i < watch->n; i++)
    mproc_clear_fd (&watch->pidfds[i]);
  g_clear_pointer (&watch->pids, g_free);
  g_clear_pointer (&watch->pidfds, g_free);
  watch->n = 0;
}

static int
open_pidfd (int      pid,
            gboolean is_thread)
{
  int fd = -1;

  if (is_thread)
    {
      fd = (int) syscall (SYS_pidfd_open, pid, PIDFD_THREAD);
      if (fd >= 0 || errno != EINVAL)
        return fd;
    }
  /* No PIDFD_THREAD (before Linux 6.9): good for a thread group leader;
   * pidfd_open() refuses (ENOENT/EINVAL) anything else. */
  fd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (fd >= 0)
    fcntl (fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

gboolean
mproc_death_watch_set (MprocDeathWatch *watch,
                       const int       *pids,
                       guint            n_pids,
                       gboolean         is_thread)
{
  DeathSource *ds;

  if (watch->source != NULL && n_pids == watch->n &&
      memcmp (pids, watch->pids, n_pids * sizeof (int)) == 0)
    return TRUE;

  death_watch_clear (watch);
  if (n_pids == 0)
    return TRUE;

  watch->pids = g_memdup2 (pids, n_pids * sizeof (int));
  watch->pidfds = g_new (int, n_pids);
  for (guint i = 0; i < n_pids; i++)
    watch->pidfds[i] = -1;
  watch->n = n_pids;

  for (guint i = 0; i < n_pids; i++)
    {
      watch->pidfds[i] = open_pidfd (pids[i], is_thread);
      if (watch->pidfds[i] < 0)
        {
          death_watch_clear (watch);
          return FALSE;
        }
    }

  watch->source = g_source_new (&death_source_funcs, sizeof (DeathSource));
  g_source_set_static_name (watch->source, "[mproc] death watch");
  ds = (DeathSource *) watch->source;
  ds->watch = watch;
  ds->tags = g_new (gpointer, n_pids);
  for (guint i = 0; i < n_pids; i++)
    ds->tags[i] = g_source_add_unix_fd (watch->source, watch->pidfds[i], G_IO_IN);
  g_source_attach (watch->source, watch->context);

  return TRUE;
}

void
mproc_death_watch_free (MprocDeathWatch *watch)
{
  if (watch == NULL)
    return;
  death_watch_clear (watch);
  g_main_context_unref (watch->context);
  g_free (watch);
}

/* ------------------------------------------------------------------------ */
/* Robust mutex                                                             */

static inline MprocMutexShared *
mutex_shared (MprocSync *sync)
{
  return mproc_sync_get_state (sync);
}

void
mproc_mutex_shared_init (MprocMutexShared *shared,
                         gboolean          recursive)
{
  pthread_mutexattr_t attr;

  pthread_mutexattr_init (&attr);
  pthread_mutexattr_setpshared (&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust (&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutexattr_settype (&attr, recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL);
  pthread_mutex_init (&shared->mutex, &attr);
  pthread_mutexattr_destroy (&attr);
  shared->recursive = recursive;
}

/* Turns a pthread result into ours.  EOWNERDEAD: we own the lock, mark it
 * consistent (Python has no notion of an inconsistent lock) and say so. */
gboolean
mproc_mutex_result (MprocSync  *sync,
              int         r,
              GError    **error)
{
  switch (r)
    {
    case 0:
      return TRUE;

    case EOWNERDEAD:
      pthread_mutex_consistent (&mutex_shared (sync)->mutex);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED,
                           _("The previous owner of the lock died while holding it; "
                             "the lock now belongs to the caller"));
      return FALSE;

    case EBUSY:
    case ETIMEDOUT:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                           _("Timed out while waiting for the lock"));
      return FALSE;

    default:
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to acquire the lock: %s"), g_strerror (r));
      return FALSE;
    }
}

gboolean
mproc_mutex_try_acquire (MprocSync  *sync,
                         GError    **error)
{
  int r = pthread_mutex_trylock (&mutex_shared (sync)->mutex);

  if (G_LIKELY (r == 0))
    return TRUE;
  return mproc_mutex_result (sync, r, error);
}

gboolean
mproc_mutex_acquire (MprocSync     *sync,
                     gint64         timeout_usec,
                     GCancellable  *cancellable,
                     GError       **error)
{
  pthread_mutex_t *mutex = &mutex_shared (sync)->mutex;
  MprocSyncBlock block;
  g_autoptr(GAsyncResult) result = NULL;
  int r;

  if (cancellable == NULL)
    {
      if (timeout_usec < 0)
        r = pthread_mutex_lock (mutex);
      else if (timeout_usec == 0)
        r = pthread_mutex_trylock (mutex);
      else
        {
          struct timespec ts;

          r = pthread_mutex_trylock (mutex);
          if (r == EBUSY)
            {
              clock_gettime (CLOCK_MONOTONIC, &ts);
              ts.tv_sec += timeout_usec / G_USEC_PER_SEC;
              ts.tv_nsec += (timeout_usec % G_USEC_PER_SEC) * 1000;
              if (ts.tv_nsec >= 1000000000)
                {
                  ts.tv_sec++;
                  ts.tv_nsec -= 1000000000;
                }
              r = pthread_mutex_clocklock (mutex, CLOCK_MONOTONIC, &ts);
            }
        }
      if (G_LIKELY (r == 0))
        return TRUE;
      return mproc_mutex_result (sync, r, error);
    }

  /* Cancellable: the kernel's robust-futex wake-up cannot be interrupted
   * by a GCancellable, so wait like an async waiter, in a private context. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  r = pthread_mutex_trylock (mutex);
  if (r != EBUSY || timeout_usec == 0)
    return r == 0 || mproc_mutex_result (sync, r, error);

  mproc_sync_block_begin (&block);
  mproc_mutex_acquire_async (sync, NULL, mproc_mutex_acquire, timeout_usec, cancellable,
                             mproc_sync_block_cb, &block);
  result = mproc_sync_block_end (&block);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
mproc_mutex_release (MprocSync  *sync,
                     GError    **error)
{
  int r = pthread_mutex_unlock (&mutex_shared (sync)->mutex);

  if (G_UNLIKELY (r != 0))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("Cannot release a lock that the calling thread does not hold"));
      return FALSE;
    }

  /* Blocking waiters sleep in the kernel on the mutex itself (glibc wakes
   * them); only async and cancellable waiters need the wait point. */
  if (G_UNLIKELY (g_atomic_int_get (&mproc_sync_get_wait_shared (sync)->n_fd_waiters) != 0))
    mproc_sync_wake (sync, G_MAXINT);

  return TRUE;
}

gboolean
mproc_mutex_is_owned (MprocSync *sync)
{
  MprocMutexShared *shared = mutex_shared (sync);
  int word = g_atomic_int_get (&shared->mutex.__data.__lock);

  return (word & FUTEX_TID_MASK) == mproc_sync_self_tid ();
}

gboolean
mproc_mutex_release_all (MprocSync  *sync,
                         guint      *saved_count,
                         GError    **error)
{
  MprocMutexShared *shared = mutex_shared (sync);
  guint count;

  if (!mproc_mutex_is_owned (sync))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("Cannot release a lock that the calling thread does not hold"));
      return FALSE;
    }

  count = shared->recursive ? MAX (shared->mutex.__data.__count, 1) : 1;
  for (guint i = 0; i < count; i++)
    pthread_mutex_unlock (&shared->mutex);
  if (g_atomic_int_get (&mproc_sync_get_wait_shared (sync)->n_fd_waiters) != 0)
    mproc_sync_wake (sync, G_MAXINT);

  *saved_count = count;
  return TRUE;
}

/* After a successful acquire (one level). */
void
mproc_mutex_restore_count (MprocSync *sync,
                           guint      saved_count)
{
  MprocMutexShared *shared = mutex_shared (sync);

  for (guint i = 1; i < saved_count; i++)
    pthread_mutex_trylock (&shared->mutex);   /* recursive owner: cannot fail */
}

/* Async acquisition: wait point + a pidfd watch on the holder thread. */

typedef struct
{
  MprocSync       *sync;
  MprocDeathWatch *watch;
} AcquireData;

static void
acquire_data_free (gpointer data)
{
  AcquireData *ad = data;

  mproc_death_watch_free (ad->watch);
  g_free (ad);
}

static void
acquire_holder_died (gpointer user_data,
                     int      pid)
{
  AcquireData *ad = user_data;

  /* The kernel has marked the mutex OWNER_DIED before the pidfd became
   * readable: wake every waiter so that one takes it. */
  mproc_death_watch_set (ad->watch, NULL, 0, TRUE);
  mproc_sync_wake (ad->sync, G_MAXINT);
}

static gboolean
acquire_check (gpointer   user_data,
               GError   **error)
{
  GTask *task = user_data;
  AcquireData *ad = g_task_get_task_data (task);
  MprocMutexShared *shared = mutex_shared (ad->sync);

  for (guint attempt = 0; attempt < 8; attempt++)
    {
      int r = pthread_mutex_trylock (&shared->mutex);
      int holder;

      if (r == 0)
        return TRUE;
      if (r != EBUSY)
        return mproc_mutex_result (ad->sync, r, error);

      holder = g_atomic_int_get (&shared->mutex.__data.__lock) & FUTEX_TID_MASK;
      if (holder == 0 || holder == mproc_sync_self_tid ())
        return FALSE;   /* changing hands, or ours (wait for a release) */

      if (ad->watch == NULL)
        ad->watch = mproc_death_watch_new (g_task_get_context (task), acquire_holder_died, ad);
      if (mproc_death_watch_set (ad->watch, &holder, 1, TRUE))
        return FALSE;
      /* The holder is already gone: the kernel has released it as
       * OWNER_DIED, or it changed hands; try again. */
    }

  return FALSE;
}

static void
acquire_done (gpointer  user_data,
              gboolean  success,
              GError   *error)
{
  GTask *task = user_data;
  AcquireData *ad = g_task_get_task_data (task);

  g_clear_pointer (&ad->watch, mproc_death_watch_free);
  if (success)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, g_error_copy (error));
  g_object_unref (task);
}

void
mproc_mutex_acquire_async (MprocSync           *sync,
                           GObject             *source_object,
                           gpointer             source_tag,
                           gint64               timeout_usec,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task;
  AcquireData *ad;

  task = g_task_new (source_object, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  /* A lock taken must be reported as taken, even if the cancellable fires
   * after the fact: the wait layer decides cancellation. */
  g_task_set_check_cancellable (task, FALSE);
  ad = g_new0 (AcquireData, 1);
  ad->sync = sync;
  g_task_set_task_data (task, ad, acquire_data_free);

  mproc_wait_point_wait_async (mproc_sync_get_wait_point (sync),
                               acquire_check, task, timeout_usec, cancellable,
                               acquire_done, task);
}

GVariant *
mproc_sync_serialize_optional_lock (struct _MprocRLock  *lock,
                                    GArray              *fds,
                                    GError             **error)
{
  GVariant *description = NULL;

  if (lock != NULL)
    {
      description = mproc_shareable_serialize (MPROC_SHAREABLE (lock), fds, error);
      if (description == NULL)
        return NULL;
    }
  return g_variant_new_maybe (G_VARIANT_TYPE ("(sv)"), description);
}

gboolean
mproc_sync_deserialize_optional_lock (GVariant            *description,
                                      GArray              *fds,
                                      struct _MprocRLock **lock,
                                      GError             **error)
{
  g_autoptr(GVariant) inner = NULL;
  MprocShareable *object;

  *lock = NULL;
  if (!g_variant_is_of_type (description, G_VARIANT_TYPE ("m(sv)")))
    goto malformed;
  inner = g_variant_get_maybe (description);
  if (inner == NULL)
    return TRUE;

  object = mproc_shareable_deserialize (inner, fds, error);
  if (object == NULL)
    return FALSE;
  if (!MPROC_IS_RLOCK (object))
    {
      g_object_unref (object);
      goto malformed;
    }
  *lock = (struct _MprocRLock *) object;
  return TRUE;

malformed:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed synchronisation object"));
  return FALSE;
}
