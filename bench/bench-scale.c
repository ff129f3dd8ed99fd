/* bench-scale.c: scale_* — how cost grows as work grows
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each series prints one line per point, named "<series>@<x>", in the
 * anchors' format; bench/scale.py runs the same workloads with Python's
 * multiprocessing and its peers, and bench/table.py draws both.  Fork start
 * method, a fresh queue/manager/child per repetition (the pool is made once
 * per point, untimed, and warmed with one map of 100 items).
 *
 * scale_queue_size@S: one producer child puts n messages of S bytes (an
 *   "ay" of S bytes, the same each time) after the start gate, the parent
 *   gets them and checks their length; t0 at the gate, t1 at the n-th get;
 *   S = 8 B … 64 MiB, n = clamp (128 MiB / S, 4, 50000); MB/s of payload.
 * scale_queue_pc@PxC: P producer children put n / P int64 values (>= 0)
 *   each, C consumer children get until they see -1 and count; after every
 *   producer has exited the parent puts C times -1.  t0 at the gate (all
 *   P + C children waiting), t1 the last consumer's last real get; the
 *   counts must add up to n = 200000; msg/s.
 * scale_pool_map_items@N: map (double, range (N)) with the default
 *   chunksize on Pool (2), as pool_map_tiny; tasks/s; N = 10^3 … 10^7.
 * scale_pool_map_chunksize@K: the same with N = 20000 and chunksize K.
 * scale_manager_clients@C: one manager; C client children each do, after
 *   an untimed len() and the gate, m = 2000 d[k] = k on one shared dict
 *   (disjoint keys); t1 the last client's end; total ops/s.
 * scale_process_burst@K: K Process (noop) started one after the other,
 *   then all joined; wall time divided by K, in ms per process.
 *
 * A point stops repeating once its repetitions have taken SCALE_BUDGET
 * seconds (at least one timed repetition): the largest points would
 * otherwise dominate the run on two cores.
 */

#include <string.h>
#include <sys/mman.h>

#include <mproc.h>

#include "bench.h"

#define SCALE_BUDGET 3.0
#define MIB          (1 << 20)

static BenchGate *scale_gate;     /* inherited by the fork()ed children */
static double    *scale_shared;   /* a shared page for the children's reports */

typedef double (*PointFunc) (guint64 x, gpointer data);

/* Runs one point: a warm-up, then up to bench_reps() timed repetitions
 * within SCALE_BUDGET seconds; @once returns a repetition's figure. */
static void
scale_point (const char *series,
             const char *x_name,
             const char *unit,
             guint64     n,
             PointFunc   once,
             guint64     x,
             gpointer    data)
{
  g_autofree double *samples = g_new0 (double, bench_reps ());
  g_autofree char *metric = g_strdup_printf ("%s@%s", series, x_name);
  double spent = 0, t0;
  guint r = 0;

  once (x, data);
  while (r < bench_reps () && (r == 0 || spent < SCALE_BUDGET))
    {
      t0 = bench_now ();
      samples[r++] = once (x, data);
      spent += bench_now () - t0;
    }
  bench_emit (metric, unit, n, samples, r);
}

static void
check_join (MprocProcess *process)
{
  g_autoptr(GError) error = NULL;

  if (!mproc_process_join (process, -1, NULL, &error))
    g_error ("%s", error->message);
  if (mproc_process_get_exit_code (process) != 0)
    g_error ("scale child exited with %d", mproc_process_get_exit_code (process));
}

static MprocProcess *
start_child (MprocContext   *context,
             const char     *target,
             GVariant       *args,
             MprocShareable *object)
{
  g_autoptr(GError) error = NULL;
  MprocProcess *process = mproc_process_new_with_context (context, target, args);

  if (object != NULL)
    mproc_process_add_object (process, object);
  if (!mproc_process_start (process, &error))
    g_error ("%s", error->message);
  return process;
}

/* ---- queue against message size ---- */

static guint64
queue_size_n (guint64 size)
{
  return CLAMP (128 * (guint64) MIB / size, 4, 50000);
}

