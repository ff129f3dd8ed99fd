/* bench-redis.c: redis_dict_set, redis_dict_get, redis_dict_update_10k,
 * redis_queue_small, redis_lock_rtt
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each metric starts its own redis-server (unix socket in a temporary
 * folder, nothing saved), untimed, and stops it by pid.  Anchors in the
 * same run: bench/redis_anchors.py (redis-benchmark, the hiredis queue
 * patterns of ../shared/distributed-bench/qbench.c and Python's
 * BaseManager over TCP).
 *
 *   redis_dict_set: d[i] = i for i in 0..n-1 (int64 keys and values),
 *     pipelined as a local manager's sets are, until a len() confirms
 *     them; n = 20000; ops/s.
 *   redis_dict_get: then d[i] for each, checked; one round trip each; ops/s.
 *   redis_dict_update_10k: one update() of 10 000 pairs until a len()
 *     confirms it; pairs/s.
 *   redis_queue_small: one producer (this process) puts n 64-byte
 *     messages ("ay") one at a time, one consumer process gets them one
 *     at a time; from the first put to the consumer's last get;
 *     n = 20000; msgs/s.
 *   redis_lock_rtt: acquire of a free lease lock (one script round
 *     trip), then its release, n = 5000; the median acquire in us.
 *   redis_pool_apply_rtt: a pool on Redis (mproc_pool_new_for_uri) with one
 *     worker process (mproc_pool_serve_for_uri, one local process);
 *     apply() of an int64 echo, one at a time, n = 2000; the median in us.
 *   redis_pool_map_tiny: map() of 100 000 int64 items (x + 1 per item),
 *     default chunks, one worker with 2 local processes; items/s.
 *   redis_pool_failover: one worker runs a long task; SIGKILL of the
 *     worker to the call's MPROC_ERROR_WORKER_DIED, with the default
 *     lease (5 s) and heartbeat (1 s); in s, 3 repetitions.
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mproc.h>

#include "bench.h"

typedef struct
{
  char *dir;
  char *uri;
  GPid  pid;
} Server;

static Server *
server_start (void)
{
  Server *s = g_new0 (Server, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *sock = NULL;
  g_autofree char *pidfile = NULL;
  gint64 deadline;

  s->dir = g_dir_make_tmp ("mproc-bench-redis-XXXXXX", &error);
  if (s->dir == NULL)
    g_error ("%s", error->message);
  sock = g_build_filename (s->dir, "r.sock", NULL);
  pidfile = g_build_filename (s->dir, "r.pid", NULL);
  {
    const char *argv[] = { "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
                           "--save", "", "--appendonly", "no", "--dir", s->dir, "--daemonize", "yes",
                           "--pidfile", pidfile, "--logfile", "", NULL };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                       NULL, NULL, NULL, NULL, NULL, &error))
      g_error ("redis-server: %s", error->message);
  }
  s->uri = g_strdup_printf ("unix:%s", sock);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *text = NULL;
      g_autoptr(MprocManager) m = NULL;

      if (s->pid == 0 && g_file_get_contents (pidfile, &text, NULL, NULL))
        s->pid = atoi (text);
      if (s->pid > 0 && (m = mproc_manager_new_for_uri (s->uri, NULL, NULL)) != NULL)
        return s;
      g_usleep (10000);
    }
  g_error ("redis-server did not start");
  return NULL;
}

static void
server_stop (Server *s)
{
  g_autofree char *sock = g_build_filename (s->dir, "r.sock", NULL);
  g_autofree char *pidfile = g_build_filename (s->dir, "r.pid", NULL);

  kill (s->pid, SIGTERM);
  for (int i = 0; i < 1000 && kill (s->pid, 0) == 0; i++)
    g_usleep (5000);
  unlink (sock);
  unlink (pidfile);
  rmdir (s->dir);
  g_free (s->dir);
  g_free (s->uri);
  g_free (s);
}

static MprocManager *
manager_for (Server *s)
{
  g_autoptr(GError) error = NULL;
  MprocManager *m = mproc_manager_new_for_uri (s->uri, NULL, &error);

  if (m == NULL)
    g_error ("%s", error->message);
  return m;
}

static void
redis_dict (void)
{
  Server *s = server_start ();
  g_autoptr(MprocManager) m = manager_for (s);
  guint64 n = bench_scale (20000, 1000);
  guint reps = bench_reps ();
  g_autofree double *sets = g_new0 (double, reps);
  g_autofree double *gets = g_new0 (double, reps);

  for (guint r = 0; r <= reps; r++)
    {
      g_autofree char *name = g_strdup_printf ("d%u", r);
      g_autoptr(GError) error = NULL;
      g_autoptr(MprocDict) d = mproc_dict_new (m, name, NULL, &error);
      double t0, t1, t2;

      if (d == NULL || mproc_dict_len (d, NULL, &error) < 0)
        g_error ("%s", error->message);
      t0 = bench_now ();
      for (guint64 i = 0; i < n; i++)
        if (!mproc_dict_set (d, g_variant_new_int64 (i), g_variant_new_int64 (i), NULL, &error))
          g_error ("%s", error->message);
      if (mproc_dict_len (d, NULL, &error) != (gssize) n)
        g_error ("redis_dict: wrong size");
      t1 = bench_now ();
      for (guint64 i = 0; i < n; i++)
        {
          g_autoptr(GVariant) v = mproc_dict_get (d, g_variant_new_int64 (i), NULL, &error);

          if (v == NULL)
            g_error ("%s", error->message);
          if (g_variant_get_int64 (v) != (gint64) i)
            g_error ("redis_dict: wrong value");
        }
      t2 = bench_now ();
      if (r > 0)
        {
          sets[r - 1] = n / (t1 - t0);
          gets[r - 1] = n / (t2 - t1);
        }
      mproc_dict_clear (d, NULL, NULL);
    }
  bench_emit ("redis_dict_set", "ops/s", n, sets, reps);
  bench_emit ("redis_dict_get", "ops/s", n, gets, reps);
  g_clear_object (&m);
  server_stop (s);
}
BENCH_REGISTER (redis_dict, "redis_dict")

static void
redis_dict_update_10k (void)
{
  Server *s = server_start ();
  g_autoptr(MprocManager) m = manager_for (s);
  guint64 n = 10000;
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);
  g_autoptr(GVariant) pairs = NULL;
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{xx}"));
  for (guint64 i = 0; i < n; i++)
    g_variant_builder_add (&builder, "{xx}", (gint64) i, (gint64) i);
  pairs = g_variant_ref_sink (g_variant_builder_end (&builder));
  for (guint r = 0; r <= reps; r++)
    {
      g_autofree char *name = g_strdup_printf ("u%u", r);
      g_autoptr(GError) error = NULL;
      g_autoptr(MprocDict) d = mproc_dict_new (m, name, NULL, &error);
      double t0;

      if (d == NULL || mproc_dict_len (d, NULL, &error) < 0)
        g_error ("%s", error->message);
      t0 = bench_now ();
      if (!mproc_dict_update (d, pairs, NULL, &error) || mproc_dict_len (d, NULL, &error) != (gssize) n)
        g_error ("redis_dict_update_10k: %s", error != NULL ? error->message : "wrong size");
      if (r > 0)
        samples[r - 1] = n / (bench_now () - t0);
      mproc_dict_clear (d, NULL, NULL);
    }
  bench_emit ("redis_dict_update_10k", "pairs/s", n, samples, reps);
  g_clear_object (&m);
  server_stop (s);
}
BENCH_REGISTER (redis_dict_update_10k, "redis_dict_update_10k")

static int
queue_consumer (MprocProcess *process,
                GVariant     *args,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) m = NULL;
  g_autoptr(MprocQueue) q = NULL;
  g_autoptr(GVariant) first = NULL;
  double *times;
  const char *uri, *name;
  guint64 n, addr;

  g_variant_get (args, "(&s&stt)", &uri, &name, &n, &addr);
  times = (double *) (gsize) addr;
  bench_pin_child (1);
  m = mproc_manager_new_for_uri (uri, NULL, &error);
  if (m == NULL || (q = mproc_manager_new_queue (m, name, NULL, &error)) == NULL)
    g_error ("%s", error->message);
  /* ready: the blocking connection is opened by a first, empty, get */
  first = mproc_queue_get (q, 1000, NULL, NULL);
  g_atomic_int_set ((gint *) &times[2], 1);
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = mproc_queue_get (q, -1, NULL, &error);

      if (v == NULL)
        g_error ("%s", error->message);
    }
  times[1] = bench_now ();
  return 0;
}

