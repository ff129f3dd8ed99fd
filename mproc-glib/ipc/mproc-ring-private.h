/* mproc-ring-private.h: the shared-memory message ring of queues and pipes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A ring is a byte ring in shared memory (power-of-two capacity) with a
 * header: producers hold the write lock while they append records, and
 * consumers hold the read lock while they take them, so the ring itself is
 * single-producer single-consumer and needs no per-message system call.
 * Both locks are words holding the holder's pid and start time
 * (mproc-ring-owner.c): a process killed while it holds one is detected
 * (its pidfd is readable, it no longer exists, or its pid now names a
 * later process) by whoever waits for the lock longer than a moment, and
 * the lock is taken over.
 *
 * Records are 8-byte aligned: an 8-byte header (payload length, kind and
 * number of fds) and the payload.  A message whose record fits in half the
 * ring goes in one SINGLE record, written in place (g_variant_store()
 * straight into the ring); where it does not fit before the wrap, a PAD
 * record skips to the start.  A larger one goes out of line (see
 * mproc-ring-body-private.h): its body is written whole elsewhere first,
 * and a small SPILL or MEMFD record points at it.  So no message is ever
 * split, and no put waits for a reader beyond the room for its record.
 *
 * Publication is the release store of `head` after a record is complete:
 * a producer killed in the middle of a record or of an out-of-line body
 * leaves nothing visible.  A consumer counts a message (n_got) with a
 * journal, then moves the tail: one killed in between leaves the message
 * for the next one, which undoes the count when it takes the lock over.
 *
 * Wake-ups cost nothing when nobody waits: a blocking put or get first
 * spins briefly on the words it depends on (the peer's position and the
 * lock), then counts itself in data_waiters / space_waiters (as do async
 * waits and the "readable" GSource) before it waits on the wait point;
 * whoever moves head or tail wakes the wait point only when that count is
 * non-zero (publish, full fence, read the count: see ring_wake()).  Each
 * side also remembers the other side's position as last seen (a lower
 * bound, both only grow) and reads the other side's cache line only when
 * that one says full / empty.  A sync get of a small message copies it to
 * the stack and decodes it from there (mproc_ring_get_value()).
 *
 * Nothing read from shared memory is trusted: positions and lengths are
 * checked for range and alignment against the capacity read once at
 * attach time; a position or a record that does not make sense makes the
 * side that finds it drop everything visible, realign the positions
 * under its lock and report %MPROC_ERROR_INVALID_MESSAGE, and the ring
 * stays usable.
 */

#pragma once

#include <gio/gio.h>

#include "mproc-shm-private.h"
#include "mproc-waitable-private.h"

G_BEGIN_DECLS

typedef struct _MprocRing MprocRing;

typedef enum
{
  MPROC_RING_JOINABLE = 1 << 0,
} MprocRingFlags;

/* Size of the part of shared memory a ring of @capacity bytes needs. */
gsize      mproc_ring_shm_size      (gsize          capacity);
/* Initialises a ring in fresh (zeroed) shared memory at @offset. */
void       mproc_ring_init_shared   (MprocShm      *shm,
                                     gsize          offset,
                                     gsize          capacity,
                                     guint          maxsize,
                                     MprocRingFlags flags);
/* Attaches to the ring at @offset of @shm; @event_fd is dup()ed. Validates
 * everything it reads. */
MprocRing *mproc_ring_new           (MprocShm      *shm,
                                     gsize          offset,
                                     int            event_fd,
                                     GError       **error);
void       mproc_ring_free          (MprocRing     *ring);

guint      mproc_ring_get_maxsize   (MprocRing     *ring);
gsize      mproc_ring_get_capacity  (MprocRing     *ring);
gboolean   mproc_ring_is_joinable   (MprocRing     *ring);
guint      mproc_ring_get_qsize     (MprocRing     *ring);
gboolean   mproc_ring_is_full       (MprocRing     *ring);
gboolean   mproc_ring_has_data      (MprocRing     *ring);

/* Sync operations.  @timeout_usec: -1 forever, 0 = do not wait (then
 * FULL / EMPTY instead of TIMED_OUT); the timeout and @cancellable hold
 * for the whole call, out-of-line body included (put_nowait() does not
 * wait for room, but writes all of its body).  @sock >= 0: a
 * connection's socket, which carries fds (and bodies of large messages)
 * and whose hang-up means the peer is gone. */
gboolean   mproc_ring_put           (MprocRing     *ring,
                                     GVariant      *value,
                                     GBytes        *bytes,
                                     int            sock,
                                     const int     *fds,
                                     guint          n_fds,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);
GBytes    *mproc_ring_get           (MprocRing     *ring,
                                     int            sock,
                                     GArray        *fds_out,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);
