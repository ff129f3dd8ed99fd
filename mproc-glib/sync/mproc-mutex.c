/* mproc-mutex.c: the lock word of MprocLock, MprocRLock and the barrier's
 * guard
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One 32-bit futex word in shared memory: the holder's owner id
 * (mproc-owner-private.h), 0 when free, and MUTEX_WAITERS when someone may
 * wait for it.  Acquiring a free lock is one compare-and-swap of 0 to the
 * caller's id, releasing an uncontended one a compare-and-swap back; a
 * release that finds MUTEX_WAITERS wakes one thread sleeping on the word
 * and every async waiter (through the wait point).  Whoever waits sets
 * MUTEX_WAITERS first and, having waited, takes the lock with it set, so
 * that the ones still waiting are woken in turn.
 *
 * Nothing in the shared memory is followed or trusted: no pointer, no
 * list.  A sharer that scribbles over it makes the lock look free, held by
 * someone, or abandoned by a dead holder, which its users see as success,
 * a wait, a timeout or MPROC_ERROR_OWNER_DIED: it spoils this lock and
 * nothing else.
 *
 * A dead holder is found by its waiters, not by the kernel: a thread that
 * sleeps on the word wakes after MUTEX_SLICE_USEC to check the holder's
 * liveness through its pidfd, and again after twice as long while the
 * same holder lives (up to MUTEX_MAX_SLICE_USEC: a long hold costs few
 * wake-ups, a death is seen within that bound); async (and cancellable) waiters watch that
 * pidfd from their main context (MprocDeathWatch).  The first to see the
 * holder dead swaps its own id in and gets the lock with OWNER_DIED.
 *
 * The recursion count of an RLock sits beside the word and is touched by
 * the holder only.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include "config.h"

#include <errno.h>
#include <string.h>

#include "mproc-error.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-owner-private.h"
#include "mproc-sync-private.h"

#define MUTEX_WAITERS    0x80000000u
#define MUTEX_SLICE_USEC     (50 * 1000)
#define MUTEX_MAX_SLICE_USEC (400 * 1000)
/* Tries of a compare-and-swap that keeps failing because the word keeps
 * changing (hand-overs, or a scribbler) before the caller sleeps. */
#define MUTEX_MAX_TRIES  64

G_STATIC_ASSERT ((MUTEX_WAITERS & MPROC_OWNER_ID_MASK) == 0);

typedef enum
{
  ATTEMPT_TAKEN,
  ATTEMPT_BUSY,        /* held by someone else (or by the caller, not recursive) */
} AttemptResult;

static inline MprocMutexShared *
mutex_shared (MprocSync *sync)
{
  return mproc_sync_get_state (sync);
}

void
mproc_mutex_shared_init (MprocMutexShared *shared,
                         gboolean          recursive)
{
  memset (shared, 0, sizeof *shared);
  shared->recursive = recursive;
}

/* One attempt: takes a free word (with @extra bits), or one more level of
 * a recursive lock the caller holds.  On ATTEMPT_BUSY, *@seen is the
 * word. */
