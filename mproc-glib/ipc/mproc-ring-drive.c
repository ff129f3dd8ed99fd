/* mproc-ring-drive.c: waiting on the message ring, sync and async
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-ring-ops-private.h: the steps live in mproc-ring.c, and this
 * file waits between them.
 */

#include "config.h"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-ring-ops-private.h"
#include "mproc-wire-private.h"

/* ------------------------------------------------------------------------ */
/* Driving the steps: sync                                                  */

typedef enum { OP_PUT, OP_GET, OP_POLL, OP_JOIN } OpKind;

static void
set_would_block (OpKind   kind,
                 GError **error)
{
  switch (kind)
    {
    case OP_PUT:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FULL, _("The queue is full"));
      break;
    case OP_GET:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_EMPTY, _("The queue is empty"));
      break;
    case OP_POLL:
    case OP_JOIN:
    default:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("Timed out"));
      break;
    }
}

static void
set_broken (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                       _("The other end of the connection is closed"));
}

static void
op_abandon (OpKind   kind,
            gpointer op)
{
  if (kind == OP_PUT)
    mproc_ring_put_op_release (op);
  else if (kind == OP_GET)
    mproc_ring_get_op_release (op);
}

static MprocWaitPoint *
op_wait_point (MprocRing *ring,
               OpKind     kind)
{
  switch (kind)
    {
    case OP_PUT: return ring->wp_space;
    case OP_JOIN: return ring->wp_done;
    case OP_GET:
    case OP_POLL:
    default: return ring->wp_data;
    }
}

static gboolean join_step (gpointer user_data, GError **error);

static MprocWaitCheck
op_check (OpKind kind)
{
  switch (kind)
    {
    case OP_PUT: return mproc_ring_put_step;
    case OP_JOIN: return join_step;
    case OP_GET:
    case OP_POLL:
    default: return mproc_ring_get_step;
    }
}

static int
op_sock (OpKind   kind,
         gpointer op)
{
  if (kind == OP_PUT)
    return ((PutOp *) op)->sock;
  if (kind == OP_GET || kind == OP_POLL)
    return ((GetOp *) op)->sock;
  return -1;
}

/* After a slice timed out: TRUE to go on waiting, FALSE with @error set. */
static gboolean
op_after_slice (MprocRing *ring,
                OpKind     kind,
                gpointer   op,
                gint64     deadline,
                gboolean   nowait,
                GError   **error)
{
  int sock = op_sock (kind, op);

  if (sock >= 0 && mproc_ring_sock_hup (sock))
    {
      if (kind == OP_GET || kind == OP_POLL)
        {
          GError *local_error = NULL;

          /* what was sent before the peer closed is still ours */
          ((GetOp *) op)->hup = TRUE;
          if (op_check (kind) (op, &local_error))
            return TRUE;
          if (local_error != NULL)
            {
              g_propagate_error (error, local_error);
              return FALSE;
            }
          if (kind == OP_POLL)
            return TRUE;
        }
      op_abandon (kind, op);
      set_broken (error);
      return FALSE;
    }

  if (nowait || (deadline >= 0 && g_get_monotonic_time () >= deadline))
    {
      op_abandon (kind, op);
      if (nowait)
        set_would_block (kind, error);
      else
        g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("Timed out"));
      return FALSE;
    }
  return TRUE;
}

/* Waits are cut in slices so that what no wake-up announces (a lock
 * holder that died, a connection's peer hanging up) is
 * noticed: short ones when it matters, else one second. */
static gint64
op_slice (MprocRing *ring,
          OpKind     kind,
          gpointer   op,
          gint64     deadline)
{
  gint64 slice = SLICE_USEC * 10;

  if (op_sock (kind, op) >= 0 ||
      (kind == OP_PUT && ((PutOp *) op)->watch.owner != 0) ||
      ((kind == OP_GET || kind == OP_POLL) && ((GetOp *) op)->watch.owner != 0))
    slice = SLICE_USEC;

  if (deadline >= 0)
    slice = CLAMP (deadline - g_get_monotonic_time (), 0, SLICE_USEC);
  return slice;
}

/* The count of waiters that state changes for @kind must wake. */
static guint32 *
op_waiters (MprocRing *ring,
            OpKind     kind)
{
  switch (kind)
    {
    case OP_PUT: return &ring->sh->space_waiters;
    case OP_GET:
    case OP_POLL: return &ring->sh->data_waiters;
    case OP_JOIN:
    default: return NULL;   /* wp_done: every change wakes */
    }
}

