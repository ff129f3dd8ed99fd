/* mproc-queue.c: a multi-producer multi-consumer message queue
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <fcntl.h>
#include <sys/eventfd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-initable-private.h"
#include "mproc-joinable-queue.h"
#include "mproc-queue-private.h"
#include "mproc-remote-private.h"
#include "mproc-ring-body-private.h"
#include "mproc-shareable-private.h"
#include "mproc-wire-private.h"

/**
 * MprocQueue:
 *
 * A message queue shared by any number of processes, like Python's
 * `multiprocessing.Queue`. Messages are #GVariant values of any type; the
 * type travels with the value and the receiver gets an equal value. Hand the
 * queue to a child with [method@Mproc.Process.add_object] (or as a property of an
 * #MprocProcess subclass).
 *
 * **C**
 *
 * |[<!-- language="C" -->
 * g_autoptr(MprocQueue) queue = mproc_queue_new (0, NULL);
 *
 * mproc_queue_put (queue, g_variant_new ("(ii)", 6, 7), -1, NULL, &error);
 * value = mproc_queue_get (queue, -1, NULL, &error);
 * ]|
 *
 * **Python**
 *
 * ```python
 * queue = Mproc.Queue()              # the Mproc override's forms
 * queue.put((6, 7))                  # a (xx)
 * value = queue.get()                # (6, 7)
 * ```
 *
 * **GJS**
 *
 * ```js
 * const queue = Mproc.Queue.new(0);
 * queue.put([6, 7], -1, null);       // an ax, converted by the GJS override
 * const value = queue.get(-1, null).deepUnpack();   // [6, 7]
 * ```
 *
 * The queue is a ring of bytes in shared memory (#MprocQueue:capacity bytes,
 * 4 MiB by default): a message is serialised straight into it by
 * [method@Mproc.Queue.put] and copied out by [method@Mproc.Queue.get], with no system call
 * unless a side has to sleep. A message larger than the free space, even
 * larger than the whole ring, is streamed through it while the reader reads.
 * There is no feeder thread: when [method@Mproc.Queue.put] returns, the message is
 * in shared memory, so nothing is buffered in the process, nothing needs
 * flushing at exit, and a process may exit right after putting.
 *
 * Received bytes are never trusted: a malformed message makes
 * [method@Mproc.Queue.get] fail with %MPROC_ERROR_INVALID_MESSAGE, and the queue
 * stays usable. A producer killed in the middle of a put leaves nothing
 * visible (or, for a streamed message, a partial message that is dropped);
 * a consumer killed in the middle of a get loses that message; in both
 * cases the other processes go on.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_QUEUE, "maxsize", 4, NULL)` (GJS's
 * `new Mproc.Queue({maxsize: 4})`, Python's `GObject.new()` or a subclass)
 * makes a complete queue: its ring is made by [method@Gio.Initable.init],
 * or on first use when nobody called it.
 *
 * ## Thread safety
 *
 * Every method may be called from any thread of any process that has the
 * queue; async methods complete in the thread-default main context of the
 * caller.
 *
 * Since: 0.1
 * Stability: Unstable
 */

typedef struct
{
  MprocQueueStore store;
  guint           maxsize;
  gsize           capacity;
  MprocInitOnce   once;
  gboolean        closed;
} MprocQueuePrivate;

enum
{
  PROP_0,
  PROP_MAXSIZE,
  PROP_CAPACITY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_queue_initable_init  (GInitableIface          *iface);
static void mproc_queue_shareable_init (MprocShareableInterface *iface);

G_DEFINE_TYPE_WITH_CODE (MprocQueue, mproc_queue, G_TYPE_OBJECT,
                         G_ADD_PRIVATE (MprocQueue)
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_queue_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE, mproc_queue_shareable_init))

/* --- The store, shared with SimpleQueue --------------------------------- */

gboolean
mproc_queue_store_init (MprocQueueStore *store,
                        guint            maxsize,
                        gsize            capacity,
                        MprocRingFlags   flags,
                        GError         **error)
{
  store->event_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (store->event_fd < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to create event file descriptor: %s"), g_strerror (errsv));
      return FALSE;
    }
  store->spill_fd = mproc_ring_spill_new (error);
  if (store->spill_fd < 0)
    return FALSE;
  store->shm = mproc_shm_new (mproc_ring_shm_size (capacity), "mproc-queue", error);
  if (store->shm == NULL)
    return FALSE;
  mproc_ring_init_shared (store->shm, 0, capacity, maxsize, flags);
  store->ring = mproc_ring_new (store->shm, 0, store->event_fd, error);
  return store->ring != NULL && mproc_ring_set_spill_fd (store->ring, store->spill_fd, error);
}

