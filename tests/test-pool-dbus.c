/* test-pool-dbus.c: a pool and shared state exported on a peer-to-peer
 * D-Bus connection, in this process (test-worker-service.c covers the
 * daemon on a bus)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <mproc.h>

#include "test-util.h"

#define POOL_PATH "/org/gnome/Mproc/Test/Pool"

static GVariant *
echo_task (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_ref (arg);
}

static GVariant *
square_task (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x = g_variant_get_int64 (arg);

  return g_variant_new_int64 (x * x);
}

static GVariant *
fail_task (GVariant *arg, gpointer user_data, GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER, "deliberate");
  return NULL;
}

/* The worker running it kills itself with SIGKILL on item < 0. */
static GVariant *
kill_task (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x = g_variant_get_int64 (arg);

  if (x < 0)
    kill (getpid (), SIGKILL);
  return g_variant_new_int64 (x);
}

/* Chunk targets over `ax`, the fast path of MapFd and MapInto: 3 * x; the
 * worker running a chunk with a negative item kills itself with SIGKILL;
 * x as int32 (results of another size than the items). */
static GVariant *
triple_chunk (GVariant *items, gpointer user_data, GError **error)
{
  gsize n = 0;
  const gint64 *in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  gint64 *out = g_new (gint64, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    {
      if (in[i] < 0 && GPOINTER_TO_INT (user_data))
        kill (getpid (), SIGKILL);
      out[i] = 3 * in[i];
    }
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

static GVariant *
narrow_chunk (GVariant *items, gpointer user_data, GError **error)
{
  gsize n = 0;
  const gint64 *in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  gint32 *out = g_new (gint32, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    out[i] = (gint32) in[i];
  return g_variant_new_from_data (G_VARIANT_TYPE ("ai"), out, n * sizeof (gint32), TRUE, g_free, out);
}

static GVariant *
sleep_task (GVariant *arg, gpointer user_data, GError **error)
{
  g_usleep (g_variant_get_uint32 (arg) * 1000);
  return g_variant_ref (arg);
}

/* GDBus closes a connection's socket from its worker thread, a moment
 * after g_dbus_connection_close_sync() returns: give it that moment (up to
 * 5 s), then check for leaks. */
static void
leak_check_end (TestLeakCheck *check)
{
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *now = NULL;

      while (g_main_context_iteration (NULL, FALSE))
        ;
      now = test_list_fds ();
      if (g_str_equal (now, check->fds))
        break;
      g_usleep (10000);
    }
  test_leak_check_end (check);
}

/* Drops the last reference to a connection: GDBus's worker thread may
 * hold one a moment longer after close (up to 5 s). */
static void
await_finalize (gpointer object)
{
  gpointer weak = object;

  g_object_add_weak_pointer (object, &weak);
  g_object_unref (object);
  for (guint i = 0; i < 500 && weak != NULL; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      if (weak != NULL)
        g_usleep (10000);
    }
  g_assert_null (weak);
}

typedef struct
{
  TestLeakCheck    leaks;
  MprocPool       *pool;
  GDBusConnection *server;   /* the exporting end */
  GDBusConnection *client;
  guint            export_id;
} Fixture;

static void
new_connection_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  *(GDBusConnection **) user_data = g_dbus_connection_new_finish (result, &error);
  g_assert_no_error (error);
}

/* Two ends of a peer-to-peer D-Bus connection over a socketpair. */
static void
connection_pair (GDBusConnection **server,
                 GDBusConnection **client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) s0 = NULL, s1 = NULL;
  g_autoptr(GSocketConnection) c0 = NULL, c1 = NULL;
  g_autofree char *guid = g_dbus_generate_guid ();
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  s0 = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  s1 = g_socket_new_from_fd (sv[1], &error);
  g_assert_no_error (error);
  c0 = g_socket_connection_factory_create_connection (s0);
  c1 = g_socket_connection_factory_create_connection (s1);

  *server = NULL;
  g_dbus_connection_new (G_IO_STREAM (c0), guid,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS,
                         NULL, NULL, new_connection_cb, server);
  *client = g_dbus_connection_new_sync (G_IO_STREAM (c1), NULL,
                                        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                        NULL, NULL, &error);
  g_assert_no_error (error);
  while (*server == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(GError) error = NULL;

  test_leak_check_begin (&f->leaks);
  f->pool = mproc_pool_new_full (context, 2, NULL, NULL, 0, &error);
  g_assert_no_error (error);
  connection_pair (&f->server, &f->client);
  f->export_id = mproc_pool_export (f->pool, f->server, POOL_PATH, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->export_id, !=, 0);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  mproc_pool_unexport (f->pool, f->export_id);
  g_dbus_connection_close_sync (f->client, NULL, NULL);
  g_dbus_connection_close_sync (f->server, NULL, NULL);
  mproc_pool_close (f->pool);
  g_assert_true (mproc_pool_join (f->pool, -1, NULL, &error));
  g_assert_no_error (error);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  await_finalize (f->client);
  await_finalize (f->server);
  g_assert_finalize_object (f->pool);
  leak_check_end (&f->leaks);
}

/* A call on the client end, iterating this context (the export serves
 * from it too). */
static GVariant *
call (GDBusConnection  *connection,
      const char       *method,
      GVariant         *args,
      GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_connection_call (connection, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, method, args,
                          NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, test_store_result, &result);
  test_wait_result (&result);
  return g_dbus_connection_call_finish (connection, result, error);
}

static void
test_submit (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  g_test_summary ("Submit runs a registered target in a worker and returns its result");
  reply = call (f->client, "Submit", g_variant_new ("(sv)", "test.echo", g_variant_new_string ("hi")), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "hi");
}

static void
test_map (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) results = NULL;
  GVariantBuilder items;

  g_test_summary ("Map over av returns the results in order, boxed; an empty map too");
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < 100; i++)
    g_variant_builder_add (&items, "v", g_variant_new_int64 (i));
  reply = call (f->client, "Map", g_variant_new ("(sav)", "test.square", &items), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@av)", &results);
  g_assert_cmpuint (g_variant_n_children (results), ==, 100);
  for (gint64 i = 0; i < 100; i++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (results, i);
      g_autoptr(GVariant) v = g_variant_get_variant (boxed);

      g_assert_cmpint (g_variant_get_int64 (v), ==, i * i);
    }
  g_clear_pointer (&reply, g_variant_unref);

  reply = call (f->client, "Map", g_variant_new ("(s@av)", "test.square",
                                                 g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0)), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (reply), ==, "(av)");
}

