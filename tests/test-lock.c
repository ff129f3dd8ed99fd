/* test-lock.c: MprocLock and MprocRLock, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mproc-sync-private.h"
#include "test-sync-util.h"

/* What a scribbler aims glibc's robust-list writes at: it must stay zero. */
static volatile guint64 scribble_victim[8];

/* --- Targets ----------------------------------------------------------- */

/* objects: lock, counter; args: "i" the number of increments */
static int
target_increment (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  MprocValue *counter = mproc_process_get_object (process, 1);
  int n = g_variant_get_int32 (args);

  for (int i = 0; i < n; i++)
    {
      MPROC_LOCK_AUTO_LOCK (lock, locker);
      gint64 v = mproc_value_get_int (counter);

      /* Widen the race window: without mutual exclusion increments are lost. */
      if (i % 64 == 0)
        g_thread_yield ();
      mproc_value_set_int (counter, v + 1);
    }
  return 0;
}

/* objects: lock, event; takes the lock, sets the event, then either
 * sleeps for ever (args TRUE) or releases after 200 ms and exits. */
static int
target_hold (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  MprocEvent *held = mproc_process_get_object (process, 1);

  if (!mproc_lock_acquire (lock, -1, NULL, NULL))
    return 3;
  mproc_event_set (held);
  if (g_variant_get_boolean (args))
    for (;;)
      pause ();
  g_usleep (200 * 1000);
  return mproc_lock_release (lock, NULL) ? 0 : 4;
}

/* Same, for an rlock taken twice. */
static int
target_hold_rlock (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  MprocEvent *held = mproc_process_get_object (process, 1);

  /* The copy is an RLock again, so the second acquire does not wait. */
  if (!MPROC_IS_RLOCK (lock))
    return 5;
  if (!mproc_lock_acquire (lock, -1, NULL, NULL) || !mproc_lock_acquire (lock, -1, NULL, NULL))
    return 3;
  mproc_event_set (held);
  for (;;)
    pause ();
  return 0;
}

/* objects: lock, started and stop events; args: "(ui)" a seed and the
 * parent's pid.
 * Writes random bytes, pointers (into the lock's own mapping, at
 * scribble_victim, which fork() leaves at the same address in the parent)
 * and chosen owner words over the lock's shared memory until told to
 * stop: a hostile sharer. */
static int
target_scribble (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  MprocEvent *started = mproc_process_get_object (process, 1);
  MprocEvent *stop = mproc_process_get_object (process, 2);
  MprocSync *sync = mproc_lock_get_sync (lock);
  guint8 *base = (guint8 *) mproc_sync_get_wait_shared (sync);
  const gsize size = MPROC_SYNC_STATE_OFFSET + 48;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  g_autoptr(GRand) rand = NULL;
  guint32 seed;
  gint32 parent;

  g_variant_get (args, "(ui)", &seed, &parent);
  rand = g_rand_new_with_seed (seed);
  mproc_event_set (started);
  for (guint64 i = 0; !mproc_event_is_set (stop) && g_get_monotonic_time () < deadline; i++)
    {
      guint64 pointers[] = {
        (guintptr) scribble_victim, (guintptr) base, (guintptr) (base + MPROC_SYNC_STATE_OFFSET),
        1, 0xdeadbeefdeadbeefULL, 0x00007ffffffff000ULL, (guintptr) &scribble_victim[4],
      };
      guint32 words[] = {
        0, (guint32) parent, (guint32) getpid (), 0x80000000u | (guint32) parent,
        0x40000000u | (guint32) getpid (), 0xffffffffu, 0x3fffffffu, 1,
      };

      switch (g_rand_int_range (rand, 0, 3))
        {
        case 0:
          for (gsize j = 0; j < size; j++)
            base[j] = (guint8) g_rand_int (rand);
          break;
        case 1:
          for (gsize j = 0; j < size; j += 8)
            *(volatile guint64 *) (base + j) = pointers[g_rand_int_range (rand, 0, G_N_ELEMENTS (pointers))];
          break;
        default:
          for (gsize j = 0; j < size; j += 4)
            *(volatile guint32 *) (base + j) = words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))];
          break;
        }
      if (i % 16 == 0)
        g_usleep (g_rand_int_range (rand, 0, 200));
    }
  return 0;
}

/* objects: lock, held by the parent: this process must not believe it
 * holds it, whatever it inherited. */
