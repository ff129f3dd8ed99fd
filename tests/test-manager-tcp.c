/* test-manager-tcp.c: a manager that also listens on TCP, with an authkey
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-manager-private.h"
#include "mproc-wire-private.h"
#include "test-util.h"

#define KEY "0123456789abcdef0123456789abcdef"

static GBytes *
key_bytes (const char *key)
{
  return g_bytes_new (key, strlen (key));
}

static MprocManager *
start_tcp_manager (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  mproc_manager_set_authkey (manager, key);
  g_assert_null (mproc_manager_get_tcp_address (manager));
  g_assert_true (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error) || error != NULL);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (mproc_manager_get_tcp_address (manager), "tcp:host=127.0.0.1,port="));
  return g_steal_pointer (&manager);
}

/* The server's count of fds once it has settled: its threads open their
 * wakeup fds lazily, so a count taken right after start may be short. */
static guint
settled_server_fds (MprocManager *manager)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  guint n = test_count_fds_of (mproc_manager_get_server_pid (manager));
  guint stable = 0;

  while (stable < 30 && g_get_monotonic_time () < end)
    {
      guint now;

      g_usleep (10000);
      now = test_count_fds_of (mproc_manager_get_server_pid (manager));
      stable = now == n ? stable + 1 : 0;
      n = now;
    }
  return n;
}

/* Waits (up to 10 s) until the server has @n fds again. */
static void
assert_server_fds (MprocManager *manager,
                   guint         n)
{
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (test_count_fds_of (mproc_manager_get_server_pid (manager)) != n && g_get_monotonic_time () < end)
    g_usleep (10000);
  g_assert_cmpuint (test_count_fds_of (mproc_manager_get_server_pid (manager)), ==, n);
}