static gboolean
op_has_result (OpKind   kind,
               gpointer op)
{
  return kind == OP_GET && (((GetOp *) op)->result != NULL || ((GetOp *) op)->got_small);
}

/* Before counting itself as a waiter (from then on every change the peer
 * makes costs it a wake-up), a blocking put or get spins briefly on the
 * words its check depends on (the position the peer moves and the lock),
 * as the raw ring does: a peer a few hundred ns behind is caught with no
 * shared write at all.  Same budget and same rule (never on one usable
 * CPU) as the wait point's own spin.  Returns TRUE when the op finished
 * (*@success says how), FALSE to go on and wait. */
static gboolean
op_spin (MprocRing *ring,
         OpKind     kind,
         gpointer   op,
         gint64     deadline,
         gboolean  *success,
         GError   **error)
{
  RingShared *sh = ring->sh;
  MprocWaitCheck check = op_check (kind);
  gint64 spin = mproc_wait_get_spin_usec ();
  guint64 *pos;
  guint64 *lock;
  gint64 end;

  if (spin <= 0 || !mproc_spin_allowed ())
    return FALSE;
  if (kind == OP_PUT)
    {
      pos = &sh->tail;
      lock = &sh->wlock;
    }
  else if (kind == OP_GET || kind == OP_POLL)
    {
      pos = &sh->head;
      lock = &sh->rlock;
    }
  else
    return FALSE;

  end = g_get_monotonic_time () + spin;
  if (deadline >= 0 && deadline < end)
    end = deadline;

  for (;;)
    {
      guint64 p0 = __atomic_load_n (pos, __ATOMIC_ACQUIRE);
      guint64 l0 = __atomic_load_n (lock, __ATOMIC_ACQUIRE);
      GError *local_error = NULL;

      /* checked after the snapshot: a change in between is seen below */
      if (check (op, &local_error) || local_error != NULL)
        {
          *success = local_error == NULL;
          if (local_error != NULL)
            g_propagate_error (error, local_error);
          return TRUE;
        }

      for (;;)
        {
          guint i;

          for (i = 0; i < 64; i++)
            {
              if (__atomic_load_n (pos, __ATOMIC_RELAXED) != p0 ||
                  __atomic_load_n (lock, __ATOMIC_RELAXED) != l0)
                break;
              mproc_cpu_relax ();
            }
          if (i < 64)
            break;
          /* No progress for a while: the peer may be waiting for this
           * CPU (a loaded machine, or pinned together).  Letting it run
           * now, rather than sleeping and being woken for its next
           * message, is what keeps the two from trading the CPU once
           * per message. */
          sched_yield ();
          if (g_get_monotonic_time () >= end)
            return FALSE;
        }
    }
}

