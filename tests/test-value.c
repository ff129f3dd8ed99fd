/* test-value.c: MprocValue, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "test-sync-util.h"

/* objects: an int value, a double value, an int value with a lock: adds
 * 1000 to the first with add(), 1000 to the last by get and set under its
 * lock, and sets the double. (The lock excludes only those who take it, so
 * the two kinds of increment go to two values.) */
static int
target_add (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocValue *counter = mproc_process_get_object (process, 0);
  MprocValue *real = mproc_process_get_object (process, 1);
  MprocValue *locked = mproc_process_get_object (process, 2);
  MprocRLock *lock = mproc_value_get_lock (locked);

  if (lock == NULL)
    return 1;
  for (int i = 0; i < 1000; i++)
    mproc_value_add (counter, 1);
  for (int i = 0; i < 1000; i++)
    {
      MPROC_RLOCK_AUTO_LOCK (lock, locker);
      mproc_value_set_int (locked, mproc_value_get_int (locked) + 1);
    }
  mproc_value_set_double (real, 2.5);
  return 0;
}

static void
test_shared (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocValue) counter = NULL;
  g_autoptr(MprocValue) real = NULL;
  g_autoptr(MprocValue) locked = NULL;
  MprocProcess *procs[3];

  g_test_summary ("Values and their lock travel to children; atomic and locked increments are exact");
  test_leak_check_begin (&check);

  counter = mproc_value_new (MPROC_VALUE_TYPE_INT64, FALSE, NULL);
  real = mproc_value_new (MPROC_VALUE_TYPE_DOUBLE, FALSE, NULL);
  locked = mproc_value_new (MPROC_VALUE_TYPE_INT64, TRUE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    procs[i] = sync_start (method, "add", NULL, counter, real, locked, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_value_get_int (counter), ==, 1000 * G_N_ELEMENTS (procs));
  g_assert_cmpint (mproc_value_get_int (locked), ==, 1000 * G_N_ELEMENTS (procs));
  g_assert_cmpfloat (mproc_value_get_double (real), ==, 2.5);

  g_clear_object (&counter);
  g_clear_object (&real);
  g_clear_object (&locked);
  test_leak_check_end (&check);
}

static void
test_types (void)
{
  g_autoptr(MprocValue) i32 = mproc_value_new (MPROC_VALUE_TYPE_INT32, FALSE, NULL);
  g_autoptr(MprocValue) b = mproc_value_new (MPROC_VALUE_TYPE_BOOLEAN, FALSE, NULL);
  g_autoptr(MprocValue) f = mproc_value_new (MPROC_VALUE_TYPE_FLOAT, FALSE, NULL);

  g_test_summary ("Types truncate as C does; add wraps; compare_and_swap swaps only on a match");
  g_assert_null (mproc_value_get_lock (i32));
  g_assert_cmpint (mproc_value_get_value_type (i32), ==, MPROC_VALUE_TYPE_INT32);
  mproc_value_set_int (i32, G_MAXINT32);
  g_assert_cmpint (mproc_value_add (i32, 1), ==, G_MININT32);
  g_assert_false (mproc_value_compare_and_swap (i32, 5, 6));
  g_assert_true (mproc_value_compare_and_swap (i32, G_MININT32, 6));
  g_assert_cmpint (mproc_value_get_int (i32), ==, 6);

  mproc_value_set_int (b, 42);
  g_assert_cmpint (mproc_value_get_int (b), ==, 1);
  g_assert_true (mproc_value_get_boolean (b));
  mproc_value_set_boolean (b, FALSE);
  g_assert_false (mproc_value_get_boolean (b));

  mproc_value_set_double (f, 0.1);
  g_assert_cmpfloat (mproc_value_get_double (f), ==, (gfloat) 0.1);
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(MprocValue) counter = g_object_new (MPROC_TYPE_VALUE, "value-type", MPROC_VALUE_TYPE_INT32,
                                                "with-lock", FALSE, NULL);
  g_autoptr(MprocValue) real = NULL;
  g_autoptr(MprocValue) locked = g_object_new (MPROC_TYPE_VALUE, NULL);
  g_autoptr(MprocProcess) adder = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Values made by g_object_new() alone (a binding's new) and by "
                  "g_initable_new() with their properties are shared with a child");

  real = g_initable_new (MPROC_TYPE_VALUE, NULL, &error, "value-type", MPROC_VALUE_TYPE_DOUBLE, NULL);
  g_assert_no_error (error);
  g_assert_cmpint (mproc_value_get_value_type (counter), ==, MPROC_VALUE_TYPE_INT32);
  g_assert_null (mproc_value_get_lock (counter));
  g_assert_nonnull (mproc_value_get_lock (locked));

  adder = sync_start (method, "add", NULL, counter, real, locked, NULL);
  sync_join (adder, 0);
  g_assert_cmpint (mproc_value_get_int (counter), ==, 1000);
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("add", target_add, NULL, NULL);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/value", "shared", test_shared);
  test_add_method_test ("/mproc/value", "construct", test_construct);
  g_test_add_func ("/mproc/value/types", test_types);

  return g_test_run ();
}
