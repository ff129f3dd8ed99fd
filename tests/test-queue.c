/* test-queue.c: MprocQueue, MprocJoinableQueue and MprocSimpleQueue with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-queue-private.h"
#include "mproc-waitable-private.h"
#include "test-util.h"


/* --- Targets ----------------------------------------------------------- */

static MprocQueue *
queue_arg (MprocProcess *process, guint i)
{
  return MPROC_QUEUE (mproc_process_get_object (process, i));
}

/* args "(xx)": base, n. Puts base + i for i < n on queue 0. */
static int
target_produce (MprocProcess *process, GVariant *args, gpointer user_data)
{
  gint64 base, n;

  g_variant_get (args, "(xx)", &base, &n);
  for (gint64 i = 0; i < n; i++)
    if (!mproc_queue_put (queue_arg (process, 0), g_variant_new_int64 (base + i), -1, NULL, NULL))
      return 1;
  return 0;
}

/* Gets int64s from queue 0 until a "()" pill, then puts "(xx)" count, sum
 * on queue 1. */
static int
target_consume (MprocProcess *process, GVariant *args, gpointer user_data)
{
  gint64 count = 0, sum = 0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mproc_queue_get (queue_arg (process, 0), -1, NULL, &error);

      if (v == NULL)
        return 2;
      if (g_variant_is_of_type (v, G_VARIANT_TYPE_UNIT))
        break;
      count++;
      sum += g_variant_get_int64 (v);
    }
  return mproc_queue_put (queue_arg (process, 1), g_variant_new ("(xx)", count, sum), -1, NULL, NULL) ? 0 : 1;
}

/* Echoes queue 0 to queue 1 until a "__stop__" pill (echoed too). */
static int
target_echo (MprocProcess *process, GVariant *args, gpointer user_data)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mproc_queue_get (queue_arg (process, 0), -1, NULL, &error);
      gboolean pill;

      if (v == NULL)
        {
          g_printerr ("echo: %s\n", error->message);
          return 2;
        }
      pill = g_variant_is_of_type (v, G_VARIANT_TYPE_STRING) &&
             g_str_equal (g_variant_get_string (v, NULL), "__stop__");
      if (!mproc_queue_put (queue_arg (process, 1), v, -1, NULL, NULL))
        return 1;
      if (pill)
        return 0;
    }
}

/* Puts one "ay" message of args bytes (blocks when nobody reads). */
static int
target_put_large (MprocProcess *process, GVariant *args, gpointer user_data)
{
  gsize size = g_variant_get_uint64 (args);
  guint8 *data = g_malloc (size);

  memset (data, 0x5a, size);
  return mproc_queue_put (queue_arg (process, 0),
                          g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, size, TRUE, g_free, data),
                          -1, NULL, NULL) ? 0 : 1;
}

static MprocRingFault kill_point;

static void
kill_at_fault (MprocRingFault point)
{
  if (point == kill_point)
    raise (SIGKILL);
}

/* Puts one "ay" message of args bytes, and is SIGKILLed half-way through
 * writing it out of line. */
static int
target_put_large_killed (MprocProcess *process, GVariant *args, gpointer user_data)
{
  kill_point = MPROC_RING_FAULT_BODY_WRITTEN;
  mproc_ring_set_fault_hook (kill_at_fault);
  return target_put_large (process, args, user_data);
}

/* Gets one message, and is SIGKILLed once it has read its body. */
static int
target_get_killed (MprocProcess *process, GVariant *args, gpointer user_data)
{
  g_autoptr(GVariant) v = NULL;

  kill_point = MPROC_RING_FAULT_BODY_READ;
  mproc_ring_set_fault_hook (kill_at_fault);
  v = mproc_queue_get (queue_arg (process, 0), -1, NULL, NULL);
  return 1;
}

/* JoinableQueue worker: gets until a pill, task_done for each. */
static int
target_joinable_worker (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocJoinableQueue *queue = MPROC_JOINABLE_QUEUE (mproc_process_get_object (process, 0));

  for (;;)
    {
      g_autoptr(GVariant) v = mproc_queue_get (MPROC_QUEUE (queue), -1, NULL, NULL);
      gboolean pill = v == NULL || g_variant_is_of_type (v, G_VARIANT_TYPE_UNIT);

      g_usleep (1000);
      if (!mproc_joinable_queue_task_done (queue, NULL))
        return 1;
      if (pill)
        return 0;
    }
}

