/* test-manager-async.c: every async call of MprocManager (and a proxy's
 * over TCP) from a GMainLoop, which must keep running while it waits, on
 * no thread of its own
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mproc.h>

#include "test-util.h"

#define KEY "0123456789abcdef0123456789abcdef"

/* One async call waited for by a main loop, with a 1 ms ticker beside it. */
typedef struct
{
  GMainLoop    *loop;
  GAsyncResult *result;
  guint         ticks;
  guint         threads;     /* before the call */
} Wait;

static void
wait_init (Wait *w)
{
  w->loop = g_main_loop_new (NULL, FALSE);
  w->result = NULL;
  w->ticks = 0;
  w->threads = test_count_threads ();
}

static void
wait_clear (Wait *w)
{
  g_clear_object (&w->result);
  g_clear_pointer (&w->loop, g_main_loop_unref);
}

static gboolean
tick_cb (gpointer user_data)
{
  ((Wait *) user_data)->ticks++;
  return G_SOURCE_CONTINUE;
}

static void
done_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *w = user_data;

  g_assert_null (w->result);
  w->result = g_object_ref (result);
  /* the callback runs where the call was made, in its main context */
  g_assert_true (g_main_context_is_owner (g_main_context_default ()));
  g_main_loop_quit (w->loop);
}

/* Runs the loop until the call ends; @min_ticks of the 1 ms ticker must
 * have fired meanwhile (the loop was not blocked: a loaded machine under
 * ASan fires far fewer than one a millisecond, a blocked loop none), and
 * no thread was started for the call. */
static GAsyncResult *
wait_run (Wait  *w,
          guint  min_ticks)
{
  guint id;

  /* nothing ends before the loop runs: never a callback from inside the call */
  g_assert_null (w->result);
  id = g_timeout_add (1, tick_cb, w);
  g_main_loop_run (w->loop);
  g_source_remove (id);
  g_assert_nonnull (w->result);
  g_assert_cmpuint (w->ticks, >=, min_ticks);
  g_assert_cmpuint (test_count_threads (), <=, w->threads);
  return w->result;
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* A unix socket that accepts but never answers: a connect to it waits for
 * its welcome. */
static int
listen_silent (char **address_out)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  g_autofree char *name = g_strdup_printf ("mproc-test-silent-%d-%08x", (int) getpid (), g_random_int ());
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  memcpy (sun.sun_path + 1, name, strlen (name));
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sun,
                         offsetof (struct sockaddr_un, sun_path) + 1 + strlen (name)), ==, 0);
  g_assert_cmpint (listen (fd, 4), ==, 0);
  *address_out = g_strconcat ("unix:abstract=", name, NULL);
  return fd;
}

/* The same on TCP: a connect with an authkey waits for the challenge. */
static int
listen_silent_tcp (char **address_out)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  sin.sin_addr.s_addr = g_htonl (0x7f000001);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, 4), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *address_out = g_strdup_printf ("tcp:host=127.0.0.1,port=%u", (guint) g_ntohs (sin.sin_port));
  return fd;
}

