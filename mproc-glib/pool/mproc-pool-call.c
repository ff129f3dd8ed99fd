/* mproc-pool-call.c: a pool's calls: their chunks and results
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-wire-private.h"
#include "mproc-pool-parent-private.h"

/* --- Calls -------------------------------------------------------------- */

/* Packed arrays of fixed-width numbers travel as one memcpy. */
static gsize
packed_size (const GVariantType *element)
{
  return mproc_wire_number_size (*g_variant_type_peek_string (element));
}

Call *
mproc_pool_call_ref (Call *call)
{
  g_atomic_int_inc (&call->ref_count);
  return call;
}

void
mproc_pool_call_unref (Call *call)
{
  if (!g_atomic_int_dec_and_test (&call->ref_count))
    return;

  if (call->cancel_source != NULL)
    {
      g_source_destroy (call->cancel_source);
      g_source_unref (call->cancel_source);
    }
  if (call->results != NULL)
    for (guint i = 0; i < call->n_chunks; i++)
      g_clear_pointer (&call->results[i], g_variant_unref);
  if (call->errors != NULL)
    for (guint i = 0; i < call->n_chunks; i++)
      g_clear_error (&call->errors[i]);
  g_free (call->results);
  g_free (call->errors);
  g_free (call->chunk_done);
  g_free (call->rtype);
  g_free (call->rbuf);
  g_clear_error (&call->error);
  g_clear_object (&call->task);
  if (call->progress_notify != NULL)
    call->progress_notify (call->progress_data);
  g_clear_pointer (&call->items, g_variant_unref);
  mproc_clear_fd (&call->in_fd);
  mproc_clear_fd (&call->out_fd);
  g_free (call->target);
  g_free (call);
}

void
mproc_pool_chunk_free (Chunk *chunk)
{
  mproc_pool_call_unref (chunk->call);
  g_free (chunk);
}

void
mproc_pool_call_mark_dirty (Call *call)
{
  MprocPool *self = call->pool;

  if (call->dirty)
    return;
  if (call->task == NULL && call->progress == NULL && call->iter == NULL)
    return;
  call->dirty = TRUE;
  g_queue_push_tail (&self->dirty, mproc_pool_call_ref (call));
  mproc_pool_schedule_notify (self);
}

/* Drops the chunks of @call that no worker has been sent. */
void
mproc_pool_call_drop_pending (Call *call)
{
  MprocPool *self = call->pool;
  GList *l = self->pending.head;

  while (l != NULL)
    {
      GList *next = l->next;
      Chunk *chunk = l->data;

      if (chunk->call == call)
        {
          g_queue_delete_link (&self->pending, l);
          mproc_pool_chunk_free (chunk);
        }
      l = next;
    }
}

/* Ends @call with @error (taken), unless it has ended already. */
void
mproc_pool_call_fail (Call   *call,
                      GError *error)
{
  if (call->finished)
    {
      g_error_free (error);
      return;
    }
  call->finished = TRUE;
  g_clear_error (&call->error);
  call->error = error;
  mproc_pool_call_drop_pending (call);
  mproc_pool_call_mark_dirty (call);
}

/* @result: the chunk's results; NULL with @error NULL: they are packed in
 * call->rbuf already. */
void
mproc_pool_call_chunk_done (Call     *call,
                            guint     index,
                            guint     len,
                            GVariant *result,      /* transfer full, or NULL */
                            GError   *error)       /* transfer full, or NULL */
{
  if (call->finished)
    {
      g_clear_pointer (&result, g_variant_unref);
      g_clear_error (&error);
      return;
    }

  call->chunk_done[index] = CHUNK_DONE | (result == NULL && error == NULL ? CHUNK_PACKED : 0);
  call->n_chunks_done++;
  call->n_items_done += len;

  if (call->kind == CALL_IMAP)
    {
      call->results[index] = result;
      call->errors[index] = error;
      if (call->iter != NULL)
        mproc_pool_iter_push (call->iter, call, index);
      if (call->n_chunks_done == call->n_chunks)
        call->finished = TRUE;
      mproc_pool_call_mark_dirty (call);
      return;
    }

  if (error != NULL)
    {
      g_clear_pointer (&result, g_variant_unref);
      mproc_pool_call_fail (call, error);
      return;
    }

  call->results[index] = result;
  if (call->n_chunks_done == call->n_chunks)
    call->finished = TRUE;
  mproc_pool_call_mark_dirty (call);
}

/* Ends every chunk of @chunks, which it empties, with @message. */
void
mproc_pool_fail_chunks (GQueue     *chunks,
                        MprocError  code,
                        const char *message)
{
  while (!g_queue_is_empty (chunks))
    {
      Chunk *chunk = g_queue_pop_head (chunks);

      mproc_pool_call_chunk_done (chunk->call, chunk->index, chunk->len, NULL,
                                  g_error_new_literal (MPROC_ERROR, code, message));
      mproc_pool_chunk_free (chunk);
    }
}

