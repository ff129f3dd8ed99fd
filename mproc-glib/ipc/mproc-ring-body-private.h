/* mproc-ring-body-private.h: out-of-line bodies of messages too large for a ring
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A message larger than half its ring is not streamed through it: its
 * body is written whole somewhere else first, and the ring carries a
 * small record that points at it, published like any other.  So a large
 * message needs no reader waiting for it, a writer that dies or stops
 * half-way leaves nothing visible, and the put's timeout and cancellable
 * hold for all of it.
 *
 * Queues give their ring a spill file: a memfd created with the queue and
 * shared like its memory, but never mapped (only pread()/pwrite(), so that
 * nothing a sharer does to it can raise SIGBUS).  Bodies are written at
 * growing positions under the write lock, so they lie in the order of
 * their records; a reader that takes one frees (punches out) everything
 * below its end, which also frees what writers that died left behind.
 *
 * Connections carry fds: there the body is a memfd of its own, sealed
 * against any change, sent as the record's last fd and mapped read-only
 * by the reader (no copy).
 */

#pragma once

#include <gio/gio.h>
#include <sys/uio.h>

G_BEGIN_DECLS

/* Positions in a spill file stay below this (a sparse file offset). */
#define MPROC_RING_SPILL_LIMIT (G_GUINT64_CONSTANT (1) << 62)

int      mproc_ring_spill_new        (GError             **error);
gboolean mproc_ring_spill_check      (int                  fd,
                                      GError             **error);

/* Writes @n_iov pieces of @size bytes in all, in slices, checking
 * @deadline (monotonic, -1 none) and @cancellable in between.  With
 * @fd < 0 into a new sealed memfd, returned in @memfd_out; else into @fd
 * at @offset (what was written is punched out again on failure). */
gboolean mproc_ring_body_write       (int                  fd,
                                      guint64              offset,
                                      const struct iovec  *iov,
                                      guint                n_iov,
                                      gsize                size,
                                      gint64               deadline,
                                      GCancellable        *cancellable,
                                      int                 *memfd_out,
                                      GError             **error);
/* Reads @size bytes of the spill file @fd at @offset. */
GBytes  *mproc_ring_body_read        (int                  fd,
                                      guint64              offset,
                                      guint64              size,
                                      GError             **error);
/* Maps the received body memfd @fd (consumed) if it is sealed and of @size. */
GBytes  *mproc_ring_body_map         (int                  fd,
                                      guint64              size,
                                      GError             **error);
/* Frees [@from, @to) of the spill file @fd. */
void     mproc_ring_body_punch       (int                  fd,
                                      guint64              from,
                                      guint64              to);

G_END_DECLS
