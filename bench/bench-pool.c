/* bench-pool.c: pool_start, pool_map_tiny, pool_map_tiny_chunksize1,
 * pool_apply_async_rtt, pool_cancel_latency
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As py_mp_bench.py (fork context, 2 workers, the 'trivial function'
 * double(x) = 2 * x):
 *   pool_start: one sample = wall time of  pool = Pool (2); pool.apply (noop)
 *     (construction until the first result is back); the pool is then
 *     closed and joined, untimed.  A repetition starts COUNT = 10 pools;
 *     median, in ms.  One untimed pool first.
 *   The others use one Pool (2), made untimed and warmed with one map over
 *   100 items:
 *   pool_map_tiny: map (double, range (n)), default chunksize (Python's
 *     rule: ceil (n / (4 * 2)) = 25000, 8 chunks), n = 200000; tasks/s.
 *     The clock covers building range (n) (Python iterates its range inside
 *     map) and the whole call.
 *   pool_map_tiny_chunksize1: the same with chunksize 1, n = 20000.
 *   pool_apply_async_rtt: n = 5000 times apply (double, i) waited for one
 *     after the other; us per call.
 * Every result is checked against 2 * i (untimed).
 *
 * pool_cancel_latency (no Python counterpart: its pool lets cancelled work
 *   run on): a Pool (2) (fork) runs map_async over 2 items, chunksize 1,
 *   of a target that spins until mproc_pool_task_get_cancellable() says
 *   its call was cancelled; once both workers spin (a counter in shared
 *   memory the target raises), one sample = the time from
 *   g_cancellable_cancel() until the counter, lowered by each target as it
 *   stops, is back to 0, the caller iterating its main context meanwhile.
 *   A repetition takes COUNT = 10 samples; median, in ms.
 *   pool_cancel_kill_latency: the same with a target that never checks the
 *   cancellable, until both spinning workers are killed and reaped (the
 *   default cancel-grace of 100 ms, then the kill); COUNT = 3.
 *
 * double is registered as a chunk target: a chunk of an `ax` array is
 * doubled into a new `ax` with no allocation per item.  With --pin the
 * workers pin themselves from the pool's initializer (PoolWorker-k on the
 * CPU of child k - 1).
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <mproc.h>

#include "bench.h"

static GVariant *
double_chunk (GVariant  *items,
              gpointer   user_data,
              GError   **error)
{
  gsize n = 0;
  const gint64 *in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  gint64 *out = g_new (gint64, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    out[i] = 2 * in[i];
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

static GVariant *
noop_task (GVariant  *arg,
           gpointer   user_data,
           GError   **error)
{
  return g_variant_new ("()");
}

static GVariant *
pin_worker (GVariant  *arg,
            gpointer   user_data,
            GError   **error)
{
  const char *name = mproc_process_get_name (mproc_current_process ());
  const char *dash = strrchr (name, '-');

  if (g_variant_get_boolean (arg) && dash != NULL)
    bench_pin_child ((guint) (atoi (dash + 1) - 1));
  return g_variant_new ("()");
}

/* In memory shared with the fork()ed workers: how many targets spin. */
static gint *spinning;

static GVariant *
spin_cancellable (GVariant  *arg,
                  gpointer   user_data,
                  GError   **error)
{
  GCancellable *cancellable = mproc_pool_task_get_cancellable ();

  g_atomic_int_inc (spinning);
  while (!g_cancellable_is_cancelled (cancellable))
    ;
  g_atomic_int_add (spinning, -1);
  g_cancellable_set_error_if_cancelled (cancellable, error);
  return NULL;
}

static GVariant *
spin_deaf (GVariant  *arg,
           gpointer   user_data,
           GError   **error)
{
  volatile guint64 n = 0;

  g_atomic_int_inc (spinning);
  for (;;)
    n++;
  return NULL;
}

static void __attribute__((constructor))
register_pool_targets (void)
{
  /* before mproc_init() runs in main(), so that workers know them too */
  mproc_register_chunk_task ("double", double_chunk, NULL, NULL);
  mproc_register_task ("noop", noop_task, NULL, NULL);
  mproc_register_task ("pin", pin_worker, NULL, NULL);
  mproc_register_task ("spin-cancellable", spin_cancellable, NULL, NULL);
  mproc_register_task ("spin-deaf", spin_deaf, NULL, NULL);
}

