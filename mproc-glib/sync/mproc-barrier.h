/* mproc-barrier.h: a barrier shared between processes
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

#define MPROC_TYPE_BARRIER (mproc_barrier_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocBarrier, mproc_barrier, MPROC, BARRIER, GObject)

MPROC_AVAILABLE_IN_1_0
MprocBarrier *mproc_barrier_new           (guint                 parties,
                                           GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
guint         mproc_barrier_get_parties   (MprocBarrier         *self);
MPROC_AVAILABLE_IN_1_0
guint         mproc_barrier_get_n_waiting (MprocBarrier         *self);
MPROC_AVAILABLE_IN_1_0
gboolean      mproc_barrier_is_broken     (MprocBarrier         *self);
MPROC_AVAILABLE_IN_1_0
gint          mproc_barrier_wait          (MprocBarrier         *self,
                                           gint64                timeout_usec,
                                           GCancellable         *cancellable,
                                           GError              **error);
MPROC_AVAILABLE_IN_1_0
void          mproc_barrier_wait_async    (MprocBarrier         *self,
                                           gint64                timeout_usec,
                                           GCancellable         *cancellable,
                                           GAsyncReadyCallback   callback,
                                           gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gint          mproc_barrier_wait_finish   (MprocBarrier         *self,
                                           GAsyncResult         *result,
                                           GError              **error);
MPROC_AVAILABLE_IN_1_0
void          mproc_barrier_abort         (MprocBarrier         *self);
MPROC_AVAILABLE_IN_1_0
void          mproc_barrier_reset         (MprocBarrier         *self);

G_END_DECLS