/* mproc_ring_get() and mproc_wire_decode() in one, for queues (no socket,
 * no fds): a small message is copied to the stack and decoded from there.
 * A malformed message gives %MPROC_ERROR_INVALID_MESSAGE and is dropped. */
GVariant  *mproc_ring_get_value     (MprocRing     *ring,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);
/* A fixed-size basic value of GVariant type @type (one character, @size
 * bytes: the low bytes of @bits) without a GVariant: put writes the record
 * mproc_ring_put() writes for the same value; get reads one back, and
 * takes any other message too, decoding it (%MPROC_ERROR_INVALID_MESSAGE
 * and dropped if it is not of @type). */
gboolean   mproc_ring_put_fixed     (MprocRing     *ring,
                                     char           type,
                                     guint64        bits,
                                     gsize          size,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);
gboolean   mproc_ring_get_fixed     (MprocRing     *ring,
                                     char           type,
                                     gsize          size,
                                     guint64       *bits,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);
/* Waits until the ring has data (or, with @sock, the peer hung up). */
gboolean   mproc_ring_poll          (MprocRing     *ring,
                                     int            sock,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);

/* Async forms: @source_object is the GTask's source. */
void       mproc_ring_put_async     (MprocRing          *ring,
                                     gpointer            source_object,
                                     GVariant           *value,
                                     GBytes             *bytes,
                                     int                 sock,
                                     const int          *fds,
                                     guint               n_fds,
                                     gint64              timeout_usec,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean   mproc_ring_put_finish    (GAsyncResult       *result,
                                     GError            **error);
void       mproc_ring_get_async     (MprocRing          *ring,
                                     gpointer            source_object,
                                     int                 sock,
                                     gboolean            want_fds,
                                     gint64              timeout_usec,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
GBytes    *mproc_ring_get_finish    (GAsyncResult       *result,
                                     GArray             *fds_out,
                                     GError            **error);
void       mproc_ring_poll_async    (MprocRing          *ring,
                                     gpointer            source_object,
                                     int                 sock,
                                     gint64              timeout_usec,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean   mproc_ring_poll_finish   (GAsyncResult       *result,
                                     GError            **error);

/* JoinableQueue accounting. */
gboolean   mproc_ring_task_done     (MprocRing     *ring,
                                     GError       **error);
gboolean   mproc_ring_join          (MprocRing     *ring,
                                     gint64         timeout_usec,
                                     GCancellable  *cancellable,
                                     GError       **error);
void       mproc_ring_join_async    (MprocRing          *ring,
                                     gpointer            source_object,
                                     gint64              timeout_usec,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data);
gboolean   mproc_ring_join_finish   (GAsyncResult       *result,
                                     GError            **error);

/* A GSource that dispatches while the ring has data (level-triggered).
 * @callback is a GSourceFunc called with @user_data. */
GSource   *mproc_ring_source_new    (MprocRing     *ring,
                                     GObject       *owner);

/* Whether the socket of a connection has hung up (peer gone). */
gboolean   mproc_ring_sock_hup      (int            sock);

/* Queues: the spill file of messages too large for the ring (see
 * mproc-ring-body-private.h); @spill_fd is dup()ed. */
gboolean   mproc_ring_set_spill_fd  (MprocRing     *ring,
                                     int            spill_fd,
                                     GError       **error);

/* Tests: appends @size raw bytes as one record, bypassing the encoder, or
 * overwrites the header of the next record to read with garbage. */
void       mproc_ring_inject_raw    (MprocRing     *ring,
                                     const void    *data,
                                     gsize          size);
void       mproc_ring_corrupt_next  (MprocRing     *ring);
/* Tests: adds @delta to the shared head (or tail), as a hostile sharer
 * could; writes @owner into the write (or read) lock word. */
void       mproc_ring_test_skew     (MprocRing     *ring,
                                     gboolean       head,
                                     gint64         delta);
void       mproc_ring_test_set_lock (MprocRing     *ring,
                                     gboolean       write,
                                     guint64        owner);
/* Tests: the owner word this process writes into a lock. */
guint64    mproc_ring_test_owner    (MprocRing     *ring);

/* Tests: points where a test can stop or kill the process that gets
 * there (a fault hook, process-wide, NULL by default). */
typedef enum
{
  MPROC_RING_FAULT_BODY_WRITTEN,   /* an out-of-line body is partly written */
  MPROC_RING_FAULT_BODY_READ,      /* an out-of-line body was read, not yet taken */
  MPROC_RING_FAULT_COUNTED,        /* a message is counted as got, the tail not yet moved */
} MprocRingFault;

typedef void (*MprocRingFaultHook) (MprocRingFault point);

void       mproc_ring_set_fault_hook (MprocRingFaultHook hook);
void       mproc_ring_fault          (MprocRingFault     point);

G_END_DECLS
