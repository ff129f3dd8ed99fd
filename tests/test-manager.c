/* test-manager.c: MprocManager, MprocDict, MprocList and MprocNamespace with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-manager-private.h"
#include "test-redis-util.h"
#include "test-util.h"

/* MPROC_TEST_MANAGER_BACKEND=redis: the backend-neutral tests run again
 * with their objects in a redis-server started here, each test under a
 * prefix of its own */
static TestRedis *redis_backend;


/* The backend-neutral tests take their manager here: the built-in one, or
 * one for the Redis URI of the test's own prefix. */
static MprocManager *
start_manager (MprocStartMethod method)
{
  g_autoptr(GError) error = NULL;
  MprocManager *manager;
  static guint serial;
  g_autofree char *uri = NULL;

  if (redis_backend == NULL)
    return test_start_manager (method);
  uri = g_strdup_printf ("%s?prefix=t%u", redis_backend->uri, ++serial);
  manager = mproc_manager_new_for_uri (uri, NULL, &error);
  g_assert_no_error (error);
  return manager;
}

static void
stop_manager (MprocManager *manager)
{
  if (redis_backend == NULL)
    {
      test_stop_manager (manager);
      return;
    }
  g_assert_finalize_object (manager);
}

/* How many fds of @pid name a client: its socket and its rings' memory.
 * Other fds come and go with the server's threads (wakeups opened
 * lazily, epoll instances cached while they wait). */
static guint
count_client_fds_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  DIR *dir = opendir (path);
  struct dirent *entry;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *link = g_strdup_printf ("%s/%s", path, entry->d_name);
      g_autofree char *target = g_file_read_link (link, NULL);

      if (target != NULL && (g_str_has_prefix (target, "socket:") ||
                             g_str_has_prefix (target, "/memfd:mproc-manager-client")))
        n++;
    }
  closedir (dir);
  return n;
}

/* Stops @pid and waits until every thread of it is stopped (kill() only
 * queues the signal). */
static void
stop_process (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/task", (int) pid);
  gboolean all_stopped = FALSE;

  g_assert_no_errno (kill (pid, SIGSTOP));
  while (!all_stopped)
    {
      DIR *dir = opendir (path);
      struct dirent *entry;

      g_assert_nonnull (dir);
      all_stopped = TRUE;
      while ((entry = readdir (dir)) != NULL)
        {
          g_autofree char *stat_path = NULL;
          g_autofree char *contents = NULL;
          const char *end;

          if (entry->d_name[0] == '.')
            continue;
          stat_path = g_strdup_printf ("%s/%s/stat", path, entry->d_name);
          if (!g_file_get_contents (stat_path, &contents, NULL, NULL))
            continue;
          end = strrchr (contents, ')');
          if (end == NULL || (end[2] != 'T' && end[2] != 't'))
            all_stopped = FALSE;
        }
      closedir (dir);
      if (!all_stopped)
        g_usleep (1000);
    }
}

/* --- Child targets ------------------------------------------------------ */

/* args (sii): mode, index, n; objects: dict, list, namespace */
static int
target_worker (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocDict *dict = mproc_process_get_object (process, 0);
  MprocList *list = mproc_process_get_object (process, 1);
  MprocNamespace *ns = mproc_process_get_object (process, 2);
  g_autoptr(GError) error = NULL;
  const char *mode;
  int index, n;

  g_variant_get (args, "(&sii)", &mode, &index, &n);

  if (g_str_equal (mode, "fill"))
    {
      for (int k = 0; k < n; k++)
        {
          if (!mproc_dict_set (dict, g_variant_new_int32 (index * 1000 + k), g_variant_new_int32 (k),
                               NULL, &error) ||
              !mproc_list_append (list, g_variant_new_int32 (index * 1000 + k), NULL, &error))
            g_error ("%s", error->message);
          if (k % 10 == 0 && !mproc_dict_contains (dict, g_variant_new_int32 (index * 1000 + k), &(gboolean) { 0 }, NULL, &error))
            g_error ("%s", error->message);
        }
      if (!mproc_namespace_set (ns, "done", g_variant_new_int32 (index), NULL, &error) ||
          !mproc_manager_ping (mproc_dict_get_manager (dict), NULL, &error))
        g_error ("%s", error->message);
      return 0;
    }
  if (g_str_equal (mode, "model"))
    {
      /* a fixed sequence of changes at known positions */
      /* the list holds [first] */
      mproc_list_append (list, g_variant_new_string ("a"), NULL, &error);
      mproc_list_append (list, g_variant_new_string ("b"), NULL, &error);
      mproc_list_insert (list, 0, g_variant_new_string ("c"), NULL, &error);      /* c first a b */
      mproc_list_extend (list, g_variant_new_strv ((const char *[]) { "d", "e", NULL }, -1),
                         NULL, &error);                                           /* c first a b d e */
      mproc_list_remove (list, g_variant_new_string ("a"), NULL, &error);          /* c first b d e */
      g_assert_no_error (error);
      g_variant_unref (mproc_list_pop (list, -2, NULL, &error));                   /* c first b e */
      mproc_list_set (list, 1, g_variant_new_string ("B"), NULL, &error);          /* c B b e */
      mproc_list_insert (list, -1, g_variant_new_string ("x"), NULL, &error);      /* c B b x e */
      mproc_dict_set (dict, g_variant_new_string ("key"), g_variant_new_int32 (1), NULL, &error);
      mproc_namespace_set (ns, "attr", g_variant_new_boolean (TRUE), NULL, &error);
      mproc_dict_remove (dict, g_variant_new_string ("key"), NULL, &error);
      g_assert_no_error (error);
      mproc_manager_ping (mproc_dict_get_manager (dict), NULL, &error);
      g_assert_no_error (error);
      return 0;
    }
  if (g_str_equal (mode, "views"))
    {
      g_autoptr(GVariant) value = NULL;
      gboolean present = FALSE;

      /* the parent's writes, read from the views */
      for (int k = 0; k < n; k++)
        {
          value = mproc_dict_get (dict, g_variant_new_int32 (k), NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int32 (value), ==, 2 * k);
          g_clear_pointer (&value, g_variant_unref);
        }
      g_assert_true (mproc_dict_contains (dict, g_variant_new_int32 (n - 1), &present, NULL, &error));
      g_assert_true (present);
      g_assert_true (mproc_dict_contains (dict, g_variant_new_int32 (n), &present, NULL, &error));
      g_assert_false (present);
      g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, n);
      value = mproc_namespace_get (ns, "from-parent", NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
      g_clear_pointer (&value, g_variant_unref);
      g_assert_null (mproc_namespace_get (ns, "unset", NULL, &error));
      g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
      g_clear_error (&error);

      /* read-your-writes: each get follows a pipelined set */
      for (int k = 0; k < n; k++)
        {
          g_assert_true (mproc_dict_set (dict, g_variant_new_string ("own"), g_variant_new_int32 (k), NULL, &error));
          value = mproc_dict_get (dict, g_variant_new_string ("own"), NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int32 (value), ==, k);
          g_clear_pointer (&value, g_variant_unref);
          g_assert_true (mproc_namespace_set (ns, "own", g_variant_new_int32 (k), NULL, &error));
          value = mproc_namespace_get (ns, "own", NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int32 (value), ==, k);
          g_clear_pointer (&value, g_variant_unref);
          g_assert_true (mproc_dict_remove (dict, g_variant_new_string ("own"), NULL, &error));
          g_assert_true (mproc_dict_contains (dict, g_variant_new_string ("own"), &present, NULL, &error));
          g_assert_false (present);
        }

      /* writes the parent reads after join(), with no round trip here */
      for (int k = 0; k < n; k++)
        g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1000 + k), g_variant_new_int32 (k), NULL, &error));
      g_assert_no_error (error);
      return 0;
    }
  if (g_str_equal (mode, "spin"))
    {
      /* calls until killed */
      for (guint i = 0;; i++)
        {
          mproc_dict_set (dict, g_variant_new_uint32 (i % 100), g_variant_new_uint32 (i), NULL, NULL);
          g_clear_pointer (&(GVariant *) { mproc_dict_get_default (dict, g_variant_new_uint32 (i % 100),
                                                                   g_variant_new_uint32 (0), NULL, NULL) },
                           g_variant_unref);
          if (i == 100)
            mproc_namespace_set (ns, "spinning", g_variant_new_boolean (TRUE), NULL, NULL);
        }
    }
  return 1;
}

