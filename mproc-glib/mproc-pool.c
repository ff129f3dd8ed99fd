/* mproc-pool.c: a pool of worker processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-main.h"
#include "mproc-pool-private.h"
#include "mproc-wire-private.h"
#include "mproc-process-private.h"

/**
 * MprocPool:
 *
 * A pool of worker processes: Python's `multiprocessing.Pool`.
 *
 * A pool keeps [property@Mproc.Pool:processes] workers (by default one per
 * CPU) and runs registered targets (mproc_register_task(),
 * mproc_register_chunk_task()) on them: [method@Mproc.Pool.map] and
 * [method@Mproc.Pool.starmap] return results in input order,
 * [method@Mproc.Pool.imap] and [method@Mproc.Pool.imap_unordered] deliver
 * them as they come through a [class@Mproc.PoolIterator], and
 * [method@Mproc.Pool.apply] runs one task.  Every call has an `_async` form
 * on GTask that never blocks the main loop and takes a #GCancellable:
 * cancelling removes the tasks of that call that no worker has started and
 * reports %G_IO_ERROR_CANCELLED, other calls go on.
 *
 * ```c
 * static GVariant *
 * do_calculation (GVariant *arg, gpointer user_data, GError **error)
 * {
 *   return g_variant_new_int64 (g_variant_get_int64 (arg) * 2);
 * }
 *
 * int
 * main (int argc, char *argv[])
 * {
 *   mproc_register_task ("do_calculation", do_calculation, NULL, NULL);
 *   mproc_init (&argc, &argv);
 *
 *   g_autoptr(MprocPool) pool = mproc_pool_new (0, NULL);
 *   g_autoptr(GVariant) out = mproc_pool_map (pool, "do_calculation", items,
 *                                             0, -1, NULL, &error);
 *   mproc_pool_close (pool);
 *   mproc_pool_join (pool, -1, NULL, NULL);
 * }
 * ```
 *
 * Items and results are GVariants.  A map's items form one array value
 * (`aT`); the results come back as one array: `aR` when every result has
 * the type `R`, `av` otherwise.  Chunks of fixed-width arrays (`ax`, `ad`,
 * …) travel packed, and a chunk target receives them as one array, so a
 * map over millions of tiny items costs no allocation per item.
 *
 * Faults: a worker that dies (killed, crashed, or exiting inside a target)
 * fails only the task it was running, with %MPROC_ERROR_WORKER_DIED naming
 * its pid and the signal or exit status; tasks it had been sent but had not
 * started go to another worker.  The worker is replaced and the pool goes
 * on.  A task that runs longer than its call's timeout fails with
 * %MPROC_ERROR_TIMED_OUT and its worker is killed and replaced.  An error
 * set by a target reaches the caller with its domain, code and message.
 *
 * Workers die with the program; disposing of a pool that has not been
 * joined kills its workers and waits for them.
 *
 * ## Thread safety
 *
 * A pool belongs to the thread-default main context that was current when
 * it was made: use it from that thread only.  Its workers are served from
 * that context's main loop for `_async` calls; the blocking calls serve
 * them directly by polling their file descriptors, without iterating any
 * main context.
 *
 * Since: 1.0
 */

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
 * Since: 1.0
 */

#define DEFAULT_WINDOW_USEC  200.0    /* work queued on a worker ahead of it */
#define MAX_WINDOW           256
#define SYNC_SPIN_USEC       30       /* blocking calls poll this long before sleeping */
#define READ_CHUNK           65536

typedef enum
{
  POOL_RUN,
  POOL_CLOSE,
  POOL_TERMINATE,
} PoolState;

typedef enum
{
  CALL_APPLY,
  CALL_MAP,
  CALL_IMAP,
} CallKind;

typedef struct _Call Call;
typedef struct _Worker Worker;

typedef struct
{
  Call   *call;        /* strong */
  guint   index;       /* chunk number in its call */
  guint   lo;          /* first item */
  guint   len;         /* number of items */
  guint32 seq;
  gint64  started;     /* when its worker began it (approximately) */
} Chunk;

typedef struct
{
  guint     index;
  GVariant *value;
  GError   *error;
} Item;

struct _Call
{
  gint                  ref_count;
  MprocPool            *pool;          /* weak: every holder also holds the pool */
  CallKind              kind;
  char                 *target;
  GVariant             *items;         /* array, or the argument of an apply */
  gsize                 esize;         /* element size of packed item arrays */
  guint                 n_items;
  guint                 chunksize;
  guint                 n_chunks;
  guint                 n_chunks_done;
  guint                 n_items_done;
  gint64                timeout_usec;
  GVariant            **results;       /* one per chunk, unless packed */
  guint8               *chunk_done;    /* per chunk: 0, DONE, DONE|PACKED */
  char                 *rtype;         /* packed results: their array type */
  gsize                 resize;        /* and element size */
  guint8               *rbuf;          /* n_items * resize */
  GError              **errors;        /* one per chunk (imap) */
  GError               *error;         /* map/apply: the first error */
  gboolean              finished;      /* nothing more will be run */
  gboolean              notified;
  gboolean              dirty;

  GTask                *task;
  GSource              *cancel_source;
  MprocPoolProgressFunc progress;
  gpointer              progress_data;
  GDestroyNotify        progress_notify;
  guint                 reported_done;

  MprocPoolIterator    *iter;          /* weak: it owns us */

  /* mproc_pool_map_fd_async(): the memfds of the items and the results
   * (-1 otherwise), and their id in FILES frames */
  int                   in_fd;
  int                   out_fd;
  guint32               file_id;
  gboolean              into;          /* out_fd is the caller's */
};

/* A result of mproc_pool_map_fd_async(). */
typedef struct
{
  int       fd;
  char     *type;
  GVariant *value;
} FdResult;

/* fds to send with the byte at @offset of a worker's out buffer */
typedef struct
{
  gsize offset;
  int   fds[2];
} FdAttach;

struct _Worker
{
  MprocPool    *pool;
  MprocProcess *process;
  GPid          pid;
  int           fd;
  int           pidfd;
  GSource      *source;
  gpointer      fd_tag;
  gpointer      pid_tag;
  GQueue        inflight;    /* Chunk*, oldest (running) first */
  guint         n_sent;
  guint8       *in;
  gsize         in_start;
  gsize         in_end;
  gsize         in_size;
  GByteArray   *out;
  gsize         out_start;
  GArray       *attach;      /* FdAttach, in order of offset */
  GPtrArray    *file_calls;  /* Call* whose memfds the worker holds */
  double        avg_exec_usec;
  gboolean      retiring;    /* got its quota of tasks, or was told to stop */
  gboolean      timed_out;
  gboolean      dead;
};

struct _MprocPool
{
  GObject       parent_instance;

  MprocContext *context;
  guint         processes;
  guint         maxtasksperchild;
  char         *initializer;
  GVariant     *initargs;

  GMainContext *main_context;
  GPtrArray    *workers;
  GQueue        pending;       /* Chunk* not sent yet */
  GQueue        dirty;         /* Call* with something to report */
  GSource      *notify_source;
  GSource      *timeout_source;
  GList        *join_tasks;
  guint         n_started;
  guint32       next_seq;
  guint32       next_file_id;
  PoolState     state;
  guint         quick_deaths;
  guint         n_busy;        /* as last notified */
  guint         n_queued;
};

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
  PROP_0,
  PROP_CONTEXT,
  PROP_PROCESSES,
  PROP_INITIALIZER,
  PROP_INITARGS,
  PROP_MAXTASKSPERCHILD,
  PROP_BUSY,
  PROP_QUEUED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  ITER_ITEM,
  ITER_FINISHED,
  N_ITER_SIGNALS
};

static guint iter_signals[N_ITER_SIGNALS];

static void mproc_pool_initable_init (GInitableIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocPool, mproc_pool, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_pool_initable_init))
G_DEFINE_FINAL_TYPE (MprocPoolIterator, mproc_pool_iterator, G_TYPE_OBJECT)

static void pool_schedule_notify (MprocPool *self);
static GSourceFuncs notify_source_funcs;
static void pool_dispatch (MprocPool *self);
static void pool_check_idle (MprocPool *self);
static void worker_free (Worker *w);
static gboolean worker_start (MprocPool *self, GError **error);
static void iter_push (MprocPoolIterator *self, Call *call, guint chunk_index);

/* --- Items -------------------------------------------------------------- */

static void
item_free (Item *item)
{
  g_clear_pointer (&item->value, g_variant_unref);
  g_clear_error (&item->error);
  g_free (item);
}

/* Packed arrays of fixed-width numbers travel as one memcpy. */
static gsize
packed_size (const GVariantType *element)
{
  return mproc_wire_number_size (*g_variant_type_peek_string (element));
}

/* --- Calls -------------------------------------------------------------- */

static Call *
call_ref (Call *call)
{
  g_atomic_int_inc (&call->ref_count);
  return call;
}

static void
call_unref (Call *call)
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

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_unref)

static void
chunk_free (Chunk *chunk)
{
  call_unref (chunk->call);
  g_free (chunk);
}

static void
call_mark_dirty (Call *call)
{
  MprocPool *self = call->pool;

  if (call->dirty)
    return;
  if (call->task == NULL && call->progress == NULL && call->iter == NULL)
    return;
  call->dirty = TRUE;
  g_queue_push_tail (&self->dirty, call_ref (call));
  pool_schedule_notify (self);
}

/* Drops the chunks of @call that no worker has been sent. */
static void
call_drop_pending (Call *call)
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
          chunk_free (chunk);
        }
      l = next;
    }
}