/* SimpleQueue echo (objects 0 → 1) until a pill. */
static int
target_simple_echo (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocSimpleQueue *in = MPROC_SIMPLE_QUEUE (mproc_process_get_object (process, 0));
  MprocSimpleQueue *out = MPROC_SIMPLE_QUEUE (mproc_process_get_object (process, 1));

  for (;;)
    {
      g_autoptr(GVariant) v = mproc_simple_queue_get (in, NULL, NULL);

      if (v == NULL)
        return 2;
      mproc_simple_queue_put (out, v, NULL, NULL);
      if (g_variant_is_of_type (v, G_VARIANT_TYPE_UNIT))
        return 0;
    }
}

/* --- Helpers ----------------------------------------------------------- */

static MprocProcess *
new_process (gconstpointer data, const char *target, GVariant *args)
{
  g_autoptr(MprocContext) context = mproc_context_new (GPOINTER_TO_INT (data));

  return mproc_process_new_with_context (context, target, args);
}

static MprocQueue *
queue_new (guint maxsize, gsize capacity)
{
  g_autoptr(GError) error = NULL;
  MprocQueue *queue = mproc_queue_new_full (maxsize, capacity, &error);

  g_assert_no_error (error);
  g_assert_nonnull (queue);
  return queue;
}


static GVariant *
all_types (void)
{
  GVariantBuilder b;
  GVariantBuilder dict;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("av"));
#define ADD(v) g_variant_builder_add (&b, "v", v)
  ADD (g_variant_new_boolean (TRUE));
  ADD (g_variant_new_byte (200));
  ADD (g_variant_new_int16 (-3));
  ADD (g_variant_new_uint16 (65535));
  ADD (g_variant_new_int32 (G_MININT32));
  ADD (g_variant_new_uint32 (G_MAXUINT32));
  ADD (g_variant_new_int64 (G_MININT64));
  ADD (g_variant_new_uint64 (G_MAXUINT64));
  ADD (g_variant_new_double (3.25));
  ADD (g_variant_new_string (""));
  ADD (g_variant_new_string ("héllo wörld"));
  ADD (g_variant_new_object_path ("/org/gnome/Mproc"));
  ADD (g_variant_new_signature ("a{sv}"));
  ADD (g_variant_new_handle (3));
  ADD (g_variant_new ("ms", NULL));
  ADD (g_variant_new ("ms", "maybe"));
  ADD (g_variant_new ("mi", NULL));
  ADD (g_variant_new ("mmi", NULL));
  ADD (g_variant_new ("ai", NULL));
  ADD (g_variant_new ("as", NULL));
  ADD (g_variant_new_parsed ("[1, 2, 3]"));
  ADD (g_variant_new_parsed ("[['a', 'b'], @as [], ['c']]"));
  ADD (g_variant_new ("()"));
  ADD (g_variant_new ("(i)", 1));
  ADD (g_variant_new_parsed ("(1, 'two', [3.0], (byte 4, <5>))"));
  ADD (g_variant_new_variant (g_variant_new_variant (g_variant_new_int32 (7))));
  ADD (g_variant_new ("a{sv}", NULL));
  g_variant_builder_init (&dict, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&dict, "{sv}", "k", g_variant_new_string ("v"));
  g_variant_builder_add (&dict, "{sv}", "n", g_variant_new_parsed ("{1: [true]}"));
  ADD (g_variant_builder_end (&dict));
  ADD (g_variant_new_parsed ("{'a': <1>, 'b': <('x', @ay [])>}"));
  ADD (g_variant_new_parsed ("@a(sa{ia(y)}) []"));
  ADD (g_variant_new_bytestring ("bytes"));
#undef ADD
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

/* --- Tests: with processes --------------------------------------------- */

static void
test_round_trip (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) to = queue_new (0, 0);
  g_autoptr(MprocQueue) from = queue_new (0, 0);
  g_autoptr(MprocProcess) process = new_process (data, "echo", NULL);
  g_autoptr(GVariant) values = all_types ();
  gsize n = g_variant_n_children (values);

  g_test_summary ("Every class of GVariant type crosses to a child and back unchanged, in order");

  mproc_process_add_object (process, MPROC_SHAREABLE (to));
  mproc_process_add_object (process, MPROC_SHAREABLE (from));
  g_assert_true (mproc_process_start (process, NULL));

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) v = g_variant_get_child_value (values, i);
      g_autoptr(GVariant) inner = g_variant_get_variant (v);

      g_assert_true (mproc_queue_put (to, inner, -1, NULL, NULL));
    }
  g_assert_true (mproc_queue_put (to, g_variant_new_string ("__stop__"), -1, NULL, NULL));

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = g_variant_get_child_value (values, i);
      g_autoptr(GVariant) inner = g_variant_get_variant (v);
      g_autoptr(GVariant) got = mproc_queue_get (from, 10 * G_USEC_PER_SEC, NULL, &error);

      if (error != NULL)
        g_printerr ("at %zu (%s)\n", i, g_variant_get_type_string (inner));
      g_assert_no_error (error);
      g_assert_cmpstr (g_variant_get_type_string (got), ==, g_variant_get_type_string (inner));
      g_assert_true (g_variant_equal (got, inner));
    }
  g_clear_pointer (&values, g_variant_unref);
  g_variant_unref (mproc_queue_get (from, -1, NULL, NULL));
  test_join_ok (process, 0);
  g_clear_object (&process);
  g_clear_object (&to);
  g_clear_object (&from);
  test_leak_check_end (&check);
}

