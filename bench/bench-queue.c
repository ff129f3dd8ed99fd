/* bench-queue.c: queue_*, simplequeue_*, pipe_rtt_64, pipe_rtt_64_obj
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * As py_mp_bench.py (fork start method, a new queue/pipe and child per
 * repetition, one untimed warm-up repetition):
 *
 * queue_small_{int,bytes64}, queue_large_1mib, simplequeue_small_*: one
 * producer child puts n messages after the start gate ("int": int64 i for
 * i < n; "bytes64": the same 64-byte "ay" each time; "1mib": the same
 * 1048576-byte "ay" of 0x5a each time); the parent, timed from t0 of the
 * gate to the return of its n-th get, checks each message (int: equals i,
 * in order; bytes: its length). Unbounded queue (maxsize 0, default
 * capacity). n = 200000 (large: 2000); msg/s (large: MB/s of payload).
 *
 * queue_small_int_typed: queue_small_int with mproc_queue_put_int64() and
 * mproc_queue_get_int64(), which write and read the same messages without
 * a GVariant (what a C program moving numbers would use); compared with
 * Python's queue_small_int.
 *
 * pipe_rtt_64, pipe_rtt_64_obj: a duplex pipe; a child echoes every
 * message; the parent sends the 64-byte message and waits for the echo:
 * 100 untimed round trips, then n = 50000 timed; µs per round trip.
 * pipe_rtt_64 uses send_bytes/recv_bytes, _obj send/recv of an "ay" value.
 */

#include <string.h>

#include <mproc.h>

#include "bench.h"

#define WARMUP 100
#define MIB    (1 << 20)

typedef enum { KIND_INT, KIND_BYTES64, KIND_1MIB, KIND_INT_TYPED } Kind;

static BenchGate *current_gate;   /* inherited by the fork()ed child */
static guint8 bytes64[64];

static GVariant *
make_payload (Kind kind)
{
  gsize size = kind == KIND_BYTES64 ? 64 : MIB;
  guint8 *data = g_malloc (size);

  if (kind == KIND_BYTES64)
    memcpy (data, bytes64, 64);
  else
    memset (data, 0x5a, size);
  return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, size, TRUE, g_free, data));
}

static int
queue_producer (MprocProcess *process,
                GVariant     *args,
                gpointer      user_data)
{
  GObject *queue = mproc_process_get_object (process, 0);
  guint64 n;
  guint32 kind;
  g_autoptr(GVariant) payload = NULL;

  g_variant_get (args, "(tu)", &n, &kind);
  if (kind == KIND_BYTES64 || kind == KIND_1MIB)
    payload = make_payload (kind);
  bench_gate_child_wait (current_gate);
  if (kind == KIND_INT_TYPED)
    {
      for (guint64 i = 0; i < n; i++)
        if (!mproc_queue_put_int64 (MPROC_QUEUE (queue), i, -1, NULL, NULL))
          return 1;
      return 0;
    }
  for (guint64 i = 0; i < n; i++)
    {
      GVariant *v = kind == KIND_INT ? g_variant_new_int64 (i) : payload;
      gboolean ok = MPROC_IS_QUEUE (queue)
                    ? mproc_queue_put (MPROC_QUEUE (queue), v, -1, NULL, NULL)
                    : mproc_simple_queue_put (MPROC_SIMPLE_QUEUE (queue), v, NULL, NULL);

      if (!ok)
        return 1;
    }
  return 0;
}

static int
pipe_echo (MprocProcess *process,
           GVariant     *args,
           gpointer      user_data)
{
  MprocConnection *conn = MPROC_CONNECTION (mproc_process_get_object (process, 0));
  guint64 total;
  gboolean obj;

  g_variant_get (args, "(tb)", &total, &obj);
  for (guint64 i = 0; i < total; i++)
    {
      if (obj)
        {
          g_autoptr(GVariant) v = mproc_connection_recv (conn, NULL, NULL);

          if (v == NULL || !mproc_connection_send (conn, v, NULL, NULL))
            return 1;
        }
      else
        {
          g_autoptr(GBytes) b = mproc_connection_recv_bytes (conn, NULL, NULL);

          if (b == NULL || !mproc_connection_send_bytes (conn, b, 0, -1, NULL, NULL))
            return 1;
        }
    }
  return 0;
}

static void __attribute__((constructor))
register_targets (void)
{
  for (guint i = 0; i < 64; i++)
    bytes64[i] = (guint8) i;
  mproc_register_target ("bench-queue-producer", queue_producer, NULL, NULL);
  mproc_register_target ("bench-pipe-echo", pipe_echo, NULL, NULL);
}

static void
check_exit (MprocProcess *process)
{
  g_autoptr(GError) error = NULL;

  if (!mproc_process_join (process, -1, NULL, &error))
    g_error ("%s", error->message);
  if (mproc_process_get_exit_code (process) != 0)
    g_error ("child exited with %d", mproc_process_get_exit_code (process));
}