static MprocProcess *
new_worker (MprocStartMethod method, const char *mode, int index, int n,
            MprocDict *dict, MprocList *list, MprocNamespace *ns)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  MprocProcess *process = mproc_process_new_with_context (context, "worker",
                                                          g_variant_new ("(sii)", mode, index, n));

  mproc_process_add_object (process, MPROC_SHAREABLE (dict));
  mproc_process_add_object (process, MPROC_SHAREABLE (list));
  mproc_process_add_object (process, MPROC_SHAREABLE (ns));
  return process;
}

/* --- Tests --------------------------------------------------------------- */

static void
test_start_shutdown (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  MprocManager *manager;
  GPid server;

  g_test_summary ("A manager starts its server, serves, shuts down and leaves nothing behind");
  test_leak_check_begin (&check);

  manager = start_manager (method);
  g_assert_true (g_str_has_prefix (mproc_manager_get_address (manager), "unix:abstract="));
  server = mproc_manager_get_server_pid (manager);
  g_assert_cmpint (server, >, 0);
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);

  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_string ("one"), NULL, &error));
  value = mproc_dict_get (dict, g_variant_new_int32 (1), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "one");

  /* a second start is refused */
  g_assert_false (mproc_manager_start (manager, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_STILL_RUNNING);
  g_clear_error (&error);

  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (kill (server, 0) < 0);
  /* later calls fail at once */
  g_assert_null (mproc_dict_get (dict, g_variant_new_int32 (1), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));   /* idempotent */
  g_clear_object (&dict);
  g_assert_finalize_object (manager);

  test_leak_check_end (&check);
}