/* Ends @call with @error (taken), unless it has ended already. */
static void
call_fail (Call   *call,
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
  call_drop_pending (call);
  call_mark_dirty (call);
}

#define CHUNK_DONE   1
#define CHUNK_PACKED 2

/* @result: the chunk's results; NULL with @error NULL: they are packed in
 * call->rbuf already. */
static void
call_chunk_done (Call     *call,
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
        iter_push (call->iter, call, index);
      if (call->n_chunks_done == call->n_chunks)
        call->finished = TRUE;
      call_mark_dirty (call);
      return;
    }

  if (error != NULL)
    {
      g_clear_pointer (&result, g_variant_unref);
      call_fail (call, error);
      return;
    }

  call->results[index] = result;
  if (call->n_chunks_done == call->n_chunks)
    call->finished = TRUE;
  call_mark_dirty (call);
}

/* The results of chunk @c as one array value. */
static GVariant *
call_chunk_value (Call  *call,
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
static GVariant *
call_build_result (Call *call)
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
        call->results[c] = call_chunk_value (call, c);
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
static GVariant *
call_slice (Call  *call,
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
  if (call->kind == CALL_IMAP)
    {
      /* The items not done yet each report the cancellation. */
      if (!call->finished)
        {
          call->finished = TRUE;
          call_drop_pending (call);
          if (call->iter != NULL)
            for (guint c = 0; c < call->n_chunks; c++)
              if (call->chunk_done[c] == 0)
                {
                  call->errors[c] = g_error_copy (error);
                  call->chunk_done[c] = CHUNK_DONE;
                  iter_push (call->iter, call, c);
                }
          call_mark_dirty (call);
        }
      g_error_free (error);
    }
  else
    call_fail (call, error);

  g_clear_pointer (&call->cancel_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* @n_items: G_MAXUINT to count @items, else the number of items of an fd
 * call (whose @items is an empty array of their type). */
static Call *
call_new_n (MprocPool    *self,
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
                             call_ref (call), (GDestroyNotify) call_unref);
      g_source_attach (call->cancel_source, self->main_context);
    }

  return call;
}

static Call *
call_new (MprocPool    *self,
          CallKind      kind,
          const char   *target,
          GVariant     *items,
          guint         chunksize,
          gint64        timeout_usec,
          GCancellable *cancellable,
          gboolean      default_chunks_like_map)
{
  return call_new_n (self, kind, target, items, G_MAXUINT, chunksize, timeout_usec,
                     cancellable, default_chunks_like_map);
}

static gboolean
pool_check_running (MprocPool  *self,
                    GError    **error)
{
  if (self->state != POOL_RUN)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The pool is not running"));
      return FALSE;
    }
  return TRUE;
}

static void
pool_submit (MprocPool *self,
             Call      *call)
{
  if (call->n_items == 0 || call->finished)
    {
      call->finished = TRUE;
      call_mark_dirty (call);
      return;
    }

  for (guint c = 0; c < call->n_chunks; c++)
    {
      Chunk *chunk = g_new0 (Chunk, 1);

      chunk->call = call_ref (call);
      chunk->index = c;
      chunk->lo = c * call->chunksize;
      chunk->len = MIN (call->chunksize, call->n_items - chunk->lo);
      g_queue_push_tail (&self->pending, chunk);
    }
  pool_dispatch (self);
}

/* --- Workers: I/O ------------------------------------------------------- */

static void
worker_update_source (Worker *w)
{
  if (w->source != NULL && w->fd_tag != NULL)
    g_source_modify_unix_fd (w->source, w->fd_tag,
                             G_IO_IN | G_IO_HUP | G_IO_ERR |
                             (w->out->len > w->out_start ? G_IO_OUT : 0));
}

/* Sends from out_start up to the next attachment; the fds of an
 * attachment go with the first byte at its offset (SCM_RIGHTS on a stream
 * socket stays with the bytes it was sent with). */
static ssize_t
worker_send (Worker *w)
{
  FdAttach *a = w->attach->len > 0 ? &g_array_index (w->attach, FdAttach, 0) : NULL;
  gsize end = w->out->len;
  union {
    struct cmsghdr hdr;
    char buf[CMSG_SPACE (sizeof (int) * 2)];
  } control;
  struct msghdr msg = { 0, };
  struct iovec iov;
  struct cmsghdr *cmsg;
  ssize_t n;

  if (a == NULL || a->offset > w->out_start)
    {
      if (a != NULL)
        end = a->offset;
      return send (w->fd, w->out->data + w->out_start, end - w->out_start,
                   MSG_NOSIGNAL | MSG_DONTWAIT);
    }

  if (w->attach->len > 1)
    end = g_array_index (w->attach, FdAttach, 1).offset;
  iov.iov_base = w->out->data + w->out_start;
  iov.iov_len = end - w->out_start;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  memset (&control, 0, sizeof control);
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  cmsg = CMSG_FIRSTHDR (&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN (sizeof (int) * 2);
  memcpy (CMSG_DATA (cmsg), a->fds, sizeof (int) * 2);
  n = sendmsg (w->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n > 0)
    {
      close (a->fds[0]);
      close (a->fds[1]);
      g_array_remove_index (w->attach, 0);
    }
  return n;
}

static void
worker_flush (Worker *w)
{
  while (w->out->len > w->out_start)
    {
      ssize_t n = worker_send (w);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          /* EAGAIN: wait for G_IO_OUT; EPIPE & co: the pidfd will tell */
          break;
        }
      w->out_start += n;
    }
  if (w->out_start == w->out->len)
    {
      g_byte_array_set_size (w->out, 0);
      w->out_start = 0;
    }
  worker_update_source (w);
}

static guint
worker_window (Worker *w)
{
  double avg = MAX (w->avg_exec_usec, 0.5);
  guint window = (guint) (DEFAULT_WINDOW_USEC / avg);

  return CLAMP (window, 1, MAX_WINDOW);
}

/* Before the first TASK_FD of @call: hand the worker its memfds. */
static gboolean
worker_send_files (Worker  *w,
                   Call    *call,
                   GError **error)
{
  FdAttach a;

  if (g_ptr_array_find (w->file_calls, call, NULL))
    return TRUE;
  /* dups: the call may be over before the frame is flushed */
  a.offset = w->out->len;
  a.fds[0] = fcntl (call->in_fd, F_DUPFD_CLOEXEC, 3);
  a.fds[1] = a.fds[0] >= 0 ? fcntl (call->out_fd, F_DUPFD_CLOEXEC, 3) : -1;
  if (a.fds[1] < 0)
    {
      int errsv = errno;
      mproc_clear_fd (&a.fds[0]);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot hand the items to a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }
  mproc_pool_append_frame (w->out, POOL_FRAME_FILES, call->file_id, 0, NULL, NULL, NULL, NULL, 0);
  g_array_append_val (w->attach, a);
  g_ptr_array_add (w->file_calls, call_ref (call));
  return TRUE;
}

/* Tells the workers to close the memfds of the calls that are over. */
static void
pool_release_files (MprocPool *self)
{
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      gboolean any = FALSE;

      for (guint j = w->file_calls->len; j > 0; j--)
        {
          Call *call = g_ptr_array_index (w->file_calls, j - 1);

          if (!call->finished || w->dead)
            continue;
          mproc_pool_append_frame (w->out, POOL_FRAME_RELEASE, call->file_id, 0,
                                   NULL, NULL, NULL, NULL, 0);
          g_ptr_array_remove_index_fast (w->file_calls, j - 1);
          any = TRUE;
        }
      if (any)
        worker_flush (w);
    }
}

static void
worker_send_chunk (Worker *w,
                   Chunk  *chunk)
{
  MprocPool *self = w->pool;
  Call *call = chunk->call;
  GError *error = NULL;

  if (call->in_fd >= 0 && !worker_send_files (w, call, &error))
    {
      call_chunk_done (call, chunk->index, chunk->len, NULL, error);
      chunk_free (chunk);
      return;
    }

  chunk->seq = self->next_seq++;
  if (g_queue_is_empty (&w->inflight))
    chunk->started = g_get_monotonic_time ();
  g_queue_push_tail (&w->inflight, chunk);

  if (call->kind == CALL_APPLY)
    mproc_pool_append_frame (w->out, POOL_FRAME_APPLY, chunk->seq, 0, call->target,
                             call->items, NULL, NULL, 0);
  else if (call->in_fd >= 0)
    {
      PoolFdTask task = { call->file_id, chunk->len, (guint64) chunk->lo * call->esize };

      mproc_pool_append_frame (w->out, POOL_FRAME_TASK_FD, chunk->seq, 0, call->target, NULL,
                               g_variant_get_type_string (call->items), &task, sizeof task);
    }
  else if (call->esize != 0)
    /* a packed chunk: one memcpy, no GVariant */
    mproc_pool_append_frame (w->out, POOL_FRAME_TASK, chunk->seq, 0, call->target, NULL,
                             g_variant_get_type_string (call->items),
                             (const guint8 *) g_variant_get_data (call->items) + (gsize) chunk->lo * call->esize,
                             (gsize) chunk->len * call->esize);
  else
    {
      g_autoptr(GVariant) slice = call_slice (call, chunk);

      mproc_pool_append_frame (w->out, POOL_FRAME_TASK, chunk->seq, 0, call->target,
                               slice, NULL, NULL, 0);
    }
  w->n_sent++;
  if (self->maxtasksperchild != 0 && w->n_sent >= self->maxtasksperchild)
    w->retiring = TRUE;
}

