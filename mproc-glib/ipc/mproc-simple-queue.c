/* mproc-simple-queue.c: the minimal message queue
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-initable-private.h"
#include "mproc-queue-private.h"
#include "mproc-remote-private.h"
#include "mproc-shareable-private.h"
#include "mproc-simple-queue.h"
#include "mproc-wire-private.h"

/**
 * MprocSimpleQueue:
 *
 * The minimal queue, like Python's `multiprocessing.SimpleQueue`: put, get,
 * empty and close, with no size limit in messages and no timeouts. It uses
 * the same shared ring as #MprocQueue (default capacity), so a put waits
 * only while the ring is full, and a message of any size goes through.
 *
 * ## Construction
 *
 * `g_object_new (MPROC_TYPE_SIMPLE_QUEUE, NULL)` (GJS's `new`, Python's
 * `GObject.new()` or a subclass) makes a complete queue: its ring is made
 * by [method@Gio.Initable.init], or on first use when nobody called it.
 *
 * ## Thread safety
 *
 * Every method may be called from any thread of any process that has the
 * queue.
 *
 * Since: 0.1
 * Stability: Unstable
 */

struct _MprocSimpleQueue
{
  GObject         parent_instance;
  MprocInitOnce   once;
  MprocQueueStore store;
  gboolean        closed;
};

static void mproc_simple_queue_initable_init (GInitableIface *iface);
static void mproc_simple_queue_shareable_init (MprocShareableInterface *iface);

/* Not final, so that bindings can subclass it. */
G_DEFINE_TYPE_WITH_CODE (MprocSimpleQueue, mproc_simple_queue, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_simple_queue_initable_init)
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE,
                                                mproc_simple_queue_shareable_init))

#define READY(self, error) \
  (MPROC_INIT_ONCE_READY (&(self)->once) || mproc_init_once_ensure (&(self)->once, G_INITABLE (self), (error)))

static gboolean
simple_queue_init_shared (GInitable     *initable,
                          GCancellable  *cancellable,
                          GError       **error)
{
  MprocSimpleQueue *self = MPROC_SIMPLE_QUEUE (initable);

  if (!mproc_queue_store_init (&self->store, 0, MPROC_QUEUE_DEFAULT_CAPACITY, 0, error))
    {
      mproc_queue_store_clear (&self->store);
      return FALSE;
    }
  return TRUE;
}

static gboolean
mproc_simple_queue_initable_init_impl (GInitable     *initable,
                                       GCancellable  *cancellable,
                                       GError       **error)
{
  return mproc_init_once_run (&MPROC_SIMPLE_QUEUE (initable)->once, initable,
                              simple_queue_init_shared, cancellable, error);
}

static void
mproc_simple_queue_initable_init (GInitableIface *iface)
{
  iface->init = mproc_simple_queue_initable_init_impl;
}

static GVariant *
mproc_simple_queue_serialize (MprocShareable *shareable,
                              GArray         *fds,
                              GError        **error)
{
  MprocSimpleQueue *self = MPROC_SIMPLE_QUEUE (shareable);

  if (mproc_remote_get (self) != NULL)
    {
      /* one in Redis is opened by name in the other process */
      mproc_remote_set_unsupported (error);
      return NULL;
    }
  if (!READY (self, error))
    return NULL;
  return mproc_queue_store_serialize (&self->store, fds, error);
}

static gboolean
mproc_simple_queue_attach (MprocShareable  *shareable,
                           GVariant        *handle,
                           GArray          *fds,
                           GError         **error)
{
  MprocSimpleQueue *self = MPROC_SIMPLE_QUEUE (shareable);

  if (!mproc_queue_store_init_handle (&self->store, handle, fds, error))
    return FALSE;   /* finalize clears the store */
  mproc_init_once_mark_done (&self->once);
  return TRUE;
}

static void
mproc_simple_queue_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_simple_queue_serialize;
  iface->attach = mproc_simple_queue_attach;
}

static void
mproc_simple_queue_finalize (GObject *object)
{
  MprocSimpleQueue *self = MPROC_SIMPLE_QUEUE (object);

  mproc_queue_store_clear (&self->store);
  mproc_init_once_clear (&self->once);
  G_OBJECT_CLASS (mproc_simple_queue_parent_class)->finalize (object);
}

static void
mproc_simple_queue_class_init (MprocSimpleQueueClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mproc_simple_queue_finalize;
}

static void
mproc_simple_queue_init (MprocSimpleQueue *self)
{
  self->store.event_fd = -1;
  self->store.spill_fd = -1;
}

static MprocRing *
get_ring (MprocSimpleQueue  *self,
          GError           **error)
{
  if (self->closed)
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
  if (!READY (self, error))
    return NULL;
  return self->store.ring;
}

