/* test-worker-service.c: mproc-worker-service on a private session bus
 * (GTestDBus), started by D-Bus activation
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <glib/gstdio.h>
#include <mproc.h>

#define BUS_NAME  "org.gnome.Mproc.Test.WorkerService"
#define POOL_PATH "/org/gnome/Mproc/Pool"

static GTestDBus *bus;

static GDBusConnection *
connect_bus (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *connection;

  connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (bus),
                                                       G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                       G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                       NULL, NULL, &error);
  g_assert_no_error (error);
  return connection;
}

static GVariant *
call (GDBusConnection  *connection,
      const char       *method,
      GVariant         *args,
      GError          **error)
{
  return g_dbus_connection_call_sync (connection, BUS_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, method,
                                      args, NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL, error);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
call_async (GDBusConnection  *connection,
            const char       *method,
            GVariant         *args,
            GAsyncResult    **result)
{
  g_dbus_connection_call (connection, BUS_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, method, args,
                          NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL, store_result, result);
}

static void
wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
name_has_owner (GDBusConnection *connection)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  gboolean has;

  reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", BUS_NAME),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(b)", &has);
  return has;
}

static guint
get_uint_property (GDBusConnection *connection,
                   const char      *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  reply = g_dbus_connection_call_sync (connection, BUS_NAME, POOL_PATH, "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", MPROC_POOL_DBUS_INTERFACE, name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  return g_variant_get_uint32 (value);
}

/* Waits (up to @seconds) until the service has left the bus. */
static gboolean
wait_name_gone (GDBusConnection *connection,
                guint            seconds)
{
  for (guint i = 0; i < seconds * 10; i++)
    {
      if (!name_has_owner (connection))
        return TRUE;
      g_usleep (100000);
    }
  return FALSE;
}

static void
test_activation (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *printed = NULL;

  g_test_summary ("A client's call starts the service by D-Bus activation, and it answers");
  g_assert_true (wait_name_gone (connection, 30));
  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_string ("up")), &error);
  g_assert_no_error (error);
  printed = g_variant_print (reply, FALSE);
  g_assert_cmpstr (printed, ==, "(<'up'>,)");
  g_assert_true (name_has_owner (connection));
  g_assert_cmpuint (get_uint_property (connection, "Workers"), ==, 2);
}

static void
test_submit_map (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *printed = NULL;
  GVariantBuilder items;

  g_test_summary ("Submit, Map and MapArray of the example module's targets from C");
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < 4; i++)
    g_variant_builder_add (&items, "v", g_variant_new_int64 (i));
  reply = call (connection, "Map", g_variant_new ("(sav)", "example.double", &items), &error);
  g_assert_no_error (error);
  printed = g_variant_print (reply, FALSE);
  g_assert_cmpstr (printed, ==, "([<int64 0>, <int64 2>, <int64 4>, <int64 6>],)");
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&printed, g_free);

  reply = call (connection, "MapArray", g_variant_new_parsed ("('example.double', <[int64 5, 6]>)"), &error);
  g_assert_no_error (error);
  printed = g_variant_print (reply, FALSE);
  g_assert_cmpstr (printed, ==, "(<[int64 10, 12]>,)");
}

static void
test_errors (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *big = g_strnfill (1100000, 'x');

  g_test_summary ("Errors come back as the same GError; oversize, over-limit and malformed calls are "
                  "refused and the service goes on");

  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.fail", g_variant_new_string ("gone")), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_dbus_error_strip_remote_error (error);
  g_assert_cmpstr (error->message, ==, "gone");
  g_clear_error (&error);

  reply = call (connection, "Submit", g_variant_new ("(sv)", "libc.system", g_variant_new_string ("rm -rf /")), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET);
  g_clear_error (&error);

  reply = call (connection, "Submit", g_variant_new ("(ss)", "example.echo", "not a variant"), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_string (big)), &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_LIMITS_EXCEEDED);
  g_clear_error (&error);

  /* the test service takes 100 000 queued tasks per caller */
  {
    g_autofree gint64 *many = g_new0 (gint64, 100001);

    reply = call (connection, "MapArray",
                  g_variant_new ("(sv)", "example.double",
                                 g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, many, 100001, sizeof (gint64))),
                  &error);
    g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FULL);
    g_clear_error (&error);
  }

  /* a chunk target refusing items of the wrong type */
  reply = call (connection, "MapArray", g_variant_new_parsed ("('example.double', <['a', 'b']>)"), &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_int32 (1)), &error);
  g_assert_no_error (error);
}

