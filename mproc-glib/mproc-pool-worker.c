/* mproc-pool-worker.c: the task registry, the worker channel and the
 * worker process of MprocPool
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-main.h"
#include "mproc-pool-private.h"
#include "mproc-wire-private.h"
#include "mproc-shareable-private.h"

/* --- Task registry ------------------------------------------------------ */

typedef struct
{
  MprocTaskFunc  item_func;
  MprocChunkFunc chunk_func;
  gpointer       user_data;
  GDestroyNotify destroy;
} Task;

static GMutex registry_lock;
static GHashTable *registry;

static void
task_free (gpointer data)
{
  Task *task = data;

  if (task->destroy != NULL)
    task->destroy (task->user_data);
  g_free (task);
}

static void
register_task (const char     *name,
               MprocTaskFunc   item_func,
               MprocChunkFunc  chunk_func,
               gpointer        user_data,
               GDestroyNotify  destroy)
{
  Task *task = g_new0 (Task, 1);

  /* A spawned worker deserialises its channel before any pool code runs:
   * the type must exist by then, and registrations come first. */
  g_type_ensure (MPROC_TYPE_POOL_CHANNEL);

  task->item_func = item_func;
  task->chunk_func = chunk_func;
  task->user_data = user_data;
  task->destroy = destroy;

  g_mutex_lock (&registry_lock);
  if (registry == NULL)
    registry = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, task_free);
  g_hash_table_replace (registry, g_strdup (name), task);
  g_mutex_unlock (&registry_lock);
}

/**
 * mproc_register_task:
 * @name: the name pool calls use for the target
 * @func: (scope notified) (closure user_data) (destroy destroy): the target
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the target is replaced
 *
 * Registers a pool target that computes one task: a function of a GVariant
 * that returns a GVariant or sets a #GError.  A worker runs a chunk of a map
 * by calling @func once per item.
 *
 * Like mproc_register_target(), call it at the top of main(), before
 * mproc_init(), so that workers started with spawn or forkserver know the
 * target too.  Registering a name again replaces the target.
 *
 * Since: 1.0
 */
void
mproc_register_task (const char     *name,
                     MprocTaskFunc   func,
                     gpointer        user_data,
                     GDestroyNotify  destroy)
{
  g_return_if_fail (name != NULL);
  g_return_if_fail (func != NULL);

  register_task (name, func, NULL, user_data, destroy);
}

/**
 * mproc_register_chunk_task:
 * @name: the name pool calls use for the target
 * @func: (scope notified) (closure user_data) (destroy destroy): the target
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data when the target is replaced
 *
 * Registers a pool target that computes a whole chunk of tasks in one call:
 * @func receives the items of the chunk as one array and returns the array
 * of their results.  With packed arrays (`ax`, `ad`…) this costs no
 * allocation per item, which is what makes a map over millions of tiny
 * items fast.  An apply call runs @func on a one-item array.
 *
 * Call it before mproc_init(), as mproc_register_task().
 *
 * Since: 1.0
 */
void
mproc_register_chunk_task (const char     *name,
                           MprocChunkFunc  func,
                           gpointer        user_data,
                           GDestroyNotify  destroy)
{
  g_return_if_fail (name != NULL);
  g_return_if_fail (func != NULL);

  register_task (name, NULL, func, user_data, destroy);
}

gboolean
mproc_pool_lookup_task (const char     *name,
                        MprocTaskFunc  *item_func,
                        MprocChunkFunc *chunk_func,
                        gpointer       *user_data)
{
  Task *task = NULL;

  g_mutex_lock (&registry_lock);
  if (registry != NULL)
    task = g_hash_table_lookup (registry, name);
  if (task != NULL)
    {
      *item_func = task->item_func;
      *chunk_func = task->chunk_func;
      *user_data = task->user_data;
    }
  g_mutex_unlock (&registry_lock);

  return task != NULL;
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

char **
mproc_pool_dup_task_names (void)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&registry_lock);
  if (registry != NULL)
    {
      g_hash_table_iter_init (&iter, registry);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        if (!g_str_equal (key, MPROC_POOL_WORKER_TARGET))
          g_ptr_array_add (names, g_strdup (key));
    }
  g_mutex_unlock (&registry_lock);

  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