/* The results of chunk @c as one array value. */
GVariant *
mproc_pool_call_chunk_value (Call  *call,
                             guint  c)
{
  if ((call->chunk_done[c] & CHUNK_PACKED) && call->out_fd >= 0)
    {
      /* in the results' memfd, where the worker wrote them */
      gsize lo = (gsize) c * call->chunksize;
      gsize size = MIN (call->chunksize, call->n_items - lo) * call->resize;
      guint8 *copy = g_malloc0 (MAX (size, 1));
      gsize done = 0;

      while (done < size)
        {
          ssize_t n = pread (call->out_fd, copy + done, size - done, lo * call->resize + done);

          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            break;   /* cannot happen with a memfd of our own: zeroes */
          done += n;
        }
      return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (call->rtype), copy,
                                                          size, TRUE, g_free, copy));
    }
  if (call->chunk_done[c] & CHUNK_PACKED)
    {
      gsize lo = (gsize) c * call->chunksize;
      gsize len = MIN (call->chunksize, call->n_items - lo);
      gpointer copy = g_memdup2 (call->rbuf + lo * call->resize, len * call->resize);

      return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (call->rtype), copy,
                                                          len * call->resize, TRUE, g_free, copy));
    }
  return g_variant_ref (call->results[c]);
}

/* The result of a finished map or apply. */
GVariant *
mproc_pool_call_build_result (Call *call)
{
  const GVariantType *type = NULL;
  gboolean same = TRUE;
  gboolean all_packed = TRUE;

  if (call->kind == CALL_APPLY)
    return g_variant_ref (call->results[0]);

  if (call->n_items == 0)
    return g_variant_ref_sink (g_variant_new_array (g_variant_type_element (g_variant_get_type (call->items)),
                                                    NULL, 0));

  for (guint c = 0; c < call->n_chunks; c++)
    if (!(call->chunk_done[c] & CHUNK_PACKED))
      all_packed = FALSE;
  if (all_packed && call->out_fd < 0)
    {
      /* The fast path: the workers' results were copied into place. */
      gsize size = (gsize) call->n_items * call->resize;
      guint8 *buf = g_steal_pointer (&call->rbuf);

      return g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (call->rtype), buf, size,
                                                          TRUE, g_free, buf));
    }

  /* Mixed: one value per chunk first. */
  for (guint c = 0; c < call->n_chunks; c++)
    if (call->chunk_done[c] & CHUNK_PACKED)
      {
        call->results[c] = mproc_pool_call_chunk_value (call, c);
        call->chunk_done[c] &= ~CHUNK_PACKED;
      }

  for (guint c = 0; c < call->n_chunks; c++)
    {
      if (type == NULL)
        type = g_variant_get_type (call->results[c]);
      else if (!g_variant_type_equal (type, g_variant_get_type (call->results[c])))
        same = FALSE;
    }

  if (call->n_chunks == 1 && same)
    return g_variant_ref (call->results[0]);

  if (same)
    {
      gsize esize = packed_size (g_variant_type_element (type));

      if (esize != 0)
        {
          gsize total = (gsize) call->n_items * esize;
          /* zeroed: a worker that answered short must not leak garbage */
          guint8 *buf = g_malloc0 (total);
          gsize at = 0;

          for (guint c = 0; c < call->n_chunks; c++)
            {
              gsize size = g_variant_get_size (call->results[c]);

              memcpy (buf + at, g_variant_get_data (call->results[c]), MIN (size, total - at));
              at += MIN (size, total - at);
            }
          return g_variant_ref_sink (g_variant_new_from_data (type, buf, total, TRUE, g_free, buf));
        }
      else
        {
          GVariantBuilder builder;

          g_variant_builder_init (&builder, type);
          for (guint c = 0; c < call->n_chunks; c++)
            {
              GVariantIter iter;
              GVariant *child;

              g_variant_iter_init (&iter, call->results[c]);
              while ((child = g_variant_iter_next_value (&iter)) != NULL)
                {
                  g_variant_builder_add_value (&builder, child);
                  g_variant_unref (child);
                }
            }
          return g_variant_ref_sink (g_variant_builder_end (&builder));
        }
    }
  else
    {
      GVariantBuilder builder;

      g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
      for (guint c = 0; c < call->n_chunks; c++)
        {
          gboolean boxed = g_variant_is_of_type (call->results[c], G_VARIANT_TYPE ("av"));
          GVariantIter iter;
          GVariant *child;

          g_variant_iter_init (&iter, call->results[c]);
          while ((child = g_variant_iter_next_value (&iter)) != NULL)
            {
              g_variant_builder_add_value (&builder, boxed ? child : g_variant_new_variant (child));
              g_variant_unref (child);
            }
        }
      return g_variant_ref_sink (g_variant_builder_end (&builder));
    }
}