/* Returns TRUE when done; "done" for OP_POLL with hup set too. */
static gboolean
op_run_sync (MprocRing    *ring,
             OpKind        kind,
             gpointer      op,
             gint64        timeout_usec,
             GCancellable *cancellable,
             GError      **error)
{
  MprocWaitCheck check = op_check (kind);
  gint64 deadline;
  GError *local_error = NULL;

  mproc_ring_ensure (ring);

  /* fast path: no wait machinery at all */
  if (check (op, &local_error))
    return TRUE;
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;

  if (timeout_usec != 0)
    {
      gboolean success = FALSE;

      if (op_spin (ring, kind, op, deadline, &success, error))
        return success;
    }

  for (;;)
    {
      if (timeout_usec != 0)
        {
          gint64 slice = op_slice (ring, kind, op, deadline);
          guint32 *waiters = op_waiters (ring, kind);
          gboolean done;

          if (waiters != NULL)
            ring_waiter_add (waiters);
          done = mproc_wait_point_wait (op_wait_point (ring, kind), check, op, slice,
                                        cancellable, &local_error);
          if (waiters != NULL)
            ring_waiter_remove (waiters);
          if (done)
            return TRUE;
          if (!g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
            {
              op_abandon (kind, op);
              g_propagate_error (error, local_error);
              return FALSE;
            }
          g_clear_error (&local_error);
        }
      if (!op_after_slice (ring, kind, op, deadline, timeout_usec == 0, error))
        return FALSE;
      if (kind == OP_POLL && ((GetOp *) op)->hup)
        return TRUE;
      if (op_has_result (kind, op))
        return TRUE;
    }
}

gboolean
mproc_ring_put (MprocRing     *ring,
                GVariant      *value,
                GBytes        *bytes,
                int            sock,
                const int     *fds,
                guint          n_fds,
                gint64         timeout_usec,
                GCancellable  *cancellable,
                GError       **error)
{
  PutOp op = { NULL, };
  gboolean ret;

  mproc_ring_put_op_init (&op, ring, value, bytes, sock, fds, n_fds, TRUE);
  /* put_nowait() does not wait for room, but writes all of its body */
  op.deadline = timeout_usec <= 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  op.cancellable = cancellable;
  ret = op_run_sync (ring, OP_PUT, &op, timeout_usec, cancellable, error);
  mproc_ring_put_op_clear (&op);
  return ret;
}

/* A fixed-size basic value (@type, the @size low bytes of @bits) written
 * straight into the ring, as mproc_ring_put() writes the same value boxed
 * in a GVariant: no GVariant is built. */
gboolean
mproc_ring_put_fixed (MprocRing     *ring,
                      char           type,
                      guint64        bits,
                      gsize          size,
                      gint64         timeout_usec,
                      GCancellable  *cancellable,
                      GError       **error)
{
  char type_string[2] = { type, '\0' };
  PutOp op = { NULL, };
  gboolean ret;

  op.ring = ring;
  op.sock = -1;
  op.type = type_string;
  op.type_len = 1;
  op.is_fixed = TRUE;
  op.fixed = bits;
  op.value_size = size;
  op.size = size + 2;
  op.deadline = -1;
  op.cancellable = cancellable;
  ret = op_run_sync (ring, OP_PUT, &op, timeout_usec, cancellable, error);
  mproc_ring_put_op_clear (&op);
  return ret;
}

/* @op is zeroed. */
static void
get_op_init (GetOp     *op,
             MprocRing *ring,
             int        sock,
             gboolean   want_fds)
{
  op->ring = ring;
  op->sock = sock;
  if (want_fds)
    op->fds = mproc_fd_array_new ();
}

static GetOp *
get_op_new (MprocRing *ring,
            int        sock,
            gboolean   want_fds)
{
  GetOp *op = g_new0 (GetOp, 1);

  get_op_init (op, ring, sock, want_fds);
  return op;
}

GBytes *
mproc_ring_get (MprocRing     *ring,
                int            sock,
                GArray        *fds_out,
                gint64         timeout_usec,
                GCancellable  *cancellable,
                GError       **error)
{
  GetOp op = { NULL, };
  GBytes *ret = NULL;

  get_op_init (&op, ring, sock, fds_out != NULL);
  if (op_run_sync (ring, OP_GET, &op, timeout_usec, cancellable, error))
    {
      ret = g_steal_pointer (&op.result);
      if (fds_out != NULL)
        mproc_ring_move_fds (op.fds, fds_out);
    }
  mproc_ring_get_op_clear (&op);
  return ret;
}

GVariant *
mproc_ring_get_value (MprocRing     *ring,
                      gint64         timeout_usec,
                      GCancellable  *cancellable,
                      GError       **error)
{
  GetOp op = { NULL, };
  GVariant *ret = NULL;

  get_op_init (&op, ring, -1, FALSE);
  op.want_copy = TRUE;
  if (op_run_sync (ring, OP_GET, &op, timeout_usec, cancellable, error))
    {
      /* decoded with the read lock released: a malformed message costs
       * only itself */
      if (op.got_small)
        ret = mproc_wire_decode_data ((const guint8 *) op.small, op.small_len, error);
      else
        ret = mproc_wire_decode (op.result, error);
    }
  mproc_ring_get_op_clear (&op);
  return ret;
}

gboolean
mproc_ring_get_fixed (MprocRing     *ring,
                      char           type,
                      gsize          size,
                      guint64       *bits,
                      gint64         timeout_usec,
                      GCancellable  *cancellable,
                      GError       **error)
{
  GetOp op = { NULL, };
  gboolean ret = FALSE;

  get_op_init (&op, ring, -1, FALSE);
  op.want_copy = TRUE;
  if (op_run_sync (ring, OP_GET, &op, timeout_usec, cancellable, error))
    {
      const guint8 *small = (const guint8 *) op.small;

      *bits = 0;
      if (op.got_small && op.small_len == size + 2 && small[size] == '\0' && small[size + 1] == (guint8) type)
        {
          /* the value's serialised form is its bytes, little-endian here */
          memcpy (bits, small, size);
          ret = TRUE;
        }
      else
        {
          /* anything else is decoded as mproc_ring_get_value() would, and
           * dropped unless it is of @type after all */
          g_autoptr(GVariant) value = op.got_small
                                      ? mproc_wire_decode_data (small, op.small_len, error)
                                      : mproc_wire_decode (op.result, error);
          char want[2] = { type, '\0' };

          if (value != NULL && g_variant_is_of_type (value, G_VARIANT_TYPE (want)))
            {
              g_autoptr(GVariant) normal = g_variant_get_normal_form (value);

              if (g_variant_get_size (normal) == size)
                g_variant_store (normal, bits);
              ret = TRUE;
            }
          else if (value != NULL)
            g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                         _("The message is of type “%s”, not “%s”"),
                         g_variant_get_type_string (value), want);
        }
    }
  mproc_ring_get_op_clear (&op);
  return ret;
}

