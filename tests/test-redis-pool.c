/* test-redis-pool.c: a pool whose workers take their tasks from Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A real redis-server (test-redis-util.h); the workers are this program
 * started again with --worker, each with its own MPROC_WORKER_HOST, so
 * several processes stand for several hosts.  Targets log each item they
 * run to a file (8 bytes, O_APPEND), so a test can tell that nothing ran
 * twice.  Leases are short (?worker-lease=2: a heartbeat every 0.4 s) to
 * keep the fault tests quick; each is bounded in time.
 */

#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "mproc.h"
#include "mproc-pool-private.h"
#include "mproc-redis-client-private.h"
#include "test-redis-util.h"
#include "test-util.h"

#define POOL_NAME   "test"
#define LEASE_USEC  (2 * G_USEC_PER_SEC)
#define BEAT_USEC   (LEASE_USEC / 5)

/* --- Targets (run in the workers' local processes) ------------------------ */

static void
log_item (gint64 value)
{
  const char *path = g_getenv ("MPROC_TEST_RP_LOG");
  int fd;

  if (path == NULL)
    return;
  fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, &value, sizeof value), ==, sizeof value);
  close (fd);
}

/* Sleeps @ms (from MPROC_TEST_RP_SLEEP_MS), stopping early when cancelled. */
static gboolean
nap (guint ms)
{
  GCancellable *cancellable = mproc_pool_task_get_cancellable ();

  for (guint i = 0; i < ms; i += 10)
    {
      if (g_cancellable_is_cancelled (cancellable))
        return FALSE;
      g_usleep (10 * 1000);
    }
  return TRUE;
}

static GVariant *
double_target (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 x = g_variant_get_int64 (arg);
  const char *ms = g_getenv ("MPROC_TEST_RP_SLEEP_MS");

  log_item (x);
  if (ms != NULL)
    nap (atoi (ms));
  return g_variant_new_int64 (x * 2);
}

static GVariant *
add_target (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 a, b;

  g_variant_get (arg, "(xx)", &a, &b);
  return g_variant_new_int64 (a + b);
}

static GVariant *
inc_chunk_target (GVariant *items, gpointer user_data, GError **error)
{
  gsize n;
  const gint64 *in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  gint64 *out = g_new (gint64, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    out[i] = in[i] + 1;
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

/* Logs @arg, sleeps @arg ms unless cancelled, and logs -@arg if it was. */
static GVariant *
sleep_target (GVariant *arg, gpointer user_data, GError **error)
{
  gint64 ms = g_variant_get_int64 (arg);

  log_item (ms);
  if (!nap ((guint) ms))
    {
      log_item (-ms);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped");
      return NULL;
    }
  return g_variant_new_int64 (ms);
}

static GVariant *
fail_target (GVariant *arg, gpointer user_data, GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "nothing here");
  return NULL;
}

static GVariant *
crash_target (GVariant *arg, gpointer user_data, GError **error)
{
  raise (SIGKILL);
  return NULL;
}

static void
register_targets (void)
{
  mproc_register_task ("rp-double", double_target, NULL, NULL);
  mproc_register_task ("rp-add", add_target, NULL, NULL);
  mproc_register_chunk_task ("rp-inc", inc_chunk_target, NULL, NULL);
  mproc_register_task ("rp-sleep", sleep_target, NULL, NULL);
  mproc_register_task ("rp-fail", fail_target, NULL, NULL);
  mproc_register_task ("rp-crash", crash_target, NULL, NULL);
}

/* --- Fixture: a server, workers, a log ------------------------------------ */

typedef struct
{
  TestRedis        *redis;
  char             *uri;
  char             *log;
  GArray           *workers;   /* GPid */
  MprocRedisClient *raw;
  MprocRedisConfig *config;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->redis = test_redis_start (FALSE, NULL);
  f->uri = g_strdup_printf ("%s?worker-lease=2", f->redis->uri);
  f->log = g_build_filename (f->redis->dir, "items.log", NULL);
  g_setenv ("MPROC_TEST_RP_LOG", f->log, TRUE);
  g_unsetenv ("MPROC_TEST_RP_SLEEP_MS");
  f->workers = g_array_new (FALSE, FALSE, sizeof (GPid));
  f->config = mproc_redis_config_parse (f->redis->uri, &error);
  g_assert_no_error (error);
  f->raw = mproc_redis_client_new (f->config, NULL);
}

static void
reap_worker (GPid pid)
{
  int status;

  kill (pid, SIGCONT);
  kill (pid, SIGKILL);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->workers->len; i++)
    reap_worker (g_array_index (f->workers, GPid, i));
  g_array_unref (f->workers);
  mproc_redis_client_unref (f->raw);
  mproc_redis_config_free (f->config);
  test_redis_stop (f->redis);
  g_free (f->uri);
  g_free (f->log);
  g_unsetenv ("MPROC_TEST_RP_SLEEP_MS");
}