/* --- Errors and validation ---------------------------------------------- */

GVariant *
mproc_pool_error_to_variant (const GError *error)
{
  return g_variant_new ("(sis)", g_quark_to_string (error->domain),
                        error->code, error->message);
}

GError *
mproc_pool_error_from_variant (GVariant *value)
{
  const char *domain;
  const char *message;
  gint32 code;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(sis)")))
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                _("A pool worker sent an invalid error"));

  g_variant_get (value, "(&si&s)", &domain, &code, &message);
  if (domain[0] == '\0')
    return g_error_new_literal (MPROC_ERROR, MPROC_ERROR_FAILED, message);

  /* A domain this process does not know yet still gets its own quark, so
   * that g_error_matches() with the same domain name works. */
  return g_error_new_literal (g_quark_from_string (domain), code, message);
}

/* Packed arrays of fixed-width numbers travel as one memcpy. */
static gsize
fixed_element_size (const GVariantType *element)
{
  return mproc_wire_number_size (*g_variant_type_peek_string (element));
}

gboolean
mproc_pool_variant_is_valid (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);

  if (g_variant_type_is_array (type))
    {
      gsize esize = fixed_element_size (g_variant_type_element (type));

      /* Every bit pattern of these is a normal value: only the size counts. */
      if (esize != 0)
        return g_variant_get_size (value) % esize == 0;
    }
  else if (g_variant_type_is_variant (type) || g_variant_type_is_tuple (type))
    {
      gsize n;

      if (!g_variant_is_normal_form (value) && g_variant_get_size (value) < 4096)
        return FALSE;
      n = g_variant_n_children (value);
      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) child = g_variant_get_child_value (value, i);

          if (!mproc_pool_variant_is_valid (child))
            return FALSE;
        }
      return TRUE;
    }

  return g_variant_is_normal_form (value);
}

/* --- Channel ------------------------------------------------------------ */

struct _MprocPoolChannel
{
  GObject parent_instance;
  int     fd;
  int     peer_fd;     /* the pool's end: closed by a forked worker */
};

static void mproc_pool_channel_shareable_init (MprocShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocPoolChannel, mproc_pool_channel, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE,
                                                      mproc_pool_channel_shareable_init))

static void
mproc_pool_channel_finalize (GObject *object)
{
  MprocPoolChannel *self = MPROC_POOL_CHANNEL (object);

  mproc_clear_fd (&self->fd);
  G_OBJECT_CLASS (mproc_pool_channel_parent_class)->finalize (object);
}

static void
mproc_pool_channel_class_init (MprocPoolChannelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mproc_pool_channel_finalize;
}

static void
mproc_pool_channel_init (MprocPoolChannel *self)
{
  self->fd = -1;
  self->peer_fd = -1;
}

MprocPoolChannel *
mproc_pool_channel_new (int fd,
                        int peer_fd)
{
  MprocPoolChannel *self = g_object_new (MPROC_TYPE_POOL_CHANNEL, NULL);

  self->fd = fd;
  self->peer_fd = peer_fd;
  return self;
}

int
mproc_pool_channel_get_fd (MprocPoolChannel *self)
{
  return self->fd;
}

void
mproc_pool_channel_close_fd (MprocPoolChannel *self)
{
  mproc_clear_fd (&self->fd);
  self->peer_fd = -1;
}

static GVariant *
mproc_pool_channel_serialize (MprocShareable  *shareable,
                              GArray          *fds,
                              GError         **error)
{
  MprocPoolChannel *self = MPROC_POOL_CHANNEL (shareable);
  int fd = fcntl (self->fd, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    {
      int errsv = errno;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot hand a pool channel to a worker: %s"), g_strerror (errsv));
      return NULL;
    }
  g_array_append_val (fds, fd);
  return g_variant_new_handle (fds->len - 1);
}

static MprocShareable *
mproc_pool_channel_deserialize (GVariant  *handle,
                                GArray    *fds,
                                GError   **error)
{
  int fd = mproc_shareable_steal_fd (fds, handle, error);

  if (fd < 0)
    return NULL;
  return MPROC_SHAREABLE (mproc_pool_channel_new (fd, -1));
}

static void
mproc_pool_channel_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_pool_channel_serialize;
  iface->deserialize = mproc_pool_channel_deserialize;
}

