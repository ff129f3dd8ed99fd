/* test-ring-faults.c: the shared-memory ring of queues under faults
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Corrupt positions, large messages whose writer or reader is killed or
 * stopped half-way, counts after a reader dies, and lock words whose
 * holder's pid is alive but belongs to another process.  Every child is
 * stopped or killed at a named point of the ring (a fault hook), not
 * after a sleep.
 */

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-queue-private.h"
#include "test-util.h"

#define LARGE (64 << 20)

static MprocQueue *
queue_arg (MprocProcess *process, guint i)
{
  return MPROC_QUEUE (mproc_process_get_object (process, i));
}

static MprocRing *
ring_of (MprocQueue *queue)
{
  MprocRing *ring = mproc_queue_get_ring (queue, NULL);

  g_assert_nonnull (ring);
  return ring;
}

static GVariant *
large_value (gsize size, guint8 seed)
{
  guint8 *data = g_malloc (size);

  for (gsize i = 0; i < size; i += 4096)
    data[i] = (guint8) (seed + i / 4096);
  data[size - 1] = seed;
  return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, size, TRUE, g_free, data));
}

static MprocRingFault fault_point;
static int fault_signal;

/* Once: a stopped writer that goes on must not stop at its next piece. */
static void
signal_at_fault (MprocRingFault point)
{
  if (point == fault_point)
    {
      mproc_ring_set_fault_hook (NULL);
      raise (fault_signal);
    }
}

static void
set_fault (MprocRingFault point, int signo)
{
  fault_point = point;
  fault_signal = signo;
  mproc_ring_set_fault_hook (signal_at_fault);
}

/* --- Targets ----------------------------------------------------------- */

/* args "(bx)": adds the delta to the head (TRUE) or the tail of queue 0. */
static int
target_skew (MprocProcess *process, GVariant *args, gpointer user_data)
{
  gboolean head;
  gint64 delta;

  g_variant_get (args, "(bx)", &head, &delta);
  mproc_ring_test_skew (ring_of (queue_arg (process, 0)), head, delta);
  return 0;
}

/* Gets from queue 0, SIGKILLed at the fault point args "u". */
static int
target_get_killed_at (MprocProcess *process, GVariant *args, gpointer user_data)
{
  g_autoptr(GVariant) v = NULL;

  set_fault (g_variant_get_uint32 (args), SIGKILL);
  v = mproc_queue_get (queue_arg (process, 0), -1, NULL, NULL);
  return 1;
}

/* Puts a large message on queue 0, stopping itself half-way. */
static int
target_put_stopped (MprocProcess *process, GVariant *args, gpointer user_data)
{
  g_autoptr(GVariant) v = large_value (LARGE, 3);

  set_fault (MPROC_RING_FAULT_BODY_WRITTEN, SIGSTOP);
  return mproc_queue_put (queue_arg (process, 0), v, -1, NULL, NULL) ? 0 : 1;
}

/* Waits on queue 0 (a process that stays alive until told). */
static int
target_wait (MprocProcess *process, GVariant *args, gpointer user_data)
{
  g_autoptr(GVariant) v = mproc_queue_get (queue_arg (process, 0), 60 * G_USEC_PER_SEC, NULL, NULL);

  return v != NULL ? 0 : 1;
}

/* --- Helpers ----------------------------------------------------------- */

static MprocProcess *
start_child (const char *target, GVariant *args, MprocQueue *queue)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  MprocProcess *process = mproc_process_new_with_context (context, target, args);

  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  g_assert_true (mproc_process_start (process, NULL));
  return process;
}

static MprocQueue *
queue_new (gsize capacity)
{
  g_autoptr(GError) error = NULL;
  MprocQueue *queue = mproc_queue_new_full (0, capacity, &error);

  g_assert_no_error (error);
  return queue;
}

/* Whether @pid is stopped (state T in its stat), waiting up to 30 s. */
static gboolean
wait_stopped (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);

  for (int i = 0; i < 30000; i++)
    {
      g_autofree char *stat = NULL;
      const char *p;

      if (g_file_get_contents (path, &stat, NULL, NULL) &&
          (p = strrchr (stat, ')')) != NULL && p[1] == ' ' && p[2] == 'T')
        return TRUE;
      g_usleep (1000);
    }
  return FALSE;
}

