/* test-util.h: what every mproc-glib test checks after itself
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <dirent.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <mproc.h>

G_BEGIN_DECLS

/* The fork server is a child of the test process that lives across tests,
 * and the runtime keeps a few fds for the life of the process. */
#include "mproc-runtime-private.h"

/* --- test-util.c: what several tests share ------------------------------ */

/* A manager started with @method, and its address checked. */
MprocManager *test_start_manager (MprocStartMethod  method);
/* Shuts @manager down (no error) and checks it is then finalized. */
void          test_stop_manager  (MprocManager     *manager);
/* Joins @process within 30 s without error, with exit code @code. */
void          test_join_ok       (MprocProcess     *process,
                                  int               code);
/* Open fds of the process @pid (its /proc/PID/fd entries). */
guint         test_count_fds_of  (GPid              pid);

/* Threads of this process: an async call that must not start one is
 * checked by counting them before and after. */
static inline guint
test_count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Open fds of this process, as a sorted string "0 1 2 5 …". */
static inline char *
test_list_fds (void)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  GString *out = g_string_new (NULL);
  struct dirent *entry;
  DIR *dir;
  int self_fd;

  /* the spare the fork server forked after the last start: take it in hand */
  mproc_forkserver_sync_spare ();
  dir = opendir ("/proc/self/fd");
  self_fd = dirfd (dir);

  while ((entry = readdir (dir)) != NULL)
    {
      int fd = atoi (entry->d_name);

      if (entry->d_name[0] == '.' || fd == self_fd || mproc_runtime_is_own_fd (fd))
        continue;
      g_array_append_val (fds, fd);
    }
  closedir (dir);

  for (guint i = 0; i < fds->len; i++)
    for (guint j = i + 1; j < fds->len; j++)
      if (g_array_index (fds, int, j) < g_array_index (fds, int, i))
        {
          int tmp = g_array_index (fds, int, i);
          g_array_index (fds, int, i) = g_array_index (fds, int, j);
          g_array_index (fds, int, j) = tmp;
        }
  for (guint i = 0; i < fds->len; i++)
    g_string_append_printf (out, "%s%d", i ? " " : "", g_array_index (fds, int, i));

  return g_string_free (out, FALSE);
}

/* Children of this process other than the fork server. */
static inline guint
test_count_children (void)
{
  guint n = 0;
  DIR *dir = opendir ("/proc/self/task");
  struct dirent *entry;
  GPid spare = mproc_forkserver_sync_spare ();
  GPid server = mproc_forkserver_get_pid ();

  while ((entry = readdir (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autofree char *contents = NULL;
      g_auto(GStrv) pids = NULL;

      if (entry->d_name[0] == '.')
        continue;
      path = g_strdup_printf ("/proc/self/task/%s/children", entry->d_name);
      if (!g_file_get_contents (path, &contents, NULL, NULL))
        continue;
      pids = g_strsplit (g_strstrip (contents), " ", 0);
      for (guint i = 0; pids[i] != NULL; i++)
        if (pids[i][0] != '\0' && atoi (pids[i]) != server && atoi (pids[i]) != spare)
          n++;
    }
  closedir (dir);

  return n;
}

typedef struct
{
  char *fds;
} TestLeakCheck;

static void
test_warm_up_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
}

/* GLib creates some things once, on first use, and keeps them (the default
 * main context and its wake-up fd, GTask's class): create them before the
 * first leak check. */
static inline void
test_warm_up (void)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, test_warm_up_cb, NULL);
  gboolean done = FALSE;

  g_clear_object (&task);
  task = g_task_new (NULL, NULL, test_warm_up_cb, &done);
  g_task_return_boolean (task, TRUE);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static inline void
test_leak_check_begin (TestLeakCheck *check)
{
  check->fds = test_list_fds ();
}

/* Dispatches what is pending (::exited watches hold their process), then
 * asserts that no fd and no child process is left. */
static inline void
test_leak_check_end (TestLeakCheck *check)
{
  g_autofree char *after = NULL;

  while (g_main_context_iteration (NULL, FALSE))
    ;
  after = test_list_fds ();
  if (g_strcmp0 (after, check->fds) != 0)
    {
      g_autofree char *ls = g_strdup_printf ("ls -l /proc/%d/fd >&2", (int) getpid ());
      g_assert_true (system (ls) >= 0);
    }
  g_assert_cmpstr (after, ==, check->fds);
  g_assert_cmpuint (test_count_children (), ==, 0);
  g_free (check->fds);
}

/* The start methods, by index: a test added with test_add_method_test()
 * gets GINT_TO_POINTER (MprocStartMethod) as its data. */
static const char *test_method_names[] = { "fork", "spawn", "forkserver" };

/* Adds PREFIX/NAME/fork, …/spawn and …/forkserver. */
static inline void
test_add_method_test (const char    *prefix,
                      const char    *name,
                      GTestDataFunc  func)
{
  for (guint m = 0; m < G_N_ELEMENTS (test_method_names); m++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/%s", prefix, name, test_method_names[m]);

      g_test_add_data_func (path, GINT_TO_POINTER (m), func);
    }
}

/* mproc_init() (register targets first), g_test_init() and, in the test
 * process itself, the warm-up: GTask's class starts GLib's pool-spawner
 * thread, so from there on a test program is multi-threaded; take the
 * once-only fork warning here, where it is expected. */
static inline void
test_init (int    *argc,
           char ***argv)
{
  mproc_init (argc, argv);
  g_test_init (argc, argv, NULL);
  if (!g_test_subprocess ())
    {
      g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
      g_autoptr(MprocProcess) process = mproc_process_new_with_context (context, NULL, NULL);

      test_warm_up ();
      g_test_expect_message ("Mproc", G_LOG_LEVEL_WARNING, "*multi-threaded*");
      g_assert_true (mproc_process_start (process, NULL));
      g_test_assert_expected_messages ();
      g_assert_true (mproc_process_join (process, -1, NULL, NULL));
    }
}

/* CPU time (user + system) this thread has used, in microseconds: a wait
 * that sleeps uses next to none, a wait that wakes itself burns a CPU. */
static inline gint64
test_thread_cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* A GAsyncReadyCallback that keeps the result in a GAsyncResult *. */
static inline void
test_store_result (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static inline void
test_wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

G_END_DECLS
