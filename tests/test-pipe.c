/* test-pipe.c: MprocConnection, mproc_pipe_new() and mproc_connection_wait()
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-waitable-private.h"
#include "test-util.h"


/* Echoes values (with their fds) until "__stop__", then bytes until an
 * empty message. */
static int
target_echo (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocConnection *conn = MPROC_CONNECTION (mproc_process_get_object (process, 0));

  for (;;)
    {
      g_autoptr(GUnixFDList) fds = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mproc_connection_recv_with_fds (conn, &fds, NULL, &error);

      if (v == NULL)
        {
          g_printerr ("echo: %s\n", error->message);
          return 2;
        }
      if (!mproc_connection_send_with_fds (conn, v, fds, NULL, &error))
        {
          g_printerr ("echo: %s\n", error->message);
          return 1;
        }
      if (g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) &&
          g_str_equal (g_variant_get_string (v, NULL), "__stop__"))
        break;
    }
  for (;;)
    {
      g_autoptr(GBytes) b = mproc_connection_recv_bytes (conn, NULL, NULL);

      if (b == NULL)
        return 3;
      if (!mproc_connection_send_bytes (conn, b, 0, -1, NULL, NULL))
        return 1;
      if (g_bytes_get_size (b) == 0)
        return 0;
    }
}

static int
target_send_and_exit (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocConnection *conn = MPROC_CONNECTION (mproc_process_get_object (process, 0));

  return mproc_connection_send (conn, g_variant_new_string ("bye"), NULL, NULL) ? 0 : 1;
}

/* Exits once it has received one value. */
static int
target_recv_one (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocConnection *conn = MPROC_CONNECTION (mproc_process_get_object (process, 0));
  g_autoptr(GVariant) v = mproc_connection_recv (conn, NULL, NULL);

  return v != NULL ? 0 : 1;
}

static MprocProcess *
new_process (gconstpointer data, const char *target)
{
  g_autoptr(MprocContext) context = mproc_context_new (GPOINTER_TO_INT (data));

  return mproc_process_new_with_context (context, target, NULL);
}


