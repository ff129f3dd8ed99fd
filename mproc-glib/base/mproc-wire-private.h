/* mproc-wire-private.h: message framing and GVariant encoding
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every message that crosses a process boundary over a stream socket is one
 * frame: a 16-byte header (magic, number of fds, payload size) sent together
 * with its file descriptors (SCM_RIGHTS), then the payload. A payload that
 * carries a value is the serialised form of a "v" GVariant, so the type
 * travels with the value, and the receiver rebuilds it from untrusted bytes
 * and refuses anything not in normal form: nothing received is executed.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define MPROC_WIRE_MAX_FDS 253   /* SCM_MAX_FD */

/* The size of a fixed-width number type ('y' 'n' 'q' 'i' 'u' 'h' 'x' 't'
 * 'd'), whose every bit pattern is a normal value; 0 for any other type. */
gsize     mproc_wire_number_size (char          type_char);

/* The largest message a peer may announce (a ring's streamed message, a
 * frame on a manager's sockets): mproc_set_max_message_size(). */
#define MPROC_WIRE_DEFAULT_MAX_MESSAGE_SIZE ((gsize) 1 << 30)
gsize     mproc_wire_get_max_message_size (void);
void      mproc_wire_set_max_message_size (gsize size);

/* How deep a type received from a peer may nest containers: far beyond
 * any real message, far below what GVariant's recursive walks can take. */
#define MPROC_WIRE_MAX_TYPE_DEPTH 64

/* Whether @type_string, received from a peer, may be handed to GVariant:
 * a valid, definite type (not "r", "*", "?" nor anything holding them:
 * g_variant_new_from_bytes() asserts on those) nested at most
 * MPROC_WIRE_MAX_TYPE_DEPTH deep. */
gboolean  mproc_wire_type_string_is_safe (const char *type_string);

GBytes   *mproc_wire_encode (GVariant     *value);
GVariant *mproc_wire_decode (GBytes       *bytes,
                             GError      **error);
/* As mproc_wire_decode() from a private copy of the bytes (not shared
 * memory: they are read more than once); small messages of fixed-size
 * basic types and number arrays skip the boxed intermediate. */
GVariant *mproc_wire_decode_data (const guint8 *data,
                                  gsize         size,
                                  GError      **error);

/* A frame's header, for a reader that gathers frames itself (a handshake
 * polled on a main context): the size of the payload it announces, or -1
 * if it is not the header of a frame with @n_fds fds and at most
 * @max_size bytes. */
#define MPROC_WIRE_HEADER_SIZE 16
gssize    mproc_wire_header_parse (const guint8 *data,
                                   guint         n_fds,
                                   gsize         max_size);

gboolean  mproc_wire_send   (int           fd,
                             GBytes       *payload,
                             const int    *fds,
                             guint         n_fds,
                             GCancellable *cancellable,
                             GError      **error);
GBytes   *mproc_wire_recv   (int           fd,
                             GArray       *fds_out,
                             gsize         max_size,
                             GCancellable *cancellable,
                             GError      **error);

gboolean  mproc_wire_send_value (int           fd,
                                 GVariant     *value,
                                 const int    *fds,
                                 guint         n_fds,
                                 GCancellable *cancellable,
                                 GError      **error);
GVariant *mproc_wire_recv_value (int           fd,
                                 GArray       *fds_out,
                                 gsize         max_size,
                                 GCancellable *cancellable,
                                 GError      **error);

gboolean  mproc_fd_wait         (int           fd,
                                 short         events,
                                 gint64        deadline_usec,
                                 GCancellable *cancellable,
                                 GError      **error);

void      mproc_fd_wait_async   (int                  fd,
                                 short                events,
                                 gint64               deadline_usec,
                                 gpointer             source_object,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);
gboolean  mproc_fd_wait_finish  (GAsyncResult        *result,
                                 GError             **error);

G_END_DECLS