/* start, ping, publish, lookup, connect, shutdown: each from the loop */
static void
test_lifecycle (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  g_autoptr(MprocContext) context = NULL;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocManager) other = NULL;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocShareable) found = NULL;
  g_autoptr(GError) error = NULL;
  TestLeakCheck check;
  Wait w;

  test_leak_check_begin (&check);
  context = mproc_context_new (method);
  manager = mproc_manager_new_with_context (context);
  event = mproc_event_new (NULL);

  /* the server's start-up takes milliseconds: the loop ticks through it */
  wait_init (&w);
  mproc_manager_start_async (manager, NULL, done_cb, &w);
  g_assert_true (mproc_manager_start_finish (manager, wait_run (&w, 1), &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_manager_get_server_pid (manager), >, 0);
  wait_clear (&w);

  wait_init (&w);
  mproc_manager_ping_async (manager, NULL, done_cb, &w);
  g_assert_true (mproc_manager_ping_finish (manager, wait_run (&w, 0), &error));
  g_assert_no_error (error);
  wait_clear (&w);

  wait_init (&w);
  mproc_manager_publish_async (manager, "event", MPROC_SHAREABLE (event), NULL, done_cb, &w);
  g_assert_true (mproc_manager_publish_finish (manager, wait_run (&w, 0), &error));
  g_assert_no_error (error);
  wait_clear (&w);

  wait_init (&w);
  other = NULL;
  mproc_manager_connect_async (mproc_manager_get_address (manager), NULL, done_cb, &w);
  other = mproc_manager_connect_finish (wait_run (&w, 0), &error);
  g_assert_no_error (error);
  /* one manager per address and process */
  g_assert_true (other == manager);
  wait_clear (&w);

  wait_init (&w);
  mproc_manager_lookup_async (other, "event", NULL, done_cb, &w);
  found = mproc_manager_lookup_finish (other, wait_run (&w, 0), &error);
  g_assert_no_error (error);
  g_assert_true (MPROC_IS_EVENT (found));
  /* the object found is the one published: it sees the same flag */
  mproc_event_set (event);
  g_assert_true (mproc_event_is_set (MPROC_EVENT (found)));
  wait_clear (&w);
  g_clear_object (&found);
  g_clear_object (&other);

  wait_init (&w);
  mproc_manager_shutdown_async (manager, NULL, done_cb, &w);
  g_assert_true (mproc_manager_shutdown_finish (manager, wait_run (&w, 0), &error));
  g_assert_no_error (error);
  wait_clear (&w);
  /* the server was reaped: calls fail at once */
  g_assert_false (mproc_manager_ping (manager, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);

  g_assert_finalize_object (g_steal_pointer (&manager));
  g_clear_object (&event);
  g_clear_object (&context);
  test_leak_check_end (&check);
}

/* A connect whose server does not answer waits on the socket, the loop
 * running, until it is cancelled. */
static void
test_connect_waits (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autofree char *address = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) manager = NULL;
  int fd = listen_silent (&address);
  Wait w;

  wait_init (&w);
  mproc_manager_connect_async (address, cancellable, done_cb, &w);
  g_timeout_add (100, cancel_cb, cancellable);
  manager = mproc_manager_connect_finish (wait_run (&w, 5), &error);
  g_assert_null (manager);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_clear (&w);
  close (fd);
  test_leak_check_end (&check);
}

/* The same over TCP: the challenge never comes. */
static void
test_connect_tcp_waits (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autofree char *address = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) key = g_bytes_new_static (KEY, strlen (KEY));
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) manager = NULL;
  int fd = listen_silent_tcp (&address);
  Wait w;

  wait_init (&w);
  mproc_manager_connect_with_authkey_async (address, key, cancellable, done_cb, &w);
  g_timeout_add (100, cancel_cb, cancellable);
  manager = mproc_manager_connect_with_authkey_finish (wait_run (&w, 5), &error);
  g_assert_null (manager);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_clear (&w);
  close (fd);
  test_leak_check_end (&check);
}

/* listen_tcp, connect with the authkey, a proxy's and the manager's calls
 * over TCP: all from the loop, without a thread */
