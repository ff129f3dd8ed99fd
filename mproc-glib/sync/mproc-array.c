/* mproc-array.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <string.h>

#include "mproc-array.h"
#include "mproc-element-private.h"
#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-shareable-private.h"
#include "mproc-sync-private.h"

/**
 * MprocArray:
 *
 * A typed fixed-size array in shared memory: Python's
 * `multiprocessing.Array`.
 *
 * Every copy of an array (in every process it was handed to) reads and
 * writes the same memory. The elements are stored as their C type (one
 * byte per boolean, four per 32-bit integer or float, eight per 64-bit
 * integer or double) and start at 0 (or %FALSE, or 0.0).
 *
 * Each element is read and written atomically (never torn), but a
 * read-modify-write such as `set_int (a, i, get_int (a, i) + 1)` is not:
 * use [method@Mproc.Array.add] or [method@Mproc.Array.compare_and_swap],
 * or hold the array's lock ([method@Mproc.Array.get_lock], made when
 * @with_lock is %TRUE, as Python's `lock=True`) around the sequence. The
 * same goes for [method@Mproc.Array.get_values] and
 * [method@Mproc.Array.set_values]: they read and write element by element,
 * so hold the lock to see or store the whole array at once.
 *
 * Integers and booleans are read and written with the `_int` and
 * `_boolean` accessors, floats and doubles with the `_double` ones, as for
 * [class@Mproc.Value]. An index out of range is a programmer error.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_ARRAY, "value-type", …, "length", 10, NULL)`
 * (GJS's `new Mproc.Array({value_type: …, length: 10})`, Python's
 * `GObject.new()` or a subclass) makes a complete array: its shared
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

/* The state of the MprocSync: the header, then the elements (8-aligned,
 * as MPROC_SYNC_STATE_OFFSET is). */
typedef struct
{
  guint32 value_type;
  guint32 length;
} ArrayShared;

G_STATIC_ASSERT (sizeof (ArrayShared) == 8);

struct _MprocArray
{
  GObject         parent_instance;
  MprocInitOnce   once;
  MprocSync      *sync;
  gpointer        data;
  MprocValueType  value_type;
  guint           length;
  gboolean        with_lock;   /* construct property */
  MprocRLock     *lock;
};

enum {
  PROP_0,
  PROP_VALUE_TYPE,
  PROP_LENGTH,
  PROP_WITH_LOCK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_array_initable_init (GInitableIface *iface);
static void mproc_array_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocArray, mproc_array, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_array_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_array_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

/* The size of the state for @length elements, or FALSE if it overflows. */
static gboolean
state_size (MprocValueType  value_type,
            guint           length,
            gsize          *size)
{
  gsize bytes;

  if (!g_size_checked_mul (&bytes, length, mproc_element_size (value_type)) ||
      !g_size_checked_add (&bytes, bytes, sizeof (ArrayShared)) ||
      bytes > G_MAXSIZE - MPROC_SYNC_STATE_OFFSET)
    return FALSE;
  *size = bytes;
  return TRUE;
}

static void
mproc_array_finalize (GObject *object)
{
  MprocArray *self = MPROC_ARRAY (object);

  g_clear_pointer (&self->sync, mproc_sync_free);
  g_clear_object (&self->lock);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_array_parent_class)->finalize (object);
}