/**
 * mproc_simple_queue_new:
 * @error: return location for a #GError
 *
 * Creates a simple queue.
 *
 * Returns: (transfer full): a new queue, or %NULL with @error set if the
 *   shared memory cannot be created
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocSimpleQueue *
mproc_simple_queue_new (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_SIMPLE_QUEUE, NULL, error, NULL);
}

/**
 * mproc_simple_queue_put:
 * @self: a #MprocSimpleQueue
 * @value: the message; a floating reference is sunk
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Appends @value, waiting only while the ring is full. Blocks the calling
 * thread in that case.
 *
 * Returns: %TRUE once @value is in the queue, else %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_simple_queue_put (MprocSimpleQueue  *self,
                        GVariant          *value,
                        GCancellable      *cancellable,
                        GError           **error)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_SIMPLE_QUEUE (self), FALSE);
  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!self->closed && (remote = mproc_remote_get (self)) != NULL)
    {
      g_autoptr(GVariant) sunk = g_variant_ref_sink (value);

      return remote->klass->put (remote, sunk, -1, cancellable, error);
    }
  ring = get_ring (self, error);
  if (ring == NULL)
    {
      g_variant_unref (g_variant_ref_sink (value));   /* a floating one is ours */
      return FALSE;
    }
  /* consumes @value if floating; else only reads it during the call */
  return mproc_ring_put (ring, value, NULL, -1, NULL, 0, -1, cancellable, error);
}

/**
 * mproc_simple_queue_get:
 * @self: a #MprocSimpleQueue
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the oldest message, waiting for one. Blocks the calling thread.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 *   (%MPROC_ERROR_INVALID_MESSAGE for a malformed message, which is dropped)
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_simple_queue_get (MprocSimpleQueue  *self,
                        GCancellable      *cancellable,
                        GError           **error)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_SIMPLE_QUEUE (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!self->closed && (remote = mproc_remote_get (self)) != NULL)
    return remote->klass->get (remote, -1, cancellable, error);
  ring = get_ring (self, error);
  if (ring == NULL)
    return NULL;
  return mproc_ring_get_value (ring, -1, cancellable, error);
}

/**
 * mproc_simple_queue_get_async:
 * @self: a #MprocSimpleQueue
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called when a message
 *   arrives or the get fails
 * @user_data: data for @callback
 *
 * Takes the oldest message without blocking, from the caller's
 * thread-default main context. Call [method@Mproc.SimpleQueue.get_finish] from
 * @callback.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_simple_queue_get_async (MprocSimpleQueue    *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GError) error = NULL;
  MprocRemote *remote;
  MprocRing *ring;

  g_return_if_fail (MPROC_IS_SIMPLE_QUEUE (self));

  if (!self->closed && (remote = mproc_remote_get (self)) != NULL && remote->klass->get_async != NULL)
    {
      GTask *task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, mproc_simple_queue_get_async);
      remote->klass->get_async (remote, -1, task);
      return;
    }
  ring = get_ring (self, &error);
  if (ring == NULL)
    {
      g_task_report_error (self, callback, user_data, mproc_ring_get_async, g_steal_pointer (&error));
      return;
    }
  mproc_ring_get_async (ring, self, -1, FALSE, -1, cancellable, callback, user_data);
}

/**
 * mproc_simple_queue_get_finish:
 * @self: a #MprocSimpleQueue
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes an operation started with [method@Mproc.SimpleQueue.get_async].
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_simple_queue_get_finish (MprocSimpleQueue  *self,
                               GAsyncResult      *result,
                               GError           **error)
{
  g_autoptr(GBytes) bytes = NULL;

  g_return_val_if_fail (MPROC_IS_SIMPLE_QUEUE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  if (g_async_result_is_tagged (result, mproc_simple_queue_get_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  bytes = mproc_ring_get_finish (result, NULL, error);
  return bytes != NULL ? mproc_wire_decode (bytes, error) : NULL;
}

/**
 * mproc_simple_queue_is_empty:
 * @self: a #MprocSimpleQueue
 *
 * Tells whether the queue holds no message now; the answer is
 * already stale when other processes use the queue.
 *
 * Returns: whether the queue holds no message (approximate)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_simple_queue_is_empty (MprocSimpleQueue *self)
{
  MprocRemote *remote;
  MprocRing *ring;

  g_return_val_if_fail (MPROC_IS_SIMPLE_QUEUE (self), TRUE);

  if (!self->closed && (remote = mproc_remote_get (self)) != NULL)
    return remote->klass->qsize (remote, NULL) <= 0;
  ring = get_ring (self, NULL);
  return ring == NULL || mproc_ring_get_qsize (ring) == 0;
}

/**
 * mproc_simple_queue_close:
 * @self: a #MprocSimpleQueue
 *
 * Says this process will not use the queue any more: later calls fail with
 * %MPROC_ERROR_CLOSED. Other processes are not affected.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_simple_queue_close (MprocSimpleQueue *self)
{
  g_return_if_fail (MPROC_IS_SIMPLE_QUEUE (self));

  self->closed = TRUE;
}

MprocRing *
mproc_simple_queue_get_ring (MprocSimpleQueue *self)
{
  return get_ring (self, NULL);
}