gboolean
mproc_queue_store_init_handle (MprocQueueStore *store,
                               GVariant        *handle,
                               GArray          *fds,
                               GError         **error)
{
  g_autoptr(GVariant) shm_h = NULL;
  g_autoptr(GVariant) efd_h = NULL;
  g_autoptr(GVariant) spill_h = NULL;
  int shm_fd;

  store->event_fd = -1;
  store->spill_fd = -1;
  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(hhh)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return FALSE;
    }
  shm_h = g_variant_get_child_value (handle, 0);
  efd_h = g_variant_get_child_value (handle, 1);
  spill_h = g_variant_get_child_value (handle, 2);
  shm_fd = mproc_shareable_steal_fd (fds, shm_h, error);
  if (shm_fd < 0)
    return FALSE;
  store->shm = mproc_shm_new_from_fd (shm_fd, mproc_ring_shm_size (4096), error);
  if (store->shm == NULL)
    return FALSE;
  store->event_fd = mproc_shareable_steal_fd (fds, efd_h, error);
  if (store->event_fd < 0)
    return FALSE;
  store->spill_fd = mproc_shareable_steal_fd (fds, spill_h, error);
  if (store->spill_fd < 0 || !mproc_ring_spill_check (store->spill_fd, error))
    return FALSE;
  store->ring = mproc_ring_new (store->shm, 0, store->event_fd, error);
  return store->ring != NULL && mproc_ring_set_spill_fd (store->ring, store->spill_fd, error);
}

GVariant *
mproc_queue_store_serialize (MprocQueueStore *store,
                             GArray          *fds,
                             GError         **error)
{
  int shm_fd = fcntl (mproc_shm_get_fd (store->shm), F_DUPFD_CLOEXEC, 3);
  int event_fd = shm_fd >= 0 ? fcntl (store->event_fd, F_DUPFD_CLOEXEC, 3) : -1;
  int spill_fd = event_fd >= 0 ? fcntl (store->spill_fd, F_DUPFD_CLOEXEC, 3) : -1;

  if (shm_fd < 0 || event_fd < 0 || spill_fd < 0)
    {
      int errsv = errno;

      mproc_clear_fd (&shm_fd);
      mproc_clear_fd (&event_fd);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
      return NULL;
    }
  g_array_append_val (fds, shm_fd);
  g_array_append_val (fds, event_fd);
  g_array_append_val (fds, spill_fd);
  return g_variant_new ("(hhh)", fds->len - 3, fds->len - 2, fds->len - 1);
}

void
mproc_queue_store_clear (MprocQueueStore *store)
{
  g_clear_pointer (&store->ring, mproc_ring_free);
  g_clear_pointer (&store->shm, mproc_shm_unref);
  mproc_clear_fd (&store->event_fd);
  mproc_clear_fd (&store->spill_fd);
}

void
mproc_queue_set_error_closed (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The queue is closed"));
}

/* --- GObject ------------------------------------------------------------ */

/* The ring of an open local queue made ready, else NULL.  A queue that
 * lives elsewhere (mproc_remote_get()) never makes a ring, so the hot
 * paths skip the object-data lookup when this finds one. */
static inline MprocRing *
queue_local_ring (MprocQueue *self)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (self);

  if (!priv->closed && MPROC_INIT_ONCE_READY (&priv->once))
    return priv->store.ring;
  return NULL;
}

MprocRing *
mproc_queue_get_ring (MprocQueue  *self,
                      GError     **error)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (self);
  MprocRing *ring;

  if ((ring = queue_local_ring (self)) != NULL)
    return ring;
  if (priv->closed)
    {
      mproc_queue_set_error_closed (error);
      return NULL;
    }
  if (mproc_remote_get (self) != NULL)
    {
      /* what a remote queue does not do goes through here */
      mproc_remote_set_unsupported (error);
      return NULL;
    }
  /* Made with g_object_new() alone (a binding's `new`): make the ring now. */
  if (!MPROC_INIT_ONCE_READY (&priv->once) &&
      !mproc_init_once_ensure (&priv->once, G_INITABLE (self), error))
    return NULL;
  return priv->store.ring;
}

