/* mproc-manager.h: a server process that owns shared state
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-context.h"
#include "mproc-event.h"
#include "mproc-joinable-queue.h"
#include "mproc-lock.h"
#include "mproc-queue.h"
#include "mproc-shareable.h"
#include "mproc-simple-queue.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_MANAGER (mproc_manager_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocManager, mproc_manager, MPROC, MANAGER, GObject)

MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_new              (void) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_new_with_context (MprocContext         *context) G_GNUC_WARN_UNUSED_RESULT;

MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_new_for_uri        (const char           *uri,
                                                  GCancellable         *cancellable,
                                                  GError              **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_new_for_uri_async  (const char           *uri,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_new_for_uri_finish (GAsyncResult         *result,
                                                  GError              **error);
MPROC_AVAILABLE_IN_1_0
MprocQueue         *mproc_manager_new_queue          (MprocManager   *self,
                                                      const char     *name,
                                                      GCancellable   *cancellable,
                                                      GError        **error);
MPROC_AVAILABLE_IN_1_0
MprocJoinableQueue *mproc_manager_new_joinable_queue (MprocManager   *self,
                                                      const char     *name,
                                                      GCancellable   *cancellable,
                                                      GError        **error);
MPROC_AVAILABLE_IN_1_0
MprocSimpleQueue   *mproc_manager_new_simple_queue   (MprocManager   *self,
                                                      const char     *name,
                                                      GCancellable   *cancellable,
                                                      GError        **error);
MPROC_AVAILABLE_IN_1_0
MprocEvent         *mproc_manager_new_event          (MprocManager   *self,
                                                      const char     *name,
                                                      GCancellable   *cancellable,
                                                      GError        **error);
MPROC_AVAILABLE_IN_1_0
MprocLock          *mproc_manager_new_lock           (MprocManager   *self,
                                                      const char     *name,
                                                      GCancellable   *cancellable,
                                                      GError        **error);

MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_start            (MprocManager         *self,
                                                GCancellable         *cancellable,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_start_async      (MprocManager         *self,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_start_finish     (MprocManager         *self,
                                                GAsyncResult         *result,
                                                GError              **error);

MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_shutdown         (MprocManager         *self,
                                                GCancellable         *cancellable,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_shutdown_async   (MprocManager         *self,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_shutdown_finish  (MprocManager         *self,
                                                GAsyncResult         *result,
                                                GError              **error);

MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_connect          (const char           *address,
                                                GCancellable         *cancellable,
                                                GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_connect_async    (const char           *address,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_connect_finish   (GAsyncResult         *result,
                                                GError              **error) G_GNUC_WARN_UNUSED_RESULT;

MPROC_AVAILABLE_IN_1_0
void            mproc_manager_set_authkey      (MprocManager         *self,
                                                GBytes               *authkey);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_listen_tcp       (MprocManager         *self,
                                                const char           *host,
                                                guint16               port,
                                                GCancellable         *cancellable,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_listen_tcp_async (MprocManager         *self,
                                                const char           *host,
                                                guint16               port,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_listen_tcp_finish (MprocManager        *self,
                                                 GAsyncResult        *result,
                                                 GError             **error);
MPROC_AVAILABLE_IN_1_0
const char     *mproc_manager_get_tcp_address  (MprocManager         *self);
MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_connect_with_authkey        (const char           *address,
                                                           GBytes               *authkey,
                                                           GCancellable         *cancellable,
                                                           GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_connect_with_authkey_async  (const char           *address,
                                                           GBytes               *authkey,
                                                           GCancellable         *cancellable,
                                                           GAsyncReadyCallback   callback,
                                                           gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
MprocManager   *mproc_manager_connect_with_authkey_finish (GAsyncResult         *result,
                                                           GError              **error) G_GNUC_WARN_UNUSED_RESULT;

MPROC_AVAILABLE_IN_1_0
const char     *mproc_manager_get_address      (MprocManager         *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_set_timeout      (MprocManager         *self,
                                                int                   timeout_ms);
MPROC_AVAILABLE_IN_1_0
int             mproc_manager_get_timeout      (MprocManager         *self);
MPROC_AVAILABLE_IN_1_0
GPid            mproc_manager_get_server_pid   (MprocManager         *self);

MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_ping             (MprocManager         *self,
                                                GCancellable         *cancellable,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_ping_async       (MprocManager         *self,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_ping_finish      (MprocManager         *self,
                                                GAsyncResult         *result,
                                                GError              **error);

MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_publish          (MprocManager         *self,
                                                const char           *name,
                                                MprocShareable       *object,
                                                GCancellable         *cancellable,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_publish_async    (MprocManager         *self,
                                                const char           *name,
                                                MprocShareable       *object,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_publish_finish   (MprocManager         *self,
                                                GAsyncResult         *result,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
MprocShareable *mproc_manager_lookup           (MprocManager         *self,
                                                const char           *name,
                                                GCancellable         *cancellable,
                                                GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void            mproc_manager_lookup_async     (MprocManager         *self,
                                                const char           *name,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
MprocShareable *mproc_manager_lookup_finish    (MprocManager         *self,
                                                GAsyncResult         *result,
                                                GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_manager_unpublish        (MprocManager         *self,
                                                const char           *name,
                                                GCancellable         *cancellable,
                                                GError              **error);

G_END_DECLS
