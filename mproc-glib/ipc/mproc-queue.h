/* mproc-queue.h: a multi-producer multi-consumer message queue
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

/**
 * MPROC_QUEUE_DEFAULT_CAPACITY:
 *
 * The byte capacity of a queue's shared ring when none is given: 4 MiB
 * (pages are only allocated as they are used).
 *
 * Since: 0.1
 * Stability: Unstable
 */
#define MPROC_QUEUE_DEFAULT_CAPACITY (4 * 1024 * 1024)

#define MPROC_TYPE_QUEUE (mproc_queue_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_DERIVABLE_TYPE (MprocQueue, mproc_queue, MPROC, QUEUE, GObject)

/**
 * MprocQueueClass:
 * @parent_class: the parent class
 *
 * The class of #MprocQueue. It has no virtual functions; #MprocJoinableQueue
 * derives from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
struct _MprocQueueClass
{
  GObjectClass parent_class;

  /*< private >*/
  gpointer _reserved[8];
};

MPROC_AVAILABLE_IN_1_0
MprocQueue *mproc_queue_new                (guint                maxsize,
                                            GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocQueue *mproc_queue_new_full           (guint                maxsize,
                                            gsize                capacity,
                                            GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
guint       mproc_queue_get_maxsize        (MprocQueue          *self);
MPROC_AVAILABLE_IN_1_0
gsize       mproc_queue_get_capacity       (MprocQueue          *self);

MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_put                (MprocQueue          *self,
                                            GVariant            *value,
                                            gint64               timeout_usec,
                                            GCancellable        *cancellable,
                                            GError             **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_put_nowait         (MprocQueue          *self,
                                            GVariant            *value,
                                            GError             **error);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_put_int64          (MprocQueue          *self,
                                            gint64               value,
                                            gint64               timeout_usec,
                                            GCancellable        *cancellable,
                                            GError             **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_queue_put_async          (MprocQueue          *self,
                                            GVariant            *value,
                                            gint64               timeout_usec,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_put_finish         (MprocQueue          *self,
                                            GAsyncResult        *result,
                                            GError             **error);

MPROC_AVAILABLE_IN_1_0
GVariant   *mproc_queue_get                (MprocQueue          *self,
                                            gint64               timeout_usec,
                                            GCancellable        *cancellable,
                                            GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
GVariant   *mproc_queue_get_nowait         (MprocQueue          *self,
                                            GError             **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_get_int64          (MprocQueue          *self,
                                            gint64              *out_value,
                                            gint64               timeout_usec,
                                            GCancellable        *cancellable,
                                            GError             **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_queue_get_async          (MprocQueue          *self,
                                            gint64               timeout_usec,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
GVariant   *mproc_queue_get_finish         (MprocQueue          *self,
                                            GAsyncResult        *result,
                                            GError             **error) G_GNUC_WARN_UNUSED_RESULT;

MPROC_AVAILABLE_IN_1_0
guint       mproc_queue_get_qsize          (MprocQueue          *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_is_empty           (MprocQueue          *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_is_full            (MprocQueue          *self);

MPROC_AVAILABLE_IN_1_0
void        mproc_queue_close              (MprocQueue          *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_queue_is_closed          (MprocQueue          *self);
MPROC_AVAILABLE_IN_1_0
void        mproc_queue_join_thread        (MprocQueue          *self);
MPROC_AVAILABLE_IN_1_0
void        mproc_queue_cancel_join_thread (MprocQueue          *self);

MPROC_AVAILABLE_IN_1_0
GSource    *mproc_queue_create_source      (MprocQueue          *self) G_GNUC_WARN_UNUSED_RESULT;

G_END_DECLS