static redisReply *
raw_call (Fixture *f, const char *first, ...)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new (first);
  g_autoptr(GError) error = NULL;
  redisReply *reply;
  const char *arg;
  va_list ap;

  va_start (ap, first);
  while ((arg = va_arg (ap, const char *)) != NULL)
    mproc_redis_cmd_add_str (cmd, arg);
  va_end (ap);
  reply = mproc_redis_client_call (f->raw, cmd, -1, NULL, &error);
  g_assert_no_error (error);
  return reply;
}

static gint64
raw_int (Fixture *f, const char *first, ...)
{
  g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new (first);
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = NULL;
  const char *arg;
  va_list ap;

  va_start (ap, first);
  while ((arg = va_arg (ap, const char *)) != NULL)
    mproc_redis_cmd_add_str (cmd, arg);
  va_end (ap);
  reply = mproc_redis_client_call (f->raw, cmd, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (reply->type, ==, REDIS_REPLY_INTEGER);
  return reply->integer;
}

#define KEY(suffix) ("mproc:{pool/" POOL_NAME "}:" suffix)

/* Whether a worker of @host is listed (names are host/pid/random). */
static gboolean
host_listed (Fixture *f, const char *host)
{
  g_autoptr(redisReply) names = raw_call (f, "HKEYS", KEY ("w"), NULL);
  g_autofree char *prefix = g_strconcat (host, "/", NULL);

  for (gsize i = 0; i < names->elements; i++)
    if (g_str_has_prefix (names->element[i]->str, prefix))
      return TRUE;
  return FALSE;
}

/* Starts a worker "host" with @n local processes; waits until it is listed
 * (by its name: a reaper may be taking a dead one off meanwhile). */
static GPid
start_worker (Fixture *f, const char *host, guint n)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *nstr = g_strdup_printf ("%u", n);
  char *argv[] = { exe, (char *) "--worker", f->uri, (char *) POOL_NAME, nstr, NULL };
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), "MPROC_WORKER_HOST", host, TRUE);
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  GPid pid;

  g_assert_false (host_listed (f, host));
  g_assert_true (g_spawn_async (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  g_array_append_val (f->workers, pid);
  while (!host_listed (f, host))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  return pid;
}

static void
forget_worker (Fixture *f, GPid pid)
{
  for (guint i = 0; i < f->workers->len; i++)
    if (g_array_index (f->workers, GPid, i) == pid)
      {
        g_array_remove_index (f->workers, i);
        return;
      }
}

/* How many times each logged value ran. */
static GHashTable *
read_log (Fixture *f)
{
  g_autofree char *data = NULL;
  gsize size = 0;
  GHashTable *counts = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  if (!g_file_get_contents (f->log, &data, &size, NULL))
    return counts;
  g_assert_cmpuint (size % sizeof (gint64), ==, 0);
  for (gsize i = 0; i < size / sizeof (gint64); i++)
    {
      gint64 *key = g_memdup2 (data + i * sizeof (gint64), sizeof (gint64));
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));

      g_hash_table_replace (counts, key, GUINT_TO_POINTER (n + 1));
    }
  return counts;
}