/* --- Worker ------------------------------------------------------------- */

/* How long an idle worker polls its socket before it sleeps: a task that
 * arrives meanwhile costs no wake-up (~20 µs across vCPUs here). */
#define WORKER_SPIN_USEC 50

typedef struct
{
  int     fd;
  guint8 *in;
  gsize   in_start;
  gsize   in_end;
  gsize   in_size;
  GByteArray *out;
  gboolean spin;
  GArray  *fds_in;     /* int: received, not yet claimed by a FILES frame */
  GArray  *files;      /* WorkerFiles */
} Worker;

/* The memfds of one call of the fast path */
typedef struct
{
  guint32 id;
  int     in_fd;
  int     out_fd;
} WorkerFiles;

static gboolean
worker_send_all (Worker *w)
{
  gsize done = 0;

  while (done < w->out->len)
    {
      ssize_t n = send (w->fd, w->out->data + done, w->out->len - done, MSG_NOSIGNAL);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return FALSE;
        }
      done += n;
    }
  g_byte_array_set_size (w->out, 0);
  return TRUE;
}

void
mproc_pool_append_frame (GByteArray    *out,
                         guint32        kind,
                         guint32        seq,
                         guint32        exec_usec,
                         const char    *name,
                         GVariant      *value,
                         const char    *type,
                         gconstpointer  data,
                         gsize          data_size)
{
  gsize at = out->len;
  guint32 name_len, type_len;
  gsize head, size;
  PoolFrame frame;
  guint8 *p;

  if (kind == POOL_FRAME_STOP || kind == POOL_FRAME_FILES || kind == POOL_FRAME_RELEASE)
    {
      frame = (PoolFrame) { 0, kind, seq, exec_usec };
      g_byte_array_append (out, (const guint8 *) &frame, sizeof frame);
      return;
    }

  if (value != NULL)
    {
      type = g_variant_get_type_string (value);
      data_size = g_variant_get_size (value);
    }
  name_len = name != NULL ? strlen (name) + 1 : 0;
  type_len = strlen (type) + 1;
  head = POOL_FRAME_PAD (8 + name_len + type_len);
  size = head + data_size;

  frame = (PoolFrame) { size, kind, seq, exec_usec };
  g_byte_array_set_size (out, at + sizeof frame + POOL_FRAME_PAD (size));
  p = out->data + at;
  memcpy (p, &frame, sizeof frame);
  p += sizeof frame;
  memcpy (p, &name_len, 4);
  memcpy (p + 4, &type_len, 4);
  if (name_len > 0)
    memcpy (p + 8, name, name_len);
  memcpy (p + 8 + name_len, type, type_len);
  memset (p + 8 + name_len + type_len, 0, head - (8 + name_len + type_len));
  if (value != NULL)
    g_variant_store (value, p + head);
  else if (data != NULL && data_size > 0)
    memcpy (p + head, data, data_size);
  memset (p + size, 0, POOL_FRAME_PAD (size) - size);
}

gboolean
mproc_pool_parse_payload (const guint8  *payload,
                          gsize          size,
                          const char   **name,
                          const char   **type,
                          const guint8 **data,
                          gsize         *data_size)
{
  guint32 name_len, type_len;
  gsize head;

  if (size < 8)
    return FALSE;
  memcpy (&name_len, payload, 4);
  memcpy (&type_len, payload + 4, 4);
  if (type_len == 0 || name_len > size || type_len > size || 8 + (gsize) name_len + type_len > size)
    return FALSE;
  head = POOL_FRAME_PAD (8 + (gsize) name_len + type_len);
  if (head > size)
    return FALSE;
  if (name_len > 0 && payload[8 + name_len - 1] != '\0')
    return FALSE;
  if (payload[8 + name_len + type_len - 1] != '\0')
    return FALSE;
  *name = name_len > 0 ? (const char *) payload + 8 : NULL;
  *type = (const char *) payload + 8 + name_len;
  if (!g_variant_type_string_is_valid (*type))
    return FALSE;
  *data = payload + head;
  *data_size = size - head;
  return TRUE;
}

