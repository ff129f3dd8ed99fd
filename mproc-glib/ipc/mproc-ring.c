/* mproc-ring.c: the shared-memory message ring of queues and pipes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-ring-private.h for the design.  Memory ordering: the holder of
 * the write lock is the only writer of head, n_put and pending; the holder
 * of the read lock the only writer of tail and n_got.  Record bytes are
 * published by the release store of head and consumed after an acquire
 * load of it; space is handed back by the release store of tail.
 */

#include "config.h"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-ring-body-private.h"
#include "mproc-ring-ops-private.h"
#include "mproc-owner-private.h"
#include "mproc-wire-private.h"





static MprocRingFaultHook fault_hook;

static inline void
ring_fault (MprocRingFault point)
{
  if (G_UNLIKELY (fault_hook != NULL))
    fault_hook (point);
}

void
mproc_ring_fault (MprocRingFault point)
{
  ring_fault (point);
}

void
mproc_ring_set_fault_hook (MprocRingFaultHook hook)
{
  fault_hook = hook;
}


/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */

gsize
mproc_ring_shm_size (gsize capacity)
{
  return HEADER_SIZE + capacity;
}

void
mproc_ring_init_shared (MprocShm      *shm,
                        gsize          offset,
                        gsize          capacity,
                        guint          maxsize,
                        MprocRingFlags flags)
{
  RingShared *sh = (RingShared *) ((guint8 *) mproc_shm_get_data (shm) + offset);

  g_assert (capacity >= 4096 && (capacity & (capacity - 1)) == 0);
  g_assert (offset + mproc_ring_shm_size (capacity) <= mproc_shm_get_size (shm));

  sh->magic = RING_MAGIC;
  sh->version = RING_VERSION;
  sh->capacity = capacity;
  sh->maxsize = maxsize;
  sh->flags = flags;
}

static gboolean
make_wait_points (MprocRing  *ring,
                  GError    **error)
{
  MprocWaitPoint *wps[3] = { NULL, };
  MprocWaitShared *shared[3] = { &ring->sh->wait_data, &ring->sh->wait_space, &ring->sh->wait_done };

  for (guint i = 0; i < 3; i++)
    {
      int fd = fcntl (ring->event_fd, F_DUPFD_CLOEXEC, 3);

      if (fd < 0)
        {
          int errsv = errno;

          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
        }
      else
        wps[i] = mproc_wait_point_new (shared[i], fd, error);

      if (wps[i] == NULL)
        {
          for (guint j = 0; j < i; j++)
            mproc_wait_point_free (wps[j]);
          return FALSE;
        }
    }

  /* Inherited handles only close their fds. */
  mproc_wait_point_free (ring->wp_data);
  mproc_wait_point_free (ring->wp_space);
  mproc_wait_point_free (ring->wp_done);
  ring->wp_data = wps[0];
  ring->wp_space = wps[1];
  ring->wp_done = wps[2];
  ring->owner = mproc_ring_owner_self ();
  return TRUE;
}

MprocRing *
mproc_ring_new (MprocShm  *shm,
                gsize      offset,
                int        event_fd,
                GError   **error)
{
  MprocRing *ring;
  RingShared *sh;
  guint64 capacity;

  if (offset + HEADER_SIZE > mproc_shm_get_size (shm))
    goto invalid;

  sh = (RingShared *) ((guint8 *) mproc_shm_get_data (shm) + offset);
  capacity = __atomic_load_n (&sh->capacity, __ATOMIC_ACQUIRE);
  if (sh->magic != RING_MAGIC || sh->version != RING_VERSION ||
      capacity < 4096 || (capacity & (capacity - 1)) != 0 ||
      capacity > mproc_shm_get_size (shm) - offset - HEADER_SIZE)
    goto invalid;

  ring = g_new0 (MprocRing, 1);
  ring->shm = mproc_shm_ref (shm);
  ring->sh = sh;
  ring->data = (guint8 *) sh + HEADER_SIZE;
  ring->capacity = capacity;
  ring->mask = capacity - 1;
  ring->maxsize = sh->maxsize;
  ring->joinable = (sh->flags & MPROC_RING_JOINABLE) != 0;
  g_mutex_init (&ring->mutex);
  ring->event_fd = fcntl (event_fd, F_DUPFD_CLOEXEC, 3);
  ring->spill_fd = -1;
  ring->generation = mproc_fork_generation ();

  if (ring->event_fd < 0 || !make_wait_points (ring, error))
    {
      if (ring->event_fd < 0)
        {
          int errsv = errno;

          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
        }
      mproc_ring_free (ring);
      return NULL;
    }

  return ring;

invalid:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received shared memory that does not hold a message ring"));
  return NULL;
}

void
mproc_ring_free (MprocRing *ring)
{
  if (ring == NULL)
    return;

  mproc_wait_point_free (ring->wp_data);
  mproc_wait_point_free (ring->wp_space);
  mproc_wait_point_free (ring->wp_done);
  mproc_clear_fd (&ring->event_fd);
  mproc_clear_fd (&ring->spill_fd);
  g_clear_pointer (&ring->shm, mproc_shm_unref);
  g_mutex_clear (&ring->mutex);
  g_free (ring);
}