static void
mproc_array_get_property (GObject    *object,
                       guint       prop_id,
                       GValue     *value,
                       GParamSpec *pspec)
{
  MprocArray *self = MPROC_ARRAY (object);

  switch (prop_id)
    {
    case PROP_VALUE_TYPE:
      g_value_set_enum (value, mproc_array_get_value_type (self));
      break;

    case PROP_LENGTH:
      g_value_set_uint (value, mproc_array_get_length (self));
      break;

    case PROP_WITH_LOCK:
      g_value_set_boolean (value, mproc_array_get_lock (self) != NULL);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_array_set_property (GObject      *object,
                       guint         prop_id,
                       const GValue *value,
                       GParamSpec   *pspec)
{
  MprocArray *self = MPROC_ARRAY (object);

  switch (prop_id)
    {
    case PROP_VALUE_TYPE:
      self->value_type = g_value_get_enum (value);
      break;

    case PROP_LENGTH:
      self->length = g_value_get_uint (value);
      break;

    case PROP_WITH_LOCK:
      self->with_lock = g_value_get_boolean (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}


static void
mproc_array_class_init (MprocArrayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_array_finalize;
  object_class->get_property = mproc_array_get_property;
  object_class->set_property = mproc_array_set_property;

  /**
   * MprocArray:value-type:
   *
   * The type of the elements.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_VALUE_TYPE] = mproc_element_value_type_pspec ();

  /**
   * MprocArray:length:
   *
   * The number of elements, fixed when the array is made.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_LENGTH] =
    g_param_spec_uint ("length", NULL, NULL,
                       0, G_MAXUINT32, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocArray:with-lock:
   *
   * Whether a [class@Mproc.RLock] goes with it ([method@Mproc.Array.get_lock]),
   * as Python's `lock=True`.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_WITH_LOCK] = mproc_element_with_lock_pspec ();

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_array_init (MprocArray *self)
{
  self->value_type = MPROC_VALUE_TYPE_INT64;
  self->with_lock = TRUE;
}

static gboolean
array_init_shared (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  MprocArray *self = MPROC_ARRAY (initable);
  ArrayShared *shared;
  gsize size;

  if (!state_size (self->value_type, self->length, &size))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot create a shared array of %u elements: too large"), self->length);
      return FALSE;
    }
  if (self->with_lock)
    {
      self->lock = mproc_rlock_new (error);
      if (self->lock == NULL)
        return FALSE;
    }
  self->sync = mproc_sync_new (size, "mproc-array", error);
  if (self->sync == NULL)
    return FALSE;
  shared = mproc_sync_get_state (self->sync);
  shared->value_type = self->value_type;
  shared->length = self->length;
  self->data = shared + 1;
  return TRUE;
}

static gboolean
mproc_array_initable_init_impl (GInitable     *initable,
                                  GCancellable  *cancellable,
                                  GError       **error)
{
  return mproc_init_once_run (&MPROC_ARRAY (initable)->once, initable, array_init_shared,
                              cancellable, error);
}

static void
mproc_array_initable_init (GInitableIface *iface)
{
  iface->init = mproc_array_initable_init_impl;
}

static GVariant *
mproc_array_serialize (MprocShareable  *shareable,
                       GArray          *fds,
                       GError         **error)
{
  MprocArray *self = MPROC_ARRAY (shareable);
  g_autoptr(GVariant) sync = NULL;
  GVariant *lock;

  sync = mproc_sync_serialize (self->sync, fds, error);
  if (sync == NULL)
    return NULL;
  lock = mproc_sync_serialize_optional_lock (self->lock, fds, error);
  if (lock == NULL)
    return NULL;
  return g_variant_new ("(@(hh)uu@m(sv))", g_steal_pointer (&sync),
                        (guint32) self->value_type, (guint32) self->length, lock);
}

static gboolean
mproc_array_attach (MprocShareable  *shareable,
                    GVariant        *handle,
                    GArray          *fds,
                    GError         **error)
{
  MprocArray *self = MPROC_ARRAY (shareable);
  g_autoptr(GVariant) sync_h = NULL;
  g_autoptr(GVariant) lock_h = NULL;
  MprocRLock *lock = NULL;
  MprocSync *sync;
  ArrayShared *shared;
  guint32 value_type;
  guint32 length;
  gsize size;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("((hh)uum(sv))")))
    goto malformed;
  g_variant_get (handle, "(@(hh)uu@m(sv))", &sync_h, &value_type, &length, &lock_h);
  if (value_type > MPROC_VALUE_TYPE_DOUBLE || !state_size (value_type, length, &size))
    goto malformed;

  if (!mproc_sync_deserialize_optional_lock (lock_h, fds, &lock, error))
    return FALSE;
  /* The memfd is checked to hold @size bytes: the handle's length cannot
   * make us access beyond it. */
  sync = mproc_sync_new_from_handle (sync_h, fds, size, error);
  if (sync == NULL)
    {
      g_clear_object (&lock);
      return FALSE;
    }
  shared = mproc_sync_get_state (sync);
  if (shared->value_type != value_type || shared->length != length)
    {
      mproc_sync_free (sync);
      g_clear_object (&lock);
      goto malformed;
    }
  self->sync = sync;
  self->data = shared + 1;
  self->value_type = value_type;
  self->length = length;
  self->with_lock = lock != NULL;
  self->lock = lock;
  mproc_init_once_mark_done (&self->once);
  return TRUE;

malformed:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed shared array"));
  return FALSE;
}

static void
mproc_array_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_array_serialize;
  iface->attach = mproc_array_attach;
}

/**
 * mproc_array_new:
 * @value_type: the type of the elements
 * @length: the number of elements
 * @with_lock: whether to make a [class@Mproc.RLock] to go with it
 * @error: return location for a #GError
 *
 * Creates an array of @length elements in shared memory, all 0 (or
 * %FALSE, or 0.0). Its length never changes.
 *
 * Returns: (transfer full): a new `MprocArray`, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocArray *
mproc_array_new (MprocValueType   value_type,
                 guint            length,
                 gboolean         with_lock,
                 GError         **error)
{
  g_return_val_if_fail (value_type <= MPROC_VALUE_TYPE_DOUBLE, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_ARRAY, NULL, error, "value-type", value_type,
                         "length", length, "with-lock", with_lock, NULL);
}

/**
 * mproc_array_get_length:
 * @self: a `MprocArray`
 *
 * Gets the number of elements, fixed when @self was made.
 *
 * Returns: the number of elements of @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_array_get_length (MprocArray *self)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), 0);

  return self->length;
}

/**
 * mproc_array_get_value_type:
 * @self: a `MprocArray`
 *
 * Gets the type of the elements, fixed when @self was made.
 *
 * Returns: the type of the elements of @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocValueType
mproc_array_get_value_type (MprocArray *self)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), MPROC_VALUE_TYPE_INT64);

  return self->value_type;
}

/**
 * mproc_array_get_lock:
 * @self: a `MprocArray`
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
mproc_array_get_lock (MprocArray *self)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), NULL);

  if (!READY (self, NULL))
    return NULL;

  return self->lock;
}

/* ------------------------------------------------------------------------ */
/* Element access                                                           */

/**
 * mproc_array_get_int:
 * @self: a `MprocArray` of an integer or boolean type
 * @index_: the index of an element, less than the length of @self
 *
 * Reads the element at @index_ of an integer or boolean array, atomically.
 *
 * Returns: the element at @index_
 *
 * Since: 0.1
 * Stability: Unstable
 */
gint64
mproc_array_get_int (MprocArray *self,
                     guint       index_)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), 0);
  g_return_val_if_fail (mproc_element_is_integer (self->value_type), 0);
  g_return_val_if_fail (index_ < self->length, 0);

  if (!READY (self, NULL))
    return 0;

  return mproc_element_load_int (self->value_type, self->data, index_);
}