/* Map over av of numbers of each type (packed on the way in and boxed
 * from the packed results on the way out): what comes back is what went
 * in, in order, with 1-, 2- and 4-byte framing offsets in the reply. */
static void
test_map_numbers (Fixture *f, gconstpointer data)
{
  static const char types[] = "ynqiuxtd";
  static const guint counts[] = { 3, 300, 5000 };

  g_test_summary ("Map over av of numbers of one type returns them in order, of their type");
  for (const char *t = types; *t != '\0'; t++)
    for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GVariant) reply = NULL;
        g_autoptr(GVariant) results = NULL;
        g_autoptr(GVariant) sent = NULL;
        GVariantBuilder items;
        char type[2] = { *t, '\0' };

        g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
        for (guint i = 0; i < counts[c]; i++)
          {
            GVariant *v;

            switch (*t)
              {
              case 'y': v = g_variant_new_byte ((guint8) (i * 7)); break;
              case 'n': v = g_variant_new_int16 ((gint16) (-(gint) i * 3)); break;
              case 'q': v = g_variant_new_uint16 ((guint16) (i * 13)); break;
              case 'i': v = g_variant_new_int32 (-(gint32) i * 100003); break;
              case 'u': v = g_variant_new_uint32 (i * 2654435761u); break;
              case 'x': v = g_variant_new_int64 (-(gint64) i * G_GINT64_CONSTANT (1000000007)); break;
              case 't': v = g_variant_new_uint64 ((guint64) i << 40 | i); break;
              default: v = g_variant_new_double (i * 0.5 - 7.25); break;
              }
            g_variant_builder_add (&items, "v", v);
          }
        sent = g_variant_ref_sink (g_variant_builder_end (&items));
        reply = call (f->client, "Map", g_variant_new ("(s@av)", "test.echo", sent), &error);
        g_assert_no_error (error);
        g_variant_get (reply, "(@av)", &results);
        g_assert_true (g_variant_is_normal_form (results));
        g_assert_cmpuint (g_variant_n_children (results), ==, counts[c]);
        for (guint i = 0; i < counts[c]; i++)
          {
            g_autoptr(GVariant) got_box = g_variant_get_child_value (results, i);
            g_autoptr(GVariant) got = g_variant_get_variant (got_box);
            g_autoptr(GVariant) want_box = g_variant_get_child_value (sent, i);
            g_autoptr(GVariant) want = g_variant_get_variant (want_box);

            g_assert_cmpstr (g_variant_get_type_string (got), ==, type);
            g_assert_true (g_variant_equal (got, want));
          }
      }
}

/* Items of several types are refused; items that are not numbers, and
 * numbers mapped to other types, take the general path. */