static void
test_tcp (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocManager) manager = test_start_manager (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocManager) remote = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocDict) remote_dict = NULL;
  g_autoptr(MprocEvent) event = mproc_event_new (NULL);
  g_autoptr(GBytes) key = g_bytes_new_static (KEY, strlen (KEY));
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  Wait w;

  mproc_manager_set_authkey (manager, key);
  wait_init (&w);
  mproc_manager_listen_tcp_async (manager, "127.0.0.1", 0, NULL, done_cb, &w);
  g_assert_true (mproc_manager_listen_tcp_finish (manager, wait_run (&w, 0), &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (mproc_manager_get_tcp_address (manager), "tcp:host=127.0.0.1,port="));
  wait_clear (&w);

  /* a second listen is refused, from the loop too */
  wait_init (&w);
  mproc_manager_listen_tcp_async (manager, "127.0.0.1", 0, NULL, done_cb, &w);
  g_assert_false (mproc_manager_listen_tcp_finish (manager, wait_run (&w, 0), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);
  wait_clear (&w);

  dict = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("k"), g_variant_new_int32 (7), NULL, &error));

  wait_init (&w);
  mproc_manager_connect_with_authkey_async (mproc_manager_get_tcp_address (manager), key, NULL, done_cb, &w);
  remote = mproc_manager_connect_with_authkey_finish (wait_run (&w, 0), &error);
  g_assert_no_error (error);
  g_assert_nonnull (remote);
  wait_clear (&w);

  wait_init (&w);
  mproc_manager_ping_async (remote, NULL, done_cb, &w);
  g_assert_true (mproc_manager_ping_finish (remote, wait_run (&w, 0), &error));
  g_assert_no_error (error);
  wait_clear (&w);

  remote_dict = mproc_dict_new (remote, "shared", NULL, &error);
  g_assert_no_error (error);
  wait_init (&w);
  mproc_dict_get_async (remote_dict, g_variant_new_string ("k"), NULL, done_cb, &w);
  value = mproc_dict_get_finish (remote_dict, wait_run (&w, 0), &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
  wait_clear (&w);

  wait_init (&w);
  mproc_dict_set_async (remote_dict, g_variant_new_string ("k"), g_variant_new_int32 (8), NULL, done_cb, &w);
  g_assert_true (mproc_dict_set_finish (remote_dict, wait_run (&w, 0), &error));
  g_assert_no_error (error);
  wait_clear (&w);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_dict_get (dict, g_variant_new_string ("k"), NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 8);

  /* fds do not cross TCP: a publish is refused, and the connection lives on */
  wait_init (&w);
  mproc_manager_publish_async (remote, "event", MPROC_SHAREABLE (event), NULL, done_cb, &w);
  g_assert_false (mproc_manager_publish_finish (remote, wait_run (&w, 0), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FAILED);
  g_clear_error (&error);
  wait_clear (&w);
  g_assert_true (mproc_manager_ping (remote, NULL, &error));
  g_assert_no_error (error);

  /* a lookup (whose reply would carry fds) is refused by the server: its
   * error comes back over TCP */
  wait_init (&w);
  mproc_manager_lookup_async (remote, "nobody", NULL, done_cb, &w);
  g_assert_null (mproc_manager_lookup_finish (remote, wait_run (&w, 0), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FAILED);
  g_clear_error (&error);
  wait_clear (&w);

  g_clear_object (&remote_dict);
  g_clear_object (&remote);
  g_clear_object (&dict);
  g_clear_object (&event);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* Many TCP calls in flight at once from one loop, and a blocking call
 * between them: each gets its own reply. */
static void
test_tcp_interleaved (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocManager) manager = test_start_manager (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocManager) remote = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocList) remote_list = NULL;
  g_autoptr(GBytes) key = g_bytes_new_static (KEY, strlen (KEY));
  g_autoptr(GError) error = NULL;
  Wait waits[8];

  mproc_manager_set_authkey (manager, key);
  g_assert_true (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error));
  list = mproc_list_new (manager, "numbers", NULL, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 8; i++)
    g_assert_true (mproc_list_append (list, g_variant_new_int32 (i * 10), NULL, &error));
  remote = mproc_manager_connect_with_authkey (mproc_manager_get_tcp_address (manager), key, NULL, &error);
  g_assert_no_error (error);
  remote_list = mproc_list_new (remote, "numbers", NULL, &error);
  g_assert_no_error (error);

  for (int i = 0; i < 8; i++)
    {
      wait_init (&waits[i]);
      mproc_list_get_async (remote_list, i, NULL, done_cb, &waits[i]);
    }
  /* a blocking call reads the replies of the others too, and routes them */
  g_assert_cmpint (mproc_list_len (remote_list, NULL, &error), ==, 8);
  /* none ends before the loop runs; then all do, in any order */
  for (int i = 0; i < 8; i++)
    g_assert_null (waits[i].result);
  for (int i = 0; i < 8; i++)
    while (waits[i].result == NULL)
      g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (test_count_threads (), <=, waits[0].threads);
  for (int i = 7; i >= 0; i--)
    {
      g_autoptr(GVariant) v = NULL;

      v = mproc_list_get_finish (remote_list, waits[i].result, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i * 10);
      wait_clear (&waits[i]);
    }

  g_clear_object (&remote_list);
  g_clear_object (&remote);
  g_clear_object (&list);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/manager/async", "lifecycle", test_lifecycle);
  g_test_add_func ("/mproc/manager/async/connect-waits", test_connect_waits);
  g_test_add_func ("/mproc/manager/async/connect-tcp-waits", test_connect_tcp_waits);
  g_test_add_func ("/mproc/manager/async/tcp", test_tcp);
  g_test_add_func ("/mproc/manager/async/tcp-interleaved", test_tcp_interleaved);

  return g_test_run ();
}
