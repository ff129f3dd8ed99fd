/* mproc-value.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"
#include "mproc-element-private.h"
#include "mproc-value.h"

/**
 * MprocValue:
 *
 * A typed scalar in shared memory: Python's `multiprocessing.Value`.
 *
 * Every copy of a value (in every process it was handed to) reads and
 * writes the same memory. Reads and writes are atomic (never torn), but a
 * read-modify-write such as `set_int (v, get_int (v) + 1)` is not: use
 * [method@Mproc.Value.add] or [method@Mproc.Value.compare_and_swap], or
 * hold the value's lock ([method@Mproc.Value.get_lock], made when
 * @with_lock is %TRUE, as Python's `lock=True`) around the sequence.
 *
 * Integers and booleans are read and written with the `_int` and
 * `_boolean` accessors, floats and doubles with the `_double` ones.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_VALUE, "value-type", MPROC_VALUE_TYPE_INT32,
 * NULL)` (GJS's `new Mproc.Value({value_type: …})`, Python's
 * `GObject.new()` or a subclass) makes a complete value: its shared
 * memory is made by [method@Gio.Initable.init], or on first use when
 * nobody called it.
 *
 * ## Thread safety
 *
 * All methods may be called from any thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */

typedef struct
{
  guint32 value_type;
  guint32 _pad;
  gint64  bits;
} ValueShared;

struct _MprocValue
{
  GObject         parent_instance;
  MprocInitOnce   once;
  MprocSync      *sync;
  ValueShared    *shared;
  MprocValueType  value_type;
  gboolean        with_lock;   /* construct property */
  MprocRLock     *lock;
};

enum {
  PROP_0,
  PROP_VALUE_TYPE,
  PROP_WITH_LOCK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_value_initable_init (GInitableIface *iface);
static void mproc_value_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocValue, mproc_value, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_value_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_value_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

static void
mproc_value_finalize (GObject *object)
{
  MprocValue *self = MPROC_VALUE (object);

  g_clear_pointer (&self->sync, mproc_sync_free);
  g_clear_object (&self->lock);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_value_parent_class)->finalize (object);
}

