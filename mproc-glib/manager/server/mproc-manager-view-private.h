/* mproc-manager-view-private.h: reads of a manager's state without a round trip
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A view is the state of one dict or namespace published by the server in
 * a sparse memfd that clients map read-only (the fd they get is sealed
 * against new writable mappings): a header, an open-addressing index of
 * 32-bit slots and a heap of entries.  Keys and values are stored as the
 * serialised form of a `v` holding them (data, NUL, type string), so a
 * lookup compares bytes and a value is rebuilt without a parse.  The
 * server is the only writer; it makes the header's sequence odd while it
 * writes (a seqlock) and even again after.  A reader copies what it needs,
 * validating every offset and size against the mapping, and keeps the
 * copy only if the sequence was even and unchanged: a torn read is
 * harmless, it is retried, and after a few tries the caller falls back
 * to a round trip.
 *
 * The order page keeps reads in order with writes.  Every ring client
 * has a slot holding two counters: requests sent (written by the client
 * after each put) and requests served (written by the server after it
 * has applied one, views included).  Before a view read, a client waits
 * until every slot has served what it had sent when the read began: its
 * own pipelined writes are applied (read-your-writes), and so is every
 * write of another process that the read causally follows (that process
 * counted it before it could signal us).  Slots are per connection; a
 * client that goes away has its served count set to its sent count.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* --- Views: the server writes ------------------------------------------- */

typedef struct _MprocViewWriter MprocViewWriter;

MprocViewWriter *mproc_view_writer_new    (GError          **error);
void             mproc_view_writer_free   (MprocViewWriter  *writer);
/* A new read-only fd for a client (O_CLOEXEC), or -1 with @error. */
int              mproc_view_writer_dup_fd (MprocViewWriter  *writer,
                                           GError          **error);
/* @key and @value in normal form.  Writes open the seqlock; flush()
 * closes it (once per request, however many writes it made). */
void             mproc_view_writer_set    (MprocViewWriter  *writer,
                                           GVariant         *key,
                                           GVariant         *value);
/* Makes room in the index for @n_more keys at once. */
void             mproc_view_writer_reserve (MprocViewWriter *writer,
                                            guint64          n_more);
void             mproc_view_writer_remove (MprocViewWriter  *writer,
                                           GVariant         *key);
/* The same with boxed keys and values (`v` serialisations: data, NUL,
 * type string), as the server's table keeps them. */
void             mproc_view_writer_set_boxed    (MprocViewWriter *writer,
                                                 const guint8    *key,
                                                 gsize            key_size,
                                                 const guint8    *value,
                                                 gsize            value_size);
void             mproc_view_writer_remove_boxed (MprocViewWriter *writer,
                                                 const guint8    *key,
                                                 gsize            key_size);
void             mproc_view_writer_clear  (MprocViewWriter  *writer);
void             mproc_view_writer_flush  (MprocViewWriter  *writer);

/* --- Views: clients read ------------------------------------------------ */

typedef struct _MprocView MprocView;

typedef enum
{
  MPROC_VIEW_UNAVAILABLE = -1,   /* could not read a consistent state: ask the server */
  MPROC_VIEW_MISSING = 0,
  MPROC_VIEW_FOUND = 1,
} MprocViewAnswer;

/* Takes @fd. */
MprocView       *mproc_view_new           (int               fd,
                                           GError          **error);
void             mproc_view_free          (MprocView        *view);
/* @value_out (nullable) receives the value when found. */
MprocViewAnswer  mproc_view_lookup        (MprocView        *view,
                                           GVariant         *key,
                                           GVariant        **value_out);
/* The number of entries, or -1 (unavailable). */
gint64           mproc_view_len           (MprocView        *view);

/* --- The order page ------------------------------------------------------ */

typedef struct _MprocOrder MprocOrder;

/* Server: creates the page; slots are handed out at handshake. */
MprocOrder      *mproc_order_new          (GError          **error);
/* Client: maps the page of @fd (taken); @slot < 0: this client is not
 * tracked (then views are not used). */
MprocOrder      *mproc_order_new_from_fd  (int               fd,
                                           int               slot,
                                           GError          **error);
void             mproc_order_free         (MprocOrder       *order);
int              mproc_order_get_fd       (MprocOrder       *order);
int              mproc_order_acquire_slot (MprocOrder       *order);
void             mproc_order_release_slot (MprocOrder       *order,
                                           int               slot);
void             mproc_order_served       (MprocOrder       *order,
                                           int               slot);
/* Client: after each request is in the ring. */
void             mproc_order_sent         (MprocOrder       *order);
/* Client: waits (spinning, at most @budget_usec) until everything sent
 * by anyone before this call has been served.  %FALSE: not known to be
 * so (the caller asks the server instead). */
gboolean         mproc_order_wait_served  (MprocOrder       *order,
                                           gint64            budget_usec);

G_END_DECLS