static gboolean
queue_init_shared (GInitable     *initable,
                   GCancellable  *cancellable,
                   GError       **error)
{
  MprocQueue *self = MPROC_QUEUE (initable);
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (self);
  gsize capacity = priv->capacity;

  if (capacity < 4096)
    capacity = 4096;
  if ((capacity & (capacity - 1)) != 0)
    capacity = (gsize) 1 << g_bit_storage (capacity);

  if (!mproc_queue_store_init (&priv->store, priv->maxsize, capacity,
                               MPROC_IS_JOINABLE_QUEUE (self) ? MPROC_RING_JOINABLE : 0, error))
    {
      mproc_queue_store_clear (&priv->store);
      return FALSE;
    }
  priv->capacity = capacity;
  return TRUE;
}

static gboolean
mproc_queue_initable_init_impl (GInitable     *initable,
                                GCancellable  *cancellable,
                                GError       **error)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (MPROC_QUEUE (initable));

  return mproc_init_once_run (&priv->once, initable, queue_init_shared, cancellable, error);
}

static void
mproc_queue_initable_init (GInitableIface *iface)
{
  iface->init = mproc_queue_initable_init_impl;
}

static GVariant *
mproc_queue_serialize (MprocShareable *shareable,
                       GArray         *fds,
                       GError        **error)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (MPROC_QUEUE (shareable));

  if (mproc_remote_get (shareable) != NULL)
    {
      mproc_remote_set_unsupported (error);
      return NULL;
    }
  /* Even a queue this process closed can be handed on. */
  if (!MPROC_INIT_ONCE_READY (&priv->once) &&
      !mproc_init_once_ensure (&priv->once, G_INITABLE (shareable), error))
    return NULL;
  return mproc_queue_store_serialize (&priv->store, fds, error);
}

static gboolean
mproc_queue_attach (MprocShareable  *shareable,
                    GVariant        *handle,
                    GArray          *fds,
                    GError         **error)
{
  MprocQueueStore store = { NULL, -1, -1, NULL };
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (MPROC_QUEUE (shareable));

  if (!mproc_queue_store_init_handle (&store, handle, fds, error))
    {
      mproc_queue_store_clear (&store);
      return FALSE;
    }
  /* The class sent must be the kind of ring in the memory. */
  if (!mproc_ring_is_joinable (store.ring) != !MPROC_IS_JOINABLE_QUEUE (shareable))
    {
      mproc_queue_store_clear (&store);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return FALSE;
    }

  priv->store = store;
  priv->maxsize = mproc_ring_get_maxsize (store.ring);
  priv->capacity = mproc_ring_get_capacity (store.ring);
  mproc_init_once_mark_done (&priv->once);
  return TRUE;
}

static void
mproc_queue_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_queue_serialize;
  iface->attach = mproc_queue_attach;
}

static void
mproc_queue_finalize (GObject *object)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (MPROC_QUEUE (object));

  mproc_queue_store_clear (&priv->store);
  mproc_init_once_clear (&priv->once);
  G_OBJECT_CLASS (mproc_queue_parent_class)->finalize (object);
}