static void
assert_int (MprocQueue *queue, gint32 expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = mproc_queue_get (queue, 5 * G_USEC_PER_SEC, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (g_variant_get_int32 (v), ==, expected);
}

/* --- Corrupt positions -------------------------------------------------- */

static void
test_misaligned (gconstpointer data)
{
  gboolean head = GPOINTER_TO_INT (data) & 1;
  gint64 delta = (GPOINTER_TO_INT (data) & 2) ? 64 << 20 : 4;
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0);
  g_autoptr(MprocProcess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) v = NULL;
  guint failures = 0;

  g_test_summary ("A sharer that moves the head or the tail to a misaligned or out-of-range "
                  "place: the next operation reports INVALID_MESSAGE, and the queue goes on");
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), 0, NULL, NULL));
  assert_int (queue, 1);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), 0, NULL, NULL));
  child = start_child ("skew", g_variant_new ("(bx)", head, delta), queue);
  test_join_ok (child, 0);

  /* what was in the queue is lost; nothing aborts, one call fails */
  for (int i = 0; i < 4; i++)
    {
      if (!mproc_queue_put (queue, g_variant_new_int32 (3), 0, NULL, &error))
        {
          g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
          g_clear_error (&error);
          failures++;
          continue;
        }
      v = mproc_queue_get (queue, 0, NULL, &error);
      if (v == NULL)
        {
          g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
          g_clear_error (&error);
          failures++;
          continue;
        }
      if (g_variant_get_int32 (v) == 3)
        break;
      g_clear_pointer (&v, g_variant_unref);
    }
  g_assert_cmpuint (failures, >=, 1);
  g_clear_pointer (&v, g_variant_unref);

  /* and everything works again, in the ring's normal form */
  for (gint32 i = 0; i < 2000; i++)
    {
      g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (i), 0, NULL, &error));
      g_assert_no_error (error);
      assert_int (queue, i);
    }
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 0);

  g_clear_object (&child);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

/* --- Large messages ------------------------------------------------------ */

static void
test_large_reader_killed (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0);
  g_autoptr(MprocProcess) reader = NULL;
  g_autoptr(GVariant) first = large_value (LARGE, 1);
  g_autoptr(GVariant) second = large_value (LARGE, 2);
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("A reader SIGKILLed in the middle of getting a 64 MiB message: a put of "
                  "another one returns within its timeout, and no message is lost");
  g_assert_true (mproc_queue_put (queue, first, 3 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  reader = start_child ("get-killed-at", g_variant_new_uint32 (MPROC_RING_FAULT_BODY_READ), queue);
  test_join_ok (reader, -SIGKILL);

  g_assert_true (mproc_queue_put (queue, second, 3 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 2);

  v = mproc_queue_get (queue, 10 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (v, first));
  g_clear_pointer (&v, g_variant_unref);
  v = mproc_queue_get (queue, 10 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (v, second));
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 0);

  g_clear_object (&reader);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_large_nowait_alone (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (4096);
  g_autoptr(GVariant) large = large_value (LARGE, 7);
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;

  g_test_summary ("put_nowait() of a message 16 384 times the ring, nobody reading, does not "
                  "block; the same process then gets it back, between small ones");
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), 0, NULL, &error));
  g_assert_true (mproc_queue_put (queue, large, 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 3);

  assert_int (queue, 1);
  v = mproc_queue_get (queue, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_equal (v, large));
  assert_int (queue, 2);

  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_large_writer_stopped (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0);
  g_autoptr(MprocProcess) writer = NULL;
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GError) error = NULL;
  gsize n;
  const guint8 *p;

  g_test_summary ("A get with a timeout while the writer of a 64 MiB message is stopped half-way "
                  "times out; once the writer goes on, the message arrives whole");
  writer = start_child ("put-stopped", NULL, queue);
  g_assert_true (wait_stopped (mproc_process_get_pid (writer)));

  v = mproc_queue_get (queue, G_USEC_PER_SEC, NULL, &error);
  g_assert_null (v);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_clear_error (&error);

  g_assert_cmpint (kill (mproc_process_get_pid (writer), SIGCONT), ==, 0);
  v = mproc_queue_get (queue, 30 * G_USEC_PER_SEC, NULL, &error);
  g_assert_no_error (error);
  p = g_variant_get_fixed_array (v, &n, 1);
  g_assert_cmpuint (n, ==, LARGE);
  g_assert_cmpint (p[0], ==, 3);
  g_assert_cmpint (p[n - 1], ==, 3);
  test_join_ok (writer, 0);

  g_clear_object (&writer);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_large_cancelled (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (4096);
  g_autoptr(GVariant) large = large_value (LARGE, 9);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  g_test_summary ("A put of a large message with a cancelled cancellable fails CANCELLED and "
                  "leaves nothing in the queue");
  g_cancellable_cancel (cancellable);
  g_assert_false (mproc_queue_put (queue, large, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 0);
  g_clear_error (&error);
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (5), 0, NULL, &error));
  assert_int (queue, 5);

  g_clear_object (&queue);
  test_leak_check_end (&check);
}

