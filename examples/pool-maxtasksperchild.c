/* pool-maxtasksperchild.c: Pool.map with workers replaced after two tasks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The seed's §10 with maxtasksperchild=2: a worker exits after two tasks
 * and the pool starts a fresh one, whose initializer prints its name again.
 * With only 10 items nothing would be replaced, so this maps 40 items one
 * per task: at least 20 workers run, each at most 2 tasks.
 *
 * Choose the start method with MPROC_START_METHOD=fork|spawn|forkserver.
 */

#include <stdio.h>
#include <unistd.h>

#include <mproc.h>

#define N_ITEMS  40
#define MAXTASKS 2

/* Returns (x * 2, pid of the worker). */
static GVariant *
do_calculation (GVariant  *data,
                gpointer   user_data,
                GError   **error)
{
  return g_variant_new ("(xi)", g_variant_get_int64 (data) * 2, (gint32) getpid ());
}

static GVariant *
start_process (GVariant  *args,
               gpointer   user_data,
               GError   **error)
{
  printf ("Starting %s\n", mproc_process_get_name (mproc_current_process ()));
  return g_variant_new ("()");
}

int
main (int argc, char *argv[])
{
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) inputs = NULL;
  g_autoptr(GVariant) outputs = NULL;
  g_autoptr(GHashTable) per_pid = g_hash_table_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  gint64 values[N_ITEMS];
  guint max_per_pid = 0;
  GHashTableIter iter;
  gpointer count;

  mproc_register_task ("do_calculation", do_calculation, NULL, NULL);
  mproc_register_task ("start_process", start_process, NULL, NULL);
  mproc_init (&argc, &argv);

  setvbuf (stdout, NULL, _IOLBF, 0);

  printf ("Input   : [");
  for (gint64 i = 0; i < N_ITEMS; i++)
    {
      values[i] = i;
      printf ("%s%" G_GINT64_FORMAT, i > 0 ? ", " : "", i);
    }
  printf ("]\n");
  inputs = g_variant_ref_sink (g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, values, N_ITEMS,
                                                          sizeof (gint64)));

  pool = mproc_pool_new_full (NULL, mproc_cpu_count () * 2, "start_process", NULL, MAXTASKS, &error);
  if (pool == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  /* chunksize 1: each item is one task, as maxtasksperchild counts tasks */
  outputs = mproc_pool_map (pool, "do_calculation", inputs, 1, -1, NULL, &error);
  if (outputs == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  mproc_pool_close (pool);
  if (!mproc_pool_join (pool, -1, NULL, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }

  printf ("Pool    : [");
  for (gsize i = 0; i < g_variant_n_children (outputs); i++)
    {
      gint64 x;
      gint32 pid;

      g_variant_get_child (outputs, i, "(xi)", &x, &pid);
      printf ("%s%" G_GINT64_FORMAT, i > 0 ? ", " : "", x);
      count = g_hash_table_lookup (per_pid, GINT_TO_POINTER (pid));
      g_hash_table_insert (per_pid, GINT_TO_POINTER (pid), GUINT_TO_POINTER (GPOINTER_TO_UINT (count) + 1));
    }
  printf ("]\n");

  g_hash_table_iter_init (&iter, per_pid);
  while (g_hash_table_iter_next (&iter, NULL, &count))
    max_per_pid = MAX (max_per_pid, GPOINTER_TO_UINT (count));
  printf ("Tasks   : %d, maxtasksperchild %d\n", N_ITEMS, MAXTASKS);
  printf ("Workers : %u ran tasks, at most %u tasks each\n",
          g_hash_table_size (per_pid), max_per_pid);
  return 0;
}
