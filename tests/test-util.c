/* test-util.c: helpers that several tests share (test-util.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <dirent.h>

#include "test-util.h"

MprocManager *
test_start_manager (MprocStartMethod method)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  g_autoptr(MprocManager) manager = mproc_manager_new_with_context (context);
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (mproc_manager_get_address (manager));
  return g_steal_pointer (&manager);
}

void
test_stop_manager (MprocManager *manager)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_finalize_object (manager);
}

void
test_join_ok (MprocProcess *process,
              int           code)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_process_join (process, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_process_get_exit_code (process), ==, code);
}

guint
test_count_fds_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  DIR *dir = opendir (path);
  struct dirent *entry;
  guint n = 0;

  g_assert_nonnull (dir);
  while ((entry = readdir (dir)) != NULL)
    if (entry->d_name[0] != '.')
      n++;
  closedir (dir);
  return n;
}