static int
size_producer (MprocProcess *process,
               GVariant     *args,
               gpointer      user_data)
{
  MprocQueue *queue = MPROC_QUEUE (mproc_process_get_object (process, 0));
  guint64 n, size;
  g_autoptr(GVariant) payload = NULL;
  guint8 *data;

  g_variant_get (args, "(tt)", &n, &size);
  bench_pin_child (0);
  data = g_malloc (size);
  memset (data, 0x5a, size);
  payload = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, size,
                                                         TRUE, g_free, data));
  bench_gate_child_wait (scale_gate);
  for (guint64 i = 0; i < n; i++)
    if (!mproc_queue_put (queue, payload, -1, NULL, NULL))
      return 1;
  return 0;
}

static double
queue_size_once (guint64  size,
                 gpointer data)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(MprocProcess) producer = NULL;
  g_autoptr(GError) error = NULL;
  guint64 n = bench_scale (queue_size_n (size), 4);
  double t0, dt;

  queue = mproc_queue_new (0, &error);
  if (queue == NULL)
    g_error ("%s", error->message);
  scale_gate = bench_gate_new (1);
  producer = start_child (context, "bench-scale-size-producer", g_variant_new ("(tt)", n, size),
                          MPROC_SHAREABLE (queue));
  t0 = bench_gate_open (scale_gate);
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = mproc_queue_get (queue, -1, NULL, &error);

      if (v == NULL)
        g_error ("%s", error->message);
      if (g_variant_get_size (v) != size)
        g_error ("scale_queue_size: wrong message length");
    }
  dt = bench_now () - t0;
  check_join (producer);
  bench_gate_free (scale_gate);
  return n * (double) size / dt / 1e6;
}

static void
scale_queue_size (void)
{
  static const guint64 sizes[] = { 8, 64, 512, 4096, 32768, 262144, MIB, 8 * MIB, 64 * MIB };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      guint64 size = sizes[i];
      g_autofree char *x = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

      scale_point ("scale_queue_size", x, "MB/s", bench_scale (queue_size_n (size), 4),
                   queue_size_once, size, NULL);
    }
}

/* ---- queue against producers × consumers ---- */

static int
pc_producer (MprocProcess *process,
             GVariant     *args,
             gpointer      user_data)
{
  MprocQueue *queue = MPROC_QUEUE (mproc_process_get_object (process, 0));
  guint64 from, count;
  guint32 slot;

  g_variant_get (args, "(ttu)", &from, &count, &slot);
  bench_pin_child (slot);
  bench_gate_child_wait (scale_gate);
  for (guint64 i = from; i < from + count; i++)
    if (!mproc_queue_put (queue, g_variant_new_int64 (i), -1, NULL, NULL))
      return 1;
  return 0;
}

/* scale_shared[2 k] = messages consumer k got, [2 k + 1] its last get */
static int
pc_consumer (MprocProcess *process,
             GVariant     *args,
             gpointer      user_data)
{
  MprocQueue *queue = MPROC_QUEUE (mproc_process_get_object (process, 0));
  guint32 k, slot;
  guint64 count = 0;
  double last = 0;

  g_variant_get (args, "(uu)", &k, &slot);
  bench_pin_child (slot);
  bench_gate_child_wait (scale_gate);
  for (;;)
    {
      g_autoptr(GVariant) v = mproc_queue_get (queue, -1, NULL, NULL);

      if (v == NULL)
        return 1;
      if (g_variant_get_int64 (v) < 0)
        break;
      count++;
      last = bench_now ();
    }
  scale_shared[2 * k] = count;
  scale_shared[2 * k + 1] = last;
  return 0;
}