static guint
log_count (GHashTable *counts, gint64 value)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, &value));
}

static GVariant *
range_items (gint64 n)
{
  g_autofree gint64 *v = g_new (gint64, n);

  for (gint64 i = 0; i < n; i++)
    v[i] = i;
  return g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, v, n, sizeof (gint64));
}

/* The streams hold nothing once everything is answered. */
static void
assert_streams_empty_within (Fixture *f, gint64 usec)
{
  gint64 deadline = g_get_monotonic_time () + usec;

  while (raw_int (f, "XLEN", KEY ("t"), NULL) != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
}

static void
assert_streams_empty (Fixture *f)
{
  assert_streams_empty_within (f, 5 * G_USEC_PER_SEC);
}

/* --- map, apply, starmap, imap -------------------------------------------- */

static void
progress_cb (guint n_done, guint n_items, gpointer user_data)
{
  *(guint *) user_data = n_done;
}

static void
test_map_apply (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GVariant) one = NULL;
  g_autoptr(GVariant) star = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autoptr(MprocPoolIterator) iter = NULL;
  GVariantBuilder builder;
  const gint64 *v;
  gsize n;
  gint64 sum = 0;
  guint progress = 0, seen = 0;

  start_worker (f, "host-a", 2);
  start_worker (f, "host-b", 2);
  start_worker (f, "host-c", 1);

  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);
  /* default chunks count the workers' processes */
  g_assert_cmpuint (mproc_pool_get_processes (pool), ==, 5);

  /* the live workers, with their hosts, targets and leases */
  {
    g_autoptr(GVariant) list = mproc_pool_list_workers (pool, NULL, &error);
    g_autoptr(MprocPool) local = mproc_pool_new (1, &error);
    g_autoptr(GVariant) none = NULL;
    g_autoptr(GHashTable) hosts = g_hash_table_new (g_str_hash, g_str_equal);
    GVariantIter witer;
    const char *name, *host;
    g_autofree const char **targets = NULL;
    gint64 pid, started, left;
    guint32 processes;

    g_assert_no_error (error);
    g_assert_cmpstr (g_variant_get_type_string (list), ==, "a(ssxasxux)");
    g_assert_cmpuint (g_variant_n_children (list), ==, 3);
    g_variant_iter_init (&witer, list);
    while (g_variant_iter_next (&witer, "(&s&sx^a&sxux)", &name, &host, &pid, &targets, &started, &processes, &left))
      {
        g_assert_true (g_str_has_prefix (name, host));
        g_assert_cmpint (pid, >, 0);
        g_assert_true (g_strv_contains (targets, "rp-double"));
        g_assert_cmpint (started, <=, g_get_real_time ());
        g_assert_cmpuint (processes, ==, strcmp (host, "host-c") == 0 ? 1 : 2);
        g_assert_cmpint (left, >, 0);
        g_assert_cmpint (left, <=, LEASE_USEC / 1000);
        g_hash_table_add (hosts, (gpointer) host);
        g_clear_pointer (&targets, g_free);
      }
    g_assert_cmpuint (g_hash_table_size (hosts), ==, 3);
    g_assert_no_error (error);
    none = mproc_pool_list_workers (local, NULL, &error);
    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
    g_clear_error (&error);
    mproc_pool_terminate (local);
  }

  out = mproc_pool_map (pool, "rp-double", range_items (1000), 0, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_type_string (out), ==, "ax");
  v = g_variant_get_fixed_array (out, &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, 1000);
  for (gsize i = 0; i < n; i++)
    {
      g_assert_cmpint (v[i], ==, 2 * (gint64) i);
      sum += v[i];
    }
  g_assert_cmpint (sum, ==, 999 * 1000);
  counts = read_log (f);
  for (gint64 i = 0; i < 1000; i++)
    g_assert_cmpuint (log_count (counts, i), ==, 1);

  one = mproc_pool_apply (pool, "rp-double", g_variant_new_int64 (21), -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 42);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xx)"));
  for (gint64 i = 0; i < 50; i++)
    g_variant_builder_add (&builder, "(xx)", i, 100 * i);
  star = mproc_pool_starmap (pool, "rp-add", g_variant_builder_end (&builder), 7, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (star), ==, 50);
  for (gsize i = 0; i < 50; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (star, i);
      g_assert_cmpint (g_variant_get_int64 (child), ==, 101 * (gint64) i);
    }

  /* a chunk target, from the main loop, with progress */
  mproc_pool_map_async (pool, "rp-inc", range_items (10000), 500, -1, NULL,
                        progress_cb, &progress, NULL, test_store_result, &result);
  test_wait_result (&result);
  g_clear_pointer (&out, g_variant_unref);
  out = mproc_pool_map_finish (pool, result, &error);
  g_assert_no_error (error);
  v = g_variant_get_fixed_array (out, &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, 10000);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint (v[i], ==, (gint64) i + 1);
  g_assert_cmpuint (progress, ==, 10000);

  iter = mproc_pool_imap_unordered (pool, "rp-double", range_items (40), 3, -1, NULL);
  for (;;)
    {
      guint index;
      g_autoptr(GVariant) item = mproc_pool_iterator_next (iter, &index, NULL, &error);

      if (item == NULL)
        {
          g_assert_no_error (error);
          break;
        }
      g_assert_cmpint (g_variant_get_int64 (item), ==, 2 * (gint64) index);
      seen++;
    }
  g_assert_cmpuint (seen, ==, 40);

  /* a target's error comes back with its domain and code */
  g_clear_pointer (&one, g_variant_unref);
  one = mproc_pool_apply (pool, "rp-fail", g_variant_new_int64 (1), -1, NULL, &error);
  g_assert_null (one);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  one = mproc_pool_apply (pool, "rp-nothing", g_variant_new_int64 (1), -1, NULL, &error);
  g_assert_null (one);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET);
  g_clear_error (&error);

  /* a crashing target is its local worker's death: the pool goes on */
  one = mproc_pool_apply (pool, "rp-crash", g_variant_new_int64 (1), -1, NULL, &error);
  g_assert_null (one);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  g_clear_error (&error);
  one = mproc_pool_apply (pool, "rp-double", g_variant_new_int64 (5), -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (one), ==, 10);

  mproc_pool_close (pool);
  g_assert_true (mproc_pool_join (pool, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  assert_streams_empty (f);
}

/* --- Faults -------------------------------------------------------------- */

static void
test_sigkill (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(MprocPoolIterator) iter = NULL;
  g_autoptr(GHashTable) counts = NULL;
  GPid victim;
  gint64 killed_at = 0, failed_at = 0;
  guint n_ok = 0, n_died = 0;

  /* 12 chunks of 5 items of 0.2 s: each worker always holds one */
  g_setenv ("MPROC_TEST_RP_SLEEP_MS", "200", TRUE);
  victim = start_worker (f, "host-a", 1);
  start_worker (f, "host-b", 1);
  start_worker (f, "host-c", 1);
  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);

  iter = mproc_pool_imap_unordered (pool, "rp-double", range_items (60), 5, -1, NULL);
  for (;;)
    {
      guint index;
      g_autoptr(GVariant) item = NULL;

      if (killed_at == 0 && n_ok >= 5)
        {
          /* mid-chunk: every worker is 0.2 s into a 1 s chunk at least */
          g_usleep (300 * 1000);
          kill (victim, SIGKILL);
          killed_at = g_get_monotonic_time ();
        }
      item = mproc_pool_iterator_next (iter, &index, NULL, &error);
      if (item != NULL)
        {
          g_assert_cmpint (g_variant_get_int64 (item), ==, 2 * (gint64) index);
          n_ok++;
          continue;
        }
      if (error == NULL)
        break;
      g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
      g_assert_nonnull (strstr (error->message, "host-a"));
      if (failed_at == 0)
        failed_at = g_get_monotonic_time ();
      n_died++;
      g_clear_error (&error);
    }
  g_clear_error (&error);
  g_test_message ("SIGKILL to WORKER_DIED: %.2f s (lease 2 s, heartbeat 0.4 s)",
                  (failed_at - killed_at) / 1e6);

  /* exactly the chunk it held */
  g_assert_cmpuint (n_died, ==, 5);
  g_assert_cmpuint (n_ok, ==, 55);
  g_assert_cmpint (failed_at - killed_at, <=, LEASE_USEC + BEAT_USEC + 500 * 1000);
  /* nothing ran twice */
  counts = read_log (f);
  for (gint64 i = 0; i < 60; i++)
    g_assert_cmpuint (log_count (counts, i), <=, 1);
  /* the record of what failed */
  g_assert_cmpint (raw_int (f, "XLEN", KEY ("f"), NULL), ==, 1);

  reap_worker (victim);
  forget_worker (f, victim);
  assert_streams_empty (f);
}

