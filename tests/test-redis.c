/* test-redis.c: managers on a real redis-server, across real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-manager-private.h"
#include "mproc-redis-client-private.h"
#include "test-redis-util.h"
#include "test-util.h"

static TestRedis *redis;

static char *
unique_uri (const char *base)
{
  static guint serial;

  return g_strdup_printf ("%s?prefix=r%d-%u", base, (int) getpid (), ++serial);
}

static MprocManager *
open_manager (const char *uri)
{
  g_autoptr(GError) error = NULL;
  MprocManager *manager = mproc_manager_new_for_uri (uri, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (manager);
  return manager;
}

/* A raw command, for what a proxy never does. */
static redisReply *
raw_command (const char  *uri,
             const char  *first,
             ...)
{
  g_autoptr(MprocRedisConfig) config = NULL;
  g_autoptr(MprocRedisClient) client = NULL;
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new (first);
  g_autoptr(GError) error = NULL;
  redisReply *reply;
  const char *arg;
  va_list ap;

  config = mproc_redis_config_parse (uri, &error);
  g_assert_no_error (error);
  client = mproc_redis_client_new (config, NULL);
  va_start (ap, first);
  while ((arg = va_arg (ap, const char *)) != NULL)
    {
      gsize size = va_arg (ap, gsize);

      mproc_redis_cmd_add (cmd, arg, size == 0 ? strlen (arg) : size);
    }
  va_end (ap);
  reply = mproc_redis_client_call (client, cmd, -1, NULL, &error);
  g_assert_no_error (error);
  return reply;
}

static void
join_ok (MprocProcess *process)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_process_join (process, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_process_get_exit_code (process), ==, 0);
}

/* --- A process on "another host" ---------------------------------------------- */

static int
target_writer (MprocProcess *process,
               GVariant     *args,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) by_name = NULL;
  MprocDict *handed = mproc_process_get_object (process, 0);
  MprocList *list = mproc_process_get_object (process, 1);
  const char *uri;
  int n;

  g_variant_get (args, "(&si)", &uri, &n);
  /* the same dict, found by name by a process that only knows the URI */
  manager = mproc_manager_new_for_uri (uri, NULL, &error);
  if (manager == NULL)
    g_error ("%s", error->message);
  by_name = mproc_dict_new (manager, "shared", NULL, &error);
  if (by_name == NULL)
    g_error ("%s", error->message);
  for (int i = 0; i < n; i++)
    {
      if (!mproc_dict_set (by_name, g_variant_new_int32 (i), g_variant_new_int32 (i * i), NULL, &error) ||
          !mproc_list_append (list, g_variant_new_int32 (i), NULL, &error))
        g_error ("%s", error->message);
    }
  /* and one handed over as an argument */
  if (!mproc_dict_set (handed, g_variant_new_string ("writer"), g_variant_new_int32 (getpid ()), NULL, &error))
    g_error ("%s", error->message);
  /* pipelined writes are flushed by a call that waits */
  if (mproc_dict_len (by_name, NULL, &error) < 0)
    g_error ("%s", error->message);
  return 0;
}

static void
test_processes (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocDict) shared = NULL;
  g_autoptr(MprocDict) handed = NULL;
  g_autoptr(MprocList) list = NULL;
  MprocProcess *workers[3] = { NULL };
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Processes that open the same URI share objects by name, and handles carry them");
  shared = mproc_dict_new (manager, "shared", NULL, &error);
  g_assert_no_error (error);
  handed = mproc_dict_new (manager, NULL, NULL, &error);
  list = mproc_list_new (manager, "events", NULL, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      g_autoptr(MprocContext) context = mproc_context_new (i == 0 ? MPROC_START_METHOD_SPAWN :
                                                           MPROC_START_METHOD_FORKSERVER);

      workers[i] = mproc_process_new_with_context (context, "writer", g_variant_new ("(si)", uri, 50));
      mproc_process_add_object (workers[i], MPROC_SHAREABLE (handed));
      mproc_process_add_object (workers[i], MPROC_SHAREABLE (list));
      g_assert_true (mproc_process_start (workers[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (workers); i++)
    {
      join_ok (workers[i]);
      g_clear_object (&workers[i]);
    }

  g_assert_cmpint (mproc_dict_len (shared, NULL, &error), ==, 50);
  value = mproc_dict_get (shared, g_variant_new_int32 (7), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 49);
  g_assert_cmpint (mproc_list_len (list, NULL, &error), ==, 150);
  g_assert_true (mproc_dict_contains (handed, g_variant_new_string ("writer"), &(gboolean) { FALSE }, NULL, &error));
  g_assert_no_error (error);
}

/* --- Change signals --------------------------------------------------------------- */

typedef struct
{
  guint   changed;
  guint   all;
  guint   items;
  guint   added;
} Counts;

static void
on_changed (MprocDict *dict,
            GVariant  *key,
            Counts    *counts)
{
  counts->changed++;
  if (key == NULL)
    counts->all++;
}

static void
on_items_changed (GListModel *model,
                  guint       position,
                  guint       removed,
                  guint       added,
                  Counts     *counts)
{
  counts->items++;
  counts->added += added;
}

static void
wait_for (guint   *counter,
          guint    value)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (*counter < value)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
test_watch (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocList) list = NULL;
  g_autoptr(MprocProcess) writer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) killed = NULL;
  Counts counts = { 0 };
  guint before;

  g_test_summary ("Changes made by other processes reach a watcher, also across a lost connection");
  dict = mproc_dict_new (manager, "shared", NULL, &error);
  list = mproc_list_new (manager, "events", NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (dict, "changed", G_CALLBACK (on_changed), &counts);
  g_assert_true (mproc_dict_watch (dict, NULL, &error));
  g_assert_no_error (error);
  g_signal_connect (list, "items-changed", G_CALLBACK (on_items_changed), &counts);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 0);

  writer = mproc_process_new (("writer"), g_variant_new ("(si)", uri, 20));
  mproc_process_add_object (writer, MPROC_SHAREABLE (dict));
  mproc_process_add_object (writer, MPROC_SHAREABLE (list));
  g_assert_true (mproc_process_start (writer, &error));
  join_ok (writer);

  /* 20 sets by name + 1 on the handed dict (the same one here) */
  wait_for (&counts.changed, 21);
  wait_for (&counts.added, 20);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 20);

  /* the watchers' connections cut: the changes made meanwhile still come */
  killed = raw_command (redis->uri, "CLIENT", "KILL", (gsize) 0, "TYPE", (gsize) 0, "normal", (gsize) 0, NULL);
  before = counts.changed;
  mproc_dict_set (dict, g_variant_new_int32 (-1), g_variant_new_int32 (1), NULL, &error);
  mproc_dict_set (dict, g_variant_new_int32 (-2), g_variant_new_int32 (1), NULL, &error);
  mproc_list_append (list, g_variant_new_int32 (-1), NULL, &error);
  g_assert_no_error (error);
  wait_for (&counts.changed, before + 2);
  wait_for (&counts.added, 21);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (list)), ==, 21);

  mproc_dict_unwatch (dict);
  g_clear_object (&list);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* --- Async ------------------------------------------------------------------------ */

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **result)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (*result == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  return *result;
}