static void
test_int64 (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  static const gint64 numbers[] = { 0, 1, -1, 42, G_MININT64, G_MAXINT64, 1 << 20 };
  g_autoptr(MprocQueue) to = queue_new (0, 0);
  g_autoptr(MprocQueue) from = queue_new (0, 0);
  g_autoptr(MprocProcess) process = new_process (data, "echo", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) pill = NULL;
  gint64 got = 7;

  g_test_summary ("put_int64() and get_int64() exchange the same messages as put() and get() "
                  "of an int64 GVariant, across processes; another type is an error, and only "
                  "that message is lost");

  mproc_process_add_object (process, MPROC_SHAREABLE (to));
  mproc_process_add_object (process, MPROC_SHAREABLE (from));
  g_assert_true (mproc_process_start (process, NULL));

  /* the child echoes with get() and put() of GVariants */
  for (gsize i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      g_assert_true (mproc_queue_put_int64 (to, numbers[i], -1, NULL, &error));
      g_assert_no_error (error);
      if (i == 2)
        g_assert_true (mproc_queue_put (to, g_variant_new_string ("not a number"), -1, NULL, NULL));
    }
  g_assert_true (mproc_queue_put (to, g_variant_new_string ("__stop__"), -1, NULL, NULL));

  for (gsize i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      g_assert_true (mproc_queue_get_int64 (from, &got, 10 * G_USEC_PER_SEC, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpint (got, ==, numbers[i]);
      if (i == 2)
        {
          g_assert_false (mproc_queue_get_int64 (from, &got, 10 * G_USEC_PER_SEC, NULL, &error));
          g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
          g_clear_error (&error);
          g_assert_cmpint (got, ==, numbers[i]);
        }
    }
  pill = mproc_queue_get (from, 10 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (pill, NULL), ==, "__stop__");
  test_join_ok (process, 0);

  g_assert_false (mproc_queue_get_int64 (from, NULL, 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
  g_clear_error (&error);

  g_clear_object (&process);
  g_clear_object (&to);
  g_clear_object (&from);
  test_leak_check_end (&check);
}

static void
test_many_to_many (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  const guint n_producers = 3, n_consumers = 2;
  const gint64 per = 3000;
  g_autoptr(MprocQueue) queue = queue_new (64, 16 * 1024);
  g_autoptr(MprocQueue) results = queue_new (0, 0);
  g_autoptr(GPtrArray) procs = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 count = 0, sum = 0, want_sum = 0;

  g_test_summary ("N producers × M consumers: every message is received exactly once "
                  "(count and checksum), through a small bounded ring");

  for (guint p = 0; p < n_producers; p++)
    {
      MprocProcess *process = new_process (data, "produce", g_variant_new ("(xx)", (gint64) p * 1000000, per));

      mproc_process_add_object (process, MPROC_SHAREABLE (queue));
      g_ptr_array_add (procs, process);
      for (gint64 i = 0; i < per; i++)
        want_sum += p * 1000000 + i;
    }
  for (guint c = 0; c < n_consumers; c++)
    {
      MprocProcess *process = new_process (data, "consume", NULL);

      mproc_process_add_object (process, MPROC_SHAREABLE (queue));
      mproc_process_add_object (process, MPROC_SHAREABLE (results));
      g_ptr_array_add (procs, process);
    }
  for (guint i = 0; i < procs->len; i++)
    g_assert_true (mproc_process_start (procs->pdata[i], NULL));
  for (guint p = 0; p < n_producers; p++)
    test_join_ok (procs->pdata[p], 0);
  for (guint c = 0; c < n_consumers; c++)
    g_assert_true (mproc_queue_put (queue, g_variant_new ("()"), -1, NULL, NULL));
  for (guint c = 0; c < n_consumers; c++)
    {
      g_autoptr(GVariant) r = mproc_queue_get (results, 20 * G_USEC_PER_SEC, NULL, NULL);
      gint64 n, s;

      g_assert_nonnull (r);
      g_variant_get (r, "(xx)", &n, &s);
      count += n;
      sum += s;
    }
  for (guint c = 0; c < n_consumers; c++)
    test_join_ok (procs->pdata[n_producers + c], 0);
  g_assert_cmpint (count, ==, n_producers * per);
  g_assert_cmpint (sum, ==, want_sum);
  g_assert_true (mproc_queue_is_empty (queue));

  g_clear_pointer (&procs, g_ptr_array_unref);
  g_clear_object (&queue);
  g_clear_object (&results);
  test_leak_check_end (&check);
}

static void
test_ordering (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 8192);
  g_autoptr(MprocProcess) process = new_process (data, "produce", g_variant_new ("(xx)", (gint64) 0, (gint64) 20000));

  g_test_summary ("Messages from one producer arrive in order, through a ring that wraps often");
  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  g_assert_true (mproc_process_start (process, NULL));
  for (gint64 i = 0; i < 20000; i++)
    {
      g_autoptr(GVariant) v = mproc_queue_get (queue, 10 * G_USEC_PER_SEC, NULL, NULL);

      g_assert_nonnull (v);
      g_assert_cmpint (g_variant_get_int64 (v), ==, i);
    }
  test_join_ok (process, 0);
  g_clear_object (&process);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_large (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 0);
  g_autoptr(MprocQueue) back = queue_new (0, 0);
  g_autoptr(MprocProcess) process = new_process (data, "echo", NULL);
  gsize size = 64 * 1024 * 1024;
  guint8 *payload = g_malloc (size);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) got = NULL;
  g_autoptr(GVariant) small = NULL;

  g_test_summary ("A 64 MiB message (16 × the ring) goes to a child and back, between small ones");
  for (gsize i = 0; i < size; i++)
    payload[i] = (guint8) (i * 7 + (i >> 13));
  value = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, payload, size, TRUE, g_free, payload));

  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  mproc_process_add_object (process, MPROC_SHAREABLE (back));
  g_assert_true (mproc_process_start (process, NULL));
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), -1, NULL, NULL));
  g_assert_true (mproc_queue_put (queue, value, -1, NULL, NULL));
  g_assert_true (mproc_queue_put (queue, g_variant_new_string ("__stop__"), -1, NULL, NULL));

  small = mproc_queue_get (back, -1, NULL, NULL);
  g_assert_cmpint (g_variant_get_int32 (small), ==, 1);
  got = mproc_queue_get (back, -1, NULL, NULL);
  g_assert_true (g_variant_equal (got, value));
  g_clear_pointer (&small, g_variant_unref);
  small = mproc_queue_get (back, -1, NULL, NULL);
  g_assert_cmpstr (g_variant_get_string (small, NULL), ==, "__stop__");
  test_join_ok (process, 0);
  g_clear_object (&process);
  g_clear_object (&queue);
  g_clear_object (&back);
  test_leak_check_end (&check);
}