static double
queue_once (gboolean simple,
            Kind     kind,
            guint64  n)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocProcess) process = NULL;
  g_autoptr(GObject) queue = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = kind == KIND_BYTES64 ? 64 : MIB;
  double t0, dt;

  queue = simple ? G_OBJECT (mproc_simple_queue_new (&error)) : G_OBJECT (mproc_queue_new (0, &error));
  if (queue == NULL)
    g_error ("%s", error->message);
  current_gate = bench_gate_new (1);
  process = mproc_process_new_with_context (context, "bench-queue-producer",
                                            g_variant_new ("(tu)", n, (guint32) kind));
  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  if (!mproc_process_start (process, &error))
    g_error ("%s", error->message);
  bench_pin_child (0);

  t0 = bench_gate_open (current_gate);
  for (guint64 i = 0; kind == KIND_INT_TYPED && i < n; i++)
    {
      gint64 got;

      if (!mproc_queue_get_int64 (MPROC_QUEUE (queue), &got, -1, NULL, &error))
        g_error ("%s", error->message);
      if (got != (gint64) i)
        g_error ("queue: int out of order");
    }
  for (guint64 i = 0; kind != KIND_INT_TYPED && i < n; i++)
    {
      g_autoptr(GVariant) v = simple ? mproc_simple_queue_get (MPROC_SIMPLE_QUEUE (queue), NULL, &error)
                                     : mproc_queue_get (MPROC_QUEUE (queue), -1, NULL, &error);

      if (v == NULL)
        g_error ("%s", error->message);
      if (kind == KIND_INT)
        {
          if (g_variant_get_int64 (v) != (gint64) i)
            g_error ("queue: int out of order");
        }
      else if (g_variant_get_size (v) != size)
        g_error ("queue: wrong message length");
    }
  dt = bench_now () - t0;
  check_exit (process);
  bench_gate_free (current_gate);
  current_gate = NULL;
  return dt;
}

static void
queue_metric (const char *metric,
              gboolean    simple,
              Kind        kind,
              guint64     n)
{
  g_autofree double *samples = g_new0 (double, bench_reps ());

  queue_once (simple, kind, n);
  for (guint r = 0; r < bench_reps (); r++)
    {
      double dt = queue_once (simple, kind, n);

      samples[r] = kind == KIND_1MIB ? n * (double) MIB / dt / 1e6 : n / dt;
    }
  bench_emit (metric, kind == KIND_1MIB ? "MB/s" : "msg/s", n, samples, bench_reps ());
}

static void
queue_small_int (void)
{
  queue_metric ("queue_small_int", FALSE, KIND_INT, bench_scale (200000, 1000));
}

static void
queue_small_int_typed (void)
{
  queue_metric ("queue_small_int_typed", FALSE, KIND_INT_TYPED, bench_scale (200000, 1000));
}

static void
queue_small_bytes64 (void)
{
  queue_metric ("queue_small_bytes64", FALSE, KIND_BYTES64, bench_scale (200000, 1000));
}

static void
queue_large_1mib (void)
{
  queue_metric ("queue_large_1mib", FALSE, KIND_1MIB, bench_scale (2000, 20));
}

static void
simplequeue_small_int (void)
{
  queue_metric ("simplequeue_small_int", TRUE, KIND_INT, bench_scale (200000, 1000));
}

static void
simplequeue_small_bytes64 (void)
{
  queue_metric ("simplequeue_small_bytes64", TRUE, KIND_BYTES64, bench_scale (200000, 1000));
}

static double
pipe_once (gboolean obj,
           guint64  n)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocConnection) a = NULL;
  g_autoptr(MprocConnection) b = NULL;
  g_autoptr(MprocProcess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = g_bytes_new_static (bytes64, 64);
  g_autoptr(GVariant) value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, message, TRUE));
  gsize last_size = 0;
  double t0 = 0, dt;

  if (!mproc_pipe_new (TRUE, &a, &b, &error))
    g_error ("%s", error->message);
  process = mproc_process_new_with_context (context, "bench-pipe-echo",
                                            g_variant_new ("(tb)", (guint64) (WARMUP + n), obj));
  mproc_process_add_object (process, MPROC_SHAREABLE (b));
  if (!mproc_process_start (process, &error))
    g_error ("%s", error->message);
  bench_pin_child (0);
  mproc_connection_close (b);

  for (guint64 i = 0; i < WARMUP + n; i++)
    {
      if (i == WARMUP)
        t0 = bench_now ();
      if (obj)
        {
          g_autoptr(GVariant) echo = NULL;

          if (!mproc_connection_send (a, value, NULL, &error) ||
              (echo = mproc_connection_recv (a, NULL, &error)) == NULL)
            g_error ("%s", error->message);
          last_size = g_variant_get_size (echo);
        }
      else
        {
          g_autoptr(GBytes) echo = NULL;

          if (!mproc_connection_send_bytes (a, message, 0, -1, NULL, &error) ||
              (echo = mproc_connection_recv_bytes (a, NULL, &error)) == NULL)
            g_error ("%s", error->message);
          last_size = g_bytes_get_size (echo);
        }
    }
  dt = bench_now () - t0;
  if (last_size != 64)
    g_error ("pipe: wrong echo");
  check_exit (process);
  return dt / n * 1e6;
}

static void
pipe_metric (const char *metric,
             gboolean    obj)
{
  guint64 n = bench_scale (50000, 500);
  g_autofree double *samples = g_new0 (double, bench_reps ());

  pipe_once (obj, n);
  for (guint r = 0; r < bench_reps (); r++)
    samples[r] = pipe_once (obj, n);
  bench_emit (metric, "us", n, samples, bench_reps ());
}

static void
pipe_rtt_64 (void)
{
  pipe_metric ("pipe_rtt_64", FALSE);
}

static void
pipe_rtt_64_obj (void)
{
  pipe_metric ("pipe_rtt_64_obj", TRUE);
}

BENCH_REGISTER (queue_small_int, "queue_small_int")
BENCH_REGISTER (queue_small_int_typed, "queue_small_int_typed")
BENCH_REGISTER (queue_small_bytes64, "queue_small_bytes64")
BENCH_REGISTER (queue_large_1mib, "queue_large_1mib")
BENCH_REGISTER (simplequeue_small_int, "simplequeue_small_int")
BENCH_REGISTER (simplequeue_small_bytes64, "simplequeue_small_bytes64")
BENCH_REGISTER (pipe_rtt_64, "pipe_rtt_64")
BENCH_REGISTER (pipe_rtt_64_obj, "pipe_rtt_64_obj")