static void
test_async (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *results[64] = { NULL };
  guint threads;

  g_test_summary ("_async calls are pipelined on the caller's main context, without a thread");
  mproc_manager_new_for_uri_async (uri, NULL, store_result, &result);
  manager = mproc_manager_new_for_uri_finish (wait_result (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  dict = mproc_dict_new (manager, "a", NULL, &error);
  g_assert_no_error (error);

  threads = test_count_threads ();
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    mproc_dict_set_async (dict, g_variant_new_uint32 (i), g_variant_new_uint32 (i + 1), NULL,
                          store_result, &results[i]);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_assert_true (mproc_dict_set_finish (dict, wait_result (&results[i]), &error));
      g_assert_no_error (error);
      g_clear_object (&results[i]);
    }
  mproc_dict_get_async (dict, g_variant_new_uint32 (9), NULL, store_result, &result);
  value = mproc_dict_get_finish (dict, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint32 (value), ==, 10);
  g_clear_object (&result);
  g_assert_cmpuint (test_count_threads (), ==, threads);

  /* a missing key: the local error */
  mproc_dict_get_async (dict, g_variant_new_uint32 (999), NULL, store_result, &result);
  g_assert_null (mproc_dict_get_finish (dict, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_clear_object (&result);

  /* cancelled before the reply */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    mproc_dict_len_async (dict, cancellable, store_result, &result);
    g_cancellable_cancel (cancellable);
    mproc_dict_len_finish (dict, wait_result (&result), &error);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_clear_object (&result);
  }
  /* and the connection still in step */
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 64);
  g_assert_no_error (error);
}

/* --- Faults ------------------------------------------------------------------------- */

static void
test_server_killed (void)
{
  TestRedis *own = test_redis_start (FALSE, NULL);
  g_autofree char *uri = g_strdup_printf ("%s?timeout=5", own->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("redis-server killed mid-call: pending and later calls fail BROKEN, no hang");
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (1), NULL, &error));

  /* stopped: the call is sent and waits; then killed under it */
  kill (own->pid, SIGSTOP);
  mproc_dict_get_async (dict, g_variant_new_int32 (1), NULL, store_result, &result);
  for (int i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  start = g_get_monotonic_time ();
  test_redis_kill (own, SIGKILL);
  g_assert_null (mproc_dict_get_finish (dict, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* later calls: refused at once */
  start = g_get_monotonic_time ();
  g_assert_false (mproc_dict_set (dict, g_variant_new_int32 (2), g_variant_new_int32 (2), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);

  /* back: the same proxy works again */
  test_redis_restart (own);
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 0);
  g_assert_no_error (error);
  test_redis_stop (own);
}

static void
test_server_stopped (void)
{
  TestRedis *own = test_redis_start (FALSE, NULL);
  g_autofree char *uri = g_strdup_printf ("%s?timeout=0.3", own->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("A server that does not answer: the call times out, the connection stays in step");
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);
  kill (own->pid, SIGSTOP);
  start = g_get_monotonic_time ();
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
  g_clear_error (&error);
  kill (own->pid, SIGCONT);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (1), NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1);
  g_assert_no_error (error);
  test_redis_stop (own);
}

/* The same limit set on the manager (MprocManager:timeout) rather than in
 * the URI, and given back by -1. */
static void
test_manager_timeout (void)
{
  TestRedis *own = test_redis_start (FALSE, NULL);
  g_autoptr(MprocManager) manager = open_manager (own->uri);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("MprocManager:timeout bounds each call on a Redis manager too");
  dict = mproc_dict_new (manager, "d", NULL, &error);
  ns = mproc_namespace_new (manager, "n", NULL, &error);
  g_assert_no_error (error);
  mproc_manager_set_timeout (manager, 300);
  kill (own->pid, SIGSTOP);
  start = g_get_monotonic_time ();
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, -1);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_false (mproc_namespace_set (ns, "x", g_variant_new_int32 (1), NULL, &error) &&
                  mproc_namespace_delete (ns, "x", NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 280 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  kill (own->pid, SIGCONT);
  mproc_manager_set_timeout (manager, -1);
  g_assert_cmpint (mproc_manager_get_timeout (manager), ==, -1);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (1), NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_clear_object (&dict);
  g_clear_object (&ns);
  g_clear_object (&manager);
  test_redis_stop (own);
}

static void
test_malformed (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = NULL;
  g_autofree char *hkey = NULL;
  const char *prefix = strstr (uri, "prefix=") + strlen ("prefix=");

  g_test_summary ("A value written into Redis by another client is checked, and the object stays usable");
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);
  hkey = g_strdup_printf ("%s:{o%" G_GUINT64_FORMAT "}:h", prefix, mproc_proxy_get_id (dict));
  key = g_variant_ref_sink (g_variant_new_variant (g_variant_new_string ("k")));
  /* an `as` whose offsets point outside its data */
  reply = raw_command (redis->uri, "HSET", hkey, (gsize) 0, (const char *) g_variant_get_data (key),
                       g_variant_get_size (key), "\xff\xff\0as", (gsize) 5, NULL);
  value = mproc_dict_get (dict, g_variant_new_string ("k"), NULL, &error);
  g_assert_null (value);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("k"), g_variant_new_int32 (5), NULL, &error));
  value = mproc_dict_get (dict, g_variant_new_string ("k"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 5);
}

static void
test_auth (void)
{
  const char * const extra[] = { "--requirepass", "s3cret", NULL };
  TestRedis *own = test_redis_start (TRUE, extra);
  g_autofree char *file = g_build_filename (own->dir, "password", NULL);
  g_autofree char *wrong = g_build_filename (own->dir, "wrong", NULL);
  g_autofree char *good_uri = g_strdup_printf ("%s?password-file=%s", own->tcp_uri, file);
  g_autofree char *wrong_uri = g_strdup_printf ("%s?password-file=%s", own->tcp_uri, wrong);
  g_autofree char *acl_uri = NULL;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = NULL;

  g_test_summary ("TCP with a password file; a wrong password and an ACL without permission are errors");
  g_assert_true (g_file_set_contents (file, "s3cret\n", -1, NULL));
  g_assert_true (g_file_set_contents (wrong, "guess", -1, NULL));

  manager = mproc_manager_new_for_uri (wrong_uri, NULL, &error);
  g_assert_null (manager);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  /* the password is never in a message */
  g_assert_null (strstr (error->message, "guess"));
  g_clear_error (&error);

  manager = open_manager (good_uri);
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (1), NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&dict);
  g_clear_object (&manager);

  /* a user limited to other keys, without @dangerous */
  {
    g_autofree char *admin = g_strdup_printf ("%s?password-file=%s", own->uri, file);

    reply = raw_command (admin, "ACL", "SETUSER", (gsize) 0, "app", (gsize) 0, "on", (gsize) 0,
                         ">apppass", (gsize) 0, "~other:*", (gsize) 0, "+@all", (gsize) 0,
                         "-@dangerous", (gsize) 0, NULL);
  }
  acl_uri = g_strdup_printf ("redis://app:apppass@127.0.0.1:%u", own->port);
  manager = open_manager (acl_uri);
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_null (dict);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_clear_error (&error);
  g_clear_object (&manager);

  /* the same user on its own prefix works */
  g_clear_pointer (&acl_uri, g_free);
  acl_uri = g_strdup_printf ("redis://app:apppass@127.0.0.1:%u?prefix=other", own->port);
  manager = open_manager (acl_uri);
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (2), NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_clear_object (&dict);
  g_clear_object (&manager);
  test_redis_stop (own);
}