static void
test_sigstop (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GHashTable) counts = NULL;
  GPid paused;
  gint64 stopped_at, deadline;

  paused = start_worker (f, "host-a", 1);
  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);

  mproc_pool_apply_async (pool, "rp-sleep", g_variant_new_int64 (1500), -1, NULL,
                          test_store_result, &result);
  /* running: it logged its start */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GHashTable) started = read_log (f);

      if (log_count (started, 1500) == 1)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  kill (paused, SIGSTOP);
  stopped_at = g_get_monotonic_time ();
  start_worker (f, "host-b", 1);

  test_wait_result (&result);
  out = mproc_pool_apply_finish (pool, result, &error);
  g_assert_null (out);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - stopped_at, <=, LEASE_USEC + BEAT_USEC + 500 * 1000);

  /* back: its target finished meanwhile; its answer is dropped, and it
   * serves again */
  kill (paused, SIGCONT);
  g_usleep (LEASE_USEC);
  for (int i = 0; i < 6; i++)
    {
      g_autoptr(GVariant) one = mproc_pool_apply (pool, "rp-double", g_variant_new_int64 (100 + i), -1, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int64 (one), ==, 200 + 2 * i);
    }
  counts = read_log (f);
  g_assert_cmpuint (log_count (counts, 1500), ==, 1);
  g_assert_cmpuint (log_count (counts, -1500), ==, 0);
  g_assert_cmpint (raw_int (f, "XLEN", KEY ("f"), NULL), ==, 1);
  assert_streams_empty (f);
}

