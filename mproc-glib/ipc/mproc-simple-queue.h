/* mproc-simple-queue.h: the minimal message queue
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_SIMPLE_QUEUE (mproc_simple_queue_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocSimpleQueue, mproc_simple_queue, MPROC, SIMPLE_QUEUE, GObject)

MPROC_AVAILABLE_IN_1_0
MprocSimpleQueue *mproc_simple_queue_new        (GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean          mproc_simple_queue_put        (MprocSimpleQueue    *self,
                                                 GVariant            *value,
                                                 GCancellable        *cancellable,
                                                 GError             **error);
MPROC_AVAILABLE_IN_1_0
GVariant         *mproc_simple_queue_get        (MprocSimpleQueue    *self,
                                                 GCancellable        *cancellable,
                                                 GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void              mproc_simple_queue_get_async  (MprocSimpleQueue    *self,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant         *mproc_simple_queue_get_finish (MprocSimpleQueue    *self,
                                                 GAsyncResult        *result,
                                                 GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean          mproc_simple_queue_is_empty   (MprocSimpleQueue    *self);
MPROC_AVAILABLE_IN_1_0
void              mproc_simple_queue_close      (MprocSimpleQueue    *self);

G_END_DECLS