static void
test_bad_uri (void)
{
  g_autoptr(GError) error = NULL;
  const char *bad[] = { "http://x", "redis://", "unix:relative", "redis://h/notadb",
                        "redis://h?prefix={x}", "redis://h?what=1", "redis://h?tls-ca=rel" };

  g_test_summary ("Malformed URIs are GErrors");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (mproc_manager_new_for_uri (bad[i], NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
}

static void
test_manager_uri_env (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocManager) bad = NULL;
  g_autoptr(MprocManager) other = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(MprocDict) seen = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("With MPROC_MANAGER_URI set, a plain manager's start() connects to Redis "
                  "instead of starting a server");
  g_setenv ("MPROC_MANAGER_URI", uri, TRUE);
  manager = mproc_manager_new ();
  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (mproc_manager_start (manager, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_STILL_RUNNING);
  g_clear_error (&error);
  dict = mproc_dict_new (manager, "env", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_string ("k"), g_variant_new_int32 (5), NULL, &error));

  /* in Redis: another manager for the URI sees it */
  other = open_manager (uri);
  seen = mproc_dict_new (other, "env", NULL, &error);
  g_assert_no_error (error);
  value = mproc_dict_get (seen, g_variant_new_string ("k"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 5);
  g_clear_pointer (&value, g_variant_unref);

  /* start_async connects without a thread, on the caller's context */
  {
    g_autoptr(MprocManager) later = mproc_manager_new ();
    g_autoptr(MprocDict) again = NULL;
    GAsyncResult *result = NULL;

    mproc_manager_start_async (later, NULL, store_result, &result);
    g_assert_true (mproc_manager_start_finish (later, wait_result (&result), &error));
    g_assert_no_error (error);
    g_clear_object (&result);
    again = mproc_dict_new (later, "env", NULL, &error);
    g_assert_no_error (error);
    value = mproc_dict_get (again, g_variant_new_string ("k"), NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_variant_get_int32 (value), ==, 5);
    g_clear_pointer (&value, g_variant_unref);
    mproc_manager_shutdown_async (later, NULL, store_result, &result);
    g_assert_true (mproc_manager_shutdown_finish (later, wait_result (&result), &error));
    g_clear_object (&result);
  }

  /* shut down, the objects stay */
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_no_error (error);
  value = mproc_dict_get (seen, g_variant_new_string ("k"), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 5);

  /* not a Redis URI: an error, and no server started either */
  g_setenv ("MPROC_MANAGER_URI", "http://example.org/", TRUE);
  bad = mproc_manager_new ();
  g_assert_false (mproc_manager_start (bad, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "MPROC_MANAGER_URI"));
  g_clear_error (&error);
  g_assert_null (mproc_manager_get_address (bad));
  g_unsetenv ("MPROC_MANAGER_URI");
}

/* --- Queues and locks --------------------------------------------------------------- */

static int
target_getter (MprocProcess *process,
               GVariant     *args,
               gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocJoinableQueue) queue = NULL;
  g_autoptr(MprocQueue) got = NULL;
  g_autoptr(GVariant) item = NULL;
  const char *uri, *mode;

  g_variant_get (args, "(&s&s)", &uri, &mode);
  manager = mproc_manager_new_for_uri (uri, NULL, &error);
  if (manager == NULL)
    g_error ("%s", error->message);
  got = mproc_manager_new_queue (manager, "got", NULL, &error);
  if (got == NULL)
    g_error ("%s", error->message);
  if (g_str_equal (mode, "get-and-die"))
    {
      queue = mproc_manager_new_joinable_queue (manager, "jobs", NULL, &error);
      if (queue == NULL)
        g_error ("%s", error->message);
      item = mproc_queue_get (MPROC_QUEUE (queue), 10 * G_USEC_PER_SEC, NULL, &error);
      if (item == NULL)
        g_error ("%s", error->message);
      /* tells the parent, then never calls task_done() */
      if (!mproc_queue_put (got, item, -1, NULL, &error) ||
          mproc_queue_get_qsize (got) == G_MAXUINT)
        g_error ("%s", error->message);
      pause ();
    }
  else if (g_str_equal (mode, "set-event"))
    {
      g_autoptr(MprocEvent) event = mproc_manager_new_event (manager, "e", NULL, &error);

      if (event == NULL)
        g_error ("%s", error->message);
      g_usleep (200 * 1000);
      mproc_event_set (event);
      return 0;
    }
  else if (g_str_equal (mode, "simple-put"))
    {
      g_autoptr(MprocSimpleQueue) sq = mproc_manager_new_simple_queue (manager, "sq", NULL, &error);

      if (sq == NULL)
        g_error ("%s", error->message);
      g_usleep (200 * 1000);
      if (!mproc_simple_queue_put (sq, g_variant_new_string ("from the child"), NULL, &error))
        g_error ("%s", error->message);
      /* the put is pipelined: a round trip makes sure it reached the server */
      (void) mproc_simple_queue_is_empty (sq);
      return 0;
    }
  else if (g_str_equal (mode, "lock-and-die"))
    {
      g_autoptr(MprocLock) lock = mproc_manager_new_lock (manager, "l", NULL, &error);

      if (lock == NULL || !mproc_lock_acquire (lock, -1, NULL, &error))
        g_error ("%s", error->message);
      if (!mproc_queue_put (got, g_variant_new_string ("locked"), -1, NULL, &error) ||
          mproc_queue_get_qsize (got) == G_MAXUINT)
        g_error ("%s", error->message);
      pause ();
    }
  return 1;
}

static GVariant *
wait_got (MprocManager *manager)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocQueue) got = mproc_manager_new_queue (manager, "got", NULL, &error);
  GVariant *value;

  g_assert_no_error (error);
  value = mproc_queue_get (got, 20 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  return value;
}

