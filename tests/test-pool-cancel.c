/* test-pool-cancel.c: MprocPool cancelling running work, worker priority,
 * memory limit and helper executable, and starting without blocking
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gobject/gvaluecollector.h>

#include "test-pool-targets.h"
#include "test-util.h"

/* --- Helpers ------------------------------------------------------------- */

static MprocPool *
new_pool (MprocStartMethod method,
          guint            processes,
          const char      *first_property,
          ...)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  g_autoptr(GError) error = NULL;
  GObject *pool;
  va_list args;

  pool = g_initable_new (MPROC_TYPE_POOL, NULL, &error, "context", context,
                         "processes", processes, NULL);
  g_assert_no_error (error);
  if (first_property != NULL)
    {
      va_start (args, first_property);
      g_object_set_valist (pool, first_property, args);
      va_end (args);
    }
  return MPROC_POOL (pool);
}

/* A pool with construct-only properties: NAME, VALUE, …, NULL. */
static MprocPool *
new_pool_with (MprocStartMethod   method,
               guint              processes,
               GError           **error,
               const char        *first_property,
               ...)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  GObject *pool;
  va_list args;
  const char *names[8];
  GValue values[8] = { G_VALUE_INIT, };
  guint n = 0;
  const char *name = first_property;

  names[n] = "context";
  g_value_init (&values[n], MPROC_TYPE_CONTEXT);
  g_value_set_object (&values[n++], context);
  names[n] = "processes";
  g_value_init (&values[n], G_TYPE_UINT);
  g_value_set_uint (&values[n++], processes);

  va_start (args, first_property);
  while (name != NULL)
    {
      GParamSpec *pspec = g_object_class_find_property (g_type_class_peek (MPROC_TYPE_POOL), name);
      g_autofree char *err = NULL;

      g_assert_nonnull (pspec);
      g_assert_cmpuint (n, <, G_N_ELEMENTS (names));
      names[n] = name;
      G_VALUE_COLLECT_INIT (&values[n], pspec->value_type, args, 0, &err);
      g_assert_null (err);
      n++;
      name = va_arg (args, const char *);
    }
  va_end (args);

  pool = g_object_new_with_properties (MPROC_TYPE_POOL, n, names, values);
  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);
  if (!g_initable_init (G_INITABLE (pool), NULL, error))
    {
      g_object_unref (pool);
      return NULL;
    }
  return MPROC_POOL (pool);
}

static void
close_and_join (MprocPool *pool)
{
  g_autoptr(GError) error = NULL;

  mproc_pool_close (pool);
  g_assert_true (mproc_pool_join (pool, 10 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
}

/* Files in @dir whose name ends with ".@suffix"; their pids in @pids. */
static guint
count_marks (const char *dir,
             const char *suffix,
             GArray     *pids)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autofree char *end = g_strconcat (".", suffix, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  if (pids != NULL)
    g_array_set_size (pids, 0);
  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, end))
      {
        int pid = atoi (name);

        n++;
        if (pids != NULL)
          g_array_append_val (pids, pid);
      }
  return n;
}

/* Iterates the main context until @n marks exist; fails after 10 s. */
static void
wait_marks (const char *dir,
            const char *suffix,
            guint       n,
            GArray     *pids)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (count_marks (dir, suffix, pids) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-pool-cancel-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_assert_cmpint (g_unlink (path), ==, 0);
    }
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Field @field (1-based) of /proc/@pid/stat, as a number. */
static gint64
proc_stat_field (int   pid,
                 guint field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  const char *p;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  /* after "pid (comm)": comm may hold spaces */
  p = strrchr (contents, ')');
  g_assert_nonnull (p);
  fields = g_strsplit (p + 2, " ", 0);
  g_assert_cmpuint (g_strv_length (fields), >, field - 3);
  return g_ascii_strtoll (fields[field - 3], NULL, 10);
}

static gint64
cpu_ticks (int pid)
{
  return proc_stat_field (pid, 14) + proc_stat_field (pid, 15);
}

static gboolean
pid_gone (int pid)
{
  return kill (pid, 0) < 0 && errno == ESRCH;
}

static gboolean
pool_has_pid (MprocPool *pool,
              int        pid)
{
  guint n = 0;
  g_autofree int *pids = mproc_pool_dup_worker_pids (pool, &n);

  for (guint i = 0; i < n; i++)
    if (pids[i] == pid)
      return TRUE;
  return FALSE;
}

static int
apply_getpid (MprocPool *pool)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = mproc_pool_apply (pool, "getpid", g_variant_new ("()"), -1,
                                                NULL, &error);

  g_assert_no_error (error);
  return g_variant_get_int32 (value);
}

static GVariant *
dir_items (const char *dir,
           guint       n)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("as"));
  for (guint i = 0; i < n; i++)
    g_variant_builder_add (&builder, "s", dir);
  return g_variant_builder_end (&builder);
}