/* Handles one RESULT or ERROR frame. */
static void
worker_handle_frame (Worker          *w,
                     const PoolFrame *frame,
                     const guint8    *payload)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  const char *name, *type;
  const guint8 *data;
  gsize data_size;
  GError *error = NULL;
  GVariant *result = NULL;
  Chunk *chunk;
  Call *call;

  chunk = g_queue_pop_head (&w->inflight);
  if (chunk == NULL || chunk->seq != frame->seq ||
      (frame->kind != POOL_FRAME_RESULT && frame->kind != POOL_FRAME_ERROR &&
       frame->kind != POOL_FRAME_INPLACE) ||
      !mproc_pool_parse_payload (payload, frame->size, &name, &type, &data, &data_size))
    {
      /* Not our protocol: treat the worker as broken. */
      if (chunk != NULL)
        g_queue_push_head (&w->inflight, chunk);
      mproc_process_kill (w->process);
      return;
    }
  call = chunk->call;

  if (!g_queue_is_empty (&w->inflight))
    ((Chunk *) g_queue_peek_head (&w->inflight))->started = g_get_monotonic_time ();
  w->avg_exec_usec = w->avg_exec_usec * 0.75 + (double) frame->exec_usec * 0.25;
  w->pool->quick_deaths = 0;

  if (call->finished)
    {
      chunk_free (chunk);
      return;
    }

  if (frame->kind == POOL_FRAME_INPLACE)
    {
      /* written into the results' memfd: check it could be */
      if (call->out_fd < 0 || data_size != 0 || mproc_pool_packed_size (type) != call->esize)
        error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                     _("A pool worker sent an invalid result"));
      else if (call->rtype == NULL || strcmp (call->rtype, type) == 0)
        {
          if (call->rtype == NULL)
            {
              call->rtype = g_strdup (type);
              call->resize = call->esize;
            }
          call_chunk_done (call, chunk->index, chunk->len, NULL, NULL);
          chunk_free (chunk);
          return;
        }
      else
        {
          /* another type of the same size: read it back as a value */
          const char *rtype = call->rtype;
          guint8 flags = call->chunk_done[chunk->index];

          call->rtype = (char *) type;
          call->chunk_done[chunk->index] = CHUNK_PACKED;
          result = call_chunk_value (call, chunk->index);
          call->chunk_done[chunk->index] = flags;
          call->rtype = (char *) rtype;
        }
      call_chunk_done (call, chunk->index, chunk->len, result, error);
      chunk_free (chunk);
      return;
    }

  if (frame->kind == POOL_FRAME_RESULT && call->kind != CALL_APPLY && call->out_fd < 0)
    {
      gsize esize = mproc_pool_packed_size (type);

      /* The fast path: a packed array goes straight into place. */
      if (esize != 0 && data_size == (gsize) chunk->len * esize &&
          (call->rtype == NULL || strcmp (call->rtype, type) == 0))
        {
          if (call->rtype == NULL)
            {
              call->rtype = g_strdup (type);
              call->resize = esize;
              call->rbuf = g_malloc0 ((gsize) call->n_items * esize);
            }
          memcpy (call->rbuf + (gsize) chunk->lo * esize, data, data_size);
          call_chunk_done (call, chunk->index, chunk->len, NULL, NULL);
          chunk_free (chunk);
          return;
        }
    }

  bytes = g_bytes_new (data, data_size);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));
  if (frame->kind == POOL_FRAME_RESULT)
    {
      if (mproc_pool_variant_is_valid (value) &&
          (call->kind == CALL_APPLY ||
           (g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY) &&
            g_variant_n_children (value) == chunk->len)))
        result = g_variant_ref (value);
      else
        error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                     _("A pool worker sent an invalid result"));
    }
  else
    error = mproc_pool_error_from_variant (value);

  call_chunk_done (call, chunk->index, chunk->len, result, error);
  chunk_free (chunk);
}

/* Reads what the worker has sent, without blocking. */
static void
worker_read (Worker *w)
{
  for (;;)
    {
      ssize_t n;

      /* Handle every complete frame. */
      while (w->in_end - w->in_start >= sizeof (PoolFrame))
        {
          PoolFrame frame;
          gsize total;

          memcpy (&frame, w->in + w->in_start, sizeof frame);
          if (frame.size > POOL_FRAME_MAX_SIZE)
            {
              mproc_process_kill (w->process);
              w->in_start = w->in_end = 0;
              return;
            }
          total = sizeof frame + POOL_FRAME_PAD (frame.size);
          if (w->in_end - w->in_start < total)
            {
              if (w->in_size - w->in_start < total + READ_CHUNK)
                {
                  memmove (w->in, w->in + w->in_start, w->in_end - w->in_start);
                  w->in_end -= w->in_start;
                  w->in_start = 0;
                  if (w->in_size < total + READ_CHUNK)
                    {
                      w->in_size = total + READ_CHUNK;
                      w->in = g_realloc (w->in, w->in_size);
                    }
                }
              break;
            }
          w->in_start += total;
          worker_handle_frame (w, &frame, w->in + w->in_start - total + sizeof frame);
        }

      if (w->in_start == w->in_end)
        w->in_start = w->in_end = 0;
      if (w->in_size - w->in_end < READ_CHUNK)
        {
          if (w->in_start > 0)
            {
              memmove (w->in, w->in + w->in_start, w->in_end - w->in_start);
              w->in_end -= w->in_start;
              w->in_start = 0;
            }
          if (w->in_size - w->in_end < READ_CHUNK)
            {
              w->in_size = w->in_end + READ_CHUNK * 2;
              w->in = g_realloc (w->in, w->in_size);
            }
        }

      n = recv (w->fd, w->in + w->in_end, w->in_size - w->in_end, MSG_DONTWAIT);
      if (n > 0)
        {
          w->in_end += n;
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      return;   /* EAGAIN, end-of-file or error: the pidfd tells of a death */
    }
}

/* --- Workers: life and death -------------------------------------------- */

static char *
describe_exit (Worker *w)
{
  int code = mproc_process_get_exit_code (w->process);

  if (code < 0)
    return g_strdup_printf (_("Pool worker %s (pid %d) was killed by signal %d (%s)"),
                            mproc_process_get_name (w->process), (int) w->pid, -code,
                            g_strsignal (-code));
  return g_strdup_printf (_("Pool worker %s (pid %d) exited with status %d while running a task"),
                          mproc_process_get_name (w->process), (int) w->pid, code);
}

static void
pool_remove_worker (MprocPool *self,
                    Worker    *w)
{
  g_ptr_array_remove_fast (self->workers, w);
  worker_free (w);
}

/* The worker's process has exited: fail what it was running, give what it
 * had not started to the others, and replace it. */
static void
worker_died (Worker *w)
{
  MprocPool *self = w->pool;
  g_autoptr(GError) start_error = NULL;
  Chunk *running;
  gboolean expected;

  /* What it answered before dying still counts. */
  worker_read (w);
  w->dead = TRUE;
  while (mproc_process_is_alive (w->process))
    mproc_process_join (w->process, -1, NULL, NULL);

  expected = g_queue_is_empty (&w->inflight) &&
             (w->retiring || self->state != POOL_RUN) &&
             mproc_process_get_exit_code (w->process) == 0;

  running = g_queue_pop_head (&w->inflight);
  if (running != NULL)
    {
      g_autofree char *what = describe_exit (w);
      GError *error;

      if (w->timed_out)
        error = g_error_new (MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                             _("A task of pool target “%s” timed out; %s"),
                             running->call->target, what);
      else
        error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_WORKER_DIED, what);

      call_chunk_done (running->call, running->index, running->len, NULL, error);
      chunk_free (running);
    }

  /* Not started: back to the front of the queue, in order. */
  while (!g_queue_is_empty (&w->inflight))
    g_queue_push_head (&self->pending, g_queue_pop_tail (&w->inflight));

  if (!expected && running == NULL && !w->timed_out)
    self->quick_deaths++;

  pool_remove_worker (self, w);
  if (self->join_tasks != NULL)
    pool_schedule_notify (self);

  if (self->state == POOL_RUN ||
      (self->state == POOL_CLOSE && !g_queue_is_empty (&self->pending)))
    {
      /* A worker that dies before its first task (failing initializer)
       * would be replaced for ever: give up after a few in a row. */
      if (self->quick_deaths < 10)
        {
          if (!worker_start (self, &start_error))
            g_warning ("%s", start_error->message);
        }
      else if (self->workers->len == 0)
        {
          while (!g_queue_is_empty (&self->pending))
            {
              Chunk *chunk = g_queue_pop_head (&self->pending);

              call_chunk_done (chunk->call, chunk->index, chunk->len, NULL,
                               g_error_new_literal (MPROC_ERROR, MPROC_ERROR_WORKER_DIED,
                                                    _("Pool workers keep dying before they run a task")));
              chunk_free (chunk);
            }
        }
    }

  pool_dispatch (self);
  pool_check_idle (self);
}

static void
worker_events (Worker       *w,
               GIOCondition  fd_events,
               GIOCondition  pid_events)
{
  MprocPool *self = w->pool;

  if (fd_events & G_IO_IN)
    worker_read (w);
  if (fd_events & G_IO_OUT)
    worker_flush (w);
  if (pid_events & G_IO_IN)
    {
      worker_died (w);
      return;
    }
  pool_dispatch (self);
  pool_check_idle (self);
}

