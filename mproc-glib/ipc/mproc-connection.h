/* mproc-connection.h: the two ends of a pipe between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_CONNECTION (mproc_connection_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocConnection, mproc_connection, MPROC, CONNECTION, GObject)

MPROC_AVAILABLE_IN_1_0
gboolean         mproc_pipe_new                    (gboolean              duplex,
                                                    MprocConnection     **conn1,
                                                    MprocConnection     **conn2,
                                                    GError              **error);

MPROC_AVAILABLE_IN_0_2
MprocConnection *mproc_connection_take_peer        (MprocConnection      *self) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_get_readable     (MprocConnection      *self);
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_get_writable     (MprocConnection      *self);

MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_send             (MprocConnection      *self,
                                                    GVariant             *value,
                                                    GCancellable         *cancellable,
                                                    GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_send_with_fds    (MprocConnection      *self,
                                                    GVariant             *value,
                                                    GUnixFDList          *fd_list,
                                                    GCancellable         *cancellable,
                                                    GError              **error);
MPROC_AVAILABLE_IN_1_0
void             mproc_connection_send_async       (MprocConnection      *self,
                                                    GVariant             *value,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_send_finish      (MprocConnection      *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_send_bytes       (MprocConnection      *self,
                                                    GBytes               *bytes,
                                                    gsize                 offset,
                                                    gssize                size,
                                                    GCancellable         *cancellable,
                                                    GError              **error);

MPROC_AVAILABLE_IN_1_0
GVariant        *mproc_connection_recv             (MprocConnection      *self,
                                                    GCancellable         *cancellable,
                                                    GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant        *mproc_connection_recv_with_fds    (MprocConnection      *self,
                                                    GUnixFDList         **out_fd_list,
                                                    GCancellable         *cancellable,
                                                    GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void             mproc_connection_recv_async       (MprocConnection      *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
GVariant        *mproc_connection_recv_finish      (MprocConnection      *self,
                                                    GAsyncResult         *result,
                                                    GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GBytes          *mproc_connection_recv_bytes       (MprocConnection      *self,
                                                    GCancellable         *cancellable,
                                                    GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void             mproc_connection_recv_bytes_async (MprocConnection      *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
GBytes          *mproc_connection_recv_bytes_finish (MprocConnection     *self,
                                                     GAsyncResult        *result,
                                                     GError             **error) G_GNUC_WARN_UNUSED_RESULT;

MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_poll             (MprocConnection      *self,
                                                    gint64                timeout_usec,
                                                    GCancellable         *cancellable,
                                                    GError              **error);
MPROC_AVAILABLE_IN_1_0
void             mproc_connection_poll_async       (MprocConnection      *self,
                                                    gint64                timeout_usec,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_poll_finish      (MprocConnection      *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);

MPROC_AVAILABLE_IN_1_0
void             mproc_connection_close            (MprocConnection      *self);
MPROC_AVAILABLE_IN_1_0
gboolean         mproc_connection_is_closed        (MprocConnection      *self);

MPROC_AVAILABLE_IN_1_0
GPtrArray       *mproc_connection_wait             (GObject             **objects,
                                                    guint                 n_objects,
                                                    gint64                timeout_usec,
                                                    GCancellable         *cancellable,
                                                    GError              **error);
MPROC_AVAILABLE_IN_1_0
void             mproc_connection_wait_async       (GObject             **objects,
                                                    guint                 n_objects,
                                                    gint64                timeout_usec,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
GPtrArray       *mproc_connection_wait_finish      (GAsyncResult         *result,
                                                    GError              **error);

G_END_DECLS
