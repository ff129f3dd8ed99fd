/* mproc-pool-iterator.c: the results of imap, as they come
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-parent-private.h"

/**
 * MprocPoolIterator:
 *
 * The results of [method@Mproc.Pool.imap] or
 * [method@Mproc.Pool.imap_unordered], as they come: Python's
 * `IMapIterator`.
 *
 * Take them with [method@Mproc.PoolIterator.next] (blocking),
 * [method@Mproc.PoolIterator.next_async], or follow the
 * [signal@Mproc.PoolIterator::item] and
 * [signal@Mproc.PoolIterator::finished] signals from the main loop.
 *
 * ## Thread safety
 *
 * Use an iterator from the thread of its pool only.
 *
 * Since: 0.1
 * Stability: Unstable
 */

typedef struct
{
  guint     index;
  GVariant *value;
  GError   *error;
} Item;

struct _MprocPoolIterator
{
  GObject    parent_instance;
  MprocPool *pool;
  Call      *call;
  gboolean   ordered;
  guint      next_chunk;      /* ordered: the next chunk to hand out */
  GQueue     ready;           /* Item* for next() */
  GQueue     to_signal;       /* Item* for ::item */
  GQueue     next_tasks;      /* GTask* of pending next_async() */
  guint      n_done;
  gboolean   finished_emitted;
};

enum {
  ITER_ITEM,
  ITER_FINISHED,
  N_ITER_SIGNALS
};

static guint iter_signals[N_ITER_SIGNALS];

/* Not final, as MprocPool. */
G_DEFINE_TYPE (MprocPoolIterator, mproc_pool_iterator, G_TYPE_OBJECT)

/* --- Items -------------------------------------------------------------- */

static void
item_free (Item *item)
{
  g_clear_pointer (&item->value, g_variant_unref);
  g_clear_error (&item->error);
  g_free (item);
}

/* --- imap ------------------------------------------------------------------ */

static void
iter_push_item (MprocPoolIterator *self,
                guint              index,
                GVariant          *value,
                const GError      *error)
{
  Item *item = g_new0 (Item, 1);
  Item *copy = g_new0 (Item, 1);

  item->index = copy->index = index;
  item->value = value != NULL ? g_variant_ref (value) : NULL;
  copy->value = value != NULL ? g_variant_ref (value) : NULL;
  item->error = error != NULL ? g_error_copy (error) : NULL;
  copy->error = error != NULL ? g_error_copy (error) : NULL;
  g_queue_push_tail (&self->ready, item);
  g_queue_push_tail (&self->to_signal, copy);
}

static void
iter_push_chunk (MprocPoolIterator *self,
                 Call              *call,
                 guint              c)
{
  guint lo = c * call->chunksize;
  guint len = MIN (call->chunksize, call->n_items - lo);
  g_autoptr(GVariant) values = call->errors[c] == NULL ? mproc_pool_call_chunk_value (call, c) : NULL;

  for (guint i = 0; i < len; i++)
    {
      if (values != NULL)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (values, i);
          g_autoptr(GVariant) value = g_variant_is_of_type (values, G_VARIANT_TYPE ("av"))
                                      ? g_variant_get_variant (child) : g_variant_ref (child);

          iter_push_item (self, lo + i, value, NULL);
        }
      else
        iter_push_item (self, lo + i, NULL, call->errors[c]);
    }
  g_clear_pointer (&call->results[c], g_variant_unref);
  g_clear_error (&call->errors[c]);
}

/* A chunk of @call is done: hand out what may be handed out. */
void
mproc_pool_iter_push (MprocPoolIterator *self,
                      Call              *call,
                      guint              chunk_index)
{
  if (!self->ordered)
    {
      iter_push_chunk (self, call, chunk_index);
      return;
    }

  while (self->next_chunk < call->n_chunks && call->chunk_done[self->next_chunk] != 0)
    iter_push_chunk (self, call, self->next_chunk++);
}

void
mproc_pool_iter_deliver (MprocPoolIterator *self)
{
  g_object_ref (self);

  while (!g_queue_is_empty (&self->to_signal))
    {
      Item *item = g_queue_pop_head (&self->to_signal);

      g_signal_emit (self, iter_signals[ITER_ITEM], 0, item->index, item->value, item->error);
      item_free (item);
    }

  while (!g_queue_is_empty (&self->next_tasks) &&
         (!g_queue_is_empty (&self->ready) || self->call->finished))
    {
      GTask *task = g_queue_pop_head (&self->next_tasks);
      Item *item = g_queue_pop_head (&self->ready);

      if (item == NULL)
        g_task_return_pointer (task, NULL, NULL);
      else if (item->error != NULL)
        {
          g_task_set_task_data (task, GUINT_TO_POINTER (item->index), NULL);
          self->n_done++;
          g_task_return_error (task, g_steal_pointer (&item->error));
        }
      else
        {
          g_task_set_task_data (task, GUINT_TO_POINTER (item->index), NULL);
          self->n_done++;
          g_task_return_pointer (task, g_steal_pointer (&item->value), (GDestroyNotify) g_variant_unref);
        }
      g_clear_pointer (&item, item_free);
      g_object_unref (task);
    }

  if (self->call->finished && g_queue_is_empty (&self->to_signal) && !self->finished_emitted)
    {
      self->finished_emitted = TRUE;
      g_signal_emit (self, iter_signals[ITER_FINISHED], 0);
    }

  g_object_unref (self);
}