static void
test_map_mixed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) results = NULL;
  g_autoptr(GVariant) v = NULL;
  GVariantBuilder items;

  g_test_summary ("Map over av of mixed numbers is refused; strings are mapped as before");
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&items, "v", g_variant_new_int64 (1));
  g_variant_builder_add (&items, "v", g_variant_new_int32 (2));
  reply = call (f->client, "Map", g_variant_new ("(sav)", "test.echo", &items), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_assert_null (reply);
  g_clear_error (&error);

  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&items, "v", g_variant_new_string ("a"));
  g_variant_builder_add (&items, "v", g_variant_new_string ("bc"));
  reply = call (f->client, "Map", g_variant_new ("(sav)", "test.echo", &items), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@av)", &results);
  g_assert_cmpuint (g_variant_n_children (results), ==, 2);
  g_variant_get_child (results, 1, "v", &v);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "bc");
}

static void
test_map_array (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) results = NULL;
  gint64 in[1000];
  const gint64 *out;
  gsize n = 0;

  g_test_summary ("MapArray takes and returns packed arrays");
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = i;
  reply = call (f->client, "MapArray",
                g_variant_new ("(sv)", "test.square",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, in, G_N_ELEMENTS (in), sizeof (gint64))),
                &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &results);
  g_assert_cmpstr (g_variant_get_type_string (results), ==, "ax");
  out = g_variant_get_fixed_array (results, &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (in));
  for (guint i = 0; i < n; i++)
    g_assert_cmpint (out[i], ==, (gint64) i * i);
}

/* A memfd with @size bytes of @data, sealed or not. */
static int
make_memfd (gconstpointer data, gsize size, gboolean seal)
{
  int fd = memfd_create ("test-items", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, data, size), ==, (gssize) size);
  if (seal)
    g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), ==, 0);
  return fd;
}

static GVariant *
call_with_fd (GDBusConnection  *connection,
              GVariant         *args,
              int               fd,
              GUnixFDList     **out_fds,
              GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new_from_array (&fd, 1);

  g_dbus_connection_call_with_unix_fd_list (connection, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE,
                                            "MapFd", args, NULL, G_DBUS_CALL_FLAGS_NONE, 30000, fds,
                                            NULL, test_store_result, &result);
  test_wait_result (&result);
  return g_dbus_connection_call_with_unix_fd_list_finish (connection, out_fds, result, error);
}

static void assert_workers_hold_no_memfd (MprocPool *pool);

static void
test_map_fd (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GUnixFDList) out_fds = NULL;
  gint64 in[5000];
  const char *type;
  gint32 handle;
  int fd;
  gint64 *out;

  g_test_summary ("MapFd takes and returns the arrays in sealed memfds; an unsealed one is refused");
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    in[i] = i;

  fd = make_memfd (in, sizeof in, TRUE);
  reply = call_with_fd (f->client, g_variant_new ("(ssh)", "test.square", "ax", 0), fd, &out_fds, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&sh)", &type, &handle);
  g_assert_cmpstr (type, ==, "ax");
  fd = g_unix_fd_list_get (out_fds, handle, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fcntl (fd, F_GET_SEALS) & F_SEAL_WRITE, !=, 0);
  out = mmap (NULL, sizeof in, PROT_READ, MAP_SHARED, fd, 0);
  g_assert_true (out != MAP_FAILED);
  for (guint i = 0; i < G_N_ELEMENTS (in); i++)
    g_assert_cmpint (out[i], ==, (gint64) i * i);
  munmap (out, sizeof in);
  close (fd);
  g_clear_pointer (&reply, g_variant_unref);

  fd = make_memfd (in, sizeof in, FALSE);
  reply = call_with_fd (f->client, g_variant_new ("(ssh)", "test.square", "ax", 0), fd, NULL, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_assert_null (reply);
  g_clear_error (&error);

  /* results of another size: serialised, not written in place */
  g_clear_object (&out_fds);
  fd = make_memfd (in, sizeof in, TRUE);
  reply = call_with_fd (f->client, g_variant_new ("(ssh)", "test.narrow", "ax", 0), fd, &out_fds, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(&sh)", &type, &handle);
  g_assert_cmpstr (type, ==, "ai");
  fd = g_unix_fd_list_get (out_fds, handle, &error);
  g_assert_no_error (error);
  {
    gint32 *narrow = mmap (NULL, G_N_ELEMENTS (in) * sizeof (gint32), PROT_READ, MAP_SHARED, fd, 0);

    g_assert_true (narrow != MAP_FAILED);
    g_assert_cmpint (narrow[4999], ==, 4999);
    munmap (narrow, G_N_ELEMENTS (in) * sizeof (gint32));
  }
  close (fd);
  g_clear_object (&out_fds);
  assert_workers_hold_no_memfd (f->pool);
}

/* A memfd of @n int64 items, i + @base, mapped at *@map (size n * 8). */
static int
make_items (gsize n, gint64 base, gint64 **map)
{
  int fd = memfd_create ("test-items", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, n * sizeof (gint64)), ==, 0);
  *map = mmap (NULL, n * sizeof (gint64), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  g_assert_true (*map != MAP_FAILED);
  for (gsize i = 0; i < n; i++)
    (*map)[i] = base + (gint64) i;
  return fd;
}

static void
call_into_async (GDBusConnection  *connection,
                 const char       *target,
                 int               in_fd,
                 guint32           n_items,
                 int               out_fd,
                 GAsyncResult    **result)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();

  g_assert_cmpint (g_unix_fd_list_append (fds, in_fd, NULL), ==, 0);
  g_assert_cmpint (g_unix_fd_list_append (fds, out_fd, NULL), ==, 1);
  g_dbus_connection_call_with_unix_fd_list (connection, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, "MapInto",
                                            g_variant_new ("(sshuh)", target, "ax", 0, n_items, 1),
                                            G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, 30000, fds,
                                            NULL, test_store_result, result);
}