/* Errors of a domain with no D-Bus names keep their domain, code and
 * message: a module's own, GIO's, one whose name needs escaping. */
static void
test_error_domains (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  const struct {
    const char *domain;
    int code;
    const char *dbus_name;
  } cases[] = {
    { "example-module-error-quark", 7, "org.gnome.Mproc.Error.Domain.example_2dmodule_2derror_2dquark.Code7" },
    { "g-io-error-quark", G_IO_ERROR_NOT_FOUND, "org.gnome.Mproc.Error.Domain.g_2dio_2derror_2dquark.Code1" },
    { "9lives.Error domain", 0, "org.gnome.Mproc.Error.Domain._39lives_2eError_20domain.Code0" },
  };

  g_test_summary ("A module's error of any domain maps to org.gnome.Mproc.Error.Domain.*, "
                  "never org.gtk.GDBus.UnmappedGError, and decodes to the same domain, code and message");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) decoded = NULL;
      g_autoptr(GVariant) reply = NULL;
      g_autofree char *remote = NULL;

      reply = call (connection, "Submit",
                    g_variant_new ("(sv)", "example.fail-own",
                                   g_variant_new ("(sis)", cases[i].domain, cases[i].code, "it went wrong")),
                    &error);
      g_assert_null (reply);
      g_assert_nonnull (error);
      remote = g_dbus_error_get_remote_error (error);
      g_assert_cmpstr (remote, ==, cases[i].dbus_name);

      decoded = mproc_dbus_error_decode (error);
      g_assert_cmpstr (g_quark_to_string (decoded->domain), ==, cases[i].domain);
      g_assert_cmpint (decoded->code, ==, cases[i].code);
      g_assert_cmpstr (decoded->message, ==, "it went wrong");
    }

  /* registered domains are left as they are, message stripped */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) decoded = NULL;
    g_autoptr(GVariant) reply = NULL;

    reply = call (connection, "Submit", g_variant_new ("(sv)", "example.fail", g_variant_new_string ("gone")), &error);
    decoded = mproc_dbus_error_decode (error);
    g_assert_error (decoded, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
    g_assert_cmpstr (decoded->message, ==, "gone");
  }

  /* a remote name that only looks like ours stays a D-Bus error */
  {
    g_autoptr(GError) fake = g_dbus_error_new_for_dbus_error ("org.gnome.Mproc.Error.Domain.a_zz.Code1", "x");
    g_autoptr(GError) decoded = mproc_dbus_error_decode (fake);

    g_assert_error (decoded, G_IO_ERROR, G_IO_ERROR_DBUS_ERROR);
  }
}

/* MapFd of a sealed memfd of 16 zero bytes, said to hold @type_string */
static GVariant *
call_map_fd (GDBusConnection  *connection,
             const char       *type_string,
             GError          **error)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  guint8 zeroes[16] = { 0, };
  int fd = memfd_create ("test-items", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, zeroes, sizeof zeroes), ==, sizeof zeroes);
  g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), ==, 0);
  g_assert_cmpint (g_unix_fd_list_append (fds, fd, NULL), ==, 0);
  close (fd);
  return g_dbus_connection_call_with_unix_fd_list_sync (connection, BUS_NAME, POOL_PATH,
                                                        MPROC_POOL_DBUS_INTERFACE, "MapFd",
                                                        g_variant_new ("(ssh)", "example.double",
                                                                       type_string, 0),
                                                        NULL, G_DBUS_CALL_FLAGS_NONE, 60000, fds,
                                                        NULL, NULL, error);
}