static void
test_dict_ops (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocDict) same = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) snapshot = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;
  gboolean present = TRUE;

  g_test_summary ("Every dict operation, with its errors");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);

  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 0);
  g_assert_null (mproc_dict_get (dict, g_variant_new_string ("k"), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "'k'"));
  g_clear_error (&error);

  mproc_dict_set (dict, g_variant_new_string ("k"), g_variant_new_int32 (1), NULL, &error);
  mproc_dict_set (dict, g_variant_new_int32 (2), g_variant_new_strv ((const char *[]) { "x", NULL }, -1), NULL, &error);
  g_assert_no_error (error);
  value = mproc_dict_get (dict, g_variant_new_string ("k"), NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 1);
  g_clear_pointer (&value, g_variant_unref);
  /* the key's type counts */
  g_assert_true (mproc_dict_contains (dict, g_variant_new_int64 (2), &present, NULL, &error));
  g_assert_false (present);
  g_assert_true (mproc_dict_contains (dict, g_variant_new_int32 (2), &present, NULL, &error));
  g_assert_true (present);

  value = mproc_dict_get_default (dict, g_variant_new_string ("missing"), g_variant_new_int32 (7), NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
  g_clear_pointer (&value, g_variant_unref);

  value = mproc_dict_setdefault (dict, g_variant_new_string ("k"), g_variant_new_int32 (9), NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 1);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_dict_setdefault (dict, g_variant_new_string ("new"), g_variant_new_int32 (9), NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 9);
  g_clear_pointer (&value, g_variant_unref);

  value = mproc_dict_pop (dict, g_variant_new_string ("new"), NULL, NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 9);
  g_clear_pointer (&value, g_variant_unref);
  g_assert_null (mproc_dict_pop (dict, g_variant_new_string ("new"), NULL, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  value = mproc_dict_pop (dict, g_variant_new_string ("new"), g_variant_new_int32 (3), NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 3);
  g_clear_pointer (&value, g_variant_unref);

  g_assert_true (mproc_dict_remove (dict, g_variant_new_int32 (2), NULL, &error));
  g_assert_false (mproc_dict_remove (dict, g_variant_new_int32 (2), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{ix}"));
  for (int i = 0; i < 1000; i++)
    g_variant_builder_add (&builder, "{ix}", i, (gint64) i * 2);
  g_assert_true (mproc_dict_update (dict, g_variant_builder_end (&builder), NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1001);
  value = mproc_dict_get (dict, g_variant_new_int32 (999), NULL, &error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 1998);
  g_clear_pointer (&value, g_variant_unref);

  /* snapshots, in insertion order */
  snapshot = mproc_dict_keys (dict, NULL, &error);
  g_assert_cmpuint (g_variant_n_children (snapshot), ==, 1001);
  g_clear_pointer (&snapshot, g_variant_unref);
  snapshot = mproc_dict_items (dict, NULL, &error);
  g_assert_true (g_variant_is_of_type (snapshot, G_VARIANT_TYPE ("a(vv)")));
  {
    g_autoptr(GVariant) first = g_variant_get_child_value (snapshot, 0);
    g_autoptr(GVariant) second = g_variant_get_child_value (snapshot, 1);
    g_autofree char *a = g_variant_print (first, FALSE);
    g_autofree char *b = g_variant_print (second, FALSE);

    g_assert_cmpstr (a, ==, "(<'k'>, <1>)");
    g_assert_cmpstr (b, ==, "(<0>, <int64 0>)");
  }
  g_clear_pointer (&snapshot, g_variant_unref);
  snapshot = mproc_dict_values (dict, NULL, &error);
  g_assert_cmpuint (g_variant_n_children (snapshot), ==, 1001);

  /* a named dict is the same one */
  same = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_cmpint (mproc_dict_len (same, NULL, &error), ==, 1001);
  g_assert_true (mproc_dict_clear (dict, NULL, &error));
  g_assert_cmpint (mproc_dict_len (same, NULL, &error), ==, 0);
  g_assert_no_error (error);

  g_clear_object (&dict);
  g_clear_object (&same);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_list_ops (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_test_summary ("Every list operation, with its errors");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  list = mproc_list_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  for (int i = 0; i < 5; i++)
    mproc_list_append (list, g_variant_new_int32 (i), NULL, &error);            /* 0 1 2 3 4 */
  mproc_list_extend (list, g_variant_new ("ai", NULL), NULL, &error);
  {
    gint32 more[] = { 5, 6 };

    mproc_list_extend (list, g_variant_new_fixed_array (G_VARIANT_TYPE_INT32, more, 2, sizeof (gint32)),
                       NULL, &error);                                            /* 0 … 6 */
  }
  mproc_list_insert (list, 0, g_variant_new_int32 (-1), NULL, &error);          /* -1 0 … 6 */
  mproc_list_insert (list, 1000, g_variant_new_int32 (7), NULL, &error);        /* … 6 7 */
  g_assert_no_error (error);
  g_assert_cmpint (mproc_list_len (list, NULL, &error), ==, 9);

  value = mproc_list_get (list, -1, NULL, &error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
  g_clear_pointer (&value, g_variant_unref);
  g_assert_null (mproc_list_get (list, 9, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (mproc_list_get (list, -10, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  /* the message names the index and the length */
  g_assert_cmpstr (error->message, ==, "List index -10 out of range (length 9)");
  g_clear_error (&error);

  g_assert_true (mproc_list_set (list, 0, g_variant_new_int32 (3), NULL, &error));
  g_assert_false (mproc_list_set (list, 20, g_variant_new_int32 (3), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);                                                        /* 3 0 1 2 3 4 5 6 7 */

  g_assert_cmpint (mproc_list_count (list, g_variant_new_int32 (3), NULL, &error), ==, 2);
  g_assert_cmpint (mproc_list_count (list, g_variant_new_int64 (3), NULL, &error), ==, 0);
  g_assert_cmpint (mproc_list_index (list, g_variant_new_int32 (2), NULL, &error), ==, 3);
  g_assert_cmpint (mproc_list_index (list, g_variant_new_int32 (42), NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (mproc_list_remove (list, g_variant_new_int32 (3), NULL, &error)); /* 0 1 2 3 4 5 6 7 */
  g_assert_false (mproc_list_remove (list, g_variant_new_int32 (42), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  value = mproc_list_pop (list, -1, NULL, &error);                              /* 0 … 6 */
  g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_list_pop (list, 0, NULL, &error);                               /* 1 … 6 */
  g_assert_cmpint (g_variant_get_int32 (value), ==, 0);
  g_clear_pointer (&value, g_variant_unref);

  value = mproc_list_slice (list, 1, -1, NULL, &error);
  text = g_variant_print (value, FALSE);
  g_assert_cmpstr (text, ==, "[<2>, <3>, <4>, <5>]");
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_list_slice (list, -2, G_MAXINT64, NULL, &error);
  g_assert_cmpuint (g_variant_n_children (value), ==, 2);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_list_slice (list, 4, 2, NULL, &error);
  g_assert_cmpuint (g_variant_n_children (value), ==, 0);
  g_clear_pointer (&value, g_variant_unref);

  g_assert_true (mproc_list_clear (list, NULL, &error));
  g_assert_cmpint (mproc_list_len (list, NULL, &error), ==, 0);
  g_assert_null (mproc_list_pop (list, -1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_object (&list);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_namespace_ops (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  gboolean has = TRUE;

  g_test_summary ("Every namespace operation, with its errors");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  ns = mproc_namespace_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  g_assert_null (mproc_namespace_get (ns, "value", NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "value"));
  g_clear_error (&error);
  g_assert_true (mproc_namespace_has (ns, "value", &has, NULL, &error));
  g_assert_false (has);

  mproc_namespace_set (ns, "value", g_variant_new_string ("This is the value"), NULL, &error);
  mproc_namespace_set (ns, "my_list", g_variant_new ("as", NULL), NULL, &error);
  value = mproc_namespace_get (ns, "value", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "This is the value");
  g_assert_true (mproc_namespace_has (ns, "value", &has, NULL, &error));
  g_assert_true (has);

  names = mproc_namespace_list_names (ns, NULL, &error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_true (g_strv_contains ((const char * const *) names, "my_list"));

  g_assert_true (mproc_namespace_delete (ns, "value", NULL, &error));
  g_assert_false (mproc_namespace_delete (ns, "value", NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_clear_object (&ns);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GMainContext *context, GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (context, TRUE);
  return *result;
}

static void
test_async (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  gboolean present = FALSE;

  g_test_summary ("Async forms complete in the caller's thread-default context, with values and errors");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, NULL, NULL, &error);
  ns = mproc_namespace_new (manager, NULL, NULL, &error);

  g_main_context_push_thread_default (context);

  mproc_dict_set_async (dict, g_variant_new_int32 (1), g_variant_new_int32 (2), NULL, store_result, &result);
  g_assert_true (mproc_dict_set_finish (dict, wait_result (context, &result), &error));
  g_clear_object (&result);

  mproc_dict_get_async (dict, g_variant_new_int32 (1), NULL, store_result, &result);
  /* the callback needs this context: the global default one never runs it */
  g_usleep (20000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_null (result);
  value = mproc_dict_get_finish (dict, wait_result (context, &result), &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 2);
  g_clear_pointer (&value, g_variant_unref);
  g_clear_object (&result);

  mproc_dict_contains_async (dict, g_variant_new_int32 (1), NULL, store_result, &result);
  g_assert_true (mproc_dict_contains_finish (dict, wait_result (context, &result), &present, &error));
  g_assert_true (present);
  g_clear_object (&result);

  mproc_dict_get_async (dict, g_variant_new_int32 (5), NULL, store_result, &result);
  g_assert_null (mproc_dict_get_finish (dict, wait_result (context, &result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&result);

  mproc_list_append_async (list, g_variant_new_string ("x"), NULL, store_result, &result);
  g_assert_true (mproc_list_append_finish (list, wait_result (context, &result), &error));
  g_clear_object (&result);
  mproc_list_len_async (list, NULL, store_result, &result);
  g_assert_cmpint (mproc_list_len_finish (list, wait_result (context, &result), &error), ==, 1);
  g_clear_object (&result);

  mproc_namespace_get_async (ns, "nope", NULL, store_result, &result);
  g_assert_null (mproc_namespace_get_finish (ns, wait_result (context, &result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&result);

  mproc_manager_ping_async (manager, NULL, store_result, &result);
  g_assert_true (mproc_manager_ping_finish (manager, wait_result (context, &result), &error));
  g_clear_object (&result);

  g_main_context_pop_thread_default (context);
  g_clear_object (&dict);
  g_clear_object (&list);
  g_clear_object (&ns);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_publish_async (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocEvent) other = NULL;
  g_autoptr(MprocShareable) found = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  GAsyncResult *published[2] = { NULL, NULL };
  GAsyncResult *looked_up[3] = { NULL, NULL, NULL };
  GAsyncResult *result = NULL;
  guint threads;

  /* in a fresh process, where no earlier test left GIO worker threads */
  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  g_test_summary ("publish_async() and lookup_async() on the rings: from a main loop, several in "
                  "flight, cancelled, and BROKEN when the server is killed; no thread");
  /* a first async call starts GLib's own worker thread ("gmain", one per
   * process, with its fds): before counting */
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  g_main_context_push_thread_default (context);
  mproc_manager_ping_async (manager, NULL, store_result, &result);
  g_assert_true (mproc_manager_ping_finish (manager, wait_result (context, &result), &error));
  g_clear_object (&result);
  g_main_context_pop_thread_default (context);
  stop_manager (g_steal_pointer (&manager));
  while (g_main_context_iteration (NULL, FALSE))
    ;

  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  event = mproc_event_new (&error);
  other = mproc_event_new (&error);
  g_assert_no_error (error);
  threads = test_count_threads ();

  g_main_context_push_thread_default (context);

  mproc_manager_publish_async (manager, "ready", MPROC_SHAREABLE (event), NULL, store_result, &published[0]);
  mproc_manager_publish_async (manager, "other", MPROC_SHAREABLE (other), NULL, store_result, &published[1]);
  mproc_manager_lookup_async (manager, "nothing", NULL, store_result, &looked_up[0]);
  g_assert_cmpuint (test_count_threads (), ==, threads);
  g_assert_true (mproc_manager_publish_finish (manager, wait_result (context, &published[0]), &error));
  g_assert_true (mproc_manager_publish_finish (manager, wait_result (context, &published[1]), &error));
  g_assert_no_error (error);
  g_assert_null (mproc_manager_lookup_finish (manager, wait_result (context, &looked_up[0]), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&published[0]);
  g_clear_object (&looked_up[0]);

  mproc_manager_lookup_async (manager, "ready", NULL, store_result, &looked_up[1]);
  mproc_manager_lookup_async (manager, "other", NULL, store_result, &looked_up[2]);
  g_assert_cmpuint (test_count_threads (), ==, threads);
  found = mproc_manager_lookup_finish (manager, wait_result (context, &looked_up[1]), &error);
  g_assert_no_error (error);
  g_assert_true (MPROC_IS_EVENT (found));
  /* the object that came back shares the published one's state */
  mproc_event_set (MPROC_EVENT (found));
  g_assert_true (mproc_event_is_set (event));
  g_clear_object (&found);
  found = mproc_manager_lookup_finish (manager, wait_result (context, &looked_up[2]), &error);
  g_assert_no_error (error);
  g_assert_false (mproc_event_is_set (MPROC_EVENT (found)));
  g_clear_object (&found);
  g_assert_cmpuint (test_count_threads (), ==, threads);

  /* cancelled before: nothing is sent */
  g_cancellable_cancel (cancellable);
  mproc_manager_lookup_async (manager, "ready", cancellable, store_result, &result);
  g_assert_null (mproc_manager_lookup_finish (manager, wait_result (context, &result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  /* cancelled while the server cannot answer: CANCELLED at once, and the
   * reply that comes later is dropped with its fds */
  g_cancellable_reset (cancellable);
  stop_process (mproc_manager_get_server_pid (manager));
  mproc_manager_lookup_async (manager, "ready", cancellable, store_result, &result);
  g_cancellable_cancel (cancellable);
  g_assert_null (mproc_manager_lookup_finish (manager, wait_result (context, &result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_no_errno (kill (mproc_manager_get_server_pid (manager), SIGCONT));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));

  /* pending when the server is killed: BROKEN */
  stop_process (mproc_manager_get_server_pid (manager));
  mproc_manager_lookup_async (manager, "ready", NULL, store_result, &looked_up[0]);
  mproc_manager_publish_async (manager, "again", MPROC_SHAREABLE (other), NULL, store_result, &published[0]);
  g_assert_no_errno (kill (mproc_manager_get_server_pid (manager), SIGKILL));
  g_assert_null (mproc_manager_lookup_finish (manager, wait_result (context, &looked_up[0]), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_false (mproc_manager_publish_finish (manager, wait_result (context, &published[0]), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpuint (test_count_threads (), ==, threads);

  g_main_context_pop_thread_default (context);
  for (guint i = 0; i < G_N_ELEMENTS (published); i++)
    g_clear_object (&published[i]);
  for (guint i = 0; i < G_N_ELEMENTS (looked_up); i++)
    g_clear_object (&looked_up[i]);
  g_clear_object (&event);
  g_clear_object (&other);
  g_clear_object (&cancellable);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_finalize_object (g_steal_pointer (&manager));
  while (g_main_context_iteration (context, FALSE))
    ;
  test_leak_check_end (&check);
}

static void
test_concurrent (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = NULL;
  MprocProcess *workers[4];
  const int n = 300;
  g_autofree guint *seen = g_new0 (guint, 4 * 1000);

  g_test_summary ("Several processes mutate one dict and one list at once: exact final contents");
  test_leak_check_begin (&check);
  manager = start_manager (method);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, NULL, NULL, &error);
  ns = mproc_namespace_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  for (int i = 0; i < 4; i++)
    {
      workers[i] = new_worker (method, "fill", i, n, dict, list, ns);
      g_assert_true (mproc_process_start (workers[i], &error));
      g_assert_no_error (error);
    }
  for (int i = 0; i < 4; i++)
    {
      test_join_ok (workers[i], 0);
      g_object_unref (workers[i]);
    }

  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 4 * n);
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < n; k += 37)
      {
        g_autoptr(GVariant) value = mproc_dict_get (dict, g_variant_new_int32 (i * 1000 + k), NULL, &error);

        g_assert_no_error (error);
        g_assert_cmpint (g_variant_get_int32 (value), ==, k);
      }
  items = mproc_list_slice (list, 0, G_MAXINT64, NULL, &error);
  g_assert_cmpuint (g_variant_n_children (items), ==, 4 * n);
  for (gsize j = 0; j < g_variant_n_children (items); j++)
    {
      g_autoptr(GVariant) boxed = g_variant_get_child_value (items, j);
      g_autoptr(GVariant) value = g_variant_get_variant (boxed);
      int v = g_variant_get_int32 (value);

      /* each value once, and each worker's values in its own order */
      g_assert_cmpuint (seen[v], ==, 0);
      seen[v] = 1;
      if (v % 1000 > 0)
        g_assert_cmpuint (seen[v - 1], ==, 1);
    }

  g_clear_object (&dict);
  g_clear_object (&list);
  g_clear_object (&ns);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

typedef struct
{
  GPtrArray *dict_keys;
  GPtrArray *ns_names;
  GArray    *changes;   /* guint triples: position, removed, added */
  char     **model;     /* what the changes give when applied */
} Observed;

static void
on_dict_changed (MprocDict *dict, GVariant *key, Observed *observed)
{
  g_ptr_array_add (observed->dict_keys, key != NULL ? g_variant_print (key, FALSE) : g_strdup ("*"));
}

static void
on_ns_changed (MprocNamespace *ns, const char *name, Observed *observed)
{
  g_ptr_array_add (observed->ns_names, g_strdup (name != NULL ? name : "*"));
}

static void
on_items_changed (GListModel *model, guint position, guint removed, guint added, Observed *observed)
{
  guint triple[3] = { position, removed, added };
  GPtrArray *next = g_ptr_array_new ();
  guint n = g_strv_length (observed->model);

  g_array_append_vals (observed->changes, triple, 3);
  g_assert_cmpuint (position + removed, <=, n);
  for (guint i = 0; i < position; i++)
    g_ptr_array_add (next, g_strdup (observed->model[i]));
  for (guint i = 0; i < added; i++)
    {
      g_autoptr(MprocListItem) item = g_list_model_get_item (model, position + i);

      g_ptr_array_add (next, g_variant_dup_string (mproc_list_item_get_value (item), NULL));
    }
  for (guint i = position + removed; i < n; i++)
    g_ptr_array_add (next, g_strdup (observed->model[i]));
  g_ptr_array_add (next, NULL);
  g_strfreev (observed->model);
  observed->model = (char **) g_ptr_array_free (next, FALSE);
}

static void
test_notifications (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocProcess) worker = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *joined = NULL;
  Observed observed = { 0, };
  gint64 deadline;

  g_test_summary ("changed and items-changed reach another process's main loop, with exact positions");
  test_leak_check_begin (&check);
  manager = start_manager (method);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, NULL, NULL, &error);
  ns = mproc_namespace_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  observed.dict_keys = g_ptr_array_new_with_free_func (g_free);
  observed.ns_names = g_ptr_array_new_with_free_func (g_free);
  observed.changes = g_array_new (FALSE, FALSE, sizeof (guint));
  observed.model = g_new0 (char *, 1);

  mproc_list_append (list, g_variant_new_string ("first"), NULL, &error);
  g_assert_true (mproc_dict_watch (dict, NULL, &error));
  g_assert_true (mproc_namespace_watch (ns, NULL, &error));
  g_signal_connect (dict, "changed", G_CALLBACK (on_dict_changed), &observed);
  g_signal_connect (ns, "changed", G_CALLBACK (on_ns_changed), &observed);
  g_signal_connect (list, "items-changed", G_CALLBACK (on_items_changed), &observed);
  /* the model starts from a snapshot */
  g_assert_true (mproc_list_watch (list, NULL, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 1);
  g_assert_cmpuint (g_strv_length (observed.model), ==, 1);
  g_assert_cmpuint (observed.changes->len, ==, 3);

  worker = new_worker (method, "model", 0, 0, dict, list, ns);
  g_assert_true (mproc_process_start (worker, &error));
  test_join_ok (worker, 0);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while ((observed.dict_keys->len < 2 || observed.ns_names->len < 1 ||
          g_strv_length (observed.model) != 5) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);

  joined = g_strjoinv (" ", observed.model);
  g_assert_cmpstr (joined, ==, "c B b x e");
  g_assert_cmpuint (observed.dict_keys->len, ==, 2);
  g_assert_cmpstr (observed.dict_keys->pdata[0], ==, "'key'");
  g_assert_cmpuint (observed.ns_names->len, ==, 1);
  g_assert_cmpstr (observed.ns_names->pdata[0], ==, "attr");
  {
    /* snapshot [first]; append a, append b, insert c at 0, extend d e,
     * remove a, pop d, set 1, insert x before e */
    static const guint expected[] = { 0, 0, 1,  1, 0, 1,  2, 0, 1,  0, 0, 1,  4, 0, 2,
                                      2, 1, 0,  3, 1, 0,  1, 1, 1,  3, 0, 1 };

    g_assert_cmpmem (observed.changes->data, observed.changes->len * sizeof (guint),
                     expected, sizeof expected);
  }

  mproc_dict_unwatch (dict);
  mproc_list_unwatch (list);
  g_clear_object (&worker);
  g_clear_object (&dict);
  g_clear_object (&list);
  g_clear_object (&ns);
  g_ptr_array_unref (observed.dict_keys);
  g_ptr_array_unref (observed.ns_names);
  g_array_unref (observed.changes);
  g_strfreev (observed.model);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_unrelated (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int status;
  const char *argv[] = { NULL, "--connect-helper", NULL, NULL };

  g_test_summary ("An unrelated program connects by address, uses a named dict and a published event");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  event = mproc_event_new (&error);
  g_assert_no_error (error);
  g_assert_true (mproc_manager_publish (manager, "ready", MPROC_SHAREABLE (event), NULL, &error));
  g_assert_no_error (error);

  argv[0] = g_test_get_filename (G_TEST_BUILT, "test-manager", NULL);
  argv[2] = mproc_manager_get_address (manager);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                               &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "connected\n");

  value = mproc_dict_get (dict, g_variant_new_string ("from"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "unrelated");
  g_assert_true (mproc_event_is_set (event));

  g_assert_null (mproc_manager_lookup (manager, "nothing", NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (mproc_manager_unpublish (manager, "ready", NULL, &error));

  g_clear_object (&dict);
  g_clear_object (&event);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* The helper program: argv[2] is the address. */
static int
connect_helper (const char *address)
{
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocShareable) object = NULL;
  g_autoptr(GError) error = NULL;

  manager = mproc_manager_connect (address, NULL, &error);
  if (manager == NULL)
    g_error ("%s", error->message);
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  if (dict == NULL ||
      !mproc_dict_set (dict, g_variant_new_string ("from"), g_variant_new_string ("unrelated"), NULL, &error))
    g_error ("%s", error->message);
  object = mproc_manager_lookup (manager, "ready", NULL, &error);
  if (object == NULL)
    g_error ("%s", error->message);
  mproc_event_set (MPROC_EVENT (object));
  if (!mproc_manager_ping (manager, NULL, &error))
    g_error ("%s", error->message);
  g_print ("connected\n");
  return 0;
}

static gpointer
blocked_call_thread (gpointer data)
{
  MprocDict *dict = data;
  GError *error = NULL;

  /* loops until the server dies */
  for (;;)
    {
      g_autoptr(GVariant) value = mproc_dict_get_default (dict, g_variant_new_int32 (0),
                                                          g_variant_new_int32 (0), NULL, &error);
      if (value == NULL)
        return error;
    }
}

static gpointer
kill_after_50ms (gpointer data)
{
  g_usleep (50 * 1000);
  g_assert_no_errno (kill (GPOINTER_TO_INT (data), SIGKILL));
  return NULL;
}

static void
test_server_killed_first_read (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  GThread *thread;
  gboolean present = TRUE;
  GPid server;

  g_test_summary ("SIGKILL of the server while a dict's first read maps its view: that read and every "
                  "later one fail with BROKEN (regression: the error was freed twice)");
  test_leak_check_begin (&check);
  manager = start_manager (method);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (0), g_variant_new_int32 (0), NULL, &error));
  g_assert_true (mproc_manager_ping (manager, NULL, &error));

  /* the server is stopped so that the read is waiting for it when it dies */
  server = mproc_manager_get_server_pid (manager);
  stop_process (server);
  thread = g_thread_new ("killer", kill_after_50ms, GINT_TO_POINTER (server));
  g_assert_null (mproc_dict_get (dict, g_variant_new_int32 (0), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_thread_join (thread);

  for (guint i = 0; i < 3; i++)
    {
      g_assert_null (mproc_dict_get (dict, g_variant_new_int32 (0), NULL, &error));
      g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
      g_clear_error (&error);
      g_assert_false (mproc_dict_contains (dict, g_variant_new_int32 (0), &present, NULL, &error));
      g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
      g_clear_error (&error);
      g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, -1);
      g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
      g_clear_error (&error);
    }

  g_clear_object (&dict);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_finalize_object (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_server_killed (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocManager) other = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  GAsyncResult *pending_get = NULL;
  GAsyncResult *pending_len = NULL;
  GError *thread_error;
  GThread *thread;
  gint64 start;
  gboolean failed = FALSE, present;

  g_test_summary ("SIGKILL of the server: pending and later calls fail with BROKEN in bounded time");
  test_leak_check_begin (&check);
  manager = start_manager (method);
  address = g_strdup (mproc_manager_get_address (manager));
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, NULL, NULL, &error);
  g_assert_true (mproc_list_watch (list, NULL, &error));
  mproc_list_append (list, g_variant_new_int32 (1), NULL, &error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (0), g_variant_new_int32 (0), NULL, &error));
  g_assert_no_error (error);

  thread = g_thread_new ("caller", blocked_call_thread, dict);
  g_usleep (20000);
  /* async calls pending in the ring when the server dies */
  stop_process (mproc_manager_get_server_pid (manager));
  mproc_dict_get_async (dict, g_variant_new_int32 (0), NULL, store_result, &pending_get);
  mproc_list_len_async (list, NULL, store_result, &pending_len);
  start = g_get_monotonic_time ();
  g_assert_no_errno (kill (mproc_manager_get_server_pid (manager), SIGKILL));

  thread_error = g_thread_join (thread);
  g_assert_error (thread_error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_error_free (thread_error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_assert_null (mproc_dict_get_finish (dict, wait_result (NULL, &pending_get), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (mproc_list_len_finish (list, wait_result (NULL, &pending_len), &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_clear_object (&pending_get);
  g_clear_object (&pending_len);

  /* reads that the view could serve fail too, and so do later async calls */
  g_assert_false (mproc_dict_contains (dict, g_variant_new_int32 (0), &present, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  mproc_dict_contains_async (dict, g_variant_new_int32 (0), NULL, store_result, &pending_get);
  g_assert_false (mproc_dict_contains_finish (dict, wait_result (NULL, &pending_get), &present, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_clear_object (&pending_get);

  g_assert_null (mproc_dict_get (dict, g_variant_new_int32 (0), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  /* a pipelined write notices it too, within a bounded time */
  start = g_get_monotonic_time ();
  while (!failed && g_get_monotonic_time () - start < G_USEC_PER_SEC)
    failed = !mproc_list_append (list, g_variant_new_int32 (2), NULL, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_false (mproc_manager_ping (manager, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  /* the model keeps its last consistent state */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 1);
  /* a new connection is refused */
  other = mproc_manager_connect (address, NULL, &error);
  g_assert_null (other);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);

  g_clear_object (&dict);
  g_clear_object (&list);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_finalize_object (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_view_reads (gconstpointer data)
{
  MprocStartMethod method = GPOINTER_TO_INT (data);
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocProcess) worker = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GPid server;
  gboolean present;
  const int n = 300;

  g_test_summary ("Reads served from the server's view: across processes, after one's own and causally earlier writes");
  test_leak_check_begin (&check);
  manager = start_manager (method);
  server = mproc_manager_get_server_pid (manager);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, NULL, NULL, &error);
  ns = mproc_namespace_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);
  for (int k = 0; k < n; k++)
    g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (k), g_variant_new_int32 (2 * k), NULL, &error));
  g_assert_true (mproc_namespace_set (ns, "from-parent", g_variant_new_int32 (7), NULL, &error));

  worker = new_worker (method, "views", 0, n, dict, list, ns);
  g_assert_true (mproc_process_start (worker, &error));
  test_join_ok (worker, 0);

  /* the child's last writes were never confirmed: join() orders them
   * before these reads */
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 2 * n);
  for (int k = 0; k < n; k++)
    {
      value = mproc_dict_get (dict, g_variant_new_int32 (1000 + k), NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, k);
      g_clear_pointer (&value, g_variant_unref);
    }

  /* reads of applied state need no server: they work while it is stopped */
  g_assert_true (mproc_namespace_has (ns, "from-parent", &present, NULL, &error));
  stop_process (server);
  value = mproc_dict_get (dict, g_variant_new_int32 (5), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 10);
  g_clear_pointer (&value, g_variant_unref);
  g_assert_null (mproc_dict_get (dict, g_variant_new_int32 (-1), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  value = mproc_dict_get_default (dict, g_variant_new_int32 (-1), g_variant_new_string ("dflt"), NULL, &error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "dflt");
  g_clear_pointer (&value, g_variant_unref);
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 2 * n);
  g_assert_true (mproc_namespace_has (ns, "from-parent", &present, NULL, &error));
  g_assert_true (present);
  g_assert_no_error (error);
  g_assert_no_errno (kill (server, SIGCONT));

  g_clear_object (&dict);
  g_clear_object (&list);
  g_clear_object (&ns);
  g_clear_object (&worker);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_dict_update (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  g_test_summary ("Updates of every layout of pairs set the same keys as single sets");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  /* fixed-size pairs, cut out of the request; then pairs of any type */
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("[(byte 1, 1.5), (byte 2, 2.5)]"), NULL, &error));
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("{true: uint16 7, false: uint16 8}"), NULL, &error));
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("{int64 -1: int16 -2}"), NULL, &error));
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("{'s': <'v'>, 't': <(1, 'u')>}"), NULL, &error));
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("[(<byte 1>, <'replaced'>)]"), NULL, &error));
  g_assert_true (mproc_dict_set (dict, g_variant_new_boolean (TRUE), g_variant_new_uint16 (9), NULL, &error));
  g_assert_no_error (error);

  items = mproc_dict_items (dict, NULL, &error);
  g_assert_no_error (error);
  text = g_variant_print (items, TRUE);
  g_assert_cmpstr (text, ==, "[(<byte 0x01>, <'replaced'>), (<byte 0x02>, <2.5>), (<true>, <uint16 9>), "
                             "(<false>, <uint16 8>), (<int64 -1>, <int16 -2>), (<'s'>, <'v'>), "
                             "(<'t'>, <(1, 'u')>)]");
  value = mproc_dict_get (dict, g_variant_new_int64 (-1), NULL, &error);
  g_assert_cmpint (g_variant_get_int16 (value), ==, -2);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_dict_get (dict, g_variant_new_byte (2), NULL, &error);
  g_assert_cmpfloat (g_variant_get_double (value), ==, 2.5);
  g_clear_pointer (&value, g_variant_unref);

  g_clear_object (&dict);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* The expected contents of a dict: keys in insertion order, as Python
 * keeps them (a key set again keeps its place; removed and set again, it
 * goes last). */
typedef struct
{
  GPtrArray  *order;    /* GVariant* keys, NULL where removed */
  GHashTable *values;   /* key -> value */
} Model;

static void
unref_nullable (gpointer v)
{
  if (v != NULL)
    g_variant_unref (v);
}

static void
model_init (Model *m)
{
  m->order = g_ptr_array_new_with_free_func (unref_nullable);
  m->values = g_hash_table_new_full (g_variant_hash, g_variant_equal,
                                     (GDestroyNotify) g_variant_unref, (GDestroyNotify) g_variant_unref);
}

static void
model_clear (Model *m)
{
  g_ptr_array_unref (m->order);
  g_hash_table_unref (m->values);
}

static void
model_set (Model    *m,
           GVariant *key,
           GVariant *value)
{
  g_variant_ref_sink (key);
  g_variant_ref_sink (value);
  if (!g_hash_table_contains (m->values, key))
    g_ptr_array_add (m->order, g_variant_ref (key));
  g_hash_table_insert (m->values, key, value);
}

static void
model_remove (Model    *m,
              GVariant *floating_key)
{
  g_autoptr(GVariant) key = g_variant_ref_sink (floating_key);

  g_assert_true (g_hash_table_remove (m->values, key));
  for (guint i = 0; i < m->order->len; i++)
    if (m->order->pdata[i] != NULL && g_variant_equal (m->order->pdata[i], key))
      {
        g_variant_unref (m->order->pdata[i]);
        m->order->pdata[i] = NULL;
      }
}

static void
model_check (Model     *m,
             MprocDict *dict)
{
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  GVariant *key, *value;
  guint i = 0;

  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, g_hash_table_size (m->values));
  items = mproc_dict_items (dict, NULL, &error);
  g_assert_no_error (error);
  g_variant_iter_init (&iter, items);
  while (g_variant_iter_next (&iter, "(vv)", &key, &value))
    {
      g_autoptr(GVariant) got = NULL;

      while (m->order->pdata[i] == NULL)
        i++;
      g_assert_true (g_variant_equal (key, m->order->pdata[i]));
      g_assert_true (g_variant_equal (value, g_hash_table_lookup (m->values, key)));
      /* and the same through get(), from the shared view once there is one */
      got = mproc_dict_get (dict, key, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (got, value));
      g_variant_unref (key);
      g_variant_unref (value);
      i++;
    }
  for (; i < m->order->len; i++)
    g_assert_null (m->order->pdata[i]);
}

/* A value of some size: small ones are kept inline by the server's table,
 * large ones apart. */
static GVariant *
sized_string (const char *prefix,
              guint       i,
              guint       size)
{
  g_autofree char *text = g_strdup_printf ("%s%u-%0*u", prefix, i, (int) size, 0);

  return g_variant_new_take_string (g_steal_pointer (&text));
}

static void
test_dict_table (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;
  gboolean present;
  Model m;

  g_test_summary ("The server keeps keys as their bytes and type: thousands of sets, "
                  "updates, removals and replacements give Python's contents and order");
  test_leak_check_begin (&check);
  model_init (&m);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  /* one batch with repeated keys: the later pair wins, in the first one's place */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xx)"));
  for (gint64 i = 0; i < 3000; i++)
    {
      g_variant_builder_add (&builder, "(xx)", i % 2000, i);
      model_set (&m, g_variant_new_int64 (i % 2000), g_variant_new_int64 (i));
    }
  g_assert_true (mproc_dict_update (dict, g_variant_builder_end (&builder), NULL, &error));
  g_assert_no_error (error);

  /* the same bytes of another type are another key */
  for (guint i = 0; i < 50; i++)
    {
      g_assert_true (mproc_dict_set (dict, g_variant_new_uint64 (i), g_variant_new_int32 (-i), NULL, &error));
      model_set (&m, g_variant_new_uint64 (i), g_variant_new_int32 (-i));
      g_assert_true (mproc_dict_set (dict, g_variant_new_double (i), sized_string ("d", i, 40), NULL, &error));
      model_set (&m, g_variant_new_double (i), sized_string ("d", i, 40));
    }
  g_assert_no_error (error);
  model_check (&m, dict);   /* the view is made here, from the table */

  /* removals leave holes, sets fill the table until it is rebuilt */
  for (gint64 i = 0; i < 2000; i += 3)
    {
      g_assert_true (mproc_dict_remove (dict, g_variant_new_int64 (i), NULL, &error));
      model_remove (&m, g_variant_new_int64 (i));
    }
  for (gint64 i = 1; i < 2000; i += 3)
    {
      g_autoptr(GVariant) key = g_variant_ref_sink (g_variant_new_int64 (i));

      value = mproc_dict_pop (dict, key, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (value, g_hash_table_lookup (m.values, key)));
      g_clear_pointer (&value, g_variant_unref);
      model_remove (&m, g_variant_new_int64 (i));
    }
  g_assert_false (mproc_dict_remove (dict, g_variant_new_int64 (0), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (mproc_dict_contains (dict, g_variant_new_int64 (2), &present, NULL, &error));
  g_assert_true (present);
  g_assert_true (mproc_dict_contains (dict, g_variant_new_int64 (3), &present, NULL, &error));
  g_assert_false (present);

  /* large keys and values, replaced by small ones and back; removed keys
   * set again go last */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sv}"));
  for (guint i = 0; i < 500; i++)
    {
      GVariant *v = i % 2 ? sized_string ("v", i, 100) : g_variant_new_byte (i);
      GVariant *k = sized_string ("k", i % 300, i % 40);

      g_variant_builder_add (&builder, "{@sv}", k, v);
      model_set (&m, k, v);
    }
  for (gint64 i = 0; i < 600; i += 3)
    {
      g_variant_builder_add (&builder, "{sv}", "back", g_variant_new_int64 (i));
      model_set (&m, g_variant_new_string ("back"), g_variant_new_int64 (i));
    }
  g_assert_true (mproc_dict_update (dict, g_variant_builder_end (&builder), NULL, &error));
  g_assert_no_error (error);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{xx}"));
  for (gint64 i = 0; i < 900; i += 3)
    {
      g_variant_builder_add (&builder, "{xx}", i, -i);
      model_set (&m, g_variant_new_int64 (i), g_variant_new_int64 (-i));
    }
  g_assert_true (mproc_dict_update (dict, g_variant_builder_end (&builder), NULL, &error));
  value = mproc_dict_setdefault (dict, g_variant_new_int64 (3), g_variant_new_int64 (1), NULL, &error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, -3);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_dict_setdefault (dict, g_variant_new_int64 (4), g_variant_new_string ("new"), NULL, &error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "new");
  g_clear_pointer (&value, g_variant_unref);
  model_set (&m, g_variant_new_int64 (4), g_variant_new_string ("new"));
  g_assert_no_error (error);
  model_check (&m, dict);

  /* and empty again, then filled again */
  g_assert_true (mproc_dict_clear (dict, NULL, &error));
  model_clear (&m);
  model_init (&m);
  for (guint i = 0; i < 100; i++)
    {
      g_assert_true (mproc_dict_set (dict, sized_string ("again", i, 20), g_variant_new_uint32 (i), NULL, &error));
      model_set (&m, sized_string ("again", i, 20), g_variant_new_uint32 (i));
    }
  g_assert_no_error (error);
  model_check (&m, dict);

  model_clear (&m);
  g_clear_object (&dict);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

/* The boxed request of a pipelined packed update of @object with @pairs
 * of @type as they are (a serialised value in any form, normal or not). */
static GBytes *
packed_update_request (guint64       object,
                       const char   *type,
                       const guint8 *pairs,
                       gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (pairs, size);
  GVariant *array = g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE);
  g_autoptr(GVariant) boxed = NULL;

  /* serialised as they are: a container copies a serialised child's bytes */
  boxed = g_variant_ref_sink (g_variant_new_variant (
    g_variant_new ("(uttt@v)", (guint32) DICT_OP_UPDATE_PACKED, object, (guint64) 0, (guint64) 0,
                   g_variant_new_variant (g_variant_new_variant (array)))));
  return g_variant_get_data_as_bytes (boxed);
}

static gint64
server_len (MprocManager *manager,
            MprocDict    *dict)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  /* a round trip, served after everything put in the ring before */
  g_assert_true (mproc_manager_call_raw (manager, DICT_OP_LEN, mproc_proxy_get_id (dict), NULL, &reply, &error));
  g_assert_no_error (error);
  return (gint64) g_variant_get_uint64 (reply);
}

static void
inject_bytes (MprocManager *manager,
              GBytes       *bytes)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  mproc_manager_inject_raw (manager, data, size);
}

static void
test_dict_update_checked (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  const gint64 xx[] = { 1, 10, 2, 20, 3, 30 };
  const guint8 bx[] = { 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0 };
  guint8 yx[16] = { 5, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0 };
  guint8 *data;
  gsize size;
  guint64 id;

  g_test_summary ("A batch of fixed-size pairs is checked for normal form by the server's own "
                  "decoder: a well-formed one is applied, any other refused, and serving goes on");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);
  id = mproc_proxy_get_id (dict);

  /* well-formed: applied */
  {
    g_autoptr(GBytes) request = packed_update_request (id, "a{xx}", (const guint8 *) xx, sizeof xx);

    inject_bytes (manager, request);
    g_assert_cmpint (server_len (manager, dict), ==, 3);
  }
  /* a size that is no whole number of pairs */
  {
    g_autoptr(GBytes) request = packed_update_request (id, "a{xx}", (const guint8 *) xx, sizeof xx - 1);

    inject_bytes (manager, request);
    g_assert_cmpint (server_len (manager, dict), ==, 3);
  }
  /* a boolean that is neither 0 nor 1 */
  {
    g_autoptr(GBytes) request = packed_update_request (id, "a{bx}", bx, sizeof bx);

    inject_bytes (manager, request);
    g_assert_cmpint (server_len (manager, dict), ==, 3);
  }
  /* padding that is not zero, then zero */
  {
    g_autoptr(GBytes) bad = NULL;
    g_autoptr(GBytes) good = NULL;

    yx[3] = 1;
    bad = packed_update_request (id, "a(yx)", yx, sizeof yx);
    inject_bytes (manager, bad);
    g_assert_cmpint (server_len (manager, dict), ==, 3);
    yx[3] = 0;
    good = packed_update_request (id, "a(yx)", yx, sizeof yx);
    inject_bytes (manager, good);
    g_assert_cmpint (server_len (manager, dict), ==, 4);
  }
  /* the request's own padding, and a pair type that is no type */
  {
    g_autoptr(GBytes) request = packed_update_request (id, "a{xx}", (const guint8 *) xx, sizeof xx);

    data = g_bytes_unref_to_data (g_steal_pointer (&request), &size);
    data[4] = 1;
    mproc_manager_inject_raw (manager, data, size);
    data[4] = 0;
    data[size - strlen ("(utttv)") - 1 - 2 - 2] = 'z';   /* a{xz} */
    mproc_manager_inject_raw (manager, data, size);
    data[size - strlen ("(utttv)") - 1 - 2 - 2] = 'x';
    data[size - strlen ("(utttv)") - 1 - 2 - 6] = 1;     /* no NUL before the pairs' type */
    mproc_manager_inject_raw (manager, data, size);
    g_free (data);
    g_assert_cmpint (server_len (manager, dict), ==, 4);
  }

  value = mproc_dict_get (dict, g_variant_new_int64 (2), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 20);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_dict_get (dict, g_variant_new_byte (5), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 9);
  g_clear_pointer (&value, g_variant_unref);
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);

  g_clear_object (&dict);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_dict_update_changed (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *joined = NULL;
  Observed observed = { 0, };
  gint64 deadline;

  g_test_summary ("A watching proxy hears of every key of an update, a removal and a clear, in order");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);
  observed.dict_keys = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (mproc_dict_watch (dict, NULL, &error));
  g_signal_connect (dict, "changed", G_CALLBACK (on_dict_changed), &observed);

  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("{int64 1: int64 10, 2: 20}"), NULL, &error));
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("[(byte 3, true), (3, false)]"), NULL, &error));
  g_assert_true (mproc_dict_update (dict, g_variant_new_parsed ("{'s': <1>}"), NULL, &error));
  g_assert_true (mproc_dict_remove (dict, g_variant_new_int64 (2), NULL, &error));
  g_assert_true (mproc_dict_clear (dict, NULL, &error));
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (observed.dict_keys->len < 7 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_ptr_array_add (observed.dict_keys, NULL);
  joined = g_strjoinv (" ", (char **) observed.dict_keys->pdata);
  g_assert_cmpstr (joined, ==, "1 2 0x03 0x03 's' 2 *");

  mproc_dict_unwatch (dict);
  g_ptr_array_unref (observed.dict_keys);
  g_clear_object (&dict);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_client_killed (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocProcess) worker = NULL;
  g_autoptr(GError) error = NULL;
  guint server_fds, n_fds;
  GPid server;
  gboolean spinning = FALSE;
  gint64 deadline;

  g_test_summary ("SIGKILL of a client mid-call: the server serves on and forgets that client");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORK);
  server = mproc_manager_get_server_pid (manager);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, NULL, NULL, &error);
  ns = mproc_namespace_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);
  /* reads map the views of the dict and the namespace (fds of the objects) */
  g_assert_true (mproc_dict_contains (dict, g_variant_new_int32 (0), &spinning, NULL, &error));
  g_assert_false (spinning);
  g_assert_true (mproc_namespace_has (ns, "spinning", &spinning, NULL, &error));
  g_assert_false (spinning);
  server_fds = count_client_fds_of (server);

  worker = new_worker (MPROC_START_METHOD_FORK, "spin", 0, 0, dict, list, ns);
  g_assert_true (mproc_process_start (worker, &error));
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!spinning && g_get_monotonic_time () < deadline)
    g_assert_true (mproc_namespace_has (ns, "spinning", &spinning, NULL, &error));
  g_assert_true (spinning);
  g_assert_cmpuint (count_client_fds_of (server), >, server_fds);

  mproc_process_kill (worker);
  g_assert_true (mproc_process_join (worker, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);

  /* the server notices within its 0.1 s slice and drops the client */
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while ((n_fds = count_client_fds_of (server)) != server_fds && g_get_monotonic_time () < deadline)
    g_usleep (10000);
  g_assert_cmpuint (n_fds, ==, server_fds);
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 100);
  g_assert_no_error (error);

  g_clear_object (&dict);
  g_clear_object (&list);
  g_clear_object (&ns);
  g_clear_object (&worker);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

static void
test_malformed (void)
{
  TestLeakCheck check;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 garbage[] = { 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03 };

  g_test_summary ("Malformed requests get an error reply and the server keeps serving");
  test_leak_check_begin (&check);
  manager = start_manager (MPROC_START_METHOD_FORKSERVER);
  dict = mproc_dict_new (manager, NULL, NULL, &error);
  g_assert_no_error (error);

  /* arguments of the wrong type */
  g_assert_false (mproc_manager_call_raw (manager, DICT_OP_GET, mproc_proxy_get_id (dict),
                                          g_variant_new_string ("no"), &reply, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  /* an unknown operation, an unknown object, an object of another kind */
  g_assert_false (mproc_manager_call_raw (manager, 9999, 0, NULL, &reply, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_false (mproc_manager_call_raw (manager, DICT_OP_LEN, 424242, NULL, &reply, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (mproc_manager_call_raw (manager, LIST_OP_LEN, mproc_proxy_get_id (dict), NULL, &reply, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  /* bytes that are no request at all */
  mproc_manager_inject_raw (manager, garbage, sizeof garbage);
  g_assert_true (mproc_manager_ping (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (1), NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1);

  g_clear_object (&dict);
  stop_manager (g_steal_pointer (&manager));
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--connect-helper"))
    return connect_helper (argv[2]);

  mproc_register_target ("worker", target_worker, NULL, NULL);
  test_init (&argc, &argv);

  if (g_strcmp0 (g_getenv ("MPROC_TEST_MANAGER_BACKEND"), "redis") == 0)
    {
      int ret;

      if (!test_redis_available ())
        {
          g_test_skip ("redis-server is not installed");
          return 77;
        }
      if (!g_test_subprocess ())
        redis_backend = test_redis_start (FALSE, NULL);
      g_test_add_func ("/mproc/manager/dict/ops", test_dict_ops);
      g_test_add_func ("/mproc/manager/dict/update", test_dict_update);
      g_test_add_func ("/mproc/manager/list/ops", test_list_ops);
      g_test_add_func ("/mproc/manager/namespace/ops", test_namespace_ops);
      ret = g_test_run ();
      test_redis_stop (redis_backend);
      return ret;
    }

  test_add_method_test ("/mproc/manager", "start-shutdown", test_start_shutdown);
  test_add_method_test ("/mproc/manager", "concurrent", test_concurrent);
  test_add_method_test ("/mproc/manager", "notifications", test_notifications);
  test_add_method_test ("/mproc/manager", "server-killed", test_server_killed);
  test_add_method_test ("/mproc/manager", "server-killed-first-read", test_server_killed_first_read);
  test_add_method_test ("/mproc/manager", "view-reads", test_view_reads);
  g_test_add_func ("/mproc/manager/dict/ops", test_dict_ops);
  g_test_add_func ("/mproc/manager/dict/update", test_dict_update);
  g_test_add_func ("/mproc/manager/dict/table", test_dict_table);
  g_test_add_func ("/mproc/manager/dict/update-checked", test_dict_update_checked);
  g_test_add_func ("/mproc/manager/dict/update-changed", test_dict_update_changed);
  g_test_add_func ("/mproc/manager/list/ops", test_list_ops);
  g_test_add_func ("/mproc/manager/namespace/ops", test_namespace_ops);
  g_test_add_func ("/mproc/manager/async", test_async);
  g_test_add_func ("/mproc/manager/publish-async", test_publish_async);
  g_test_add_func ("/mproc/manager/unrelated", test_unrelated);
  g_test_add_func ("/mproc/manager/client-killed", test_client_killed);
  g_test_add_func ("/mproc/manager/malformed", test_malformed);

  return g_test_run ();
}