static void
mproc_pool_iterator_dispose (GObject *object)
{
  MprocPoolIterator *self = MPROC_POOL_ITERATOR (object);

  if (self->call != NULL)
    {
      /* Nobody wants the rest: drop what no worker has started. */
      if (!self->call->finished)
        {
          self->call->finished = TRUE;
          mproc_pool_call_drop_pending (self->call);
        }
      self->call->iter = NULL;
      mproc_pool_call_release (self->call);
      g_clear_pointer (&self->call, mproc_pool_call_unref);
    }
  g_queue_clear_full (&self->ready, (GDestroyNotify) item_free);
  g_queue_clear_full (&self->to_signal, (GDestroyNotify) item_free);
  g_clear_object (&self->pool);

  G_OBJECT_CLASS (mproc_pool_iterator_parent_class)->dispose (object);
}

static void
mproc_pool_iterator_class_init (MprocPoolIteratorClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = mproc_pool_iterator_dispose;

  /**
   * MprocPoolIterator::item:
   * @self: the iterator
   * @index: the position of the item in the input
   * @value: (nullable): its result, or %NULL if it failed
   * @error: (nullable): why it failed, or %NULL
   *
   * Emitted in the pool's main context for each result as it is handed out:
   * in input order for [method@Mproc.Pool.imap], in completion order for
   * [method@Mproc.Pool.imap_unordered].
   *
   * Since: 0.1
   * Stability: Unstable
   */
  iter_signals[ITER_ITEM] =
    g_signal_new ("item", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3, G_TYPE_UINT,
                  G_TYPE_VARIANT | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * MprocPoolIterator::finished:
   * @self: the iterator
   *
   * Emitted once, in the pool's main context, after the last
   * [signal@Mproc.PoolIterator::item].
   *
   * Since: 0.1
   * Stability: Unstable
   */
  iter_signals[ITER_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
}

/* An iterator made with g_object_new() alone has no call to iterate. */
static gboolean
iter_check (MprocPoolIterator  *self,
            GError            **error)
{
  if (self->call != NULL)
    return TRUE;
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_STATE,
                       _("This iterator belongs to no pool call: get one from Pool.imap()"));
  return FALSE;
}

static void
mproc_pool_iterator_init (MprocPoolIterator *self)
{
  g_queue_init (&self->ready);
  g_queue_init (&self->to_signal);
  g_queue_init (&self->next_tasks);
}

static MprocPoolIterator *
pool_imap (MprocPool    *self,
           const char   *target,
           GVariant     *items,
           guint         chunksize,
           gint64        timeout_usec,
           GCancellable *cancellable,
           gboolean      ordered)
{
  MprocPoolIterator *iter = g_object_new (MPROC_TYPE_POOL_ITERATOR, NULL);
  Call *call = mproc_pool_call_new (self, CALL_IMAP, target, items, chunksize, timeout_usec, cancellable, FALSE);
  GError *error = NULL;

  iter->pool = g_object_ref (self);
  iter->call = call;
  iter->ordered = ordered;
  call->iter = iter;

  if (!mproc_pool_check_running (self, &error))
    {
      for (guint c = 0; c < call->n_chunks; c++)
        mproc_pool_call_chunk_done (call, c, MIN (call->chunksize, call->n_items - c * call->chunksize),
                                    NULL, g_error_copy (error));
      g_error_free (error);
      call->finished = TRUE;
      mproc_pool_call_mark_dirty (call);
    }
  else
    mproc_pool_submit (self, call);

  return iter;
}

/**
 * mproc_pool_imap:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of arguments (a floating reference is sunk)
 * @chunksize: items per task, or 0 for 1 (Python's default here)
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable; cancelling fails the items
 *   not done yet with %G_IO_ERROR_CANCELLED
 *
 * Runs @target on every item of @items and hands out the results in input
 * order as soon as each one and those before it are done, as Python's
 * `imap()`.  Returns at once.  Dropping the last reference to the iterator
 * drops the chunks no worker has started.
 *
 * Returns: (transfer full): an iterator over the results
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPoolIterator *
mproc_pool_imap (MprocPool    *self,
                 const char   *target,
                 GVariant     *items,
                 guint         chunksize,
                 gint64        timeout_usec,
                 GCancellable *cancellable)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (items != NULL && mproc_pool_check_items (items, FALSE), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  return pool_imap (self, target, items, chunksize, timeout_usec, cancellable, TRUE);
}

/**
 * mproc_pool_imap_unordered:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of arguments (a floating reference is sunk)
 * @chunksize: items per task, or 0 for 1
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 *
 * As [method@Mproc.Pool.imap], but hands out each result as soon as it is done,
 * as Python's `imap_unordered()`; the index that comes with each result
 * tells which item it belongs to.
 *
 * Returns: (transfer full): an iterator over the results
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocPoolIterator *
mproc_pool_imap_unordered (MprocPool    *self,
                           const char   *target,
                           GVariant     *items,
                           guint         chunksize,
                           gint64        timeout_usec,
                           GCancellable *cancellable)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (items != NULL && mproc_pool_check_items (items, FALSE), NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);

  return pool_imap (self, target, items, chunksize, timeout_usec, cancellable, FALSE);
}

static gboolean
iter_has_next (gpointer data)
{
  MprocPoolIterator *self = data;

  return !g_queue_is_empty (&self->ready) || self->call->finished;
}

/**
 * mproc_pool_iterator_next:
 * @self: an iterator
 * @out_index: (out) (optional): where to store the position of the item
 *   in the input
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Takes the next result, blocking the calling thread (without iterating any
 * main context) until there is one.  Like g_file_enumerator_next_file(),
 * returns %NULL without an error once every result has been taken.  An
 * item whose task failed returns %NULL with that error; the next call goes
 * on with the next item.
 *
 * Returns: (transfer full) (nullable): the next result, or %NULL
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_iterator_next (MprocPoolIterator  *self,
                          guint              *out_index,
                          GCancellable       *cancellable,
                          GError            **error)
{
  Item *item;
  GVariant *ret;

  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!iter_check (self, error))
    return NULL;
  if (g_queue_is_empty (&self->ready) && !self->call->finished &&
      !mproc_pool_wait (self->pool, iter_has_next, self, -1, cancellable, error))
    return NULL;

  item = g_queue_pop_head (&self->ready);
  if (item == NULL)
    return NULL;

  self->n_done++;
  if (out_index != NULL)
    *out_index = item->index;
  if (item->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&item->error));
      item_free (item);
      return NULL;
    }
  ret = g_steal_pointer (&item->value);
  item_free (item);
  return ret;
}

/**
 * mproc_pool_iterator_next_async:
 * @self: an iterator
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the next result
 * @user_data: data for @callback
 *
 * Takes the next result without blocking; @callback runs in the pool's
 * main context.  Call [method@Mproc.PoolIterator.next_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_pool_iterator_next_async (MprocPoolIterator   *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GError *error = NULL;
  GTask *task;

  g_return_if_fail (MPROC_IS_POOL_ITERATOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_pool_iterator_next_async);
  if (!iter_check (self, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_queue_push_tail (&self->next_tasks, task);
  /* delivered from the pool's notify source, never from here */
  mproc_pool_call_mark_dirty (self->call);
}