static void
mproc_queue_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (MPROC_QUEUE (object));

  switch (prop_id)
    {
    case PROP_MAXSIZE:
      g_value_set_uint (value, priv->maxsize);
      break;
    case PROP_CAPACITY:
      g_value_set_uint64 (value, priv->capacity);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_queue_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (MPROC_QUEUE (object));

  switch (prop_id)
    {
    case PROP_MAXSIZE:
      priv->maxsize = g_value_get_uint (value);
      break;
    case PROP_CAPACITY:
      priv->capacity = g_value_get_uint64 (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_queue_class_init (MprocQueueClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = mproc_queue_finalize;
  object_class->get_property = mproc_queue_get_property;
  object_class->set_property = mproc_queue_set_property;

  /**
   * MprocQueue:maxsize:
   *
   * The most messages the queue holds at once; 0 for no limit on the
   * number (the byte capacity still applies: a put waits for room).
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_MAXSIZE] =
    g_param_spec_uint ("maxsize", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                       G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocQueue:capacity:
   *
   * The size in bytes of the shared ring, a power of two (rounded up; at
   * least 4096). Messages larger than it still go through, streamed.
   * 0 at construction means %MPROC_QUEUE_DEFAULT_CAPACITY.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_CAPACITY] =
    g_param_spec_uint64 ("capacity", NULL, NULL, 0, G_MAXUINT32 / 2 + 1, MPROC_QUEUE_DEFAULT_CAPACITY,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_queue_init (MprocQueue *self)
{
  MprocQueuePrivate *priv = mproc_queue_get_instance_private (self);

  priv->store.event_fd = -1;
  priv->store.spill_fd = -1;
  priv->capacity = MPROC_QUEUE_DEFAULT_CAPACITY;
}

/* --- API ----------------------------------------------------------------- */

/**
 * mproc_queue_new:
 * @maxsize: the most messages the queue holds, or 0 for no limit
 * @error: return location for a #GError
 *
 * Creates a queue with the default byte capacity
 * (%MPROC_QUEUE_DEFAULT_CAPACITY).
 *
 * Returns: (transfer full): a new queue, or %NULL with @error set if the
 *   shared memory cannot be created
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocQueue *
mproc_queue_new (guint    maxsize,
                 GError **error)
{
  return mproc_queue_new_full (maxsize, MPROC_QUEUE_DEFAULT_CAPACITY, error);
}

/**
 * mproc_queue_new_full:
 * @maxsize: the most messages the queue holds, or 0 for no limit
 * @capacity: the byte size of the shared ring (rounded up to a power of
 *   two, at least 4096), or 0 for the default
 * @error: return location for a #GError
 *
 * Creates a queue with a given byte capacity. A larger ring lets producers
 * run further ahead of consumers; messages larger than it still go through.
 *
 * Returns: (transfer full): a new queue, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocQueue *
mproc_queue_new_full (guint    maxsize,
                      gsize    capacity,
                      GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_QUEUE, NULL, error,
                         "maxsize", maxsize,
                         "capacity", (guint64) (capacity != 0 ? capacity : MPROC_QUEUE_DEFAULT_CAPACITY),
                         NULL);
}

/**
 * mproc_queue_get_maxsize:
 * @self: a #MprocQueue
 *
 * Gets the greatest number of messages @self holds, fixed when it
 * was made.
 *
 * Returns: the most messages @self holds, 0 for no limit
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_queue_get_maxsize (MprocQueue *self)
{
  MprocQueuePrivate *priv;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), 0);

  priv = mproc_queue_get_instance_private (self);
  return priv->maxsize;
}

/**
 * mproc_queue_get_capacity:
 * @self: a #MprocQueue
 *
 * Gets the size in bytes of the shared-memory ring that holds the
 * messages in transit.
 *
 * Returns: the byte size of the shared ring of @self
 *
 * Since: 0.1
 * Stability: Unstable
 */
gsize
mproc_queue_get_capacity (MprocQueue *self)
{
  MprocQueuePrivate *priv;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), 0);

  priv = mproc_queue_get_instance_private (self);
  return priv->capacity;
}

/**
 * mproc_queue_put:
 * @self: a #MprocQueue
 * @value: the message; a floating reference is sunk
 * @timeout_usec: how long to wait for room in microseconds, -1 to wait as
 *   long as needed, 0 not to wait
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Appends @value to the queue, waiting while it is full (#MprocQueue:maxsize
 * messages, or no room in the ring). Blocks the calling thread: use
 * [method@Mproc.Queue.put_async] from a main loop.
 *
 * Once a message larger than the free space has started to stream, the
 * timeout no longer applies; cancelling then drops the partly sent message
 * (readers skip it).
 *
 * Returns: %TRUE once @value is in the queue; %FALSE with @error set:
 *   %MPROC_ERROR_FULL when @timeout_usec is 0 and there is no room,
 *   %MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED or %MPROC_ERROR_CLOSED
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_put (MprocQueue    *self,
                 GVariant      *value,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((ring = queue_local_ring (self)) != NULL)
    return mproc_ring_put (ring, value, NULL, -1, NULL, 0, timeout_usec, cancellable, error);
  if ((remote = mproc_remote_get (self)) != NULL)
    {
      g_autoptr(GVariant) sunk = g_variant_ref_sink (value);

      return remote->klass->put (remote, sunk, timeout_usec, cancellable, error);
    }
  ring = mproc_queue_get_ring (self, error);
  if (ring == NULL)
    {
      g_variant_unref (g_variant_ref_sink (value));   /* a floating one is ours */
      return FALSE;
    }
  /* consumes @value if floating; else only reads it during the call */
  return mproc_ring_put (ring, value, NULL, -1, NULL, 0, timeout_usec, cancellable, error);
}

