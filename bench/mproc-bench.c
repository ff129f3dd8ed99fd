/* mproc-bench.c: mproc-glib's side of the benchmarks (see bench.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   mproc-bench [--quick] [--only NAME]… [--reps N] [--pin] [--list]
 *
 * Same flags and output as ../shared/anchors/py_mp_bench.py: one JSON object
 * per metric on stdout, one line of run information on stderr.
 */

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <mproc.h>

#include "bench.h"

typedef struct
{
  const char *name;
  BenchFunc   func;
} Workload;

static GArray  *workloads;
static gboolean opt_quick;
static gboolean opt_pin;
static gboolean opt_list;
static int      opt_reps = 5;
static char   **opt_only;
static int     *pin_cpus;
static int      n_pin_cpus;

void
bench_register (const char *name,
                BenchFunc   func)
{
  Workload w = { name, func };

  if (workloads == NULL)
    workloads = g_array_new (FALSE, FALSE, sizeof (Workload));
  g_array_append_val (workloads, w);
}

guint64
bench_scale (guint64 n,
             guint64 minimum)
{
  return MAX (minimum, opt_quick ? n / 10 : n);
}

guint
bench_reps (void)
{
  return opt_reps;
}

gboolean
bench_pinned (void)
{
  return opt_pin;
}

void
bench_pin_child (guint k)
{
  cpu_set_t set;

  if (!opt_pin || n_pin_cpus == 0)
    return;
  CPU_ZERO (&set);
  CPU_SET (pin_cpus[(k + 1) % n_pin_cpus], &set);
  sched_setaffinity (0, sizeof set, &set);
}

double
bench_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (const double *samples,
        guint         n)
{
  g_autofree double *sorted = g_memdup2 (samples, n * sizeof (double));

  qsort (sorted, n, sizeof (double), compare_doubles);
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static void
print_number (GString *out,
              double   x)
{
  g_string_append_printf (out, "%.6g", x);
}

void
bench_emit (const char   *metric,
            const char   *unit,
            guint64       n,
            const double *samples,
            guint         n_samples)
{
  g_autoptr(GString) out = g_string_new (NULL);
  double lo = samples[0], hi = samples[0];

  for (guint i = 1; i < n_samples; i++)
    {
      lo = MIN (lo, samples[i]);
      hi = MAX (hi, samples[i]);
    }

  g_string_append_printf (out, "{\"metric\": \"%s\", \"value\": ", metric);
  print_number (out, median (samples, n_samples));
  g_string_append_printf (out, ", \"unit\": \"%s\", \"n\": %" G_GUINT64_FORMAT ", \"reps\": %u, \"min\": ",
                          unit, n, n_samples);
  print_number (out, lo);
  g_string_append (out, ", \"max\": ");
  print_number (out, hi);
  g_string_append (out, ", \"samples\": [");
  for (guint i = 0; i < n_samples; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      print_number (out, samples[i]);
    }
  g_string_append (out, "]}");
  puts (out->str);
  fflush (stdout);
}

struct _BenchGate
{
  guint parties;
  gint  ready;
  gint  go;
};

/* An anonymous shared mapping: the gate reaches children started with the
 * fork method (the anchors' workloads all use fork). */
BenchGate *
bench_gate_new (guint parties)
{
  BenchGate *gate = mmap (NULL, sizeof (BenchGate), PROT_READ | PROT_WRITE,
                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);

  g_assert (gate != MAP_FAILED);
  gate->parties = parties;
  return gate;
}

void
bench_gate_child_wait (BenchGate *gate)
{
  g_atomic_int_inc (&gate->ready);
  while (!g_atomic_int_get (&gate->go))
    ;
}

double
bench_gate_open (BenchGate *gate)
{
  double t0;

  while ((guint) g_atomic_int_get (&gate->ready) < gate->parties)
    sched_yield ();
  t0 = bench_now ();
  g_atomic_int_set (&gate->go, 1);
  return t0;
}

void
bench_gate_free (BenchGate *gate)
{
  munmap (gate, sizeof (BenchGate));
}

static gboolean
selected (const char *name)
{
  if (opt_only == NULL)
    return TRUE;
  for (guint i = 0; opt_only[i] != NULL; i++)
    if (g_str_has_prefix (name, opt_only[i]) ||
        (g_str_has_prefix (opt_only[i], "raw_") && g_str_has_prefix (name, opt_only[i] + 4)))
      return TRUE;
  return FALSE;
}

int
main (int   argc,
      char *argv[])
{
  GOptionEntry entries[] = {
    { "quick", 0, 0, G_OPTION_ARG_NONE, &opt_quick, "Divide every N by 10", NULL },
    { "only", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_only, "Run the metrics whose name starts with NAME", "NAME" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &opt_reps, "Timed repetitions per metric (default 5)", "N" },
    { "pin", 0, 0, G_OPTION_ARG_NONE, &opt_pin, "Pin the parent and each child to fixed CPUs", NULL },
    { "list", 0, 0, G_OPTION_ARG_NONE, &opt_list, "Print metric names and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  guint n_run = 0;

  /* A spawn or forkserver child of a workload runs its target here. */
  mproc_init (&argc, &argv);

  context = g_option_context_new ("- mproc-glib benchmarks");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  if (opt_list)
    {
      for (guint i = 0; workloads != NULL && i < workloads->len; i++)
        puts (g_array_index (workloads, Workload, i).name);
      return 0;
    }
  if (opt_reps < 1)
    {
      g_printerr ("--reps must be at least 1\n");
      return 2;
    }

  if (opt_pin)
    {
      cpu_set_t set;

      sched_getaffinity (0, sizeof set, &set);
      pin_cpus = g_new0 (int, CPU_SETSIZE);
      for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET (cpu, &set))
          pin_cpus[n_pin_cpus++] = cpu;
      CPU_ZERO (&set);
      CPU_SET (pin_cpus[0], &set);
      sched_setaffinity (0, sizeof set, &set);
    }

  g_printerr ("{\"mproc-glib\": \"%s\", \"glib\": \"%u.%u.%u\", \"cpus\": %u, \"quick\": %s, "
              "\"reps\": %d, \"pin\": %s}\n",
              MPROC_VERSION_S, glib_major_version, glib_minor_version, glib_micro_version,
              mproc_cpu_count (), opt_quick ? "true" : "false", opt_reps, opt_pin ? "true" : "false");

  for (guint i = 0; workloads != NULL && i < workloads->len; i++)
    {
      const Workload *w = &g_array_index (workloads, Workload, i);

      if (!selected (w->name))
        continue;
      w->func ();
      n_run++;
    }

  if (n_run == 0)
    {
      g_printerr ("no metric matches --only; see --list\n");
      return 2;
    }

  return 0;
}
