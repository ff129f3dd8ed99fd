/* mproc-semaphore.h: a counting semaphore shared between processes
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

#define MPROC_TYPE_SEMAPHORE (mproc_semaphore_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocSemaphore, mproc_semaphore, MPROC, SEMAPHORE, GObject)

MPROC_AVAILABLE_IN_1_0
MprocSemaphore *mproc_semaphore_new            (guint                 value,
                                                GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocSemaphore *mproc_semaphore_new_bounded    (guint                 value,
                                                GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_semaphore_is_bounded     (MprocSemaphore       *self);
MPROC_AVAILABLE_IN_1_0
guint           mproc_semaphore_get_value      (MprocSemaphore       *self);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_semaphore_acquire        (MprocSemaphore       *self,
                                                gint64                timeout_usec,
                                                GCancellable         *cancellable,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_semaphore_try_acquire    (MprocSemaphore       *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_semaphore_acquire_async  (MprocSemaphore       *self,
                                                gint64                timeout_usec,
                                                GCancellable         *cancellable,
                                                GAsyncReadyCallback   callback,
                                                gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_semaphore_acquire_finish (MprocSemaphore       *self,
                                                GAsyncResult         *result,
                                                GError              **error);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_semaphore_release        (MprocSemaphore       *self,
                                                GError              **error);

G_END_DECLS
