/* bench-process.c: process_start_{fork,spawn,forkserver}
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As py_mp_bench.py: one sample is the wall time of
 *   p = Process (target=noop); p.start (); p.join ()
 * in the parent; a repetition starts COUNT processes one after the other and
 * reports the median sample in ms. One untimed process first (it starts the
 * fork server, warms the page cache). COUNT = 50 (spawn: 20).
 */

#include <mproc.h>

#include "bench.h"

static int
noop (MprocProcess *process,
      GVariant     *args,
      gpointer      user_data)
{
  return 0;
}

static void __attribute__((constructor))
register_noop (void)
{
  /* before mproc_init() runs in main(), so that children know it too */
  mproc_register_target ("noop", noop, NULL, NULL);
}

static double
start_one (MprocContext *context)
{
  double t0 = bench_now ();
  g_autoptr(MprocProcess) process = mproc_process_new_with_context (context, "noop", NULL);
  g_autoptr(GError) error = NULL;

  if (!mproc_process_start (process, &error) ||
      !mproc_process_join (process, -1, NULL, &error))
    g_error ("%s", error->message);
  if (mproc_process_get_exit_code (process) != 0)
    g_error ("child exited with %d", mproc_process_get_exit_code (process));
  return bench_now () - t0;
}

static void
process_start (const char      *metric,
               MprocStartMethod method,
               guint64          count)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  g_autofree double *samples = g_new0 (double, bench_reps ());
  g_autofree double *times = g_new0 (double, count);

  start_one (context);

  for (guint r = 0; r < bench_reps (); r++)
    {
      for (guint64 i = 0; i < count; i++)
        times[i] = start_one (context);

      /* median of the repetition, in ms */
      for (guint64 i = 0; i < count; i++)
        for (guint64 j = i + 1; j < count; j++)
          if (times[j] < times[i])
            {
              double tmp = times[i];
              times[i] = times[j];
              times[j] = tmp;
            }
      samples[r] = (count % 2 ? times[count / 2] : (times[count / 2 - 1] + times[count / 2]) / 2) * 1e3;
    }

  bench_emit (metric, "ms", count, samples, bench_reps ());
}

static void
process_start_fork (void)
{
  process_start ("process_start_fork", MPROC_START_METHOD_FORK, bench_scale (50, 5));
}

static void
process_start_spawn (void)
{
  process_start ("process_start_spawn", MPROC_START_METHOD_SPAWN, bench_scale (20, 3));
}

static void
process_start_forkserver (void)
{
  process_start ("process_start_forkserver", MPROC_START_METHOD_FORKSERVER, bench_scale (50, 5));
}

BENCH_REGISTER (process_start_fork, "process_start_fork")
BENCH_REGISTER (process_start_spawn, "process_start_spawn")
BENCH_REGISTER (process_start_forkserver, "process_start_forkserver")
