/* pool.c: Pool.map against the built-in map (the seed's §10)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Python:
 *
 *   def do_calculation(data):
 *       return data * 2
 *
 *   def start_process():
 *       print('Starting', multiprocessing.current_process().name)
 *
 *   inputs = list(range(10))
 *   print('Input   :', inputs)
 *   builtin_outputs = map(do_calculation, inputs)
 *   print('Built-in:', builtin_outputs)
 *   pool = multiprocessing.Pool(processes=cpu_count() * 2,
 *                               initializer=start_process)
 *   pool_outputs = pool.map(do_calculation, inputs)
 *   pool.close()
 *   pool.join()
 *   print('Pool    :', pool_outputs)
 *
 * Choose the start method with MPROC_START_METHOD=fork|spawn|forkserver.
 *
 * With MPROC_POOL_URI set (redis://host:6379/0, unix:/path…), the tasks go
 * to the pool "pool-example" on that Redis server instead, served by
 * workers on any host: mproc-worker with examples/pool-worker's module
 * ("Work on many machines" in the guide).  Those workers are started on
 * their own, so no "Starting" line is printed here.
 */

#include <stdio.h>

#include <mproc.h>

static GVariant *
do_calculation (GVariant  *data,
                gpointer   user_data,
                GError   **error)
{
  return g_variant_new_int64 (g_variant_get_int64 (data) * 2);
}

static GVariant *
start_process (GVariant  *args,
               gpointer   user_data,
               GError   **error)
{
  printf ("Starting %s\n", mproc_process_get_name (mproc_current_process ()));
  return g_variant_new ("()");
}

static void
print_list (const char *label,
            GVariant   *list)
{
  gsize n = g_variant_n_children (list);

  printf ("%s[", label);
  for (gsize i = 0; i < n; i++)
    {
      gint64 x;

      g_variant_get_child (list, i, "x", &x);
      printf ("%s%" G_GINT64_FORMAT, i > 0 ? ", " : "", x);
    }
  printf ("]\n");
}

int
main (int argc, char *argv[])
{
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) inputs = NULL;
  g_autoptr(GVariant) builtin_outputs = NULL;
  g_autoptr(GVariant) pool_outputs = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;

  /* Before mproc_init(): spawned and forkserver workers run main() again
   * up to there and must know the targets too. */
  mproc_register_task ("do_calculation", do_calculation, NULL, NULL);
  mproc_register_task ("start_process", start_process, NULL, NULL);
  mproc_init (&argc, &argv);

  setvbuf (stdout, NULL, _IOLBF, 0);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("ax"));
  for (gint64 i = 0; i < 10; i++)
    g_variant_builder_add (&builder, "x", i);
  inputs = g_variant_ref_sink (g_variant_builder_end (&builder));
  print_list ("Input   : ", inputs);

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("ax"));
  for (gsize i = 0; i < g_variant_n_children (inputs); i++)
    {
      g_autoptr(GVariant) item = g_variant_get_child_value (inputs, i);
      g_autoptr(GVariant) out = g_variant_ref_sink (do_calculation (item, NULL, NULL));

      g_variant_builder_add_value (&builder, out);
    }
  builtin_outputs = g_variant_ref_sink (g_variant_builder_end (&builder));
  print_list ("Built-in: ", builtin_outputs);

  if (g_getenv ("MPROC_POOL_URI") != NULL)
    pool = mproc_pool_new_for_uri (g_getenv ("MPROC_POOL_URI"), "pool-example", NULL, &error);
  else
    pool = mproc_pool_new_full (NULL, mproc_cpu_count () * 2, "start_process", NULL, 0, &error);
  if (pool == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  pool_outputs = mproc_pool_map (pool, "do_calculation", inputs, 0, -1, NULL, &error);
  if (pool_outputs == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  mproc_pool_close (pool);       /* no more tasks */
  if (!mproc_pool_join (pool, -1, NULL, &error))   /* wrap up current tasks */
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }

  print_list ("Pool    : ", pool_outputs);
  return 0;
}