static void __attribute__((constructor))
register_targets (void)
{
  mproc_register_target ("bench-redis-consumer", queue_consumer, NULL, NULL);
}

static void
redis_queue_small (void)
{
  Server *s = server_start ();
  g_autoptr(MprocManager) m = manager_for (s);
  guint64 n = bench_scale (20000, 1000);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);
  double *times = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  guint8 payload[64];

  memset (payload, 'x', sizeof payload);
  for (guint r = 0; r <= reps; r++)
    {
      g_autofree char *name = g_strdup_printf ("q%u", r);
      g_autoptr(GError) error = NULL;
      g_autoptr(MprocQueue) q = mproc_manager_new_queue (m, name, NULL, &error);
      g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
      g_autoptr(MprocProcess) consumer = NULL;
      double t0;

      if (q == NULL)
        g_error ("%s", error->message);
      memset (times, 0, 4096);
      consumer = mproc_process_new_with_context (context, "bench-redis-consumer",
                                                 g_variant_new ("(sstt)", s->uri, name, n,
                                                                (guint64) (gsize) times));
      if (!mproc_process_start (consumer, &error))
        g_error ("%s", error->message);
      while (!g_atomic_int_get ((gint *) &times[2]))
        g_usleep (1000);
      t0 = bench_now ();
      for (guint64 i = 0; i < n; i++)
        if (!mproc_queue_put (q, g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, payload, sizeof payload, 1),
                              -1, NULL, &error))
          g_error ("%s", error->message);
      if (!mproc_process_join (consumer, -1, NULL, &error))
        g_error ("%s", error->message);
      if (r > 0)
        samples[r - 1] = n / (times[1] - t0);
    }
  munmap (times, 4096);
  bench_emit ("redis_queue_small", "msgs/s", n, samples, reps);
  g_clear_object (&m);
  server_stop (s);
}
BENCH_REGISTER (redis_queue_small, "redis_queue_small")