static int
target_not_owner (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  g_autoptr(GError) error = NULL;

  if (mproc_lock_is_owned (lock))
    return 3;
  if (mproc_lock_acquire (lock, 0, NULL, &error) ||
      !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
    return 4;
  g_clear_error (&error);
  if (mproc_lock_release (lock, &error) ||
      !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER))
    return 5;
  return 0;
}

static gboolean
scribbled_error_is_allowed (const GError *error)
{
  return g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT) ||
         g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED) ||
         g_error_matches (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE) ||
         g_error_matches (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
}

static MprocProcess *
start_holder (gconstpointer method, MprocLock *lock, gboolean forever)
{
  g_autoptr(MprocEvent) held = mproc_event_new (NULL);
  MprocProcess *process = sync_start (method, "hold", g_variant_new_boolean (forever), lock, held, NULL);

  g_assert_true (mproc_event_wait (held, 20 * G_USEC_PER_SEC, NULL, NULL));
  return process;
}

/* --- Tests ------------------------------------------------------------- */

static void
test_mutual_exclusion (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocValue) counter = NULL;
  MprocProcess *procs[4];
  const int n = 5000;

  g_test_summary ("4 processes × 5000 locked increments of a shared value give exactly 20000");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  counter = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = sync_start (method, "increment", g_variant_new_int32 (n), lock, counter, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_value_get_int (counter), ==, G_N_ELEMENTS (procs) * n);

  g_clear_object (&lock);
  g_clear_object (&counter);
  test_leak_check_end (&check);
}

static void
assert_owner_died_then_usable (MprocLock *lock, GError *error)
{
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED);
  g_assert_true (mproc_lock_is_owned (lock));
  g_assert_true (mproc_lock_release (lock, NULL));
  g_assert_true (mproc_lock_acquire (lock, 0, NULL, NULL));
  g_assert_true (mproc_lock_release (lock, NULL));
}

