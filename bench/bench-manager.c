/* bench-manager.c: manager_dict (+ _set, _get), manager_list_append
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As py_mp_bench.py: one manager (server process) per metric, started
 * untimed; each repetition makes a fresh proxy (a dict or a list) and one
 * fork child that uses it. The child first calls len() untimed (this opens
 * its connection to the server), then, timing itself:
 *   dict: d[i] = i for i in 0..n-1, then reads d[i] for i in 0..n-1 and
 *         checks each value; n = 20000. manager_dict = 2n / (set + get
 *         time); manager_dict_set and manager_dict_get are the two halves.
 *   list: l.append(i) for i in 0..n-1; n = 20000; checked afterwards.
 * Keys and values are GVariant int64 ("x"), Python's ints. The child
 * reports its times through shared memory. All in ops/s.
 *
 * Also manager_dict_update_10k: one mproc_dict_update() of 10 000 pairs
 * (an "a{xx}" built beforehand with a GVariantBuilder, untimed, like the
 * dict a Python caller would hand to d.update()), timed from the call
 * (which serialises the pairs and sends them as one pipelined request)
 * until a len() confirms that the server applied them: one round trip,
 * in pairs/s.  The target compares it with 10 000 single sets in
 * Python, so bench/table.py sets it against Python's manager_dict_set.
 */

#include <sys/mman.h>

#include <mproc.h>

#include "bench.h"

static int
dict_child (MprocProcess *process,
            GVariant     *args,
            gpointer      user_data)
{
  MprocDict *dict = mproc_process_get_object (process, 0);
  double *times = (double *) (gsize) g_variant_get_uint64 (args);
  g_autoptr(GError) error = NULL;
  guint64 n = (guint64) times[0];
  double t0, t1, t2;

  bench_pin_child (1);
  if (mproc_dict_len (dict, NULL, &error) < 0)
    g_error ("%s", error->message);
  t0 = bench_now ();
  for (guint64 i = 0; i < n; i++)
    if (!mproc_dict_set (dict, g_variant_new_int64 (i), g_variant_new_int64 (i), NULL, &error))
      g_error ("%s", error->message);
  t1 = bench_now ();
  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = mproc_dict_get (dict, g_variant_new_int64 (i), NULL, &error);

      if (v == NULL)
        g_error ("%s", error->message);
      if (g_variant_get_int64 (v) != (gint64) i)
        g_error ("manager_dict: wrong value");
    }
  t2 = bench_now ();
  times[1] = t1 - t0;
  times[2] = t2 - t1;
  return 0;
}

static int
list_child (MprocProcess *process,
            GVariant     *args,
            gpointer      user_data)
{
  MprocList *list = mproc_process_get_object (process, 0);
  double *times = (double *) (gsize) g_variant_get_uint64 (args);
  g_autoptr(GError) error = NULL;
  guint64 n = (guint64) times[0];
  double t0;

  bench_pin_child (1);
  if (mproc_list_len (list, NULL, &error) < 0)
    g_error ("%s", error->message);
  t0 = bench_now ();
  for (guint64 i = 0; i < n; i++)
    if (!mproc_list_append (list, g_variant_new_int64 (i), NULL, &error))
      g_error ("%s", error->message);
  times[1] = bench_now () - t0;
  return 0;
}

static void __attribute__((constructor))
register_targets (void)
{
  mproc_register_target ("bench-manager-dict", dict_child, NULL, NULL);
  mproc_register_target ("bench-manager-list", list_child, NULL, NULL);
}

static MprocManager *
start_manager (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(GError) error = NULL;

  if (!mproc_manager_start (manager, NULL, &error))
    g_error ("%s", error->message);
  return g_steal_pointer (&manager);
}

static void
run_child (const char     *target,
           MprocShareable *proxy,
           double         *times)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocProcess) process = NULL;
  g_autoptr(GError) error = NULL;

  process = mproc_process_new_with_context (context, target,
                                            g_variant_new_uint64 ((guint64) (gsize) times));
  mproc_process_add_object (process, proxy);
  if (!mproc_process_start (process, &error) ||
      !mproc_process_join (process, -1, NULL, &error))
    g_error ("%s", error->message);
  if (mproc_process_get_exit_code (process) != 0)
    g_error ("manager child exited with %d", mproc_process_get_exit_code (process));
}