static void
test_queue (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(MprocQueue) same = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("A queue in Redis: FIFO, one getter per message, Empty and timeouts");
  queue = mproc_manager_new_queue (manager, "q", NULL, &error);
  g_assert_no_error (error);
  same = mproc_manager_new_queue (manager, "q", NULL, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 10; i++)
    g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (i), -1, NULL, &error));
  g_assert_cmpuint (mproc_queue_get_qsize (same), ==, 10);
  for (int i = 0; i < 10; i++)
    {
      value = mproc_queue_get (i % 2 ? queue : same, -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, i);
      g_clear_pointer (&value, g_variant_unref);
    }
  g_assert_null (mproc_queue_get_nowait (queue, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
  g_clear_error (&error);
  start = g_get_monotonic_time ();
  g_assert_null (mproc_queue_get (queue, 300 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 250 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  /* what a remote queue does not do is an error, not a crash */
  g_assert_null (mproc_queue_create_source (queue));
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_queue_async (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(MprocJoinableQueue) jobs = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *results[2] = { NULL, NULL };
  GAsyncResult *result = NULL;
  guint threads;
  gint64 start;
  int sum = 0;

  g_test_summary ("put_async and get_async of a queue in Redis: on the caller's main context, "
                  "no thread, a waiting get woken by a put, timeouts and cancellation");
  queue = mproc_manager_new_queue (manager, "qa", NULL, &error);
  g_assert_no_error (error);
  /* connected, so that only the calls below could add a thread */
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 0);
  threads = test_count_threads ();

  for (int i = 0; i < 3; i++)
    {
      mproc_queue_put_async (queue, g_variant_new_int32 (i), -1, NULL, store_result, &result);
      g_assert_true (mproc_queue_put_finish (queue, wait_result (&result), &error));
      g_assert_no_error (error);
      g_clear_object (&result);
    }
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 3);
  for (int i = 0; i < 3; i++)
    {
      mproc_queue_get_async (queue, i == 0 ? 0 : -1, NULL, store_result, &result);
      value = mproc_queue_get_finish (queue, wait_result (&result), &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, i);
      g_clear_pointer (&value, g_variant_unref);
      g_clear_object (&result);
    }

  /* two gets waiting on an empty queue, each on its own connection, both
   * woken by puts made meanwhile */
  mproc_queue_get_async (queue, -1, NULL, store_result, &results[0]);
  mproc_queue_get_async (queue, -1, NULL, store_result, &results[1]);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (results[0]);
  g_assert_null (results[1]);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (10), -1, NULL, &error));
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (20), -1, NULL, &error));
  for (int i = 0; i < 2; i++)
    {
      value = mproc_queue_get_finish (queue, wait_result (&results[i]), &error);
      g_assert_no_error (error);
      sum += g_variant_get_int32 (value);
      g_clear_pointer (&value, g_variant_unref);
      g_clear_object (&results[i]);
    }
  g_assert_cmpint (sum, ==, 30);
  g_assert_cmpuint (test_count_threads (), ==, threads);

  /* nothing there: Empty at once without waiting, or after the timeout */
  mproc_queue_get_async (queue, 0, NULL, store_result, &result);
  g_assert_null (mproc_queue_get_finish (queue, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
  g_clear_error (&error);
  g_clear_object (&result);
  start = g_get_monotonic_time ();
  mproc_queue_get_async (queue, 300 * 1000, NULL, store_result, &result);
  g_assert_null (mproc_queue_get_finish (queue, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 250 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);

  /* cancelled while waiting: returns at once, and its connection is
   * closed, so it takes nothing put later */
  start = g_get_monotonic_time ();
  mproc_queue_get_async (queue, -1, cancellable, store_result, &result);
  g_timeout_add (100, cancel_later, cancellable);
  g_assert_null (mproc_queue_get_finish (queue, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (7), -1, NULL, &error));
  value = mproc_queue_get (queue, 5 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (value), ==, 7);
  g_clear_pointer (&value, g_variant_unref);

  /* a JoinableQueue's put_async counts the item before it returns */
  jobs = mproc_manager_new_joinable_queue (manager, "ja", NULL, &error);
  g_assert_no_error (error);
  mproc_queue_put_async (MPROC_QUEUE (jobs), g_variant_new_string ("job"), -1, NULL, store_result, &result);
  g_assert_true (mproc_queue_put_finish (MPROC_QUEUE (jobs), wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_false (mproc_joinable_queue_join (jobs, 100 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  value = mproc_queue_get (MPROC_QUEUE (jobs), 5 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "job");
  g_assert_true (mproc_joinable_queue_task_done (jobs, &error));
  g_assert_true (mproc_joinable_queue_join (jobs, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  /* what it does not do asynchronously is an error, not a crash */
  mproc_queue_get_async (MPROC_QUEUE (jobs), 0, NULL, store_result, &result);
  g_assert_null (mproc_queue_get_finish (MPROC_QUEUE (jobs), wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_clear_error (&error);
  g_clear_object (&result);
}

static void
test_joinable_getter_killed (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocJoinableQueue) jobs = NULL;
  g_autoptr(MprocProcess) getter = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("A getter SIGKILLed before task_done: the item stays pending, join waits, another getter gets it");
  jobs = mproc_manager_new_joinable_queue (manager, "jobs", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_queue_put (MPROC_QUEUE (jobs), g_variant_new_string ("job-1"), -1, NULL, &error));
  g_assert_no_error (error);

  getter = mproc_process_new ("getter", g_variant_new ("(ss)", uri, "get-and-die"));
  g_assert_true (mproc_process_start (getter, &error));
  got = wait_got (manager);
  g_assert_cmpstr (g_variant_get_string (got, NULL), ==, "job-1");
  g_assert_cmpuint (mproc_queue_get_qsize (MPROC_QUEUE (jobs)), ==, 0);
  kill (mproc_process_get_pid (getter), SIGKILL);
  g_assert_false (mproc_process_join (getter, 10 * G_USEC_PER_SEC, NULL, &error) &&
                  mproc_process_get_exit_code (getter) == 0);
  g_clear_error (&error);

  /* not done: join does not return */
  g_assert_false (mproc_joinable_queue_join (jobs, 300 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* reclaimed from the dead getter, within a bounded time */
  start = g_get_monotonic_time ();
  again = mproc_queue_get (MPROC_QUEUE (jobs), 5 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (again, NULL), ==, "job-1");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_assert_true (mproc_joinable_queue_task_done (jobs, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_joinable_queue_join (jobs, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (mproc_joinable_queue_task_done (jobs, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES);
  g_clear_error (&error);
  /* nothing left */
  g_assert_null (mproc_queue_get_nowait (MPROC_QUEUE (jobs), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
}

static void
test_lock_holder_killed (void)
{
  g_autofree char *base = unique_uri (redis->uri);
  g_autofree char *uri = g_strdup_printf ("%s&lease=0.5", base);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocLock) other = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("A lease lock: held elsewhere it waits; its holder SIGKILLed, the next acquirer gets OWNER_DIED");
  lock = mproc_manager_new_lock (manager, "l", NULL, &error);
  other = mproc_manager_new_lock (manager, "l", NULL, &error);
  g_assert_no_error (error);

  g_assert_true (mproc_lock_acquire (lock, -1, NULL, &error));
  g_assert_true (mproc_lock_is_owned (lock));
  g_assert_false (mproc_lock_try_acquire (other, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  /* held longer than the lease: renewed from this main context */
  start = g_get_monotonic_time ();
  while (g_get_monotonic_time () - start < G_USEC_PER_SEC)
    g_main_context_iteration (NULL, FALSE), g_usleep (10 * 1000);
  g_assert_false (mproc_lock_try_acquire (other, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (mproc_lock_release (lock, &error));
  g_assert_no_error (error);
  g_assert_false (mproc_lock_release (lock, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER);
  g_clear_error (&error);

  holder = mproc_process_new ("getter", g_variant_new ("(ss)", uri, "lock-and-die"));
  g_assert_true (mproc_process_start (holder, &error));
  got = wait_got (manager);
  g_assert_false (mproc_lock_try_acquire (lock, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  kill (mproc_process_get_pid (holder), SIGKILL);
  mproc_process_join (holder, 10 * G_USEC_PER_SEC, NULL, NULL);

  start = g_get_monotonic_time ();
  g_assert_false (mproc_lock_acquire (lock, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  /* held by us all the same */
  g_assert_true (mproc_lock_is_owned (lock));
  g_assert_true (mproc_lock_release (lock, &error));
  g_assert_true (mproc_lock_acquire (other, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_lock_release (other, &error));
  g_assert_no_error (error);
}

static void
test_joinable_restart (void)
{
  const char * const extra[] = { "--appendonly", "yes", "--appendfsync", "always", NULL };
  TestRedis *own = test_redis_start (FALSE, extra);
  g_autoptr(MprocManager) manager = open_manager (own->uri);
  g_autoptr(MprocJoinableQueue) jobs = NULL;
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("redis-server restarted with AOF: JoinableQueue items survive, pending ones stay pending");
  jobs = mproc_manager_new_joinable_queue (manager, "jobs", NULL, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 3; i++)
    g_assert_true (mproc_queue_put (MPROC_QUEUE (jobs), g_variant_new_int32 (i), -1, NULL, &error));
  first = mproc_queue_get (MPROC_QUEUE (jobs), -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (first), ==, 0);

  test_redis_kill (own, SIGKILL);
  test_redis_restart (own);

  /* the pending one is still ours to finish: join waits for it */
  g_assert_cmpuint (mproc_queue_get_qsize (MPROC_QUEUE (jobs)), ==, 2);
  for (int i = 1; i < 3; i++)
    {
      g_autoptr(GVariant) v = mproc_queue_get (MPROC_QUEUE (jobs), 5 * G_USEC_PER_SEC, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
  g_assert_true (mproc_joinable_queue_task_done (jobs, &error));
  g_assert_true (mproc_joinable_queue_task_done (jobs, &error));
  g_assert_no_error (error);
  g_assert_false (mproc_joinable_queue_join (jobs, 200 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_true (mproc_joinable_queue_task_done (jobs, &error));
  g_assert_true (mproc_joinable_queue_join (jobs, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&jobs);
  g_clear_object (&manager);
  test_redis_stop (own);
}

static void
make_ca (const char *dir,
         const char *name,
         gboolean    with_server)
{
  g_autofree char *script = NULL;
  int status;

  /* a CA (and a server certificate it signs) made now: no keys in the repository */
  script = g_strdup_printf (
    "set -e; cd '%s'; "
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s.key -out %s.pem -days 1 -subj /CN=%s 2>/dev/null; "
    "%s",
    dir, name, name, name,
    with_server ?
      "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.cnf; "
      "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null; "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 "
      "-extfile san.cnf 2>/dev/null" : "true");
  g_assert_true (g_spawn_sync (NULL, (char *[]) { (char *) "sh", (char *) "-c", script, NULL }, NULL,
                               G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
test_tls (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *port = g_strdup_printf ("%d", g_random_int_range (20000, 60000));
  g_autofree char *cert = NULL, *key = NULL, *ca = NULL, *wrong = NULL;
  g_autofree char *good_uri = NULL, *wrong_uri = NULL;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  TestRedis *own;

  g_test_summary ("rediss:// with a CA made at test time; a wrong CA is a TLS error");
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("no TLS backend (glib-networking)");
      return;
    }
  dir = g_dir_make_tmp ("mproc-redis-tls-XXXXXX", &error);
  g_assert_no_error (error);
  make_ca (dir, "ca", TRUE);
  make_ca (dir, "other", FALSE);
  cert = g_build_filename (dir, "server.pem", NULL);
  key = g_build_filename (dir, "server.key", NULL);
  ca = g_build_filename (dir, "ca.pem", NULL);
  wrong = g_build_filename (dir, "other.pem", NULL);
  {
    const char * const extra[] = { "--tls-port", port, "--tls-cert-file", cert, "--tls-key-file", key,
                                   "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", NULL };

    own = test_redis_start (FALSE, extra);
  }
  good_uri = g_strdup_printf ("rediss://localhost:%s?tls-ca=%s", port, ca);
  wrong_uri = g_strdup_printf ("rediss://localhost:%s?tls-ca=%s", port, wrong);

  manager = mproc_manager_new_for_uri (wrong_uri, NULL, &error);
  g_assert_null (manager);
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_TLS_ERROR);
  g_clear_error (&error);

  manager = open_manager (good_uri);
  dict = mproc_dict_new (manager, "d", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (2), NULL, &error));
  g_assert_cmpint (mproc_dict_len (dict, NULL, &error), ==, 1);
  g_assert_no_error (error);
  g_clear_object (&dict);
  g_clear_object (&manager);
  test_redis_stop (own);
  test_redis_remove_tree (dir);
}

static void
test_event (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocProcess) setter = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  g_test_summary ("An event in Redis: a wait times out, a set by another process wakes it");
  event = mproc_manager_new_event (manager, "e", NULL, &error);
  g_assert_no_error (error);
  g_assert_false (mproc_event_is_set (event));
  start = g_get_monotonic_time ();
  g_assert_false (mproc_event_wait (event, 200 * 1000, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 150 * 1000);

  setter = mproc_process_new ("getter", g_variant_new ("(ss)", uri, "set-event"));
  g_assert_true (mproc_process_start (setter, &error));
  g_assert_true (mproc_event_wait (event, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_event_is_set (event));
  join_ok (setter);
  mproc_event_clear (event);
  g_assert_false (mproc_event_is_set (event));
}

static void
test_lock_async (void)
{
  g_autofree char *base = unique_uri (redis->uri);
  g_autofree char *uri = g_strdup_printf ("%s&lease=0.5", base);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocLock) other = NULL;
  g_autoptr(MprocLock) dead = NULL;
  g_autoptr(MprocProcess) holder = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  guint threads;
  gint64 start;

  g_test_summary ("acquire_async of a lease lock in Redis: woken by a release, times out, is "
                  "cancelled, and gets OWNER_DIED after its holder is SIGKILLed, with no thread");
  lock = mproc_manager_new_lock (manager, "la", NULL, &error);
  g_assert_no_error (error);
  other = mproc_manager_new_lock (manager, "la", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_lock_acquire (lock, -1, NULL, &error));
  threads = test_count_threads ();

  /* held: a timed acquire_async times out, a cancelled one returns at once */
  start = g_get_monotonic_time ();
  mproc_lock_acquire_async (other, 200 * 1000, NULL, store_result, &result);
  g_assert_false (mproc_lock_acquire_finish (other, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 150 * 1000);
  start = g_get_monotonic_time ();
  mproc_lock_acquire_async (other, -1, cancellable, store_result, &result);
  g_timeout_add (100, cancel_later, cancellable);
  g_assert_false (mproc_lock_acquire_finish (other, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  g_assert_false (mproc_lock_is_owned (other));

  /* a release wakes a waiting acquire_async, well before any lease runs out */
  mproc_lock_acquire_async (other, -1, NULL, store_result, &result);
  for (int i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_null (result);
  start = g_get_monotonic_time ();
  g_assert_true (mproc_lock_release (lock, &error));
  g_assert_true (mproc_lock_acquire_finish (other, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 400 * 1000);
  g_assert_true (mproc_lock_is_owned (other));
  /* the same object, held: an error, not a wait */
  mproc_lock_acquire_async (other, -1, NULL, store_result, &result);
  g_assert_false (mproc_lock_acquire_finish (other, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_true (mproc_lock_release (other, &error));
  g_assert_cmpuint (test_count_threads (), ==, threads);

  /* its holder killed: OWNER_DIED after the lease, and held */
  dead = mproc_manager_new_lock (manager, "l", NULL, &error);
  g_assert_no_error (error);
  holder = mproc_process_new ("getter", g_variant_new ("(ss)", uri, "lock-and-die"));
  g_assert_true (mproc_process_start (holder, &error));
  got = wait_got (manager);
  kill (mproc_process_get_pid (holder), SIGKILL);
  mproc_process_join (holder, 10 * G_USEC_PER_SEC, NULL, NULL);
  start = g_get_monotonic_time ();
  mproc_lock_acquire_async (dead, 5 * G_USEC_PER_SEC, NULL, store_result, &result);
  g_assert_false (mproc_lock_acquire_finish (dead, wait_result (&result), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
  g_assert_true (mproc_lock_is_owned (dead));
  g_assert_true (mproc_lock_release (dead, &error));
  g_assert_no_error (error);
}

static void
test_simple_queue (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocSimpleQueue) sq = NULL;
  g_autoptr(MprocQueue) same = NULL;
  g_autoptr(MprocProcess) child = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;

  g_test_summary ("A SimpleQueue in Redis: FIFO put and get, get_async woken by another process's put");
  sq = mproc_manager_new_simple_queue (manager, "sq", NULL, &error);
  g_assert_no_error (error);
  g_assert_true (mproc_simple_queue_is_empty (sq));
  g_assert_true (mproc_simple_queue_put (sq, g_variant_new_int32 (1), NULL, &error));
  g_assert_true (mproc_simple_queue_put (sq, g_variant_new_int32 (2), NULL, &error));
  g_assert_no_error (error);
  g_assert_false (mproc_simple_queue_is_empty (sq));
  /* the same LIST as the Queue of that name */
  same = mproc_manager_new_queue (manager, "sq", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_queue_get_qsize (same), ==, 2);
  for (int i = 1; i <= 2; i++)
    {
      value = mproc_simple_queue_get (sq, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, i);
      g_clear_pointer (&value, g_variant_unref);
    }
  g_assert_true (mproc_simple_queue_is_empty (sq));

  mproc_simple_queue_get_async (sq, NULL, store_result, &result);
  child = mproc_process_new ("getter", g_variant_new ("(ss)", uri, "simple-put"));
  g_assert_true (mproc_process_start (child, &error));
  value = mproc_simple_queue_get_finish (sq, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "from the child");
  g_clear_object (&result);
  join_ok (child);

  /* closed: as locally */
  mproc_simple_queue_close (sq);
  g_assert_false (mproc_simple_queue_put (sq, g_variant_new_int32 (3), NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_clear_error (&error);
}

static void
test_event_async (void)
{
  g_autofree char *uri = unique_uri (redis->uri);
  g_autoptr(MprocManager) manager = open_manager (uri);
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocProcess) setter = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GAsyncResult *result = NULL;
  guint threads;
  gint64 start;

  g_test_summary ("wait_async of an event in Redis: times out with FALSE, is woken by a set in "
                  "another process, is cancelled at once, with no thread");
  event = mproc_manager_new_event (manager, "e", NULL, &error);
  g_assert_no_error (error);
  g_assert_false (mproc_event_is_set (event));
  threads = test_count_threads ();

  start = g_get_monotonic_time ();
  mproc_event_wait_async (event, 200 * 1000, NULL, store_result, &result);
  g_assert_false (mproc_event_wait_finish (event, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 150 * 1000);

  start = g_get_monotonic_time ();
  mproc_event_wait_async (event, -1, cancellable, store_result, &result);
  g_timeout_add (100, cancel_later, cancellable);
  g_assert_false (mproc_event_wait_finish (event, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);

  mproc_event_wait_async (event, 10 * G_USEC_PER_SEC, NULL, store_result, &result);
  setter = mproc_process_new ("getter", g_variant_new ("(ss)", uri, "set-event"));
  g_assert_true (mproc_process_start (setter, &error));
  g_assert_true (mproc_event_wait_finish (event, wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  join_ok (setter);
  g_assert_cmpuint (test_count_threads (), ==, threads);

  /* already set: at once */
  mproc_event_wait_async (event, 0, NULL, store_result, &result);
  g_assert_true (mproc_event_wait_finish (event, wait_result (&result), &error));
  g_clear_object (&result);
  mproc_event_clear (event);
}

int
main (int argc, char *argv[])
{
  int ret;

  mproc_register_target ("writer", target_writer, NULL, NULL);
  mproc_register_target ("getter", target_getter, NULL, NULL);
  test_init (&argc, &argv);
  if (!test_redis_available ())
    {
      g_print ("1..0 # SKIP redis-server is not installed\n");
      return 0;
    }

  g_test_add_func ("/mproc/redis/processes", test_processes);
  g_test_add_func ("/mproc/redis/watch", test_watch);
  g_test_add_func ("/mproc/redis/async", test_async);
  g_test_add_func ("/mproc/redis/server-killed", test_server_killed);
  g_test_add_func ("/mproc/redis/server-stopped", test_server_stopped);
  g_test_add_func ("/mproc/redis/manager-timeout", test_manager_timeout);
  g_test_add_func ("/mproc/redis/malformed", test_malformed);
  g_test_add_func ("/mproc/redis/auth", test_auth);
  g_test_add_func ("/mproc/redis/bad-uri", test_bad_uri);
  g_test_add_func ("/mproc/redis/manager-uri-env", test_manager_uri_env);
  g_test_add_func ("/mproc/redis/queue", test_queue);
  g_test_add_func ("/mproc/redis/queue-async", test_queue_async);
  g_test_add_func ("/mproc/redis/simple-queue", test_simple_queue);
  g_test_add_func ("/mproc/redis/joinable-getter-killed", test_joinable_getter_killed);
  g_test_add_func ("/mproc/redis/lock-holder-killed", test_lock_holder_killed);
  g_test_add_func ("/mproc/redis/joinable-restart", test_joinable_restart);
  g_test_add_func ("/mproc/redis/tls", test_tls);
  g_test_add_func ("/mproc/redis/event", test_event);
  g_test_add_func ("/mproc/redis/event-async", test_event_async);
  g_test_add_func ("/mproc/redis/lock-async", test_lock_async);

  if (!g_test_subprocess ())
    redis = test_redis_start (FALSE, NULL);
  ret = g_test_run ();
  test_redis_stop (redis);
  return ret;
}