typedef struct
{
  GSource  source;
  Worker  *worker;
} WorkerSource;

static gboolean
worker_source_dispatch (GSource     *source,
                        GSourceFunc  callback,
                        gpointer     user_data)
{
  Worker *w = ((WorkerSource *) source)->worker;
  MprocPool *self = g_object_ref (w->pool);

  worker_events (w, g_source_query_unix_fd (source, w->fd_tag),
                 g_source_query_unix_fd (source, w->pid_tag));
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs worker_source_funcs = {
  NULL, NULL, worker_source_dispatch, NULL, NULL, NULL,
};

static void
worker_free (Worker *w)
{
  if (w->source != NULL)
    {
      g_source_destroy (w->source);
      g_source_unref (w->source);
    }
  g_queue_clear_full (&w->inflight, (GDestroyNotify) chunk_free);
  for (guint i = 0; i < w->attach->len; i++)
    {
      FdAttach *a = &g_array_index (w->attach, FdAttach, i);

      mproc_clear_fd (&a->fds[0]);
      mproc_clear_fd (&a->fds[1]);
    }
  g_array_unref (w->attach);
  g_ptr_array_unref (w->file_calls);
  mproc_clear_fd (&w->fd);
  mproc_clear_fd (&w->pidfd);
  g_clear_object (&w->process);
  g_byte_array_unref (w->out);
  g_free (w->in);
  g_free (w);
}

static gboolean
worker_start (MprocPool  *self,
              GError    **error)
{
  g_autoptr(MprocPoolChannel) channel = NULL;
  g_autoptr(MprocProcess) process = NULL;
  g_autofree char *name = NULL;
  Worker *w;
  int sv[2];
  int size = 1 << 20;
  int pidfd;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }
  setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt (sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  channel = mproc_pool_channel_new (sv[1], sv[0]);

  process = mproc_process_new_with_context (self->context, MPROC_POOL_WORKER_TARGET,
                                            g_variant_new ("(smvu)",
                                                           self->initializer != NULL ? self->initializer : "",
                                                           self->initargs,
                                                           self->maxtasksperchild));
  name = g_strdup_printf ("PoolWorker-%u", ++self->n_started);
  mproc_process_set_name (process, name);
  mproc_process_set_daemon (process, TRUE);
  mproc_process_add_object (process, MPROC_SHAREABLE (channel));

  if (!mproc_process_start (process, error))
    {
      close (sv[0]);
      return FALSE;
    }
  mproc_pool_channel_close_fd (channel);

  pidfd = fcntl (mproc_process_get_pidfd (process), F_DUPFD_CLOEXEC, 3);
  if (pidfd < 0)
    {
      int errsv = errno;
      mproc_process_kill (process);
      mproc_process_join (process, -1, NULL, NULL);
      close (sv[0]);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start a pool worker: %s"), g_strerror (errsv));
      return FALSE;
    }

  w = g_new0 (Worker, 1);
  w->pool = self;
  w->process = g_steal_pointer (&process);
  w->pid = mproc_process_get_pid (w->process);
  w->fd = sv[0];
  w->pidfd = pidfd;
  w->out = g_byte_array_new ();
  w->attach = g_array_new (FALSE, FALSE, sizeof (FdAttach));
  w->file_calls = g_ptr_array_new_with_free_func ((GDestroyNotify) call_unref);
  w->avg_exec_usec = DEFAULT_WINDOW_USEC / 2;
  g_queue_init (&w->inflight);

  w->source = g_source_new (&worker_source_funcs, sizeof (WorkerSource));
  ((WorkerSource *) w->source)->worker = w;
  g_source_set_static_name (w->source, "MprocPool worker");
  w->fd_tag = g_source_add_unix_fd (w->source, w->fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
  w->pid_tag = g_source_add_unix_fd (w->source, w->pidfd, G_IO_IN);
  g_source_attach (w->source, self->main_context);

  g_ptr_array_add (self->workers, w);
  return TRUE;
}

/* --- Dispatching -------------------------------------------------------- */

/* Workers running a task, and tasks (chunks) no worker has started. */
static void
pool_count_load (MprocPool *self,
                 guint     *n_busy,
                 guint     *n_queued)
{
  guint busy = 0, queued = self->pending.length;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w->inflight.length > 0)
        {
          busy++;
          queued += w->inflight.length - 1;
        }
    }
  *n_busy = busy;
  *n_queued = queued;
}

/* The load changed: notify from the pool's main context, never from here
 * (a blocking call may be in the middle of its work). */
static void
pool_check_load (MprocPool *self)
{
  guint busy, queued;

  pool_count_load (self, &busy, &queued);
  if ((busy != self->n_busy || queued != self->n_queued) && self->notify_source != NULL)
    pool_schedule_notify (self);
}

static void
pool_dispatch (MprocPool *self)
{
  while (!g_queue_is_empty (&self->pending))
    {
      Chunk *chunk = g_queue_peek_head (&self->pending);
      Worker *best = NULL;

      if (chunk->call->finished)
        {
          chunk_free (g_queue_pop_head (&self->pending));
          continue;
        }

      for (guint i = 0; i < self->workers->len; i++)
        {
          Worker *w = g_ptr_array_index (self->workers, i);

          if (w->dead || w->retiring || w->inflight.length >= worker_window (w))
            continue;
          if (best == NULL || w->inflight.length < best->inflight.length)
            best = w;
        }
      if (best == NULL)
        break;

      worker_send_chunk (best, g_queue_pop_head (&self->pending));
    }

  pool_release_files (self);
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (w->out->len > w->out_start)
        worker_flush (w);
    }
  pool_check_load (self);
}

/* After close(): stops the workers once there is no work left. */
static void
pool_check_idle (MprocPool *self)
{
  if (self->state != POOL_CLOSE || !g_queue_is_empty (&self->pending))
    return;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (!g_queue_is_empty (&w->inflight))
        return;
    }

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      if (!w->retiring)
        {
          w->retiring = TRUE;
          mproc_pool_append_frame (w->out, POOL_FRAME_STOP, 0, 0, NULL, NULL, NULL, NULL, 0);
          worker_flush (w);
        }
    }
}

/* Kills the workers whose running task is past its call's deadline; returns
 * the next deadline (G_MAXINT64 if none). */
static gint64
pool_check_timeouts (MprocPool *self,
                     gint64     now)
{
  gint64 next = G_MAXINT64;

  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);
      Chunk *chunk = g_queue_peek_head (&w->inflight);
      gint64 deadline;

      if (chunk == NULL || chunk->call->timeout_usec < 0 || w->timed_out)
        continue;
      deadline = chunk->started + chunk->call->timeout_usec;
      if (deadline <= now)
        {
          w->timed_out = TRUE;
          mproc_process_kill (w->process);
        }
      else
        next = MIN (next, deadline);
    }

  return next;
}

static gboolean
pool_timeout_cb (gpointer user_data)
{
  MprocPool *self = user_data;
  gint64 next = pool_check_timeouts (self, g_get_monotonic_time ());

  g_source_set_ready_time (self->timeout_source, next == G_MAXINT64 ? -1 : next);
  return G_SOURCE_CONTINUE;
}

static void
pool_arm_timeouts (MprocPool *self)
{
  gint64 next = pool_check_timeouts (self, g_get_monotonic_time ());

  if (self->timeout_source == NULL)
    {
      if (next == G_MAXINT64)
        return;
      /* not a timeout source: that one would re-arm itself after
       * pool_timeout_cb() set the next deadline */
      self->timeout_source = g_source_new (&notify_source_funcs, sizeof (GSource));
      g_source_set_static_name (self->timeout_source, "MprocPool timeouts");
      g_source_set_callback (self->timeout_source, pool_timeout_cb, self, NULL);
      g_source_attach (self->timeout_source, self->main_context);
    }
  g_source_set_ready_time (self->timeout_source, next == G_MAXINT64 ? -1 : next);
}

/* --- Reporting (always from the pool's main context) ------------------- */

static void iter_deliver (MprocPoolIterator *self);
static void join_check_cb (MprocPool *self);

static void
call_release (Call *call)
{
  if (call->cancel_source != NULL)
    {
      g_source_destroy (call->cancel_source);
      g_clear_pointer (&call->cancel_source, g_source_unref);
    }
}

static void
pool_notify_load (MprocPool *self)
{
  guint busy, queued;

  pool_count_load (self, &busy, &queued);
  g_object_freeze_notify (G_OBJECT (self));
  if (busy != self->n_busy)
    {
      self->n_busy = busy;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
    }
  if (queued != self->n_queued)
    {
      self->n_queued = queued;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_QUEUED]);
    }
  g_object_thaw_notify (G_OBJECT (self));
}

static void
fd_result_free (gpointer data)
{
  FdResult *r = data;

  mproc_clear_fd (&r->fd);
  g_free (r->type);
  g_clear_pointer (&r->value, g_variant_unref);
  g_free (r);
}

/* The result of a finished fd call: its memfd, sealed, when every chunk
 * was written in place, else one value. */