static double
queue_pc_once (guint64  pc,
               gpointer data)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(GError) error = NULL;
  guint p = pc >> 8, c = pc & 0xff;
  guint64 n = bench_scale (200000, 1000);
  MprocProcess *children[16];
  double t0, t1 = 0, total = 0;

  queue = mproc_queue_new (0, &error);
  if (queue == NULL)
    g_error ("%s", error->message);
  scale_gate = bench_gate_new (p + c);
  memset (scale_shared, 0, 4096);
  for (guint i = 0; i < p; i++)
    {
      guint64 from = n * i / p, to = n * (i + 1) / p;

      children[i] = start_child (context, "bench-scale-pc-producer",
                                 g_variant_new ("(ttu)", from, to - from, (guint32) i),
                                 MPROC_SHAREABLE (queue));
    }
  for (guint k = 0; k < c; k++)
    children[p + k] = start_child (context, "bench-scale-pc-consumer",
                                   g_variant_new ("(uu)", (guint32) k, (guint32) (p + k)),
                                   MPROC_SHAREABLE (queue));
  t0 = bench_gate_open (scale_gate);
  for (guint i = 0; i < p; i++)
    check_join (children[i]);
  for (guint k = 0; k < c; k++)
    if (!mproc_queue_put (queue, g_variant_new_int64 (-1), -1, NULL, &error))
      g_error ("%s", error->message);
  for (guint k = 0; k < c; k++)
    {
      check_join (children[p + k]);
      total += scale_shared[2 * k];
      t1 = MAX (t1, scale_shared[2 * k + 1]);
    }
  for (guint i = 0; i < p + c; i++)
    g_object_unref (children[i]);
  if (total != n)
    g_error ("scale_queue_pc: %g messages of %" G_GUINT64_FORMAT, total, n);
  bench_gate_free (scale_gate);
  return n / (t1 - t0);
}

static void
scale_queue_pc (void)
{
  static const guint pcs[][2] = { { 1, 1 }, { 1, 4 }, { 4, 1 }, { 2, 2 }, { 3, 3 }, { 4, 4 } };

  for (guint i = 0; i < G_N_ELEMENTS (pcs); i++)
    {
      g_autofree char *x = g_strdup_printf ("%ux%u", pcs[i][0], pcs[i][1]);

      scale_point ("scale_queue_pc", x, "msg/s", bench_scale (200000, 1000),
                   queue_pc_once, (pcs[i][0] << 8) | pcs[i][1], NULL);
    }
}

/* ---- pool map against item count and chunksize ---- */

static MprocPool *
scale_pool (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) warm = NULL;
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

typedef struct
{
  MprocPool *pool;
  guint64    n;
  guint      chunksize;
} MapPoint;

static double
map_once (guint64  x,
          gpointer data)
{
  MapPoint *point = data;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  guint64 n = point->n;
  gint64 *range = g_new (gint64, n);
  const gint64 *out;
  gsize n_out = 0;
  double t0 = bench_now (), dt;

  for (guint64 i = 0; i < n; i++)
    range[i] = i;
  result = mproc_pool_map (point->pool, "double",
                           g_variant_new_from_data (G_VARIANT_TYPE ("ax"), range, n * sizeof (gint64),
                                                    TRUE, g_free, range),
                           point->chunksize, -1, NULL, &error);
  dt = bench_now () - t0;
  if (result == NULL)
    g_error ("scale_pool_map: %s", error->message);
  out = g_variant_get_fixed_array (result, &n_out, sizeof (gint64));
  if (n_out != n)
    g_error ("scale_pool_map: wrong result length");
  for (guint64 i = 0; i < n; i++)
    if (out[i] != (gint64) (2 * i))
      g_error ("scale_pool_map: wrong result");
  return n / dt;
}

static void
end_pool (MprocPool *pool)
{
  mproc_pool_close (pool);
  mproc_pool_join (pool, -1, NULL, NULL);
  g_object_unref (pool);
}

static void
scale_pool_map_items (void)
{
  for (guint64 n = 1000; n <= 10000000; n *= 10)
    {
      MapPoint point = { scale_pool (), bench_scale (n, 100), 0 };
      g_autofree char *x = g_strdup_printf ("%" G_GUINT64_FORMAT, n);

      scale_point ("scale_pool_map_items", x, "tasks/s", point.n, map_once, n, &point);
      end_pool (point.pool);
    }
}

static void
scale_pool_map_chunksize (void)
{
  static const guint sizes[] = { 1, 4, 16, 64, 256, 1024, 2500 };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      MapPoint point = { scale_pool (), bench_scale (20000, 100), sizes[i] };
      g_autofree char *x = g_strdup_printf ("%u", sizes[i]);

      scale_point ("scale_pool_map_chunksize", x, "tasks/s", point.n, map_once, sizes[i], &point);
      end_pool (point.pool);
    }
}

/* ---- manager against the number of clients ---- */