/**
 * mproc_array_set_int:
 * @self: a `MprocArray` of an integer or boolean type
 * @index_: the index of an element, less than the length of @self
 * @value: the new value, truncated to the element type of @self
 *
 * Stores @value at @index_.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_array_set_int (MprocArray *self,
                     guint       index_,
                     gint64      value)
{
  g_return_if_fail (MPROC_IS_ARRAY (self));
  g_return_if_fail (mproc_element_is_integer (self->value_type));
  g_return_if_fail (index_ < self->length);

  if (!READY (self, NULL))
    return;

  mproc_element_store_int (self->value_type, self->data, index_, mproc_element_normalise (self->value_type, value));
}

/**
 * mproc_array_get_double:
 * @self: a `MprocArray` of type float or double
 * @index_: the index of an element, less than the length of @self
 *
 * Reads the element at @index_ of a floating-point array, atomically.
 *
 * Returns: the element at @index_
 *
 * Since: 0.1
 * Stability: Unstable
 */
gdouble
mproc_array_get_double (MprocArray *self,
                        guint       index_)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), 0.0);
  g_return_val_if_fail (!mproc_element_is_integer (self->value_type), 0.0);
  g_return_val_if_fail (index_ < self->length, 0.0);

  if (!READY (self, NULL))
    return 0.0;

  return mproc_element_load_double (self->value_type, self->data, index_);
}