/* --- Counts and lock owners --------------------------------------------- */

static void
test_qsize_reader_killed (void)
{
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0);
  g_autoptr(MprocProcess) reader = NULL;

  g_test_summary ("A reader SIGKILLed after counting a message and before moving the tail: "
                  "the next reader gets that message, and qsize counts right");
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), 0, NULL, NULL));
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), 0, NULL, NULL));
  reader = start_child ("get-killed-at", g_variant_new_uint32 (MPROC_RING_FAULT_COUNTED), queue);
  test_join_ok (reader, -SIGKILL);

  assert_int (queue, 1);
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 1);
  assert_int (queue, 2);
  g_assert_cmpuint (mproc_queue_get_qsize (queue), ==, 0);

  g_clear_object (&reader);
  g_clear_object (&queue);
  test_leak_check_end (&check);
}

static void
test_lock_pid_reused (gconstpointer data)
{
  gboolean write = GPOINTER_TO_INT (data);
  TestLeakCheck check = { test_list_fds () };
  g_autoptr(MprocQueue) queue = queue_new (0);
  g_autoptr(MprocQueue) control = queue_new (0);
  g_autoptr(MprocProcess) other = NULL;
  g_autoptr(GError) error = NULL;
  guint64 me = mproc_ring_test_owner (ring_of (queue));
  guint64 stale;

  g_test_summary ("A lock word left by a dead holder whose pid now belongs to a live process "
                  "is taken over");
  other = start_child ("wait", NULL, control);
  /* the live process's pid, with the start time of another process */
  stale = (guint64) (guint32) mproc_process_get_pid (other) | ((me >> 32) ^ 0x5a5a) << 32;
  g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (1), 0, NULL, NULL));
  mproc_ring_test_set_lock (ring_of (queue), write, stale);

  if (write)
    {
      g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), 5 * G_USEC_PER_SEC, NULL, &error));
      g_assert_no_error (error);
      assert_int (queue, 1);
    }
  else
    {
      assert_int (queue, 1);
      g_assert_true (mproc_queue_put (queue, g_variant_new_int32 (2), 0, NULL, &error));
    }
  assert_int (queue, 2);

  g_assert_true (mproc_queue_put (control, g_variant_new_int32 (0), 0, NULL, NULL));
  test_join_ok (other, 0);
  g_clear_object (&other);
  g_clear_object (&queue);
  g_clear_object (&control);
  test_leak_check_end (&check);
}

int
main (int argc, char *argv[])
{
  mproc_register_target ("skew", target_skew, NULL, NULL);
  mproc_register_target ("get-killed-at", target_get_killed_at, NULL, NULL);
  mproc_register_target ("put-stopped", target_put_stopped, NULL, NULL);
  mproc_register_target ("wait", target_wait, NULL, NULL);
  g_type_ensure (MPROC_TYPE_QUEUE);
  test_init (&argc, &argv);

  g_test_add_data_func ("/mproc/ring/misaligned/tail", GINT_TO_POINTER (0), test_misaligned);
  g_test_add_data_func ("/mproc/ring/misaligned/head", GINT_TO_POINTER (1), test_misaligned);
  g_test_add_data_func ("/mproc/ring/out-of-range/tail", GINT_TO_POINTER (2), test_misaligned);
  g_test_add_data_func ("/mproc/ring/out-of-range/head", GINT_TO_POINTER (3), test_misaligned);
  g_test_add_func ("/mproc/ring/large/reader-killed", test_large_reader_killed);
  g_test_add_func ("/mproc/ring/large/nowait-alone", test_large_nowait_alone);
  g_test_add_func ("/mproc/ring/large/writer-stopped", test_large_writer_stopped);
  g_test_add_func ("/mproc/ring/large/cancelled", test_large_cancelled);
  g_test_add_func ("/mproc/ring/qsize/reader-killed", test_qsize_reader_killed);
  g_test_add_data_func ("/mproc/ring/lock/pid-reused/write", GINT_TO_POINTER (TRUE), test_lock_pid_reused);
  g_test_add_data_func ("/mproc/ring/lock/pid-reused/read", GINT_TO_POINTER (FALSE), test_lock_pid_reused);

  return g_test_run ();
}
