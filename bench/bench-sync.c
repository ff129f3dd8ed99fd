/* bench-sync.c: lock_uncontended, lock_contended, event_pingpong,
 * condition_pingpong
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As py_mp_bench.py (fork start method, one untimed warm-up repetition):
 *
 * lock_uncontended: one process, one MprocLock (the same for every
 * repetition): n = 1000000 × { acquire; release }, ns per pair.
 *
 * lock_contended: two children share one MprocLock and one counter
 * MprocValue INT32 without lock; after the start gate each does
 * n = 200000 × { acquire; counter = counter + 1 (plain load and store);
 * release } and stamps its end time. Elapsed = latest end - t0; ops/s =
 * 2n / elapsed; the counter must be exactly 2n.
 *
 * event_pingpong: two MprocEvents, ping and pong, parent and one child;
 * parent: ping.set; pong.wait; pong.clear; child: ping.wait; ping.clear;
 * pong.set. 100 untimed round trips, then n = 20000 timed; µs per round
 * trip.
 *
 * condition_pingpong: one MprocCondition (its own RLock, as Python's
 * default) and a shared turn (MprocValue INT32 without lock); parent: with
 * cond: turn = 1; notify; while turn != 0: wait; child: with cond: while
 * turn != 1: wait; turn = 0; notify. 100 untimed, n = 10000 timed; µs per
 * round trip.
 */

#include <stdarg.h>

#include <mproc.h>

#include "bench.h"

#define WARMUP 100

static BenchGate *current_gate;   /* inherited by the fork()ed children */

static void
check_exit (MprocProcess *process)
{
  g_autoptr(GError) error = NULL;

  if (!mproc_process_join (process, -1, NULL, &error))
    g_error ("%s", error->message);
  if (mproc_process_get_exit_code (process) != 0)
    g_error ("child exited with %d", mproc_process_get_exit_code (process));
}

static MprocProcess *
start_child (const char *target,
             GVariant   *args,
             ...)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;
  MprocProcess *process = mproc_process_new_with_context (context, target, args);
  va_list ap;
  gpointer object;

  va_start (ap, args);
  while ((object = va_arg (ap, gpointer)) != NULL)
    mproc_process_add_object (process, MPROC_SHAREABLE (object));
  va_end (ap);
  if (!mproc_process_start (process, &error))
    g_error ("%s", error->message);
  return process;
}

/* --- lock_uncontended -------------------------------------------------- */

static void
lock_uncontended (void)
{
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);
  guint64 n = bench_scale (1000000, 1000);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new (double, reps);

  for (guint r = 0; r <= reps; r++)
    {
      double t0 = bench_now ();

      for (guint64 i = 0; i < n; i++)
        {
          mproc_lock_acquire (lock, -1, NULL, NULL);
          mproc_lock_release (lock, NULL);
        }
      if (r > 0)
        samples[r - 1] = (bench_now () - t0) / n * 1e9;
    }
  bench_emit ("lock_uncontended", "ns", n, samples, reps);
}

/* --- lock_contended ---------------------------------------------------- */

/* objects: lock, counter, end; args: (t index, n) */
static int
lock_worker (MprocProcess *process,
             GVariant     *args,
             gpointer      user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  MprocValue *counter = mproc_process_get_object (process, 1);
  MprocValue *end = mproc_process_get_object (process, 2);
  guint32 index;
  guint64 n;

  g_variant_get (args, "(ut)", &index, &n);
  bench_pin_child (index);
  bench_gate_child_wait (current_gate);
  for (guint64 i = 0; i < n; i++)
    {
      mproc_lock_acquire (lock, -1, NULL, NULL);
      mproc_value_set_int (counter, mproc_value_get_int (counter) + 1);
      mproc_lock_release (lock, NULL);
    }
  mproc_value_set_double (end, bench_now ());
  return 0;
}

static double
lock_contended_once (guint64 n)
{
  g_autoptr(MprocLock) lock = mproc_lock_new (NULL);
  g_autoptr(MprocValue) counter = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  MprocValue *ends[2];
  MprocProcess *procs[2];
  double t0, last = 0;

  current_gate = bench_gate_new (2);
  for (guint i = 0; i < 2; i++)
    {
      ends[i] = mproc_value_new (MPROC_VALUE_TYPE_DOUBLE, FALSE, NULL);
      procs[i] = start_child ("bench-lock-worker", g_variant_new ("(ut)", i, n),
                              lock, counter, ends[i], NULL);
    }
  t0 = bench_gate_open (current_gate);
  for (guint i = 0; i < 2; i++)
    {
      check_exit (procs[i]);
      last = MAX (last, mproc_value_get_double (ends[i]));
      g_object_unref (procs[i]);
      g_object_unref (ends[i]);
    }
  if (mproc_value_get_int (counter) != (gint64) (2 * n))
    g_error ("lock_contended: counter %" G_GINT64_FORMAT " != %" G_GUINT64_FORMAT,
             mproc_value_get_int (counter), 2 * n);
  bench_gate_free (current_gate);
  current_gate = NULL;
  return 2 * n / (last - t0);
}

