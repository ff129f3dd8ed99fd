/* test-pool-targets.h: the pool targets of test-pool-cancel, registered
 * alike by the test and by the helper program its workers may run
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <stdio.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <mproc.h>

/* Creates DIR/PID.WHAT, empty. */
static inline void
test_pool_mark (const char *dir,
                const char *what)
{
  g_autofree char *path = g_strdup_printf ("%s/%d.%s", dir, (int) getpid (), what);

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
}

/* (dir): marks DIR/PID.running, spins until its task is cancelled, marks
 * DIR/PID.cancelled and fails with CANCELLED. */
static inline GVariant *
test_pool_spin_until_cancelled (GVariant  *arg,
                                gpointer   user_data,
                                GError   **error)
{
  const char *dir = g_variant_get_string (arg, NULL);
  GCancellable *cancellable = mproc_pool_task_get_cancellable ();

  g_assert_nonnull (cancellable);
  test_pool_mark (dir, "running");
  while (!g_cancellable_is_cancelled (cancellable))
    ;
  test_pool_mark (dir, "cancelled");
  g_cancellable_set_error_if_cancelled (cancellable, error);
  return NULL;
}

/* (dir): marks DIR/PID.running and spins for ever, heedless. */
static inline GVariant *
test_pool_spin_forever (GVariant  *arg,
                        gpointer   user_data,
                        GError   **error)
{
  volatile guint64 n = 0;

  test_pool_mark (g_variant_get_string (arg, NULL), "running");
  for (;;)
    n++;
  return NULL;
}

/* (xi): sleeps i ms per item x, then returns x */
static inline GVariant *
test_pool_nap (GVariant  *arg,
               gpointer   user_data,
               GError   **error)
{
  gint64 x;
  gint32 ms;

  g_variant_get (arg, "(xi)", &x, &ms);
  g_usleep ((gulong) ms * 1000);
  return g_variant_new_int64 (x);
}

static inline GVariant *
test_pool_getpid (GVariant  *arg,
                  gpointer   user_data,
                  GError   **error)
{
  return g_variant_new_int32 (getpid ());
}

/* (t): allocates t bytes with g_malloc() and touches every page; returns
 * the pid. */
static inline GVariant *
test_pool_hog (GVariant  *arg,
               gpointer   user_data,
               GError   **error)
{
  guint64 size = g_variant_get_uint64 (arg);
  volatile guint8 *p = g_malloc (size);

  for (guint64 i = 0; i < size; i += 4096)
    p[i] = 1;
  g_free ((gpointer) p);
  return g_variant_new_int32 (getpid ());
}

/* Whether the program running is the helper (its name differs). */
static inline GVariant *
test_pool_whoami (GVariant  *arg,
                  gpointer   user_data,
                  GError   **error)
{
  return g_variant_new_string (g_get_prgname () != NULL ? g_get_prgname () : "");
}

static inline void
test_pool_register_targets (void)
{
  mproc_register_task ("spin-until-cancelled", test_pool_spin_until_cancelled, NULL, NULL);
  mproc_register_task ("spin-forever", test_pool_spin_forever, NULL, NULL);
  mproc_register_task ("nap", test_pool_nap, NULL, NULL);
  mproc_register_task ("getpid", test_pool_getpid, NULL, NULL);
  mproc_register_task ("hog", test_pool_hog, NULL, NULL);
  mproc_register_task ("whoami", test_pool_whoami, NULL, NULL);
}