static void
test_owner_killed (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A holder killed with SIGKILL: the next acquirer gets OWNER_DIED and a usable lock");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  holder = start_holder (method, lock, TRUE);
  g_assert_false (mproc_lock_acquire (lock, 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  mproc_process_kill (holder);
  sync_join (holder, -SIGKILL);
  g_assert_false (mproc_lock_acquire (lock, -1, NULL, &error));
  assert_owner_died_then_usable (lock, error);

  g_clear_object (&holder);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

typedef struct
{
  MprocLock *lock;
  GCancellable *cancellable;
  GError *error;
  gboolean ok;
} BlockedAcquire;

static gpointer
blocked_acquire_thread (gpointer data)
{
  BlockedAcquire *ba = data;

  ba->ok = mproc_lock_acquire (ba->lock, 20 * G_USEC_PER_SEC, ba->cancellable, &ba->error);
  if (ba->ok || g_error_matches (ba->error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
    mproc_lock_release (ba->lock, NULL);
  return NULL;
}

static void
test_owner_killed_blocked (gconstpointer data)
{
  TestLeakCheck check;
  gconstpointer method = GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER);
  gboolean with_cancellable = GPOINTER_TO_INT (data);
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  BlockedAcquire ba = { 0, };
  GThread *thread;
  gint64 start;

  g_test_summary ("A thread blocked on a lock learns of its holder's SIGKILL at once, "
                  "in the kernel (no cancellable) or through the holder's pidfd");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  holder = start_holder (method, lock, TRUE);
  ba.lock = lock;
  ba.cancellable = with_cancellable ? cancellable : NULL;
  thread = g_thread_new ("acquirer", blocked_acquire_thread, &ba);
  g_usleep (100 * 1000);

  start = g_get_monotonic_time ();
  mproc_process_kill (holder);
  g_thread_join (thread);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_false (ba.ok);
  g_assert_error (ba.error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED);
  g_clear_error (&ba.error);
  sync_join (holder, -SIGKILL);
  g_assert_true (mproc_lock_try_acquire (lock, NULL));
  g_assert_true (mproc_lock_release (lock, NULL));

  g_clear_object (&holder);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static void
test_owner_killed_async (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A pending acquire_async learns of its holder's SIGKILL through the pidfd");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  holder = start_holder (method, lock, TRUE);
  mproc_lock_acquire_async (lock, 20 * G_USEC_PER_SEC, NULL, test_store_result, &result);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (result);

  mproc_process_kill (holder);
  test_wait_result (&result);
  g_assert_false (mproc_lock_acquire_finish (lock, result, &error));
  assert_owner_died_then_usable (lock, error);
  sync_join (holder, -SIGKILL);

  g_clear_object (&result);
  g_clear_object (&holder);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static void
test_timeouts (void)
{
  TestLeakCheck check;
  gconstpointer method = GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("try_acquire, and acquire with a timeout (blocking, cancellable, async) time out");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  holder = start_holder (method, lock, TRUE);

  g_assert_false (mproc_lock_try_acquire (lock, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  g_assert_false (mproc_lock_acquire (lock, 100 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  g_assert_false (mproc_lock_acquire (lock, 100 * 1000, cancellable, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  mproc_lock_acquire_async (lock, 100 * 1000, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_false (mproc_lock_acquire_finish (lock, result, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_clear_error (&error);
  g_clear_object (&result);

  mproc_process_kill (holder);
  sync_join (holder, -SIGKILL);
  g_clear_object (&holder);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static void
test_cancel (void)
{
  TestLeakCheck check;
  gconstpointer method = GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable2 = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GThread *canceller;

  g_test_summary ("A blocked acquire and a pending acquire_async return CANCELLED; the lock stays usable");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  holder = start_holder (method, lock, FALSE);

  canceller = sync_cancel_later (cancellable, 50);
  g_assert_false (mproc_lock_acquire (lock, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);

  mproc_lock_acquire_async (lock, -1, cancellable2, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable2);
  test_wait_result (&result);
  g_assert_false (mproc_lock_acquire_finish (lock, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* The holder releases after 200 ms and exits. */
  g_assert_true (mproc_lock_acquire (lock, 20 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_lock_release (lock, NULL));
  sync_join (holder, 0);

  g_clear_object (&holder);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static gboolean
tick_cb (gpointer user_data)
{
  (*(guint *) user_data)++;
  return G_SOURCE_CONTINUE;
}

static void
test_async_main_loop (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint ticks = 0;
  guint tick_id;

  g_test_summary ("acquire_async completes in a running main loop when another process releases, "
                  "while other sources keep running");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  holder = start_holder (method, lock, FALSE);
  tick_id = g_timeout_add (10, tick_cb, &ticks);
  mproc_lock_acquire_async (lock, -1, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_source_remove (tick_id);
  g_assert_true (mproc_lock_acquire_finish (lock, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ticks, >, 3);
  g_assert_true (mproc_lock_is_owned (lock));
  g_assert_true (mproc_lock_release (lock, NULL));
  sync_join (holder, 0);

  g_clear_object (&result);
  g_clear_object (&holder);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static gpointer
release_in_thread (gpointer data)
{
  GError *error = NULL;

  g_assert_false (mproc_lock_release (data, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
  g_error_free (error);
  return NULL;
}

/* data: the start method, | SCRIBBLED_RLOCK for an RLock */
#define SCRIBBLED_RLOCK 0x100

static void
test_scribbled (gconstpointer data)
{
  gconstpointer method = GINT_TO_POINTER (GPOINTER_TO_INT (data) & 0xff);
  gboolean recursive = (GPOINTER_TO_INT (data) & SCRIBBLED_RLOCK) != 0;
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocEvent) started = NULL;
  g_autoptr(MprocEvent) stop = NULL;
  g_autoptr(MprocProcess) scribbler = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  guint n_ok = 0;
  guint n = 0;
  gint64 end;

  g_test_summary ("A sharer that writes random bytes, pointers and chosen owner ids over a lock's "
                  "memory makes the others see errors or success, never a crash, a hang or a "
                  "write outside the lock's memory");
  test_leak_check_begin (&check);

  lock = recursive ? MPROC_LOCK (mproc_rlock_new (NULL)) : mproc_lock_new (NULL);
  started = mproc_event_new (NULL);
  stop = mproc_event_new (NULL);
  scribbler = sync_start (method, "scribble", g_variant_new ("(ui)", g_test_rand_int (), (gint32) getpid ()),
                          lock, started, stop, NULL);
  g_assert_true (mproc_event_wait (started, 20 * G_USEC_PER_SEC, NULL, NULL));

  /* A second of every kind of acquisition against the scribbler. */
  end = g_get_monotonic_time () + G_USEC_PER_SEC;
  for (guint i = 0; g_get_monotonic_time () < end; i++, n++)
    {
      g_autoptr(GError) error = NULL;
      gboolean ok;

      switch (i % 4)
        {
        case 0:
          ok = mproc_lock_try_acquire (lock, &error);
          break;
        case 1:
          ok = mproc_lock_acquire (lock, 10 * 1000, NULL, &error);
          break;
        case 2:
          ok = mproc_lock_acquire (lock, 10 * 1000, cancellable, &error);
          break;
        default:
          {
            g_autoptr(GAsyncResult) result = NULL;

            mproc_lock_acquire_async (lock, 10 * 1000, NULL, test_store_result, &result);
            test_wait_result (&result);
            ok = mproc_lock_acquire_finish (lock, result, &error);
          }
          break;
        }
      if (!ok && !scribbled_error_is_allowed (error))
        g_error ("unexpected error from a scribbled lock: %s", error->message);
      if (ok || g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
        {
          g_autoptr(GError) release_error = NULL;

          n_ok++;
          if (!mproc_lock_release (lock, &release_error) && !scribbled_error_is_allowed (release_error))
            g_error ("unexpected error from a scribbled lock: %s", release_error->message);
        }
    }
  mproc_event_set (stop);
  sync_join (scribbler, 0);
  g_test_message ("%u of %u acquisitions succeeded", n_ok, n);

  for (guint i = 0; i < G_N_ELEMENTS (scribble_victim); i++)
    g_assert_cmpuint (scribble_victim[i], ==, 0);

  g_clear_object (&scribbler);
  g_clear_object (&started);
  g_clear_object (&stop);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static void
test_child_not_owner (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) child = NULL;

  g_test_summary ("A child (forked from the holding thread too) is not the owner of a lock "
                  "its parent holds: the thread id the fast path caches is not inherited");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  g_assert_true (mproc_lock_acquire (lock, -1, NULL, NULL));
  child = sync_start (method, "not-owner", NULL, lock, NULL);
  sync_join (child, 0);
  g_assert_true (mproc_lock_is_owned (lock));
  g_assert_true (mproc_lock_release (lock, NULL));

  g_clear_object (&child);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}

static void
test_async_while_held (void)
{
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("acquire_async by the thread that holds the lock completes once that "
                  "thread releases it (the inline release must not skip the wake-up)");
  if (!g_test_subprocess ())
    {
      /* Without the wake-up it waits for ever. */
      g_test_trap_subprocess (NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      return;
    }

  g_assert_true (mproc_lock_acquire (lock, -1, NULL, NULL));
  mproc_lock_acquire_async (lock, -1, NULL, test_store_result, &result);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (result);
  g_assert_true (mproc_lock_release (lock, NULL));
  test_wait_result (&result);
  g_assert_true (mproc_lock_acquire_finish (lock, result, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_lock_release (lock, NULL));
}

static gpointer
acquire_and_exit (gpointer data)
{
  g_assert_true (mproc_lock_acquire (data, -1, NULL, NULL));
  return NULL;
}

typedef struct
{
  gint tid;
  gint stop;
} Bystander;

static gpointer
bystander_thread (gpointer data)
{
  Bystander *b = data;

  g_atomic_int_set (&b->tid, (gint) syscall (SYS_gettid));
  while (!g_atomic_int_get (&b->stop))
    g_usleep (1000);
  return NULL;
}

static void
test_tid_reused (gconstpointer data)
{
  gboolean async = GPOINTER_TO_INT (data);
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);
  g_autoptr(GError) error = NULL;
  Bystander b = { 0, 0 };
  GThread *bystander;
  MprocMutexShared *shared;
  guint32 word;
  gint64 t0;

  g_test_summary ("A lock whose dead holder's thread id now names a live thread (the id was "
                  "recycled) is taken over: the next acquirer gets OWNER_DIED at once");
  bystander = g_thread_new ("bystander", bystander_thread, &b);
  while (g_atomic_int_get (&b.tid) == 0)
    g_usleep (1000);
  /* the holder starts some clock ticks later than the bystander */
  g_usleep (50 * 1000);
  g_thread_join (g_thread_new ("holder", acquire_and_exit, lock));

  /* give the dead holder's id (the thread id bits of the word) to the
   * live bystander, as pid_max wrapping round would */
  shared = mproc_sync_get_state (mproc_lock_get_sync (lock));
  word = __atomic_load_n (&shared->word, __ATOMIC_ACQUIRE);
  g_assert_cmpuint (word, !=, 0);
  __atomic_store_n (&shared->word, (word & ~0x003fffffu) | (guint32) b.tid, __ATOMIC_RELEASE);

  t0 = g_get_monotonic_time ();
  if (async)
    {
      g_autoptr(GAsyncResult) result = NULL;

      mproc_lock_acquire_async (lock, 5 * G_USEC_PER_SEC, NULL, test_store_result, &result);
      test_wait_result (&result);
      g_assert_false (mproc_lock_acquire_finish (lock, result, &error));
    }
  else
    g_assert_false (mproc_lock_acquire (lock, 5 * G_USEC_PER_SEC, NULL, &error));
  g_test_message ("taken over after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - t0) / 1000);
  assert_owner_died_then_usable (lock, error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 2 * G_USEC_PER_SEC);

  g_atomic_int_set (&b.stop, 1);
  g_thread_join (bystander);
}

static void
test_thread_exited (gconstpointer data)
{
  gboolean async = GPOINTER_TO_INT (data);
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);
  g_autoptr(GError) error = NULL;

  g_test_summary ("A thread that exits holding a lock leaves it OWNER_DIED to the next "
                  "acquirer of its own process (the holder's pidfd is per thread)");
  g_thread_join (g_thread_new ("holder", acquire_and_exit, lock));
  if (async)
    {
      g_autoptr(GAsyncResult) result = NULL;

      mproc_lock_acquire_async (lock, 20 * G_USEC_PER_SEC, NULL, test_store_result, &result);
      test_wait_result (&result);
      g_assert_false (mproc_lock_acquire_finish (lock, result, &error));
    }
  else
    g_assert_false (mproc_lock_acquire (lock, 20 * G_USEC_PER_SEC, NULL, &error));
  assert_owner_died_then_usable (lock, error);
}

static void
test_release_not_owner (void)
{
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);
  g_autoptr(GError) error = NULL;

  g_test_summary ("Releasing a free lock, or one held by another thread, is NOT_OWNER, "
                  "also from a thread that never used a lock before");
  g_thread_join (g_thread_new ("releaser", release_in_thread, lock));
  g_assert_false (mproc_lock_release (lock, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
  g_assert_true (mproc_lock_acquire (lock, -1, NULL, NULL));
  g_thread_join (g_thread_new ("releaser", release_in_thread, lock));
  g_assert_true (mproc_lock_is_owned (lock));
  g_assert_true (mproc_lock_release (lock, NULL));
  g_assert_false (mproc_lock_is_owned (lock));
}

static void
test_scoped (void)
{
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);

  g_test_summary ("MPROC_LOCK_AUTO_LOCK holds the lock until the end of the scope");
  {
    MPROC_LOCK_AUTO_LOCK (lock, locker);
    g_assert_true (mproc_lock_is_owned (lock));
  }
  g_assert_false (mproc_lock_is_owned (lock));
}

static void
test_rlock (void)
{
  g_autoptr(MprocRLock) rlock = mproc_rlock_new (NULL);
  MprocLock *lock = MPROC_LOCK (rlock);
  g_autoptr(GError) error = NULL;

  g_test_summary ("An RLock is a Lock that counts recursion per thread and is free after as many releases");
  g_assert_true (MPROC_IS_LOCK (rlock));
  g_assert_true (mproc_lock_acquire (lock, -1, NULL, NULL));
  g_assert_true (mproc_lock_acquire (lock, 0, NULL, NULL));
  g_assert_true (mproc_lock_try_acquire (lock, NULL));
  g_assert_true (mproc_lock_release (lock, NULL));
  g_assert_true (mproc_lock_release (lock, NULL));
  g_assert_true (mproc_lock_is_owned (lock));
  {
    MPROC_RLOCK_AUTO_LOCK (rlock, locker);
    g_assert_true (mproc_lock_is_owned (lock));
  }
  g_assert_true (mproc_lock_release (lock, NULL));
  g_assert_false (mproc_lock_is_owned (lock));
  g_assert_false (mproc_lock_release (lock, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
}

static void
test_rlock_owner_killed (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocRLock) lock = NULL;
  g_autoptr(MprocEvent) held = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("An RLock held twice by a killed process is OWNER_DIED, held once by the next acquirer");
  test_leak_check_begin (&check);

  lock = mproc_rlock_new (NULL);
  held = mproc_event_new (NULL);
  holder = sync_start (method, "hold-rlock", NULL, lock, held, NULL);
  g_assert_true (mproc_event_wait (held, 20 * G_USEC_PER_SEC, NULL, NULL));
  mproc_process_kill (holder);
  sync_join (holder, -SIGKILL);
  g_assert_false (mproc_lock_acquire (MPROC_LOCK (lock), -1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED);
  g_assert_true (mproc_lock_release (MPROC_LOCK (lock), NULL));
  g_assert_false (mproc_lock_is_owned (MPROC_LOCK (lock)));

  g_clear_object (&holder);
  g_clear_object (&held);
  g_clear_object (&lock);
  test_leak_check_end (&check);
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(GError) error = NULL;
  MprocLock *locks[2];

  g_test_summary ("A lock made by g_object_new() alone (a binding's new), or an rlock made by "
                  "g_initable_new(), excludes another process");

  locks[0] = g_object_new (MPROC_TYPE_LOCK, NULL);
  locks[1] = g_initable_new (MPROC_TYPE_RLOCK, NULL, &error, NULL);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (locks); i++)
    {
      g_autoptr(MprocEvent) held = g_object_new (MPROC_TYPE_EVENT, NULL);
      g_autoptr(MprocProcess) holder = sync_start (method, "hold", g_variant_new_boolean (FALSE),
                                                   locks[i], held, NULL);

      g_assert_true (mproc_event_wait (held, 30 * G_USEC_PER_SEC, NULL, &error));
      g_assert_false (mproc_lock_try_acquire (locks[i], &error));
      g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
      g_clear_error (&error);
      sync_join (holder, 0);
      g_assert_true (mproc_lock_try_acquire (locks[i], &error));
      g_assert_no_error (error);
      g_assert_true (mproc_lock_release (locks[i], &error));
      g_object_unref (locks[i]);
    }
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("increment", target_increment, NULL, NULL);
  mproc_register_target ("hold", target_hold, NULL, NULL);
  mproc_register_target ("hold-rlock", target_hold_rlock, NULL, NULL);
  mproc_register_target ("scribble", target_scribble, NULL, NULL);
  mproc_register_target ("not-owner", target_not_owner, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/lock", "mutual-exclusion", test_mutual_exclusion);
  test_add_method_test ("/mproc/lock", "construct", test_construct);
  test_add_method_test ("/mproc/lock", "owner-killed", test_owner_killed);
  test_add_method_test ("/mproc/lock", "owner-killed/async", test_owner_killed_async);
  test_add_method_test ("/mproc/lock", "acquire-async/main-loop", test_async_main_loop);
  test_add_method_test ("/mproc/lock", "scribbled", test_scribbled);
  for (guint m = 0; m < G_N_ELEMENTS (test_method_names); m++)
    {
      g_autofree char *path = g_strdup_printf ("/mproc/rlock/scribbled/%s", test_method_names[m]);

      g_test_add_data_func (path, GINT_TO_POINTER (m | SCRIBBLED_RLOCK), test_scribbled);
    }
  test_add_method_test ("/mproc/lock", "child-not-owner", test_child_not_owner);
  g_test_add_data_func ("/mproc/lock/owner-killed/thread-exited", GINT_TO_POINTER (FALSE), test_thread_exited);
  g_test_add_data_func ("/mproc/lock/owner-killed/thread-exited/async", GINT_TO_POINTER (TRUE), test_thread_exited);
  g_test_add_data_func ("/mproc/lock/owner-killed/tid-reused", GINT_TO_POINTER (FALSE), test_tid_reused);
  g_test_add_data_func ("/mproc/lock/owner-killed/tid-reused/async", GINT_TO_POINTER (TRUE), test_tid_reused);
  g_test_add_data_func ("/mproc/lock/owner-killed/blocked", GINT_TO_POINTER (FALSE), test_owner_killed_blocked);
  g_test_add_data_func ("/mproc/lock/owner-killed/blocked-cancellable", GINT_TO_POINTER (TRUE), test_owner_killed_blocked);
  g_test_add_func ("/mproc/lock/timeouts", test_timeouts);
  g_test_add_func ("/mproc/lock/cancel", test_cancel);
  g_test_add_func ("/mproc/lock/release-not-owner", test_release_not_owner);
  g_test_add_func ("/mproc/lock/acquire-async/while-held", test_async_while_held);
  g_test_add_func ("/mproc/lock/scoped", test_scoped);
  g_test_add_func ("/mproc/rlock/recursion", test_rlock);
  test_add_method_test ("/mproc/rlock", "owner-killed", test_rlock_owner_killed);

  return g_test_run ();
}