static int
raw_connect (const char *address)
{
  const char *port = strstr (address, "port=");
  struct sockaddr_in sin = { 0, };
  int sock;

  g_assert_nonnull (port);
  sin.sin_family = AF_INET;
  sin.sin_port = g_htons (atoi (port + 5));
  sin.sin_addr.s_addr = g_htonl (INADDR_LOOPBACK);
  sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (sock, >=, 0);
  g_assert_cmpint (connect (sock, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  return sock;
}

/* Reads until the server hangs up; returns the time that took (µs). */
static gint64
read_until_hangup (int sock)
{
  gint64 start = g_get_monotonic_time ();
  char buf[4096];

  for (;;)
    {
      struct pollfd pfd = { sock, POLLIN, 0 };
      ssize_t r;

      g_assert_cmpint (poll (&pfd, 1, 20000), ==, 1);
      r = recv (sock, buf, sizeof buf, 0);
      if (r <= 0)
        break;
    }
  return g_get_monotonic_time () - start;
}

/* The helper program: argv[2] the TCP address, argv[3] the key. */
static int
tcp_helper (const char *address,
            const char *key_string)
{
  g_autoptr(GBytes) key = key_bytes (key_string);
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;

  manager = mproc_manager_connect_with_authkey (address, key, NULL, &error);
  if (manager == NULL)
    {
      g_print ("refused %s %d\n", g_quark_to_string (error->domain), error->code);
      return 0;
    }
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  value = mproc_dict_get (dict, g_variant_new_string ("from"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "parent");
  g_clear_pointer (&value, g_variant_unref);

  /* pipelined writes, then reads that must see them */
  for (int i = 0; i < 100; i++)
    g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (i), g_variant_new_int32 (i * 2), NULL, &error));
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ii}"));
  for (int i = 100; i < 1100; i++)
    g_variant_builder_add (&builder, "{ii}", i, i * 2);
  g_assert_true (mproc_dict_update (dict, g_variant_builder_end (&builder), NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1101);
  value = mproc_dict_get (dict, g_variant_new_int32 (1099), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 2198);
  g_clear_pointer (&value, g_variant_unref);

  /* error replies travel too */
  g_assert_null (mproc_dict_get (dict, g_variant_new_string ("nothing"), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* what needs shared memory or fds is refused, and the connection lives on */
  g_assert_false (mproc_dict_watch (dict, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_null (mproc_manager_lookup (manager, "anything", NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  list = mproc_list_new (manager, "log", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_list_append (list, g_variant_new_string ("remote"), NULL, &error));
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("from"), g_variant_new_string ("remote"),
                                 NULL, &error));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);
  g_print ("connected\n");
  return 0;
}

static char *
run_helper (const char *address,
            const char *key)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "--tcp-helper", address, key, NULL };
  char *out = NULL;
  int status;

  argv[0] = g_test_get_filename (G_TEST_BUILT, "test-manager-tcp", NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);
  return out;
}

static void
test_right_key (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  g_test_summary ("A process that knows the key connects over TCP on 127.0.0.1 and shares a dict and a list");
  test_leak_check_begin (&check);
  manager = start_tcp_manager ();
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("from"), g_variant_new_string ("parent"),
                                 NULL, &error));

  out = run_helper (mproc_manager_get_tcp_address (manager), KEY);
  g_assert_cmpstr (out, ==, "connected\n");

  value = mproc_dict_get (dict, g_variant_new_string ("from"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "remote");
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1101);
  list = mproc_list_new (manager, "log", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (mproc_list_len (list, NULL, &error), ==, 1);

  g_clear_object (&dict);
  g_clear_object (&list);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
async_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
test_async (void)
{
  TestLeakCheck check;
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(MprocManager) remote = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GError) error = NULL;

  g_test_summary ("listen_tcp_async and connect_with_authkey_async; a second listen is refused");
  test_leak_check_begin (&check);
  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  mproc_manager_set_authkey (manager, key);
  mproc_manager_listen_tcp_async (manager, "127.0.0.1", 0, NULL, async_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (mproc_manager_listen_tcp_finish (manager, result, &error));
  g_assert_no_error (error);
  g_clear_object (&result);

  g_assert_false (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_clear_error (&error);

  mproc_manager_connect_with_authkey_async (mproc_manager_get_tcp_address (manager), key, NULL,
                                            async_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  remote = mproc_manager_connect_with_authkey_finish (result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (remote);
  g_clear_object (&result);

  dict = mproc_dict_new (remote, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (2), NULL, &error));
  value = mproc_dict_get (dict, g_variant_new_int32 (1), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 2);

  g_clear_object (&dict);
  g_assert_finalize_object (g_steal_pointer (&remote));
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_listen_without_key (void)
{
  TestLeakCheck check;
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr(GError) error = NULL;

  g_test_summary ("A manager refuses to listen on TCP without an authkey");
  test_leak_check_begin (&check);
  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);

  g_assert_false (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  mproc_manager_set_authkey (manager, empty);
  g_assert_false (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_null (mproc_manager_get_tcp_address (manager));

  /* the server checks too: a raw request with no key */
  {
    g_autoptr(GVariant) reply = NULL;

    g_assert_false (mproc_manager_call_raw (manager, MANAGER_OP_LISTEN_TCP, 0,
                                            g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, empty, TRUE),
                                            &reply, &error));
    g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
    g_clear_error (&error);
  }
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);

  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_refused (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocManager) good = NULL;
  g_autoptr(MprocManager) bad = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocDict) remote_dict = NULL;
  g_autoptr(GBytes) wrong = key_bytes ("not the key, not the key, not it");
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *address;
  guint server_fds;
  gboolean found;
  gint64 took;
  int sock;

  g_test_summary ("A wrong key, no key, garbage bytes or silence are refused; the server keeps serving");
  test_leak_check_begin (&check);
  manager = start_tcp_manager ();
  address = mproc_manager_get_tcp_address (manager);
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("secret"), g_variant_new_int32 (42), NULL, &error));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  /* a local read maps the dict's view: one fd of the server, the dict's */
  g_assert_true (mproc_dict_contains (dict, g_variant_new_string ("secret"), &found, NULL, &error));
  g_assert_true (found);
  server_fds = settled_server_fds (manager);

  /* a wrong key, from another process */
  out = run_helper (address, "wrong key wrong key wrong key!!!");
  g_assert_cmpstr (out, ==, "refused mproc-error-quark 16\n");
  g_assert_cmpint (MPROC_ERROR_ACCESS_DENIED, ==, 16);

  /* a wrong key, and no key, here */
  g_assert_null (mproc_manager_connect_with_authkey (address, wrong, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_assert_null (mproc_manager_connect_with_authkey (address, NULL, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  bad = mproc_manager_connect (address, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);

  /* garbage bytes: the server hangs up at once */
  sock = raw_connect (address);
  {
    char garbage[256];

    for (guint i = 0; i < sizeof garbage; i++)
      garbage[i] = (char) (i * 37 + 11);
    g_assert_cmpint (send (sock, garbage, sizeof garbage, MSG_NOSIGNAL), ==, sizeof garbage);
  }
  took = read_until_hangup (sock);
  g_assert_cmpint (took, <, 2 * G_USEC_PER_SEC);
  close (sock);

  /* a well-framed answer of the wrong type */
  sock = raw_connect (address);
  {
    g_autoptr(GVariant) challenge = mproc_wire_recv_value (sock, NULL, 4096, NULL, &error);
    g_autoptr(GVariant) refusal = NULL;
    g_autoptr(GVariant) body = NULL;
    const char *status;

    g_assert_no_error (error);
    g_assert_true (g_variant_is_of_type (challenge, G_VARIANT_TYPE ("(say)")));
    g_assert_true (mproc_wire_send_value (sock, g_variant_new ("(su)", "mproc-manager-1", 1),
                                          NULL, 0, NULL, &error));
    refusal = mproc_wire_recv_value (sock, NULL, 4096, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_variant_is_of_type (refusal, G_VARIANT_TYPE ("(sv)")));
    g_variant_get (refusal, "(&sv)", &status, &body);
    g_assert_cmpstr (status, ==, "error");
    g_assert_true (g_variant_is_of_type (body, G_VARIANT_TYPE ("(us)")));
    {
      guint32 code;

      g_variant_get (body, "(u&s)", &code, NULL);
      g_assert_cmpuint (code, ==, MPROC_ERROR_INVALID_MESSAGE);
    }
  }
  read_until_hangup (sock);
  close (sock);

  /* silence: dropped after a few seconds */
  sock = raw_connect (address);
  took = read_until_hangup (sock);
  g_assert_cmpint (took, >, 1 * G_USEC_PER_SEC);
  g_assert_cmpint (took, <, 8 * G_USEC_PER_SEC);
  close (sock);

  /* nothing was kept for the refused */
  assert_server_fds (manager, server_fds);

  /* the server goes on serving: locally and over TCP */
  value = mproc_dict_get (dict, g_variant_new_string ("secret"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 42);
  g_clear_pointer (&value, g_variant_unref);
  good = mproc_manager_connect_with_authkey (address, key, NULL, &error);
  g_assert_no_error (error);
  remote_dict = mproc_dict_new (good, "shared", NULL, &error);
  g_assert_no_error (error);
  value = mproc_dict_get (remote_dict, g_variant_new_string ("secret"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 42);
  g_clear_pointer (&value, g_variant_unref);

  /* a malformed request after authentication gets an error reply */
  g_assert_false (mproc_manager_call_raw (good, 9999, 0, g_variant_new ("()"), &value, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_true (mproc_manager_ping (good, NULL, &error));
  g_assert_no_error (error);

  g_clear_object (&remote_dict);
  g_assert_finalize_object (g_steal_pointer (&good));
  assert_server_fds (manager, server_fds);
  g_clear_object (&dict);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* Authenticates @sock as a client with the right key, by hand. */
static void
raw_authenticate (int sock)
{
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GVariant) challenge = NULL;
  g_autoptr(GVariant) nonce = NULL;
  g_autoptr(GVariant) answer = NULL;
  g_autoptr(GBytes) digest = NULL;
  g_autoptr(GError) error = NULL;
  guint8 our_nonce[MPROC_MANAGER_TCP_NONCE_SIZE] = { 7, };
  const guint8 *data;
  const char *status;
  gsize n;

  challenge = mproc_wire_recv_value (sock, NULL, 4096, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (challenge, G_VARIANT_TYPE ("(say)")));
  g_variant_get (challenge, "(&s@ay)", NULL, &nonce);
  data = g_variant_get_fixed_array (nonce, &n, 1);
  digest = mproc_manager_auth_digest (key, MPROC_MANAGER_TCP_CLIENT_LABEL, data, n);
  g_assert_true (mproc_wire_send_value (sock, g_variant_new ("(@ay@ay)",
                                                             g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING,
                                                                                       digest, TRUE),
                                                             g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, our_nonce,
                                                                                        sizeof our_nonce, 1)),
                                        NULL, 0, NULL, &error));
  g_assert_no_error (error);
  answer = mproc_wire_recv_value (sock, NULL, 4096, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (answer, "(&sv)", &status, NULL);
  g_assert_cmpstr (status, ==, "ok");
}

typedef struct
{
  MprocManager *manager;
  MprocDict    *dict;
  GMutex        lock;
  GCond         cond;
  gboolean      done;
  gboolean      ok;
} PingData;

static gpointer
ping_thread (gpointer user_data)
{
  PingData *pd = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;

  /* round trips and pipelined writes of a local client */
  for (guint i = 0; i < 100 && ok; i++)
    ok = mproc_dict_set (pd->dict, g_variant_new_uint32 (i), g_variant_new_uint32 (i), NULL, &error) &&
         mproc_manager_ping (pd->manager, NULL, &error);
  g_mutex_lock (&pd->lock);
  pd->ok = ok;
  pd->done = TRUE;
  g_cond_signal (&pd->cond);
  g_mutex_unlock (&pd->lock);
  return NULL;
}

static void
test_stalled_client (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *big = g_malloc0 (1 << 20);
  PingData pd = { 0, };
  GThread *thread;
  gint64 deadline;
  guint server_fds;
  int sock;

  g_test_summary ("A TCP client that stops reading its replies stalls nobody else");
  test_leak_check_begin (&check);
  manager = start_tcp_manager ();
  dict = mproc_dict_new (manager, "big", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("big"),
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, big, 1 << 20, 1),
                                 NULL, &error));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);
  server_fds = settled_server_fds (manager);

  /* 32 MiB of replies that are never read: far more than the socket holds */
  sock = raw_connect (mproc_manager_get_tcp_address (manager));
  raw_authenticate (sock);
  for (guint i = 0; i < 32; i++)
    g_assert_true (mproc_wire_send_value (sock, g_variant_new ("(uttt@v)", (guint32) DICT_OP_GET,
                                                               mproc_proxy_get_id (dict), (guint64) i + 1,
                                                               (guint64) 0,
                                                               g_variant_new_variant (g_variant_new ("(vmv)",
                                                                                                     g_variant_new_string ("big"),
                                                                                                     NULL))),
                                          NULL, 0, NULL, &error));
  g_assert_no_error (error);

  /* until the server's writes stall: the replies waiting for us stop growing */
  {
    int queued = -1, last = -2;
    guint stable = 0;

    deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    while (stable < 10 && g_get_monotonic_time () < deadline)
      {
        g_usleep (50000);
        g_assert_cmpint (ioctl (sock, FIONREAD, &queued), ==, 0);
        stable = queued == last ? stable + 1 : 0;
        last = queued;
      }
    g_assert_cmpint (queued, >, 32 * 1024);
  }

  /* everyone else is served meanwhile (a server blocked in that write
   * would never answer: the deadline only turns a hang into a failure) */
  g_mutex_init (&pd.lock);
  g_cond_init (&pd.cond);
  pd.manager = manager;
  pd.dict = dict;
  thread = g_thread_new ("ping", ping_thread, &pd);
  deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  g_mutex_lock (&pd.lock);
  while (!pd.done && g_cond_wait_until (&pd.cond, &pd.lock, deadline))
    ;
  g_assert_true (pd.done);
  g_assert_true (pd.ok);
  g_mutex_unlock (&pd.lock);
  g_thread_join (thread);
  g_mutex_clear (&pd.lock);
  g_cond_clear (&pd.cond);
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 101);

  /* the stalled client hangs up: the server forgets it */
  close (sock);
  assert_server_fds (manager, server_fds);

  g_clear_object (&dict);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

#define FLOOD_CONNECTIONS 80

static int
flood_connect (const struct sockaddr_in *sin)
{
  int sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (sock >= 0 && connect (sock, (const struct sockaddr *) sin, sizeof *sin) < 0)
    {
      close (sock);
      sock = -1;
    }
  return sock;
}

/* The flooding helper: keeps FLOOD_CONNECTIONS connections open that never
 * say a word, reopening each as the server drops it, until killed. */
static int
flood_helper (const char *address)
{
  struct pollfd pfds[FLOOD_CONNECTIONS];
  struct sockaddr_in sin = { 0, };

  /* a failing test must not leave a flood behind */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  sin.sin_family = AF_INET;
  sin.sin_port = g_htons (atoi (strstr (address, "port=") + 5));
  sin.sin_addr.s_addr = g_htonl (INADDR_LOOPBACK);
  for (guint i = 0; i < FLOOD_CONNECTIONS; i++)
    pfds[i] = (struct pollfd) { flood_connect (&sin), POLLIN, 0 };
  g_print ("flooding\n");
  for (;;)
    {
      poll (pfds, FLOOD_CONNECTIONS, 10);
      for (guint i = 0; i < FLOOD_CONNECTIONS; i++)
        {
          char buf[256];

          if (pfds[i].fd >= 0 && pfds[i].revents == 0)
            continue;
          /* the server's greeting is read and never answered */
          if (pfds[i].fd >= 0 && recv (pfds[i].fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
            continue;
          if (pfds[i].fd >= 0)
            close (pfds[i].fd);
          pfds[i].fd = flood_connect (&sin);
        }
    }
  return 0;
}

static void
test_flood (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GBytes) key = key_bytes (KEY);
  g_autoptr(GError) error = NULL;
  const char *argv[] = { NULL, "--flood-helper", NULL, NULL };
  GPid flooder;
  int out_fd, status;
  char line[16] = "";
  gint64 slowest = 0;

  g_test_summary ("Clients that know the key get in while silent connections flood the TCP port");
  test_leak_check_begin (&check);
  manager = start_tcp_manager ();
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("n"), g_variant_new_int32 (0), NULL, &error));

  argv[0] = g_test_get_filename (G_TEST_BUILT, "test-manager-tcp", NULL);
  argv[2] = mproc_manager_get_tcp_address (manager);
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &flooder, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (read (out_fd, line, sizeof line - 1), >, 0);
  g_assert_cmpstr (line, ==, "flooding\n");
  close (out_fd);
  /* let the flood fill every slot the server has for handshakes */
  g_usleep (G_USEC_PER_SEC);

  for (int i = 0; i < 10; i++)
    {
      g_autoptr(MprocManager) remote = NULL;
      g_autoptr(MprocDict) remote_dict = NULL;
      gint64 start = g_get_monotonic_time ();

      remote = mproc_manager_connect_with_authkey (mproc_manager_get_tcp_address (manager), key, NULL, &error);
      g_assert_no_error (error);
      remote_dict = mproc_dict_new (remote, "shared", NULL, &error);
      g_assert_no_error (error);
      g_assert_true (mproc_dict_set (remote_dict, g_variant_new_string ("n"), g_variant_new_int32 (i + 1),
                                     NULL, &error));
      g_assert_no_error (error);
      slowest = MAX (slowest, g_get_monotonic_time () - start);
      g_clear_object (&remote_dict);
      g_assert_finalize_object (g_steal_pointer (&remote));
    }
  g_test_message ("slowest connection during the flood: %" G_GINT64_FORMAT " ms", slowest / 1000);

  kill (flooder, SIGKILL);
  g_assert_cmpint (waitpid (flooder, &status, 0), ==, flooder);
  g_spawn_close_pid (flooder);
  {
    /* the last write was pipelined over TCP by a client that is gone: it
     * is applied, but a local read is not ordered after it */
    gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
    gint32 n = 0;

    while (n != 10 && g_get_monotonic_time () < deadline)
      {
        g_autoptr(GVariant) value = mproc_dict_get (dict, g_variant_new_string ("n"), NULL, &error);

        g_assert_no_error (error);
        n = g_variant_get_int32 (value);
        if (n != 10)
          g_usleep (10000);
      }
    g_assert_cmpint (n, ==, 10);
  }
  g_clear_object (&dict);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  if (argc == 4 && g_str_equal (argv[1], "--tcp-helper"))
    return tcp_helper (argv[2], argv[3]);
  if (argc == 3 && g_str_equal (argv[1], "--flood-helper"))
    return flood_helper (argv[2]);

  test_init (&argc, &argv);

  g_test_add_func ("/mproc/manager/tcp/right-key", test_right_key);
  g_test_add_func ("/mproc/manager/tcp/async", test_async);
  g_test_add_func ("/mproc/manager/tcp/listen-without-key", test_listen_without_key);
  g_test_add_func ("/mproc/manager/tcp/refused", test_refused);
  g_test_add_func ("/mproc/manager/tcp/stalled-client", test_stalled_client);
  g_test_add_func ("/mproc/manager/tcp/flood", test_flood);

  return g_test_run ();
}