static void
call_return_fd_result (Call  *call,
                       GTask *task)
{
  FdResult *r = g_new0 (FdResult, 1);
  gboolean in_place = TRUE;

  r->fd = -1;
  for (guint c = 0; c < call->n_chunks && call->n_items > 0; c++)
    if (!(call->chunk_done[c] & CHUNK_PACKED))
      in_place = FALSE;

  if (!in_place && call->into)
    {
      fd_result_free (r);
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("The results of pool target “%s” are not a packed array of "
                                 "the size of the items"), call->target);
      return;
    }
  if (!in_place)
    {
      r->value = call_build_result (call);
      g_task_return_pointer (task, r, fd_result_free);
      return;
    }

  r->type = g_strdup (call->rtype != NULL ? call->rtype : g_variant_get_type_string (call->items));
  if (call->into)
    {
      g_task_return_pointer (task, r, fd_result_free);
      return;
    }

  /* No one maps it and the workers wrote their last: sealing works, and
   * the workers' copies of the fd can write no more. */
  if (fcntl (call->out_fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
    {
      int errsv = errno;
      fd_result_free (r);
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_FAILED,
                               _("Cannot seal the results: %s"), g_strerror (errsv));
      return;
    }
  r->fd = g_steal_fd (&call->out_fd);
  g_task_return_pointer (task, r, fd_result_free);
}

static void
pool_notify (MprocPool *self)
{
  while (!g_queue_is_empty (&self->dirty))
    {
      g_autoptr(Call) call = g_queue_pop_head (&self->dirty);

      call->dirty = FALSE;

      if (call->progress != NULL && call->reported_done != call->n_items_done && call->error == NULL)
        {
          call->reported_done = call->n_items_done;
          call->progress (call->n_items_done, call->n_items, call->progress_data);
        }

      if (call->iter != NULL)
        iter_deliver (call->iter);

      if (call->finished && !call->notified && call->task != NULL)
        {
          g_autoptr(GTask) task = g_steal_pointer (&call->task);

          call->notified = TRUE;
          call_release (call);
          if (call->error != NULL)
            g_task_return_error (task, g_error_copy (call->error));
          else if (call->out_fd >= 0)
            call_return_fd_result (call, task);
          else
            g_task_return_pointer (task, call_build_result (call), (GDestroyNotify) g_variant_unref);
        }
    }

  pool_release_files (self);
  join_check_cb (self);
  pool_notify_load (self);
}

static gboolean
notify_dispatch (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  g_source_set_ready_time (source, -1);
  return callback (user_data);
}

static GSourceFuncs notify_source_funcs = {
  NULL, NULL, notify_dispatch, NULL, NULL, NULL,
};

static gboolean
notify_cb (gpointer user_data)
{
  MprocPool *self = g_object_ref (user_data);

  pool_arm_timeouts (self);
  pool_notify (self);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static void
pool_schedule_notify (MprocPool *self)
{
  g_source_set_ready_time (self->notify_source, 0);
}

/* --- Blocking waits: poll the workers directly ------------------------- */

typedef gboolean (*PoolDone) (gpointer data);

static gboolean
pool_wait (MprocPool     *self,
           PoolDone       done,
           gpointer       data,
           gint64         timeout_usec,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autofree struct pollfd *fds = NULL;
  g_autoptr(GPtrArray) polled = g_ptr_array_new ();
  gint64 deadline = timeout_usec >= 0 ? g_get_monotonic_time () + timeout_usec : G_MAXINT64;
  gboolean can_spin = g_get_num_processors () > 1;
  GPollFD cancel_fd = { -1, 0, 0 };
  gboolean have_cancel_fd = FALSE;
  gboolean ret = FALSE;
  gint64 spin_until = 0;

  g_object_ref (self);
  if (cancellable != NULL)
    have_cancel_fd = g_cancellable_make_pollfd (cancellable, &cancel_fd);

  for (;;)
    {
      gint64 now, next;
      guint n = 0;
      int r, poll_timeout;

      if (done (data))
        {
          ret = TRUE;
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                               _("Timed out waiting for the pool"));
          break;
        }

      next = MIN (pool_check_timeouts (self, now), deadline);

      /* Spin a moment: a result that comes meanwhile costs no wake-up. */
      if (can_spin)
        {
          if (spin_until == 0)
            spin_until = now + SYNC_SPIN_USEC;
          if (now < spin_until)
            {
              for (guint i = 0; i < self->workers->len; i++)
                {
                  Worker *w = g_ptr_array_index (self->workers, i);

                  worker_read (w);
                  if (w->out->len > w->out_start)
                    worker_flush (w);
                }
              pool_dispatch (self);
              pool_check_idle (self);
              continue;
            }
        }

      fds = g_renew (struct pollfd, fds, self->workers->len * 2 + 1);
      g_ptr_array_set_size (polled, 0);
      for (guint i = 0; i < self->workers->len; i++)
        {
          Worker *w = g_ptr_array_index (self->workers, i);

          fds[n].fd = w->fd;
          fds[n].events = POLLIN | (w->out->len > w->out_start ? POLLOUT : 0);
          fds[n + 1].fd = w->pidfd;
          fds[n + 1].events = POLLIN;
          fds[n].revents = fds[n + 1].revents = 0;
          n += 2;
          g_ptr_array_add (polled, w);
        }
      if (have_cancel_fd)
        {
          fds[n].fd = cancel_fd.fd;
          fds[n].events = POLLIN;
          fds[n].revents = 0;
          n++;
        }

      if (next == G_MAXINT64)
        poll_timeout = -1;
      else
        poll_timeout = (int) MIN ((next - now + 999) / 1000, G_MAXINT);

      r = poll (fds, n, poll_timeout);
      if (r < 0 && errno != EINTR)
        {
          int errsv = errno;
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Cannot wait for the pool: %s"), g_strerror (errsv));
          break;
        }
      if (r <= 0)
        continue;

      /* Workers may be replaced while we go: handle deaths last. */
      for (guint i = 0; i < polled->len; i++)
        {
          Worker *w = g_ptr_array_index (polled, i);

          if (fds[2 * i].revents & POLLIN)
            worker_read (w);
          if (fds[2 * i].revents & POLLOUT)
            worker_flush (w);
        }
      for (guint i = 0; i < polled->len; i++)
        {
          Worker *w = g_ptr_array_index (polled, i);

          if (fds[2 * i + 1].revents & POLLIN)
            worker_died (w);
        }
      pool_dispatch (self);
      pool_check_idle (self);
      spin_until = 0;
    }

  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  pool_arm_timeouts (self);
  g_object_unref (self);
  return ret;
}

static gboolean
call_is_finished (gpointer data)
{
  return ((Call *) data)->finished;
}

/* Runs @call to its end without iterating any main context. */
static GVariant *
pool_run_sync (MprocPool     *self,
               Call          *call,
               GCancellable  *cancellable,
               GError       **error)
{
  pool_submit (self, call);
  if (!pool_wait (self, call_is_finished, call, -1, cancellable, error))
    {
      call->finished = TRUE;
      call_drop_pending (call);
      return NULL;
    }
  if (call->error != NULL)
    {
      g_propagate_error (error, g_error_copy (call->error));
      return NULL;
    }
  return call_build_result (call);
}

/* --- GObject ------------------------------------------------------------ */

static void
pool_kill_all (MprocPool *self)
{
  for (guint i = 0; i < self->workers->len; i++)
    mproc_process_kill (((Worker *) g_ptr_array_index (self->workers, i))->process);
}

static void
mproc_pool_dispose (GObject *object)
{
  MprocPool *self = MPROC_POOL (object);

  /* Nothing may outlive the pool: kill and reap the workers. */
  if (self->workers != NULL)
    {
      if (self->workers->len > 0 && self->state != POOL_TERMINATE)
        mproc_pool_terminate (self);
      while (self->workers->len > 0)
        {
          Worker *w = g_ptr_array_index (self->workers, self->workers->len - 1);

          mproc_process_kill (w->process);
          mproc_process_join (w->process, -1, NULL, NULL);
          pool_remove_worker (self, w);
        }
    }
  g_queue_clear_full (&self->pending, (GDestroyNotify) chunk_free);
  g_queue_clear_full (&self->dirty, (GDestroyNotify) call_unref);

  if (self->notify_source != NULL)
    {
      g_source_destroy (self->notify_source);
      g_clear_pointer (&self->notify_source, g_source_unref);
    }
  if (self->timeout_source != NULL)
    {
      g_source_destroy (self->timeout_source);
      g_clear_pointer (&self->timeout_source, g_source_unref);
    }

  G_OBJECT_CLASS (mproc_pool_parent_class)->dispose (object);
}

static void
mproc_pool_finalize (GObject *object)
{
  MprocPool *self = MPROC_POOL (object);

  g_clear_pointer (&self->workers, g_ptr_array_unref);
  g_clear_object (&self->context);
  g_free (self->initializer);
  g_clear_pointer (&self->initargs, g_variant_unref);
  g_clear_pointer (&self->main_context, g_main_context_unref);

  G_OBJECT_CLASS (mproc_pool_parent_class)->finalize (object);
}

