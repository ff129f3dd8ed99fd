/* mproc-joinable-queue.h: a queue whose items are marked done
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include "mproc-queue.h"

G_BEGIN_DECLS

#define MPROC_TYPE_JOINABLE_QUEUE (mproc_joinable_queue_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocJoinableQueue, mproc_joinable_queue, MPROC, JOINABLE_QUEUE, MprocQueue)

MPROC_AVAILABLE_IN_1_0
MprocJoinableQueue *mproc_joinable_queue_new       (guint                maxsize,
                                                    GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean            mproc_joinable_queue_task_done (MprocJoinableQueue  *self,
                                                    GError             **error);
MPROC_AVAILABLE_IN_1_0
gboolean            mproc_joinable_queue_join      (MprocJoinableQueue  *self,
                                                    gint64               timeout_usec,
                                                    GCancellable        *cancellable,
                                                    GError             **error);
MPROC_AVAILABLE_IN_1_0
void                mproc_joinable_queue_join_async (MprocJoinableQueue  *self,
                                                     gint64               timeout_usec,
                                                     GCancellable        *cancellable,
                                                     GAsyncReadyCallback  callback,
                                                     gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean            mproc_joinable_queue_join_finish (MprocJoinableQueue  *self,
                                                      GAsyncResult        *result,
                                                      GError             **error);

G_END_DECLS