gsize
mproc_pool_packed_size (const char *type_string)
{
  if (type_string[0] != 'a' || type_string[1] == '\0' || type_string[2] != '\0')
    return 0;
  return fixed_element_size (G_VARIANT_TYPE (type_string + 1));
}

/* recv() that keeps the fds of FILES frames (SCM_RIGHTS) in w->fds_in. */
static ssize_t
worker_recv (Worker *w,
             int     flags)
{
  union {
    struct cmsghdr hdr;
    char buf[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct msghdr msg = { 0, };
  struct iovec iov = { w->in + w->in_end, w->in_size - w->in_end };
  ssize_t n;

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  n = recvmsg (w->fd, &msg, flags | MSG_CMSG_CLOEXEC);
  if (n < 0)
    return n;
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      {
        gsize n_fds = (c->cmsg_len - CMSG_LEN (0)) / sizeof (int);

        for (gsize i = 0; i < n_fds; i++)
          {
            int fd;

            memcpy (&fd, CMSG_DATA (c) + i * sizeof (int), sizeof fd);
            g_array_append_val (w->fds_in, fd);
          }
      }
  return n;
}

/* Reads more bytes; FALSE on end-of-file or error.  Spins briefly first. */
static gboolean
worker_fill (Worker *w)
{
  gint64 spin_until = 0;
  ssize_t n;

  if (w->in_start == w->in_end)
    w->in_start = w->in_end = 0;
  else if (w->in_start > 0 && w->in_size - w->in_end < 65536)
    {
      memmove (w->in, w->in + w->in_start, w->in_end - w->in_start);
      w->in_end -= w->in_start;
      w->in_start = 0;
    }
  if (w->in_size - w->in_end < 65536)
    {
      w->in_size = MAX (w->in_size * 2, w->in_end + 65536);
      w->in = g_realloc (w->in, w->in_size);
    }

  for (;;)
    {
      int flags = 0;

      if (w->spin)
        {
          gint64 now = g_get_monotonic_time ();

          if (spin_until == 0)
            spin_until = now + WORKER_SPIN_USEC;
          if (now < spin_until)
            flags = MSG_DONTWAIT;
        }
      n = worker_recv (w, flags);
      if (n > 0)
        {
          w->in_end += n;
          return TRUE;
        }
      if (n == 0)
        return FALSE;
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
        return FALSE;
      /* Spinning: let whatever else waits for this CPU (the pool
       * answering our result, another worker) run first. */
      if (flags == MSG_DONTWAIT)
        sched_yield ();
    }
}

/* Runs one task; returns the result or NULL with @error set. */
static GVariant *
worker_run (const char *target,
            gboolean    single,
            GVariant   *value,
            GError    **error)
{
  static char *cached_name;
  static MprocTaskFunc item_func;
  static MprocChunkFunc chunk_func;
  static gpointer user_data;
  g_autoptr(GVariant) result = NULL;

  if (cached_name == NULL || strcmp (cached_name, target) != 0)
    {
      g_clear_pointer (&cached_name, g_free);
      if (!mproc_pool_lookup_task (target, &item_func, &chunk_func, &user_data))
        {
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_UNKNOWN_TARGET,
                       _("No pool target is registered under the name “%s”"), target);
          return NULL;
        }
      cached_name = g_strdup (target);
    }

  if (single)
    {
      if (item_func != NULL)
        {
          result = item_func (value, user_data, error);
          if (result != NULL)
            g_variant_take_ref (result);
        }
      else
        {
          g_autoptr(GVariant) items = g_variant_ref_sink (g_variant_new_array (NULL, &value, 1));
          g_autoptr(GVariant) results = chunk_func (items, user_data, error);

          if (results != NULL)
            {
              g_variant_take_ref (results);
              if (!g_variant_is_container (results) || g_variant_n_children (results) != 1)
                {
                  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("Pool target “%s” returned a wrong number of results"), target);
                  return NULL;
                }
              result = g_variant_get_child_value (results, 0);
            }
        }
    }
  else if (!g_variant_is_of_type (value, G_VARIANT_TYPE_ARRAY))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received a chunk that is not an array"));
      return NULL;
    }
  else if (chunk_func != NULL)
    {
      result = chunk_func (value, user_data, error);
      if (result != NULL)
        {
          g_variant_take_ref (result);
          if (!g_variant_is_of_type (result, G_VARIANT_TYPE_ARRAY) ||
              g_variant_n_children (result) != g_variant_n_children (value))
            {
              g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Pool target “%s” returned a wrong number of results"), target);
              return NULL;
            }
        }
    }
  else
    {
      gsize n = g_variant_n_children (value);
      g_autoptr(GPtrArray) results = g_ptr_array_new_full (n, (GDestroyNotify) g_variant_unref);
      const GVariantType *type = NULL;
      gboolean same = TRUE;

      for (gsize i = 0; i < n; i++)
        {
          g_autoptr(GVariant) item = g_variant_get_child_value (value, i);
          GVariant *r = item_func (item, user_data, error);

          if (r == NULL)
            return NULL;
          g_variant_take_ref (r);
          g_ptr_array_add (results, r);
          if (type == NULL)
            type = g_variant_get_type (r);
          else if (!g_variant_type_equal (type, g_variant_get_type (r)))
            same = FALSE;
        }

      if (n == 0)
        result = g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0);
      else if (same)
        result = g_variant_new_array (NULL, (GVariant **) results->pdata, n);
      else
        {
          GVariantBuilder builder;

          g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
          for (gsize i = 0; i < n; i++)
            g_variant_builder_add (&builder, "v", results->pdata[i]);
          result = g_variant_builder_end (&builder);
        }
      g_variant_ref_sink (result);
    }

  if (result == NULL && error != NULL && *error == NULL)
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                 _("Pool target “%s” failed without saying why"), target);

  return g_steal_pointer (&result);
}

