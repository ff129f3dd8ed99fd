/* test-pool.c: MprocPool with real worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <mproc.h>

#include "test-util.h"


#define TEST_ERROR (g_quark_from_static_string ("test-pool-error-quark"))

/* --- Targets (registered before mproc_init (), known in every worker) ---- */

static GVariant *
task_double (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_new_int64 (2 * g_variant_get_int64 (arg));
}

static GVariant *
chunk_double (GVariant *items, gpointer user_data, GError **error)
{
  gsize n = 0;
  const gint64 *in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  gint64 *out = g_new (gint64, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    out[i] = 2 * in[i];
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

/* (x, sleep_ms, pidfile): writes its pid to pidfile (if any), sleeps, returns 2x */
static GVariant *
task_slow (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x;
  gint32 ms;
  const char *pidfile;

  g_variant_get (arg, "(xi&s)", &x, &ms, &pidfile);
  if (pidfile[0] != '\0')
    {
      g_autofree char *text = g_strdup_printf ("%d", (int) getpid ());
      g_autofree char *tmp = g_strconcat (pidfile, ".tmp", NULL);

      g_file_set_contents (tmp, text, -1, NULL);
      g_rename (tmp, pidfile);
    }
  g_usleep ((gulong) ms * 1000);
  return g_variant_new_int64 (2 * x);
}

static GVariant *
task_getpid (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_new_int32 (getpid ());
}

/* Fails for 3 (custom domain) and 4 (G_IO_ERROR), else 2x. */
static GVariant *
task_fail (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x = g_variant_get_int64 (arg);

  if (x == 3)
    {
      g_set_error (error, TEST_ERROR, 42, "bad item %" G_GINT64_FORMAT, x);
      return NULL;
    }
  if (x == 4)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such item");
      return NULL;
    }
  return g_variant_new_int64 (2 * x);
}

/* An int for even items, a string for odd ones. */
static GVariant *
task_mixed (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x = g_variant_get_int64 (arg);

  if (x % 2 == 0)
    return g_variant_new_int64 (x);
  return g_variant_new_take_string (g_strdup_printf ("%" G_GINT64_FORMAT, x));
}

/* x == 5: dies as asked by user_data ("segv" or "exit"); else 2x. */
static GVariant *
task_die (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x = g_variant_get_int64 (arg);

  if (x == 5)
    {
      if (g_str_equal (user_data, "segv"))
        raise (SIGSEGV);
      _exit (3);
    }
  return g_variant_new_int64 (2 * x);
}

/* Appends "pid name" to the file named by arg. */
static GVariant *
task_init_log (GVariant *arg, gpointer user_data, GError **error)
{
  g_autofree char *line = g_strdup_printf ("%d %s\n", (int) getpid (),
                                           mproc_process_get_name (mproc_current_process ()));
  int fd = open (g_variant_get_string (arg, NULL), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, line, strlen (line)), ==, (gssize) strlen (line));
  close (fd);
  return g_variant_new ("()");
}

/* --- Helpers ------------------------------------------------------------- */

static MprocPool *
new_pool (gconstpointer  method,
          guint          processes,
          const char    *initializer,
          GVariant      *initargs,
          guint          maxtasks)
{
  g_autoptr(MprocContext) context = mproc_context_new (GPOINTER_TO_INT (method));
  g_autoptr(GError) error = NULL;
  MprocPool *pool = mproc_pool_new_full (context, processes, initializer, initargs, maxtasks, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pool);
  return pool;
}

static void
close_and_join (MprocPool *pool)
{
  g_autoptr(GError) error = NULL;

  mproc_pool_close (pool);
  g_assert_true (mproc_pool_join (pool, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 0);
}

static GVariant *
range (gint64 n)
{
  g_autofree gint64 *v = g_new (gint64, MAX (n, 1));

  for (gint64 i = 0; i < n; i++)
    v[i] = i;
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, v, n, sizeof (gint64));
}

static void
assert_doubles (GVariant *result, gint64 n)
{
  g_assert_cmpstr (g_variant_get_type_string (result), ==, "ax");
  g_assert_cmpuint (g_variant_n_children (result), ==, n);
  for (gint64 i = 0; i < n; i++)
    {
      gint64 x;

      g_variant_get_child (result, i, "x", &x);
      g_assert_cmpint (x, ==, 2 * i);
    }
}