static double
median (double *v, guint n)
{
  for (guint i = 0; i < n; i++)
    for (guint j = i + 1; j < n; j++)
      if (v[j] < v[i])
        {
          double t = v[i];
          v[i] = v[j];
          v[j] = t;
        }
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double
start_one (MprocContext *context)
{
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  double t0 = bench_now (), dt;

  pool = mproc_pool_new_full (context, 2, NULL, NULL, 0, &error);
  if (pool == NULL)
    g_error ("%s", error->message);
  result = mproc_pool_apply (pool, "noop", g_variant_new ("()"), -1, NULL, &error);
  if (result == NULL)
    g_error ("%s", error->message);
  dt = bench_now () - t0;

  mproc_pool_close (pool);
  if (!mproc_pool_join (pool, -1, NULL, &error))
    g_error ("%s", error->message);
  return dt;
}

static void
pool_start (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  guint count = bench_scale (10, 3);
  g_autofree double *samples = g_new0 (double, bench_reps ());
  g_autofree double *times = g_new0 (double, count);

  start_one (context);
  for (guint r = 0; r < bench_reps (); r++)
    {
      for (guint i = 0; i < count; i++)
        times[i] = start_one (context);
      samples[r] = median (times, count) * 1e3;
    }
  bench_emit ("pool_start", "ms", count, samples, bench_reps ());
}

static MprocPool *
steady_pool (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GVariant) warm = NULL;
  g_autoptr(GError) error = NULL;
  gint64 items[100];
  MprocPool *pool;

  pool = mproc_pool_new_full (context, 2, "pin", g_variant_new_boolean (bench_pinned ()), 0, &error);
  if (pool == NULL)
    g_error ("%s", error->message);
  for (guint i = 0; i < 100; i++)
    items[i] = i;
  warm = mproc_pool_map (pool, "double", g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, items, 100, sizeof (gint64)),
                         0, -1, NULL, &error);
  if (warm == NULL)
    g_error ("%s", error->message);
  return pool;
}

static void
end_pool (MprocPool *pool)
{
  mproc_pool_close (pool);
  mproc_pool_join (pool, -1, NULL, NULL);
  g_object_unref (pool);
}

static void
pool_map (const char *metric,
          guint64     n,
          guint       chunksize)
{
  MprocPool *pool = steady_pool ();
  g_autofree double *samples = g_new0 (double, bench_reps ());

  for (int r = -1; r < (int) bench_reps (); r++)
    {
      g_autoptr(GVariant) result = NULL;
      g_autoptr(GError) error = NULL;
      const gint64 *out;
      gsize n_out = 0;
      double t0 = bench_now (), dt;
      gint64 *range = g_new (gint64, n);

      for (guint64 i = 0; i < n; i++)
        range[i] = i;
      result = mproc_pool_map (pool, "double",
                               g_variant_new_from_data (G_VARIANT_TYPE ("ax"), range, n * sizeof (gint64),
                                                        TRUE, g_free, range),
                               chunksize, -1, NULL, &error);
      dt = bench_now () - t0;
      if (result == NULL)
        g_error ("%s: %s", metric, error->message);
      if (r >= 0)
        samples[r] = n / dt;

      out = g_variant_get_fixed_array (result, &n_out, sizeof (gint64));
      if (n_out != n)
        g_error ("%s: wrong result length", metric);
      for (guint64 i = 0; i < n; i++)
        if (out[i] != (gint64) (2 * i))
          g_error ("%s: wrong result", metric);
    }

  bench_emit (metric, "tasks/s", n, samples, bench_reps ());
  end_pool (pool);
}

static void
pool_map_tiny (void)
{
  pool_map ("pool_map_tiny", bench_scale (200000, 1000), 0);
}

static void
pool_map_tiny_chunksize1 (void)
{
  pool_map ("pool_map_tiny_chunksize1", bench_scale (20000, 100), 1);
}