static void
worker_reply (Worker   *w,
              guint32   seq,
              gint64    exec_usec,
              GVariant *result,
              GError   *error)
{
  guint32 usec = (guint32) CLAMP (exec_usec, 0, G_MAXUINT32);

  if (result != NULL)
    mproc_pool_append_frame (w->out, POOL_FRAME_RESULT, seq, usec, NULL, result, NULL, NULL, 0);
  else
    {
      g_autoptr(GVariant) ev = g_variant_ref_sink (mproc_pool_error_to_variant (error));

      mproc_pool_append_frame (w->out, POOL_FRAME_ERROR, seq, usec, NULL, ev, NULL, NULL, 0);
    }
}

static void
worker_handle_task (Worker       *w,
                    guint32       kind,
                    guint32       seq,
                    const guint8 *payload,
                    gsize         size)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *target, *type;
  const guint8 *data;
  gsize data_size;
  gint64 t0;

  if (!mproc_pool_parse_payload (payload, size, &target, &type, &data, &data_size) || target == NULL)
    {
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received an invalid task"));
      worker_reply (w, seq, 0, NULL, error);
      return;
    }

  bytes = g_bytes_new (data, data_size);
  value = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (type), bytes, FALSE));
  if (!mproc_pool_variant_is_valid (value))
    {
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker received an invalid task"));
      worker_reply (w, seq, 0, NULL, error);
      return;
    }

  t0 = g_get_monotonic_time ();
  result = worker_run (target, kind == POOL_FRAME_APPLY, value, &error);
  t0 = g_get_monotonic_time () - t0;
  worker_reply (w, seq, t0, result, error);
}

static WorkerFiles *
worker_find_files (Worker  *w,
                   guint32  id)
{
  for (guint i = 0; i < w->files->len; i++)
    if (g_array_index (w->files, WorkerFiles, i).id == id)
      return &g_array_index (w->files, WorkerFiles, i);
  return NULL;
}

/* FILES: the next two fds received are the call's items and results. */
static gboolean
worker_take_files (Worker  *w,
                   guint32  id)
{
  WorkerFiles f = { id, -1, -1 };

  if (w->fds_in->len < 2 || worker_find_files (w, id) != NULL)
    return FALSE;
  f.in_fd = g_array_index (w->fds_in, int, 0);
  f.out_fd = g_array_index (w->fds_in, int, 1);
  g_array_remove_range (w->fds_in, 0, 2);
  g_array_append_val (w->files, f);
  return TRUE;
}