static void
test_echo (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(MprocProcess) process = new_process (data, "echo");
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GUnixFDList) fds_back = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GBytes) big = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  struct stat st1, st2;
  gsize big_size = 3 * 1024 * 1024;
  guint8 *payload;
  int fd;

  g_test_summary ("Values, fds and bytes (with offset/size, larger than the ring) go to a child and back; "
                  "the child's exit is seen as end-of-file");
  g_assert_true (mproc_pipe_new (TRUE, &a, &b, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_connection_get_readable (a) && mproc_connection_get_writable (a));
  mproc_process_add_object (process, MPROC_SHAREABLE (b));
  g_assert_true (mproc_process_start (process, NULL));
  mproc_connection_close (b);

  g_assert_true (mproc_connection_send (a, g_variant_new_parsed ("(1, ['x', 'y'], <@mi nothing>)"), NULL, NULL));
  v = mproc_connection_recv (a, NULL, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) expected = g_variant_ref_sink (g_variant_new_parsed ("(1, ['x', 'y'], <@mi nothing>)"));
    g_assert_true (g_variant_equal (v, expected));
  }
  g_clear_pointer (&v, g_variant_unref);

  fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  g_unix_fd_list_append (fds, fd, NULL);
  g_assert_true (mproc_connection_send_with_fds (a, g_variant_new_int32 (7), fds, NULL, &error));
  g_assert_no_error (error);
  v = mproc_connection_recv_with_fds (a, &fds_back, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unix_fd_list_get_length (fds_back), ==, 1);
  g_assert_no_errno (fstat (fd, &st1));
  g_assert_no_errno (fstat (g_unix_fd_list_peek_fds (fds_back, NULL)[0], &st2));
  g_assert_cmpuint (st1.st_ino, ==, st2.st_ino);
  close (fd);
  g_clear_pointer (&v, g_variant_unref);
  g_clear_object (&fds);
  g_clear_object (&fds_back);

  /* async round trip */
  mproc_connection_send_async (a, g_variant_new_string ("async"), NULL, test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (mproc_connection_send_finish (a, result, &error));
  g_clear_object (&result);
  g_assert_true (mproc_connection_poll (a, 10 * G_USEC_PER_SEC, NULL, &error));
  mproc_connection_recv_async (a, NULL, test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  v = mproc_connection_recv_finish (a, result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "async");
  g_clear_pointer (&v, g_variant_unref);
  g_clear_object (&result);

  g_assert_true (mproc_connection_send (a, g_variant_new_string ("__stop__"), NULL, NULL));
  v = mproc_connection_recv (a, NULL, NULL);
  g_clear_pointer (&v, g_variant_unref);

  payload = g_malloc (big_size);
  for (gsize i = 0; i < big_size; i++)
    payload[i] = (guint8) (i * 13);
  big = g_bytes_new_take (payload, big_size);
  g_assert_true (mproc_connection_send_bytes (a, big, 5, big_size - 10, NULL, &error));
  got = mproc_connection_recv_bytes (a, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, big_size - 10);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), big_size - 10, payload + 5, big_size - 10);
  g_clear_pointer (&got, g_bytes_unref);

  g_assert_true (mproc_connection_send_bytes (a, big, 0, 0, NULL, &error));
  mproc_connection_recv_bytes_async (a, NULL, test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  got = mproc_connection_recv_bytes_finish (a, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_clear_object (&result);

  test_join_ok (process, 0);
  g_assert_null (mproc_connection_recv (a, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);

  g_clear_object (&process);
  g_clear_object (&a);
  g_clear_object (&b);
  test_leak_check_end (&check);
}

static void
test_eof_and_wait (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(MprocQueue) queue = mproc_queue_new (0, NULL);
  g_autoptr(MprocProcess) process = new_process (data, "send-and-exit");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  g_autoptr(GVariant) v = NULL;
  GObject *objects[3];

  g_test_summary ("A one-way pipe: poll() times out, wait() reports the ready connection, queue and "
                  "process; after the writer exits, what it sent is received, then EOF");
  g_assert_true (mproc_pipe_new (FALSE, &a, &b, &error));
  g_assert_true (mproc_connection_get_readable (a) && !mproc_connection_get_writable (a));
  g_assert_true (!mproc_connection_get_readable (b) && mproc_connection_get_writable (b));

  g_assert_false (mproc_connection_poll (a, 20 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  objects[0] = G_OBJECT (a);
  objects[1] = G_OBJECT (queue);
  objects[2] = G_OBJECT (process);
  mproc_process_add_object (process, MPROC_SHAREABLE (b));
  g_assert_true (mproc_process_start (process, NULL));
  mproc_connection_close (b);
  g_clear_object (&b);

  ready = mproc_connection_wait (objects, 2, 10 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 1);
  g_assert_true (ready->pdata[0] == (gpointer) a);
  g_clear_pointer (&ready, g_ptr_array_unref);

  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), -1, NULL, NULL));
  test_join_ok (process, 0);
  ready = mproc_connection_wait (objects, 3, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 3);
  g_clear_pointer (&ready, g_ptr_array_unref);

  v = mproc_connection_recv (a, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "bye");
  g_assert_true (mproc_connection_poll (a, -1, NULL, &error));
  g_assert_null (mproc_connection_recv (a, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);

  g_clear_pointer (&v, g_variant_unref);
  g_clear_object (&process);
  g_clear_object (&a);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_wait_processes (gconstpointer data)
{
  TestLeakCheck check;
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(MprocConnection) c = NULL;
  g_autoptr(MprocConnection) d = NULL;
  g_autoptr(MprocProcess) process = new_process (data, "recv-one");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ready = NULL;
  GObject *objects[2];

  g_test_summary ("wait() over processes alone, closed connections alone or nothing returns "
                  "at the timeout, at a child's exit or when cancelled (regression: it never "
                  "returned)");
  test_leak_check_begin (&check);
  g_assert_true (mproc_pipe_new (FALSE, &a, &b, &error));
  mproc_process_add_object (process, MPROC_SHAREABLE (a));
  g_assert_true (mproc_process_start (process, NULL));
  mproc_connection_close (a);
  objects[0] = G_OBJECT (process);

  /* running: the timeout passes, blocking and async, and a cancel is seen */
  ready = mproc_connection_wait (objects, 1, 20 * 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 0);
  g_clear_pointer (&ready, g_ptr_array_unref);
  mproc_connection_wait_async (objects, 1, 20 * 1000, NULL, test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  ready = mproc_connection_wait_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 0);
  g_clear_pointer (&ready, g_ptr_array_unref);
  g_clear_object (&result);
  mproc_connection_wait_async (objects, 1, -1, cancellable, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (mproc_connection_wait_finish (result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* the child's exit wakes a wait without a timeout */
  mproc_connection_wait_async (objects, 1, -1, NULL, test_store_result, &result);
  g_assert_true (mproc_connection_send (b, g_variant_new_int32 (1), NULL, &error));
  mproc_connection_close (b);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  ready = mproc_connection_wait_finish (result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 1);
  g_assert_true (ready->pdata[0] == (gpointer) process);
  g_clear_pointer (&ready, g_ptr_array_unref);
  g_clear_object (&result);
  ready = mproc_connection_wait (objects, 1, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 1);
  g_clear_pointer (&ready, g_ptr_array_unref);
  test_join_ok (process, 0);

  /* closed connections alone are ready at once */
  g_assert_true (mproc_pipe_new (TRUE, &c, &d, &error));
  mproc_connection_close (c);
  mproc_connection_close (d);
  objects[0] = G_OBJECT (c);
  objects[1] = G_OBJECT (d);
  ready = mproc_connection_wait (objects, 2, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 2);
  g_clear_pointer (&ready, g_ptr_array_unref);

  /* nothing to wait for: the timeout */
  ready = mproc_connection_wait (NULL, 0, 20 * 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ready->len, ==, 0);
  g_clear_pointer (&ready, g_ptr_array_unref);

  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_clear_object (&process);
  g_clear_object (&a);
  g_clear_object (&b);
  g_clear_object (&c);
  g_clear_object (&d);
  test_leak_check_end (&check);
}

static void
test_send_bytes_range (void)
{
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(GBytes) bytes = g_bytes_new_static ("abcdef", 6);
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GError) error = NULL;
  static const struct { gsize offset; gssize size; } bad[] = { { 7, -1 }, { 0, 7 }, { 4, 3 }, { 0, -2 } };

  g_test_summary ("send_bytes() with an offset or size outside the buffer is INVALID_ARGUMENT, "
                  "not a critical; the connection stays usable");
  g_assert_true (mproc_pipe_new (TRUE, &a, &b, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (mproc_connection_send_bytes (a, bytes, bad[i].offset, bad[i].size, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  g_assert_true (mproc_connection_send_bytes (a, bytes, 6, -1, NULL, &error));
  g_assert_true (mproc_connection_send_bytes (a, bytes, 2, 3, NULL, &error));
  g_assert_no_error (error);
  got = mproc_connection_recv_bytes (b, NULL, &error);
  g_assert_cmpuint (g_bytes_get_size (got), ==, 0);
  g_clear_pointer (&got, g_bytes_unref);
  got = mproc_connection_recv_bytes (b, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), "cde", 3);
}

static void
test_cancel (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  g_test_summary ("A pending recv_async is cancelled; the connection stays usable");
  g_assert_true (mproc_pipe_new (TRUE, &a, &b, NULL));
  mproc_connection_recv_async (a, cancellable, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (mproc_connection_recv_finish (a, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  g_assert_true (mproc_connection_send (b, g_variant_new_int32 (3), NULL, NULL));
  v = mproc_connection_recv (a, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 3);
  mproc_connection_close (a);
  g_assert_true (mproc_connection_is_closed (a));
  g_assert_false (mproc_connection_send (a, g_variant_new_int32 (3), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_clear_object (&a);
  g_clear_object (&b);
  test_leak_check_end (&check);
}

static gpointer
cancel_after_300ms (gpointer data)
{
  g_usleep (300 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_idle_wait_sleeps (void)
{
  TestLeakCheck check;
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  gint64 spin = mproc_wait_get_spin_usec ();
  GThread *thread;
  gint64 cpu;

  g_test_summary ("A receiver waiting on an idle pipe sleeps: it does not wake itself "
                  "(regression: releasing the read lock woke its own waiter, for ever)");
  test_leak_check_begin (&check);
  g_assert_true (mproc_pipe_new (TRUE, &a, &b, NULL));
  mproc_wait_set_spin_usec (0);

  thread = g_thread_new ("canceller", cancel_after_300ms, cancellable);
  cpu = test_thread_cpu_usec ();
  value = mproc_connection_recv (a, cancellable, &error);
  cpu = test_thread_cpu_usec () - cpu;
  g_thread_join (thread);
  mproc_wait_set_spin_usec (spin);

  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (cpu, <, 100 * 1000);

  g_clear_object (&a);
  g_clear_object (&b);
  test_leak_check_end (&check);
}


static void
test_construct (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  MprocConnection *ends[2];

  g_test_summary ("A connection made by g_object_new() alone (a binding's new), or by "
                  "g_initable_new(), is one end of a new pipe whose peer works in a child");

  ends[0] = g_object_new (MPROC_TYPE_CONNECTION, "duplex", FALSE, NULL);
  ends[1] = g_initable_new (MPROC_TYPE_CONNECTION, NULL, &error, NULL);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (ends); i++)
    {
      g_autoptr(MprocConnection) peer = mproc_connection_take_peer (ends[i]);
      g_autoptr(MprocProcess) process = new_process (data, "send-and-exit");
      g_autoptr(GVariant) v = NULL;

      g_assert_nonnull (peer);
      g_assert_null (mproc_connection_take_peer (ends[i]));
      g_assert_true (mproc_connection_get_readable (ends[i]));
      g_assert_true (mproc_connection_get_writable (peer));
      mproc_process_add_object (process, MPROC_SHAREABLE (peer));
      g_assert_true (mproc_process_start (process, &error));
      mproc_connection_close (peer);
      v = mproc_connection_recv (ends[i], NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "bye");
      test_join_ok (process, 0);
      g_object_unref (ends[i]);
    }
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("echo", target_echo, NULL, NULL);
  mproc_register_target ("send-and-exit", target_send_and_exit, NULL, NULL);
  mproc_register_target ("recv-one", target_recv_one, NULL, NULL);
  g_type_ensure (MPROC_TYPE_CONNECTION);
  test_init (&argc, &argv);

  for (guint m = 0; m < G_N_ELEMENTS (test_method_names); m++)
    {
      g_autofree char *p1 = g_strdup_printf ("/mproc/pipe/echo/%s", test_method_names[m]);
      g_autofree char *p2 = g_strdup_printf ("/mproc/pipe/eof-wait/%s", test_method_names[m]);
      g_autofree char *p3 = g_strdup_printf ("/mproc/pipe/wait-processes/%s", test_method_names[m]);
      g_autofree char *p4 = g_strdup_printf ("/mproc/pipe/construct/%s", test_method_names[m]);

      g_test_add_data_func (p1, GINT_TO_POINTER (m), test_echo);
      g_test_add_data_func (p2, GINT_TO_POINTER (m), test_eof_and_wait);
      g_test_add_data_func (p3, GINT_TO_POINTER (m), test_wait_processes);
      g_test_add_data_func (p4, GINT_TO_POINTER (m), test_construct);
    }
  g_test_add_func ("/mproc/pipe/recv-async/cancelled", test_cancel);
  g_test_add_func ("/mproc/pipe/send-bytes/out-of-range", test_send_bytes_range);
  g_test_add_func ("/mproc/pipe/idle-wait-sleeps", test_idle_wait_sleeps);

  return g_test_run ();
}
