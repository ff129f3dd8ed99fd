/* mproc-element-private.h: typed slots in shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The elements of an MprocArray and the one slot of an MprocValue: stored
 * at their C size (1, 4 or 8 bytes, as Python's ctypes), each read and
 * written atomically. Integers and booleans go in and out as gint64,
 * floats and doubles as gdouble.
 */

#pragma once

#include <string.h>

#include <glib.h>

#include "mproc-enum-types.h"
#include "mproc-value.h"

G_BEGIN_DECLS

static inline gsize
mproc_element_size (MprocValueType type)
{
  switch (type)
    {
    case MPROC_VALUE_TYPE_BOOLEAN:
      return 1;
    case MPROC_VALUE_TYPE_INT32:
    case MPROC_VALUE_TYPE_FLOAT:
      return 4;
    case MPROC_VALUE_TYPE_INT64:
    case MPROC_VALUE_TYPE_DOUBLE:
    default:
      return 8;
    }
}

static inline gboolean
mproc_element_is_integer (MprocValueType type)
{
  return type <= MPROC_VALUE_TYPE_INT64;
}

static inline gint64
mproc_element_normalise (MprocValueType type,
                         gint64         value)
{
  switch (type)
    {
    case MPROC_VALUE_TYPE_BOOLEAN:
      return value != 0;
    case MPROC_VALUE_TYPE_INT32:
      return (gint32) value;
    case MPROC_VALUE_TYPE_INT64:
    case MPROC_VALUE_TYPE_FLOAT:
    case MPROC_VALUE_TYPE_DOUBLE:
    default:
      return value;
    }
}

/* Integer and boolean elements, widened to gint64. */
static inline gint64
mproc_element_load_int (MprocValueType type,
                        gpointer       data,
                        guint          i)
{
  switch (type)
    {
    case MPROC_VALUE_TYPE_BOOLEAN:
      return __atomic_load_n ((guint8 *) data + i, __ATOMIC_RELAXED);
    case MPROC_VALUE_TYPE_INT32:
      return __atomic_load_n ((gint32 *) data + i, __ATOMIC_RELAXED);
    case MPROC_VALUE_TYPE_INT64:
    case MPROC_VALUE_TYPE_FLOAT:
    case MPROC_VALUE_TYPE_DOUBLE:
    default:
      return __atomic_load_n ((gint64 *) data + i, __ATOMIC_RELAXED);
    }
}

/* @value is normalised. */
static inline void
mproc_element_store_int (MprocValueType type,
                         gpointer       data,
                         guint          i,
           gint64      value)
{
  switch (type)
    {
    case MPROC_VALUE_TYPE_BOOLEAN:
      __atomic_store_n ((guint8 *) data + i, (guint8) value, __ATOMIC_RELAXED);
      break;
    case MPROC_VALUE_TYPE_INT32:
      __atomic_store_n ((gint32 *) data + i, (gint32) value, __ATOMIC_RELAXED);
      break;
    case MPROC_VALUE_TYPE_INT64:
    case MPROC_VALUE_TYPE_FLOAT:
    case MPROC_VALUE_TYPE_DOUBLE:
    default:
      __atomic_store_n ((gint64 *) data + i, value, __ATOMIC_RELAXED);
      break;
    }
}

/* Both values are normalised; on failure *@expected is the current value. */
static inline gboolean
mproc_element_cas_int (MprocValueType type,
                       gpointer       data,
                       guint          i,
         gint64     *expected,
         gint64      desired)
{
  gboolean ok;

  switch (type)
    {
    case MPROC_VALUE_TYPE_BOOLEAN:
      {
        guint8 old = (guint8) *expected;

        ok = __atomic_compare_exchange_n ((guint8 *) data + i, &old, (guint8) desired,
                                          FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
        *expected = old;
      }
      break;
    case MPROC_VALUE_TYPE_INT32:
      {
        gint32 old = (gint32) *expected;

        ok = __atomic_compare_exchange_n ((gint32 *) data + i, &old, (gint32) desired,
                                          FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
        *expected = old;
      }
      break;
    case MPROC_VALUE_TYPE_INT64:
    case MPROC_VALUE_TYPE_FLOAT:
    case MPROC_VALUE_TYPE_DOUBLE:
    default:
      ok = __atomic_compare_exchange_n ((gint64 *) data + i, expected, desired,
                                        FALSE, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
      break;
    }
  return ok;
}

static inline gdouble
mproc_element_load_double (MprocValueType type,
                           gpointer       data,
                           guint          i)
{
  if (type == MPROC_VALUE_TYPE_FLOAT)
    {
      guint32 bits = __atomic_load_n ((guint32 *) data + i, __ATOMIC_RELAXED);
      gfloat value;

      memcpy (&value, &bits, sizeof value);
      return value;
    }
  else
    {
      guint64 bits = __atomic_load_n ((guint64 *) data + i, __ATOMIC_RELAXED);
      gdouble value;

      memcpy (&value, &bits, sizeof value);
      return value;
    }
}

static inline void
mproc_element_store_double (MprocValueType type,
                            gpointer       data,
                            guint          i,
              gdouble     value)
{
  if (type == MPROC_VALUE_TYPE_FLOAT)
    {
      gfloat narrow = (gfloat) value;
      guint32 bits;

      memcpy (&bits, &narrow, sizeof bits);
      __atomic_store_n ((guint32 *) data + i, bits, __ATOMIC_RELAXED);
    }
  else
    {
      guint64 bits;

      memcpy (&bits, &value, sizeof bits);
      __atomic_store_n ((guint64 *) data + i, bits, __ATOMIC_RELAXED);
    }
}

/* Adds atomically (wrapping around on overflow); returns the new value. */
static inline gint64
mproc_element_add (MprocValueType type,
                   gpointer       data,
                   guint          i,
                   gint64         delta)
{
  gint64 old = mproc_element_load_int (type, data, i);
  gint64 new;

  do
    new = mproc_element_normalise (type, (gint64) ((guint64) old + (guint64) delta));
  while (!mproc_element_cas_int (type, data, i, &old, new));
  return new;
}

/* Stores @new_value if the slot holds @old_value; a value the slot's type
 * cannot hold is never there. */
static inline gboolean
mproc_element_compare_and_swap (MprocValueType type,
                                gpointer       data,
                                guint          i,
                                gint64         old_value,
                                gint64         new_value)
{
  if (mproc_element_normalise (type, old_value) != old_value)
    return FALSE;
  return mproc_element_cas_int (type, data, i, &old_value, mproc_element_normalise (type, new_value));
}

/* The construct properties that MprocValue and MprocArray share. */
static inline GParamSpec *
mproc_element_value_type_pspec (void)
{
  return g_param_spec_enum ("value-type", NULL, NULL,
                            MPROC_TYPE_VALUE_TYPE, MPROC_VALUE_TYPE_INT64,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                            G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

static inline GParamSpec *
mproc_element_with_lock_pspec (void)
{
  return g_param_spec_boolean ("with-lock", NULL, NULL,
                               TRUE,
                               G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                               G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
}

G_END_DECLS