/* --- Cancelling running work --------------------------------------------- */

static void
test_cancel_cooperative (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GArray) running = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_dir ();
  gint64 t0, ticks[2];

  g_test_summary ("A target sees its call cancelled through mproc_pool_task_get_cancellable() "
                  "and stops: its worker goes idle and stays");
  test_leak_check_begin (&check);
  pool = new_pool (GPOINTER_TO_INT (method), 2, NULL);

  mproc_pool_map_async (pool, "spin-until-cancelled", dir_items (dir, 2), 1, -1, cancellable,
                        NULL, NULL, NULL, test_store_result, &result);
  wait_marks (dir, "running", 2, running);
  for (guint i = 0; i < running->len; i++)
    g_assert_true (pool_has_pid (pool, g_array_index (running, int, i)));

  t0 = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  test_wait_result (&result);
  g_assert_null (mproc_pool_map_finish (pool, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_marks (dir, "cancelled", 2, NULL);
  g_test_message ("both targets stopped %" G_GINT64_FORMAT " us after the cancel",
                  g_get_monotonic_time () - t0);
  /* well within the grace period: nobody was killed */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 100 * 1000);

  /* the workers are idle: no CPU spent over 300 ms (1 tick of slack) */
  ticks[0] = cpu_ticks (g_array_index (running, int, 0)) + cpu_ticks (g_array_index (running, int, 1));
  g_usleep (300 * 1000);
  ticks[1] = cpu_ticks (g_array_index (running, int, 0)) + cpu_ticks (g_array_index (running, int, 1));
  g_assert_cmpint (ticks[1] - ticks[0], <=, 2);

  for (guint i = 0; i < running->len; i++)
    g_assert_true (pool_has_pid (pool, g_array_index (running, int, i)));
  g_assert_true (pool_has_pid (pool, apply_getpid (pool)));

  close_and_join (pool);
  g_clear_object (&pool);
  remove_dir (dir);
  test_leak_check_end (&check);
}