static GVariant *
call_into (GDBusConnection  *connection,
           const char       *target,
           int               in_fd,
           guint32           n_items,
           int               out_fd,
           GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  call_into_async (connection, target, in_fd, n_items, out_fd, &result);
  test_wait_result (&result);
  return g_dbus_connection_call_with_unix_fd_list_finish (connection, NULL, result, error);
}

/* Whether a process holds a memfd named @name, or maps one. */
static gboolean
holds_memfd (int pid, const char *name)
{
  g_autofree char *dir_path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autofree char *maps_path = g_strdup_printf ("/proc/%d/maps", pid);
  g_autofree char *maps = NULL;
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *entry;

  if (dir == NULL)
    return FALSE;   /* gone */
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, entry, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && strstr (target, name) != NULL)
        return TRUE;
    }
  return g_file_get_contents (maps_path, &maps, NULL, NULL) && strstr (maps, name) != NULL;
}

/* The workers let go of a call's memfds once it is over (a moment later:
 * they read the pool's word for it after their reply). */
static void
assert_workers_hold_no_memfd (MprocPool *pool)
{
  guint n_pids = 0;
  g_autofree int *pids = mproc_pool_dup_worker_pids (pool, &n_pids);

  for (guint i = 0; i < n_pids; i++)
    {
      guint tries = 0;

      while ((holds_memfd (pids[i], "test-items") || holds_memfd (pids[i], "test-results") ||
              holds_memfd (pids[i], "mproc-pool-results")) && tries++ < 500)
        {
          while (g_main_context_iteration (NULL, FALSE))
            ;
          g_usleep (10000);
        }
      g_assert_cmpuint (tries, <, 500);
    }

  /* Here too a moment later: the reply that carried the results memfd is
   * freed by GDBus's worker thread once it has been written. */
  for (guint tries = 0; holds_memfd (getpid (), "mproc-pool-results"); tries++)
    {
      g_assert_cmpuint (tries, <, 500);
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10000);
    }
}