/* The opt-in: a dead worker's chunk runs again, elsewhere. */
static void
test_redelivery (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autofree char *uri = g_strconcat (f->uri, "&max-redeliveries=1", NULL);
  GPid first;
  gint64 deadline;

  first = start_worker (f, "host-a", 1);
  pool = mproc_pool_new_for_uri (uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);
  mproc_pool_apply_async (pool, "rp-sleep", g_variant_new_int64 (1200), -1, NULL, test_store_result, &result);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GHashTable) started = read_log (f);

      if (log_count (started, 1200) == 1)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  kill (first, SIGKILL);
  start_worker (f, "host-b", 1);
  test_wait_result (&result);
  out = mproc_pool_apply_finish (pool, result, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (out), ==, 1200);
  counts = read_log (f);
  g_assert_cmpuint (log_count (counts, 1200), ==, 2);
  /* re-run, not failed */
  g_assert_cmpint (raw_int (f, "XLEN", KEY ("f"), NULL), ==, 0);
  reap_worker (first);
  forget_worker (f, first);
  assert_streams_empty (f);
}

static void
test_redis_killed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) out = NULL;
  GPid a, b;
  gint64 killed_at, deadline;

  g_setenv ("MPROC_TEST_RP_SLEEP_MS", "100", TRUE);
  a = start_worker (f, "host-a", 1);
  b = start_worker (f, "host-b", 1);
  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);

  mproc_pool_map_async (pool, "rp-double", range_items (100), 5, -1, NULL, NULL, NULL, NULL,
                        test_store_result, &result);
  deadline = g_get_monotonic_time () + 500 * 1000;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (5 * 1000);
  test_redis_kill (f->redis, SIGKILL);
  killed_at = g_get_monotonic_time ();

  test_wait_result (&result);
  out = mproc_pool_map_finish (pool, result, &error);
  g_assert_null (out);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);
  g_assert_cmpint (g_get_monotonic_time () - killed_at, <, 5 * G_USEC_PER_SEC);

  /* a blocking call fails the same way, without a hang */
  out = mproc_pool_apply (pool, "rp-double", g_variant_new_int64 (1), -1, NULL, &error);
  g_assert_null (out);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
  g_clear_error (&error);

  /* the workers stop with an error of their own */
  for (guint i = 0; i < 2; i++)
    {
      GPid pid = i == 0 ? a : b;
      int status;

      deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      while (waitpid (pid, &status, WNOHANG) == 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (10 * 1000);
        }
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 3);
      forget_worker (f, pid);
    }
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 items[] = { 5000, 5001, 5002, 5003, 5004, 5005 };
  gint64 cancelled_at, returned_at, stopped_at, deadline;

  start_worker (f, "host-a", 1);
  start_worker (f, "host-b", 1);
  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);

  mproc_pool_map_async (pool, "rp-sleep",
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, items, G_N_ELEMENTS (items), sizeof (gint64)),
                        1, -1, cancellable, NULL, NULL, NULL, test_store_result, &result);
  /* both workers are running one */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GHashTable) started = read_log (f);

      if (g_hash_table_size (started) == 2)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);
    }
  g_cancellable_cancel (cancellable);
  cancelled_at = g_get_monotonic_time ();
  test_wait_result (&result);
  returned_at = g_get_monotonic_time ();
  out = mproc_pool_map_finish (pool, result, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (returned_at - cancelled_at, <, 500 * 1000);

  /* the running targets see their cancellable at the next heartbeat */
  for (;;)
    {
      g_autoptr(GHashTable) counts = read_log (f);
      guint n_stopped = 0;

      for (gsize i = 0; i < G_N_ELEMENTS (items); i++)
        n_stopped += log_count (counts, -items[i]);
      if (n_stopped == 2)
        break;
      g_assert_cmpint (g_get_monotonic_time () - cancelled_at, <, BEAT_USEC + 2 * G_USEC_PER_SEC);
      g_usleep (10 * 1000);
    }
  stopped_at = g_get_monotonic_time ();
  g_test_message ("cancel: the call returned in %.1f ms, the running targets stopped in %.0f ms",
                  (returned_at - cancelled_at) / 1e3, (stopped_at - cancelled_at) / 1e3);

  /* the chunks not started never ran */
  g_usleep (BEAT_USEC * 2);
  {
    g_autoptr(GHashTable) counts = read_log (f);
    guint n_started = 0;

    for (gsize i = 0; i < G_N_ELEMENTS (items); i++)
      n_started += log_count (counts, items[i]);
    g_assert_cmpuint (n_started, ==, 2);
  }
  out = mproc_pool_apply (pool, "rp-double", g_variant_new_int64 (4), -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (out), ==, 8);
  assert_streams_empty (f);
}