static void
bench_store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
redis_lock_rtt (void)
{
  Server *s = server_start ();
  g_autoptr(MprocManager) m = manager_for (s);
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocLock) lock = mproc_manager_new_lock (m, "l", NULL, &error);
  guint64 n = bench_scale (5000, 500);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);
  g_autofree double *each = g_new0 (double, n);

  if (lock == NULL)
    g_error ("%s", error->message);
  for (guint r = 0; r <= reps; r++)
    {
      for (guint64 i = 0; i < n; i++)
        {
          double t0 = bench_now ();

          if (!mproc_lock_acquire (lock, -1, NULL, &error))
            g_error ("%s", error->message);
          each[i] = (bench_now () - t0) * 1e6;
          if (!mproc_lock_release (lock, &error))
            g_error ("%s", error->message);
        }
      qsort (each, n, sizeof (double), compare_double);
      if (r > 0)
        samples[r - 1] = each[n / 2];
    }
  bench_emit ("redis_lock_rtt", "us", n, samples, reps);
  g_clear_object (&lock);
  g_clear_object (&m);
  server_stop (s);
}
BENCH_REGISTER (redis_lock_rtt, "redis_lock_rtt")

/* --- The pool on Redis ---------------------------------------------------- */

static GVariant *
pool_echo (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_ref (arg);
}

static GVariant *
pool_inc (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_new_int64 (g_variant_get_int64 (arg) + 1);
}

/* Creates the file it is given (a flag: it runs), then sleeps long.  A
 * file, as the worker's processes may come from a fork server. */
static GVariant *
pool_flag_sleep (GVariant *arg, gpointer user_data, GError **error)
{
  if (!g_file_set_contents (g_variant_get_string (arg, NULL), "", 0, error))
    return NULL;
  g_usleep (60 * G_USEC_PER_SEC);
  return g_variant_new_boolean (TRUE);
}

static int
pool_worker_main (MprocProcess *process,
                  GVariant     *args,
                  gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  const char *uri, *name;
  guint32 n;

  g_variant_get (args, "(&s&su)", &uri, &name, &n);
  mproc_pool_serve_for_uri (uri, name, n, NULL, &error);
  return 1;
}

static void __attribute__((constructor))
register_pool_targets (void)
{
  mproc_register_task ("bench-rp-echo", pool_echo, NULL, NULL);
  mproc_register_task ("bench-rp-inc", pool_inc, NULL, NULL);
  mproc_register_task ("bench-rp-flag-sleep", pool_flag_sleep, NULL, NULL);
  mproc_register_target ("bench-redis-pool-worker", pool_worker_main, NULL, NULL);
}

static MprocProcess *
pool_worker_start (Server *s, const char *name, guint n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  MprocProcess *worker = mproc_process_new_with_context (context, "bench-redis-pool-worker",
                                                         g_variant_new ("(ssu)", s->uri, name, n));

  if (!mproc_process_start (worker, &error))
    g_error ("%s", error->message);
  return worker;
}

static void
pool_worker_stop (MprocProcess *worker)
{
  mproc_process_kill (worker);
  mproc_process_join (worker, -1, NULL, NULL);
  g_object_unref (worker);
}

static MprocPool *
pool_for (Server *s, const char *name)
{
  g_autoptr(GError) error = NULL;
  MprocPool *pool = mproc_pool_new_for_uri (s->uri, name, NULL, &error);

  if (pool == NULL)
    g_error ("%s", error->message);
  return pool;
}