static void
manager_dict (void)
{
  g_autoptr(MprocManager) manager = start_manager ();
  guint64 n = bench_scale (20000, 100);
  guint reps = bench_reps ();
  g_autofree double *all = g_new0 (double, reps);
  g_autofree double *sets = g_new0 (double, reps);
  g_autofree double *gets = g_new0 (double, reps);
  double *times = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  for (guint r = 0; r <= reps; r++)   /* the first one is the warm-up */
    {
      g_autoptr(MprocDict) dict = NULL;
      g_autoptr(GError) error = NULL;

      dict = mproc_dict_new (manager, NULL, NULL, &error);
      if (dict == NULL)
        g_error ("%s", error->message);
      times[0] = n;
      run_child ("bench-manager-dict", MPROC_SHAREABLE (dict), times);
      if (mproc_dict_len (dict, NULL, &error) != (gssize) n)
        g_error ("manager_dict: wrong size");
      if (r == 0)
        continue;
      all[r - 1] = 2 * n / (times[1] + times[2]);
      sets[r - 1] = n / times[1];
      gets[r - 1] = n / times[2];
    }
  munmap (times, 4096);
  bench_emit ("manager_dict", "ops/s", 2 * n, all, reps);
  bench_emit ("manager_dict_set", "ops/s", n, sets, reps);
  bench_emit ("manager_dict_get", "ops/s", n, gets, reps);
  mproc_manager_shutdown (manager, NULL, NULL);
}
BENCH_REGISTER (manager_dict, "manager_dict")

static void
manager_list_append (void)
{
  g_autoptr(MprocManager) manager = start_manager ();
  guint64 n = bench_scale (20000, 100);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);
  double *times = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  for (guint r = 0; r <= reps; r++)
    {
      g_autoptr(MprocList) list = NULL;
      g_autoptr(GVariant) last = NULL;
      g_autoptr(GError) error = NULL;

      list = mproc_list_new (manager, NULL, NULL, &error);
      if (list == NULL)
        g_error ("%s", error->message);
      times[0] = n;
      run_child ("bench-manager-list", MPROC_SHAREABLE (list), times);
      last = mproc_list_get (list, n - 1, NULL, &error);
      if (last == NULL)
        g_error ("manager_list_append: %s", error->message);
      if (mproc_list_len (list, NULL, &error) != (gssize) n ||
          g_variant_get_int64 (last) != (gint64) n - 1)
        g_error ("manager_list_append: wrong contents");
      if (r > 0)
        samples[r - 1] = n / times[1];
    }
  munmap (times, 4096);
  bench_emit ("manager_list_append", "ops/s", n, samples, reps);
  mproc_manager_shutdown (manager, NULL, NULL);
}
BENCH_REGISTER (manager_list_append, "manager_list_append")

static void
manager_dict_update_10k (void)
{
  g_autoptr(MprocManager) manager = start_manager ();
  guint64 n = 10000;
  guint reps = bench_reps ();
  g_autofree double *samples = g_new0 (double, reps);

  for (guint r = 0; r <= reps; r++)
    {
      g_autoptr(MprocDict) dict = NULL;
      g_autoptr(GVariant) pairs = NULL;
      g_autoptr(GError) error = NULL;
      GVariantBuilder builder;
      double t0;

      dict = mproc_dict_new (manager, NULL, NULL, &error);
      if (dict == NULL)
        g_error ("%s", error->message);
      g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{xx}"));
      for (guint64 i = 0; i < n; i++)
        g_variant_builder_add (&builder, "{xx}", (gint64) i, (gint64) i);
      pairs = g_variant_ref_sink (g_variant_builder_end (&builder));
      t0 = bench_now ();
      if (!mproc_dict_update (dict, pairs, NULL, &error) ||
          mproc_dict_len (dict, NULL, &error) != (gssize) n)
        g_error ("manager_dict_update_10k: failed");
      if (r > 0)
        samples[r - 1] = n / (bench_now () - t0);
    }
  bench_emit ("manager_dict_update_10k", "ops/s", n, samples, reps);
  mproc_manager_shutdown (manager, NULL, NULL);
}
BENCH_REGISTER (manager_dict_update_10k, "manager_dict_update_10k")