static void
mproc_value_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  MprocValue *self = MPROC_VALUE (object);

  switch (prop_id)
    {
    case PROP_VALUE_TYPE:
      g_value_set_enum (value, mproc_value_get_value_type (self));
      break;

    case PROP_WITH_LOCK:
      g_value_set_boolean (value, mproc_value_get_lock (self) != NULL);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_value_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  MprocValue *self = MPROC_VALUE (object);

  switch (prop_id)
    {
    case PROP_VALUE_TYPE:
      self->value_type = g_value_get_enum (value);
      break;

    case PROP_WITH_LOCK:
      self->with_lock = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_value_class_init (MprocValueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_value_finalize;
  object_class->get_property = mproc_value_get_property;
  object_class->set_property = mproc_value_set_property;

  /**
   * MprocValue:value-type:
   *
   * The type of the value.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_VALUE_TYPE] = mproc_element_value_type_pspec ();

  /**
   * MprocValue:with-lock:
   *
   * Whether a [class@Mproc.RLock] goes with it ([method@Mproc.Value.get_lock]),
   * as Python's `lock=True`.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_WITH_LOCK] = mproc_element_with_lock_pspec ();

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_value_init (MprocValue *self)
{
  self->value_type = MPROC_VALUE_TYPE_INT64;
  self->with_lock = TRUE;
}

static gboolean
value_init_shared (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  MprocValue *self = MPROC_VALUE (initable);

  if (self->with_lock)
    {
      self->lock = mproc_rlock_new (error);
      if (self->lock == NULL)
        return FALSE;
    }
  self->sync = mproc_sync_new (sizeof (ValueShared), "mproc-value", error);
  if (self->sync == NULL)
    return FALSE;
  self->shared = mproc_sync_get_state (self->sync);
  self->shared->value_type = self->value_type;
  return TRUE;
}

static gboolean
mproc_value_initable_init_impl (GInitable     *initable,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  return mproc_init_once_run (&MPROC_VALUE (initable)->once, initable, value_init_shared,
                              cancellable, error);
}

static void
mproc_value_initable_init (GInitableIface *iface)
{
  iface->init = mproc_value_initable_init_impl;
}

static GVariant *
mproc_value_serialize (MprocShareable  *shareable,
                       GArray          *fds,
                       GError         **error)
{
  MprocValue *self = MPROC_VALUE (shareable);
  g_autoptr(GVariant) sync = NULL;
  GVariant *lock;

  sync = mproc_sync_serialize (self->sync, fds, error);
  if (sync == NULL)
    return NULL;
  lock = mproc_sync_serialize_optional_lock (self->lock, fds, error);
  if (lock == NULL)
    return NULL;
  return g_variant_new ("(@(hh)u@m(sv))", g_steal_pointer (&sync), (guint32) self->value_type, lock);
}

static gboolean
mproc_value_attach (MprocShareable  *shareable,
                    GVariant        *handle,
                    GArray          *fds,
                    GError         **error)
{
  MprocValue *self = MPROC_VALUE (shareable);
  g_autoptr(GVariant) sync_h = NULL;
  g_autoptr(GVariant) lock_h = NULL;
  MprocRLock *lock = NULL;
  MprocSync *sync;
  guint32 value_type;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("((hh)um(sv))")))
    goto malformed;
  g_variant_get (handle, "(@(hh)u@m(sv))", &sync_h, &value_type, &lock_h);
  if (value_type > MPROC_VALUE_TYPE_DOUBLE)
    goto malformed;

  if (!mproc_sync_deserialize_optional_lock (lock_h, fds, &lock, error))
    return FALSE;
  sync = mproc_sync_new_from_handle (sync_h, fds, sizeof (ValueShared), error);
  if (sync == NULL)
    {
      g_clear_object (&lock);
      return FALSE;
    }
  self->sync = sync;
  self->shared = mproc_sync_get_state (sync);
  self->value_type = value_type;
  self->with_lock = lock != NULL;
  self->lock = lock;
  mproc_init_once_mark_done (&self->once);
  return TRUE;

malformed:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed shared value"));
  return FALSE;
}

static void
mproc_value_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_value_serialize;
  iface->attach = mproc_value_attach;
}

/**
 * mproc_value_new:
 * @value_type: the type of the value
 * @with_lock: whether to make a [class@Mproc.RLock] to go with it
 * @error: return location for a #GError
 *
 * Creates a value in shared memory, 0 (or %FALSE, or 0.0).
 *
 * Returns: (transfer full): a new `MprocValue`, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocValue *
mproc_value_new (MprocValueType   value_type,
                 gboolean         with_lock,
                 GError         **error)
{
  g_return_val_if_fail (value_type <= MPROC_VALUE_TYPE_DOUBLE, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_VALUE, NULL, error,
                         "value-type", value_type, "with-lock", with_lock, NULL);
}

/**
 * mproc_value_get_value_type:
 * @self: a `MprocValue`
 *
 * Gets the type of @self, fixed when it was made.
 *
 * Returns: the type of @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocValueType
mproc_value_get_value_type (MprocValue *self)
{
  g_return_val_if_fail (MPROC_IS_VALUE (self), MPROC_VALUE_TYPE_INT64);

  return self->value_type;
}

/**
 * mproc_value_get_lock:
 * @self: a `MprocValue`
 *
 * Gets the lock that guards sequences of accesses to @self, shared
 * with every process @self was handed to.
 *
 * Returns: (transfer none) (nullable): the lock made with @self, or %NULL
 *   if it was made without one
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocRLock *
mproc_value_get_lock (MprocValue *self)
{
  g_return_val_if_fail (MPROC_IS_VALUE (self), NULL);

  if (!READY (self, NULL))
    return NULL;

  return self->lock;
}

/**
 * mproc_value_get_int:
 * @self: a `MprocValue` of an integer or boolean type
 *
 * Reads the value of an integer or boolean `MprocValue`, atomically.
 *
 * Returns: the value
 *
 * Since: 0.1
 * Stability: Unstable
 */
gint64
mproc_value_get_int (MprocValue *self)
{
  g_return_val_if_fail (MPROC_IS_VALUE (self), 0);
  g_return_val_if_fail (mproc_element_is_integer (self->value_type), 0);

  if (!READY (self, NULL))
    return 0;

  return mproc_element_load_int (self->value_type, &self->shared->bits, 0);
}

/**
 * mproc_value_set_int:
 * @self: a `MprocValue` of an integer or boolean type
 * @value: the new value, truncated to the type of @self
 *
 * Stores @value.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_value_set_int (MprocValue *self,
                     gint64      value)
{
  g_return_if_fail (MPROC_IS_VALUE (self));
  g_return_if_fail (mproc_element_is_integer (self->value_type));

  if (!READY (self, NULL))
    return;

  mproc_element_store_int (self->value_type, &self->shared->bits, 0,
                           mproc_element_normalise (self->value_type, value));
}

/**
 * mproc_value_get_double:
 * @self: a `MprocValue` of type float or double
 *
 * Reads the value of a floating-point `MprocValue`, atomically.
 *
 * Returns: the value
 *
 * Since: 0.1
 * Stability: Unstable
 */
gdouble
mproc_value_get_double (MprocValue *self)
{
  g_return_val_if_fail (MPROC_IS_VALUE (self), 0.0);
  g_return_val_if_fail (!mproc_element_is_integer (self->value_type), 0.0);

  if (!READY (self, NULL))
    return 0.0;

  return mproc_element_load_double (self->value_type, &self->shared->bits, 0);
}

/**
 * mproc_value_set_double:
 * @self: a `MprocValue` of type float or double
 * @value: the new value (rounded to single precision for a float)
 *
 * Stores @value.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_value_set_double (MprocValue *self,
                        gdouble     value)
{
  g_return_if_fail (MPROC_IS_VALUE (self));
  g_return_if_fail (!mproc_element_is_integer (self->value_type));

  if (!READY (self, NULL))
    return;

  mproc_element_store_double (self->value_type, &self->shared->bits, 0, value);
}

/**
 * mproc_value_get_boolean:
 * @self: a `MprocValue` of an integer or boolean type
 *
 * Reads the value as a boolean, atomically.
 *
 * Returns: whether the value is non-zero
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_value_get_boolean (MprocValue *self)
{
  return mproc_value_get_int (self) != 0;
}

/**
 * mproc_value_set_boolean:
 * @self: a `MprocValue` of an integer or boolean type
 * @value: the new value
 *
 * Stores @value (1 or 0).
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_value_set_boolean (MprocValue *self,
                         gboolean    value)
{
  mproc_value_set_int (self, value ? 1 : 0);
}

/**
 * mproc_value_add:
 * @self: a `MprocValue` of an integer type
 * @delta: what to add
 *
 * Adds @delta atomically (wrapping around on overflow).
 *
 * Returns: the new value
 *
 * Since: 0.1
 * Stability: Unstable
 */
gint64
mproc_value_add (MprocValue *self,
                 gint64      delta)
{
  g_return_val_if_fail (MPROC_IS_VALUE (self), 0);
  g_return_val_if_fail (mproc_element_is_integer (self->value_type), 0);

  if (!READY (self, NULL))
    return 0;

  return mproc_element_add (self->value_type, &self->shared->bits, 0, delta);
}

/**
 * mproc_value_compare_and_swap:
 * @self: a `MprocValue` of an integer type
 * @old_value: the expected value
 * @new_value: the value to store
 *
 * Stores @new_value if the value is @old_value, atomically.
 *
 * Returns: %TRUE when @new_value was stored
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_value_compare_and_swap (MprocValue *self,
                              gint64      old_value,
                              gint64      new_value)
{
  g_return_val_if_fail (MPROC_IS_VALUE (self), FALSE);
  g_return_val_if_fail (mproc_element_is_integer (self->value_type), FALSE);

  if (!READY (self, NULL))
    return FALSE;

  return mproc_element_compare_and_swap (self->value_type, &self->shared->bits, 0,
                                         old_value, new_value);
}
