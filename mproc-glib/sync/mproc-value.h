/* mproc-value.h: a typed scalar in shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-rlock.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

/**
 * MprocValueType:
 * @MPROC_VALUE_TYPE_BOOLEAN: a boolean (Python's `'?'`)
 * @MPROC_VALUE_TYPE_INT32: a 32-bit signed integer (`'i'`)
 * @MPROC_VALUE_TYPE_INT64: a 64-bit signed integer (`'q'`)
 * @MPROC_VALUE_TYPE_FLOAT: a single-precision float (`'f'`)
 * @MPROC_VALUE_TYPE_DOUBLE: a double-precision float (`'d'`)
 *
 * The type of a [class@Mproc.Value].
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef enum
{
  MPROC_VALUE_TYPE_BOOLEAN,
  MPROC_VALUE_TYPE_INT32,
  MPROC_VALUE_TYPE_INT64,
  MPROC_VALUE_TYPE_FLOAT,
  MPROC_VALUE_TYPE_DOUBLE,
} MprocValueType;

#define MPROC_TYPE_VALUE (mproc_value_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocValue, mproc_value, MPROC, VALUE, GObject)

MPROC_AVAILABLE_IN_1_0
MprocValue     *mproc_value_new              (MprocValueType   value_type,
                                              gboolean         with_lock,
                                              GError         **error) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocValueType  mproc_value_get_value_type   (MprocValue      *self);
MPROC_AVAILABLE_IN_1_0
MprocRLock     *mproc_value_get_lock         (MprocValue      *self);
MPROC_AVAILABLE_IN_1_0
gint64          mproc_value_get_int          (MprocValue      *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_value_set_int          (MprocValue      *self,
                                              gint64           value);
MPROC_AVAILABLE_IN_1_0
gdouble         mproc_value_get_double       (MprocValue      *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_value_set_double       (MprocValue      *self,
                                              gdouble          value);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_value_get_boolean      (MprocValue      *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_value_set_boolean      (MprocValue      *self,
                                              gboolean         value);
MPROC_AVAILABLE_IN_1_0
gint64          mproc_value_add              (MprocValue      *self,
                                              gint64           delta);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_value_compare_and_swap (MprocValue      *self,
                                              gint64           old_value,
                                              gint64           new_value);

G_END_DECLS