gboolean
mproc_ring_poll (MprocRing     *ring,
                 int            sock,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  GetOp *op = get_op_new (ring, sock, FALSE);
  gboolean ret;

  op->peek = TRUE;
  ret = op_run_sync (ring, OP_POLL, op, timeout_usec, cancellable, error);
  mproc_ring_get_op_free (op);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* Driving the steps: async                                                 */

typedef struct
{
  MprocRing *ring;
  OpKind     kind;
  gpointer   op;
  gint64     deadline;
  gboolean   nowait;
  MprocShm  *shm;       /* keeps *waiters mapped until the wait is over */
  guint32   *waiters;   /* counted in it while a wait is pending */
} AsyncOp;

static void
async_op_uncount (AsyncOp *a)
{
  if (a->waiters != NULL)
    {
      ring_waiter_remove (a->waiters);
      a->waiters = NULL;
    }
}

static void
async_op_free (gpointer data)
{
  AsyncOp *a = data;

  async_op_uncount (a);
  g_clear_pointer (&a->shm, mproc_shm_unref);

  if (a->kind == OP_PUT)
    mproc_ring_put_op_free (a->op);
  else if (a->kind == OP_JOIN)
    g_free (a->op);
  else
    mproc_ring_get_op_free (a->op);
  g_free (a);
}

static void async_arm (GTask *task);

static void
async_done_cb (gpointer  user_data,
               gboolean  success,
               GError   *error)
{
  g_autoptr(GTask) task = user_data;
  AsyncOp *a = g_task_get_task_data (task);
  GError *local_error = NULL;

  async_op_uncount (a);
  if (success)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
    {
      op_abandon (a->kind, a->op);
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  if (!op_after_slice (a->ring, a->kind, a->op, a->deadline, a->nowait, &local_error))
    {
      g_task_return_error (task, local_error);
      return;
    }
  if ((a->kind == OP_POLL && ((GetOp *) a->op)->hup) ||
      op_has_result (a->kind, a->op))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  async_arm (g_steal_pointer (&task));
}

/* Takes the task's reference. */
static void
async_arm (GTask *task)
{
  AsyncOp *a = g_task_get_task_data (task);
  gint64 slice = a->nowait ? 0 : op_slice (a->ring, a->kind, a->op, a->deadline);

  a->waiters = op_waiters (a->ring, a->kind);
  if (a->waiters != NULL)
    {
      if (a->shm == NULL)
        a->shm = mproc_shm_ref (a->ring->shm);
      ring_waiter_add (a->waiters);
    }
  /* a slice of 0 would never run the check: 1 µs does, once */
  mproc_wait_point_wait_async (op_wait_point (a->ring, a->kind), op_check (a->kind), a->op,
                               MAX (slice, 1), g_task_get_cancellable (task),
                               async_done_cb, task);
}

static void
async_start (MprocRing          *ring,
             gpointer            source_object,
             OpKind              kind,
             gpointer            op,
             gint64              timeout_usec,
             GCancellable       *cancellable,
             GAsyncReadyCallback callback,
             gpointer            user_data,
             gpointer            tag)
{
  g_autoptr(GTask) task = g_task_new (source_object, cancellable, callback, user_data);
  AsyncOp *a = g_new0 (AsyncOp, 1);

  /* An async operation keeps its own copy of a connection's socket, so that
   * closing the connection meanwhile cannot make it use a reused fd. */
  if (kind == OP_PUT && ((PutOp *) op)->sock >= 0)
    {
      ((PutOp *) op)->sock = fcntl (((PutOp *) op)->sock, F_DUPFD_CLOEXEC, 3);
      ((PutOp *) op)->own_sock = TRUE;
    }
  else if ((kind == OP_GET || kind == OP_POLL) && ((GetOp *) op)->sock >= 0)
    {
      ((GetOp *) op)->sock = fcntl (((GetOp *) op)->sock, F_DUPFD_CLOEXEC, 3);
      ((GetOp *) op)->own_sock = TRUE;
    }
  mproc_ring_ensure (ring);
  g_task_set_source_tag (task, tag);
  a->ring = ring;
  a->kind = kind;
  a->op = op;
  a->nowait = timeout_usec == 0;
  a->deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  if (kind == OP_PUT)
    {
      ((PutOp *) op)->deadline = timeout_usec <= 0 ? -1 : a->deadline;
      ((PutOp *) op)->cancellable = g_task_get_cancellable (task);
    }
  g_task_set_task_data (task, a, async_op_free);
  async_arm (g_steal_pointer (&task));
}

void
mproc_ring_put_async (MprocRing          *ring,
                      gpointer            source_object,
                      GVariant           *value,
                      GBytes             *bytes,
                      int                 sock,
                      const int          *fds,
                      guint               n_fds,
                      gint64              timeout_usec,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  async_start (ring, source_object, OP_PUT, mproc_ring_put_op_new (ring, value, bytes, sock, fds, n_fds),
               timeout_usec, cancellable, callback, user_data, mproc_ring_put_async);
}

gboolean
mproc_ring_put_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_ring_put_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
mproc_ring_get_async (MprocRing          *ring,
                      gpointer            source_object,
                      int                 sock,
                      gboolean            want_fds,
                      gint64              timeout_usec,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  async_start (ring, source_object, OP_GET, get_op_new (ring, sock, want_fds),
               timeout_usec, cancellable, callback, user_data, mproc_ring_get_async);
}

GBytes *
mproc_ring_get_finish (GAsyncResult  *result,
                       GArray        *fds_out,
                       GError       **error)
{
  AsyncOp *a;
  GetOp *op;

  /* only a get carries a GetOp: a task of any other operation must not be
   * read as one */
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_ring_get_async), NULL);

  a = g_task_get_task_data (G_TASK (result));
  if (!g_task_propagate_boolean (G_TASK (result), error) || a == NULL)
    return NULL;
  op = a->op;
  if (fds_out != NULL && op->fds != NULL)
    mproc_ring_move_fds (op->fds, fds_out);
  return g_steal_pointer (&op->result);
}