/**
 * mproc_queue_put_nowait:
 * @self: a #MprocQueue
 * @value: the message; a floating reference is sunk
 * @error: return location for a #GError
 *
 * Like [method@Mproc.Queue.put] with a timeout of 0: fails with %MPROC_ERROR_FULL
 * at once when there is no room (Python's `queue.Full`).
 *
 * Returns: %TRUE once @value is in the queue, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_put_nowait (MprocQueue  *self,
                        GVariant    *value,
                        GError     **error)
{
  return mproc_queue_put (self, value, 0, NULL, error);
}

/**
 * mproc_queue_put_int64:
 * @self: a #MprocQueue
 * @value: the number
 * @timeout_usec: how long to wait for room, -1 as long as needed, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Puts the `int64` @value: the same message as [method@Mproc.Queue.put] of
 * g_variant_new_int64(), which any get of any process reads, but written
 * straight into the shared ring without building a #GVariant: a C
 * producer of many small numbers saves an allocation and a free per
 * message.
 *
 * Returns: %TRUE once @value is in the queue, else %FALSE with @error set,
 *   as [method@Mproc.Queue.put]
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_put_int64 (MprocQueue    *self,
                       gint64         value,
                       gint64         timeout_usec,
                       GCancellable  *cancellable,
                       GError       **error)
{
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ring = mproc_queue_get_ring (self, error);
  if (ring == NULL)
    return FALSE;
  return mproc_ring_put_fixed (ring, 'x', (guint64) value, sizeof (gint64), timeout_usec, cancellable, error);
}

/**
 * mproc_queue_put_async:
 * @self: a #MprocQueue
 * @value: the message; a floating reference is sunk
 * @timeout_usec: how long to wait for room, -1 as long as needed, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when the message is
 *   in the queue, or the put failed
 * @user_data: data for @callback
 *
 * Appends @value without blocking the calling thread and without any
 * helper thread: the caller's thread-default main context watches for room.
 * Call [method@Mproc.Queue.put_finish] from @callback.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_queue_put_async (MprocQueue          *self,
                       GVariant            *value,
                       gint64               timeout_usec,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GVariant) sunk = NULL;
  g_autoptr(GError) error = NULL;
  MprocRemote *remote;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_QUEUE (self));
  g_return_if_fail (value != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  sunk = g_variant_ref_sink (value);
  remote = mproc_remote_get (self);
  if (remote != NULL && remote->klass->put_async != NULL)
    {
      GTask *task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, mproc_queue_put_async);
      remote->klass->put_async (remote, sunk, timeout_usec, task);
      return;
    }
  ring = mproc_queue_get_ring (self, &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_put_async, g_steal_pointer (&error));
      return;
    }
  mproc_ring_put_async (ring, self, sunk, NULL, -1, NULL, 0, timeout_usec, cancellable,
                        callback, user_data);
}

/**
 * mproc_queue_put_finish:
 * @self: a #MprocQueue
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [method@Mproc.Queue.put_async].
 *
 * Returns: %TRUE if the message was put, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_put_finish (MprocQueue    *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (MPROC_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (g_async_result_is_tagged (result, mproc_queue_put_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return mproc_ring_put_finish (result, error);
}

static GVariant *
decode_or_null (GBytes  *bytes,
                GError **error)
{
  if (bytes == NULL)
    return NULL;
  return mproc_wire_decode (bytes, error);
}

/**
 * mproc_queue_get:
 * @self: a #MprocQueue
 * @timeout_usec: how long to wait in microseconds, -1 forever, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the oldest message. Blocks the calling thread: use
 * [method@Mproc.Queue.get_async] from a main loop. Once a streamed message has
 * started to arrive the timeout no longer applies (as in Python).
 *
 * Returns: (transfer full): the message, or %NULL with @error set:
 *   %MPROC_ERROR_EMPTY when @timeout_usec is 0 and the queue is empty,
 *   %MPROC_ERROR_TIMED_OUT, %G_IO_ERROR_CANCELLED, %MPROC_ERROR_CLOSED, or
 *   %MPROC_ERROR_INVALID_MESSAGE for a malformed message (which is
 *   dropped: the next get goes on with the next message)
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_queue_get (MprocQueue    *self,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((ring = queue_local_ring (self)) != NULL)
    return mproc_ring_get_value (ring, timeout_usec, cancellable, error);
  if ((remote = mproc_remote_get (self)) != NULL)
    return remote->klass->get (remote, timeout_usec, cancellable, error);
  ring = mproc_queue_get_ring (self, error);
  if (ring == NULL)
    return NULL;
  return mproc_ring_get_value (ring, timeout_usec, cancellable, error);
}

/**
 * mproc_queue_get_nowait:
 * @self: a #MprocQueue
 * @error: return location for a #GError
 *
 * Like [method@Mproc.Queue.get] with a timeout of 0: fails with
 * %MPROC_ERROR_EMPTY at once when there is nothing (Python's `queue.Empty`).
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_queue_get_nowait (MprocQueue  *self,
                        GError     **error)
{
  return mproc_queue_get (self, 0, NULL, error);
}

/**
 * mproc_queue_get_int64:
 * @self: a #MprocQueue
 * @out_value: (out) (optional): return location for the number
 * @timeout_usec: how long to wait in microseconds, -1 forever, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the oldest message, which must be an `int64` (put by
 * [method@Mproc.Queue.put_int64] or by [method@Mproc.Queue.put] of an `int64`
 * #GVariant), and reads it without building a #GVariant. For queues that
 * carry only numbers: a message of another type is taken all the same,
 * and dropped with %MPROC_ERROR_INVALID_MESSAGE.
 *
 * Returns: (skip): %TRUE with the number in @out_value, else %FALSE with @error
 *   set, as [method@Mproc.Queue.get], or %MPROC_ERROR_INVALID_MESSAGE for a
 *   message that is not an `int64`
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_get_int64 (MprocQueue    *self,
                       gint64        *out_value,
                       gint64         timeout_usec,
                       GCancellable  *cancellable,
                       GError       **error)
{
  MprocRing *ring;
  guint64 bits = 0;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ring = mproc_queue_get_ring (self, error);
  if (ring == NULL || !mproc_ring_get_fixed (ring, 'x', sizeof (gint64), &bits, timeout_usec, cancellable, error))
    return FALSE;
  if (out_value != NULL)
    *out_value = (gint64) bits;
  return TRUE;
}

/**
 * mproc_queue_get_async:
 * @self: a #MprocQueue
 * @timeout_usec: how long to wait in microseconds, -1 forever, 0 not at all
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when a message
 *   arrives, the wait times out, or it fails
 * @user_data: data for @callback
 *
 * Takes the oldest message without blocking the calling thread and without
 * a thread per waiter. @callback runs in the caller's thread-default main
 * context; call [method@Mproc.Queue.get_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_queue_get_async (MprocQueue          *self,
                       gint64               timeout_usec,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  MprocRemote *remote;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_QUEUE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  remote = mproc_remote_get (self);
  if (remote != NULL && remote->klass->get_async != NULL)
    {
      GTask *task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, mproc_queue_get_async);
      remote->klass->get_async (remote, timeout_usec, task);
      return;
    }
  ring = mproc_queue_get_ring (self, &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_get_async, g_steal_pointer (&error));
      return;
    }
  mproc_ring_get_async (ring, self, -1, FALSE, timeout_usec, cancellable, callback, user_data);
}

/**
 * mproc_queue_get_finish:
 * @self: a #MprocQueue
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [method@Mproc.Queue.get_async].
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_queue_get_finish (MprocQueue    *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (g_async_result_is_tagged (result, mproc_queue_get_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  bytes = mproc_ring_get_finish (result, NULL, error);
  return decode_or_null (bytes, error);
}

/**
 * mproc_queue_get_qsize:
 * @self: a #MprocQueue
 *
 * The number of messages in the queue. Approximate, as in Python: other
 * processes may put and get at the same moment, and a message being
 * streamed counts as soon as its first part is in.
 *
 * Returns: the approximate number of messages
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_queue_get_qsize (MprocQueue *self)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), 0);

  if ((remote = mproc_remote_get (self)) != NULL)
    {
      gssize n = remote->klass->qsize (remote, NULL);

      return n > 0 ? (guint) MIN (n, G_MAXUINT) : 0;
    }
  ring = mproc_queue_get_ring (self, NULL);
  return ring != NULL ? mproc_ring_get_qsize (ring) : 0;
}

/**
 * mproc_queue_is_empty:
 * @self: a #MprocQueue
 *
 * Whether the queue holds no message (approximate, see
 * [method@Mproc.Queue.get_qsize]).
 *
 * Returns: %TRUE if empty
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_is_empty (MprocQueue *self)
{
  return mproc_queue_get_qsize (self) == 0;
}

/**
 * mproc_queue_is_full:
 * @self: a #MprocQueue
 *
 * Whether a put would wait now: #MprocQueue:maxsize messages are queued,
 * or the ring has almost no free bytes (approximate).
 *
 * Returns: %TRUE if full
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_is_full (MprocQueue *self)
{
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), FALSE);

  ring = mproc_queue_get_ring (self, NULL);
  return ring != NULL && mproc_ring_is_full (ring);
}

/**
 * mproc_queue_close:
 * @self: a #MprocQueue
 *
 * Says that this process will neither put nor get any more: later calls on
 * @self in this process fail with %MPROC_ERROR_CLOSED. Other processes are
 * not affected, and messages already put stay in the queue for them. The
 * shared memory is released with the last reference.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_queue_close (MprocQueue *self)
{
  MprocQueuePrivate *priv;

  g_return_if_fail (MPROC_IS_QUEUE (self));

  priv = mproc_queue_get_instance_private (self);
  priv->closed = TRUE;
}

/**
 * mproc_queue_is_closed:
 * @self: a #MprocQueue
 *
 * Tells whether this process closed @self.
 *
 * Returns: whether [method@Mproc.Queue.close] was called in this process
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_queue_is_closed (MprocQueue *self)
{
  MprocQueuePrivate *priv;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), FALSE);

  priv = mproc_queue_get_instance_private (self);
  return priv->closed;
}

/**
 * mproc_queue_join_thread:
 * @self: a #MprocQueue
 *
 * Python's `Queue.join_thread()` waits for the feeder thread to flush the
 * messages buffered in the process. This queue has no feeder thread and
 * buffers nothing: every message is in shared memory when
 * [method@Mproc.Queue.put] returns. So this returns at once; it exists so that
 * code written after Python reads the same. Nothing is ever flushed at
 * exit, and nothing put is dropped when the process exits.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_queue_join_thread (MprocQueue *self)
{
  g_return_if_fail (MPROC_IS_QUEUE (self));
}

/**
 * mproc_queue_cancel_join_thread:
 * @self: a #MprocQueue
 *
 * Python's `Queue.cancel_join_thread()` lets a process exit without
 * flushing, dropping what it buffered. There is nothing to drop here (see
 * [method@Mproc.Queue.join_thread]): this does nothing. What is dropped at exit is
 * only a message whose put was still in progress (interrupted by the exit
 * or a signal): readers never see a partial message.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_queue_cancel_join_thread (MprocQueue *self)
{
  g_return_if_fail (MPROC_IS_QUEUE (self));
}

/**
 * mproc_queue_create_source:
 * @self: a #MprocQueue
 *
 * Creates a #GSource that dispatches while the queue has messages
 * (level-triggered, like an fd source watching %G_IO_IN): take messages
 * with [method@Mproc.Queue.get_nowait] in its callback, a #GSourceFunc. It watches
 * the queue through an fd of its own, polled by the context it is attached
 * to, without any thread. The source keeps @self alive.
 *
 * Returns: (transfer full): a new #GSource
 *
 * Since: 0.1
 * Stability: Unstable
 */
GSource *
mproc_queue_create_source (MprocQueue *self)
{
  MprocQueuePrivate *priv;

  g_return_val_if_fail (MPROC_IS_QUEUE (self), NULL);

  priv = mproc_queue_get_instance_private (self);
  if (mproc_remote_get (self) != NULL)
    return NULL;
  if (!MPROC_INIT_ONCE_READY (&priv->once) &&
      !mproc_init_once_ensure (&priv->once, G_INITABLE (self), NULL))
    return NULL;
  return mproc_ring_source_new (priv->store.ring, G_OBJECT (self));
}