gboolean
mproc_ring_set_spill_fd (MprocRing  *ring,
                         int         spill_fd,
                         GError    **error)
{
  int fd = fcntl (spill_fd, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
      return FALSE;
    }
  mproc_clear_fd (&ring->spill_fd);
  ring->spill_fd = fd;
  return TRUE;
}

/* A handle inherited through fork() has inert wait points and the
 * parent's pid: make our own, once, on first use. */
void
mproc_ring_ensure (MprocRing *ring)
{
  guint generation = mproc_fork_generation ();

  if (G_LIKELY ((guint) g_atomic_int_get (&ring->generation) == generation))
    return;

  g_mutex_lock (&ring->mutex);
  if (ring->generation != generation)
    {
      g_autoptr(GError) error = NULL;

      if (!make_wait_points (ring, &error))
        g_error ("Cannot rebuild a message ring after fork: %s", error->message);
      g_atomic_int_set (&ring->generation, generation);
    }
  g_mutex_unlock (&ring->mutex);
}

guint
mproc_ring_get_maxsize (MprocRing *ring)
{
  return ring->maxsize;
}

gsize
mproc_ring_get_capacity (MprocRing *ring)
{
  return ring->capacity;
}

gboolean
mproc_ring_is_joinable (MprocRing *ring)
{
  return ring->joinable;
}

guint
mproc_ring_get_qsize (MprocRing *ring)
{
  guint64 got = __atomic_load_n (&ring->sh->n_got, __ATOMIC_ACQUIRE);
  guint64 put = __atomic_load_n (&ring->sh->n_put, __ATOMIC_ACQUIRE);

  return put > got ? (guint) MIN (put - got, G_MAXUINT) : 0;
}

gboolean
mproc_ring_has_data (MprocRing *ring)
{
  return __atomic_load_n (&ring->sh->head, __ATOMIC_ACQUIRE) !=
         __atomic_load_n (&ring->sh->tail, __ATOMIC_ACQUIRE);
}

gboolean
mproc_ring_is_full (MprocRing *ring)
{
  guint64 head = __atomic_load_n (&ring->sh->head, __ATOMIC_ACQUIRE);
  guint64 tail = __atomic_load_n (&ring->sh->tail, __ATOMIC_ACQUIRE);

  if (ring->maxsize > 0 && mproc_ring_get_qsize (ring) >= ring->maxsize)
    return TRUE;
  return head - tail + 64 > ring->capacity;
}

/* ------------------------------------------------------------------------ */
/* Wake-ups only for waiters                                                */


/* ------------------------------------------------------------------------ */
/* Locks that survive their holder                                          */


/* Throttled: TRUE only once @owner has been seen holding for a while and
 * turns out to be dead. */
static gboolean
watch_owner_dead (MprocRing *ring,
                  LockWatch *watch,
                  guint64    owner)
{
  gint64 now = g_get_monotonic_time ();

  if (owner != watch->owner)
    {
      watch->owner = owner;
      watch->since = now;
      watch->last_check = now;
      return FALSE;
    }
  if (now - watch->last_check < DEAD_CHECK_USEC)
    return FALSE;
  watch->last_check = now;
  if (owner == ring->owner)
    return FALSE;   /* another thread of ours */
  return mproc_ring_owner_is_dead (owner);
}