void
mproc_ring_poll_async (MprocRing          *ring,
                       gpointer            source_object,
                       int                 sock,
                       gint64              timeout_usec,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  GetOp *op = get_op_new (ring, sock, FALSE);

  op->peek = TRUE;
  async_start (ring, source_object, OP_POLL, op, timeout_usec, cancellable, callback, user_data,
               mproc_ring_poll_async);
}

gboolean
mproc_ring_poll_finish (GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_ring_poll_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* JoinableQueue                                                            */

typedef struct
{
  MprocRing *ring;
} JoinOp;

static gboolean
join_step (gpointer  user_data,
           GError  **error)
{
  JoinOp *op = user_data;

  return __atomic_load_n (&op->ring->sh->unfinished, __ATOMIC_ACQUIRE) == 0;
}

gboolean
mproc_ring_task_done (MprocRing  *ring,
                      GError    **error)
{
  guint32 old = __atomic_load_n (&ring->sh->unfinished, __ATOMIC_ACQUIRE);

  mproc_ring_ensure (ring);
  do
    {
      if (old == 0)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES,
                               _("task_done() called more times than there were items"));
          return FALSE;
        }
    }
  while (!__atomic_compare_exchange_n (&ring->sh->unfinished, &old, old - 1, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));

  if (old == 1)
    mproc_wait_point_wake (ring->wp_done, G_MAXINT);
  return TRUE;
}

gboolean
mproc_ring_join (MprocRing     *ring,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  JoinOp op = { ring };

  mproc_ring_ensure (ring);
  return mproc_wait_point_wait (ring->wp_done, join_step, &op, timeout_usec, cancellable, error);
}

void
mproc_ring_join_async (MprocRing          *ring,
                       gpointer            source_object,
                       gint64              timeout_usec,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  JoinOp *op = g_new0 (JoinOp, 1);

  op->ring = ring;
  async_start (ring, source_object, OP_JOIN, op, timeout_usec, cancellable, callback, user_data,
               mproc_ring_join_async);
}