static void
worker_release_files (Worker  *w,
                      guint32  id)
{
  for (guint i = 0; i < w->files->len; i++)
    {
      WorkerFiles *f = &g_array_index (w->files, WorkerFiles, i);

      if (f->id == id)
        {
          mproc_clear_fd (&f->in_fd);
          mproc_clear_fd (&f->out_fd);
          g_array_remove_index_fast (w->files, i);
          return;
        }
    }
}

static void
worker_close_all_files (Worker *w)
{
  while (w->files->len > 0)
    worker_release_files (w, g_array_index (w->files, WorkerFiles, 0).id);
  for (guint i = 0; i < w->fds_in->len; i++)
    close (g_array_index (w->fds_in, int, i));
  g_array_set_size (w->fds_in, 0);
}

static gboolean
worker_pio (gboolean  write,
            int       fd,
            guint8   *buf,
            gsize     size,
            guint64   offset)
{
  gsize done = 0;

  while (done < size)
    {
      ssize_t n = write ? pwrite (fd, buf + done, size - done, offset + done)
                        : pread (fd, buf + done, size - done, offset + done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* TASK_FD: the items are in the call's memfd; the results go into the
 * other one when they are a packed array of the same size, else back on
 * the socket. */
static void
worker_handle_fd_task (Worker       *w,
                       guint32       seq,
                       const guint8 *payload,
                       gsize         size)
{
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autoptr(GError) error = NULL;
  const char *target, *type;
  const guint8 *data;
  gsize data_size, esize, items_size;
  PoolFdTask task;
  WorkerFiles *files;
  guint8 *buf;
  gint64 t0;

  if (!mproc_pool_parse_payload (payload, size, &target, &type, &data, &data_size) ||
      target == NULL || data_size != sizeof task ||
      (esize = mproc_pool_packed_size (type)) == 0)
    goto invalid;
  memcpy (&task, data, sizeof task);
  files = worker_find_files (w, task.file_id);
  if (files == NULL)
    goto invalid;

  items_size = (gsize) task.n_items * esize;
  buf = g_malloc (MAX (items_size, 1));
  if (!worker_pio (FALSE, files->in_fd, buf, items_size, task.offset))
    {
      g_free (buf);
      g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("A pool worker cannot read its items"));
      worker_reply (w, seq, 0, NULL, error);
      return;
    }
  /* packed numbers: every bit pattern is a normal value */
  value = g_variant_ref_sink (g_variant_new_from_data (G_VARIANT_TYPE (type), buf, items_size,
                                                       TRUE, g_free, buf));

  t0 = g_get_monotonic_time ();
  result = worker_run (target, FALSE, value, &error);
  if (result != NULL &&
      mproc_pool_packed_size (g_variant_get_type_string (result)) == esize &&
      g_variant_get_size (result) == items_size)
    {
      guint32 usec;

      if (!worker_pio (TRUE, files->out_fd, (guint8 *) g_variant_get_data (result), items_size, task.offset))
        {
          int errsv = errno;
          g_clear_pointer (&result, g_variant_unref);
          g_set_error (&error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("A pool worker cannot write its results: %s"), g_strerror (errsv));
          worker_reply (w, seq, g_get_monotonic_time () - t0, NULL, error);
          return;
        }
      usec = (guint32) CLAMP (g_get_monotonic_time () - t0, 0, G_MAXUINT32);
      mproc_pool_append_frame (w->out, POOL_FRAME_INPLACE, seq, usec, NULL, NULL,
                               g_variant_get_type_string (result), NULL, 0);
      return;
    }
  worker_reply (w, seq, g_get_monotonic_time () - t0, result, error);
  return;

invalid:
  g_set_error_literal (&error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("A pool worker received an invalid task"));
  worker_reply (w, seq, 0, NULL, error);
}

int
mproc_pool_worker_main (MprocProcess *process,
                        GVariant     *args,
                        gpointer      user_data)
{
  MprocPoolChannel *channel;
  const char *initializer = "";
  g_autoptr(GVariant) initargs = NULL;
  guint32 maxtasks = 0;
  guint32 n_tasks = 0;
  Worker w = { -1, };
  int code = 0;

  if (args == NULL || !g_variant_is_of_type (args, G_VARIANT_TYPE ("(smvu)")) ||
      mproc_process_get_n_objects (process) < 1 ||
      !MPROC_IS_POOL_CHANNEL (mproc_process_get_object (process, 0)))
    {
      g_printerr ("%s\n", _("A pool worker was started without its channel"));
      return 1;
    }
  g_variant_get (args, "(&smvu)", &initializer, &initargs, &maxtasks);
  channel = mproc_process_get_object (process, 0);
  /* Under fork the pool's end came along: drop it, or the pool's death
   * would not look like end-of-file here. */
  if (channel->peer_fd >= 0)
    mproc_clear_fd (&channel->peer_fd);
  w.fd = channel->fd;
  w.out = g_byte_array_new ();
  w.fds_in = g_array_new (FALSE, FALSE, sizeof (int));
  /* A worker allocates and frees the same large buffers chunk after chunk
   * (items, results): keep them in the heap rather than let glibc give
   * them back and fault fresh pages in every time (~1 µs a page in VMs). */
  mallopt (M_MMAP_THRESHOLD, 32 << 20);
  mallopt (M_TRIM_THRESHOLD, 64 << 20);
  w.files = g_array_new (FALSE, FALSE, sizeof (WorkerFiles));
  w.spin = g_get_num_processors () > 1;

  if (initializer[0] != '\0')
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) ignored = NULL;
      g_autoptr(GVariant) arg = initargs != NULL ? g_variant_ref (initargs)
                                                 : g_variant_ref_sink (g_variant_new ("()"));

      ignored = worker_run (initializer, TRUE, arg, &error);
      if (ignored == NULL)
        {
          g_printerr (_("Initializer “%s” of %s failed: %s\n"), initializer,
                      mproc_process_get_name (process), error->message);
          code = 1;
          goto out;
        }
    }

  for (;;)
    {
      /* Run every complete frame we have, answering each at once. */
      while (w.in_end - w.in_start >= sizeof (PoolFrame))
        {
          PoolFrame frame;
          gsize total;

          memcpy (&frame, w.in + w.in_start, sizeof frame);
          if (frame.size > POOL_FRAME_MAX_SIZE)
            {
              code = 1;
              goto out;
            }
          total = sizeof frame + POOL_FRAME_PAD (frame.size);
          if (w.in_end - w.in_start < total)
            {
              if (w.in_size - w.in_start < total)
                {
                  /* make room for the whole frame */
                  memmove (w.in, w.in + w.in_start, w.in_end - w.in_start);
                  w.in_end -= w.in_start;
                  w.in_start = 0;
                  if (w.in_size < total)
                    {
                      w.in_size = total + 65536;
                      w.in = g_realloc (w.in, w.in_size);
                    }
                }
              break;
            }

          if (frame.kind == POOL_FRAME_STOP)
            goto out;
          if (frame.kind == POOL_FRAME_FILES || frame.kind == POOL_FRAME_RELEASE)
            {
              w.in_start += total;
              if (frame.kind == POOL_FRAME_RELEASE)
                worker_release_files (&w, frame.seq);
              else if (!worker_take_files (&w, frame.seq))
                {
                  code = 1;
                  goto out;
                }
            }
          else if (frame.kind == POOL_FRAME_TASK || frame.kind == POOL_FRAME_APPLY ||
                   frame.kind == POOL_FRAME_TASK_FD)
            {
              w.in_start += total;
              if (frame.kind == POOL_FRAME_TASK_FD)
                worker_handle_fd_task (&w, frame.seq, w.in + w.in_start - total + sizeof frame, frame.size);
              else
                worker_handle_task (&w, frame.kind, frame.seq,
                                    w.in + w.in_start - total + sizeof frame, frame.size);
              if (!worker_send_all (&w))
                goto out;
              if (maxtasks != 0 && ++n_tasks >= maxtasks)
                goto out;
            }
          else
            {
              code = 1;
              goto out;
            }
        }

      if (!worker_fill (&w))
        goto out;
    }

out:
  worker_close_all_files (&w);
  g_array_unref (w.fds_in);
  g_array_unref (w.files);
  g_free (w.in);
  g_byte_array_unref (w.out);
  return code;
}
