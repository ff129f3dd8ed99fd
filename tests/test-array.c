/* test-array.c: MprocArray, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "test-sync-util.h"

#include "mproc-fd-private.h"
#include "mproc-shareable-private.h"

#define N_PROCS 4
#define N_ADDS  5000
#define SLOTS_PER_PROC 3

/* --- A subclass that gets its array as a property ---------------------- */

#define TEST_TYPE_ARRAY_WORKER (test_array_worker_get_type ())
G_DECLARE_FINAL_TYPE (TestArrayWorker, test_array_worker, TEST, ARRAY_WORKER, MprocProcess)

struct _TestArrayWorker
{
  MprocProcess  parent_instance;
  MprocArray   *array;
  guint         slot;
};

enum { WORKER_PROP_0, WORKER_PROP_ARRAY, WORKER_PROP_SLOT, N_WORKER_PROPS };

G_DEFINE_FINAL_TYPE (TestArrayWorker, test_array_worker, MPROC_TYPE_PROCESS)

/* Doubles its slot of the (double) array and adds it to slot 0 under the
 * array's lock. */
static int
test_array_worker_run (MprocProcess *process)
{
  TestArrayWorker *self = TEST_ARRAY_WORKER (process);
  MprocRLock *lock;
  gdouble mine;

  if (self->array == NULL || (lock = mproc_array_get_lock (self->array)) == NULL)
    return 1;
  mine = mproc_array_get_double (self->array, self->slot) * 2;
  mproc_array_set_double (self->array, self->slot, mine);
  {
    MPROC_RLOCK_AUTO_LOCK (lock, locker);
    mproc_array_set_double (self->array, 0, mproc_array_get_double (self->array, 0) + mine);
  }
  return 0;
}