/**
 * mproc_array_set_double:
 * @self: a `MprocArray` of type float or double
 * @index_: the index of an element, less than the length of @self
 * @value: the new value (rounded to single precision for a float)
 *
 * Stores @value at @index_.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_array_set_double (MprocArray *self,
                        guint       index_,
                        gdouble     value)
{
  g_return_if_fail (MPROC_IS_ARRAY (self));
  g_return_if_fail (!mproc_element_is_integer (self->value_type));
  g_return_if_fail (index_ < self->length);

  if (!READY (self, NULL))
    return;

  mproc_element_store_double (self->value_type, self->data, index_, value);
}

/**
 * mproc_array_get_boolean:
 * @self: a `MprocArray` of an integer or boolean type
 * @index_: the index of an element, less than the length of @self
 *
 * Reads the element at @index_ as a boolean, atomically.
 *
 * Returns: whether the element at @index_ is non-zero
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_array_get_boolean (MprocArray *self,
                         guint       index_)
{
  return mproc_array_get_int (self, index_) != 0;
}

/**
 * mproc_array_set_boolean:
 * @self: a `MprocArray` of an integer or boolean type
 * @index_: the index of an element, less than the length of @self
 * @value: the new value
 *
 * Stores @value (1 or 0) at @index_.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_array_set_boolean (MprocArray *self,
                         guint       index_,
                         gboolean    value)
{
  mproc_array_set_int (self, index_, value ? 1 : 0);
}

static const GVariantType *
element_variant_type (MprocValueType value_type)
{
  switch (value_type)
    {
    case MPROC_VALUE_TYPE_BOOLEAN:
      return G_VARIANT_TYPE_BOOLEAN;
    case MPROC_VALUE_TYPE_INT32:
      return G_VARIANT_TYPE_INT32;
    case MPROC_VALUE_TYPE_INT64:
      return G_VARIANT_TYPE_INT64;
    case MPROC_VALUE_TYPE_FLOAT:
    case MPROC_VALUE_TYPE_DOUBLE:
    default:
      return G_VARIANT_TYPE_DOUBLE;
    }
}

/* The size of an element of the GVariant array (a boolean is one byte). */
static gsize
element_variant_size (MprocValueType value_type)
{
  return value_type == MPROC_VALUE_TYPE_FLOAT ? sizeof (gdouble) : mproc_element_size (value_type);
}

/**
 * mproc_array_get_values:
 * @self: a `MprocArray`
 *
 * Reads the whole array: a boolean array as `ab`, a 32-bit integer one as
 * `ai`, a 64-bit integer one as `ax`, a float or double one as `ad`.
 *
 * Each element is read atomically, one after the other: hold the lock of
 * @self to read them all as they were at one moment.
 *
 * Returns: (transfer full): the elements of @self, a new (not floating)
 *   `GVariant` array of [method@Mproc.Array.get_length] elements
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_array_get_values (MprocArray *self)
{
  g_autofree gint64 *buffer = NULL;
  GVariant *values;

  g_return_val_if_fail (MPROC_IS_ARRAY (self), NULL);

  if (!READY (self, NULL))
    return NULL;

  /* 8 bytes per element fits every type; one more so that it is never
   * empty */
  buffer = g_new (gint64, (gsize) self->length + 1);
  for (guint i = 0; i < self->length; i++)
    switch (self->value_type)
      {
      case MPROC_VALUE_TYPE_BOOLEAN:
        ((guint8 *) buffer)[i] = (guint8) mproc_element_load_int (self->value_type, self->data, i);
        break;
      case MPROC_VALUE_TYPE_INT32:
        ((gint32 *) buffer)[i] = (gint32) mproc_element_load_int (self->value_type, self->data, i);
        break;
      case MPROC_VALUE_TYPE_INT64:
        buffer[i] = mproc_element_load_int (self->value_type, self->data, i);
        break;
      case MPROC_VALUE_TYPE_FLOAT:
      case MPROC_VALUE_TYPE_DOUBLE:
      default:
        ((gdouble *) buffer)[i] = mproc_element_load_double (self->value_type, self->data, i);
        break;
      }

  values = g_variant_new_fixed_array (element_variant_type (self->value_type), buffer,
                                      self->length, element_variant_size (self->value_type));
  return g_variant_ref_sink (values);
}