static void
test_malformed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(redisReply) reply = NULL;
  gint64 deadline;
  redisReply *fields;

  start_worker (f, "host-a", 1);
  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);

  /* no caller at all; a caller that is gone; a live caller and garbage */
  g_clear_pointer (&reply, freeReplyObject);
  reply = raw_call (f, "XADD", KEY ("t"), "*", "junk", "1", NULL);
  g_clear_pointer (&reply, freeReplyObject);
  reply = raw_call (f, "XADD", KEY ("t"), "*", "c", "nobody", "i", "1", "k", "0", "t", "rp-double",
                    "m", "a", "a", "x", NULL);
  g_clear_pointer (&reply, freeReplyObject);
  reply = raw_call (f, "SET", KEY ("hb:intruder"), "1", "PX", "60000", NULL);
  g_clear_pointer (&reply, freeReplyObject);
  reply = raw_call (f, "XADD", KEY ("t"), "*", "c", "intruder", "i", "1", "k", "0", "t", "rp-double",
                    "m", "a", "a", "\x01\x02garbage", NULL);
  g_clear_pointer (&reply, freeReplyObject);
  reply = raw_call (f, "XADD", KEY ("t"), "*", "c", "intruder", "i", "2", "k", "0", "t", "rp-double",
                    "m", "z", "a", "x", NULL);

  /* the live caller is told, with INVALID_MESSAGE */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (raw_int (f, "XLEN", KEY ("r:intruder"), NULL) < 2)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  g_clear_pointer (&reply, freeReplyObject);
  reply = raw_call (f, "XRANGE", KEY ("r:intruder"), "-", "+", NULL);
  g_assert_cmpuint (reply->elements, ==, 2);
  for (gsize i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) boxed = NULL;
      g_autoptr(GVariant) value = NULL;
      g_autoptr(GError) got = NULL;
      redisReply *s, *v;

      fields = reply->element[i]->element[1];
      s = fields->element[5];
      v = fields->element[7];
      g_assert_cmpstr (s->str, ==, "e");
      boxed = mproc_redis_reply_boxed (v->str, v->len, &error);
      g_assert_no_error (error);
      value = g_variant_get_variant (boxed);
      got = mproc_pool_error_from_variant (value);
      g_assert_error (got, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
    }

  /* and the pool goes on */
  out = mproc_pool_map (pool, "rp-double", range_items (20), 3, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (out), ==, 20);
  assert_streams_empty (f);
}