static void
test_indefinite_types (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *arrays = g_strnfill (200, 'a');
  g_autofree char *deep = NULL;
  const char *types[] = { "ar", "a*", "a?", "a(rv)", "a{?v}", "am*", "a", "a(", "a{vv}", "ai(" };

  g_test_summary ("A type string that is not a definite type (or is too deep) is refused with a "
                  "D-Bus error by MapFd and MapInto, and the service goes on");

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      reply = call_map_fd (connection, types[i], &error);
      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      g_assert_null (reply);
      g_clear_error (&error);

      reply = g_dbus_connection_call_sync (connection, BUS_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE,
                                           "MapInto",
                                           g_variant_new ("(sshuh)", "example.double", types[i], 0, 1, 0),
                                           NULL, G_DBUS_CALL_FLAGS_NONE, 60000, NULL, &error);
      g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
      g_assert_null (reply);
      g_clear_error (&error);
    }

  /* valid and definite, but nested 200 deep */
  deep = g_strconcat ("a", arrays, "i", NULL);
  reply = call_map_fd (connection, deep, &error);
  g_assert_error (error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS);
  g_clear_error (&error);

  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_int32 (1)), &error);
  g_assert_no_error (error);
}

static GPid
read_pid (const char *path)
{
  g_autofree char *contents = NULL;

  while (!g_file_get_contents (path, &contents, NULL, NULL) || contents[0] == '\0')
    {
      g_clear_pointer (&contents, g_free);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
  return atoi (contents);
}

static void
test_worker_killed (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) killed = NULL;
  g_autoptr(GAsyncResult) other_map = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *dir = g_dir_make_tmp ("dbus-test-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "pid", NULL);
  GAsyncResult *submits[4] = { NULL, };
  GVariantBuilder items;
  GPid pid;

  g_test_summary ("SIGKILL of the worker running a remote map's task fails that map with WORKER_DIED "
                  "over the bus; the other calls succeed");
  g_assert_no_error (error);

  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  g_variant_builder_add (&items, "v", g_variant_new ("(su)", path, 60000));
  call_async (connection, "Map", g_variant_new ("(sav)", "example.pid-sleep", &items), &killed);
  pid = read_pid (path);

  for (guint i = 0; i < G_N_ELEMENTS (submits); i++)
    call_async (connection, "Submit", g_variant_new ("(sv)", "example.sleep", g_variant_new ("(u)", 10 + i)),
                &submits[i]);
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < 6; i++)
    g_variant_builder_add (&items, "v", g_variant_new ("(su)", "", 5));
  call_async (connection, "Map", g_variant_new ("(sav)", "example.pid-sleep", &items), &other_map);

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  wait_result (&killed);
  reply = g_dbus_connection_call_finish (connection, killed, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  g_clear_error (&error);

  for (guint i = 0; i < G_N_ELEMENTS (submits); i++)
    {
      g_autoptr(GVariant) ok = NULL;
      g_autoptr(GVariant) value = NULL;

      wait_result (&submits[i]);
      ok = g_dbus_connection_call_finish (connection, submits[i], &error);
      g_assert_no_error (error);
      g_variant_get (ok, "(v)", &value);
      g_assert_cmpuint (g_variant_get_uint32 (value), ==, 10 + i);
      g_object_unref (submits[i]);
    }
  wait_result (&other_map);
  reply = g_dbus_connection_call_finish (connection, other_map, &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) results = g_variant_get_child_value (reply, 0);

    g_assert_cmpuint (g_variant_n_children (results), ==, 6);
  }
  g_clear_pointer (&reply, g_variant_unref);

  /* the pool replaced the worker */
  g_assert_cmpuint (get_uint_property (connection, "Workers"), ==, 2);
  g_unlink (path);
  g_rmdir (dir);
}

