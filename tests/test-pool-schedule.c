/* test-pool-schedule.c: MprocPool's scheduling: no task waits behind a
 * long one while a worker is free, and no task of a call that is over runs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>

#include "test-pool-targets.h"
#include "test-util.h"

/* (sibb): naps @ms ms, then fails if @fail, else creates DIR/INDEX.ran and
 * returns INDEX */
static GVariant *
mark_target (GVariant  *arg,
             gpointer   user_data,
             GError   **error)
{
  const char *dir;
  gint32 index, ms;
  gboolean fail;
  g_autofree char *path = NULL;

  g_variant_get (arg, "(&siib)", &dir, &index, &ms, &fail);
  g_usleep ((gulong) ms * 1000);
  if (fail)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "item %d fails", index);
      return NULL;
    }
  path = g_strdup_printf ("%s/%d.ran", dir, index);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  return g_variant_new_int32 (index);
}

static MprocPool *
new_pool (guint processes)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;
  MprocPool *pool = mproc_pool_new_full (context, processes, NULL, NULL, 0, &error);

  g_assert_no_error (error);
  return pool;
}

static void
close_and_join (MprocPool *pool)
{
  g_autoptr(GError) error = NULL;

  mproc_pool_close (pool);
  g_assert_true (mproc_pool_join (pool, 20 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
}

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-pool-schedule-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* Removes @dir; returns the indexes of the items that ran, as a bit set. */
static guint64
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint64 ran = 0;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_str_has_suffix (name, ".ran"))
        ran |= G_GUINT64_CONSTANT (1) << atoi (name);
      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  return ran;
}

/* Items of "mark": item 0 naps @long_ms, item 1 naps @second_ms and fails
 * if @second_fails, the others create their file at once. */
static GVariant *
mark_items (const char *dir,
            guint       n,
            gint32      long_ms,
            gint32      second_ms,
            gboolean    second_fails)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(siib)"));
  for (guint i = 0; i < n; i++)
    g_variant_builder_add (&builder, "(siib)", dir, (gint32) i,
                           i == 0 ? long_ms : i == 1 ? second_ms : 0, i == 1 && second_fails);
  return g_variant_builder_end (&builder);
}

static void
test_head_of_line (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) long_result = NULL;
  g_autoptr(GAsyncResult) map_result = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  GVariantBuilder builder;
  gint64 t0, map_usec, long_usec;
  const guint n = 200;

  g_test_summary ("With 2 workers, short tasks submitted after a long one all end long before "
                  "it: none waits queued behind it while the other worker is free");
  test_leak_check_begin (&check);
  pool = new_pool (2);

  t0 = g_get_monotonic_time ();
  mproc_pool_apply_async (pool, "nap", g_variant_new ("(xi)", (gint64) -1, 3000), -1, NULL,
                          test_store_result, &long_result);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xi)"));
  for (guint i = 0; i < n; i++)
    g_variant_builder_add (&builder, "(xi)", (gint64) i, 0);
  mproc_pool_map_async (pool, "nap", g_variant_builder_end (&builder), 1, -1, NULL,
                        NULL, NULL, NULL, test_store_result, &map_result);

  test_wait_result (&map_result);
  map_usec = g_get_monotonic_time () - t0;
  value = mproc_pool_map_finish (pool, map_result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (value), ==, n);
  for (guint i = 0; i < n; i++)
    {
      gint64 x;

      g_variant_get_child (value, i, "x", &x);
      g_assert_cmpint (x, ==, i);
    }
  g_assert_null (long_result);

  test_wait_result (&long_result);
  long_usec = g_get_monotonic_time () - t0;
  g_clear_pointer (&value, g_variant_unref);
  value = mproc_pool_apply_finish (pool, long_result, &error);
  g_assert_no_error (error);
  g_test_message ("%u short tasks done after %" G_GINT64_FORMAT " ms, the long one after %"
                  G_GINT64_FORMAT " ms", n, map_usec / 1000, long_usec / 1000);
  g_assert_cmpint (long_usec, >=, 3 * G_USEC_PER_SEC);
  g_assert_cmpint (map_usec, <, 1500 * 1000);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

/* A map of "mark" items, one per chunk, on 2 workers: item 0 (long) goes
 * to the first worker, item 1 (napping @second_ms) to the second, item 2
 * is queued behind item 0, item 3 behind item 1, the rest wait in the
 * pool.  @cancel_after_ms >= 0: cancel the map then.  Returns the items
 * that ran. */
static guint64
run_call_that_ends_early (gint32    second_ms,
                          gboolean  second_fails,
                          int       cancel_after_ms,
                          GError  **map_error)
{
  g_autoptr(MprocPool) pool = new_pool (2);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) map_result = NULL;
  g_autofree char *dir = make_dir ();
  gint64 t0 = g_get_monotonic_time ();

  mproc_pool_map_async (pool, "mark", mark_items (dir, 12, 1500, second_ms, second_fails), 1, -1,
                        cancellable, NULL, NULL, NULL, test_store_result, &map_result);
  if (cancel_after_ms >= 0)
    {
      gint64 at = t0 + cancel_after_ms * 1000;

      while (g_get_monotonic_time () < at)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
        }
      g_cancellable_cancel (cancellable);
    }
  test_wait_result (&map_result);
  g_assert_null (mproc_pool_map_finish (pool, map_result, map_error));
  /* the call ended long before its long task */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 1200 * 1000);

  /* the workers go through what they were sent before they stop */
  close_and_join (pool);
  return remove_dir (dir);
}

static void
test_failed_call_dropped (void)
{
  TestLeakCheck check;
  g_autoptr(GError) error = NULL;
  guint64 ran;

  g_test_summary ("Once a map has failed, its tasks that a worker had queued behind a long "
                  "task never run");
  test_leak_check_begin (&check);
  ran = run_call_that_ends_early (300, TRUE, -1, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_test_message ("items that ran: %#" G_GINT64_MODIFIER "x", ran);
  /* item 0 runs to its end; item 2 was queued behind it, items 4… in the
   * pool; item 3 may have begun as item 1 failed */
  g_assert_cmpuint (ran & ~G_GUINT64_CONSTANT (0x9), ==, 0);
  test_leak_check_end (&check);
}

static void
test_cancelled_call_dropped (void)
{
  TestLeakCheck check;
  g_autoptr(GError) error = NULL;
  guint64 ran;

  g_test_summary ("The tasks of a cancelled map never run, wherever they were queued");
  test_leak_check_begin (&check);
  ran = run_call_that_ends_early (300, FALSE, 100, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_test_message ("items that ran: %#" G_GINT64_MODIFIER "x", ran);
  /* items 0 and 1 were running (and not stopped by a target that ignores
   * its cancellable, unless killed); the others were queued */
  g_assert_cmpuint (ran & ~G_GUINT64_CONSTANT (0x3), ==, 0);
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  test_pool_register_targets ();
  mproc_register_task ("mark", mark_target, NULL, NULL);
  test_init (&argc, &argv);

  g_test_add_func ("/mproc/pool/schedule/head-of-line", test_head_of_line);
  g_test_add_func ("/mproc/pool/schedule/failed-call-dropped", test_failed_call_dropped);
  g_test_add_func ("/mproc/pool/schedule/cancelled-call-dropped", test_cancelled_call_dropped);

  return g_test_run ();
}
