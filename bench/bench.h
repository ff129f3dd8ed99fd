/* bench.h: the benchmark harness of mproc-glib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every workload reproduces the one of the same name in
 * ../shared/anchors/py_mp_bench.py (same N, same message contents, same
 * start and stop of the clock); read the comment above it there. A workload
 * file registers itself:
 *
 *   static void queue_small_int (void) { ... bench_emit (...); }
 *   BENCH_REGISTER (queue_small_int, "queue_small_int")
 *
 * and reports, through bench_emit(), one sample per timed repetition
 * (bench_reps() of them, after one untimed warm-up repetition), in the unit
 * the anchors use. The harness prints one JSON line per metric, in the
 * anchors' format, so bench/run can put the three side by side.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*BenchFunc) (void);

void     bench_register    (const char *name,
                            BenchFunc   func);

#define BENCH_REGISTER(func, name) \
  static void __attribute__((constructor)) bench_register_##func (void) \
  { bench_register (name, func); }

/* --quick divides every N by 10 (use bench_scale (n, minimum)). */
guint64  bench_scale       (guint64     n,
                            guint64     minimum);
guint    bench_reps        (void);
/* --pin: the parent on CPU 0 (done by the harness), child k on (k+1) % ncpus. */
gboolean bench_pinned      (void);
void     bench_pin_child   (guint       k);
/* CLOCK_MONOTONIC in seconds, comparable between processes. */
double   bench_now         (void);
/* Reports @n_samples samples (the value is their median). */
void     bench_emit        (const char   *metric,
                            const char   *unit,
                            guint64       n,
                            const double *samples,
                            guint         n_samples);

/* A start gate in shared memory: children announce themselves and
 * busy-wait; the parent reads t0 just before opening it (anchors' rule). */
typedef struct _BenchGate BenchGate;
BenchGate *bench_gate_new        (guint      parties);
void       bench_gate_child_wait (BenchGate *gate);
double     bench_gate_open       (BenchGate *gate);   /* waits for the parties, returns t0 */
void       bench_gate_free       (BenchGate *gate);

G_END_DECLS