static char *
tmp_path (const char *what)
{
  return g_strdup_printf ("%s/test-pool-%d-%s", g_get_tmp_dir (), (int) getpid (), what);
}

static GPid
wait_pidfile (const char *path)
{
  g_autofree char *text = NULL;

  for (guint i = 0; i < 1000; i++)
    {
      if (g_file_get_contents (path, &text, NULL, NULL))
        return atoi (text);
      g_usleep (5000);
    }
  g_assert_not_reached ();
  return 0;
}

/* --- Tests -------------------------------------------------------------- */

static void
test_map_order (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;

  g_test_summary ("map() returns results in input order even when later items finish first");
  test_leak_check_begin (&check);
  pool = new_pool (method, 3, NULL, NULL, 0);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
  for (gint64 i = 0; i < 12; i++)
    g_variant_builder_add (&builder, "(xis)", i, (gint32) ((12 - i) % 4) * 15, "");
  result = mproc_pool_map (pool, "slow", g_variant_builder_end (&builder), 1, -1, NULL, &error);
  g_assert_no_error (error);
  assert_doubles (result, 12);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_map_chunksize (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  static const struct { gint64 n; guint chunksize; } cases[] = {
    { 0, 0 }, { 1, 0 }, { 3, 0 }, { 5, 100 }, { 17, 4 }, { 1000, 0 }, { 7, 1 },
  };

  g_test_summary ("map() with 0 items, 1 item, fewer items than workers, chunksize > items, "
                  "uneven last chunk, with item and chunk targets");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 4, NULL, NULL, 0);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (guint t = 0; t < 2; t++)
      {
        g_autoptr(GVariant) result = NULL;
        g_autoptr(GError) error = NULL;

        result = mproc_pool_map (pool, t == 0 ? "double" : "double-chunk", range (cases[c].n),
                                 cases[c].chunksize, -1, NULL, &error);
        g_assert_no_error (error);
        assert_doubles (result, cases[c].n);
      }

  /* results of different types come back boxed */
  {
    g_autoptr(GVariant) result = NULL;
    g_autoptr(GVariant) third = NULL;

    result = mproc_pool_map (pool, "mixed", range (6), 2, -1, NULL, NULL);
    g_assert_cmpstr (g_variant_get_type_string (result), ==, "av");
    g_assert_cmpuint (g_variant_n_children (result), ==, 6);
    g_variant_get_child (result, 3, "v", &third);
    g_assert_cmpstr (g_variant_get_string (third, NULL), ==, "3");
  }

  /* starmap: the tuples are the arguments */
  {
    g_autoptr(GVariant) result = NULL;
    GVariantBuilder builder;

    g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
    for (gint64 i = 0; i < 5; i++)
      g_variant_builder_add (&builder, "(xis)", i, 0, "");
    result = mproc_pool_starmap (pool, "slow", g_variant_builder_end (&builder), 0, -1, NULL, NULL);
    assert_doubles (result, 5);
  }

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_imap (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(MprocPoolIterator) ordered = NULL;
  g_autoptr(MprocPoolIterator) unordered = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  GVariantBuilder builder;
  g_autoptr(GVariant) items = NULL;
  GVariant *value;
  guint index, expected = 0, first = G_MAXUINT;

  g_test_summary ("imap() hands out results in input order, imap_unordered() as they finish");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  /* item 0 is slow: unordered gets others first */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
  for (gint64 i = 0; i < 8; i++)
    g_variant_builder_add (&builder, "(xis)", i, i == 0 ? 300 : 1, "");
  items = g_variant_ref_sink (g_variant_builder_end (&builder));

  ordered = mproc_pool_imap (pool, "slow", items, 1, -1, NULL);
  g_assert_true (mproc_pool_iterator_is_ordered (ordered));
  g_assert_cmpuint (mproc_pool_iterator_get_n_items (ordered), ==, 8);
  while ((value = mproc_pool_iterator_next (ordered, &index, NULL, NULL)) != NULL)
    {
      g_assert_cmpuint (index, ==, expected);
      g_assert_cmpint (g_variant_get_int64 (value), ==, 2 * index);
      expected++;
      g_variant_unref (value);
    }
  g_assert_cmpuint (expected, ==, 8);

  unordered = mproc_pool_imap_unordered (pool, "slow", items, 1, -1, NULL);
  while ((value = mproc_pool_iterator_next (unordered, &index, NULL, NULL)) != NULL)
    {
      if (first == G_MAXUINT)
        first = index;
      g_assert_cmpint (g_variant_get_int64 (value), ==, 2 * index);
      g_hash_table_add (seen, GUINT_TO_POINTER (index + 1));
      g_variant_unref (value);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 8);
  g_assert_cmpuint (first, !=, 0);

  close_and_join (pool);
  g_clear_object (&ordered);
  g_clear_object (&unordered);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

typedef struct
{
  guint     n_items;
  guint     n_signalled;
  guint     last;
  gboolean  in_order;
  gboolean  finished;
} ImapSignals;

static void
imap_item_cb (MprocPoolIterator *iter, guint index, GVariant *value, GError *error, gpointer data)
{
  ImapSignals *s = data;

  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 2 * index);
  if (s->n_signalled > 0 && index != s->last + 1)
    s->in_order = FALSE;
  s->last = index;
  s->n_signalled++;
}

static void
imap_finished_cb (MprocPoolIterator *iter, gpointer data)
{
  ((ImapSignals *) data)->finished = TRUE;
}

static void
test_imap_signals (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(MprocPoolIterator) iter = NULL;
  ImapSignals s = { 50, 0, 0, TRUE, FALSE };

  g_test_summary ("imap() results can be followed from the main loop through ::item and ::finished");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  iter = mproc_pool_imap (pool, "double-chunk", range (50), 3, -1, NULL);
  g_signal_connect (iter, "item", G_CALLBACK (imap_item_cb), &s);
  g_signal_connect (iter, "finished", G_CALLBACK (imap_finished_cb), &s);
  while (!s.finished)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (s.n_signalled, ==, 50);
  g_assert_true (s.in_order);

  close_and_join (pool);
  g_clear_object (&iter);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_apply_async_many (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  GAsyncResult *results[200] = { NULL, };
  g_autoptr(GVariant) one = NULL;

  g_test_summary ("Many apply_async() calls at once each get their own result");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    mproc_pool_apply_async (pool, i % 2 ? "double" : "double-chunk", g_variant_new_int64 (i), -1, NULL,
                            test_store_result, &results[i]);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GError) error = NULL;

      test_wait_result (&results[i]);
      value = mproc_pool_apply_finish (pool, results[i], &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (value), ==, 2 * i);
      g_clear_object (&results[i]);
    }

  one = mproc_pool_apply (pool, "double", g_variant_new_int64 (21), -1, NULL, NULL);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 42);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static guint
