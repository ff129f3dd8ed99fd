/* test-fork-func.c: mproc_set_fork_func(), the fork a language runtime
 * provides for the fork start method (PyGObject's os.fork())
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <unistd.h>

#include <mproc.h>

#include "test-util.h"

typedef struct
{
  gint  calls;       /* atomic: forks asked of the hook, in this process */
  gint  destroyed;
  int   fail_errno;  /* non-zero: fail with this errno */
} Hook;

static GPid
hook_fork (gpointer user_data)
{
  Hook *hook = user_data;

  g_atomic_int_inc (&hook->calls);
  if (hook->fail_errno != 0)
    {
      errno = hook->fail_errno;
      return -1;
    }
  return fork ();
}

static void
hook_destroy (gpointer user_data)
{
  Hook *hook = user_data;

  hook->destroyed++;
}

static int
target_exit_5 (MprocProcess *process, GVariant *args, gpointer user_data)
{
  return 5;
}

static GVariant *
task_negate (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_new_int64 (-g_variant_get_int64 (arg));
}

static void
run_one (MprocStartMethod method)
{
  g_autoptr(MprocContext) context = mproc_context_new (method);
  g_autoptr(MprocProcess) process = mproc_process_new_with_context (context, "exit-5", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_process_start (process, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_process_join (process, -1, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_process_get_exit_code (process), ==, 5);
}

/* The fork method forks through the hook; spawn and forkserver do not. */
static void
test_process (void)
{
  TestLeakCheck check;
  Hook hook = { 0 };

  g_test_summary ("The fork start method forks through the fork function; spawn and forkserver do not");
  test_leak_check_begin (&check);
  mproc_set_fork_func (hook_fork, &hook, hook_destroy);

  run_one (MPROC_START_METHOD_FORK);
  g_assert_cmpint (g_atomic_int_get (&hook.calls), ==, 1);
  run_one (MPROC_START_METHOD_SPAWN);
  run_one (MPROC_START_METHOD_FORKSERVER);
  g_assert_cmpint (g_atomic_int_get (&hook.calls), ==, 1);

  mproc_set_fork_func (NULL, NULL, NULL);
  g_assert_cmpint (hook.destroyed, ==, 1);
  run_one (MPROC_START_METHOD_FORK);
  g_assert_cmpint (g_atomic_int_get (&hook.calls), ==, 1);

  mproc_shutdown ();
  test_leak_check_end (&check);
}

/* Pool workers started with the fork method, replacements included. */
static void
test_pool (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) items = NULL;
  g_autoptr(GVariant) result = NULL;
  MprocPool *pool;
  TestLeakCheck check;
  Hook hook = { 0 };
  GVariantBuilder builder;

  g_test_summary ("Pool workers started with fork, and their replacements, fork through the fork function");
  test_leak_check_begin (&check);
  mproc_set_fork_func (hook_fork, &hook, hook_destroy);

  /* one task per worker: 6 tasks need 6 workers */
  pool = mproc_pool_new_full (context, 2, NULL, NULL, 1, &error);
  g_assert_no_error (error);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("ax"));
  for (gint64 i = 0; i < 6; i++)
    g_variant_builder_add (&builder, "x", i);
  items = g_variant_ref_sink (g_variant_builder_end (&builder));
  result = mproc_pool_map (pool, "negate", items, 1, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_n_children (result), ==, 6);
  for (gsize i = 0; i < 6; i++)
    {
      g_autoptr(GVariant) child = g_variant_get_child_value (result, i);
      g_assert_cmpint (g_variant_get_int64 (child), ==, -(gint64) i);
    }
  mproc_pool_close (pool);
  g_assert_true (mproc_pool_join (pool, -1, NULL, &error));
  g_assert_no_error (error);
  g_object_unref (pool);

  g_assert_cmpint (g_atomic_int_get (&hook.calls), >=, 6);
  mproc_set_fork_func (NULL, NULL, NULL);
  g_assert_cmpint (hook.destroyed, ==, 1);
  mproc_shutdown ();
  test_leak_check_end (&check);
}

/* A hook that cannot fork fails the start with its errno, and leaks
 * nothing. */
static void
test_failure (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocProcess) process = mproc_process_new_with_context (context, "exit-5", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  TestLeakCheck check;
  Hook hook = { .fail_errno = EAGAIN };

  g_test_summary ("A fork function that fails fails the start with its errno, leaking nothing");
  test_leak_check_begin (&check);
  mproc_set_fork_func (hook_fork, &hook, NULL);
  g_assert_false (mproc_process_start (process, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FAILED);
  expected = g_strdup_printf ("*%s*", g_strerror (EAGAIN));
  g_assert_true (g_pattern_match_simple (expected, error->message));
  g_assert_cmpint (hook.calls, ==, 1);
  g_assert_false (mproc_process_is_alive (process));
  mproc_set_fork_func (NULL, NULL, NULL);
  test_leak_check_end (&check);
}

/* Each hook's data is freed once: when replaced, or at once when no
 * function comes with it. */
static void
test_destroy (void)
{
  Hook first = { 0 }, second = { 0 }, lone = { 0 };

  g_test_summary ("The data of each fork function is freed once, when it is replaced");
  mproc_set_fork_func (hook_fork, &first, hook_destroy);
  mproc_set_fork_func (hook_fork, &second, hook_destroy);
  g_assert_cmpint (first.destroyed, ==, 1);
  g_assert_cmpint (second.destroyed, ==, 0);
  mproc_set_fork_func (NULL, &lone, hook_destroy);
  g_assert_cmpint (lone.destroyed, ==, 1);
  g_assert_cmpint (second.destroyed, ==, 1);
  g_assert_cmpint (first.destroyed, ==, 1);
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("exit-5", target_exit_5, NULL, NULL);
  mproc_register_task ("negate", task_negate, NULL, NULL);
  test_init (&argc, &argv);

  g_test_add_func ("/mproc/fork-func/process", test_process);
  g_test_add_func ("/mproc/fork-func/pool", test_pool);
  g_test_add_func ("/mproc/fork-func/failure", test_failure);
  g_test_add_func ("/mproc/fork-func/destroy", test_destroy);

  return g_test_run ();
}