static void
test_bad_arguments (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;

  pool = mproc_pool_new_for_uri (f->uri, "with{brace}", NULL, &error);
  g_assert_null (pool);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  pool = mproc_pool_new_for_uri ("redis://127.0.0.1:1?max-redeliveries=x", POOL_NAME, NULL, &error);
  g_assert_null (pool);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (mproc_pool_serve_for_uri ("unix:/nonexistent/r.sock", POOL_NAME, 1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN);
}

/* A caller killed mid-map: what it left is skipped, its results expire. */
static void
test_caller_killed (Fixture *f, gconstpointer data)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  char *argv[] = { exe, (char *) "--caller", f->uri, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) counts = NULL;
  gint64 deadline;
  guint n_started = 0;
  GPid caller;
  int status;

  start_worker (f, "host-a", 1);
  g_assert_true (g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &caller, &error));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GHashTable) started = read_log (f);

      if (log_count (started, 1000) == 1)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  kill (caller, SIGKILL);
  g_assert_cmpint (waitpid (caller, &status, 0), ==, caller);

  /* its 10 chunks of 1 s: those taken before its lease ran out ran */
  assert_streams_empty_within (f, 2 * LEASE_USEC + 10 * G_USEC_PER_SEC);
  counts = read_log (f);
  for (gint64 i = 0; i < 10; i++)
    n_started += log_count (counts, 1000 + i);
  g_test_message ("a killed caller: %u of its 10 chunks ran", n_started);
  g_assert_cmpuint (n_started, <=, 1 + LEASE_USEC / G_USEC_PER_SEC + 1);
  /* its results stream goes with its heartbeat */
  deadline = g_get_monotonic_time () + 3 * LEASE_USEC;
  for (;;)
    {
      g_autoptr(redisReply) keys = raw_call (f, "KEYS", "mproc:{pool/" POOL_NAME "}:r:*", NULL);

      if (keys->elements == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000);
    }
}