count_lines (const char *path, GHashTable *names)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (lines[i][0] != '\0')
      {
        const char *name = strchr (lines[i], ' ');

        g_assert_nonnull (name);
        g_assert_true (g_str_has_prefix (name + 1, "PoolWorker-"));
        if (names != NULL)
          g_assert_true (g_hash_table_add (names, g_strdup (name + 1)));
        n++;
      }
  return n;
}

static void
test_initializer (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autofree char *path = tmp_path ("init");
  g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_test_summary ("The initializer runs once in each worker, named PoolWorker-N");
  test_leak_check_begin (&check);
  g_unlink (path);

  pool = new_pool (method, 3, "init-log", g_variant_new_string (path), 0);
  g_assert_cmpstr (mproc_pool_get_initializer (pool), ==, "init-log");
  g_assert_cmpuint (mproc_pool_get_processes (pool), ==, 3);
  g_variant_unref (mproc_pool_map (pool, "double", range (30), 1, -1, NULL, NULL));
  close_and_join (pool);
  g_assert_cmpuint (count_lines (path, names), ==, 3);
  g_assert_true (g_hash_table_contains (names, "PoolWorker-1"));
  g_assert_true (g_hash_table_contains (names, "PoolWorker-3"));

  g_unlink (path);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_maxtasksperchild (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) pids = NULL;
  g_autoptr(GHashTable) per_pid = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *path = tmp_path ("maxtasks");
  GHashTableIter iter;
  gpointer count;
  guint n_init;

  g_test_summary ("A worker is replaced after maxtasksperchild tasks; every replacement runs the initializer");
  test_leak_check_begin (&check);
  g_unlink (path);

  pool = new_pool (method, 2, "init-log", g_variant_new_string (path), 3);
  g_assert_cmpuint (mproc_pool_get_maxtasksperchild (pool), ==, 3);
  pids = mproc_pool_map (pool, "getpid", range (12), 1, -1, NULL, NULL);
  g_assert_cmpuint (g_variant_n_children (pids), ==, 12);
  for (guint i = 0; i < 12; i++)
    {
      gint32 pid;

      g_variant_get_child (pids, i, "i", &pid);
      count = g_hash_table_lookup (per_pid, GINT_TO_POINTER (pid));
      g_hash_table_insert (per_pid, GINT_TO_POINTER (pid), GUINT_TO_POINTER (GPOINTER_TO_UINT (count) + 1));
    }
  g_hash_table_iter_init (&iter, per_pid);
  while (g_hash_table_iter_next (&iter, NULL, &count))
    g_assert_cmpuint (GPOINTER_TO_UINT (count), <=, 3);
  g_assert_cmpuint (g_hash_table_size (per_pid), >=, 4);

  close_and_join (pool);
  /* every worker that ran a task ran the initializer, and so did the
   * replacements of the last ones, which ran nothing */
  n_init = count_lines (path, names);
  g_assert_cmpuint (n_init, >=, g_hash_table_size (per_pid));
  g_assert_cmpuint (n_init, <=, g_hash_table_size (per_pid) + 2);

  g_unlink (path);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_target_errors (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(MprocPoolIterator) iter = NULL;
  g_autoptr(GError) error = NULL;
  GVariant *value;
  guint index;
  guint n_ok = 0;

  g_test_summary ("A target's GError reaches the caller with its domain, code and message");
  test_leak_check_begin (&check);
  pool = new_pool (method, 2, NULL, NULL, 0);

  g_assert_null (mproc_pool_apply (pool, "fail", g_variant_new_int64 (3), -1, NULL, &error));
  g_assert_error (error, TEST_ERROR, 42);
  g_assert_cmpstr (error->message, ==, "bad item 3");
  g_clear_error (&error);

  g_assert_null (mproc_pool_map (pool, "fail", range (10), 2, -1, NULL, &error));
  g_assert_true (g_error_matches (error, TEST_ERROR, 42) ||
                 g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND));
  g_clear_error (&error);

  g_assert_null (mproc_pool_apply (pool, "no-such-target", g_variant_new_int64 (1), -1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET);
  g_clear_error (&error);

  /* imap: only the failing items fail */
  iter = mproc_pool_imap (pool, "fail", range (8), 1, -1, NULL);
  for (guint i = 0; i < 8; i++)
    {
      value = mproc_pool_iterator_next (iter, &index, NULL, &error);
      g_assert_cmpuint (index, ==, i);
      if (i == 3)
        g_assert_error (error, TEST_ERROR, 42);
      else if (i == 4)
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int64 (value), ==, 2 * i);
          g_variant_unref (value);
          n_ok++;
        }
      g_clear_error (&error);
    }
  g_assert_null (mproc_pool_iterator_next (iter, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_ok, ==, 6);

  close_and_join (pool);
  g_clear_object (&iter);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_worker_killed (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(MprocPoolIterator) iter = NULL;
  g_autofree char *pidfile = tmp_path ("busy");
  g_autofree char *pid_text = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;
  GVariant *value;
  GPid busy;
  guint index, n_ok = 0, n_died = 0;
  int *pids;
  guint n_pids;

  g_test_summary ("SIGKILL of a busy worker fails exactly its task with WORKER_DIED; "
                  "the rest completes and the worker is replaced");
  test_leak_check_begin (&check);
  g_unlink (pidfile);
  pool = new_pool (method, 2, NULL, NULL, 0);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
  for (gint64 i = 0; i < 20; i++)
    g_variant_builder_add (&builder, "(xis)", i, i == 7 ? 30000 : 20, i == 7 ? pidfile : "");
  iter = mproc_pool_imap (pool, "slow", g_variant_builder_end (&builder), 1, -1, NULL);

  /* drive the pool until item 7 runs, then kill its worker */
  while (!g_file_test (pidfile, G_FILE_TEST_EXISTS))
    g_main_context_iteration (NULL, TRUE);
  busy = wait_pidfile (pidfile);
  g_assert_cmpint (kill (busy, SIGKILL), ==, 0);
  pid_text = g_strdup_printf ("pid %d", (int) busy);

  while (TRUE)
    {
      value = mproc_pool_iterator_next (iter, &index, NULL, &error);
      if (value == NULL && error == NULL)
        break;
      if (index == 7)
        {
          g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
          g_assert_nonnull (strstr (error->message, pid_text));
          g_assert_nonnull (strstr (error->message, "signal 9"));
          n_died++;
        }
      else
        {
          g_assert_no_error (error);
          g_assert_cmpint (g_variant_get_int64 (value), ==, 2 * index);
          g_variant_unref (value);
          n_ok++;
        }
      g_clear_error (&error);
    }
  g_assert_cmpuint (n_died, ==, 1);
  g_assert_cmpuint (n_ok, ==, 19);

  /* replaced: two workers, none of them the dead one, and the pool works */
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 2);
  pids = mproc_pool_dup_worker_pids (pool, &n_pids);
  g_assert_cmpuint (n_pids, ==, 2);
  g_assert_cmpint (pids[0], !=, busy);
  g_assert_cmpint (pids[1], !=, busy);
  g_free (pids);
  value = mproc_pool_apply (pool, "double", g_variant_new_int64 (4), -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 8);
  g_variant_unref (value);

  close_and_join (pool);
  g_unlink (pidfile);
  g_clear_object (&iter);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_target_dies (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;

  g_test_summary ("A segfault or _exit() inside a target fails only that task with WORKER_DIED");
  test_leak_check_begin (&check);
  pool = new_pool (method, 2, NULL, NULL, 0);

  for (guint k = 0; k < 2; k++)
    {
      g_autoptr(MprocPoolIterator) iter = NULL;
      g_autoptr(GError) error = NULL;
      GVariant *value;
      guint index, n_ok = 0;

      iter = mproc_pool_imap (pool, k == 0 ? "segv" : "exit", range (10), 1, -1, NULL);
      while (TRUE)
        {
          value = mproc_pool_iterator_next (iter, &index, NULL, &error);
          if (value == NULL && error == NULL)
            break;
          if (index == 5)
            {
              g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
              if (k == 1)
                g_assert_nonnull (strstr (error->message, "status 3"));
            }
          else
            {
              g_assert_no_error (error);
              g_variant_unref (value);
              n_ok++;
            }
          g_clear_error (&error);
        }
      g_assert_cmpuint (n_ok, ==, 9);
    }

  /* map_async fails as a whole with the first error */
  {
    g_autoptr(GAsyncResult) result = NULL;
    g_autoptr(GError) error = NULL;

    mproc_pool_map_async (pool, "exit", range (10), 1, -1, NULL, NULL, NULL, NULL, test_store_result, &result);
    test_wait_result (&result);
    g_assert_null (mproc_pool_map_finish (pool, result, &error));
    g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  }
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 2);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

typedef struct
{
  guint          n_progress;
  guint          last_done;
  GCancellable  *cancellable;
  GMainLoop     *loop;
  GAsyncResult  *result;
} ProgressState;

static void
progress_cb (guint n_done, guint n_items, gpointer data)
{
  ProgressState *s = data;

  g_assert_cmpuint (n_done, >, s->last_done);
  g_assert_cmpuint (n_done, <=, n_items);
  s->last_done = n_done;
  s->n_progress++;
  if (s->cancellable != NULL && n_done >= 2)
    g_cancellable_cancel (s->cancellable);
}

static void
quit_with_result (GObject *source, GAsyncResult *result, gpointer data)
{
  ProgressState *s = data;

  s->result = g_object_ref (result);
  if (s->loop != NULL)
    g_main_loop_quit (s->loop);
}

static void
test_cancel_mid_map (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) other = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  ProgressState s = { 0, 0, cancellable, NULL, NULL };
  GVariantBuilder builder;
  gint64 t0;

  g_test_summary ("Cancelling a map_async() drops its queued tasks and reports CANCELLED; other calls go on");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
  for (gint64 i = 0; i < 200; i++)
    g_variant_builder_add (&builder, "(xis)", i, 20, "");
  t0 = g_get_monotonic_time ();
  mproc_pool_map_async (pool, "slow", g_variant_builder_end (&builder), 1, -1, cancellable,
                        progress_cb, &s, NULL, quit_with_result, &s);
  mproc_pool_apply_async (pool, "double", g_variant_new_int64 (5), -1, NULL, test_store_result, &other);
  while (s.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (mproc_pool_map_finish (pool, s.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* 200 × 20 ms on 2 workers would take 2 s */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
  g_clear_error (&error);

  test_wait_result (&other);
  value = mproc_pool_apply_finish (pool, other, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 10);

  close_and_join (pool);
  g_clear_object (&s.result);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_terminate_pending (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;

  g_test_summary ("terminate() with pending work fails it with CLOSED and leaves no worker");
  test_leak_check_begin (&check);
  pool = new_pool (method, 2, NULL, NULL, 0);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
  for (gint64 i = 0; i < 20; i++)
    g_variant_builder_add (&builder, "(xis)", i, 5000, "");
  mproc_pool_map_async (pool, "slow", g_variant_builder_end (&builder), 1, -1, NULL,
                        NULL, NULL, NULL, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  mproc_pool_terminate (pool);
  test_wait_result (&result);
  g_assert_null (mproc_pool_map_finish (pool, result, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_true (mproc_pool_join (pool, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 0);
  g_assert_null (mproc_pool_apply (pool, "double", g_variant_new_int64 (1), -1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_CLOSED);

  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_dispose_busy (void)
{
  TestLeakCheck check;
  MprocPool *pool;
  GVariantBuilder builder;
  g_autoptr(MprocPoolIterator) iter = NULL;

  g_test_summary ("Dropping a pool with work pending leaves no worker behind");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xis)"));
  for (gint64 i = 0; i < 4; i++)
    g_variant_builder_add (&builder, "(xis)", i, 10000, "");
  iter = mproc_pool_imap (pool, "slow", g_variant_builder_end (&builder), 1, -1, NULL);
  g_clear_object (&iter);
  g_object_unref (pool);
  test_leak_check_end (&check);
}

static void
test_map_async_loop_progress (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  ProgressState s = { 0, 0, NULL, loop, NULL };

  g_test_summary ("map_async() from a running GMainLoop reports progress up to the total and the results");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  mproc_pool_map_async (pool, "double", range (40), 4, -1, NULL, progress_cb, &s, NULL,
                        quit_with_result, &s);
  g_main_loop_run (loop);
  value = mproc_pool_map_finish (pool, s.result, &error);
  g_assert_no_error (error);
  assert_doubles (value, 40);
  g_assert_cmpuint (s.last_done, ==, 40);
  g_assert_cmpuint (s.n_progress, >=, 1);

  close_and_join (pool);
  g_clear_object (&s.result);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static gboolean
flag_idle (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_sync_no_iteration (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) value = NULL;
  gboolean ran = FALSE;
  guint id;

  g_test_summary ("Blocking calls do not iterate the caller's main context");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  id = g_idle_add (flag_idle, &ran);
  value = mproc_pool_map (pool, "double", range (100), 0, -1, NULL, NULL);
  assert_doubles (value, 100);
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_pool_apply (pool, "double", g_variant_new_int64 (1), -1, NULL, NULL);
  g_assert_false (ran);
  g_source_remove (id);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_timeout (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0;

  g_test_summary ("A task past its call's timeout fails with TIMED_OUT and its worker is replaced");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);

  t0 = g_get_monotonic_time ();
  value = mproc_pool_apply (pool, "slow", g_variant_new ("(xis)", (gint64) 1, 20000, ""),
                            200 * 1000, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 2);

  value = mproc_pool_apply (pool, "double", g_variant_new_int64 (2), 1000 * 1000, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 4);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_join_async (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  g_test_summary ("join_async() completes once the workers of a closed pool have exited");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 2, NULL, NULL, 0);
  g_variant_unref (mproc_pool_map (pool, "double", range (10), 0, -1, NULL, NULL));
  mproc_pool_close (pool);
  mproc_pool_join_async (pool, -1, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_true (mproc_pool_join_finish (pool, result, NULL));
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 0);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_join_async_cancel (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) slow = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  g_test_summary ("A pending join_async() is cancelled; the pool still finishes its work and joins");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 1, NULL, NULL, 0);
  mproc_pool_apply_async (pool, "slow", g_variant_new ("(xis)", (gint64) 7, 300, ""), -1, NULL,
                          test_store_result, &slow);
  mproc_pool_close (pool);
  mproc_pool_join_async (pool, -1, cancellable, test_store_result, &result);
  g_cancellable_cancel (cancellable);
  test_wait_result (&result);
  g_assert_false (mproc_pool_join_finish (pool, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (slow);

  test_wait_result (&slow);
  value = mproc_pool_apply_finish (pool, slow, NULL);
  g_assert_nonnull (value);
  g_assert_true (mproc_pool_join (pool, 20 * G_USEC_PER_SEC, NULL, NULL));
  g_clear_object (&slow);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_join_misuse_timeout (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) slow = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;

  g_test_summary ("Joining a running pool is INVALID_STATE, blocking and async, not a critical "
                  "(regression); join_async() takes a timeout like join()");
  test_leak_check_begin (&check);
  pool = new_pool (GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), 1, NULL, NULL, 0);
  g_assert_false (mproc_pool_join (pool, -1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE);
  g_clear_error (&error);
  mproc_pool_join_async (pool, -1, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_false (mproc_pool_join_finish (pool, result, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE);
  g_clear_error (&error);
  g_clear_object (&result);

  /* the worker is busy for a while after close(): a short join times out */
  mproc_pool_apply_async (pool, "slow", g_variant_new ("(xis)", (gint64) 7, 300, ""), -1, NULL,
                          test_store_result, &slow);
  mproc_pool_close (pool);
  mproc_pool_join_async (pool, 10 * 1000, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_false (mproc_pool_join_finish (pool, result, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_clear_object (&result);

  mproc_pool_join_async (pool, 60 * G_USEC_PER_SEC, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_assert_true (mproc_pool_join_finish (pool, result, &error));
  g_assert_no_error (error);
  test_wait_result (&slow);
  value = mproc_pool_apply_finish (pool, slow, NULL);
  g_assert_nonnull (value);
  g_clear_object (&slow);
  g_clear_object (&result);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  mproc_register_task ("double", task_double, NULL, NULL);
  mproc_register_chunk_task ("double-chunk", chunk_double, NULL, NULL);
  mproc_register_task ("slow", task_slow, NULL, NULL);
  mproc_register_task ("getpid", task_getpid, NULL, NULL);
  mproc_register_task ("fail", task_fail, NULL, NULL);
  mproc_register_task ("mixed", task_mixed, NULL, NULL);
  mproc_register_task ("segv", task_die, (gpointer) "segv", NULL);
  mproc_register_task ("exit", task_die, (gpointer) "exit", NULL);
  mproc_register_task ("init-log", task_init_log, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/pool", "map/order", test_map_order);
  test_add_method_test ("/mproc/pool", "initializer", test_initializer);
  test_add_method_test ("/mproc/pool", "maxtasksperchild", test_maxtasksperchild);
  test_add_method_test ("/mproc/pool", "target-errors", test_target_errors);
  test_add_method_test ("/mproc/pool", "worker-killed", test_worker_killed);
  test_add_method_test ("/mproc/pool", "target-dies", test_target_dies);
  test_add_method_test ("/mproc/pool", "terminate-pending", test_terminate_pending);
  g_test_add_func ("/mproc/pool/map/chunksize", test_map_chunksize);
  g_test_add_func ("/mproc/pool/imap", test_imap);
  g_test_add_func ("/mproc/pool/imap/signals", test_imap_signals);
  g_test_add_func ("/mproc/pool/apply-async/many", test_apply_async_many);
  g_test_add_func ("/mproc/pool/map-async/cancel", test_cancel_mid_map);
  g_test_add_func ("/mproc/pool/map-async/main-loop-progress", test_map_async_loop_progress);
  g_test_add_func ("/mproc/pool/sync/no-iteration", test_sync_no_iteration);
  g_test_add_func ("/mproc/pool/timeout", test_timeout);
  g_test_add_func ("/mproc/pool/join-async", test_join_async);
  g_test_add_func ("/mproc/pool/join-async/cancel", test_join_async_cancel);
  g_test_add_func ("/mproc/pool/join/misuse-timeout", test_join_misuse_timeout);
  g_test_add_func ("/mproc/pool/dispose-busy", test_dispose_busy);

  return g_test_run ();
}
