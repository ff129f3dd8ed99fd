/* test-condition.c: MprocCondition, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>

#include "test-sync-util.h"

/* objects: cond, waiting, woken */
static int
target_wait (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocCondition *cond = mproc_process_get_object (process, 0);
  MprocValue *waiting = mproc_process_get_object (process, 1);
  MprocValue *woken = mproc_process_get_object (process, 2);
  gboolean ok;

  mproc_condition_acquire (cond, -1, NULL, NULL);
  mproc_value_add (waiting, 1);
  ok = mproc_condition_wait (cond, -1, NULL, NULL);
  mproc_value_add (woken, 1);
  mproc_condition_release (cond, NULL);
  return ok ? 0 : 1;
}

/* objects: cond, flag: after 100 ms sets the flag and notifies all. */
static int
target_notify_later (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocCondition *cond = mproc_process_get_object (process, 0);
  MprocValue *flag = mproc_process_get_object (process, 1);

  g_usleep (100 * 1000);
  mproc_condition_acquire (cond, -1, NULL, NULL);
  mproc_value_set_int (flag, 1);
  mproc_condition_notify_all (cond, NULL);
  mproc_condition_release (cond, NULL);
  return 0;
}

static void
start_waiters (gconstpointer method, MprocCondition *cond, MprocValue *waiting, MprocValue *woken,
               MprocProcess **procs, guint n)
{
  for (guint i = 0; i < n; i++)
    {
      procs[i] = sync_start (method, "wait", NULL, cond, waiting, woken, NULL);
      sync_wait_value (waiting, i + 1);
    }
  /* Each waiter counted itself under the lock and released it in wait(). */
  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  g_assert_true (mproc_condition_release (cond, NULL));
}

static void
test_notify_n (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocCondition) cond = NULL;
  g_autoptr(MprocValue) waiting = NULL;
  g_autoptr(MprocValue) woken = NULL;
  MprocProcess *procs[4];

  g_test_summary ("notify(2) wakes exactly two of four waiting processes, notify_all the rest");
  test_leak_check_begin (&check);

  cond = mproc_condition_new (NULL, NULL);
  waiting = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  woken = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  start_waiters (method, cond, waiting, woken, procs, G_N_ELEMENTS (procs));

  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  g_assert_cmpuint (mproc_condition_notify (cond, 2, NULL), ==, 2);
  g_assert_true (mproc_condition_release (cond, NULL));
  sync_wait_value (woken, 2);
  g_usleep (200 * 1000);
  g_assert_cmpint (mproc_value_get_int (woken), ==, 2);

  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  g_assert_cmpuint (mproc_condition_notify_all (cond, NULL), ==, 2);
  g_assert_true (mproc_condition_release (cond, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_value_get_int (woken), ==, 4);

  g_clear_object (&cond);
  g_clear_object (&waiting);
  g_clear_object (&woken);
  test_leak_check_end (&check);
}

static void
test_waiter_killed (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocCondition) cond = NULL;
  g_autoptr(MprocValue) waiting = NULL;
  g_autoptr(MprocValue) woken = NULL;
  MprocProcess *procs[2];

  g_test_summary ("A waiter killed with SIGKILL does not absorb a notify(1): the other waiter wakes");
  test_leak_check_begin (&check);

  lock = mproc_lock_new (NULL);
  cond = mproc_condition_new (lock, NULL);
  waiting = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  woken = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  start_waiters (method, cond, waiting, woken, procs, G_N_ELEMENTS (procs));

  mproc_process_kill (procs[0]);
  sync_join (procs[0], -SIGKILL);
  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  g_assert_cmpuint (mproc_condition_notify (cond, 1, NULL), ==, 1);
  g_assert_true (mproc_condition_release (cond, NULL));
  sync_join (procs[1], 0);
  g_assert_cmpint (mproc_value_get_int (woken), ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    g_object_unref (procs[i]);

  g_clear_object (&cond);
  g_clear_object (&lock);
  g_clear_object (&waiting);
  g_clear_object (&woken);
  test_leak_check_end (&check);
}