static void
test_map_into (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  const gsize n = 10000;
  gint64 *in, *out;
  int in_fd, out_fd, sealed_fd;
  const char *type;

  g_test_summary ("MapInto runs a map from the caller's memfd into another, both reusable; "
                  "results that do not fit, a sealed or short memfd are refused");
  in_fd = make_items (n, 0, &in);
  out_fd = make_items (n, 0, &out);

  for (gint64 round = 0; round < 3; round++)
    {
      for (gsize i = 0; i < n; i++)
        in[i] = round * 1000000 + (gint64) i;
      reply = call_into (f->client, "test.triple", in_fd, n, out_fd, &error);
      g_assert_no_error (error);
      g_variant_get (reply, "(&s)", &type);
      g_assert_cmpstr (type, ==, "ax");
      for (gsize i = 0; i < n; i++)
        g_assert_cmpint (out[i], ==, 3 * (round * 1000000 + (gint64) i));
      g_clear_pointer (&reply, g_variant_unref);
    }

  /* fewer items than the memfd holds: the rest is left alone */
  out[n - 1] = -7;
  reply = call_into (f->client, "test.triple", in_fd, n - 1, out_fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out[n - 2], ==, 3 * in[n - 2]);
  g_assert_cmpint (out[n - 1], ==, -7);
  g_clear_pointer (&reply, g_variant_unref);

  /* a target of one item at a time works too */
  reply = call_into (f->client, "test.square", in_fd, 100, out_fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out[99], ==, in[99] * in[99]);
  g_clear_pointer (&reply, g_variant_unref);

  reply = call_into (f->client, "test.narrow", in_fd, n, out_fd, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  reply = call_into (f->client, "test.triple", in_fd, n + 1, out_fd, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  sealed_fd = make_memfd (in, n * sizeof (gint64), TRUE);
  reply = call_into (f->client, "test.triple", in_fd, n, sealed_fd, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  /* sealed items are fine */
  reply = call_into (f->client, "test.triple", sealed_fd, n, out_fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out[5], ==, 3 * in[5]);
  g_clear_pointer (&reply, g_variant_unref);

  reply = call_into (f->client, "no.such.target", in_fd, n, out_fd, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET);
  g_clear_error (&error);

  assert_workers_hold_no_memfd (f->pool);
  munmap (in, n * sizeof (gint64));
  munmap (out, n * sizeof (gint64));
  close (in_fd);
  close (out_fd);
  close (sealed_fd);
}

static void
test_map_fd_worker_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) killed = NULL;
  g_autoptr(GAsyncResult) fine = NULL;
  g_autoptr(GVariant) reply = NULL;
  const gsize n = 40000;
  gint64 *in, *ok_in, *out, *ok_out;
  int in_fd, ok_in_fd, out_fd, ok_out_fd;

  g_test_summary ("SIGKILL of a worker in the middle of a MapInto fails that call with WORKER_DIED; "
                  "a map beside it succeeds, the pool goes on, and no worker keeps a memfd");
  in_fd = make_items (n, 0, &in);
  out_fd = make_items (n, 0, &out);
  ok_in_fd = make_items (n, 0, &ok_in);
  ok_out_fd = make_items (n, 0, &ok_out);
  in[3 * n / 4 + 10] = -1;   /* in the last chunk: the others are done or running */

  call_into_async (f->client, "test.triple-or-die", in_fd, n, out_fd, &killed);
  call_into_async (f->client, "test.triple-or-die", ok_in_fd, n, ok_out_fd, &fine);
  test_wait_result (&killed);
  test_wait_result (&fine);

  reply = g_dbus_connection_call_with_unix_fd_list_finish (f->client, NULL, killed, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  g_assert_null (reply);
  g_clear_error (&error);
  reply = g_dbus_connection_call_with_unix_fd_list_finish (f->client, NULL, fine, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint (ok_out[i], ==, 3 * (gint64) i);
  g_clear_pointer (&reply, g_variant_unref);

  /* the replacement worker serves the next one */
  in[3 * n / 4 + 10] = 5;
  reply = call_into (f->client, "test.triple-or-die", in_fd, n, out_fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (out[3 * n / 4 + 10], ==, 15);
  g_assert_cmpint (out[n - 1], ==, 3 * (gint64) (n - 1));
  g_clear_pointer (&reply, g_variant_unref);

  assert_workers_hold_no_memfd (f->pool);
  munmap (in, n * sizeof (gint64));
  munmap (out, n * sizeof (gint64));
  munmap (ok_in, n * sizeof (gint64));
  munmap (ok_out, n * sizeof (gint64));
  close (in_fd);
  close (out_fd);
  close (ok_in_fd);
  close (ok_out_fd);
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantBuilder items;

  g_test_summary ("A target's error, an unknown target and a malformed call come back as GErrors of "
                  "their own domain; the export goes on");

  reply = call (f->client, "Submit", g_variant_new ("(sv)", "test.fail", g_variant_new_int32 (1)), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN_BARRIER);
  g_assert_true (g_dbus_error_is_remote_error (error));
  g_dbus_error_strip_remote_error (error);
  g_assert_cmpstr (error->message, ==, "deliberate");
  g_clear_error (&error);

  reply = call (f->client, "Submit", g_variant_new ("(sv)", "no.such.target", g_variant_new_int32 (1)), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET);
  g_clear_error (&error);

  /* the built-in worker target is not for callers */
  reply = call (f->client, "Submit", g_variant_new ("(sv)", "mproc-pool-worker", g_variant_new_int32 (1)), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET);
  g_clear_error (&error);

  reply = call (f->client, "Submit", g_variant_new ("(si)", "test.echo", 1), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&items, "v", g_variant_new_int64 (1));
  g_variant_builder_add (&items, "v", g_variant_new_string ("x"));
  reply = call (f->client, "Map", g_variant_new ("(sav)", "test.square", &items), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  reply = call (f->client, "MapArray", g_variant_new ("(sv)", "test.square", g_variant_new_int64 (3)), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  reply = call (f->client, "Submit", g_variant_new ("(sv)", "test.echo", g_variant_new_int32 (7)), &error);
  g_assert_no_error (error);
}

static GVariant *shared_call (GDBusConnection *connection, const char *path, const char *interface,
                              const char *method, GVariant *args, GError **error);

static void
test_worker_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) killed = NULL;
  GAsyncResult *fine[4] = { NULL, };
  g_autoptr(GVariant) reply = NULL;

  g_test_summary ("SIGKILL of the worker running a remote task fails that call with WORKER_DIED "
                  "across D-Bus; the other calls succeed and the pool goes on");

  g_dbus_connection_call (f->client, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, "Submit",
                          g_variant_new ("(sv)", "test.kill", g_variant_new_int64 (-1)),
                          NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, test_store_result, &killed);
  for (guint i = 0; i < G_N_ELEMENTS (fine); i++)
    g_dbus_connection_call (f->client, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, "Submit",
                            g_variant_new ("(sv)", "test.kill", g_variant_new_int64 (i)),
                            NULL, G_DBUS_CALL_FLAGS_NONE, 30000, NULL, test_store_result, &fine[i]);
  test_wait_result (&killed);
  for (guint i = 0; i < G_N_ELEMENTS (fine); i++)
    test_wait_result (&fine[i]);

  reply = g_dbus_connection_call_finish (f->client, killed, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  g_assert_null (reply);
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (fine); i++)
    {
      g_autoptr(GVariant) ok = g_dbus_connection_call_finish (f->client, fine[i], &error);
      g_autoptr(GVariant) value = NULL;

      g_assert_no_error (error);
      g_variant_get (ok, "(v)", &value);
      g_assert_cmpint (g_variant_get_int64 (value), ==, i);
      g_object_unref (fine[i]);
    }
}

static void
signal_cb (GDBusConnection *connection,
           const char      *sender,
           const char      *path,
           const char      *interface,
           const char      *signal,
           GVariant        *parameters,
           gpointer         user_data)
{
  GPtrArray *seen = user_data;

  g_ptr_array_add (seen, g_strdup_printf ("%s %s", signal, g_variant_get_type_string (parameters)));
}

static gboolean
seen_contains (GPtrArray *seen, const char *what)
{
  for (guint i = 0; i < seen->len; i++)
    if (g_str_equal (seen->pdata[i], what))
      return TRUE;
  return FALSE;
}

static void
test_signals (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) props = NULL;
  GVariantBuilder items;
  guint sub;

  g_test_summary ("A map sends TaskFinished to its caller, and the load properties change with "
                  "PropertiesChanged");
  sub = g_dbus_connection_signal_subscribe (f->client, NULL, NULL, NULL, POOL_PATH, NULL,
                                            G_DBUS_SIGNAL_FLAGS_NONE, signal_cb, seen, NULL);

  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < 8; i++)
    g_variant_builder_add (&items, "v", g_variant_new_uint32 (20));
  reply = call (f->client, "Map", g_variant_new ("(sav)", "test.sleep", &items), &error);
  g_assert_no_error (error);

  while (!seen_contains (seen, "PropertiesChanged (sa{sv}as)") || !seen_contains (seen, "TaskFinished (uuu)"))
    g_main_context_iteration (NULL, TRUE);

  g_clear_pointer (&reply, g_variant_unref);
  reply = shared_call (f->client, POOL_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                       g_variant_new ("(s)", MPROC_POOL_DBUS_INTERFACE), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(@a{sv})", &props);
  {
    g_autoptr(GVariant) workers = g_variant_lookup_value (props, "Workers", G_VARIANT_TYPE_UINT32);
    g_autoptr(GVariant) targets = g_variant_lookup_value (props, "Targets", G_VARIANT_TYPE_STRING_ARRAY);

    g_assert_cmpuint (g_variant_get_uint32 (workers), ==, 2);
    g_assert_nonnull (targets);
  }
  g_dbus_connection_signal_unsubscribe (f->client, sub);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) long_map = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) map_reply = NULL;
  GVariantBuilder items;
  guint32 n;
  gint64 t0;

  g_test_summary ("Cancel drops the caller's queued tasks: a long map ends early with CANCELLED");
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < 200; i++)
    g_variant_builder_add (&items, "v", g_variant_new_uint32 (50));
  t0 = g_get_monotonic_time ();
  g_dbus_connection_call (f->client, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, "Map",
                          g_variant_new ("(sav)", "test.sleep", &items),
                          NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL, test_store_result, &long_map);
  /* let it start */
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_usleep (20000);

  reply = call (f->client, "Cancel", g_variant_new ("(u)", 0), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &n);
  g_assert_cmpuint (n, ==, 1);
  test_wait_result (&long_map);
  map_reply = g_dbus_connection_call_finish (f->client, long_map, &error);
  g_assert_nonnull (error);
  {
    /* G_IO_ERROR has no D-Bus names of its own: it travels by the generic mapping */
    g_autoptr(GError) decoded = mproc_dbus_error_decode (error);

    g_assert_error (decoded, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  }
  /* 200 × 50 ms on 2 workers would take 5 s */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 4 * G_USEC_PER_SEC);
}