static void
test_array_worker_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestArrayWorker *self = TEST_ARRAY_WORKER (object);

  switch (id)
    {
    case WORKER_PROP_ARRAY: g_value_set_object (value, self->array); break;
    case WORKER_PROP_SLOT: g_value_set_uint (value, self->slot); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_array_worker_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  TestArrayWorker *self = TEST_ARRAY_WORKER (object);

  switch (id)
    {
    case WORKER_PROP_ARRAY: g_set_object (&self->array, g_value_get_object (value)); break;
    case WORKER_PROP_SLOT: self->slot = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
test_array_worker_finalize (GObject *object)
{
  TestArrayWorker *self = TEST_ARRAY_WORKER (object);

  g_clear_object (&self->array);
  G_OBJECT_CLASS (test_array_worker_parent_class)->finalize (object);
}

static void
test_array_worker_class_init (TestArrayWorkerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_array_worker_get_property;
  object_class->set_property = test_array_worker_set_property;
  object_class->finalize = test_array_worker_finalize;
  MPROC_PROCESS_CLASS (klass)->run = test_array_worker_run;

  g_object_class_install_property (object_class, WORKER_PROP_ARRAY,
    g_param_spec_object ("array", NULL, NULL, MPROC_TYPE_ARRAY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (object_class, WORKER_PROP_SLOT,
    g_param_spec_uint ("slot", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void
test_array_worker_init (TestArrayWorker *self)
{
}

/* --- Targets ----------------------------------------------------------- */

/* args "u": the child's number i. objects: int64 array, double array, boolean
 * array: writes its own slots only. */
static int
target_slots (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocArray *ints = mproc_process_get_object (process, 0);
  MprocArray *reals = mproc_process_get_object (process, 1);
  MprocArray *flags = mproc_process_get_object (process, 2);
  guint i = g_variant_get_uint32 (args);

  if (mproc_array_get_length (ints) != N_PROCS * SLOTS_PER_PROC ||
      mproc_array_get_value_type (reals) != MPROC_VALUE_TYPE_DOUBLE)
    return 1;
  for (guint k = 0; k < SLOTS_PER_PROC; k++)
    {
      guint slot = i * SLOTS_PER_PROC + k;

      mproc_array_set_int (ints, slot, G_GINT64_CONSTANT (1) << 40 | slot);
      mproc_array_set_double (reals, slot, slot + 0.5);
    }
  mproc_array_set_boolean (flags, i, TRUE);
  return 0;
}

/* objects: int32 array: N_ADDS add() and N_ADDS compare_and_swap()
 * increments of slot 1, and an add of -1 to slot 0 each time. */
static int
target_add (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocArray *counters = mproc_process_get_object (process, 0);

  for (int n = 0; n < N_ADDS; n++)
    {
      gint64 old;

      mproc_array_add (counters, 1, 1);
      mproc_array_add (counters, 0, -1);
      do
        old = mproc_array_get_int (counters, 2);
      while (!mproc_array_compare_and_swap (counters, 2, old, old + 1));
    }
  return 0;
}

/* objects: int64 array with lock: N_ADDS times, under the lock, reads the
 * whole array, adds one to each element and writes it back. */
static int
target_locked_rmw (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocArray *array = mproc_process_get_object (process, 0);
  MprocRLock *lock = mproc_array_get_lock (array);

  if (lock == NULL)
    return 1;
  for (int n = 0; n < N_ADDS; n++)
    {
      MPROC_RLOCK_AUTO_LOCK (lock, locker);
      g_autoptr(GVariant) values = mproc_array_get_values (array);
      gsize len = 0;
      const gint64 *elements = g_variant_get_fixed_array (values, &len, sizeof (gint64));
      g_autofree gint64 *next = g_new (gint64, len);

      for (gsize k = 0; k < len; k++)
        next[k] = elements[k] + 1;
      mproc_array_set_values (array, g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, next, len,
                                                                sizeof (gint64)));
    }
  return 0;
}

/* --- Tests ------------------------------------------------------------- */

static void
test_slots (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocArray) ints = NULL;
  g_autoptr(MprocArray) reals = NULL;
  g_autoptr(MprocArray) flags = NULL;
  g_autoptr(GError) error = NULL;
  MprocProcess *procs[N_PROCS];

  g_test_summary ("Children write disjoint slots of shared arrays and the parent sees every one");
  test_leak_check_begin (&check);

  ints = mproc_array_new (MPROC_VALUE_TYPE_INT64, N_PROCS * SLOTS_PER_PROC, FALSE, &error);
  g_assert_no_error (error);
  reals = mproc_array_new (MPROC_VALUE_TYPE_DOUBLE, N_PROCS * SLOTS_PER_PROC, FALSE, &error);
  g_assert_no_error (error);
  flags = mproc_array_new (MPROC_VALUE_TYPE_BOOLEAN, N_PROCS + 1, FALSE, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < N_PROCS; i++)
    procs[i] = sync_start (method, "slots", g_variant_new_uint32 (i), ints, reals, flags, NULL);
  for (guint i = 0; i < N_PROCS; i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }

  for (guint slot = 0; slot < N_PROCS * SLOTS_PER_PROC; slot++)
    {
      g_assert_cmpint (mproc_array_get_int (ints, slot), ==, G_GINT64_CONSTANT (1) << 40 | slot);
      g_assert_cmpfloat (mproc_array_get_double (reals, slot), ==, slot + 0.5);
    }
  for (guint i = 0; i < N_PROCS; i++)
    g_assert_true (mproc_array_get_boolean (flags, i));
  g_assert_false (mproc_array_get_boolean (flags, N_PROCS));

  g_clear_object (&ints);
  g_clear_object (&reals);
  g_clear_object (&flags);
  test_leak_check_end (&check);
}

static void
test_atomic_add (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocArray) counters = NULL;
  MprocProcess *procs[N_PROCS];

  g_test_summary ("N processes x K atomic adds and compare-and-swaps on one slot give an exact total");
  test_leak_check_begin (&check);

  counters = mproc_array_new (MPROC_VALUE_TYPE_INT32, 4, FALSE, NULL);
  g_assert_nonnull (counters);
  for (guint i = 0; i < N_PROCS; i++)
    procs[i] = sync_start (method, "add", NULL, counters, NULL);
  for (guint i = 0; i < N_PROCS; i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }
  g_assert_cmpint (mproc_array_get_int (counters, 0), ==, -N_PROCS * N_ADDS);
  g_assert_cmpint (mproc_array_get_int (counters, 1), ==, N_PROCS * N_ADDS);
  g_assert_cmpint (mproc_array_get_int (counters, 2), ==, N_PROCS * N_ADDS);
  g_assert_cmpint (mproc_array_get_int (counters, 3), ==, 0);

  g_clear_object (&counters);
  test_leak_check_end (&check);
}

static void
test_locked (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocArray) array = NULL;
  g_autoptr(GVariant) values = NULL;
  const gint64 *elements;
  gsize len = 0;
  MprocProcess *procs[N_PROCS];

  g_test_summary ("The array's lock guards a read-modify-write of the whole array across processes");
  test_leak_check_begin (&check);

  array = mproc_array_new (MPROC_VALUE_TYPE_INT64, 16, TRUE, NULL);
  g_assert_nonnull (array);
  g_assert_nonnull (mproc_array_get_lock (array));
  for (guint k = 0; k < 16; k++)
    mproc_array_set_int (array, k, k * 1000);
  for (guint i = 0; i < N_PROCS; i++)
    procs[i] = sync_start (method, "locked-rmw", NULL, array, NULL);
  for (guint i = 0; i < N_PROCS; i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }

  values = mproc_array_get_values (array);
  g_assert_false (g_variant_is_floating (values));
  g_assert_cmpstr (g_variant_get_type_string (values), ==, "ax");
  elements = g_variant_get_fixed_array (values, &len, sizeof (gint64));
  g_assert_cmpuint (len, ==, 16);
  for (guint k = 0; k < 16; k++)
    g_assert_cmpint (elements[k], ==, k * 1000 + N_PROCS * N_ADDS);

  g_clear_pointer (&values, g_variant_unref);
  g_clear_object (&array);
  test_leak_check_end (&check);
}

static void
test_property (gconstpointer method)
{
  TestLeakCheck check;
  g_autoptr(MprocContext) context = mproc_context_new (GPOINTER_TO_INT (method));
  g_autoptr(MprocArray) array = NULL;
  MprocProcess *procs[N_PROCS];

  g_test_summary ("An array (and its lock) travels to a child as a property of a Process subclass");
  test_leak_check_begin (&check);

  array = mproc_array_new (MPROC_VALUE_TYPE_DOUBLE, N_PROCS + 1, TRUE, NULL);
  g_assert_nonnull (array);
  for (guint i = 1; i <= N_PROCS; i++)
    mproc_array_set_double (array, i, i * 0.25);
  for (guint i = 0; i < N_PROCS; i++)
    {
      g_autoptr(GError) error = NULL;

      procs[i] = g_object_new (TEST_TYPE_ARRAY_WORKER,
                               "context", context,
                               "array", array,
                               "slot", i + 1,
                               NULL);
      g_assert_true (mproc_process_start (procs[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < N_PROCS; i++)
    {
      sync_join (procs[i], 0);
      g_object_unref (procs[i]);
    }

  for (guint i = 1; i <= N_PROCS; i++)
    g_assert_cmpfloat (mproc_array_get_double (array, i), ==, i * 0.5);
  /* 0.5 + 1.0 + 1.5 + 2.0: exact in binary, whatever the order */
  g_assert_cmpfloat (mproc_array_get_double (array, 0), ==, 5.0);

  g_clear_object (&array);
  test_leak_check_end (&check);
}

static void
test_bulk (void)
{
  g_autoptr(GError) error = NULL;
  const gboolean bools[] = { TRUE, FALSE, TRUE };
  const guint8 bool_bytes[] = { 1, 0, 1 };
  const gint32 i32s[] = { G_MININT32, -1, 0, G_MAXINT32 };
  const gint64 i64s[] = { G_MININT64, 7, G_MAXINT64 };
  const gdouble reals[] = { 0.1, -2.5, 1e300 };
  struct
  {
    MprocValueType  type;
    guint           length;
    const char     *variant_type;
    gconstpointer   elements;
    gsize           size;
  } cases[] = {
    { MPROC_VALUE_TYPE_BOOLEAN, G_N_ELEMENTS (bools), "ab", bool_bytes, 1 },
    { MPROC_VALUE_TYPE_INT32, G_N_ELEMENTS (i32s), "ai", i32s, sizeof (gint32) },
    { MPROC_VALUE_TYPE_INT64, G_N_ELEMENTS (i64s), "ax", i64s, sizeof (gint64) },
    { MPROC_VALUE_TYPE_FLOAT, G_N_ELEMENTS (reals), "ad", reals, sizeof (gdouble) },
    { MPROC_VALUE_TYPE_DOUBLE, G_N_ELEMENTS (reals), "ad", reals, sizeof (gdouble) },
  };

  g_test_summary ("get_values and set_values round-trip every element type");

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(MprocArray) array = mproc_array_new (cases[c].type, cases[c].length, FALSE, &error);
      g_autoptr(GVariant) zero = NULL;
      g_autoptr(GVariant) values = NULL;
      g_autoptr(GVariant) in = NULL;
      gconstpointer out;
      gsize n = 0;

      g_assert_no_error (error);
      g_assert_cmpuint (mproc_array_get_length (array), ==, cases[c].length);
      g_assert_cmpint (mproc_array_get_value_type (array), ==, cases[c].type);

      zero = mproc_array_get_values (array);
      g_assert_cmpstr (g_variant_get_type_string (zero), ==, cases[c].variant_type);
      g_assert_cmpuint (g_variant_n_children (zero), ==, cases[c].length);
      for (guint k = 0; k < cases[c].length; k++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (zero, k);
          g_autoptr(GVariant) zero_child = NULL;

          switch (cases[c].type)
            {
            case MPROC_VALUE_TYPE_BOOLEAN: zero_child = g_variant_new_boolean (FALSE); break;
            case MPROC_VALUE_TYPE_INT32: zero_child = g_variant_new_int32 (0); break;
            case MPROC_VALUE_TYPE_INT64: zero_child = g_variant_new_int64 (0); break;
            case MPROC_VALUE_TYPE_FLOAT:
            case MPROC_VALUE_TYPE_DOUBLE:
            default: zero_child = g_variant_new_double (0.0); break;
            }
          g_variant_ref_sink (zero_child);
          g_assert_true (g_variant_equal (child, zero_child));
        }

      in = g_variant_ref_sink (g_variant_new_fixed_array (g_variant_type_element (G_VARIANT_TYPE (cases[c].variant_type)),
                                                          cases[c].elements, cases[c].length,
                                                          cases[c].size));
      mproc_array_set_values (array, in);
      values = mproc_array_get_values (array);
      out = g_variant_get_fixed_array (values, &n, cases[c].size);
      g_assert_cmpuint (n, ==, cases[c].length);
      if (cases[c].type == MPROC_VALUE_TYPE_FLOAT)
        for (guint k = 0; k < n; k++)
          g_assert_cmpfloat (((const gdouble *) out)[k], ==, (gfloat) reals[k]);
      else
        g_assert_cmpmem (out, n * cases[c].size, cases[c].elements, n * cases[c].size);

      /* the element accessors see the same */
      for (guint k = 0; k < n; k++)
        switch (cases[c].type)
          {
          case MPROC_VALUE_TYPE_BOOLEAN:
            g_assert_cmpint (mproc_array_get_boolean (array, k), ==, bools[k]);
            break;
          case MPROC_VALUE_TYPE_INT32:
            g_assert_cmpint (mproc_array_get_int (array, k), ==, i32s[k]);
            break;
          case MPROC_VALUE_TYPE_INT64:
            g_assert_cmpint (mproc_array_get_int (array, k), ==, i64s[k]);
            break;
          case MPROC_VALUE_TYPE_FLOAT:
            g_assert_cmpfloat (mproc_array_get_double (array, k), ==, (gfloat) reals[k]);
            break;
          case MPROC_VALUE_TYPE_DOUBLE:
          default:
            g_assert_cmpfloat (mproc_array_get_double (array, k), ==, reals[k]);
            break;
          }
    }
}

static void
test_bulk_floating (void)
{
  g_autoptr(MprocArray) array = mproc_array_new (MPROC_VALUE_TYPE_INT32, 3, FALSE, NULL);
  g_autoptr(MprocArray) empty = mproc_array_new (MPROC_VALUE_TYPE_DOUBLE, 0, FALSE, NULL);
  g_autoptr(GVariant) values = NULL;
  g_autoptr(GVariant) none = NULL;
  g_autofree char *printed = NULL;
  GVariantBuilder builder;

  g_test_summary ("set_values consumes a floating array; an empty array has an empty value list");

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("ai"));
  for (int k = 0; k < 3; k++)
    g_variant_builder_add (&builder, "i", (k + 1) * 11);
  mproc_array_set_values (array, g_variant_builder_end (&builder));
  values = mproc_array_get_values (array);
  printed = g_variant_print (values, FALSE);
  g_assert_cmpstr (printed, ==, "[11, 22, 33]");

  g_assert_cmpuint (mproc_array_get_length (empty), ==, 0);
  none = mproc_array_get_values (empty);
  g_assert_cmpstr (g_variant_get_type_string (none), ==, "ad");
  g_assert_cmpuint (g_variant_n_children (none), ==, 0);
  mproc_array_set_values (empty, g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, NULL, 0, sizeof (gdouble)));
}

static void
test_types (void)
{
  g_autoptr(MprocArray) i32 = mproc_array_new (MPROC_VALUE_TYPE_INT32, 2, FALSE, NULL);
  g_autoptr(MprocArray) b = mproc_array_new (MPROC_VALUE_TYPE_BOOLEAN, 2, FALSE, NULL);
  g_autoptr(MprocArray) i64 = mproc_array_new (MPROC_VALUE_TYPE_INT64, 2, FALSE, NULL);
  g_autoptr(MprocArray) f = mproc_array_new (MPROC_VALUE_TYPE_FLOAT, 2, FALSE, NULL);

  g_test_summary ("Elements truncate as C does; add wraps; compare_and_swap swaps only on a match; "
                  "neighbours are untouched");
  g_assert_null (mproc_array_get_lock (i32));

  mproc_array_set_int (i32, 1, G_MAXINT32);
  g_assert_cmpint (mproc_array_add (i32, 1, 1), ==, G_MININT32);
  g_assert_cmpint (mproc_array_get_int (i32, 0), ==, 0);
  g_assert_false (mproc_array_compare_and_swap (i32, 1, 5, 6));
  /* a value an int32 cannot hold never matches, even if it truncates to it */
  g_assert_false (mproc_array_compare_and_swap (i32, 1, (gint64) G_MININT32 + (G_GINT64_CONSTANT (1) << 32), 6));
  g_assert_true (mproc_array_compare_and_swap (i32, 1, G_MININT32, 6));
  g_assert_cmpint (mproc_array_get_int (i32, 1), ==, 6);
  mproc_array_set_int (i32, 0, G_GINT64_CONSTANT (0x100000005));
  g_assert_cmpint (mproc_array_get_int (i32, 0), ==, 5);
  g_assert_cmpint (mproc_array_get_int (i32, 1), ==, 6);

  mproc_array_set_int (i64, 0, G_MAXINT64);
  g_assert_cmpint (mproc_array_add (i64, 0, 1), ==, G_MININT64);
  g_assert_cmpint (mproc_array_get_int (i64, 1), ==, 0);

  mproc_array_set_int (b, 1, 42);
  g_assert_cmpint (mproc_array_get_int (b, 1), ==, 1);
  g_assert_true (mproc_array_get_boolean (b, 1));
  g_assert_false (mproc_array_get_boolean (b, 0));
  g_assert_true (mproc_array_compare_and_swap (b, 1, TRUE, FALSE));
  g_assert_false (mproc_array_get_boolean (b, 1));
  mproc_array_set_boolean (b, 0, TRUE);
  g_assert_true (mproc_array_get_boolean (b, 0));

  mproc_array_set_double (f, 1, 0.1);
  g_assert_cmpfloat (mproc_array_get_double (f, 1), ==, (gfloat) 0.1);
  g_assert_cmpfloat (mproc_array_get_double (f, 0), ==, 0.0);
}

static void
test_programmer_errors (void)
{
  g_autoptr(MprocArray) ints = mproc_array_new (MPROC_VALUE_TYPE_INT64, 2, FALSE, NULL);
  g_autoptr(MprocArray) reals = mproc_array_new (MPROC_VALUE_TYPE_DOUBLE, 2, FALSE, NULL);

  g_test_summary ("An index out of range, a wrong accessor or a wrong bulk type is a critical");

  g_test_expect_message ("Mproc", G_LOG_LEVEL_CRITICAL, "*index_ < self->length*");
  g_assert_cmpint (mproc_array_get_int (ints, 2), ==, 0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Mproc", G_LOG_LEVEL_CRITICAL, "*index_ < self->length*");
  mproc_array_set_double (reals, 7, 1.0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Mproc", G_LOG_LEVEL_CRITICAL, "*is_integer*");
  g_assert_cmpint (mproc_array_add (reals, 0, 1), ==, 0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Mproc", G_LOG_LEVEL_CRITICAL, "*is_integer*");
  g_assert_cmpfloat (mproc_array_get_double (ints, 0), ==, 0.0);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Mproc", G_LOG_LEVEL_CRITICAL, "*g_variant_type_equal*");
  mproc_array_set_values (ints, g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, NULL, 0, sizeof (gdouble)));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Mproc", G_LOG_LEVEL_CRITICAL, "*n_elements == self->length*");
  mproc_array_set_values (reals, g_variant_new_fixed_array (G_VARIANT_TYPE_DOUBLE, NULL, 0, sizeof (gdouble)));
  g_test_assert_expected_messages ();

  for (guint k = 0; k < 2; k++)
    {
      g_assert_cmpint (mproc_array_get_int (ints, k), ==, 0);
      g_assert_cmpfloat (mproc_array_get_double (reals, k), ==, 0.0);
    }
}

static void
close_fds (GArray *fds)
{
  for (guint i = 0; i < fds->len; i++)
    mproc_clear_fd (&g_array_index (fds, int, i));
  g_array_unref (fds);
}

/* Serialises @array, replaces its length in the handle with @length and
 * deserialises that. */
static MprocShareable *
roundtrip_with_length (MprocArray  *array,
                       guint32      length,
                       GError     **error)
{
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr(GVariant) description = NULL;
  g_autoptr(GVariant) handle = NULL;
  g_autoptr(GVariant) sync = NULL;
  g_autoptr(GVariant) lock = NULL;
  g_autoptr(GVariant) forged = NULL;
  const char *type_name;
  guint32 value_type, old_length;
  MprocShareable *object;

  description = g_variant_ref_sink (mproc_shareable_serialize (MPROC_SHAREABLE (array), fds, error));
  g_assert_nonnull (description);
  g_variant_get (description, "(&sv)", &type_name, &handle);
  g_variant_get (handle, "(@(hh)uu@m(sv))", &sync, &value_type, &old_length, &lock);
  forged = g_variant_ref_sink (g_variant_new ("(s@v)", type_name,
                                              g_variant_new_variant (g_variant_new ("(@(hh)uu@m(sv))", sync,
                                                                                    value_type, length,
                                                                                    lock))));
  object = mproc_shareable_deserialize (forged, fds, error);
  close_fds (g_steal_pointer (&fds));
  return object;
}

static void
test_transfer_checked (void)
{
  TestLeakCheck check;
  g_autoptr(MprocArray) array = NULL;
  g_autoptr(MprocShareable) copy = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A received array whose length does not match its memory is refused");
  test_leak_check_begin (&check);

  array = mproc_array_new (MPROC_VALUE_TYPE_INT64, 8, TRUE, NULL);
  mproc_array_set_int (array, 7, 77);

  copy = roundtrip_with_length (array, 8, &error);
  g_assert_no_error (error);
  g_assert_true (MPROC_IS_ARRAY (copy));
  g_assert_cmpint (mproc_array_get_int (MPROC_ARRAY (copy), 7), ==, 77);
  g_assert_nonnull (mproc_array_get_lock (MPROC_ARRAY (copy)));
  mproc_array_set_int (MPROC_ARRAY (copy), 0, 5);
  g_assert_cmpint (mproc_array_get_int (array, 0), ==, 5);
  g_clear_object (&copy);

  /* more than the memory holds */
  copy = roundtrip_with_length (array, 1 << 20, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_assert_null (copy);
  g_clear_error (&error);

  /* fits, but is not what the memory says */
  copy = roundtrip_with_length (array, 2, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_assert_null (copy);
  g_clear_error (&error);

  g_clear_object (&array);
  test_leak_check_end (&check);
}


static void
test_construct (gconstpointer method)
{
  g_autoptr(MprocArray) ints = NULL;
  g_autoptr(MprocArray) reals = NULL;
  g_autoptr(MprocArray) flags = NULL;
  g_autoptr(MprocProcess) child = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Arrays made by g_object_new() alone (a binding's new) and by "
                  "g_initable_new() with their properties are shared with a child");

  ints = g_object_new (MPROC_TYPE_ARRAY, "value-type", MPROC_VALUE_TYPE_INT64,
                       "length", N_PROCS * SLOTS_PER_PROC, "with-lock", FALSE, NULL);
  reals = g_initable_new (MPROC_TYPE_ARRAY, NULL, &error, "value-type", MPROC_VALUE_TYPE_DOUBLE,
                          "length", N_PROCS * SLOTS_PER_PROC, NULL);
  g_assert_no_error (error);
  g_assert_nonnull (mproc_array_get_lock (reals));
  flags = g_object_new (MPROC_TYPE_ARRAY, "value-type", MPROC_VALUE_TYPE_BOOLEAN,
                        "length", N_PROCS + 1, NULL);

  child = sync_start (method, "slots", g_variant_new_uint32 (0), ints, reals, flags, NULL);
  sync_join (child, 0);
  for (guint slot = 0; slot < SLOTS_PER_PROC; slot++)
    {
      g_assert_cmpint (mproc_array_get_int (ints, slot), ==, G_GINT64_CONSTANT (1) << 40 | slot);
      g_assert_cmpfloat (mproc_array_get_double (reals, slot), ==, slot + 0.5);
    }
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("slots", target_slots, NULL, NULL);
  mproc_register_target ("add", target_add, NULL, NULL);
  mproc_register_target ("locked-rmw", target_locked_rmw, NULL, NULL);
  g_type_ensure (TEST_TYPE_ARRAY_WORKER);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/array", "slots", test_slots);
  test_add_method_test ("/mproc/array", "construct", test_construct);
  test_add_method_test ("/mproc/array", "atomic-add", test_atomic_add);
  test_add_method_test ("/mproc/array", "locked", test_locked);
  test_add_method_test ("/mproc/array", "property", test_property);
  g_test_add_func ("/mproc/array/bulk", test_bulk);
  g_test_add_func ("/mproc/array/bulk/floating", test_bulk_floating);
  g_test_add_func ("/mproc/array/types", test_types);
  g_test_add_func ("/mproc/array/programmer-errors", test_programmer_errors);
  g_test_add_func ("/mproc/array/transfer-checked", test_transfer_checked);

  return g_test_run ();
}