static void
test_producer_killed (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 4096);
  g_autoptr(MprocProcess) process = new_process (GINT_TO_POINTER (MPROC_START_METHOD_FORK), "put-large-killed",
                                                 g_variant_new_uint64 (24 << 20));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  g_test_summary ("A producer SIGKILLed in the middle of writing a large message: nothing of it "
                  "is seen, and the queue goes on for other producers and consumers");
  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  g_assert_true (mproc_process_start (process, NULL));
  test_join_ok (process, -SIGKILL);

  v = mproc_queue_get (queue, 200 * 1000, NULL, &error);
  g_assert_null (v);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  /* the dead writer's lock is taken over */
  g_assert_true (mproc_queue_put (queue, g_variant_new_string ("after"), 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  v = mproc_queue_get (queue, 5 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "after");

  g_clear_object (&process);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_consumer_killed (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 4096);
  g_autoptr(MprocQueue) results = queue_new (0, 0);
  g_autoptr(MprocProcess) victim = new_process (GINT_TO_POINTER (MPROC_START_METHOD_FORK), "get-killed", NULL);
  g_autoptr(MprocProcess) survivor = new_process (GINT_TO_POINTER (MPROC_START_METHOD_FORK), "consume", NULL);
  g_autoptr(GVariant) r = NULL;
  g_autoptr(GVariant) large = NULL;
  g_autoptr(GError) error = NULL;
  gsize size = 256 * 1024;
  gpointer payload;
  gint64 n, s;

  g_test_summary ("A consumer SIGKILLed in the middle of receiving a message: the message stays "
                  "in the queue, and another consumer takes over its lock and gets it");
  mproc_process_add_object (victim, MPROC_SHAREABLE (queue));
  mproc_process_add_object (survivor, MPROC_SHAREABLE (queue));
  mproc_process_add_object (survivor, MPROC_SHAREABLE (results));
  payload = g_malloc0 (size);
  large = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, payload, size,
                                                       TRUE, g_free, payload));
  g_assert_true (mproc_queue_put (queue, large, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_process_start (victim, NULL));
  test_join_ok (victim, -SIGKILL);
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 1);

  r = mproc_queue_get (queue, 10 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (r, large));
  g_clear_pointer (&r, g_variant_unref);

  g_assert_true (mproc_process_start (survivor, NULL));
  g_assert_true (mproc_queue_put (queue, g_variant_new_int64 (42), -1, NULL, NULL));
  g_assert_true (mproc_queue_put (queue, g_variant_new ("()"), -1, NULL, NULL));
  r = mproc_queue_get (results, 10 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (r, "(xx)", &n, &s);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (s, ==, 42);
  test_join_ok (survivor, 0);

  g_clear_object (&victim);
  g_clear_object (&survivor);
  g_clear_object (&queue);
  g_clear_object (&results);
  test_leak_check_end (&check);
}