static void
test_timeout_cancel (void)
{
  g_autoptr(MprocCondition) cond = mproc_condition_new (NULL, NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  MprocLock *lock = mproc_condition_get_lock (cond);
  GThread *canceller;
  gint64 start;

  g_test_summary ("wait times out (FALSE, no error) and is cancelled, the lock held again each time; "
                  "waiting or notifying without the lock is NOT_OWNER");

  g_assert_true (MPROC_IS_RLOCK (lock));
  g_assert_false (mproc_condition_wait (cond, 10, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
  g_clear_error (&error);
  /* notifying without the lock is an error too, not a critical */
  g_assert_cmpuint (mproc_condition_notify (cond, 1, &error), ==, 0);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
  g_clear_error (&error);
  g_assert_cmpuint (mproc_condition_notify_all (cond, &error), ==, 0);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
  g_clear_error (&error);

  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));   /* RLock: twice */
  start = g_get_monotonic_time ();
  g_assert_false (mproc_condition_wait (cond, 100 * 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_true (mproc_lock_is_owned (lock));

  canceller = sync_cancel_later (cancellable, 50);
  g_assert_false (mproc_condition_wait (cond, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);
  g_assert_true (mproc_lock_is_owned (lock));

  mproc_condition_wait_async (cond, 50 * 1000, NULL, test_store_result, &result);
  g_assert_false (mproc_lock_is_owned (lock));
  test_wait_result (&result);
  g_assert_false (mproc_condition_wait_finish (cond, result, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_lock_is_owned (lock));

  /* Both levels are back. */
  g_assert_true (mproc_condition_release (cond, NULL));
  g_assert_true (mproc_condition_release (cond, NULL));
  g_assert_false (mproc_lock_is_owned (lock));
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
  g_autoptr(MprocCondition) cond = NULL;
  g_autoptr(MprocValue) flag = NULL;
  g_autoptr(MprocProcess) notifier = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint ticks = 0;
  guint tick_id;

  g_test_summary ("wait_async in a running main loop is woken by another process's notify_all, "
                  "and returns with the lock held");
  test_leak_check_begin (&check);

  cond = mproc_condition_new (NULL, NULL);
  flag = mproc_value_new (MPROC_VALUE_TYPE_BOOLEAN, FALSE, NULL);
  notifier = sync_start (method, "notify-later", NULL, cond, flag, NULL);
  tick_id = g_timeout_add (10, tick_cb, &ticks);

  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  while (!mproc_value_get_boolean (flag))
    {
      g_clear_object (&result);
      mproc_condition_wait_async (cond, -1, NULL, test_store_result, &result);
      test_wait_result (&result);
      g_assert_true (mproc_condition_wait_finish (cond, result, &error));
      g_assert_no_error (error);
    }
  g_source_remove (tick_id);
  g_assert_cmpuint (ticks, >, 3);
  g_assert_true (mproc_condition_release (cond, NULL));
  sync_join (notifier, 0);

  g_clear_object (&result);
  g_clear_object (&notifier);
  g_clear_object (&cond);
  g_clear_object (&flag);
  test_leak_check_end (&check);
}

static gboolean
flag_is_set (gpointer user_data)
{
  return mproc_value_get_boolean (user_data);
}

static void
test_wait_for (void)
{
  TestLeakCheck check;
  gconstpointer method = GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocCondition) cond = NULL;
  g_autoptr(MprocValue) flag = NULL;
  g_autoptr(MprocProcess) notifier = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("wait_for returns the predicate: FALSE on timeout, TRUE once another process made it true");
  test_leak_check_begin (&check);

  cond = mproc_condition_new (NULL, NULL);
  flag = mproc_value_new (MPROC_VALUE_TYPE_BOOLEAN, FALSE, NULL);
  g_assert_true (mproc_condition_acquire (cond, -1, NULL, NULL));
  g_assert_false (mproc_condition_wait_for (cond, flag_is_set, flag, 50 * 1000, NULL, &error));
  g_assert_no_error (error);

  notifier = sync_start (method, "notify-later", NULL, cond, flag, NULL);
  g_assert_true (mproc_condition_wait_for (cond, flag_is_set, flag, 20 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_condition_release (cond, NULL));
  sync_join (notifier, 0);

  g_clear_object (&notifier);
  g_clear_object (&cond);
  g_clear_object (&flag);
  test_leak_check_end (&check);
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(MprocLock) lock = g_object_new (MPROC_TYPE_LOCK, NULL);
  g_autoptr(GError) error = NULL;
  MprocCondition *conds[2];

  g_test_summary ("A condition made by g_object_new() alone with a lock as its property, or "
                  "by g_initable_new() without one, is notified from another process");

  conds[0] = g_object_new (MPROC_TYPE_CONDITION, "lock", lock, NULL);
  conds[1] = g_initable_new (MPROC_TYPE_CONDITION, NULL, &error, NULL);
  g_assert_no_error (error);
  g_assert_true (mproc_condition_get_lock (conds[0]) == lock);
  g_assert_true (MPROC_IS_RLOCK (mproc_condition_get_lock (conds[1])));

  for (guint i = 0; i < G_N_ELEMENTS (conds); i++)
    {
      g_autoptr(MprocValue) flag = g_object_new (MPROC_TYPE_VALUE, NULL);
      g_autoptr(MprocProcess) notifier = NULL;

      g_assert_true (mproc_condition_acquire (conds[i], -1, NULL, &error));
      notifier = sync_start (method, "notify-later", NULL, conds[i], flag, NULL);
      while (mproc_value_get_int (flag) == 0)
        g_assert_true (mproc_condition_wait (conds[i], 30 * G_USEC_PER_SEC, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (mproc_condition_release (conds[i], &error));
      sync_join (notifier, 0);
      g_object_unref (conds[i]);
    }
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("wait", target_wait, NULL, NULL);
  mproc_register_target ("notify-later", target_notify_later, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/condition", "notify-n", test_notify_n);
  test_add_method_test ("/mproc/condition", "construct", test_construct);
  test_add_method_test ("/mproc/condition", "waiter-killed", test_waiter_killed);
  test_add_method_test ("/mproc/condition", "wait-async/main-loop", test_async_main_loop);
  g_test_add_func ("/mproc/condition/timeout-cancel", test_timeout_cancel);
  g_test_add_func ("/mproc/condition/wait-for", test_wait_for);

  return g_test_run ();
}