static int
caller_main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  gint64 items[10];

  mproc_init (&argc, &argv);
  for (int i = 0; i < 10; i++)
    items[i] = 1000 + i;
  pool = mproc_pool_new_for_uri (argv[2], POOL_NAME, NULL, &error);
  g_assert_no_error (error);
  /* killed while it waits */
  mproc_pool_map (pool, "rp-sleep", g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, items, 10, sizeof (gint64)),
                  1, -1, NULL, &error);
  return 1;
}

/* The ready command: modules, warm shutdown on SIGTERM. */
static void
test_mproc_worker (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) out = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  char *argv[] = { (char *) MPROC_WORKER, (char *) "--uri", f->uri, (char *) "--pool", (char *) POOL_NAME,
                   (char *) "-j", (char *) "2", (char *) "-m", (char *) MODULES_DIR,
                   (char *) "--host", (char *) "tool-host", NULL };
  gint64 deadline, termed_at;
  const gint64 *v;
  gsize n;
  GPid pid;
  int status;

  g_assert_true (g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  g_array_append_val (f->workers, pid);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (raw_int (f, "HLEN", KEY ("w"), NULL) < 1)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }

  pool = mproc_pool_new_for_uri (f->uri, POOL_NAME, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_pool_get_processes (pool), ==, 2);
  out = mproc_pool_map (pool, "example.double", range_items (1000), 0, -1, NULL, &error);
  g_assert_no_error (error);
  v = g_variant_get_fixed_array (out, &n, sizeof (gint64));
  g_assert_cmpuint (n, ==, 1000);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpint (v[i], ==, 2 * (gint64) i);

  /* warm shutdown: the running task finishes and is answered */
  mproc_pool_apply_async (pool, "example.sleep", g_variant_new ("(u)", 800), -1, NULL,
                          test_store_result, &result);
  deadline = g_get_monotonic_time () + 300 * 1000;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE), g_usleep (5 * 1000);
  kill (pid, SIGTERM);
  termed_at = g_get_monotonic_time ();
  test_wait_result (&result);
  g_clear_pointer (&out, g_variant_unref);
  out = mproc_pool_apply_finish (pool, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_get_uint32 (out), ==, 800);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  forget_worker (f, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - termed_at, <, 5 * G_USEC_PER_SEC);
  /* it left the list at once */
  g_assert_cmpint (raw_int (f, "HLEN", KEY ("w"), NULL), ==, 0);
}

static int
worker_main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;

  mproc_init (&argc, &argv);
  g_assert_cmpint (argc, ==, 5);
  mproc_pool_serve_for_uri (argv[2], argv[3], (guint) atoi (argv[4]), NULL, &error);
  return g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN) ? 3 : 2;
}

int
main (int argc, char *argv[])
{
  register_targets ();
  if (argc > 1 && strcmp (argv[1], "--worker") == 0)
    return worker_main (argc, argv);
  if (argc > 1 && strcmp (argv[1], "--caller") == 0)
    return caller_main (argc, argv);
  test_init (&argc, &argv);
  if (!test_redis_available ())
    {
      g_test_skip ("redis-server is not installed");
      return 77;
    }

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/redis-pool/map-apply", test_map_apply);
  ADD ("/redis-pool/bad-arguments", test_bad_arguments);
  ADD ("/redis-pool/malformed", test_malformed);
  ADD ("/redis-pool/cancel", test_cancel);
  ADD ("/redis-pool/sigkill", test_sigkill);
  ADD ("/redis-pool/sigstop", test_sigstop);
  ADD ("/redis-pool/redis-killed", test_redis_killed);
  ADD ("/redis-pool/caller-killed", test_caller_killed);
  ADD ("/redis-pool/redelivery", test_redelivery);
  ADD ("/redis-pool/mproc-worker", test_mproc_worker);
  return g_test_run ();
}
