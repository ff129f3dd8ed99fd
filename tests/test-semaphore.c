/* test-semaphore.c: MprocSemaphore, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "test-sync-util.h"

/* objects: semaphore, active, max: counts the holders and records the most. */
static int
target_limited (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocSemaphore *sem = mproc_process_get_object (process, 0);
  MprocValue *active = mproc_process_get_object (process, 1);
  MprocValue *max = mproc_process_get_object (process, 2);

  for (int i = 0; i < 20; i++)
    {
      gint64 now, seen;

      if (!mproc_semaphore_acquire (sem, -1, NULL, NULL))
        return 1;
      now = mproc_value_add (active, 1);
      seen = mproc_value_get_int (max);
      while (now > seen && !mproc_value_compare_and_swap (max, seen, now))
        seen = mproc_value_get_int (max);
      g_usleep (500);
      mproc_value_add (active, -1);
      if (!mproc_semaphore_release (sem, NULL))
        return 2;
    }
  return 0;
}

static void
test_limit (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocSemaphore) sem = NULL;
  g_autoptr(MprocValue) active = NULL;
  g_autoptr(MprocValue) max = NULL;
  MprocProcess *procs[5];

  g_test_summary ("Semaphore(2): five processes, never more than two inside");
  test_leak_check_begin (&check);

  sem = mproc_semaphore_new (2, NULL);
  active = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  max = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = sync_start (method, "limited", NULL, sem, active, max, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_value_get_int (max), >=, 1);
  g_assert_cmpint (mproc_value_get_int (max), <=, 2);
  g_assert_cmpuint (mproc_semaphore_get_value (sem), ==, 2);

  g_clear_object (&sem);
  g_clear_object (&active);
  g_clear_object (&max);
  test_leak_check_end (&check);
}

static void
test_bounded (void)
{
  g_autoptr(MprocSemaphore) sem = mproc_semaphore_new_bounded (2, NULL);
  g_autoptr(MprocSemaphore) plain = mproc_semaphore_new (0, NULL);
  g_autoptr(GError) error = NULL;

  g_test_summary ("A bounded semaphore refuses a release above its initial value; a plain one does not");
  g_assert_true (mproc_semaphore_is_bounded (sem));
  g_assert_false (mproc_semaphore_release (sem, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES);
  g_clear_error (&error);
  g_assert_true (mproc_semaphore_try_acquire (sem));
  g_assert_cmpuint (mproc_semaphore_get_value (sem), ==, 1);
  g_assert_true (mproc_semaphore_release (sem, &error));
  g_assert_no_error (error);

  g_assert_false (mproc_semaphore_is_bounded (plain));
  g_assert_false (mproc_semaphore_try_acquire (plain));
  g_assert_true (mproc_semaphore_release (plain, NULL));
  g_assert_true (mproc_semaphore_release (plain, NULL));
  g_assert_cmpuint (mproc_semaphore_get_value (plain), ==, 2);
}

static void
test_timeout_cancel (void)
{
  g_autoptr(MprocSemaphore) sem = mproc_semaphore_new (0, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable2 = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GThread *canceller;
  gint64 start;

  g_test_summary ("acquire times out (blocking and async) and is cancelled (blocking and async)");

  start = g_get_monotonic_time ();
  g_assert_false (mproc_semaphore_acquire (sem, 100 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_clear_error (&error);

  mproc_semaphore_acquire_async (sem, 50 * 1000, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_false (mproc_semaphore_acquire_finish (sem, result, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_clear_object (&result);

  canceller = sync_cancel_later (cancellable, 50);
  g_assert_false (mproc_semaphore_acquire (sem, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);

  mproc_semaphore_acquire_async (sem, -1, cancellable2, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable2);
  test_wait_result (&result);
  g_assert_false (mproc_semaphore_acquire_finish (sem, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* A release completes a pending async acquire. */
  mproc_semaphore_acquire_async (sem, -1, NULL, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_assert_true (mproc_semaphore_release (sem, NULL));
  test_wait_result (&result);
  g_assert_true (mproc_semaphore_acquire_finish (sem, result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_semaphore_get_value (sem), ==, 0);
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(MprocSemaphore) sem = NULL;
  g_autoptr(MprocSemaphore) bounded = NULL;
  g_autoptr(MprocSemaphore) bad = NULL;
  g_autoptr(MprocValue) active = NULL;
  g_autoptr(MprocValue) max = NULL;
  g_autoptr(GError) error = NULL;
  MprocProcess *procs[3];

  g_test_summary ("Semaphores made by g_object_new() alone (a binding's new) and by "
                  "g_initable_new() with their properties work across processes");

  sem = g_object_new (MPROC_TYPE_SEMAPHORE, "initial-value", 2, NULL);
  active = g_object_new (MPROC_TYPE_VALUE, "with-lock", FALSE, NULL);
  max = g_object_new (MPROC_TYPE_VALUE, "with-lock", FALSE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = sync_start (method, "limited", NULL, sem, active, max, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_value_get_int (max), <=, 2);
  g_assert_cmpuint (mproc_semaphore_get_value (sem), ==, 2);
  g_assert_false (mproc_semaphore_is_bounded (sem));

  bounded = g_initable_new (MPROC_TYPE_SEMAPHORE, NULL, &error, "initial-value", 1, "bounded", TRUE, NULL);
  g_assert_no_error (error);
  g_assert_true (mproc_semaphore_is_bounded (bounded));
  g_assert_false (mproc_semaphore_release (bounded, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES);
  g_clear_error (&error);

  /* init fails with a GError, not a critical */
  bad = g_initable_new (MPROC_TYPE_SEMAPHORE, NULL, &error, "initial-value", 0, "bounded", TRUE, NULL);
  g_assert_null (bad);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FAILED);
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("limited", target_limited, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/semaphore", "limit", test_limit);
  test_add_method_test ("/mproc/semaphore", "construct", test_construct);
  g_test_add_func ("/mproc/semaphore/bounded", test_bounded);
  g_test_add_func ("/mproc/semaphore/timeout-cancel", test_timeout_cancel);

  return g_test_run ();
}