static void
pool_apply_async_rtt (void)
{
  MprocPool *pool = steady_pool ();
  guint64 n = bench_scale (5000, 100);
  g_autofree double *samples = g_new0 (double, bench_reps ());

  for (int r = -1; r < (int) bench_reps (); r++)
    {
      double t0 = bench_now ();

      for (guint64 i = 0; i < n; i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(GVariant) result = mproc_pool_apply (pool, "double", g_variant_new_int64 (i),
                                                         -1, NULL, &error);

          if (result == NULL)
            g_error ("pool_apply_async_rtt: %s", error->message);
          if (g_variant_get_int64 (result) != (gint64) (2 * i))
            g_error ("pool_apply_async_rtt: wrong result");
        }
      if (r >= 0)
        samples[r] = (bench_now () - t0) / n * 1e6;
    }

  bench_emit ("pool_apply_async_rtt", "us", n, samples, bench_reps ());
  end_pool (pool);
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
pids_gone (const int *pids,
           guint      n)
{
  for (guint i = 0; i < n; i++)
    if (kill (pids[i], 0) == 0 || errno != ESRCH)
      return FALSE;
  return TRUE;
}

/* One cancel of a map whose 2 chunks spin: seconds until they stopped. */
static double
cancel_one (MprocPool  *pool,
            const char *target)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree int *pids = NULL;
  gboolean deaf = strcmp (target, "spin-deaf") == 0;
  gint64 items[2] = { 0, 1 };
  guint n_pids = 0;
  double t0, dt;

  g_atomic_int_set (spinning, 0);
  mproc_pool_map_async (pool, target,
                        g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, items, 2, sizeof (gint64)),
                        1, -1, cancellable, NULL, NULL, NULL, store_result, &result);
  while (g_atomic_int_get (spinning) < 2)
    g_main_context_iteration (NULL, FALSE);
  pids = mproc_pool_dup_worker_pids (pool, &n_pids);

  t0 = bench_now ();
  g_cancellable_cancel (cancellable);
  /* polls leaving the CPUs to the workers (2 spin on 2 CPUs here) */
  for (;;)
    {
      if (deaf ? pids_gone (pids, n_pids) : g_atomic_int_get (spinning) == 0)
        break;
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (20);
    }
  dt = bench_now () - t0;

  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  value = mproc_pool_map_finish (pool, result, &error);
  if (value != NULL || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_error ("pool_cancel_latency: the map was not cancelled");
  /* the replacements of killed workers are up before the next sample */
  while (mproc_pool_get_n_workers (pool) < 2)
    g_main_context_iteration (NULL, TRUE);
  return dt;
}

static void
pool_cancel_emit (MprocPool  *pool,
                  const char *metric,
                  const char *target,
                  guint       count)
{
  g_autofree double *samples = g_new0 (double, bench_reps ());
  g_autofree double *times = g_new0 (double, count);

  cancel_one (pool, target);
  for (guint r = 0; r < bench_reps (); r++)
    {
      for (guint i = 0; i < count; i++)
        times[i] = cancel_one (pool, target);
      samples[r] = median (times, count) * 1e3;
    }
  bench_emit (metric, "ms", count, samples, bench_reps ());
}

static void
pool_cancel_latency (void)
{
  MprocPool *pool;

  if (spinning == NULL)
    {
      spinning = mmap (NULL, sizeof *spinning, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (spinning == MAP_FAILED)
        g_error ("pool_cancel_latency: mmap: %s", g_strerror (errno));
    }
  pool = steady_pool ();
  pool_cancel_emit (pool, "pool_cancel_latency", "spin-cancellable", bench_scale (10, 3));
  pool_cancel_emit (pool, "pool_cancel_kill_latency", "spin-deaf", bench_scale (3, 1));
  end_pool (pool);
}

BENCH_REGISTER (pool_start, "pool_start")
BENCH_REGISTER (pool_map_tiny, "pool_map_tiny")
BENCH_REGISTER (pool_map_tiny_chunksize1, "pool_map_tiny_chunksize1")
BENCH_REGISTER (pool_apply_async_rtt, "pool_apply_async_rtt")
BENCH_REGISTER (pool_cancel_latency, "pool_cancel_latency")