static void
lock_contended (void)
{
  guint64 n = bench_scale (200000, 1000);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new (double, reps);

  for (guint r = 0; r <= reps; r++)
    {
      double v = lock_contended_once (n);

      if (r > 0)
        samples[r - 1] = v;
    }
  bench_emit ("lock_contended", "ops/s", 2 * n, samples, reps);
}

/* --- event_pingpong ---------------------------------------------------- */

/* objects: ping, pong; args: t total round trips */
static int
event_ponger (MprocProcess *process,
              GVariant     *args,
              gpointer      user_data)
{
  MprocEvent *ping = mproc_process_get_object (process, 0);
  MprocEvent *pong = mproc_process_get_object (process, 1);
  guint64 total = g_variant_get_uint64 (args);

  bench_pin_child (0);
  for (guint64 i = 0; i < total; i++)
    {
      mproc_event_wait (ping, -1, NULL, NULL);
      mproc_event_clear (ping);
      mproc_event_set (pong);
    }
  return 0;
}

static inline void
event_ping (MprocEvent *ping,
            MprocEvent *pong)
{
  mproc_event_set (ping);
  mproc_event_wait (pong, -1, NULL, NULL);
  mproc_event_clear (pong);
}

static void
event_pingpong (void)
{
  guint64 n = bench_scale (20000, 100);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new (double, reps);

  for (guint r = 0; r <= reps; r++)
    {
      g_autoptr(MprocEvent) ping = mproc_event_new (NULL);
      g_autoptr(MprocEvent) pong = mproc_event_new (NULL);
      g_autoptr(MprocProcess) process = NULL;
      double t0, dt;

      process = start_child ("bench-event-ponger", g_variant_new_uint64 (WARMUP + n), ping, pong, NULL);
      for (guint i = 0; i < WARMUP; i++)
        event_ping (ping, pong);
      t0 = bench_now ();
      for (guint64 i = 0; i < n; i++)
        event_ping (ping, pong);
      dt = bench_now () - t0;
      check_exit (process);
      if (r > 0)
        samples[r - 1] = dt / n * 1e6;
    }
  bench_emit ("event_pingpong", "us", n, samples, reps);
}

/* --- condition_pingpong ------------------------------------------------ */

/* objects: cond, turn; args: t total round trips */
static int
condition_ponger (MprocProcess *process,
                  GVariant     *args,
                  gpointer      user_data)
{
  MprocCondition *cond = mproc_process_get_object (process, 0);
  MprocValue *turn = mproc_process_get_object (process, 1);
  guint64 total = g_variant_get_uint64 (args);

  bench_pin_child (0);
  for (guint64 i = 0; i < total; i++)
    {
      mproc_condition_acquire (cond, -1, NULL, NULL);
      while (mproc_value_get_int (turn) != 1)
        mproc_condition_wait (cond, -1, NULL, NULL);
      mproc_value_set_int (turn, 0);
      mproc_condition_notify (cond, 1, NULL);
      mproc_condition_release (cond, NULL);
    }
  return 0;
}

static inline void
condition_ping (MprocCondition *cond,
                MprocValue     *turn)
{
  mproc_condition_acquire (cond, -1, NULL, NULL);
  mproc_value_set_int (turn, 1);
  mproc_condition_notify (cond, 1, NULL);
  while (mproc_value_get_int (turn) != 0)
    mproc_condition_wait (cond, -1, NULL, NULL);
  mproc_condition_release (cond, NULL);
}

static void
condition_pingpong (void)
{
  guint64 n = bench_scale (10000, 100);
  guint reps = bench_reps ();
  g_autofree double *samples = g_new (double, reps);

  for (guint r = 0; r <= reps; r++)
    {
      g_autoptr(MprocCondition) cond = mproc_condition_new (NULL, NULL);
      g_autoptr(MprocValue) turn = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
      g_autoptr(MprocProcess) process = NULL;
      double t0, dt;

      process = start_child ("bench-condition-ponger", g_variant_new_uint64 (WARMUP + n), cond, turn, NULL);
      for (guint i = 0; i < WARMUP; i++)
        condition_ping (cond, turn);
      t0 = bench_now ();
      for (guint64 i = 0; i < n; i++)
        condition_ping (cond, turn);
      dt = bench_now () - t0;
      check_exit (process);
      if (r > 0)
        samples[r - 1] = dt / n * 1e6;
    }
  bench_emit ("condition_pingpong", "us", n, samples, reps);
}

static void __attribute__((constructor))
register_targets (void)
{
  mproc_register_target ("bench-lock-worker", lock_worker, NULL, NULL);
  mproc_register_target ("bench-event-ponger", event_ponger, NULL, NULL);
  mproc_register_target ("bench-condition-ponger", condition_ponger, NULL, NULL);
}

BENCH_REGISTER (lock_uncontended, "lock_uncontended")
BENCH_REGISTER (lock_contended, "lock_contended")
BENCH_REGISTER (event_pingpong, "event_pingpong")
BENCH_REGISTER (condition_pingpong, "condition_pingpong")
