/* test-manager-dbus.c: the manager's D-Bus plane, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-example-counter.h"
#include "test-util.h"

#define COUNTER_PATH "/org/gnome/Mproc/Example/Counter"
#define N_INCREMENTS 100

static gboolean
handle_increment (MprocExampleCounter   *counter,
                  GDBusMethodInvocation *invocation,
                  gpointer               user_data)
{
  guint64 value = mproc_example_counter_get_value (counter) + 1;

  mproc_example_counter_set_value (counter, value);
  mproc_example_counter_complete_increment (counter, invocation, value);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static GDBusInterfaceSkeleton *
counter_factory (gpointer user_data)
{
  MprocExampleCounter *counter = mproc_example_counter_skeleton_new ();

  g_signal_connect (counter, "handle-increment", G_CALLBACK (handle_increment), NULL);
  return G_DBUS_INTERFACE_SKELETON (counter);
}

static MprocManager *
start_manager (MprocStartMethod method)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (mproc_manager_get_dbus_address (manager));
  return g_steal_pointer (&manager);
}

static GVariant *
call (GDBusConnection  *connection,
      const char       *interface,
      const char       *method,
      GVariant         *args,
      GError          **error)
{
  return g_dbus_connection_call_sync (connection, NULL, MPROC_MANAGER_DBUS_OBJECT_PATH,
                                      interface, method, args, NULL, G_DBUS_CALL_FLAGS_NONE,
                                      10000, NULL, error);
}

static char *
introspect (const char *address,
            const char *path,
            int        *status)
{
  const char *argv[] = { "gdbus", "introspect", "--address", address, "--dest", "org.gnome.Mproc.Manager",
                         "--object-path", path, NULL };
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                               NULL, NULL, &out, NULL, status, &error));
  g_assert_no_error (error);
  return out;
}

/* --- Tests -------------------------------------------------------------- */