static void
test_joinable (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocJoinableQueue) queue = mproc_joinable_queue_new (0, NULL);
  g_autoptr(MprocProcess) process = new_process (data, "joinable-worker", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  g_test_summary ("join() returns once a child has marked every item done; task_done() "
                  "beyond the count fails");
  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  for (int i = 0; i < 20; i++)
    g_assert_true (mproc_queue_put (MPROC_QUEUE (queue), g_variant_new_int32 (i), -1, NULL, NULL));
  g_assert_true (mproc_queue_put (MPROC_QUEUE (queue), g_variant_new ("()"), -1, NULL, NULL));
  g_assert_false (mproc_joinable_queue_join (queue, 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_assert_true (mproc_process_start (process, NULL));
  mproc_joinable_queue_join_async (queue, 20 * G_USEC_PER_SEC, NULL, test_store_result, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (mproc_joinable_queue_join_finish (queue, result, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_joinable_queue_join (queue, 0, NULL, &error));

  g_assert_false (mproc_joinable_queue_task_done (queue, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES);
  test_join_ok (process, 0);
  g_clear_object (&result);
  g_clear_object (&process);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_simple (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocSimpleQueue) to = mproc_simple_queue_new (NULL);
  g_autoptr(MprocSimpleQueue) from = mproc_simple_queue_new (NULL);
  g_autoptr(MprocProcess) process = new_process (data, "simple-echo", NULL);
  g_autoptr(GError) error = NULL;

  g_test_summary ("SimpleQueue: put, get, empty and close, through a child");
  mproc_process_add_object (process, MPROC_SHAREABLE (to));
  mproc_process_add_object (process, MPROC_SHAREABLE (from));
  g_assert_true (mproc_simple_queue_is_empty (to));
  g_assert_true (mproc_process_start (process, NULL));
  for (int i = 0; i < 100; i++)
    g_assert_true (mproc_simple_queue_put (to, g_variant_new_int32 (i), NULL, NULL));
  g_assert_true (mproc_simple_queue_put (to, g_variant_new ("()"), NULL, NULL));
  for (int i = 0; i < 100; i++)
    {
      g_autoptr(GVariant) v = mproc_simple_queue_get (from, NULL, &error);

      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (v), ==, i);
    }
  g_variant_unref (mproc_simple_queue_get (from, NULL, NULL));
  test_join_ok (process, 0);
  g_assert_true (mproc_simple_queue_is_empty (from));
  mproc_simple_queue_close (from);
  g_assert_null (mproc_simple_queue_get (from, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_clear_object (&process);
  g_clear_object (&to);
  g_clear_object (&from);
  test_leak_check_end (&check);
}

/* --- Tests: in process -------------------------------------------------- */

static void
test_full_empty_timeouts (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  gint64 start;

  g_test_summary ("FULL and EMPTY without waiting; TIMED_OUT after the timeout; qsize, empty, full");
  queue = queue_new (2, 0);
  g_assert_cmpuint (mproc_queue_get_maxsize (queue), ==, 2);
  g_assert_true (mproc_queue_is_empty (queue));
  g_assert_null (mproc_queue_get_nowait (queue, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_EMPTY);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  g_assert_null (mproc_queue_get (queue, 50 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_clear_error (&error);

  g_assert_true (mproc_queue_put_nowait (queue, g_variant_new_int32 (1), NULL));
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), 0, NULL, NULL));
  g_assert_true (mproc_queue_is_full (queue));
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 2);
  g_assert_false (mproc_queue_put_nowait (queue, g_variant_new_int32 (3), &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_FULL);
  g_clear_error (&error);
  g_assert_false (mproc_queue_put (queue, g_variant_new_int32 (3), 30 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  v = mproc_queue_get_nowait (queue, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 1);
  g_assert_false (mproc_queue_is_full (queue));

  mproc_queue_close (queue);
  mproc_queue_join_thread (queue);
  mproc_queue_cancel_join_thread (queue);
  g_assert_true (mproc_queue_is_closed (queue));
  g_assert_false (mproc_queue_put (queue, g_variant_new_int32 (3), -1, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static gpointer
cancel_later (gpointer data)
{
  g_usleep (50 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_cancel (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 0);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable2 = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GThread) thread = NULL;
  g_autoptr(GVariant) v = NULL;

  g_test_summary ("A blocked get and a pending get_async are cancelled promptly; the queue stays usable");
  thread = g_thread_new ("canceller", cancel_later, cancellable);
  g_assert_null (mproc_queue_get (queue, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_thread_join (g_steal_pointer (&thread));

  mproc_queue_get_async (queue, -1, cancellable2, test_store_result, &result);
  g_main_context_iteration (NULL, FALSE);
  g_cancellable_cancel (cancellable2);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (mproc_queue_get_finish (queue, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&result);

  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (5), -1, NULL, NULL));
  v = mproc_queue_get (queue, -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 5);
  g_clear_object (&result);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

typedef struct
{
  MprocQueue *queue;
  guint       received;
  guint       ticks;
  GMainLoop  *loop;
} LoopData;

static gboolean
tick_cb (gpointer data)
{
  ((LoopData *) data)->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean
readable_cb (gpointer data)
{
  LoopData *d = data;
  g_autoptr(GVariant) v = NULL;

  while ((v = mproc_queue_get_nowait (d->queue, NULL)) != NULL)
    {
      g_assert_cmpint (g_variant_get_int64 (v), ==, d->received);
      d->received++;
      g_clear_pointer (&v, g_variant_unref);
    }
  if (d->received == 2000)
    g_main_loop_quit (d->loop);
  return G_SOURCE_CONTINUE;
}

static void
got_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  LoopData *d = data;
  g_autoptr(GVariant) v = mproc_queue_get_finish (MPROC_QUEUE (source), result, NULL);

  g_assert_nonnull (v);
  g_assert_cmpint (g_variant_get_int64 (v), ==, d->received);
  if (++d->received == 2000)
    g_main_loop_quit (d->loop);
  else
    mproc_queue_get_async (d->queue, -1, NULL, got_cb, d);
}

static void
test_main_loop (gconstpointer data)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 8192);
  g_autoptr(MprocProcess) p1 = new_process (data, "produce", g_variant_new ("(xx)", (gint64) 0, (gint64) 2000));
  g_autoptr(MprocProcess) p2 = new_process (data, "produce", g_variant_new ("(xx)", (gint64) 0, (gint64) 2000));
  LoopData d = { queue, 0, 0, g_main_loop_new (NULL, FALSE) };
  GSource *source;
  guint tick;

  g_test_summary ("A GMainLoop consumes a queue with get_async and with a readable GSource "
                  "while a timeout source keeps running");
  mproc_process_add_object (p1, MPROC_SHAREABLE (queue));
  mproc_process_add_object (p2, MPROC_SHAREABLE (queue));
  tick = g_timeout_add (1, tick_cb, &d);

  g_assert_true (mproc_process_start (p1, NULL));
  mproc_queue_get_async (queue, -1, NULL, got_cb, &d);
  g_main_loop_run (d.loop);
  test_join_ok (p1, 0);
  g_assert_cmpuint (d.received, ==, 2000);

  d.received = 0;
  source = mproc_queue_create_source (queue);
  g_source_set_callback (source, readable_cb, &d, NULL);
  g_source_attach (source, NULL);
  g_assert_true (mproc_process_start (p2, NULL));
  g_main_loop_run (d.loop);
  g_source_destroy (source);
  g_source_unref (source);
  test_join_ok (p2, 0);
  g_assert_cmpuint (d.received, ==, 2000);
  g_assert_cmpuint (d.ticks, >, 0);
  g_source_remove (tick);
  g_main_loop_unref (d.loop);

  g_clear_object (&p1);
  g_clear_object (&p2);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static gboolean
never_cb (gpointer user_data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

static void
test_source_destroyed_waiting (void)
{
  TestLeakCheck check;
  g_autoptr(MprocQueue) queue = NULL;
  GSource *source;

  g_test_summary ("A readable source destroyed while it waits on an empty queue is freed");
  test_leak_check_begin (&check);

  queue = mproc_queue_new (0, NULL);
  source = mproc_queue_create_source (queue);
  g_source_set_callback (source, never_cb, NULL, NULL);
  g_source_attach (source, NULL);
  /* prepare() arms the wait */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_main_context_iteration (NULL, FALSE);
  g_source_destroy (source);
  g_source_unref (source);
  g_clear_object (&queue);
  /* the wait's cancellation completes from the context */
  test_leak_check_end (&check);
}

static void
test_idle_wait_sleeps (void)
{
  TestLeakCheck check;
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) value = NULL;
  gint64 spin = mproc_wait_get_spin_usec ();
  gint64 cpu;

  g_test_summary ("A consumer waiting on an empty queue sleeps: it does not wake itself");
  test_leak_check_begin (&check);
  queue = mproc_queue_new (0, NULL);
  mproc_wait_set_spin_usec (0);

  cpu = test_thread_cpu_usec ();
  value = mproc_queue_get (queue, 300 * 1000, NULL, &error);
  cpu = test_thread_cpu_usec () - cpu;
  mproc_wait_set_spin_usec (spin);

  g_assert_null (value);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (cpu, <, 100 * 1000);

  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_malformed (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 8192);
  MprocRing *ring = mproc_queue_get_ring (queue, NULL);
  static const guint8 garbage[] = { 0xff, 0x01, 0x00, 'z', '(' };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;

  g_test_summary ("Malformed bytes and a corrupt record header in the ring give INVALID_MESSAGE, "
                  "and the queue stays usable");

  mproc_ring_inject_raw (ring, garbage, sizeof garbage);
  mproc_ring_inject_raw (ring, "", 0);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), -1, NULL, NULL));
  g_assert_null (mproc_queue_get (queue, 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_null (mproc_queue_get (queue, 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  v = mproc_queue_get (queue, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 1);
  g_clear_pointer (&v, g_variant_unref);

  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), -1, NULL, NULL));
  mproc_ring_corrupt_next (ring);
  g_assert_null (mproc_queue_get (queue, 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (3), -1, NULL, NULL));
  v = mproc_queue_get (queue, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, 3);

  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static gpointer
put_huge (gpointer data)
{
  gsize size = 256 * 1024 * 1024;
  guint8 *payload = g_malloc (size);

  memset (payload, 0xa5, size);
  payload[size - 1] = 1;
  return GINT_TO_POINTER (mproc_queue_put (data, g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, payload, size,
                                                                          TRUE, g_free, payload),
                                           -1, NULL, NULL));
}

static void
test_huge (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0, 0);
  g_autoptr(GThread) t1 = NULL;
  g_autoptr(GThread) t2 = NULL;

  g_test_summary ("Two producers of 256 MiB messages at once: both arrive whole, no deadlock");
  if (!g_test_slow ())
    {
      g_test_skip ("256 MiB × 2: run with -m slow");
      g_free (check.fds);
      return;
    }
  t1 = g_thread_new ("huge1", put_huge, queue);
  t2 = g_thread_new ("huge2", put_huge, queue);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(GVariant) v = mproc_queue_get (queue, 60 * G_USEC_PER_SEC, NULL, NULL);
      gsize n;
      const guint8 *p = g_variant_get_fixed_array (v, &n, 1);

      g_assert_cmpuint (n, ==, 256 * 1024 * 1024);
      g_assert_cmpint (p[0], ==, 0xa5);
      g_assert_cmpint (p[n - 1], ==, 1);
    }
  g_assert_true (GPOINTER_TO_INT (g_thread_join (g_steal_pointer (&t1))));
  g_assert_true (GPOINTER_TO_INT (g_thread_join (g_steal_pointer (&t2))));
  g_clear_object (&queue);
  test_leak_check_end (&check);
}



static void
test_construct (gconstpointer data)
{
  g_autoptr(MprocQueue) in = g_object_new (MPROC_TYPE_QUEUE, "maxsize", 4, NULL);
  g_autoptr(MprocJoinableQueue) out = NULL;
  g_autoptr(MprocSimpleQueue) simple_in = g_object_new (MPROC_TYPE_SIMPLE_QUEUE, NULL);
  g_autoptr(MprocSimpleQueue) simple_out = NULL;
  g_autoptr(MprocProcess) echo = new_process (data, "echo", NULL);
  g_autoptr(MprocProcess) simple_echo = new_process (data, "simple-echo", NULL);
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("Queues made by g_object_new() alone (a binding's new) and by "
                  "g_initable_new() carry messages to a child and back");

  out = g_initable_new (MPROC_TYPE_JOINABLE_QUEUE, NULL, &error, "maxsize", 4, NULL);
  g_assert_no_error (error);
  simple_out = g_initable_new (MPROC_TYPE_SIMPLE_QUEUE, NULL, &error, NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_queue_get_maxsize (in), ==, 4);

  mproc_process_add_object (echo, MPROC_SHAREABLE (in));
  mproc_process_add_object (echo, MPROC_SHAREABLE (out));
  g_assert_true (mproc_process_start (echo, &error));
  g_assert_true (mproc_queue_put (in, g_variant_new_string ("__stop__"), -1, NULL, &error));
  v = mproc_queue_get (MPROC_QUEUE (out), 30 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_variant_get_string (v, NULL), ==, "__stop__");
  g_clear_pointer (&v, g_variant_unref);
  g_assert_true (mproc_process_join (echo, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_cmpint (mproc_process_get_exit_code (echo), ==, 0);

  mproc_process_add_object (simple_echo, MPROC_SHAREABLE (simple_in));
  mproc_process_add_object (simple_echo, MPROC_SHAREABLE (simple_out));
  g_assert_true (mproc_process_start (simple_echo, &error));
  g_assert_true (mproc_simple_queue_put (simple_in, g_variant_new ("()"), NULL, &error));
  v = mproc_simple_queue_get (simple_out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_is_of_type (v, G_VARIANT_TYPE_UNIT));
  g_assert_true (mproc_process_join (simple_echo, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_cmpint (mproc_process_get_exit_code (simple_echo), ==, 0);
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("produce", target_produce, NULL, NULL);
  mproc_register_target ("consume", target_consume, NULL, NULL);
  mproc_register_target ("echo", target_echo, NULL, NULL);
  mproc_register_target ("put-large", target_put_large, NULL, NULL);
  mproc_register_target ("put-large-killed", target_put_large_killed, NULL, NULL);
  mproc_register_target ("get-killed", target_get_killed, NULL, NULL);
  mproc_register_target ("joinable-worker", target_joinable_worker, NULL, NULL);
  mproc_register_target ("simple-echo", target_simple_echo, NULL, NULL);
  g_type_ensure (MPROC_TYPE_QUEUE);
  g_type_ensure (MPROC_TYPE_JOINABLE_QUEUE);
  g_type_ensure (MPROC_TYPE_SIMPLE_QUEUE);
  test_init (&argc, &argv);

  test_add_method_test ("/mproc/queue", "round-trip", test_round_trip);
  test_add_method_test ("/mproc/queue", "construct", test_construct);
  test_add_method_test ("/mproc/queue", "int64", test_int64);
  test_add_method_test ("/mproc/queue", "many-to-many", test_many_to_many);
  test_add_method_test ("/mproc/queue", "simple", test_simple);
  test_add_method_test ("/mproc/queue", "joinable", test_joinable);
  g_test_add_data_func ("/mproc/queue/ordering/fork", GINT_TO_POINTER (MPROC_START_METHOD_FORK), test_ordering);
  g_test_add_data_func ("/mproc/queue/large/forkserver", GINT_TO_POINTER (MPROC_START_METHOD_FORKSERVER), test_large);
  g_test_add_data_func ("/mproc/queue/main-loop/fork", GINT_TO_POINTER (MPROC_START_METHOD_FORK), test_main_loop);
  g_test_add_func ("/mproc/queue/producer-killed", test_producer_killed);
  g_test_add_func ("/mproc/queue/consumer-killed", test_consumer_killed);
  g_test_add_func ("/mproc/queue/full-empty-timeouts", test_full_empty_timeouts);
  g_test_add_func ("/mproc/queue/get/cancelled", test_cancel);
  g_test_add_func ("/mproc/queue/malformed", test_malformed);
  g_test_add_func ("/mproc/queue/idle-wait-sleeps", test_idle_wait_sleeps);
  g_test_add_func ("/mproc/queue/source/destroyed-waiting", test_source_destroyed_waiting);
  g_test_add_func ("/mproc/queue/huge", test_huge);

  return g_test_run ();
}