static void
test_client_disconnect (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GDBusConnection) leaving = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariantBuilder items;
  gint64 t0;

  g_test_summary ("A client that disconnects mid-map has its queued tasks dropped; the service stays "
                  "responsive");
  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < 100; i++)
    g_variant_builder_add (&items, "v", g_variant_new ("(u)", 100));
  /* 100 × 100 ms on 2 workers: 5 s if nothing were dropped */
  g_dbus_connection_call (leaving, BUS_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, "Map",
                          g_variant_new ("(sav)", "example.sleep", &items), NULL,
                          G_DBUS_CALL_FLAGS_NONE, 60000, NULL, NULL, NULL);
  g_dbus_connection_flush_sync (leaving, NULL, NULL);
  t0 = g_get_monotonic_time ();
  while (get_uint_property (connection, "Queued") == 0)
    g_usleep (10000);

  g_dbus_connection_close_sync (leaving, NULL, NULL);
  while (get_uint_property (connection, "Queued") != 0)
    g_usleep (20000);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 4 * G_USEC_PER_SEC);

  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_int32 (2)), &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 4 * G_USEC_PER_SEC);
}

static void
test_gdbus_call (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = { "gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", POOL_PATH,
                         "--method", "org.gnome.Mproc.Pool1.Submit", "example.echo", "<'from the shell'>", NULL };
  int status;

  g_test_summary ("The README's gdbus call works");
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpstr (out, ==, "(<'from the shell'>,)\n");
}

static void
test_c_client (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { POOL_DBUS_CLIENT, BUS_NAME, NULL };
  int status;

  g_test_summary ("examples/pool-dbus-client runs against the service");
  if (!g_file_test (POOL_DBUS_CLIENT, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("examples not built");
      return;
    }
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "Submit example.echo: (<'hello'>,)"));
  g_assert_nonnull (strstr (out, "MapArray example.double: (<[int64 0, 2, 4, 6, 8, 10, 12, 14, 16, 18]>,)"));
  /* 2 × (0 + … + 99999) */
  g_assert_nonnull (strstr (out, "MapFd ax: 100000 items, sum 9999900000"));
  g_assert_nonnull (strstr (out, "MapInto ax: 100000 items, sum 9999900000"));
  g_assert_nonnull (strstr (out, "org.gnome.Mproc.Error.NotFound: no such file"));
}

static void
run_service (const char **args,
             int         *status,
             char       **err)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (char *) SERVICE);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                               NULL, err, status, &error));
  g_assert_no_error (error);
}

static void
test_refusals (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *err = NULL;
  const char *bad_module[] = { "--modules-dir", BAD_MODULES_DIR, NULL };
  const char *no_dir[] = { "--modules-dir", "/nonexistent/modules", NULL };
  const char *taken[] = { "--modules-dir", MODULES_DIR, "--bus-name", BUS_NAME, NULL };
  int status;

  g_test_summary ("The service refuses to start, with a clear message, on a bad module, a missing "
                  "directory or a bus name that is taken");
  run_service (bad_module, &status, &err);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "failed to initialise: this test module always refuses to load"));
  g_clear_pointer (&err, g_free);

  run_service (no_dir, &status, &err);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "/nonexistent/modules"));
  g_clear_pointer (&err, g_free);

  /* make sure the activated instance holds the name */
  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_int32 (1)), &error);
  g_assert_no_error (error);
  run_service (taken, &status, &err);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "is already owned"));
}

