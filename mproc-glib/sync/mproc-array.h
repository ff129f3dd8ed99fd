/* mproc-array.h: a typed fixed-size array in shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-rlock.h"
#include "mproc-value.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_ARRAY (mproc_array_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocArray, mproc_array, MPROC, ARRAY, GObject)

MPROC_AVAILABLE_IN_1_0
MprocArray     *mproc_array_new              (MprocValueType   value_type,
                                              guint            length,
                                              gboolean         with_lock,
                                              GError         **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
guint           mproc_array_get_length       (MprocArray      *self);
MPROC_AVAILABLE_IN_1_0
MprocValueType  mproc_array_get_value_type   (MprocArray      *self);
MPROC_AVAILABLE_IN_1_0
MprocRLock     *mproc_array_get_lock         (MprocArray      *self);
MPROC_AVAILABLE_IN_1_0
gint64          mproc_array_get_int          (MprocArray      *self,
                                              guint            index_);
MPROC_AVAILABLE_IN_1_0
void            mproc_array_set_int          (MprocArray      *self,
                                              guint            index_,
                                              gint64           value);
MPROC_AVAILABLE_IN_1_0
gdouble         mproc_array_get_double       (MprocArray      *self,
                                              guint            index_);
MPROC_AVAILABLE_IN_1_0
void            mproc_array_set_double       (MprocArray      *self,
                                              guint            index_,
                                              gdouble          value);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_array_get_boolean      (MprocArray      *self,
                                              guint            index_);
MPROC_AVAILABLE_IN_1_0
void            mproc_array_set_boolean      (MprocArray      *self,
                                              guint            index_,
                                              gboolean         value);
MPROC_AVAILABLE_IN_1_0
GVariant       *mproc_array_get_values       (MprocArray      *self) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
void            mproc_array_set_values       (MprocArray      *self,
                                              GVariant        *values);
MPROC_AVAILABLE_IN_1_0
gint64          mproc_array_add              (MprocArray      *self,
                                              guint            index_,
                                              gint64           delta);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_array_compare_and_swap (MprocArray      *self,
                                              guint            index_,
                                              gint64           old_value,
                                              gint64           new_value);

G_END_DECLS
