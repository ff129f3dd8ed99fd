/* mproc-condition.h: a condition variable shared between processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-lock.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_CONDITION (mproc_condition_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocCondition, mproc_condition, MPROC, CONDITION, GObject)

/**
 * MprocConditionPredicate:
 * @user_data: the data given with the predicate
 *
 * The condition that [method@Mproc.Condition.wait_for] waits for; called
 * with the condition's lock held.
 *
 * Returns: %TRUE when the condition holds
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef gboolean (*MprocConditionPredicate) (gpointer user_data);

MPROC_AVAILABLE_IN_1_0
MprocCondition *mproc_condition_new            (MprocLock               *lock,
                                                GError                 **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocLock      *mproc_condition_get_lock       (MprocCondition          *self);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_condition_acquire        (MprocCondition          *self,
                                                gint64                   timeout_usec,
                                                GCancellable            *cancellable,
                                                GError                 **error);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_condition_release        (MprocCondition          *self,
                                                GError                 **error);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_condition_wait           (MprocCondition          *self,
                                                gint64                   timeout_usec,
                                                GCancellable            *cancellable,
                                                GError                 **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_condition_wait_async     (MprocCondition          *self,
                                                gint64                   timeout_usec,
                                                GCancellable            *cancellable,
                                                GAsyncReadyCallback      callback,
                                                gpointer                 user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_condition_wait_finish    (MprocCondition          *self,
                                                GAsyncResult            *result,
                                                GError                 **error);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_condition_wait_for       (MprocCondition          *self,
                                                MprocConditionPredicate  predicate,
                                                gpointer                 user_data,
                                                gint64                   timeout_usec,
                                                GCancellable            *cancellable,
                                                GError                 **error);
MPROC_AVAILABLE_IN_0_2
guint           mproc_condition_notify         (MprocCondition          *self,
                                                guint                    n,
                                                GError                 **error);
MPROC_AVAILABLE_IN_0_2
guint           mproc_condition_notify_all     (MprocCondition          *self,
                                                GError                 **error);

G_END_DECLS