/**
 * mproc_array_set_values:
 * @self: a `MprocArray`
 * @values: the new elements, of the type [method@Mproc.Array.get_values]
 *   returns (`ab`, `ai`, `ax` or `ad`) and as many as @self has
 *
 * Stores every element of @values at the same index of @self. If @values
 * is floating, it is consumed.
 *
 * Each element is written atomically, one after the other: hold the lock
 * of @self to store them all at one moment.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_array_set_values (MprocArray *self,
                        GVariant   *values)
{
  g_autoptr(GVariant) sunk = NULL;
  gconstpointer elements;
  gsize n_elements = 0;

  g_return_if_fail (MPROC_IS_ARRAY (self));
  g_return_if_fail (values != NULL);

  sunk = g_variant_ref_sink (values);
  if (!READY (self, NULL))
    return;
  g_return_if_fail (g_variant_type_is_array (g_variant_get_type (sunk)) &&
                    g_variant_type_equal (g_variant_type_element (g_variant_get_type (sunk)),
                                          element_variant_type (self->value_type)));
  elements = g_variant_get_fixed_array (sunk, &n_elements, element_variant_size (self->value_type));
  g_return_if_fail (n_elements == self->length);

  for (guint i = 0; i < self->length; i++)
    switch (self->value_type)
      {
      case MPROC_VALUE_TYPE_BOOLEAN:
        mproc_element_store_int (self->value_type, self->data, i, ((const guint8 *) elements)[i] != 0);
        break;
      case MPROC_VALUE_TYPE_INT32:
        mproc_element_store_int (self->value_type, self->data, i, ((const gint32 *) elements)[i]);
        break;
      case MPROC_VALUE_TYPE_INT64:
        mproc_element_store_int (self->value_type, self->data, i, ((const gint64 *) elements)[i]);
        break;
      case MPROC_VALUE_TYPE_FLOAT:
      case MPROC_VALUE_TYPE_DOUBLE:
      default:
        mproc_element_store_double (self->value_type, self->data, i, ((const gdouble *) elements)[i]);
        break;
      }
}

/**
 * mproc_array_add:
 * @self: a `MprocArray` of an integer type
 * @index_: the index of an element, less than the length of @self
 * @delta: what to add
 *
 * Adds @delta to the element at @index_ atomically (wrapping around on
 * overflow).
 *
 * Returns: the new value of the element
 *
 * Since: 0.1
 * Stability: Unstable
 */
gint64
mproc_array_add (MprocArray *self,
                 guint       index_,
                 gint64      delta)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), 0);
  g_return_val_if_fail (mproc_element_is_integer (self->value_type), 0);
  g_return_val_if_fail (index_ < self->length, 0);

  if (!READY (self, NULL))
    return 0;

  return mproc_element_add (self->value_type, self->data, index_, delta);
}

/**
 * mproc_array_compare_and_swap:
 * @self: a `MprocArray` of an integer type
 * @index_: the index of an element, less than the length of @self
 * @old_value: the expected value
 * @new_value: the value to store (truncated to the element type of @self)
 *
 * Stores @new_value at @index_ if the element there is @old_value,
 * atomically.
 *
 * Returns: %TRUE when @new_value was stored
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_array_compare_and_swap (MprocArray *self,
                              guint       index_,
                              gint64      old_value,
                              gint64      new_value)
{
  g_return_val_if_fail (MPROC_IS_ARRAY (self), FALSE);
  g_return_val_if_fail (mproc_element_is_integer (self->value_type), FALSE);
  g_return_val_if_fail (index_ < self->length, FALSE);

  if (!READY (self, NULL))
    return FALSE;

  return mproc_element_compare_and_swap (self->value_type, self->data, index_, old_value, new_value);
}