static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantBuilder items;

  g_test_summary ("A caller past its queued-task or message-size limit gets a clear error");
  mproc_pool_set_export_limits (f->pool, f->export_id, 10, 1024);

  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < 11; i++)
    g_variant_builder_add (&items, "v", g_variant_new_int64 (i));
  reply = call (f->client, "Map", g_variant_new ("(sav)", "test.square", &items), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FULL);
  g_clear_error (&error);

  {
    g_autofree char *big = g_strnfill (4096, 'x');

    reply = call (f->client, "Submit", g_variant_new ("(sv)", "test.echo", g_variant_new_string (big)), &error);
    g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
    g_clear_error (&error);
  }

  reply = call (f->client, "Submit", g_variant_new ("(sv)", "test.echo", g_variant_new_int32 (7)), &error);
  g_assert_no_error (error);
}

static void
test_disconnect (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantBuilder items;
  guint queued = 1;
  gint64 t0;

  g_test_summary ("A caller whose connection closes mid-map has its queued tasks dropped");
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < 200; i++)
    g_variant_builder_add (&items, "v", g_variant_new_uint32 (50));
  g_dbus_connection_call (f->client, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, "Map",
                          g_variant_new ("(sav)", "test.sleep", &items),
                          NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL, NULL, NULL);
  t0 = g_get_monotonic_time ();
  g_object_get (f->pool, "queued", &queued, NULL);
  while (queued == 0)
    {
      g_main_context_iteration (NULL, TRUE);
      g_object_get (f->pool, "queued", &queued, NULL);
    }

  g_dbus_connection_close_sync (f->client, NULL, NULL);
  while (queued != 0)
    {
      g_main_context_iteration (NULL, TRUE);
      g_object_get (f->pool, "queued", &queued, NULL);
    }
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 4 * G_USEC_PER_SEC);

  /* the pool still serves */
  reply = mproc_pool_apply (f->pool, "test.echo", g_variant_new_int32 (1), -1, NULL, &error);
  g_assert_no_error (error);
}