static void
mproc_pool_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MprocPool *self = MPROC_POOL (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      g_value_set_object (value, self->context);
      break;
    case PROP_PROCESSES:
      g_value_set_uint (value, self->processes);
      break;
    case PROP_INITIALIZER:
      g_value_set_string (value, self->initializer);
      break;
    case PROP_INITARGS:
      g_value_set_variant (value, self->initargs);
      break;
    case PROP_MAXTASKSPERCHILD:
      g_value_set_uint (value, self->maxtasksperchild);
      break;
    case PROP_BUSY:
      g_value_set_uint (value, self->n_busy);
      break;
    case PROP_QUEUED:
      g_value_set_uint (value, self->n_queued);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_pool_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MprocPool *self = MPROC_POOL (object);

  switch (prop_id)
    {
    case PROP_CONTEXT:
      self->context = g_value_dup_object (value);
      break;
    case PROP_PROCESSES:
      self->processes = g_value_get_uint (value);
      break;
    case PROP_INITIALIZER:
      self->initializer = g_value_dup_string (value);
      if (self->initializer != NULL && self->initializer[0] == '\0')
        g_clear_pointer (&self->initializer, g_free);
      break;
    case PROP_INITARGS:
      self->initargs = g_value_dup_variant (value);
      break;
    case PROP_MAXTASKSPERCHILD:
      self->maxtasksperchild = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_pool_class_init (MprocPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mproc_pool_dispose;
  object_class->finalize = mproc_pool_finalize;
  object_class->get_property = mproc_pool_get_property;
  object_class->set_property = mproc_pool_set_property;

  /**
   * MprocPool:context:
   *
   * How the workers are started; %NULL for the default context.
   *
   * Since: 1.0
   */
  properties[PROP_CONTEXT] =
    g_param_spec_object ("context", NULL, NULL, MPROC_TYPE_CONTEXT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:processes:
   *
   * The number of workers; 0 at construction means mproc_cpu_count().
   *
   * Since: 1.0
   */
  properties[PROP_PROCESSES] =
    g_param_spec_uint ("processes", NULL, NULL, 0, 4096, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:initializer:
   *
   * The name of a registered pool target (mproc_register_task()) that each
   * worker runs once, on [property@Mproc.Pool:initargs], before its first
   * task; its result is ignored.  A worker whose initializer fails exits.
   *
   * Since: 1.0
   */
  properties[PROP_INITIALIZER] =
    g_param_spec_string ("initializer", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:initargs:
   *
   * The argument of the initializer; %NULL means an empty tuple.
   *
   * Since: 1.0
   */
  properties[PROP_INITARGS] =
    g_param_spec_variant ("initargs", NULL, NULL, G_VARIANT_TYPE_ANY, NULL,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:maxtasksperchild:
   *
   * How many tasks a worker runs before it is replaced by a fresh one (a
   * chunk of a map counts as one task, as in Python); 0 for no limit.
   *
   * Since: 1.0
   */
  properties[PROP_MAXTASKSPERCHILD] =
    g_param_spec_uint ("maxtasksperchild", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:busy:
   *
   * How many workers are running a task.  Notified in the pool's main
   * context when it changes (after the change: a blocking call's work is
   * notified when the main loop runs again).
   *
   * Since: 1.0
   */
  properties[PROP_BUSY] =
    g_param_spec_uint ("busy", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  /**
   * MprocPool:queued:
   *
   * How many tasks wait for a worker (a chunk of a map counts as one task,
   * as in Python).  Notified as [property@Mproc.Pool:busy] is.
   *
   * Since: 1.0
   */
  properties[PROP_QUEUED] =
    g_param_spec_uint ("queued", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_pool_init (MprocPool *self)
{
  self->workers = g_ptr_array_new ();
  g_queue_init (&self->pending);
  g_queue_init (&self->dirty);
  self->main_context = g_main_context_ref_thread_default ();
}

static gboolean
mproc_pool_initable_init_impl (GInitable     *initable,
                               GCancellable  *cancellable,
                               GError       **error)
{
  MprocPool *self = MPROC_POOL (initable);

  g_type_ensure (MPROC_TYPE_POOL_CHANNEL);

  if (self->context == NULL)
    self->context = g_object_ref (mproc_context_get_default ());
  if (self->processes == 0)
    self->processes = mproc_cpu_count ();

  self->notify_source = g_source_new (&notify_source_funcs, sizeof (GSource));
  g_source_set_static_name (self->notify_source, "MprocPool notify");
  g_source_set_callback (self->notify_source, notify_cb, self, NULL);
  g_source_attach (self->notify_source, self->main_context);

  for (guint i = 0; i < self->processes; i++)
    if (!worker_start (self, error))
      {
        g_prefix_error (error, _("Cannot start pool worker %u: "), i + 1);
        return FALSE;
      }

  return TRUE;
}

static void
mproc_pool_initable_init (GInitableIface *iface)
{
  iface->init = mproc_pool_initable_init_impl;
}

/**
 * mproc_pool_new:
 * @processes: the number of workers, or 0 for mproc_cpu_count()
 * @error: return location for a #GError
 *
 * Starts a pool of @processes workers with the default context, no
 * initializer and no task limit.  See mproc_pool_new_full().
 *
 * Returns: (transfer full): a new pool, or %NULL with @error set
 *
 * Since: 1.0
 */
MprocPool *
mproc_pool_new (guint    processes,
                GError **error)
{
  return mproc_pool_new_full (NULL, processes, NULL, NULL, 0, error);
}

/**
 * mproc_pool_new_full:
 * @context: (nullable): how to start the workers, or %NULL for the default
 * @processes: the number of workers, or 0 for mproc_cpu_count()
 * @initializer: (nullable): a registered pool target each worker runs once
 * @initargs: (nullable): the argument of @initializer (a floating
 *   reference is sunk); %NULL for an empty tuple
 * @maxtasksperchild: replace a worker after this many tasks; 0 for never
 * @error: return location for a #GError
 *
 * Starts a pool.  The workers are named `PoolWorker-1`, `PoolWorker-2`, … in
 * the order the pool starts them (replacements included).  Blocks while
 * the workers are started (a fraction of a millisecond each with fork or
 * forkserver), not until they are ready: tasks wait for them.
 *
 * Returns: (transfer full): a new pool, or %NULL with @error set
 *
 * Since: 1.0
 */
MprocPool *
mproc_pool_new_full (MprocContext *context,
                     guint         processes,
                     const char   *initializer,
                     GVariant     *initargs,
                     guint         maxtasksperchild,
                     GError      **error)
{
  g_return_val_if_fail (context == NULL || MPROC_IS_CONTEXT (context), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_initable_new (MPROC_TYPE_POOL, NULL, error,
                         "context", context,
                         "processes", processes,
                         "initializer", initializer,
                         "initargs", initargs,
                         "maxtasksperchild", maxtasksperchild,
                         NULL);
}

/**
 * mproc_pool_get_processes:
 * @self: a pool
 *
 * Gets the number of workers the pool keeps running.
 *
 * Returns: the number of workers the pool keeps
 *
 * Since: 1.0
 */
guint
mproc_pool_get_processes (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  return self->processes;
}

/**
 * mproc_pool_get_maxtasksperchild:
 * @self: a pool
 *
 * Gets the number of tasks a worker runs before it is replaced by
 * a new one (0: never replaced).
 *
 * Returns: the number of tasks after which a worker is replaced, or 0
 *
 * Since: 1.0
 */
guint
mproc_pool_get_maxtasksperchild (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  return self->maxtasksperchild;
}

/**
 * mproc_pool_get_context:
 * @self: a pool
 *
 * Gets the context whose start method starts the workers.
 *
 * Returns: (transfer none): the context that starts the workers
 *
 * Since: 1.0
 */
MprocContext *
mproc_pool_get_context (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  return self->context;
}

/**
 * mproc_pool_get_initializer:
 * @self: a pool
 *
 * Gets the name of the registered target each worker runs once when
 * it starts.
 *
 * Returns: (nullable): the name of the initializer, or %NULL
 *
 * Since: 1.0
 */
const char *
mproc_pool_get_initializer (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  return self->initializer;
}

/**
 * mproc_pool_get_n_workers:
 * @self: a pool
 *
 * Returns the number of worker processes the pool has now: after a worker
 * dies and before its replacement starts, or while workers retire after
 * mproc_pool_close(), fewer than [property@Mproc.Pool:processes].
 *
 * Returns: the number of live workers
 *
 * Since: 1.0
 */
guint
mproc_pool_get_n_workers (MprocPool *self)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), 0);
  return self->workers->len;
}

/**
 * mproc_pool_dup_worker_pids:
 * @self: a pool
 * @n_pids: (out): the number of pids returned
 *
 * Returns the process ids of the current workers.
 *
 * Returns: (transfer full) (array length=n_pids): the pids
 *
 * Since: 1.0
 */
int *
mproc_pool_dup_worker_pids (MprocPool *self,
                            guint     *n_pids)
{
  int *pids;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (n_pids != NULL, NULL);

  pids = g_new0 (int, self->workers->len + 1);
  for (guint i = 0; i < self->workers->len; i++)
    pids[i] = ((Worker *) g_ptr_array_index (self->workers, i))->pid;
  *n_pids = self->workers->len;
  return pids;
}

/* --- apply ---------------------------------------------------------------- */

/**
 * mproc_pool_apply:
 * @self: a pool
 * @target: the name of a registered pool target
 * @arg: the argument (a floating reference is sunk)
 * @timeout_usec: how long the task may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @target on @arg in a worker and returns its result, as Python's
 * `apply()`.  Blocks the calling thread (without iterating any main
 * context) until the result is back.
 *
 * A task that runs longer than @timeout_usec fails with
 * %MPROC_ERROR_TIMED_OUT and its worker is replaced; a worker that dies
 * makes it fail with %MPROC_ERROR_WORKER_DIED; an error of the target is
 * returned as it is; %MPROC_ERROR_CLOSED if the pool is closed.
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_apply (MprocPool     *self,
                  const char    *target,
                  GVariant      *arg,
                  gint64         timeout_usec,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(Call) call = NULL;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (arg != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pool_check_running (self, error))
    {
      g_variant_unref (g_variant_ref_sink (arg));
      return NULL;
    }
  call = call_new (self, CALL_APPLY, target, arg, 1, timeout_usec, NULL, FALSE);
  return pool_run_sync (self, call, cancellable, error);
}

static void
pool_start_async (MprocPool     *self,
                  Call          *call,
                  gpointer       source_tag,
                  GCancellable  *cancellable,
                  GAsyncReadyCallback callback,
                  gpointer       user_data)
{
  GError *error = NULL;

  call->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (call->task, source_tag);
  g_task_set_check_cancellable (call->task, FALSE);

  if (!pool_check_running (self, &error))
    {
      call_fail (call, error);
      return;
    }
  pool_submit (self, call);
}

/**
 * mproc_pool_apply_async:
 * @self: a pool
 * @target: the name of a registered pool target
 * @arg: the argument (a floating reference is sunk)
 * @timeout_usec: how long the task may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the result
 * @user_data: data for @callback
 *
 * Runs @target on @arg in a worker without blocking, as Python's
 * `apply_async()`.  @callback runs in the thread-default main context of
 * the caller; call mproc_pool_apply_finish() from it.  Cancelling before a
 * worker takes the task removes it.
 *
 * Since: 1.0
 */
void
mproc_pool_apply_async (MprocPool           *self,
                        const char          *target,
                        GVariant            *arg,
                        gint64               timeout_usec,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(Call) call = NULL;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (arg != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = call_new (self, CALL_APPLY, target, arg, 1, timeout_usec, cancellable, FALSE);
  pool_start_async (self, call, mproc_pool_apply_async, cancellable, callback, user_data);
}

/**
 * mproc_pool_apply_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_pool_apply_async().
 *
 * Returns: (transfer full): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_apply_finish (MprocPool     *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_apply_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- map, starmap --------------------------------------------------------- */

static gboolean
check_items (GVariant  *items,
             gboolean   star)
{
  if (!g_variant_is_of_type (items, G_VARIANT_TYPE_ARRAY))
    return FALSE;
  if (star && !g_variant_type_is_tuple (g_variant_type_element (g_variant_get_type (items))))
    return FALSE;
  return TRUE;
}

/**
 * mproc_pool_map:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of arguments (type `aT`; a floating reference is sunk)
 * @chunksize: items per task, or 0 for Python's default (about four
 *   chunks per worker)
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Runs @target on every item of @items in the workers and returns the
 * results in input order, as Python's `map()`.  Blocks the calling thread,
 * without iterating any main context.
 *
 * The result is an array: `aR` when every result has the type `R`, `av`
 * otherwise; for an empty @items, an empty array of the type of @items.
 * The first error of a chunk fails the whole call; the chunks not started
 * yet are dropped.
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_map (MprocPool     *self,
                const char    *target,
                GVariant      *items,
                guint          chunksize,
                gint64         timeout_usec,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(Call) call = NULL;

  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  g_return_val_if_fail (items != NULL && check_items (items, FALSE), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!pool_check_running (self, error))
    {
      g_variant_unref (g_variant_ref_sink (items));
      return NULL;
    }
  call = call_new (self, CALL_MAP, target, items, chunksize, timeout_usec, NULL, TRUE);
  return pool_run_sync (self, call, cancellable, error);
}

/**
 * mproc_pool_map_async:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of arguments (type `aT`; a floating reference is sunk)
 * @chunksize: items per task, or 0 for Python's default
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @progress_func: (nullable) (scope notified) (closure progress_data) (destroy progress_notify):
 *   called in the pool's main context as chunks complete
 * @progress_data: data for @progress_func
 * @progress_notify: (nullable): frees @progress_data
 * @callback: (scope async) (closure user_data): called with the results
 * @user_data: data for @callback
 *
 * The asynchronous form of mproc_pool_map(): returns at once, and
 * @callback runs in the thread-default main context of the caller; call
 * mproc_pool_map_finish() from it.  @progress_func, if given, follows the
 * number of items done (to drive a progress bar).  Cancelling removes the
 * chunks no worker has started and reports %G_IO_ERROR_CANCELLED.
 *
 * Since: 1.0
 */
void
mproc_pool_map_async (MprocPool             *self,
                      const char            *target,
                      GVariant              *items,
                      guint                  chunksize,
                      gint64                 timeout_usec,
                      GCancellable          *cancellable,
                      MprocPoolProgressFunc  progress_func,
                      gpointer               progress_data,
                      GDestroyNotify         progress_notify,
                      GAsyncReadyCallback    callback,
                      gpointer               user_data)
{
  g_autoptr(Call) call = NULL;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (items != NULL && check_items (items, FALSE));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = call_new (self, CALL_MAP, target, items, chunksize, timeout_usec, cancellable, TRUE);
  call->progress = progress_func;
  call->progress_data = progress_data;
  call->progress_notify = progress_notify;
  pool_start_async (self, call, mproc_pool_map_async, cancellable, callback, user_data);
}

/**
 * mproc_pool_map_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_pool_map_async().
 *
 * Returns: (transfer full): the results in input order, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_map_finish (MprocPool     *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_map_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_pool_starmap:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of argument tuples (type `a(…)`; a floating reference
 *   is sunk)
 * @chunksize: items per task, or 0 for Python's default
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * As mproc_pool_map() over tuples, Python's `starmap()`: a pool target
 * takes one GVariant, so each tuple is handed to @target whole, and the
 * target reads its arguments from it.
 *
 * Returns: (transfer full): the results, or %NULL with @error set
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_starmap (MprocPool     *self,
                    const char    *target,
                    GVariant      *items,
                    guint          chunksize,
                    gint64         timeout_usec,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (items != NULL && check_items (items, TRUE), NULL);

  return mproc_pool_map (self, target, items, chunksize, timeout_usec, cancellable, error);
}

/**
 * mproc_pool_starmap_async:
 * @self: a pool
 * @target: the name of a registered pool target
 * @items: an array of argument tuples (a floating reference is sunk)
 * @chunksize: items per task, or 0 for Python's default
 * @timeout_usec: how long one chunk may run, in microseconds, or -1
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the results
 * @user_data: data for @callback
 *
 * The asynchronous form of mproc_pool_starmap().
 *
 * Since: 1.0
 */
void
mproc_pool_starmap_async (MprocPool           *self,
                          const char          *target,
                          GVariant            *items,
                          guint                chunksize,
                          gint64               timeout_usec,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(Call) call = NULL;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (items != NULL && check_items (items, TRUE));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = call_new (self, CALL_MAP, target, items, chunksize, timeout_usec, cancellable, TRUE);
  pool_start_async (self, call, mproc_pool_starmap_async, cancellable, callback, user_data);
}

/**
 * mproc_pool_starmap_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_pool_starmap_async().
 *
 * Returns: (transfer full): the results in input order, or %NULL with
 *   @error set
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_starmap_finish (MprocPool     *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_starmap_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- close, terminate, join ---------------------------------------------- */

/**
 * mproc_pool_close:
 * @self: a pool
 *
 * Accepts no more work, as Python's `close()`: the calls already made run
 * to their end, then the workers exit.  Call mproc_pool_join() to wait for
 * them.
 *
 * Since: 1.0
 */
void
mproc_pool_close (MprocPool *self)
{
  g_return_if_fail (MPROC_IS_POOL (self));

  if (self->state != POOL_RUN)
    return;
  self->state = POOL_CLOSE;
  pool_check_idle (self);
}

/**
 * mproc_pool_terminate:
 * @self: a pool
 *
 * Stops at once, as Python's `terminate()`: kills the workers, and the
 * calls not finished fail with %MPROC_ERROR_CLOSED (where Python's would
 * never complete).  Call mproc_pool_join() to reap the workers.
 *
 * Since: 1.0
 */
void
mproc_pool_terminate (MprocPool *self)
{
  g_return_if_fail (MPROC_IS_POOL (self));

  if (self->state == POOL_TERMINATE)
    return;
  self->state = POOL_TERMINATE;

  pool_kill_all (self);
  while (!g_queue_is_empty (&self->pending))
    {
      Chunk *chunk = g_queue_pop_head (&self->pending);

      call_chunk_done (chunk->call, chunk->index, chunk->len, NULL,
                       g_error_new_literal (MPROC_ERROR, MPROC_ERROR_CLOSED,
                                            _("The pool was terminated")));
      chunk_free (chunk);
    }
  for (guint i = 0; i < self->workers->len; i++)
    {
      Worker *w = g_ptr_array_index (self->workers, i);

      w->retiring = TRUE;
      while (!g_queue_is_empty (&w->inflight))
        {
          Chunk *chunk = g_queue_pop_head (&w->inflight);

          call_chunk_done (chunk->call, chunk->index, chunk->len, NULL,
                           g_error_new_literal (MPROC_ERROR, MPROC_ERROR_CLOSED,
                                                _("The pool was terminated")));
          chunk_free (chunk);
        }
    }
}

static gboolean
pool_has_no_workers (gpointer data)
{
  return ((MprocPool *) data)->workers->len == 0;
}

/**
 * mproc_pool_join:
 * @self: a pool, closed or terminated
 * @timeout_usec: how long to wait in microseconds, or -1 to wait forever
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Waits until every worker has exited, as Python's `join()`.  Blocks the
 * calling thread (without iterating any main context).  Call
 * mproc_pool_close() or mproc_pool_terminate() first.
 *
 * Returns: %TRUE once the workers are gone, %FALSE with @error set on
 *   timeout (%MPROC_ERROR_TIMED_OUT) or cancellation
 *
 * Since: 1.0
 */
gboolean
mproc_pool_join (MprocPool     *self,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), FALSE);
  g_return_val_if_fail (self->state != POOL_RUN, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return pool_wait (self, pool_has_no_workers, self, timeout_usec, cancellable, error);
}

static void
join_check_cb (MprocPool *self)
{
  GList *tasks;

  if (self->workers->len > 0)
    return;
  tasks = g_steal_pointer (&self->join_tasks);
  for (GList *l = tasks; l != NULL; l = l->next)
    {
      /* drops its cancellation source, which holds the task */
      g_task_set_task_data (l->data, NULL, NULL);
      g_task_return_boolean (l->data, TRUE);
      g_object_unref (l->data);
    }
  g_list_free (tasks);
}

static void
join_cancel_source_free (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
}

static gboolean
join_cancelled_cb (GCancellable *cancellable,
                   gpointer      data)
{
  GTask *task = data;
  MprocPool *self = g_task_get_source_object (task);
  GList *link = g_list_find (self->join_tasks, task);

  if (link != NULL)
    {
      self->join_tasks = g_list_delete_link (self->join_tasks, link);
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

/**
 * mproc_pool_join_async:
 * @self: a pool, closed or terminated
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called once the workers are gone
 * @user_data: data for @callback
 *
 * Waits for the workers to exit without blocking; @callback runs in the
 * thread-default main context of the caller.
 *
 * Since: 1.0
 */
void
mproc_pool_join_async (MprocPool           *self,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (self->state != POOL_RUN);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_pool_join_async);
  if (cancellable != NULL)
    {
      GSource *source = g_cancellable_source_new (cancellable);

      g_task_attach_source (task, source, (GSourceFunc) (void (*) (void)) join_cancelled_cb);
      g_task_set_task_data (task, source, join_cancel_source_free);
    }
  self->join_tasks = g_list_append (self->join_tasks, task);
  pool_schedule_notify (self);
}

/**
 * mproc_pool_join_finish:
 * @self: a pool
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_pool_join_async().
 *
 * Returns: %TRUE once the workers are gone, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
mproc_pool_join_finish (MprocPool     *self,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (MPROC_IS_POOL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
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
  g_autoptr(GVariant) values = call->errors[c] == NULL ? call_chunk_value (call, c) : NULL;

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
static void
iter_push (MprocPoolIterator *self,
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

static void
iter_deliver (MprocPoolIterator *self)
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
          call_drop_pending (self->call);
        }
      self->call->iter = NULL;
      call_release (self->call);
      g_clear_pointer (&self->call, call_unref);
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
   * Since: 1.0
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
   * Since: 1.0
   */
  iter_signals[ITER_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);
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
  Call *call = call_new (self, CALL_IMAP, target, items, chunksize, timeout_usec, cancellable, FALSE);

  iter->pool = g_object_ref (self);
  iter->call = call;
  iter->ordered = ordered;
  call->iter = iter;

  if (self->state != POOL_RUN)
    {
      GError *error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_CLOSED, _("The pool is not running"));

      for (guint c = 0; c < call->n_chunks; c++)
        call_chunk_done (call, c, MIN (call->chunksize, call->n_items - c * call->chunksize),
                         NULL, g_error_copy (error));
      g_error_free (error);
      call->finished = TRUE;
      call_mark_dirty (call);
    }
  else
    pool_submit (self, call);

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
 * Since: 1.0
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
  g_return_val_if_fail (items != NULL && check_items (items, FALSE), NULL);
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
 * As mproc_pool_imap(), but hands out each result as soon as it is done,
 * as Python's `imap_unordered()`; the index that comes with each result
 * tells which item it belongs to.
 *
 * Returns: (transfer full): an iterator over the results
 *
 * Since: 1.0
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
  g_return_val_if_fail (items != NULL && check_items (items, FALSE), NULL);
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
 * Since: 1.0
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

  if (g_queue_is_empty (&self->ready) && !self->call->finished &&
      !pool_wait (self->pool, iter_has_next, self, -1, cancellable, error))
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
 * main context.  Call mproc_pool_iterator_next_finish() from it.
 *
 * Since: 1.0
 */
void
mproc_pool_iterator_next_async (MprocPoolIterator   *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (MPROC_IS_POOL_ITERATOR (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_pool_iterator_next_async);
  g_queue_push_tail (&self->next_tasks, task);
  /* delivered from the pool's notify source, never from here */
  call_mark_dirty (self->call);
}

/**
 * mproc_pool_iterator_next_finish:
 * @self: an iterator
 * @result: the #GAsyncResult given to the callback
 * @out_index: (out) (optional): where to store the position of the item
 * @error: return location for a #GError
 *
 * Finishes mproc_pool_iterator_next_async().
 *
 * Returns: (transfer full) (nullable): the next result, or %NULL at the
 *   end (no error) or for a failed item (@error set)
 *
 * Since: 1.0
 */
GVariant *
mproc_pool_iterator_next_finish (MprocPoolIterator  *self,
                                 GAsyncResult       *result,
                                 guint              *out_index,
                                 GError            **error)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

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
 * Since: 1.0
 */
guint
mproc_pool_iterator_get_n_items (MprocPoolIterator *self)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), 0);
  return self->call->n_items;
}

/**
 * mproc_pool_iterator_get_n_done:
 * @self: an iterator
 *
 * Gets how many items the workers have finished so far.
 *
 * Returns: how many items the workers have finished (taken or not)
 *
 * Since: 1.0
 */
guint
mproc_pool_iterator_get_n_done (MprocPoolIterator *self)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), 0);
  return self->call->n_items_done;
}

/**
 * mproc_pool_iterator_is_ordered:
 * @self: an iterator
 *
 * Tells whether results come in the order of the items.
 *
 * Returns: %TRUE for mproc_pool_imap(), %FALSE for
 *   mproc_pool_imap_unordered()
 *
 * Since: 1.0
 */
gboolean
mproc_pool_iterator_is_ordered (MprocPoolIterator *self)
{
  g_return_val_if_fail (MPROC_IS_POOL_ITERATOR (self), FALSE);
  return self->ordered;
}

/* --- The fast path for packed arrays in memfds -------------------------- */

/* Chunks of an fd call cost no copy on the pool's side, only a wake-up
 * of the pool per result: fewer and larger than Python's four per worker,
 * as many per worker as its window takes at once. */
static guint
fd_chunksize (MprocPool *self,
              gsize      n_items)
{
  guint n = MAX (self->processes, 1) * 2;

  return MAX (n_items / n + (n_items % n != 0 ? 1 : 0), 1);
}

void
mproc_pool_map_fd_async (MprocPool             *self,
                         const char            *target,
                         const char            *type_string,
                         int                    items_fd,
                         gsize                  size,
                         int                    results_fd,
                         GCancellable          *cancellable,
                         MprocPoolProgressFunc  progress_func,
                         gpointer               progress_data,
                         GDestroyNotify         progress_notify,
                         GAsyncReadyCallback    callback,
                         gpointer               user_data)
{
  g_autoptr(Call) call = NULL;
  GError *error = NULL;
  gsize esize;

  g_return_if_fail (MPROC_IS_POOL (self));
  g_return_if_fail (target != NULL);
  g_return_if_fail (type_string != NULL && g_variant_type_string_is_valid (type_string));
  esize = mproc_pool_packed_size (type_string);
  g_return_if_fail (esize != 0 && size % esize == 0 && size / esize < G_MAXUINT);
  g_return_if_fail (items_fd >= 0);

  call = call_new_n (self, CALL_MAP, target,
                     g_variant_new_array (G_VARIANT_TYPE (type_string + 1), NULL, 0),
                     size / esize, fd_chunksize (self, size / esize), -1, cancellable, TRUE);
  call->progress = progress_func;
  call->progress_data = progress_data;
  call->progress_notify = progress_notify;
  call->file_id = ++self->next_file_id;
  call->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (call->task, mproc_pool_map_fd_async);
  g_task_set_check_cancellable (call->task, FALSE);

  if (!pool_check_running (self, &error))
    {
      call_fail (call, error);
      return;
    }
  call->in_fd = fcntl (items_fd, F_DUPFD_CLOEXEC, 3);
  call->into = results_fd >= 0;
  if (call->into)
    call->out_fd = fcntl (results_fd, F_DUPFD_CLOEXEC, 3);
  else
    call->out_fd = memfd_create ("mproc-pool-results", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (call->in_fd < 0 || call->out_fd < 0 || (!call->into && ftruncate (call->out_fd, size) < 0))
    {
      int errsv = errno;

      /* an error, not a value: keep out_fd for the result only */
      mproc_clear_fd (&call->out_fd);
      call_fail (call, g_error_new (MPROC_ERROR, MPROC_ERROR_FAILED,
                                    _("Cannot pass the items in shared memory: %s"),
                                    g_strerror (errsv)));
      return;
    }
  pool_submit (self, call);
}

gboolean
mproc_pool_map_fd_finish (MprocPool     *self,
                          GAsyncResult  *result,
                          int           *results_fd,
                          char         **results_type,
                          GVariant     **results_value,
                          GError       **error)
{
  FdResult *r;

  g_return_val_if_fail (MPROC_IS_POOL (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_pool_map_fd_async), FALSE);

  *results_fd = -1;
  *results_type = NULL;
  *results_value = NULL;
  r = g_task_propagate_pointer (G_TASK (result), error);
  if (r == NULL)
    return FALSE;
  *results_fd = g_steal_fd (&r->fd);
  *results_type = g_steal_pointer (&r->type);
  *results_value = g_steal_pointer (&r->value);
  fd_result_free (r);
  return TRUE;
}
