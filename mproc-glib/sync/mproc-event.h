/* mproc-event.h: a flag shared between processes that can be waited for
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

#define MPROC_TYPE_EVENT (mproc_event_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocEvent, mproc_event, MPROC, EVENT, GObject)

MPROC_AVAILABLE_IN_1_0
MprocEvent *mproc_event_new         (GError              **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void        mproc_event_set         (MprocEvent           *self);
MPROC_AVAILABLE_IN_1_0
void        mproc_event_clear       (MprocEvent           *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_event_is_set      (MprocEvent           *self);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_event_wait        (MprocEvent           *self,
                                     gint64                timeout_usec,
                                     GCancellable         *cancellable,
                                     GError              **error);
MPROC_AVAILABLE_IN_1_0
void        mproc_event_wait_async  (MprocEvent           *self,
                                     gint64                timeout_usec,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data);
MPROC_AVAILABLE_IN_1_0
gboolean    mproc_event_wait_finish (MprocEvent           *self,
                                     GAsyncResult         *result,
                                     GError              **error);

G_END_DECLS