/* --- Shared state ----------------------------------------------------------- */

static void
assert_printed (GVariant *value, const char *expected)
{
  g_autofree char *printed = g_variant_print (value, FALSE);

  g_assert_cmpstr (printed, ==, expected);
}

static void
shared_signal_cb (GDBusConnection *connection,
                  const char      *sender,
                  const char      *path,
                  const char      *interface,
                  const char      *signal,
                  GVariant        *parameters,
                  gpointer         user_data)
{
  GPtrArray *seen = user_data;

  g_ptr_array_add (seen, g_variant_print (parameters, FALSE));
}

static GVariant *
shared_call (GDBusConnection  *connection,
             const char       *path,
             const char       *interface,
             const char       *method,
             GVariant         *args,
             GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_connection_call (connection, NULL, path, interface, method, args, NULL,
                          G_DBUS_CALL_FLAGS_NONE, 30000, NULL, test_store_result, &result);
  test_wait_result (&result);
  return g_dbus_connection_call_finish (connection, result, error);
}

static void
test_shared_dict (void)
{
  TestLeakCheck leaks;
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GDBusConnection *server, *client;
  guint ro, rw, nsid, sub;

  g_test_summary ("A manager's dict and namespace exported on D-Bus: read, watched through Changed, "
                  "writes refused when read-only and applied when writable");
  test_leak_check_begin (&leaks);
  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  ns = mproc_namespace_new (manager, "shared-ns", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("a"), g_variant_new_int32 (1), NULL, &error));

  connection_pair (&server, &client);
  ro = mproc_shared_export_dict (dict, server, "/test/ro", FALSE, NULL, &error);
  g_assert_no_error (error);
  rw = mproc_shared_export_dict (dict, server, "/test/rw", TRUE, NULL, &error);
  g_assert_no_error (error);
  nsid = mproc_shared_export_namespace (ns, server, "/test/ns", FALSE, NULL, &error);
  g_assert_no_error (error);
  sub = g_dbus_connection_signal_subscribe (client, NULL, "org.gnome.Mproc.SharedDict1", "Changed", "/test/ro",
                                            NULL, G_DBUS_SIGNAL_FLAGS_NONE, shared_signal_cb, seen, NULL);

  reply = shared_call (client, "/test/ro", "org.gnome.Mproc.SharedDict1", "Get",
                       g_variant_new ("(v)", g_variant_new_string ("a")), &error);
  g_assert_no_error (error);
  assert_printed (reply, "(<1>,)");
  g_clear_pointer (&reply, g_variant_unref);

  reply = shared_call (client, "/test/ro", "org.gnome.Mproc.SharedDict1", "Get",
                       g_variant_new ("(v)", g_variant_new_string ("missing")), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  reply = shared_call (client, "/test/ro", "org.gnome.Mproc.SharedDict1", "Set",
                       g_variant_new ("(vv)", g_variant_new_string ("b"), g_variant_new_int32 (2)), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);

  /* a write through the writable export, seen on the read-only one */
  reply = shared_call (client, "/test/rw", "org.gnome.Mproc.SharedDict1", "Set",
                       g_variant_new ("(vv)", g_variant_new_string ("b"), g_variant_new_int32 (2)), &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  while (seen->len == 0)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (seen->pdata[0], ==, "([<'b'>],)");

  reply = shared_call (client, "/test/ro", "org.gnome.Mproc.SharedDict1", "Len", NULL, &error);
  g_assert_no_error (error);
  assert_printed (reply, "(2,)");
  g_clear_pointer (&reply, g_variant_unref);

  g_assert_true (mproc_namespace_set (ns, "x", g_variant_new_int32 (5), NULL, &error));
  reply = shared_call (client, "/test/ns", "org.gnome.Mproc.SharedNamespace1", "Get",
                       g_variant_new ("(s)", "x"), &error);
  g_assert_no_error (error);
  assert_printed (reply, "(<5>,)");
  g_clear_pointer (&reply, g_variant_unref);
  reply = shared_call (client, "/test/ns", "org.gnome.Mproc.SharedNamespace1", "Delete",
                       g_variant_new ("(s)", "x"), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);

  g_dbus_connection_signal_unsubscribe (client, sub);
  mproc_shared_unexport (ro);
  mproc_shared_unexport (rw);
  mproc_shared_unexport (nsid);
  g_dbus_connection_close_sync (client, NULL, NULL);
  g_dbus_connection_close_sync (server, NULL, NULL);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  await_finalize (client);
  await_finalize (server);
  g_clear_object (&dict);
  g_clear_object (&ns);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&manager);
  leak_check_end (&leaks);
}