static void
test_config (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *dir = g_dir_make_tmp ("dbus-test-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "service.conf", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *contents = g_strdup_printf ("[Service]\nBusName=org.gnome.Mproc.Test.Configured\n"
                                               "ModulesDir=%s\nWorkers=1\nIdleTimeout=1\n"
                                               "StartMethod=spawn\n", MODULES_DIR);
  g_autofree char *err = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { SERVICE, "--config", path, NULL };
  const char *bad_args[] = { "--config", NULL, NULL };
  const char *version[] = { SERVICE, "--version", NULL };
  int status;
  GPid pid;

  g_test_summary ("Settings come from a key file (workers started by spawn know the modules' "
                  "targets); a wrong value is refused; --version prints it");
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_true (g_file_set_contents (bad, "[Service]\nWorkers=many\n", -1, &error));

  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr(GVariant) has = NULL;
      gboolean owned = FALSE;

      has = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                         "org.freedesktop.DBus", "NameHasOwner",
                                         g_variant_new ("(s)", "org.gnome.Mproc.Test.Configured"),
                                         G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      g_assert_no_error (error);
      g_variant_get (has, "(b)", &owned);
      if (owned)
        break;
      g_usleep (10000);
    }
  reply = g_dbus_connection_call_sync (connection, "org.gnome.Mproc.Test.Configured", POOL_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", MPROC_POOL_DBUS_INTERFACE, "Workers"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *printed = g_variant_print (reply, FALSE);

    g_assert_cmpstr (printed, ==, "(<uint32 1>,)");
  }
  /* a spawned worker executed the service again: it loaded the modules too */
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_dbus_connection_call_sync (connection, "org.gnome.Mproc.Test.Configured", POOL_PATH,
                                       MPROC_POOL_DBUS_INTERFACE, "Submit",
                                       g_variant_new ("(sv)", "example.echo", g_variant_new_string ("spawned")),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *printed = g_variant_print (reply, FALSE);

    g_assert_cmpstr (printed, ==, "(<'spawned'>,)");
  }
  /* idle for 1 s: it exits by itself, successfully */
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  g_assert_true (g_spawn_check_wait_status (status, NULL));

  bad_args[1] = bad;
  run_service (bad_args, &status, &err);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "Workers"));

  g_assert_true (g_spawn_sync (NULL, (char **) version, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (out, "mproc-worker-service "));

  g_unlink (path);
  g_unlink (bad);
  g_rmdir (dir);
}

static void
test_idle_exit (void)
{
  g_autoptr(GDBusConnection) connection = connect_bus ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_test_summary ("The service exits when idle, and the next call starts it again");
  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_int32 (1)), &error);
  g_assert_no_error (error);
  g_assert_true (name_has_owner (connection));
  g_assert_true (wait_name_gone (connection, 60));
  g_clear_pointer (&reply, g_variant_unref);
  reply = call (connection, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_int32 (2)), &error);
  g_assert_no_error (error);
  g_assert_true (wait_name_gone (connection, 60));
}

int
main (int argc, char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mproc/worker-service/activation", test_activation);
  g_test_add_func ("/mproc/worker-service/submit-map", test_submit_map);
  g_test_add_func ("/mproc/worker-service/errors", test_errors);
  g_test_add_func ("/mproc/worker-service/error-domains", test_error_domains);
  g_test_add_func ("/mproc/worker-service/indefinite-types", test_indefinite_types);
  g_test_add_func ("/mproc/worker-service/worker-killed", test_worker_killed);
  g_test_add_func ("/mproc/worker-service/client-disconnect", test_client_disconnect);
  g_test_add_func ("/mproc/worker-service/gdbus-call", test_gdbus_call);
  g_test_add_func ("/mproc/worker-service/c-client", test_c_client);
  g_test_add_func ("/mproc/worker-service/refusals", test_refusals);
  g_test_add_func ("/mproc/worker-service/config", test_config);
  g_test_add_func ("/mproc/worker-service/idle-exit", test_idle_exit);

  (void) mproc_error_quark ();   /* the domain, registered for D-Bus */
  bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_add_service_dir (bus, SERVICES_DIR);
  g_test_dbus_up (bus);
  ret = g_test_run ();
  g_test_dbus_down (bus);
  g_object_unref (bus);
  return ret;
}