static void
test_cancel_kills (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) other = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GArray) running = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_dir ();
  gint64 t0, dt;
  int spinner;

  g_test_summary ("A worker that goes on running a cancelled task is killed after the "
                  "grace period and replaced; the other calls go on");
  test_leak_check_begin (&check);
  pool = new_pool (MPROC_START_METHOD_FORKSERVER, 2, "cancel-grace", 50, NULL);
  g_assert_cmpint (mproc_pool_get_cancel_grace (pool), ==, 50);

  mproc_pool_map_async (pool, "spin-forever", dir_items (dir, 1), 1, -1, cancellable,
                        NULL, NULL, NULL, test_store_result, &result);
  mproc_pool_apply_async (pool, "nap", g_variant_new ("(xi)", (gint64) 7, 400), -1, NULL,
                          test_store_result, &other);
  wait_marks (dir, "running", 1, running);
  spinner = g_array_index (running, int, 0);

  t0 = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  while (!pid_gone (spinner))
    {
      g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
  dt = g_get_monotonic_time () - t0;
  g_test_message ("the spinning worker was gone %" G_GINT64_FORMAT " us after the cancel", dt);
  g_assert_cmpint (dt, >=, 45 * 1000);
  g_assert_cmpint (dt, <, 2 * G_USEC_PER_SEC);

  test_wait_result (&result);
  g_assert_null (mproc_pool_map_finish (pool, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* the other call was not failed */
  test_wait_result (&other);
  value = mproc_pool_apply_finish (pool, other, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int64 (value), ==, 7);

  /* replaced, and serving */
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 2);
  g_assert_false (pool_has_pid (pool, spinner));
  g_assert_cmpint (apply_getpid (pool), !=, spinner);

  close_and_join (pool);
  g_clear_object (&pool);
  remove_dir (dir);
  test_leak_check_end (&check);
}

static void
test_cancel_never_kill (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GArray) running = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_dir ();
  gint64 deadline;
  int spinner;

  g_test_summary ("With cancel-grace -1, a cancelled task that goes on is left running");
  test_leak_check_begin (&check);
  pool = new_pool (MPROC_START_METHOD_FORK, 1, "cancel-grace", -1, NULL);

  mproc_pool_map_async (pool, "spin-forever", dir_items (dir, 1), 1, -1, cancellable,
                        NULL, NULL, NULL, test_store_result, &result);
  wait_marks (dir, "running", 1, running);
  spinner = g_array_index (running, int, 0);
  g_cancellable_cancel (cancellable);
  test_wait_result (&result);
  g_assert_null (mproc_pool_map_finish (pool, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  deadline = g_get_monotonic_time () + 300 * 1000;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (pid_gone (spinner));
  g_assert_true (pool_has_pid (pool, spinner));

  mproc_pool_terminate (pool);
  g_assert_true (mproc_pool_join (pool, 10 * G_USEC_PER_SEC, NULL, NULL));
  g_clear_object (&pool);
  remove_dir (dir);
  test_leak_check_end (&check);
}

static void
test_cancel_queued_skipped (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GArray) running = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_dir ();
  int worker;

  g_test_summary ("Tasks of a cancelled call that a worker was sent but had not started are skipped");
  test_leak_check_begin (&check);
  pool = new_pool (MPROC_START_METHOD_FORKSERVER, 1, NULL);

  mproc_pool_map_async (pool, "spin-until-cancelled", dir_items (dir, 6), 1, -1, cancellable,
                        NULL, NULL, NULL, test_store_result, &result);
  wait_marks (dir, "running", 1, running);
  worker = g_array_index (running, int, 0);
  g_cancellable_cancel (cancellable);
  test_wait_result (&result);
  g_assert_null (mproc_pool_map_finish (pool, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_marks (dir, "cancelled", 1, NULL);

  /* the worker's next task comes after those it skipped */
  g_assert_cmpint (apply_getpid (pool), ==, worker);
  g_assert_cmpuint (count_marks (dir, "running", NULL), ==, 1);

  close_and_join (pool);
  g_clear_object (&pool);
  remove_dir (dir);
  test_leak_check_end (&check);
}

typedef struct
{
  const char   *dir;
  GCancellable *cancellable;
} CancelWhenRunning;

static gpointer
cancel_when_running (gpointer data)
{
  CancelWhenRunning *c = data;

  while (count_marks (c->dir, "running", NULL) < 1)
    g_usleep (1000);
  g_cancellable_cancel (c->cancellable);
  return NULL;
}

static void
test_cancel_sync (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_dir ();
  CancelWhenRunning c = { dir, cancellable };
  GThread *thread;

  g_test_summary ("Cancelling a blocking map() stops its running task too");
  test_leak_check_begin (&check);
  pool = new_pool (MPROC_START_METHOD_FORK, 1, NULL);

  thread = g_thread_new ("canceller", cancel_when_running, &c);
  value = mproc_pool_map (pool, "spin-until-cancelled", dir_items (dir, 1), 1, -1,
                          cancellable, &error);
  g_thread_join (thread);
  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  wait_marks (dir, "cancelled", 1, NULL);

  close_and_join (pool);
  g_clear_object (&pool);
  remove_dir (dir);
  test_leak_check_end (&check);
}

/* --- Desktop-friendly workers -------------------------------------------- */

static void
test_nice (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  int ours, pid;

  g_test_summary ("MprocPool:nice raises the niceness of the workers (/proc/PID/stat)");
  test_leak_check_begin (&check);
  errno = 0;
  ours = getpriority (PRIO_PROCESS, 0);
  g_assert_cmpint (errno, ==, 0);
  pool = new_pool_with (MPROC_START_METHOD_FORKSERVER, 2, &error, "nice", 7, NULL);
  g_assert_no_error (error);

  pid = apply_getpid (pool);
  g_assert_cmpint (proc_stat_field (pid, 19), ==, MIN (ours + 7, 19));
  g_assert_cmpint (proc_stat_field (getpid (), 19), ==, ours);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_sched_idle (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GError) error = NULL;
  int pid;

  g_test_summary ("MprocPool:sched-idle runs the workers under SCHED_IDLE");
  test_leak_check_begin (&check);
  pool = new_pool_with (MPROC_START_METHOD_FORK, 1, &error, "sched-idle", TRUE, NULL);
  g_assert_no_error (error);

  pid = apply_getpid (pool);
  g_assert_cmpint (sched_getscheduler (pid), ==, SCHED_IDLE);
  g_assert_cmpint (sched_getscheduler (0), !=, SCHED_IDLE);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_memory_limit (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  guint64 limit = 256 << 20;
  int pid;

  g_test_summary ("A target that goes over MprocPool:memory-limit fails saying so, and its "
                  "worker is replaced");
#if defined(__SANITIZE_ADDRESS__)
  g_test_skip ("AddressSanitizer's shadow memory counts against RLIMIT_DATA");
  return;
#endif
  test_leak_check_begin (&check);
  pool = new_pool_with (GPOINTER_TO_INT (method), 1, &error, "memory-limit", limit, NULL);
  g_assert_no_error (error);

  /* under the limit: fine */
  value = mproc_pool_apply (pool, "hog", g_variant_new_uint64 (32 << 20), -1, NULL, &error);
  g_assert_no_error (error);
  pid = g_variant_get_int32 (value);
  g_clear_pointer (&value, g_variant_unref);

  value = mproc_pool_apply (pool, "hog", g_variant_new_uint64 (limit * 2), -1, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED);
  g_assert_nonnull (strstr (error->message, "memory limit"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* replaced */
  while (!pid_gone (pid))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (apply_getpid (pool), !=, pid);
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 1);

  close_and_join (pool);
  g_clear_object (&pool);
  test_leak_check_end (&check);
}

static void
test_executable (void)
{
  TestLeakCheck check;
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *helper = realpath (POOL_HELPER, NULL);
  int pid;

  g_test_summary ("MprocPool:executable runs the workers from a helper program");
  test_leak_check_begin (&check);
  g_assert_nonnull (helper);
  pool = new_pool_with (MPROC_START_METHOD_SPAWN, 2, &error, "executable", POOL_HELPER, NULL);
  g_assert_no_error (error);

  pid = apply_getpid (pool);
  exe_link = g_strdup_printf ("/proc/%d/exe", pid);
  exe = g_file_read_link (exe_link, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (exe, ==, helper);

  value = mproc_pool_apply (pool, "whoami", g_variant_new ("()"), -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (value, NULL), ==, "test-pool-helper");
  g_clear_pointer (&value, g_variant_unref);

  value = mproc_pool_map (pool, "nap", g_variant_new_parsed ("[(int64 1, 0), (2, 0), (3, 0)]"),
                          1, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_n_children (value), ==, 3);

  close_and_join (pool);
  g_clear_object (&pool);

  /* only spawn executes a program */
  pool = new_pool_with (MPROC_START_METHOD_FORK, 1, &error, "executable", POOL_HELPER, NULL);
  g_assert_null (pool);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_START_METHOD_UNAVAILABLE);
  test_leak_check_end (&check);
}

/* --- Starting without blocking ------------------------------------------- */

typedef struct
{
  guint  n;
  gint64 last;
  gint64 longest;   /* the longest the main loop went without us */
} IdleCount;

static gboolean
count_idle (gpointer data)
{
  IdleCount *c = data;
  gint64 now = g_get_monotonic_time ();

  if (c->n++ > 0)
    c->longest = MAX (c->longest, now - c->last);
  c->last = now;
  return G_SOURCE_CONTINUE;
}

static void
test_new_async (void)
{
  TestLeakCheck check;
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORKSERVER);
  g_autoptr(MprocPool) pool = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint threads = test_count_threads ();
  IdleCount idles = { 0, };
  guint idle_id;

  g_test_summary ("mproc_pool_new_async() starts the workers from the main loop, with no thread");
  test_leak_check_begin (&check);
  idle_id = g_idle_add_full (G_PRIORITY_DEFAULT, count_idle, &idles, NULL);
  mproc_pool_new_async (context, 3, NULL, test_store_result, &result);
  g_assert_null (result);
  test_wait_result (&result);
  g_source_remove (idle_id);
  pool = mproc_pool_new_finish (result, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pool);

  /* the loop ran other sources between the starts */
  g_assert_cmpuint (idles.n, >=, 2);
  g_test_message ("%u iterations of the main loop meanwhile, the longest %" G_GINT64_FORMAT
                  " us", idles.n, idles.longest);
  g_assert_cmpuint (test_count_threads (), ==, threads);
  g_assert_cmpuint (mproc_pool_get_n_workers (pool), ==, 3);
  g_assert_cmpuint (mproc_pool_get_processes (pool), ==, 3);
  g_assert_true (pool_has_pid (pool, apply_getpid (pool)));

  close_and_join (pool);
  g_clear_object (&pool);
  g_clear_object (&result);

  /* cancelled: no pool, no worker left */
  {
    g_autoptr(GCancellable) cancellable = g_cancellable_new ();

    mproc_pool_new_async (context, 4, cancellable, test_store_result, &result);
    g_cancellable_cancel (cancellable);
    test_wait_result (&result);
    g_assert_null (mproc_pool_new_finish (result, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_object (&result);
  }
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  test_pool_register_targets ();
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/pool/cancel", "cooperative", test_cancel_cooperative);
  g_test_add_func ("/mproc/pool/cancel/kill", test_cancel_kills);
  g_test_add_func ("/mproc/pool/cancel/never-kill", test_cancel_never_kill);
  g_test_add_func ("/mproc/pool/cancel/queued-skipped", test_cancel_queued_skipped);
  g_test_add_func ("/mproc/pool/cancel/sync", test_cancel_sync);
  g_test_add_func ("/mproc/pool/workers/nice", test_nice);
  g_test_add_func ("/mproc/pool/workers/sched-idle", test_sched_idle);
  test_add_method_test ("/mproc/pool/workers/memory-limit", "", test_memory_limit);
  g_test_add_func ("/mproc/pool/workers/executable", test_executable);
  g_test_add_func ("/mproc/pool/new-async", test_new_async);

  return g_test_run ();
}