/* The items of one chunk, as one array value. */
GVariant *
mproc_pool_call_slice (Call  *call,
                       Chunk *chunk)
{
  const GVariantType *element;
  GVariant **children;
  GVariant *ret;

  if (call->kind == CALL_APPLY)
    return g_variant_ref (call->items);

  element = g_variant_type_element (g_variant_get_type (call->items));
  if (call->esize != 0)
    {
      const guint8 *data = g_variant_get_data (call->items);

      return g_variant_ref_sink (g_variant_new_from_data (g_variant_get_type (call->items),
                                                          data + (gsize) chunk->lo * call->esize,
                                                          (gsize) chunk->len * call->esize, FALSE,
                                                          (GDestroyNotify) g_variant_unref,
                                                          g_variant_ref (call->items)));
    }

  children = g_new (GVariant *, chunk->len);
  for (guint i = 0; i < chunk->len; i++)
    children[i] = g_variant_get_child_value (call->items, chunk->lo + i);
  ret = g_variant_ref_sink (g_variant_new_array (element, children, chunk->len));
  for (guint i = 0; i < chunk->len; i++)
    g_variant_unref (children[i]);
  g_free (children);
  return ret;
}

static gboolean
call_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  Call *call = user_data;
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  if (!call->finished)
    mproc_pool_cancel_running (call->pool, call);
  if (call->kind == CALL_IMAP)
    {
      /* The items not done yet each report the cancellation. */
      if (!call->finished)
        {
          call->finished = TRUE;
          mproc_pool_call_drop_pending (call);
          if (call->iter != NULL)
            for (guint c = 0; c < call->n_chunks; c++)
              if (call->chunk_done[c] == 0)
                {
                  call->errors[c] = g_error_copy (error);
                  call->chunk_done[c] = CHUNK_DONE;
                  mproc_pool_iter_push (call->iter, call, c);
                }
          mproc_pool_call_mark_dirty (call);
        }
      g_error_free (error);
    }
  else
    mproc_pool_call_fail (call, error);

  g_clear_pointer (&call->cancel_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* @n_items: G_MAXUINT to count @items, else the number of items of an fd
 * call (whose @items is an empty array of their type). */
Call *
mproc_pool_call_new_n (MprocPool    *self,
                       CallKind      kind,
                       const char   *target,
                       GVariant     *items,
                       guint         n_items,
                       guint         chunksize,
                       gint64        timeout_usec,
                       GCancellable *cancellable,
                       gboolean      default_chunks_like_map)
{
  Call *call = g_new0 (Call, 1);

  call->in_fd = -1;
  call->out_fd = -1;
  call->ref_count = 1;
  call->pool = self;
  call->kind = kind;
  call->target = g_strdup (target);
  call->items = g_variant_ref_sink (items);
  call->timeout_usec = timeout_usec;

  if (kind == CALL_APPLY)
    {
      call->n_items = 1;
      call->n_chunks = 1;
      call->chunksize = 1;
    }
  else
    {
      call->n_items = n_items != G_MAXUINT ? n_items : g_variant_n_children (items);
      call->esize = packed_size (g_variant_type_element (g_variant_get_type (items)));
      if (chunksize == 0)
        {
          if (default_chunks_like_map)
            {
              /* Python's rule: about four chunks per worker. */
              guint n = MAX (self->processes, 1) * 4;

              chunksize = call->n_items / n + (call->n_items % n != 0 ? 1 : 0);
            }
          chunksize = MAX (chunksize, 1);
        }
      call->chunksize = chunksize;
      call->n_chunks = call->n_items / chunksize + (call->n_items % chunksize != 0 ? 1 : 0);
    }

  call->results = g_new0 (GVariant *, MAX (call->n_chunks, 1));
  call->chunk_done = g_new0 (guint8, MAX (call->n_chunks, 1));
  if (kind == CALL_IMAP)
    call->errors = g_new0 (GError *, MAX (call->n_chunks, 1));

  if (cancellable != NULL)
    {
      call->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (call->cancel_source, G_SOURCE_FUNC (call_cancelled_cb),
                             mproc_pool_call_ref (call), (GDestroyNotify) mproc_pool_call_unref);
      g_source_attach (call->cancel_source, self->main_context);
    }

  return call;
}

Call *
mproc_pool_call_new (MprocPool    *self,
                     CallKind      kind,
                     const char   *target,
                     GVariant     *items,
                     guint         chunksize,
                     gint64        timeout_usec,
                     GCancellable *cancellable,
                     gboolean      default_chunks_like_map)
{
  return mproc_pool_call_new_n (self, kind, target, items, G_MAXUINT, chunksize, timeout_usec,
                                cancellable, default_chunks_like_map);
}

void
mproc_pool_call_release (Call *call)
{
  if (call->cancel_source != NULL)
    {
      g_source_destroy (call->cancel_source);
      g_clear_pointer (&call->cancel_source, g_source_unref);
    }
}