static AttemptResult
mutex_attempt (MprocMutexShared *shared,
               gboolean          recursive,
               guint32           self,
               guint32           extra,
               guint32          *seen)
{
  guint32 old = __atomic_load_n (&shared->word, __ATOMIC_RELAXED);

  for (guint i = 0; i < MUTEX_MAX_TRIES; i++)
    {
      guint32 holder = old & MPROC_OWNER_ID_MASK;

      if (holder == 0)
        {
          if (__atomic_compare_exchange_n (&shared->word, &old, self | extra | (old & MUTEX_WAITERS),
                                           FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            {
              if (recursive)
                shared->count = 1;
              return ATTEMPT_TAKEN;
            }
          continue;   /* @old was reloaded */
        }
      if (holder == self && recursive)
        {
          shared->count++;   /* the holder's alone: a plain add */
          return ATTEMPT_TAKEN;
        }
      break;
    }

  *seen = old;
  return ATTEMPT_BUSY;
}

/* The holder seen in *@seen is dead: swap our id in, if nobody changed the
 * word meanwhile. */
static gboolean
mutex_take_over (MprocMutexShared *shared,
                 gboolean          recursive,
                 guint32           self,
                 guint32           seen)
{
  /* MUTEX_WAITERS: others may be sleeping on the dead holder. */
  if (!__atomic_compare_exchange_n (&shared->word, &seen, self | MUTEX_WAITERS,
                                    FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return FALSE;
  if (recursive)
    shared->count = 1;
  return TRUE;
}

/* Marks the word as waited for; FALSE when it changed meanwhile. */
static gboolean
mutex_mark_waiters (MprocMutexShared *shared,
                    guint32           seen)
{
  if (seen & MUTEX_WAITERS)
    return TRUE;
  /* Sequentially consistent, as the release that reads it: a releaser
   * that sees the mark also sees the waiter counted in n_fd_waiters. */
  return __atomic_compare_exchange_n (&shared->word, &seen, seen | MUTEX_WAITERS,
                                      FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static void
set_owner_died (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED,
                       _("The previous owner of the lock died while holding it; "
                         "the lock now belongs to the caller"));
}

static void
set_timed_out (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                       _("Timed out while waiting for the lock"));
}

static void
set_not_owner (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                       _("Cannot release a lock that the calling thread does not hold"));
}

/* The blocking wait, without a cancellable.  @self_is_forged: a word that
 * names the caller cannot be the caller's own (the barrier's guard is never
 * taken twice), so it is treated as abandoned. */
static MprocMutexStatus
mutex_lock_blocking (MprocMutexShared *shared,
                     gboolean          recursive,
                     gboolean          self_is_forged,
                     gint64            timeout_usec)
{
  guint32 self = mproc_owner_self_id ();
  MprocOwnerWatch watch = MPROC_OWNER_WATCH_INIT;
  MprocMutexStatus status;
  gint64 deadline = -1;
  guint32 extra = 0;
  gboolean check_holder = timeout_usec == 0;
  guint32 seen = 0;
  guint32 slice_holder = 0;
  gint64 slice = MUTEX_SLICE_USEC;

  if (timeout_usec > 0)
    deadline = g_get_monotonic_time () + timeout_usec;

  /* Spin briefly first (see mproc_wait_set_spin_usec()): a hand-over
   * caught here costs no system call on either side. */
  if (timeout_usec != 0 && mproc_spin_allowed () && mproc_wait_get_spin_usec () > 0)
    {
      gint64 spin_end = g_get_monotonic_time () + mproc_wait_get_spin_usec ();

      for (guint i = 1;; i++)
        {
          if (mutex_attempt (shared, recursive, self, 0, &seen) == ATTEMPT_TAKEN)
            return MPROC_MUTEX_OK;
          if ((seen & MPROC_OWNER_ID_MASK) == self)
            break;
          mproc_cpu_relax ();
          if (i % 32 == 0 && g_get_monotonic_time () >= spin_end)
            break;
        }
    }

  for (;;)
    {
      gint64 now;
      gint64 slice_end;
      guint32 holder;
      int r;

      if (mutex_attempt (shared, recursive, self, extra, &seen) == ATTEMPT_TAKEN)
        {
          status = MPROC_MUTEX_OK;
          break;
        }
      holder = seen & MPROC_OWNER_ID_MASK;

      /* A holder seen through a whole slice (or at the deadline, or by a
       * try) may be dead: ask its pidfd. */
      if ((check_holder && mproc_owner_watch_is_dead (&watch, holder)) ||
          (self_is_forged && holder == self))
        {
          if (mutex_take_over (shared, recursive, self, seen))
            {
              status = MPROC_MUTEX_OWNER_DIED;
              break;
            }
          continue;
        }

      now = g_get_monotonic_time ();
      if (deadline >= 0 && now >= deadline)
        {
          if (!check_holder)
            {
              check_holder = TRUE;   /* one last look at the holder */
              continue;
            }
          status = MPROC_MUTEX_TIMED_OUT;
          break;
        }
      if (timeout_usec == 0)
        {
          status = MPROC_MUTEX_TIMED_OUT;
          break;
        }

      if (!mutex_mark_waiters (shared, seen))
        continue;
      if (holder != slice_holder)
        {
          slice_holder = holder;
          slice = MUTEX_SLICE_USEC;
        }
      slice_end = now + slice;
      if (deadline >= 0)
        slice_end = MIN (slice_end, deadline);
      r = mproc_futex_wait (&shared->word, seen | MUTEX_WAITERS, slice_end);
      extra = MUTEX_WAITERS;
      check_holder = r == ETIMEDOUT;
      if (check_holder)
        slice = MIN (slice * 2, MUTEX_MAX_SLICE_USEC);
    }

  mproc_owner_watch_clear (&watch);
  return status;
}

/* Frees the word; TRUE when somebody waits for it.  The caller holds the
 * lock (every level). */
static gboolean
mutex_unlock_word (MprocMutexShared *shared)
{
  guint32 old = __atomic_exchange_n (&shared->word, 0, __ATOMIC_SEQ_CST);

  if (old & MUTEX_WAITERS)
    {
      mproc_futex_wake (&shared->word, 1);
      return TRUE;
    }
  return FALSE;
}

MprocMutexStatus
mproc_mutex_shared_lock (MprocMutexShared *shared)
{
  return mutex_lock_blocking (shared, FALSE, TRUE, -1);
}

void
mproc_mutex_shared_unlock (MprocMutexShared *shared)
{
  if ((__atomic_load_n (&shared->word, __ATOMIC_RELAXED) & MPROC_OWNER_ID_MASK) == mproc_owner_self_id ())
    mutex_unlock_word (shared);
}

/* The status as a result: OWNER_DIED and TIMED_OUT set @error. */
static gboolean
mutex_status_result (MprocMutexStatus   status,
                     GError           **error)
{
  switch (status)
    {
    case MPROC_MUTEX_OK:
      return TRUE;
    case MPROC_MUTEX_OWNER_DIED:
      set_owner_died (error);
      return FALSE;
    case MPROC_MUTEX_TIMED_OUT:
    default:
      set_timed_out (error);
      return FALSE;
    }
}

gboolean
mproc_mutex_try_acquire (MprocSync  *sync,
                         GError    **error)
{
  return mproc_mutex_acquire (sync, 0, NULL, error);
}

gboolean
mproc_mutex_acquire (MprocSync     *sync,
                     gint64         timeout_usec,
                     GCancellable  *cancellable,
                     GError       **error)
{
  MprocMutexShared *shared = mutex_shared (sync);
  gboolean recursive = mproc_sync_get_recursive (sync);
  MprocSyncBlock block;
  g_autoptr(GAsyncResult) result = NULL;
  guint32 seen;

  if (cancellable == NULL)
    return mutex_status_result (mutex_lock_blocking (shared, recursive, FALSE, timeout_usec), error);

  /* Cancellable: a futex wait cannot watch a GCancellable, so wait like
   * an async waiter, in a private main context. */
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (mutex_attempt (shared, recursive, mproc_owner_self_id (), 0, &seen) == ATTEMPT_TAKEN)
    return TRUE;
  if (timeout_usec == 0)
    return mutex_status_result (mutex_lock_blocking (shared, recursive, FALSE, 0), error);

  mproc_sync_block_begin (&block);
  mproc_mutex_acquire_async (sync, NULL, mproc_mutex_acquire, timeout_usec, cancellable,
                             mproc_sync_block_cb, &block);
  result = mproc_sync_block_end (&block);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
mutex_wake (MprocSync *sync)
{
  if (g_atomic_int_get (&mproc_sync_get_wait_shared (sync)->n_fd_waiters) != 0)
    mproc_sync_wake (sync, G_MAXINT);
}

gboolean
mproc_mutex_release (MprocSync  *sync,
                     GError    **error)
{
  MprocMutexShared *shared = mutex_shared (sync);
  guint32 self = mproc_owner_self_id ();
  guint32 old = __atomic_load_n (&shared->word, __ATOMIC_RELAXED);

  if ((old & MPROC_OWNER_ID_MASK) != self)
    {
      set_not_owner (error);
      return FALSE;
    }

  if (mproc_sync_get_recursive (sync))
    {
      guint32 count = shared->count;

      if (count > 1)
        {
          shared->count = count - 1;
          return TRUE;
        }
      shared->count = 0;
    }

  /* Uncontended: one compare-and-swap, as the inline fast path does. */
  if ((old & MUTEX_WAITERS) == 0 &&
      __atomic_compare_exchange_n (&shared->word, &old, 0, FALSE,
                                   __ATOMIC_RELEASE, __ATOMIC_RELAXED))
    return TRUE;
  if (mutex_unlock_word (shared))
    mutex_wake (sync);
  return TRUE;
}

gboolean
mproc_mutex_is_owned (MprocSync *sync)
{
  guint32 word = __atomic_load_n (&mutex_shared (sync)->word, __ATOMIC_RELAXED);

  return (word & MPROC_OWNER_ID_MASK) == mproc_owner_self_id ();
}

gboolean
mproc_mutex_release_all (MprocSync  *sync,
                         guint      *saved_count,
                         GError    **error)
{
  MprocMutexShared *shared = mutex_shared (sync);

  if (!mproc_mutex_is_owned (sync))
    {
      set_not_owner (error);
      return FALSE;
    }

  *saved_count = mproc_sync_get_recursive (sync) ? MAX (shared->count, 1) : 1;
  shared->count = 0;
  if (mutex_unlock_word (shared))
    mutex_wake (sync);
  return TRUE;
}

/* After a successful acquire (one level). */
void
mproc_mutex_restore_count (MprocSync *sync,
                           guint      saved_count)
{
  if (mproc_sync_get_recursive (sync))
    mutex_shared (sync)->count = saved_count;
}

/* Async acquisition: the wait point, plus a pidfd watch on the holder. */

typedef struct
{
  MprocSync       *sync;
  MprocDeathWatch *watch;
  guint32          dead;   /* a holder found dead, to take over from */
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

  /* Re-run the checks: the first that still sees @pid takes over. */
  ad->dead = (guint32) pid;
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
  gboolean recursive = mproc_sync_get_recursive (ad->sync);
  guint32 self = mproc_owner_self_id ();

  for (guint i = 0; i < MUTEX_MAX_TRIES; i++)
    {
      guint32 seen;
      int holder;

      if (mutex_attempt (shared, recursive, self, MUTEX_WAITERS, &seen) == ATTEMPT_TAKEN)
        return TRUE;

      holder = (int) (seen & MPROC_OWNER_ID_MASK);
      if (holder != 0 && (guint32) holder == ad->dead)
        {
          if (mutex_take_over (shared, recursive, self, seen))
            {
              set_owner_died (error);
              return FALSE;
            }
          continue;
        }
      if (holder == 0 || !mutex_mark_waiters (shared, seen))
        continue;   /* changing hands: again */
      if ((guint32) holder == self)
        return FALSE;   /* ours (not recursive): marked, so our release wakes us */

      if (ad->watch == NULL)
        ad->watch = mproc_death_watch_new (g_task_get_context (task), acquire_holder_died, ad);
      if (mproc_death_watch_set (ad->watch, &holder, 1, TRUE))
        return FALSE;
      ad->dead = (guint32) holder;   /* already gone: take over next time round */
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
