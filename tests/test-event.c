/* test-event.c: MprocEvent, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "test-sync-util.h"

/* objects: event, counter: waits for the event, then counts itself. */
static int
target_wait (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocEvent *event = mproc_process_get_object (process, 0);
  MprocValue *counter = mproc_process_get_object (process, 1);

  mproc_value_add (counter, 1);
  if (!mproc_event_wait (event, -1, NULL, NULL))
    return 1;
  mproc_value_add (counter, 100);
  return 0;
}

/* objects: event: sets it after 200 ms. */
static int
target_set_later (MprocProcess *process, GVariant *args, gpointer user_data)
{
  g_usleep (200 * 1000);
  mproc_event_set (mproc_process_get_object (process, 0));
  return 0;
}

static void
test_set_wakes_all (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocValue) counter = NULL;
  MprocProcess *procs[3];

  g_test_summary ("set() wakes the waiters of several processes at once");
  test_leak_check_begin (&check);

  event = mproc_event_new (NULL);
  counter = mproc_value_new (MPROC_VALUE_TYPE_INT64, FALSE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = sync_start (method, "wait", NULL, event, counter, NULL);
  sync_wait_value (counter, G_N_ELEMENTS (procs));
  g_usleep (100 * 1000);
  g_assert_cmpint (mproc_value_get_int (counter), ==, G_N_ELEMENTS (procs));
  g_assert_false (mproc_event_is_set (event));

  mproc_event_set (event);
  g_assert_true (mproc_event_is_set (event));
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_value_get_int (counter), ==, 101 * G_N_ELEMENTS (procs));

  g_clear_object (&event);
  g_clear_object (&counter);
  test_leak_check_end (&check);
}

static void
test_timeout (void)
{
  g_autoptr(MprocEvent) event = mproc_event_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("A timed-out wait returns FALSE without error (blocking, cancellable, async)");

  g_assert_false (mproc_event_wait (event, 0, NULL, &error));
  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  g_assert_false (mproc_event_wait (event, 100 * 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  start = g_get_monotonic_time ();
  g_assert_false (mproc_event_wait (event, 100 * 1000, cancellable, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);

  mproc_event_wait_async (event, 100 * 1000, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_false (mproc_event_wait_finish (event, result, &error));
  g_assert_no_error (error);

  mproc_event_set (event);
  g_assert_true (mproc_event_wait (event, 0, NULL, &error));
  mproc_event_clear (event);
  g_assert_false (mproc_event_is_set (event));
}

static void
test_cancel (void)
{
  g_autoptr(MprocEvent) event = mproc_event_new (NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable2 = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GThread *canceller;

  g_test_summary ("A blocked wait and a pending wait_async are cancelled");

  canceller = sync_cancel_later (cancellable, 50);
  g_assert_false (mproc_event_wait (event, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (canceller);

  mproc_event_wait_async (event, -1, cancellable2, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable2);
  test_wait_result (&result);
  g_assert_false (mproc_event_wait_finish (event, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
count_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_event_wait_finish (MPROC_EVENT (source), result, &error));
  g_assert_no_error (error);
  (*(guint *) user_data)++;
}

static void
test_async_many (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocProcess) setter = NULL;
  g_autofree char *fds_before = NULL;
  g_autofree char *fds_during = NULL;
  g_auto(GStrv) before = NULL;
  g_auto(GStrv) during = NULL;
  guint threads_before;
  guint done = 0;

  g_test_summary ("1000 pending wait_async cost no thread and one fd; a set() in another process "
                  "completes them all in a running main loop");
  test_leak_check_begin (&check);

  event = mproc_event_new (NULL);
  threads_before = test_count_threads ();
  fds_before = test_list_fds ();
  for (guint i = 0; i < 1000; i++)
    mproc_event_wait_async (event, -1, NULL, count_cb, &done);
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (done, ==, 0);
  g_assert_cmpuint (test_count_threads (), ==, threads_before);
  fds_during = test_list_fds ();
  before = g_strsplit (fds_before, " ", -1);
  during = g_strsplit (fds_during, " ", -1);
  g_assert_cmpuint (g_strv_length (during), ==, g_strv_length (before) + 1);

  setter = sync_start (method, "set-later", NULL, event, NULL);
  while (done < 1000)
    g_main_context_iteration (NULL, TRUE);
  sync_join (setter, 0);

  g_clear_object (&setter);
  g_clear_object (&event);
  test_leak_check_end (&check);
}

static void
test_other_context (void)
{
  g_autoptr(MprocEvent) event = mproc_event_new (NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;

  g_test_summary ("wait_async completes in the thread-default context of the caller only");

  g_main_context_push_thread_default (context);
  mproc_event_wait_async (event, -1, NULL, test_store_result, &result);
  g_main_context_pop_thread_default (context);
  mproc_event_set (event);
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_assert_true (mproc_event_wait_finish (event, result, NULL));
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(GError) error = NULL;
  MprocEvent *events[2];

  g_test_summary ("An event made by g_object_new() alone (a binding's new), or by "
                  "g_initable_new(), works across a child process");

  events[0] = g_object_new (MPROC_TYPE_EVENT, NULL);
  events[1] = g_initable_new (MPROC_TYPE_EVENT, NULL, &error, NULL);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    {
      g_autoptr(MprocProcess) setter = sync_start (method, "set-later", NULL, events[i], NULL);

      g_assert_true (mproc_event_wait (events[i], 30 * G_USEC_PER_SEC, NULL, &error));
      g_assert_no_error (error);
      sync_join (setter, 0);
      g_object_unref (events[i]);
    }
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("wait", target_wait, NULL, NULL);
  mproc_register_target ("set-later", target_set_later, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/event", "set-wakes-all", test_set_wakes_all);
  test_add_method_test ("/mproc/event", "wait-async/many", test_async_many);
  test_add_method_test ("/mproc/event", "construct", test_construct);
  g_test_add_func ("/mproc/event/timeout", test_timeout);
  g_test_add_func ("/mproc/event/cancel", test_cancel);
  g_test_add_func ("/mproc/event/wait-async/other-context", test_other_context);

  return g_test_run ();
}