static void
redis_pool_apply_rtt (void)
{
  Server *s = server_start ();
  MprocProcess *worker = pool_worker_start (s, "rtt", 1);
  g_autoptr(MprocPool) pool = pool_for (s, "rtt");
  guint64 n = bench_scale (2000, 200);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);
  g_autofree double *each = g_new0 (double, n);

  for (guint r = 0; r <= reps; r++)
    {
      for (guint64 i = 0; i < n; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) v = NULL;
          double t0 = bench_now ();

          v = mproc_pool_apply (pool, "bench-rp-echo", g_variant_new_int64 (i), -1, NULL, &error);
          if (v == NULL)
            g_error ("%s", error->message);
          each[i] = (bench_now () - t0) * 1e6;
          if (g_variant_get_int64 (v) != (gint64) i)
            g_error ("redis_pool_apply_rtt: wrong value");
        }
      qsort (each, n, sizeof (double), compare_double);
      if (r > 0)
        samples[r - 1] = each[n / 2];
    }
  bench_emit ("redis_pool_apply_rtt", "us", n, samples, reps);
  g_clear_object (&pool);
  pool_worker_stop (worker);
  server_stop (s);
}
BENCH_REGISTER (redis_pool_apply_rtt, "redis_pool_apply_rtt")

static void
redis_pool_map_tiny (void)
{
  Server *s = server_start ();
  MprocProcess *worker = pool_worker_start (s, "tiny", 2);
  g_autoptr(MprocPool) pool = NULL;
  guint64 n = bench_scale (100000, 10000);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);
  g_autofree gint64 *items = g_new (gint64, n);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) ready = NULL;

  for (guint64 i = 0; i < n; i++)
    items[i] = i;
  /* opened once the worker is listed: default chunks count its processes */
  pool = pool_for (s, "tiny");
  ready = mproc_pool_apply (pool, "bench-rp-echo", g_variant_new_int64 (0), -1, NULL, &error);
  if (ready == NULL)
    g_error ("%s", error->message);
  g_clear_object (&pool);
  pool = pool_for (s, "tiny");
  for (guint r = 0; r <= reps; r++)
    {
      g_autoptr(GVariant) out = NULL;
      const gint64 *v;
      gsize len;
      double t0 = bench_now ();

      out = mproc_pool_map (pool, "bench-rp-inc",
                            g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, items, n, sizeof (gint64)),
                            0, -1, NULL, &error);
      if (out == NULL)
        g_error ("%s", error->message);
      if (r > 0)
        samples[r - 1] = n / (bench_now () - t0);
      v = g_variant_get_fixed_array (out, &len, sizeof (gint64));
      if (len != n || v[n - 1] != (gint64) n)
        g_error ("redis_pool_map_tiny: wrong results");
    }
  bench_emit ("redis_pool_map_tiny", "items/s", n, samples, reps);
  g_clear_object (&pool);
  pool_worker_stop (worker);
  server_stop (s);
}
BENCH_REGISTER (redis_pool_map_tiny, "redis_pool_map_tiny")

static void
redis_pool_failover (void)
{
  Server *s = server_start ();
  g_autoptr(MprocPool) pool = pool_for (s, "failover");
  guint reps = MIN (bench_reps (), 3);
  g_autofree double *samples = g_new0 (double, reps);
  g_autofree char *flag = g_build_filename (s->dir, "running", NULL);

  /* no warm-up: each repetition is a new worker's death */
  for (guint r = 0; r < reps; r++)
    {
      MprocProcess *worker = pool_worker_start (s, "failover", 1);
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) out = NULL;
      double killed;

      unlink (flag);
      mproc_pool_apply_async (pool, "bench-rp-flag-sleep", g_variant_new_string (flag),
                              -1, NULL, bench_store_result, &result);
      while (!g_file_test (flag, G_FILE_TEST_EXISTS))
        g_main_context_iteration (NULL, FALSE), g_usleep (1000);
      kill (mproc_process_get_pid (worker), SIGKILL);
      killed = bench_now ();
      while (result == NULL)
        g_main_context_iteration (NULL, TRUE);
      samples[r] = bench_now () - killed;
      out = mproc_pool_apply_finish (pool, result, &error);
      if (out != NULL || !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED))
        g_error ("redis_pool_failover: expected WORKER_DIED");
      mproc_process_join (worker, -1, NULL, NULL);
      g_object_unref (worker);
    }
  unlink (flag);
  bench_emit ("redis_pool_failover", "s", 1, samples, reps);
  g_clear_object (&pool);
  server_stop (s);
}
BENCH_REGISTER (redis_pool_failover, "redis_pool_failover")