int
main (int argc, char *argv[])
{
  mproc_register_task ("test.echo", echo_task, NULL, NULL);
  mproc_register_task ("test.square", square_task, NULL, NULL);
  mproc_register_task ("test.fail", fail_task, NULL, NULL);
  mproc_register_task ("test.kill", kill_task, NULL, NULL);
  mproc_register_task ("test.sleep", sleep_task, NULL, NULL);
  mproc_register_chunk_task ("test.triple", triple_chunk, GINT_TO_POINTER (FALSE), NULL);
  mproc_register_chunk_task ("test.triple-or-die", triple_chunk, GINT_TO_POINTER (TRUE), NULL);
  mproc_register_chunk_task ("test.narrow", narrow_chunk, NULL, NULL);
  test_init (&argc, &argv);

  if (!g_test_subprocess ())
    {
      g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
      g_autoptr(MprocPool) pool = mproc_pool_new_full (context, 1, NULL, NULL, 0, NULL);
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;
      GDBusConnection *a, *b;

      /* The fork server, and GDBus's worker thread (with its context's
       * eventfd), live for ever once started: start them before any leak
       * check, and wait until GDBus has let go of the warm-up sockets. */
      mproc_pool_close (pool);
      mproc_pool_join (pool, -1, NULL, NULL);
      before = test_list_fds ();
      connection_pair (&a, &b);
      g_dbus_connection_close_sync (b, NULL, NULL);
      g_dbus_connection_close_sync (a, NULL, NULL);
      g_object_unref (a);
      g_object_unref (b);
      for (guint i = 0; i < 200; i++)
        {
          while (g_main_context_iteration (NULL, FALSE))
            ;
          g_free (after);
          after = test_list_fds ();
          if (strlen (after) <= strlen (before) + 3)   /* + the worker's eventfd */
            break;
          g_usleep (10000);
        }
    }

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/mproc/pool-dbus/submit", test_submit);
  ADD ("/mproc/pool-dbus/map", test_map);
  ADD ("/mproc/pool-dbus/map-numbers", test_map_numbers);
  ADD ("/mproc/pool-dbus/map-mixed", test_map_mixed);
  ADD ("/mproc/pool-dbus/map-array", test_map_array);
  ADD ("/mproc/pool-dbus/map-fd", test_map_fd);
  ADD ("/mproc/pool-dbus/map-into", test_map_into);
  ADD ("/mproc/pool-dbus/map-fd-worker-killed", test_map_fd_worker_killed);
  ADD ("/mproc/pool-dbus/errors", test_errors);
  ADD ("/mproc/pool-dbus/worker-killed", test_worker_killed);
  ADD ("/mproc/pool-dbus/signals", test_signals);
  ADD ("/mproc/pool-dbus/cancel", test_cancel);
  ADD ("/mproc/pool-dbus/limits", test_limits);
  ADD ("/mproc/pool-dbus/disconnect", test_disconnect);
#undef ADD
  g_test_add_func ("/mproc/shared-dbus/dict", test_shared_dict);
  return g_test_run ();
}