gboolean
mproc_ring_join_finish (GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_ring_join_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* A GSource for "readable"                                                 */

typedef struct _SourceWait SourceWait;

typedef struct
{
  GSource       source;
  MprocRing    *ring;
  GObject      *owner;
  GCancellable *cancellable;   /* of the pending wait, NULL when none */
  SourceWait   *wait;          /* the pending wait, NULL when none */
  gboolean      ready;
} RingSource;

/* The pending wait does not own its source: a source destroyed while it
 * waits must still reach its dispose, which cancels the wait and detaches
 * it (source = NULL); the wait then only frees itself. */
struct _SourceWait
{
  GSource  *source;   /* not a ref; NULL once the source is disposed */
  MprocShm *shm;      /* keeps *waiters mapped */
  guint32  *waiters;  /* counted in it until done */
};

static gboolean
source_check_cb (gpointer  user_data,
                 GError  **error)
{
  SourceWait *w = user_data;

  if (w->source == NULL)
    return FALSE;
  return mproc_ring_has_data (((RingSource *) w->source)->ring);
}

static void
source_done_cb (gpointer  user_data,
                gboolean  success,
                GError   *error)
{
  SourceWait *w = user_data;
  RingSource *rs = (RingSource *) w->source;

  ring_waiter_remove (w->waiters);
  mproc_shm_unref (w->shm);
  if (rs != NULL)
    {
      rs->wait = NULL;
      if (success && !g_source_is_destroyed (w->source))
        {
          rs->ready = TRUE;
          g_source_set_ready_time (w->source, 0);
        }
      else if (!g_source_is_destroyed (w->source) &&
               g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
        {
          rs->ready = FALSE;   /* re-armed by prepare() */
        }
      if (!g_source_is_destroyed (w->source))
        g_clear_object (&rs->cancellable);
    }
  g_free (w);
}

static void
ring_source_arm (RingSource *rs)
{
  GMainContext *context = g_source_get_context (&rs->source);
  SourceWait *w;

  if (rs->cancellable != NULL || rs->ready || context == NULL)
    return;

  w = g_new0 (SourceWait, 1);
  w->source = &rs->source;
  rs->wait = w;
  w->shm = mproc_shm_ref (rs->ring->shm);
  w->waiters = &rs->ring->sh->data_waiters;
  ring_waiter_add (w->waiters);
  rs->cancellable = g_cancellable_new ();
  g_main_context_push_thread_default (context);
  mproc_wait_point_wait_async (rs->ring->wp_data, source_check_cb, w, -1, rs->cancellable,
                               source_done_cb, w);
  g_main_context_pop_thread_default (context);
}

static gboolean
ring_source_prepare (GSource *source,
                     gint    *timeout)
{
  RingSource *rs = (RingSource *) source;

  *timeout = -1;
  if (mproc_ring_has_data (rs->ring))
    return TRUE;
  rs->ready = FALSE;
  ring_source_arm (rs);
  return FALSE;
}

static gboolean
ring_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  RingSource *rs = (RingSource *) source;

  g_source_set_ready_time (source, -1);
  rs->ready = FALSE;
  if (callback == NULL)
    return G_SOURCE_REMOVE;
  return callback (user_data);
}

static void
ring_source_dispose (GSource *source)
{
  RingSource *rs = (RingSource *) source;

  if (rs->wait != NULL)
    {
      rs->wait->source = NULL;
      rs->wait = NULL;
    }
  if (rs->cancellable != NULL)
    g_cancellable_cancel (rs->cancellable);
}

static void
ring_source_finalize (GSource *source)
{
  RingSource *rs = (RingSource *) source;

  g_clear_object (&rs->cancellable);
  g_clear_object (&rs->owner);
}

static GSourceFuncs ring_source_funcs = {
  ring_source_prepare,
  NULL,
  ring_source_dispatch,
  ring_source_finalize,
  NULL, NULL,
};

GSource *
mproc_ring_source_new (MprocRing *ring,
                       GObject   *owner)
{
  GSource *source = g_source_new (&ring_source_funcs, sizeof (RingSource));
  RingSource *rs = (RingSource *) source;

  mproc_ring_ensure (ring);
  rs->ring = ring;
  rs->owner = g_object_ref (owner);   /* keeps @ring alive */
  g_source_set_dispose_function (source, ring_source_dispose);
  g_source_set_static_name (source, "[mproc] queue readable");
  return source;
}

