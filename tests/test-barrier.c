/* test-barrier.c: MprocBarrier, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>
#include <sys/mman.h>

#include "mproc-fd-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"
#include "test-sync-util.h"

/* objects: barrier, indices (an int64 value, one bit per index seen);
 * args: "b" sleep for ever after arriving (to be killed) */
static int
target_wait (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocBarrier *barrier = mproc_process_get_object (process, 0);
  MprocValue *seen = mproc_process_get_object (process, 1);
  g_autoptr(GError) error = NULL;
  gint index;

  index = mproc_barrier_wait (barrier, 20 * G_USEC_PER_SEC, NULL, &error);
  if (index < 0)
    return g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER) ? 7 : 1;
  mproc_value_add (seen, (gint64) 1 << index);
  return 0;
}

static void
test_trip (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocBarrier) barrier = NULL;
  g_autoptr(MprocValue) seen = NULL;
  g_autoptr(GError) error = NULL;
  MprocProcess *procs[2];
  gint index;

  g_test_summary ("Three parties (two processes and the parent) trip the barrier twice, "
                  "with distinct arrival indices");
  test_leak_check_begin (&check);

  barrier = mproc_barrier_new (3, NULL);
  seen = mproc_value_new (MPROC_VALUE_TYPE_INT64, FALSE, NULL);
  g_assert_cmpuint (mproc_barrier_get_parties (barrier), ==, 3);
  for (int round = 0; round < 2; round++)
    {
      mproc_value_set_int (seen, 0);
      for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
        procs[i] = sync_start (method, "wait", NULL, barrier, seen, NULL);
      index = mproc_barrier_wait (barrier, 20 * G_USEC_PER_SEC, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (index, >=, 0);
      g_assert_cmpint (index, <, 3);
      for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
        {
          sync_join (procs[i], 0);
          g_object_unref (procs[i]);
        }
      g_assert_cmpint (mproc_value_get_int (seen) | ((gint64) 1 << index), ==, 7);
    }
  g_assert_false (mproc_barrier_is_broken (barrier));

  g_clear_object (&barrier);
  g_clear_object (&seen);
  test_leak_check_end (&check);
}

static void
test_participant_killed (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocBarrier) barrier = NULL;
  g_autoptr(MprocValue) seen = NULL;
  g_autoptr(MprocProcess) victim = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  gint64 start;

  g_test_summary ("A participant killed while waiting breaks the barrier: the others get "
                  "BROKEN_BARRIER at once instead of hanging");
  test_leak_check_begin (&check);

  barrier = mproc_barrier_new (3, NULL);
  seen = mproc_value_new (MPROC_VALUE_TYPE_INT64, FALSE, NULL);
  victim = sync_start (method, "wait", NULL, barrier, seen, NULL);
  while (mproc_barrier_get_n_waiting (barrier) < 1)
    g_usleep (1000);

  mproc_barrier_wait_async (barrier, -1, NULL, test_store_result, &result);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (result);

  start = g_get_monotonic_time ();
  mproc_process_kill (victim);
  test_wait_result (&result);
  g_assert_cmpint (mproc_barrier_wait_finish (barrier, result, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (mproc_barrier_is_broken (barrier));
  sync_join (victim, -SIGKILL);

  g_clear_object (&result);
  g_clear_object (&victim);
  g_clear_object (&barrier);
  g_clear_object (&seen);
  test_leak_check_end (&check);
}

static void
test_timeout_abort_reset (void)
{
  g_autoptr(MprocBarrier) barrier = mproc_barrier_new (2, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GThread *canceller;
  gint64 start;

  g_test_summary ("A timed-out or cancelled wait fails and breaks the barrier; abort breaks it; "
                  "reset makes it usable");

  start = g_get_monotonic_time ();
  g_assert_cmpint (mproc_barrier_wait (barrier, 100 * 1000, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_clear_error (&error);
  g_assert_true (mproc_barrier_is_broken (barrier));
  g_assert_cmpint (mproc_barrier_wait (barrier, -1, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER);
  g_clear_error (&error);

  mproc_barrier_reset (barrier);
  g_assert_false (mproc_barrier_is_broken (barrier));
  canceller = sync_cancel_later (cancellable, 50);
  g_assert_cmpint (mproc_barrier_wait (barrier, -1, cancellable, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);
  g_assert_true (mproc_barrier_is_broken (barrier));

  mproc_barrier_reset (barrier);
  mproc_barrier_abort (barrier);
  g_assert_cmpint (mproc_barrier_wait (barrier, -1, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER);
  g_clear_error (&error);

  /* One party: trips at once. */
  {
    g_autoptr(MprocBarrier) one = mproc_barrier_new (1, NULL);

    g_assert_cmpint (mproc_barrier_wait (one, -1, NULL, &error), ==, 0);
    g_assert_no_error (error);
  }
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(MprocBarrier) barrier = g_object_new (MPROC_TYPE_BARRIER, "parties", 2, NULL);
  g_autoptr(MprocValue) seen = g_object_new (MPROC_TYPE_VALUE, NULL);
  g_autoptr(MprocProcess) waiter = NULL;
  g_autoptr(GError) error = NULL;
  gint index;

  g_test_summary ("A barrier made by g_object_new() alone (a binding's new) trips across processes");

  g_assert_cmpuint (mproc_barrier_get_parties (barrier), ==, 2);
  waiter = sync_start (method, "wait", NULL, barrier, seen, NULL);
  index = mproc_barrier_wait (barrier, 30 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  sync_join (waiter, 0);
  mproc_value_add (seen, (gint64) 1 << index);
  g_assert_cmpint (mproc_value_get_int (seen), ==, 3);
}

static void
test_spoiled_count (void)
{
  TestLeakCheck check;
  g_autoptr(MprocBarrier) barrier = NULL;
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GVariant) handle = NULL;
  g_autoptr(GError) error = NULL;
  guint32 *count;
  gpointer map;

  g_test_summary ("A count that a sharer spoiled breaks the barrier instead of indexing "
                  "out of its memory");
  test_leak_check_begin (&check);

  barrier = mproc_barrier_new (2, NULL);
  fds = mproc_fd_array_new ();
  handle = g_variant_ref_sink (mproc_shareable_serialize (MPROC_SHAREABLE (barrier), fds, &error));
  g_assert_no_error (error);
  map = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, g_array_index (fds, int, 0), 0);
  g_assert_true (map != MAP_FAILED);

  /* After the guard and parties, as a sharer would find it. */
  count = (guint32 *) ((char *) map + MPROC_SYNC_STATE_OFFSET + sizeof (MprocMutexShared) + 4);
  *count = 0x7fffffff;
  g_assert_cmpint (mproc_barrier_wait (barrier, G_USEC_PER_SEC, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER);
  g_clear_error (&error);

  mproc_barrier_reset (barrier);
  g_assert_false (mproc_barrier_is_broken (barrier));

  munmap (map, 4096);
  mproc_fd_array_close_all (fds);
  g_clear_object (&barrier);
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("wait", target_wait, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/barrier", "trip", test_trip);
  test_add_method_test ("/mproc/barrier", "construct", test_construct);
  test_add_method_test ("/mproc/barrier", "participant-killed", test_participant_killed);
  g_test_add_func ("/mproc/barrier/timeout-abort-reset", test_timeout_abort_reset);
  g_test_add_func ("/mproc/barrier/spoiled-count", test_spoiled_count);

  return g_test_run ();
}