static void
ring_recover_wlock (MprocRing *ring)
{
  RingShared *sh = ring->sh;
  guint64 pending = __atomic_load_n (&sh->pending, __ATOMIC_ACQUIRE);

  /* The dead producer had counted a task whose record it never published. */
  if (pending != 0 && __atomic_load_n (&sh->head, __ATOMIC_ACQUIRE) != pending)
    {
      guint32 old = __atomic_load_n (&sh->unfinished, __ATOMIC_ACQUIRE);

      while (old > 0 && !__atomic_compare_exchange_n (&sh->unfinished, &old, old - 1, FALSE,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        ;
      if (old == 1)
        mproc_wait_point_wake (ring->wp_done, G_MAXINT);
    }
  __atomic_store_n (&sh->pending, 0, __ATOMIC_RELEASE);
}

/* A consumer died holding the read lock: a record it counted (n_got)
 * without moving the tail past it is still there for the next one, so
 * the count is undone. */
static void
ring_recover_rlock (MprocRing *ring)
{
  RingShared *sh = ring->sh;
  guint64 j_ngot = __atomic_load_n (&sh->j_ngot, __ATOMIC_ACQUIRE);

  if (j_ngot != 0 &&
      __atomic_load_n (&sh->j_tail, __ATOMIC_ACQUIRE) == __atomic_load_n (&sh->tail, __ATOMIC_ACQUIRE) &&
      __atomic_load_n (&sh->n_got, __ATOMIC_ACQUIRE) == j_ngot)
    __atomic_store_n (&sh->n_got, j_ngot - 1, __ATOMIC_RELEASE);
}

/* Tries to take @lock, and takes it over from a dead holder. */
static gboolean
ring_trylock (MprocRing *ring,
              guint64   *lock,
              LockWatch *watch,
              gboolean   is_write)
{
  guint64 me = ring->owner;
  guint64 old = __atomic_load_n (lock, __ATOMIC_RELAXED);

  /* No RMW on a lock seen held: waiters do not mark it (see ring_unlock). */
  if (G_LIKELY (old == 0) &&
      __atomic_compare_exchange_n (lock, &old, me, FALSE,
                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return TRUE;
  if (!watch_owner_dead (ring, watch, old))
    return FALSE;

  /* The holder died holding it: take it over. */
  if (!__atomic_compare_exchange_n (lock, &old, me, FALSE,
                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return FALSE;
  if (is_write && ring->joinable)
    ring_recover_wlock (ring);
  else if (!is_write)
    ring_recover_rlock (ring);
  return TRUE;
}

/* A plain release store. Whoever found the lock held counts itself in
 * @lock_waiters (ring_lock_or_wait()) and waits on the wait point of its op
 * (a producer on wait_space, a consumer on wait_data): only they are woken.
 * Waking every waiter of the op's wait point instead would wake the holder
 * itself when it releases after finding nothing to do, and two idle ends
 * of a pipe would wake each other for ever. */
static void
ring_unlock (guint64        *lock,
             guint32        *lock_waiters,
             MprocWaitPoint *wp)
{
  __atomic_store_n (lock, 0, __ATOMIC_RELEASE);
  ring_wake (lock_waiters, wp);
}

/* Takes @lock, or counts the caller in @lock_waiters (once: *@counted) so
 * that the holder's ring_unlock() wakes it. After counting, tries once
 * more: the holder may have released before it could see the count. */
static gboolean
ring_lock_or_wait (MprocRing *ring,
                   guint64   *lock,
                   LockWatch *watch,
                   gboolean   is_write,
                   guint32   *lock_waiters,
                   gboolean  *counted)
{
  gboolean taken = ring_trylock (ring, lock, watch, is_write);

  if (!taken && !*counted)
    {
      ring_waiter_add (lock_waiters);
      *counted = TRUE;
      taken = ring_trylock (ring, lock, watch, is_write);
    }
  if (taken && *counted)
    {
      ring_waiter_remove (lock_waiters);
      *counted = FALSE;
    }
  return taken;
}

/* After a SINGLE record was published (or consumed) and the lock released:
 * one fence, then whichever side waits is woken.  Producers waiting for
 * the write lock are counted in space_waiters, consumers waiting for the
 * read lock in data_waiters. */
static void
ring_wake_both (MprocRing *ring)
{
  RingShared *sh = ring->sh;

  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (__atomic_load_n (&sh->data_waiters, __ATOMIC_RELAXED) != 0)
    mproc_wait_point_wake (ring->wp_data, G_MAXINT);
  if (__atomic_load_n (&sh->space_waiters, __ATOMIC_RELAXED) != 0)
    mproc_wait_point_wake (ring->wp_space, G_MAXINT);
}

/* Positions that are misaligned or out of range are corruption (only a
 * sharer that wrote into the shared memory can cause them): the caller,
 * holding its lock (@holding_write says which), reports
 * %MPROC_ERROR_INVALID_MESSAGE and calls this to make the ring usable
 * again.  With both locks, everything visible is dropped; with only its
 * own, each side moves its own position forward to a sane one, and the
 * other side fixes the rest on its next step. */
static void
ring_realign (MprocRing *ring,
              gboolean   holding_write)
{
  RingShared *sh = ring->sh;
  guint64 *other = holding_write ? &sh->rlock : &sh->wlock;
  guint64 expected = 0;
  guint64 head = __atomic_load_n (&sh->head, __ATOMIC_ACQUIRE);
  guint64 tail = __atomic_load_n (&sh->tail, __ATOMIC_ACQUIRE);
  gboolean tail_ahead = (gint64) (tail - head) > 0;

  if (__atomic_compare_exchange_n (other, &expected, ring->owner, FALSE,
                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    {
      guint64 pos = ALIGN8 (tail_ahead ? tail : head);

      __atomic_store_n (&sh->n_got, __atomic_load_n (&sh->n_put, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
      __atomic_store_n (&sh->head, pos, __ATOMIC_RELEASE);
      __atomic_store_n (&sh->tail, pos, __ATOMIC_RELEASE);
      ring->seen_head = ring->seen_tail = pos;
      if (holding_write)
        ring_unlock (&sh->rlock, &sh->rlock_waiters, ring->wp_data);
      else
        ring_unlock (&sh->wlock, &sh->wlock_waiters, ring->wp_space);
      ring_wake_both (ring);
      return;
    }

  if (holding_write)
    {
      if (tail_ahead)
        head = ALIGN8 (tail);
      else
        head = ALIGN8 (head);
      __atomic_store_n (&sh->head, head, __ATOMIC_RELEASE);
      ring->seen_tail = tail;
      /* a parked consumer re-checks, and fixes the tail */
      ring_wake (&sh->data_waiters, ring->wp_data);
    }
  else
    {
      if (!tail_ahead)
        {
          tail = ALIGN8 (head);
          __atomic_store_n (&sh->n_got, __atomic_load_n (&sh->n_put, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
        }
      else
        tail = ALIGN8 (tail);
      __atomic_store_n (&sh->tail, tail, __ATOMIC_RELEASE);
      ring->seen_head = head;
      ring_wake (&sh->space_waiters, ring->wp_space);
    }
}

static void
set_corrupt (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("The shared memory of the queue is corrupt"));
}

gboolean
mproc_ring_sock_hup (int sock)
{
  struct pollfd pfd = { sock, POLLRDHUP, 0 };

  if (sock < 0)
    return FALSE;
  while (poll (&pfd, 1, 0) < 0 && errno == EINTR)
    ;
  return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */


void
mproc_ring_put_op_clear (PutOp *op)
{
  if (op->own_sock)
    mproc_clear_fd (&op->sock);
  if (op->own_value)
    g_clear_pointer (&op->value, g_variant_unref);
  g_clear_pointer (&op->bytes, g_bytes_unref);
  if (op->fds != NULL)
    {
      for (guint i = 0; i < op->n_fds; i++)
        mproc_clear_fd (&op->fds[i]);
      g_free (op->fds);
    }
}

void
mproc_ring_put_op_free (PutOp *op)
{
  mproc_ring_put_op_clear (op);
  g_free (op);
}

/* A value of a fixed-size basic type is read with its getter (one lock of
 * the GVariant instead of two for get_size() + store()); a non-normal
 * serialised one (wrong size) reads as GLib's default, in normal form. */
static gboolean
read_fixed_basic (GVariant *value,
                  char      type,
                  guint64  *out,
                  gsize    *size)
{
  union { guint8 y; guint16 q; guint32 u; guint64 t; gdouble d; } v = { 0, };

  switch (type)
    {
    case 'y': v.y = g_variant_get_byte (value); *size = 1; break;
    case 'b': v.y = g_variant_get_boolean (value) ? 1 : 0; *size = 1; break;
    case 'n': v.q = (guint16) g_variant_get_int16 (value); *size = 2; break;
    case 'q': v.q = g_variant_get_uint16 (value); *size = 2; break;
    case 'i': v.u = (guint32) g_variant_get_int32 (value); *size = 4; break;
    case 'u': v.u = g_variant_get_uint32 (value); *size = 4; break;
    case 'h': v.u = (guint32) g_variant_get_handle (value); *size = 4; break;
    case 'x': v.t = (guint64) g_variant_get_int64 (value); *size = 8; break;
    case 't': v.t = g_variant_get_uint64 (value); *size = 8; break;
    case 'd': v.d = g_variant_get_double (value); *size = 8; break;
    default: return FALSE;
    }
  memcpy (out, &v, sizeof v);
  return TRUE;
}

/* @op is zeroed.  A sync put (@borrow) keeps no reference of its own to
 * a non-floating @value: the caller's lasts the whole call.  A floating
 * @value is consumed either way. */
void
mproc_ring_put_op_init (PutOp     *op,
                        MprocRing *ring,
                        GVariant  *value,
                        GBytes    *bytes,
                        int        sock,
                        const int *fds,
                        guint      n_fds,
                        gboolean   borrow)
{
  op->ring = ring;
  op->sock = sock;
  if (value != NULL)
    {
      /* The serialised "v" is the value's own serialised form, a NUL and
       * its type string (no alignment padding: the child is at offset 0),
       * so it is written in place without building the boxed value. */
      if (!borrow)
        op->value = g_variant_ref_sink (value);
      else if (g_variant_is_floating (value))
        op->value = value;   /* ours to drop: unref frees a floating ref too */
      else
        op->value = NULL;
      op->own_value = op->value != NULL;
      op->value = value;
      op->type = g_variant_get_type_string (value);
      op->type_len = strlen (op->type);
      if (op->type_len == 1 && read_fixed_basic (value, op->type[0], &op->fixed, &op->value_size))
        op->is_fixed = TRUE;
      else
        op->value_size = g_variant_get_size (value);
      op->size = op->value_size + 1 + op->type_len;
    }
  else
    {
      op->bytes = g_bytes_ref (bytes);
      op->data = g_bytes_get_data (bytes, &op->size);
    }
  if (n_fds > 0)
    {
      /* dup()ed now: the caller may close its fds once the call returns */
      op->fds = g_new (int, n_fds);
      op->n_fds = n_fds;
      for (guint i = 0; i < n_fds; i++)
        op->fds[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 3);
    }
}

PutOp *
mproc_ring_put_op_new (MprocRing *ring,
                       GVariant  *value,
                       GBytes    *bytes,
                       int        sock,
                       const int *fds,
                       guint      n_fds)
{
  PutOp *op = g_new0 (PutOp, 1);

  mproc_ring_put_op_init (op, ring, value, bytes, sock, fds, n_fds, FALSE);
  return op;
}

static inline void
write_header (guint8  *at,
              guint32  len,
              guint32  kind,
              guint32  n_fds)
{
  guint32 hdr[2] = { len, kind | (n_fds << 16) };

  memcpy (at, hdr, sizeof hdr);
}

static void
commit_nowake (MprocRing *ring,
               guint64    new_head,
               gboolean   counts)
{
  RingShared *sh = ring->sh;

  if (counts)
    {
      if (ring->joinable)
        {
          __atomic_store_n (&sh->pending, new_head, __ATOMIC_RELAXED);
          __atomic_add_fetch (&sh->unfinished, 1, __ATOMIC_SEQ_CST);
        }
      __atomic_store_n (&sh->n_put, sh->n_put + 1, __ATOMIC_RELEASE);
    }
  __atomic_store_n (&sh->head, new_head, __ATOMIC_RELEASE);
  if (counts && ring->joinable)
    __atomic_store_n (&sh->pending, 0, __ATOMIC_RELEASE);
}

static void
commit (MprocRing *ring,
        guint64    new_head,
        gboolean   counts)
{
  commit_nowake (ring, new_head, counts);
  ring_wake (&ring->sh->data_waiters, ring->wp_data);
}

/* Sends the message's fds, and @body (>= 0) after them, over the
 * connection's socket: before the record that announces them. */
static gboolean
send_fds (PutOp   *op,
          int      body,
          GError **error)
{
  g_autoptr(GBytes) empty = NULL;
  g_autofree int *all = NULL;
  guint n = op->n_fds + (body >= 0 ? 1 : 0);

  if (n == 0)
    return TRUE;
  if (op->sock < 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("File descriptors can only be sent over a connection"));
      return FALSE;
    }
  for (guint i = 0; i < op->n_fds; i++)
    if (op->fds[i] < 0)
      {
        g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                             _("Invalid file descriptor to send"));
        return FALSE;
      }
  if (n > MPROC_WIRE_MAX_FDS)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("Too many file descriptors in one message"));
      return FALSE;
    }
  all = g_new (int, n);
  if (op->n_fds > 0)
    memcpy (all, op->fds, op->n_fds * sizeof (int));
  if (body >= 0)
    all[op->n_fds] = body;
  empty = g_bytes_new_static ("", 0);
  return mproc_wire_send (op->sock, empty, all, n, NULL, error);
}

void
mproc_ring_put_op_release (PutOp *op)
{
  if (op->lock_counted)
    {
      ring_waiter_remove (&op->ring->sh->wlock_waiters);
      op->lock_counted = FALSE;
    }
  if (op->holding)
    {
      op->holding = FALSE;
      ring_unlock (&op->ring->sh->wlock, &op->ring->sh->wlock_waiters, op->ring->wp_space);
    }
}

/* The pieces of the serialised "v" of @op: the value's own serialised
 * form, a NUL and its type string (or the caller's bytes). */
static guint
put_op_iov (PutOp        *op,
            struct iovec  iov[3])
{
  if (op->value != NULL)
    {
      iov[0].iov_base = (gpointer) g_variant_get_data (op->value);
      iov[0].iov_len = op->value_size;
      iov[1].iov_base = (gpointer) "";
      iov[1].iov_len = 1;
      iov[2].iov_base = (gpointer) op->type;
      iov[2].iov_len = op->type_len;
      return 3;
    }
  iov[0].iov_base = (gpointer) op->data;
  iov[0].iov_len = op->size;
  return 1;
}

/* Writes a message too large for the ring out of line and publishes the
 * record that points at it at @off; the caller checked the room for the
 * record.  The write lock is held throughout, so that bodies in the spill
 * file are in the order of their records. */
static gboolean
put_out_of_line (PutOp    *op,
                 guint64   head,
                 guint64   off,
                 GError  **error)
{
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  guint8 *at = ring->data + off;
  struct iovec iov[3];
  guint n_iov = put_op_iov (op, iov);
  guint64 words[2];
  guint32 kind;
  guint n_fds = op->n_fds;
  guint64 spill_end = 0;

  if (ring->spill_fd >= 0)
    {
      guint64 pos = (__atomic_load_n (&sh->spill_head, __ATOMIC_RELAXED) + 4095) & ~(guint64) 4095;

      if (pos >= MPROC_RING_SPILL_LIMIT || op->size > MPROC_RING_SPILL_LIMIT - pos)
        pos = 0;   /* only a corrupt position gets here: start again */
      if (!mproc_ring_body_write (ring->spill_fd, pos, iov, n_iov, op->size,
                                  op->deadline, op->cancellable, NULL, error) ||
          !send_fds (op, -1, error))
        return FALSE;
      kind = KIND_SPILL;
      words[0] = pos;
      words[1] = op->size;
      spill_end = pos + op->size;
    }
  else if (op->sock >= 0)
    {
      MprocFd body = -1;
      gboolean sent;

      if (!mproc_ring_body_write (-1, 0, iov, n_iov, op->size,
                                  op->deadline, op->cancellable, &body, error))
        return FALSE;
      sent = send_fds (op, body, error);
      mproc_clear_fd (&body);
      if (!sent)
        return FALSE;
      kind = KIND_MEMFD;
      words[0] = op->size;
      words[1] = 0;
      n_fds++;
    }
  else
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("A message of %llu bytes is too large for this channel"),
                   (unsigned long long) op->size);
      return FALSE;
    }

  write_header (at, OOL_HDR, kind, n_fds);
  memcpy (at + REC_HDR, words, sizeof words);
  if (spill_end != 0)
    __atomic_store_n (&sh->spill_head, spill_end, __ATOMIC_RELEASE);
  commit_nowake (ring, head + REC_SIZE (OOL_HDR), TRUE);
  op->holding = FALSE;
  __atomic_store_n (&sh->wlock, 0, __ATOMIC_RELEASE);
  ring_wake_both (ring);
  return TRUE;
}

/* MprocWaitCheck of writers: makes as much progress as it can. */
gboolean
mproc_ring_put_step (gpointer   user_data,
                     GError   **error)
{
  PutOp *op = user_data;
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  guint64 cap = ring->capacity;
  gboolean inline_rec = REC_SIZE (op->size) <= cap / INLINE_DIVISOR;
  guint64 need = inline_rec ? REC_SIZE (op->size) : REC_SIZE (OOL_HDR);

  op->full = FALSE;
  if (!op->holding)
    {
      if (!ring_lock_or_wait (ring, &sh->wlock, &op->watch, TRUE,
                              &sh->wlock_waiters, &op->lock_counted))
        return FALSE;
      op->holding = TRUE;
    }

  for (;;)
    {
      guint64 head = __atomic_load_n (&sh->head, __ATOMIC_RELAXED);
      guint64 tail = ring->seen_tail;
      guint64 used = head - tail;
      guint64 off, room, contig;

      /* The tail seen last is enough when it leaves room for the record;
       * anything else is decided on the current one. */
      if (used > cap || need > MIN (cap - used, cap - (head & ring->mask)))
        {
          tail = __atomic_load_n (&sh->tail, __ATOMIC_ACQUIRE);
          ring->seen_tail = tail;
          used = head - tail;
        }

      if (used > cap || (head & 7) != 0 || (tail & 7) != 0)
        {
          ring_realign (ring, TRUE);
          mproc_ring_put_op_release (op);
          set_corrupt (error);
          return FALSE;
        }
      off = head & ring->mask;
      room = cap - used;
      contig = MIN (room, cap - off);

      if (ring->maxsize > 0 && mproc_ring_get_qsize (ring) >= ring->maxsize)
        break;

      if (need <= contig)
        {
          guint8 *at = ring->data + off;

          if (!inline_rec)
            {
              if (put_out_of_line (op, head, off, error))
                return TRUE;
              mproc_ring_put_op_release (op);
              return FALSE;
            }
          if (!send_fds (op, -1, error))
            {
              mproc_ring_put_op_release (op);
              return FALSE;
            }
          write_header (at, (guint32) op->size, KIND_SINGLE, op->n_fds);
          if (op->is_fixed)
            {
              memcpy (at + REC_HDR, &op->fixed, op->value_size);
              at[REC_HDR + op->value_size] = '\0';
              at[REC_HDR + op->value_size + 1] = (guint8) op->type[0];
            }
          else if (op->value != NULL)
            {
              g_variant_store (op->value, at + REC_HDR);
              at[REC_HDR + op->value_size] = '\0';
              memcpy (at + REC_HDR + op->value_size + 1, op->type, op->type_len);
            }
          else if (op->size > 0)
            memcpy (at + REC_HDR, op->data, op->size);
          /* publish, unlock, then one fence for both wake-ups */
          commit_nowake (ring, head + need, TRUE);
          op->holding = FALSE;
          __atomic_store_n (&sh->wlock, 0, __ATOMIC_RELEASE);
          ring_wake_both (ring);
          return TRUE;
        }

      if (contig == room)
        break;
      /* skip to the start of the ring: a record never wraps */
      write_header (ring->data + off, (guint32) (contig - REC_HDR), KIND_PAD, 0);
      commit (ring, head + contig, FALSE);
    }

  op->full = TRUE;
  mproc_ring_put_op_release (op);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */


/* A counted message the reader could not deliver (no memory, a malformed
 * body) will never be task_done() by anyone. */
static void
ring_forget_task (MprocRing *ring)
{
  guint32 old;

  if (!ring->joinable)
    return;
  old = __atomic_load_n (&ring->sh->unfinished, __ATOMIC_ACQUIRE);
  while (old > 0 && !__atomic_compare_exchange_n (&ring->sh->unfinished, &old, old - 1, FALSE,
                                                  __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
    ;
  if (old == 1)
    mproc_wait_point_wake (ring->wp_done, G_MAXINT);
}

void
mproc_ring_get_op_release (GetOp *op)
{
  if (op->lock_counted)
    {
      ring_waiter_remove (&op->ring->sh->rlock_waiters);
      op->lock_counted = FALSE;
    }
  if (op->holding)
    {
      op->holding = FALSE;
      ring_unlock (&op->ring->sh->rlock, &op->ring->sh->rlock_waiters, op->ring->wp_data);
    }
}

void
mproc_ring_get_op_clear (GetOp *op)
{
  mproc_ring_get_op_release (op);
  g_clear_pointer (&op->result, g_bytes_unref);
  if (op->fds != NULL)
    g_array_unref (op->fds);
  if (op->own_sock)
    mproc_clear_fd (&op->sock);
}

void
mproc_ring_get_op_free (GetOp *op)
{
  mproc_ring_get_op_clear (op);
  g_free (op);
}

static void
advance_tail (MprocRing *ring,
              guint64    tail)
{
  __atomic_store_n (&ring->sh->tail, tail, __ATOMIC_RELEASE);
  ring_wake (&ring->sh->space_waiters, ring->wp_space);
}

/* Counts the message of the record at @tail as got, without waking
 * anyone yet.  The journal (j_tail, j_ngot) goes first, so that whoever
 * takes the lock over from us, should we die before the tail moves,
 * undoes the count (ring_recover_rlock()). */
static void
count_got (MprocRing *ring,
           guint64    tail)
{
  RingShared *sh = ring->sh;
  guint64 n_got = sh->n_got + 1;

  __atomic_store_n (&sh->j_ngot, n_got, __ATOMIC_RELAXED);
  __atomic_store_n (&sh->j_tail, tail, __ATOMIC_RELEASE);
  __atomic_store_n (&sh->n_got, n_got, __ATOMIC_RELEASE);
  ring_fault (MPROC_RING_FAULT_COUNTED);
}

/* Moves the fds of @from to the end of @to (which owns them afterwards). */
void
mproc_ring_move_fds (GArray *from,
                     GArray *to)
{
  g_array_append_vals (to, from->data, from->len);
  for (guint i = 0; i < from->len; i++)
    g_array_index (from, int, i) = -1;
  g_array_set_size (from, 0);
}

static gboolean
receive_fds (GetOp    *op,
             guint     n_fds,
             GError  **error)
{
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GBytes) payload = NULL;

  if (n_fds == 0)
    return TRUE;
  if (op->sock < 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed message"));
      return FALSE;
    }
  fds = mproc_fd_array_new ();
  payload = mproc_wire_recv (op->sock, fds, 0, NULL, error);
  if (payload == NULL)
    return FALSE;
  if (fds->len != n_fds)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a message with the wrong number of file descriptors"));
      return FALSE;
    }
  if (op->fds != NULL)
    mproc_ring_move_fds (fds, op->fds);
  return TRUE;
}

static gboolean
get_fail (GetOp    *op,
          GError  **error,
          GError   *local_error)
{
  mproc_ring_get_op_release (op);
  g_propagate_error (error, local_error);
  return FALSE;
}

/* A record that does not make sense: we cannot find the next record
 * boundary, so everything visible is dropped. */
static gboolean
get_corrupt (GetOp    *op,
             GError  **error)
{
  ring_realign (op->ring, FALSE);
  mproc_ring_get_op_release (op);
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed message"));
  return FALSE;
}

/* Takes the out-of-line message of the record at @tail (@rec bytes):
 * reads its body, then counts it and moves the tail.  A body that cannot
 * be read costs only its own message. */
static GError *
message_too_large (guint64 size)
{
  return g_error_new (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                      _("Refused a message of %llu bytes: larger than the limit of this process"),
                      (unsigned long long) size);
}

static gboolean
get_out_of_line (GetOp         *op,
                 guint64        tail,
                 guint64        rec,
                 guint32        kind,
                 guint32        n_fds,
                 const guint8  *at,
                 GError       **error)
{
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  GError *local_error = NULL;
  guint64 words[2];
  GBytes *body = NULL;

  memcpy (words, at + REC_HDR, sizeof words);
  if (kind == KIND_SPILL)
    {
      guint64 pos = words[0], size = words[1];
      guint64 end = (pos + size + 4095) & ~(guint64) 4095;
      guint64 freed = __atomic_load_n (&sh->spill_tail, __ATOMIC_RELAXED);

      if (ring->spill_fd < 0 || (pos & 4095) != 0 || pos >= MPROC_RING_SPILL_LIMIT ||
          size > MPROC_RING_SPILL_LIMIT - pos)
        return get_corrupt (op, error);
      /* A sharer may announce any size: refused before it is allocated. */
      if (size > mproc_wire_get_max_message_size ())
        local_error = message_too_large (size);
      else
        body = mproc_ring_body_read (ring->spill_fd, pos, size, &local_error);
      if (body != NULL)
        ring_fault (MPROC_RING_FAULT_BODY_READ);
      if (body != NULL && n_fds > 0 && !receive_fds (op, n_fds, &local_error))
        g_clear_pointer (&body, g_bytes_unref);
      count_got (ring, tail);
      advance_tail (ring, tail + rec);
      /* Bodies lie in the order of their records: everything below this
       * one is taken, or was left by a writer that died. */
      if (freed > pos || pos - freed > MPROC_RING_SPILL_LIMIT / 2)
        freed = pos;
      mproc_ring_body_punch (ring->spill_fd, freed, end);
      __atomic_store_n (&sh->spill_tail, end, __ATOMIC_RELAXED);
    }
  else
    {
      g_autoptr(GArray) fds = mproc_fd_array_new ();
      GArray *user_fds = op->fds;
      int body_fd;

      if (n_fds == 0 || words[1] != 0)
        return get_corrupt (op, error);
      op->fds = fds;
      if (receive_fds (op, n_fds, &local_error))
        {
          body_fd = g_array_index (fds, int, fds->len - 1);
          g_array_index (fds, int, fds->len - 1) = -1;
          g_array_set_size (fds, fds->len - 1);
          if (words[0] > mproc_wire_get_max_message_size ())
            {
              local_error = message_too_large (words[0]);
              close (body_fd);
            }
          else
            body = mproc_ring_body_map (body_fd, words[0], &local_error);
          if (body != NULL)
            ring_fault (MPROC_RING_FAULT_BODY_READ);
        }
      op->fds = user_fds;
      if (body != NULL && user_fds != NULL)
        mproc_ring_move_fds (fds, user_fds);
      mproc_fd_array_close_all (fds);
      count_got (ring, tail);
      advance_tail (ring, tail + rec);
    }

  if (body == NULL)
    {
      ring_forget_task (ring);
      return get_fail (op, error, local_error);
    }
  mproc_ring_get_op_release (op);
  op->result = body;
  return TRUE;
}

/* MprocWaitCheck of readers. */
gboolean
mproc_ring_get_step (gpointer   user_data,
                     GError   **error)
{
  GetOp *op = user_data;
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  guint64 cap = ring->capacity;

  if (op->peek)
    {
      if (mproc_ring_has_data (ring))
        return TRUE;
      if (op->sock >= 0 && op->hup)
        return TRUE;
      return FALSE;
    }

  if (!op->holding)
    {
      if (!ring_lock_or_wait (ring, &sh->rlock, &op->watch, FALSE,
                              &sh->rlock_waiters, &op->lock_counted))
        return FALSE;
      op->holding = TRUE;
    }

  for (;;)
    {
      guint64 tail = __atomic_load_n (&sh->tail, __ATOMIC_RELAXED);
      guint64 head = ring->seen_head;
      guint64 avail = head - tail;
      guint64 off, rec;
      guint32 hdr[2];
      guint32 len, kind, n_fds;
      const guint8 *at;

      /* Records below the head seen last are published and, the tail
       * being ours, not consumed: read the producer's line only when the
       * ones seen are used up (or another consumer went past them). */
      if (avail == 0 || avail > cap)
        {
          head = __atomic_load_n (&sh->head, __ATOMIC_ACQUIRE);
          ring->seen_head = head;
          avail = head - tail;
        }

      if (avail > cap || (head & 7) != 0 || (tail & 7) != 0)
        {
          ring_realign (ring, FALSE);
          mproc_ring_get_op_release (op);
          set_corrupt (error);
          return FALSE;
        }
      if (avail == 0)
        {
          mproc_ring_get_op_release (op);
          return FALSE;
        }

      off = tail & ring->mask;
      at = ring->data + off;
      /* read once: the peer may scribble concurrently */
      memcpy (hdr, at, sizeof hdr);
      __atomic_signal_fence (__ATOMIC_SEQ_CST);
      len = hdr[0];
      kind = hdr[1] & 0xff;
      n_fds = hdr[1] >> 16;
      rec = REC_SIZE (len);
      if (rec > avail || off + rec > cap || n_fds > MPROC_WIRE_MAX_FDS)
        return get_corrupt (op, error);

      switch (kind)
        {
        case KIND_PAD:
          advance_tail (ring, tail + rec);
          continue;

        case KIND_SINGLE:
          {
            guint8 *copy;
            GError *local_error = NULL;

            if (op->want_copy && len <= SMALL_COPY && n_fds == 0)
              {
                memcpy (op->small, at + REC_HDR, len);
                op->small_len = len;
                op->got_small = TRUE;
                count_got (ring, tail);
                /* hand the space back, unlock, one fence for both wake-ups */
                __atomic_store_n (&sh->tail, tail + rec, __ATOMIC_RELEASE);
                op->holding = FALSE;
                __atomic_store_n (&sh->rlock, 0, __ATOMIC_RELEASE);
                ring_wake_both (ring);
                return TRUE;
              }
            copy = g_try_malloc (MAX (len, 1));
            if (copy == NULL)
              {
                count_got (ring, tail);
                advance_tail (ring, tail + rec);
                ring_forget_task (ring);
                return get_fail (op, error,
                                 g_error_new (MPROC_ERROR, MPROC_ERROR_FAILED,
                                              _("Not enough memory for a message of %u bytes"), len));
              }
            memcpy (copy, at + REC_HDR, len);
            count_got (ring, tail);
            advance_tail (ring, tail + rec);
            if (!receive_fds (op, n_fds, &local_error))
              {
                g_free (copy);
                return get_fail (op, error, local_error);
              }
            mproc_ring_get_op_release (op);
            op->result = g_bytes_new_take (copy, len);
            return TRUE;
          }

        case KIND_SPILL:
        case KIND_MEMFD:
          if (len != OOL_HDR)
            return get_corrupt (op, error);
          return get_out_of_line (op, tail, rec, kind, n_fds, at, error);

        default:
          return get_corrupt (op, error);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

void
mproc_ring_inject_raw (MprocRing  *ring,
                       const void *data,
                       gsize       size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);

  g_assert_true (mproc_ring_put (ring, NULL, bytes, -1, NULL, 0, -1, NULL, NULL));
}

void
mproc_ring_corrupt_next (MprocRing *ring)
{
  guint64 tail = __atomic_load_n (&ring->sh->tail, __ATOMIC_ACQUIRE);
  guint32 garbage[2] = { 0x7ffffff0u, 0x99 };

  memcpy (ring->data + (tail & ring->mask), garbage, sizeof garbage);
}

void
mproc_ring_test_skew (MprocRing *ring,
                      gboolean   head,
                      gint64     delta)
{
  guint64 *pos = head ? &ring->sh->head : &ring->sh->tail;

  __atomic_store_n (pos, __atomic_load_n (pos, __ATOMIC_ACQUIRE) + (guint64) delta, __ATOMIC_RELEASE);
}

void
mproc_ring_test_set_lock (MprocRing *ring,
                          gboolean   write,
                          guint64    owner)
{
  __atomic_store_n (write ? &ring->sh->wlock : &ring->sh->rlock, owner, __ATOMIC_RELEASE);
}

guint64
mproc_ring_test_owner (MprocRing *ring)
{
  mproc_ring_ensure (ring);
  return ring->owner;
}