/**
 * mproc_pool_iterator_next_finish:
 * @self: an iterator
 * @result: the #GAsyncResult given to the callback
 * @out_index: (out) (optional): where to store the position of the item
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.PoolIterator.next_async].
 *
 * Returns: (transfer full) (nullable): the next result, or %NULL at the
 *   end (no error) or for a failed item (@error set)
 *
 * Since: 0.1
 * Stability: Unstable
 */
GVariant *
mproc_pool_iterator_next_finish (MprocPoolIterator  *self,
                                 GAsyncResult       *result,
                                 guint              *out_index,
                                 GError            **error)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_iterator_next_async), NULL);

  if (out_index != NULL)
    *out_index = GPOINTER_TO_UINT (g_task_get_task_data (G_TASK (result)));
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_pool_iterator_get_n_items:
 * @self: an iterator
 *
 * Gets the number of items of the call that made @self.
 *
 * Returns: the number of items of the call
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_pool_iterator_get_n_items (MprocPoolIterator *self)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), 0);
  return self->call != NULL ? self->call->n_items : 0;
}

/**
 * mproc_pool_iterator_get_n_done:
 * @self: an iterator
 *
 * Gets how many items the workers have finished so far.
 *
 * Returns: how many items the workers have finished (taken or not)
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_pool_iterator_get_n_done (MprocPoolIterator *self)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), 0);
  return self->call != NULL ? self->call->n_items_done : 0;
}

/**
 * mproc_pool_iterator_is_ordered:
 * @self: an iterator
 *
 * Tells whether results come in the order of the items.
 *
 * Returns: %TRUE for [method@Mproc.Pool.imap], %FALSE for
 *   [method@Mproc.Pool.imap_unordered]
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_pool_iterator_is_ordered (MprocPoolIterator *self)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), FALSE);
  return self->ordered;
}