static int
manager_client (MprocProcess *process,
                GVariant     *args,
                gpointer      user_data)
{
  MprocDict *dict = MPROC_DICT (mproc_process_get_object (process, 0));
  g_autoptr(GError) error = NULL;
  guint32 k;
  guint64 m;

  g_variant_get (args, "(ut)", &k, &m);
  bench_pin_child (k);
  if (mproc_dict_len (dict, NULL, &error) < 0)
    g_error ("%s", error->message);
  bench_gate_child_wait (scale_gate);
  for (guint64 i = k * m; i < (k + 1) * m; i++)
    if (!mproc_dict_set (dict, g_variant_new_int64 (i), g_variant_new_int64 (i), NULL, &error))
      g_error ("%s", error->message);
  scale_shared[k] = bench_now ();
  return 0;
}

static double
manager_once (guint64  c,
              gpointer data)
{
  MprocManager *manager = data;
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocDict) dict = NULL;
  g_autoptr(GError) error = NULL;
  guint64 m = bench_scale (2000, 100);
  MprocProcess *children[16];
  double t0, t1 = 0;

  dict = mproc_dict_new (manager, NULL, NULL, &error);
  if (dict == NULL)
    g_error ("%s", error->message);
  scale_gate = bench_gate_new (c);
  for (guint k = 0; k < c; k++)
    children[k] = start_child (context, "bench-scale-manager-client", g_variant_new ("(ut)", (guint32) k, m),
                               MPROC_SHAREABLE (dict));
  t0 = bench_gate_open (scale_gate);
  for (guint k = 0; k < c; k++)
    {
      check_join (children[k]);
      t1 = MAX (t1, scale_shared[k]);
      g_object_unref (children[k]);
    }
  if (mproc_dict_len (dict, NULL, &error) != (gssize) (c * m))
    g_error ("scale_manager_clients: wrong size");
  bench_gate_free (scale_gate);
  return c * m / (t1 - t0);
}

static void
scale_manager_clients (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(GError) error = NULL;

  if (!mproc_manager_start (manager, NULL, &error))
    g_error ("%s", error->message);
  for (guint c = 1; c <= 16; c *= 2)
    {
      g_autofree char *x = g_strdup_printf ("%u", c);

      scale_point ("scale_manager_clients", x, "ops/s", c * bench_scale (2000, 100),
                   manager_once, c, manager);
    }
  mproc_manager_shutdown (manager, NULL, NULL);
}

/* ---- process start against the number started at once ---- */

static int
scale_noop (MprocProcess *process,
            GVariant     *args,
            gpointer      user_data)
{
  return 0;
}

static double
burst_once (guint64  k,
            gpointer data)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autofree MprocProcess **children = g_new0 (MprocProcess *, k);
  double t0 = bench_now ();

  for (guint64 i = 0; i < k; i++)
    children[i] = start_child (context, "bench-scale-noop", NULL, NULL);
  for (guint64 i = 0; i < k; i++)
    check_join (children[i]);
  t0 = (bench_now () - t0) / k * 1e3;
  for (guint64 i = 0; i < k; i++)
    g_object_unref (children[i]);
  return t0;
}

static void
scale_process_burst (void)
{
  for (guint k = 1; k <= 64; k *= 4)
    {
      g_autofree char *x = g_strdup_printf ("%u", k);

      scale_point ("scale_process_burst", x, "ms", k, burst_once, k, NULL);
    }
}

static void __attribute__((constructor))
register_scale_targets (void)
{
  scale_shared = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  g_assert (scale_shared != MAP_FAILED);
  mproc_register_target ("bench-scale-size-producer", size_producer, NULL, NULL);
  mproc_register_target ("bench-scale-pc-producer", pc_producer, NULL, NULL);
  mproc_register_target ("bench-scale-pc-consumer", pc_consumer, NULL, NULL);
  mproc_register_target ("bench-scale-manager-client", manager_client, NULL, NULL);
  mproc_register_target ("bench-scale-noop", scale_noop, NULL, NULL);
}

BENCH_REGISTER (scale_queue_size, "scale_queue_size")
BENCH_REGISTER (scale_queue_pc, "scale_queue_pc")
BENCH_REGISTER (scale_pool_map_items, "scale_pool_map_items")
BENCH_REGISTER (scale_pool_map_chunksize, "scale_pool_map_chunksize")
BENCH_REGISTER (scale_manager_clients, "scale_manager_clients")
BENCH_REGISTER (scale_process_burst, "scale_process_burst")