static void
test_introspect (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autofree char *out = NULL;
  g_autofree char *user = NULL;
  int status;

  g_test_summary ("gdbus introspect on the manager's address lists the interfaces of data/*.xml");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);

  out = introspect (mproc_manager_get_dbus_address (manager), MPROC_MANAGER_DBUS_OBJECT_PATH, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (out, "interface org.gnome.Mproc.Manager"));
  g_assert_nonnull (strstr (out, "interface org.gnome.Mproc.Dict"));
  g_assert_nonnull (strstr (out, "interface org.gnome.Mproc.List"));
  g_assert_nonnull (strstr (out, "interface org.gnome.Mproc.Namespace"));
  g_assert_nonnull (strstr (out, "Get(in  s name,"));
  g_assert_nonnull (strstr (out, "Set(in  s name,"));
  g_assert_nonnull (strstr (out, "Keys(in  s name,"));
  g_assert_nonnull (strstr (out, "readonly u ServerPid"));
  /* the command of mproc_manager_get_dbus_address()'s documentation */
  g_assert_nonnull (strstr (out, "Changed(s name,"));

  user = introspect (mproc_manager_get_dbus_address (manager), COUNTER_PATH, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (user, "interface org.gnome.Mproc.Example.Counter"));
  g_assert_nonnull (strstr (user, "Increment("));

  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_same_state (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint64 len;
  guint32 pid;

  g_test_summary ("D-Bus and the rings act on one state, in order");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_no_error (error);
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  ns = mproc_namespace_new (manager, "shared", NULL, &error);
  list = mproc_list_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);

  /* D-Bus Set, then ring get */
  reply = call (connection, "org.gnome.Mproc.Dict", "Set",
                g_variant_new ("(svv)", "shared", g_variant_new_string ("k"), g_variant_new_int32 (42)), &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  value = mproc_dict_get (dict, g_variant_new_string ("k"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 42);
  g_clear_pointer (&value, g_variant_unref);

  /* ring set (pipelined, no reply), then D-Bus Get */
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("j"), g_variant_new_string ("x"), NULL, &error));
  reply = call (connection, "org.gnome.Mproc.Dict", "Get",
                g_variant_new ("(sv)", "shared", g_variant_new_string ("j")), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (reply), ==, "(v)");
  g_variant_get (reply, "(v)", &value);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "x");
  g_clear_pointer (&value, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);

  reply = call (connection, "org.gnome.Mproc.Dict", "Len", g_variant_new ("(s)", "shared"), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(t)", &len);
  g_assert_cmpuint (len, ==, 2);
  g_clear_pointer (&reply, g_variant_unref);

  /* a missing key is MPROC_ERROR_NOT_FOUND on this side too */
  reply = call (connection, "org.gnome.Mproc.Dict", "Get",
                g_variant_new ("(sv)", "shared", g_variant_new_string ("nope")), &error);
  g_assert_null (reply);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* namespaces and lists */
  reply = call (connection, "org.gnome.Mproc.Namespace", "Set",
                g_variant_new ("(ssv)", "shared", "answer", g_variant_new_int32 (7)), &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  value = mproc_namespace_get (ns, "answer", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
  g_clear_pointer (&value, g_variant_unref);

  g_assert_true (mproc_list_append (list, g_variant_new_string ("a"), NULL, &error));
  reply = call (connection, "org.gnome.Mproc.List", "Append",
                g_variant_new ("(sv)", "shared", g_variant_new_string ("b")), &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  g_assert_cmpint (mproc_list_len (list, NULL, &error), ==, 2);
  reply = call (connection, "org.gnome.Mproc.List", "Get", g_variant_new ("(sx)", "shared", (gint64) 0), &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "a");
  g_clear_pointer (&value, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);

  /* the Manager interface */
  reply = call (connection, "org.gnome.Mproc.Manager", "Ping", NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  reply = g_dbus_connection_call_sync (connection, NULL, MPROC_MANAGER_DBUS_OBJECT_PATH,
                                       "org.freedesktop.DBus.Properties", "Get",
                                       g_variant_new ("(ss)", "org.gnome.Mproc.Manager", "ServerPid"),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(v)", &value);
  g_variant_get (value, "u", &pid);
  g_assert_cmpint (pid, ==, mproc_manager_get_server_pid (manager));
  g_clear_pointer (&value, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);

  g_assert_true (g_dbus_connection_close_sync (connection, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&connection);
  g_clear_object (&dict);
  g_clear_object (&ns);
  g_clear_object (&list);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_async (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  mproc_manager_dup_dbus_connection_async (manager, NULL, test_store_result, &result);
  test_wait_result (&result);
  connection = mproc_manager_dup_dbus_connection_finish (manager, result, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_DBUS_CONNECTION (connection));
  g_assert_true (g_dbus_connection_close_sync (connection, NULL, &error));
  g_clear_object (&connection);
  g_clear_object (&result);

  /* a manager that was never started has no D-Bus address */
  {
    g_autoptr(MprocManager) idle = mproc_manager_new ();

    g_assert_null (mproc_manager_get_dbus_address (idle));
    g_assert_null (mproc_manager_dup_dbus_connection (idle, NULL, &error));
    g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FAILED);
    g_clear_error (&error);
  }

  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
drop_privileges (gpointer user_data)
{
  if (setresgid (65534, 65534, 65534) != 0 || setresuid (65534, 65534, 65534) != 0)
    _exit (99);
}

static void
test_other_uid (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  const char *argv[] = { "gdbus", "introspect", "--address", NULL, "--dest", "org.gnome.Mproc.Manager",
                         "--object-path",
                         MPROC_MANAGER_DBUS_OBJECT_PATH, NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status;

  g_test_summary ("A peer of another user is refused (needs root to switch uid)");
  if (getuid () != 0)
    {
      g_test_skip ("not root: cannot run a peer as another user");
      return;
    }
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  argv[3] = mproc_manager_get_dbus_address (manager);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                               drop_privileges, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpint (WEXITSTATUS (status), !=, 99);   /* refused, not unable to switch */
  g_assert_null (strstr (out, "interface"));
  /* the server goes on serving its own user */
  g_clear_pointer (&out, g_free);
  out = introspect (mproc_manager_get_dbus_address (manager), MPROC_MANAGER_DBUS_OBJECT_PATH, &status);
  g_assert_cmpint (status, ==, 0);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
closed_cb (GDBusConnection *connection,
           gboolean         remote_peer_vanished,
           GError          *error,
           gpointer         user_data)
{
  *(gboolean *) user_data = TRUE;
}

static void
test_server_killed (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gboolean closed = FALSE;
  gint64 start;

  g_test_summary ("SIGKILL of the server: the D-Bus connection closes, calls fail at once");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (connection, "closed", G_CALLBACK (closed_cb), &closed);

  start = g_get_monotonic_time ();
  g_assert_no_errno (kill (mproc_manager_get_server_pid (manager), SIGKILL));
  while (!closed && g_get_monotonic_time () - start < 5 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (closed);
  g_assert_true (g_dbus_connection_is_closed (connection));

  /* the call's own timeout is 10 s: it must fail long before */
  reply = call (connection, "org.gnome.Mproc.Manager", "Ping", NULL, &error);
  g_assert_null (reply);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* and no new connection gets through */
  g_assert_null (mproc_manager_dup_dbus_connection (manager, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  g_clear_object (&connection);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_finalize_object (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* --- Changed signals ------------------------------------------------------ */

static void
changed_cb (GDBusConnection *connection,
            const char      *sender,
            const char      *object_path,
            const char      *interface,
            const char      *member,
            GVariant        *parameters,
            gpointer         user_data)
{
  GPtrArray *received = user_data;
  g_autofree char *text = g_variant_print (parameters, FALSE);

  g_assert_cmpstr (object_path, ==, MPROC_MANAGER_DBUS_OBJECT_PATH);
  g_assert_cmpstr (member, ==, "Changed");
  g_ptr_array_add (received, g_strdup_printf ("%s %s", interface + strlen ("org.gnome.Mproc."), text));
}

static int
target_set_b (MprocProcess *process,
              GVariant     *args,
              gpointer      user_data)
{
  MprocDict *dict = mproc_process_get_object (process, 0);

  return mproc_dict_set (dict, g_variant_new_string ("b"), g_variant_new_int32 (2), NULL, NULL) &&
         mproc_manager_ping (mproc_dict_get_manager (dict), NULL, NULL) ? 0 : 1;
}

static void
test_changed (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocManager) remote = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  /* Not fork: this process runs GDBus's worker thread, and a child forked
   * while it holds a lock (of the type system, say) would wait for ever. */
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocProcess) child = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocDict) remote_dict = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(GBytes) key = g_bytes_new_static ("a key of thirty-two bytes, or so", 32);
  g_autoptr(GPtrArray) received = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *expected[] = {
    "Dict ('shared', [<'a'>])",           /* a ring proxy of this process */
    "Dict ('shared', [<'b'>])",           /* a ring proxy of a child */
    "Dict ('shared', [<'c'>])",           /* a D-Bus call */
    "Dict ('shared', [<'d'>])",           /* a proxy over TCP */
    "Dict ('shared', [])",            /* an update: many keys */
    "Namespace ('shared', 'x')",
    "List ('shared', 0, 0, 1)",
    "Dict ('shared', [])",            /* clear */
  };
  guint id;
  gint64 deadline;

  g_test_summary ("D-Bus peers get Changed signals, whoever changed the object");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_no_error (error);
  id = g_dbus_connection_signal_subscribe (connection, NULL, NULL, "Changed", MPROC_MANAGER_DBUS_OBJECT_PATH,
                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE, changed_cb, received, NULL);
  /* the server knows the peer once a call went through */
  reply = call (connection, "org.gnome.Mproc.Manager", "Ping", NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);

  dict = mproc_dict_new (manager, "shared", NULL, &error);
  ns = mproc_namespace_new (manager, "shared", NULL, &error);
  list = mproc_list_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("a"), g_variant_new_int32 (1), NULL, &error));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));

  child = mproc_process_new_with_context (context, "set-b", NULL);
  mproc_process_add_object (child, MPROC_SHAREABLE (dict));
  g_assert_true (mproc_process_start (child, &error));
  g_assert_true (mproc_process_join (child, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_process_get_exit_code (child), ==, 0);

  reply = call (connection, "org.gnome.Mproc.Dict", "Set",
                g_variant_new ("(svv)", "shared", g_variant_new_string ("c"), g_variant_new_int32 (3)), &error);
  g_assert_no_error (error);

  mproc_manager_set_authkey (manager, key);
  g_assert_true (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error));
  remote = mproc_manager_connect_with_authkey (mproc_manager_get_tcp_address (manager), key, NULL, &error);
  g_assert_no_error (error);
  remote_dict = mproc_dict_new (remote, "shared", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (remote_dict, g_variant_new_string ("d"), g_variant_new_int32 (4), NULL, &error));
  g_assert_true (mproc_manager_ping (remote, NULL, &error));
  g_assert_no_error (error);

  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("{'e': 5, 'f': 6}"), NULL, &error));
  g_assert_true (mproc_namespace_set (ns, "x", g_variant_new_int32 (7), NULL, &error));
  g_assert_true (mproc_list_append (list, g_variant_new_int32 (8), NULL, &error));
  g_assert_true (mproc_dict_clear (dict, NULL, &error));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (received->len < G_N_ELEMENTS (expected) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (received->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (received->pdata[i], ==, expected[i]);

  g_dbus_connection_signal_unsubscribe (connection, id);
  g_clear_object (&remote_dict);
  g_assert_finalize_object (g_steal_pointer (&remote));
  g_clear_object (&dict);
  g_clear_object (&ns);
  g_clear_object (&list);
  g_clear_object (&child);
  g_clear_object (&connection);
  test_stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* --- A user-defined object, from two processes -------------------------- */

static int
target_increment (MprocProcess *process,
                  GVariant     *args,
                  gpointer      user_data)
{
  MprocManager *manager = mproc_process_get_object (process, 0);
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(MprocExampleCounter) counter = NULL;
  g_autoptr(GError) error = NULL;

  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  if (connection != NULL)
    counter = mproc_example_counter_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, NULL,
                                                    COUNTER_PATH, NULL, &error);
  for (guint i = 0; counter != NULL && i < N_INCREMENTS; i++)
    if (!mproc_example_counter_call_increment_sync (counter, NULL, NULL, &error))
      break;
  if (error != NULL)
    {
      g_printerr ("increment: %s\n", error->message);
      return 1;
    }
  return 0;
}

static void
user_object_run (MprocStartMethod method)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  g_autoptr(MprocManager) manager = start_manager (method);
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(MprocExampleCounter) counter = NULL;
  g_autoptr(GError) error = NULL;
  MprocProcess *workers[2];

  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      workers[i] = mproc_process_new_with_context (context, "increment", NULL);
      mproc_process_add_object (workers[i], MPROC_SHAREABLE (manager));
      g_assert_true (mproc_process_start (workers[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      g_assert_true (mproc_process_join (workers[i], 60 * G_USEC_PER_SEC, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (mproc_process_get_exit_code (workers[i]), ==, 0);
      g_object_unref (workers[i]);
    }

  /* the parent's GDBus starts only now: under fork, nobody forks after */
  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_no_error (error);
  counter = mproc_example_counter_proxy_new_sync (connection, G_DBUS_PROXY_FLAGS_NONE, NULL,
                                                  COUNTER_PATH, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_example_counter_get_value (counter), ==, 2 * N_INCREMENTS);
  g_clear_object (&counter);
  g_assert_true (g_dbus_connection_close_sync (connection, NULL, &error));
  g_clear_object (&connection);
  test_stop_manager (g_steal_pointer (&manager));
  g_assert_cmpuint (test_count_children (), ==, 0);
}

/* Each start method in a fresh subprocess: under fork, a server or a
 * worker forked from a process whose GDBus worker thread already runs
 * would have no such thread. */
static void
test_user_object (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;

  g_test_summary ("A registered D-Bus object, incremented from two processes");
  if (g_test_subprocess ())
    {
      user_object_run (method);
      return;
    }
  test_leak_check_begin (&check);
  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  test_leak_check_end (&check);
}

/* GDBus keeps a worker thread (and its wake-up fd) once it has been used:
 * start it before the first leak check. */
static void
warm_up_gdbus (void)
{
  g_autoptr(MprocManager) manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(GDBusConnection) connection = NULL;
  g_autoptr(GError) error = NULL;

  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_clear_object (&connection);
  test_stop_manager (g_steal_pointer (&manager));
}

int
main (int argc, char *argv[])
{
  mproc_manager_register_dbus_object (COUNTER_PATH, counter_factory, NULL, NULL);
  mproc_register_target ("increment", target_increment, NULL, NULL);
  mproc_register_target ("set-b", target_set_b, NULL, NULL);
  test_init (&argc, &argv);
  if (!g_test_subprocess ())
    warm_up_gdbus ();

  test_add_method_test ("/mproc/manager-dbus", "user-object", test_user_object);
  g_test_add_func ("/mproc/manager-dbus/introspect", test_introspect);
  g_test_add_func ("/mproc/manager-dbus/same-state", test_same_state);
  g_test_add_func ("/mproc/manager-dbus/async", test_async);
  g_test_add_func ("/mproc/manager-dbus/other-uid", test_other_uid);
  g_test_add_func ("/mproc/manager-dbus/server-killed", test_server_killed);
  g_test_add_func ("/mproc/manager-dbus/changed", test_changed);

  return g_test_run ();
}
