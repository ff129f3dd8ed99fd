/* mproc-redis-client.c: a pipelined RESP connection on GIO
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-redis-client-private.h.  One mutex guards the connection; the
 * calls waiting for replies are a FIFO of Pending.  Whoever needs a reply
 * and finds nobody reading becomes the reader: a synchronous call polls
 * the socket itself (the lock released meanwhile), and asynchronous calls
 * have a pollable GSource in each waiting main context.  Every reply read
 * goes to the head of the FIFO, whoever read it; a GTask is returned
 * outside the lock, in its own context.
 */

#include "config.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-redis-client-private.h"

/* how many pipelined writes may wait for their replies before a writer
 * reads some (the server buffers replies for us without limit) */
#define DRAIN_AT        256
#define FLOW_LIMIT      (64 * 1024)
/* a synchronous waiter looks at its cancellable this often */
#define WAIT_SLICE_USEC (50 * 1000)
#define READ_CHUNK      (64 * 1024)

typedef enum
{
  PENDING_SYNC,       /* a thread waits for it */
  PENDING_TASK,       /* a GTask is returned with it */
  PENDING_DISCARD,    /* pipelined: an error reply becomes the deferred error */
  PENDING_ABANDONED,  /* timed out or cancelled: the reply is dropped */
} PendingKind;

typedef struct
{
  gatomicrefcount  ref;
  PendingKind      kind;
  gboolean         done;
  redisReply      *reply;
  GError          *error;
  GTask           *task;
  GSource         *timeout_source;
  GSource         *cancel_source;
} Pending;

struct _MprocRedisClient
{
  gatomicrefcount       ref;
  MprocRedisConfig     *config;
  char                **scripts;
  char                **shas;
  gboolean              blocking;

  GMutex                lock;
  GCond                 cond;
  guint                 pid;           /* process_generation() of the connection */
  guint                 n_waiters;     /* threads in g_cond_wait_until() */
  GIOStream            *stream;        /* NULL: not connected */
  GSocket              *socket;
  GPollableInputStream *in;
  GPollableOutputStream *out;
  gboolean              tls;
  redisReader          *reader;
  GQueue                pending;
  gboolean              reading;
  guint                 generation;
  GError               *deferred;
  GHashTable           *sources;       /* GMainContext* -> GSource* */
  gboolean              connecting;
  GPtrArray            *connect_waiters;   /* GTask */
};

/* This process's identity, cheaper than getpid() per call: a fork bumps
 * it in the child. */
static guint fork_generation = 1;
static gsize fork_handler_set;

static void
after_fork_in_child (void)
{
  fork_generation++;
}

static guint
process_generation (void)
{
  if (g_once_init_enter (&fork_handler_set))
    {
      pthread_atfork (NULL, NULL, after_fork_in_child);
      g_once_init_leave (&fork_handler_set, 1);
    }
  return fork_generation;
}

/* Wakes threads waiting for the line to move, if any (a broadcast is a
 * system call). */
static void
wake_waiters_locked (MprocRedisClient *client)
{
  if (client->n_waiters > 0)
    wake_waiters_locked (client);
}

static Pending *
pending_new (PendingKind kind)
{
  Pending *p = g_new0 (Pending, 1);

  g_atomic_ref_count_init (&p->ref);
  p->kind = kind;
  return p;
}

static Pending *
pending_ref (Pending *p)
{
  g_atomic_ref_count_inc (&p->ref);
  return p;
}

static void
pending_unref (Pending *p)
{
  if (!g_atomic_ref_count_dec (&p->ref))
    return;
  g_clear_pointer (&p->reply, freeReplyObject);
  g_clear_error (&p->error);
  g_clear_object (&p->task);
  g_clear_pointer (&p->timeout_source, g_source_unref);
  g_clear_pointer (&p->cancel_source, g_source_unref);
  g_free (p);
}

static void
pending_drop_sources (Pending *p)
{
  if (p->timeout_source != NULL)
    g_source_destroy (p->timeout_source);
  if (p->cancel_source != NULL)
    g_source_destroy (p->cancel_source);
}

/* Completion of tasks, outside the lock. */
static void
complete_tasks (GPtrArray *done)
{
  for (guint i = 0; i < done->len; i++)
    {
      Pending *p = done->pdata[i];
      GTask *task = g_steal_pointer (&p->task);

      pending_drop_sources (p);
      if (task == NULL)
        continue;
      if (p->error != NULL)
        g_task_return_error (task, g_steal_pointer (&p->error));
      else
        g_task_return_pointer (task, g_steal_pointer (&p->reply), (GDestroyNotify) freeReplyObject);
      g_object_unref (task);
    }
  g_ptr_array_unref (done);
}

static GPtrArray *
done_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) pending_unref);
}

/* --- Life ------------------------------------------------------------------- */

static MprocRedisConfig *
config_copy (const MprocRedisConfig *c)
{
  MprocRedisConfig *copy = g_new0 (MprocRedisConfig, 1);

  copy->uri = g_strdup (c->uri);
  copy->display = g_strdup (c->display);
  copy->host = g_strdup (c->host);
  copy->port = c->port;
  copy->path = g_strdup (c->path);
  copy->tls = c->tls;
  copy->tls_ca = g_strdup (c->tls_ca);
  copy->user = g_strdup (c->user);
  copy->password = g_strdup (c->password);
  copy->db = c->db;
  copy->prefix = g_strdup (c->prefix);
  copy->timeout_usec = c->timeout_usec;
  copy->lease_usec = c->lease_usec;
  copy->worker_lease_usec = c->worker_lease_usec;
  copy->max_redeliveries = c->max_redeliveries;
  return copy;
}

MprocRedisClient *
mproc_redis_client_new (const MprocRedisConfig *config,
                        const char * const     *scripts)
{
  MprocRedisClient *client = g_new0 (MprocRedisClient, 1);
  guint n = scripts != NULL ? g_strv_length ((char **) scripts) : 0;

  g_atomic_ref_count_init (&client->ref);
  client->config = config_copy (config);
  client->scripts = g_strdupv ((char **) scripts);
  client->shas = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    client->shas[i] = g_compute_checksum_for_string (G_CHECKSUM_SHA1, scripts[i], -1);
  g_mutex_init (&client->lock);
  g_cond_init (&client->cond);
  g_queue_init (&client->pending);
  client->sources = g_hash_table_new (NULL, NULL);
  client->connect_waiters = g_ptr_array_new ();
  return client;
}

MprocRedisClient *
mproc_redis_client_new_blocking (const MprocRedisConfig *config)
{
  MprocRedisClient *client = mproc_redis_client_new (config, NULL);

  client->blocking = TRUE;
  return client;
}

MprocRedisClient *
mproc_redis_client_ref (MprocRedisClient *client)
{
  g_atomic_ref_count_inc (&client->ref);
  return client;
}

const char *
mproc_redis_client_script_sha (MprocRedisClient *client,
                               guint             index)
{
  return client->shas[index];
}

const MprocRedisConfig *
mproc_redis_client_get_config (MprocRedisClient *client)
{
  return client->config;
}

static void
remove_sources_locked (MprocRedisClient *client)
{
  GHashTableIter iter;
  gpointer source;

  g_hash_table_iter_init (&iter, client->sources);
  while (g_hash_table_iter_next (&iter, NULL, &source))
    {
      g_source_destroy (source);
      g_source_unref (source);
    }
  g_hash_table_remove_all (client->sources);
}

/* Drops the connection: every call waiting gets @error (a copy). */
static void
fail_locked (MprocRedisClient *client,
             const GError     *error,
             GPtrArray        *done)
{
  Pending *p;

  while ((p = g_queue_pop_head (&client->pending)) != NULL)
    {
      switch (p->kind)
        {
        case PENDING_SYNC:
          p->error = g_error_copy (error);
          p->done = TRUE;
          pending_unref (p);
          break;
        case PENDING_TASK:
          p->error = g_error_copy (error);
          g_ptr_array_add (done, p);
          break;
        case PENDING_DISCARD:
        case PENDING_ABANDONED:
          pending_unref (p);
          break;
        }
    }
  remove_sources_locked (client);
  if (client->stream != NULL && client->pid == process_generation ())
    {
      /* no close_notify or shutdown: only this fd goes */
      g_socket_close (client->socket, NULL);
    }
  g_clear_object (&client->socket);
  g_clear_object (&client->stream);
  client->in = NULL;
  client->out = NULL;
  g_clear_pointer (&client->reader, redisReaderFree);
  g_clear_error (&client->deferred);
  client->generation++;
  wake_waiters_locked (client);
}

static void
set_broken (GError     **error,
            const char  *display,
            const char  *why)
{
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
               _("The connection to the Redis server at %s was lost: %s"), display, why);
}

static void
fail_broken_locked (MprocRedisClient *client,
                    const char       *why,
                    GPtrArray        *done)
{
  g_autoptr(GError) error = NULL;

  set_broken (&error, client->config->display, why);
  fail_locked (client, error, done);
}

void
mproc_redis_client_close (MprocRedisClient *client)
{
  g_autoptr(GError) error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_CLOSED,
                                                 _("The Redis connection was closed"));
  GPtrArray *done = done_new ();

  g_mutex_lock (&client->lock);
  fail_locked (client, error, done);
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
}

void
mproc_redis_client_unref (MprocRedisClient *client)
{
  if (!g_atomic_ref_count_dec (&client->ref))
    return;
  mproc_redis_client_close (client);
  g_hash_table_unref (client->sources);
  g_ptr_array_unref (client->connect_waiters);
  g_mutex_clear (&client->lock);
  g_cond_clear (&client->cond);
  mproc_redis_config_free (client->config);
  g_strfreev (client->scripts);
  g_strfreev (client->shas);
  g_free (client);
}

/* --- Reading ---------------------------------------------------------------- */

/* Gives each complete reply to the head of the line. */
static gboolean
dispatch_locked (MprocRedisClient *client,
                 GPtrArray        *done)
{
  for (;;)
    {
      void *r = NULL;
      Pending *p;

      if (client->reader == NULL)
        return TRUE;
      if (redisReaderGetReply (client->reader, &r) != REDIS_OK)
        {
          fail_broken_locked (client, _("malformed reply"), done);
          return FALSE;
        }
      if (r == NULL)
        return TRUE;
      p = g_queue_pop_head (&client->pending);
      if (p == NULL)
        {
          freeReplyObject (r);
          fail_broken_locked (client, _("a reply nobody asked for"), done);
          return FALSE;
        }
      switch (p->kind)
        {
        case PENDING_SYNC:
          p->reply = r;
          p->done = TRUE;
          pending_unref (p);
          wake_waiters_locked (client);
          break;
        case PENDING_TASK:
          p->reply = r;
          g_ptr_array_add (done, p);
          break;
        case PENDING_DISCARD:
          if (client->deferred == NULL)
            mproc_redis_reply_check (r, &client->deferred);
          freeReplyObject (r);
          pending_unref (p);
          break;
        case PENDING_ABANDONED:
          freeReplyObject (r);
          pending_unref (p);
          break;
        }
    }
}

/* Reads what is there without blocking.  FALSE: the connection failed. */
static gboolean
read_some_locked (MprocRedisClient *client,
                  GPtrArray        *done)
{
  char buf[READ_CHUNK];

  while (client->stream != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (client->in, buf, sizeof buf, NULL, &local_error);

      if (n > 0)
        {
          redisReaderFeed (client->reader, buf, n);
          if (n < (gssize) sizeof buf)
            break;
          continue;
        }
      if (n < 0 && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      fail_broken_locked (client, n == 0 ? _("the server closed the connection") : local_error->message, done);
      return FALSE;
    }
  return dispatch_locked (client, done);
}

static gboolean
has_task_in_context (MprocRedisClient *client,
                     GMainContext     *context)
{
  for (GList *l = client->pending.head; l != NULL; l = l->next)
    {
      Pending *p = l->data;

      if (p->kind == PENDING_TASK && p->task != NULL && g_task_get_context (p->task) == context)
        return TRUE;
    }
  return FALSE;
}

typedef struct
{
  MprocRedisClient *client;
  GMainContext     *context;
} SourceData;

static void
source_data_free (gpointer data)
{
  SourceData *sd = data;

  mproc_redis_client_unref (sd->client);
  g_main_context_unref (sd->context);
  g_free (sd);
}

static gboolean
readable_cb (GObject  *stream,
             gpointer  user_data)
{
  SourceData *sd = user_data;
  MprocRedisClient *client = sd->client;
  GPtrArray *done = done_new ();
  gboolean keep = TRUE;

  g_mutex_lock (&client->lock);
  if (!client->reading)
    read_some_locked (client, done);
  if (!has_task_in_context (client, sd->context))
    {
      GSource *source = g_hash_table_lookup (client->sources, sd->context);

      if (source != NULL && source == g_main_current_source ())
        {
          g_hash_table_remove (client->sources, sd->context);
          g_source_unref (source);
          keep = FALSE;
        }
    }
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return keep;
}

static void
ensure_source_locked (MprocRedisClient *client,
                      GMainContext     *context)
{
  GSource *source;
  SourceData *sd;

  if (g_hash_table_contains (client->sources, context))
    return;
  source = g_pollable_input_stream_create_source (client->in, NULL);
  sd = g_new0 (SourceData, 1);
  sd->client = mproc_redis_client_ref (client);
  sd->context = g_main_context_ref (context);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) readable_cb, sd, source_data_free);
  g_source_set_static_name (source, "[mproc] redis reply");
  g_hash_table_insert (client->sources, context, source);
  g_source_attach (source, context);
}

/* --- Writing ---------------------------------------------------------------- */

static gint64
remaining_usec (gint64 deadline)
{
  gint64 left;

  if (deadline < 0)
    return -1;
  left = deadline - g_get_monotonic_time ();
  return MAX (left, 0);
}

static void
set_timed_out (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                       _("The Redis server did not answer in time"));
}

/* A command written whole, or the connection failed (a half-written
 * command cannot be taken back). */
static gboolean
write_locked (MprocRedisClient  *client,
              GBytes            *bytes,
              gint64             deadline,
              GCancellable      *cancellable,
              GPtrArray         *done,
              GError           **error)
{
  g_autoptr(GError) own_error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);

  /* the pending calls fail with it even when the caller ignores it */
  if (error == NULL)
    error = &own_error;
  while (size > 0)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (client->out, data, size, NULL, &local_error);

      if (n > 0)
        {
          data += n;
          size -= n;
          continue;
        }
      if (n < 0 && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_clear_error (&local_error);
          if (g_socket_condition_timed_wait (client->socket, G_IO_OUT, remaining_usec (deadline),
                                             cancellable, &local_error))
            continue;
        }
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        set_timed_out (error);
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        set_broken (error, client->config->display, local_error != NULL ? local_error->message : "");
      fail_locked (client, *error, done);
      return FALSE;
    }
  return TRUE;
}

/* --- Connecting ------------------------------------------------------------- */

static void
tls_event_cb (GSocketClient      *sc,
              GSocketClientEvent  event,
              GSocketConnectable *connectable,
              GIOStream          *connection,
              gpointer            user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && G_IS_TLS_CONNECTION (connection))
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), user_data);
}

static GSocketClient *
socket_client_new (MprocRedisClient     *client,
                   GSocketConnectable  **address_out,
                   GError              **error)
{
  const MprocRedisConfig *c = client->config;
  g_autoptr(GSocketClient) sc = g_socket_client_new ();

  g_socket_client_set_timeout (sc, MAX (1, (guint) ((c->timeout_usec + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC)));
  if (c->path != NULL)
    *address_out = G_SOCKET_CONNECTABLE (g_unix_socket_address_new (c->path));
  else
    *address_out = g_network_address_new (c->host, c->port);
  if (c->tls)
    {
      g_socket_client_set_tls (sc, TRUE);
      if (c->tls_ca != NULL)
        {
          g_autoptr(GTlsDatabase) db = g_tls_file_database_new (c->tls_ca, error);

          if (db == NULL)
            {
              g_clear_object (address_out);
              return NULL;
            }
          g_signal_connect_data (sc, "event", G_CALLBACK (tls_event_cb), g_object_ref (db),
                                 (GClosureNotify) (void (*) (void)) g_object_unref, 0);
        }
    }
  return g_steal_pointer (&sc);
}

static void
map_connect_error (MprocRedisClient  *client,
                   GError            *local_error,
                   GError           **error)
{
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      local_error->domain == G_TLS_ERROR)
    g_propagate_error (error, local_error);
  else
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                   _("Could not connect to the Redis server at %s: %s"),
                   client->config->display, local_error->message);
      g_error_free (local_error);
    }
}

/* Forgets a connection inherited from the parent process: its replies
 * are the parent's. */
static void
forget_inherited_locked (MprocRedisClient *client)
{
  Pending *p;

  if (client->stream == NULL || client->pid == process_generation ())
    return;
  while ((p = g_queue_pop_head (&client->pending)) != NULL)
    pending_unref (p);
  g_hash_table_remove_all (client->sources);
  g_clear_object (&client->socket);
  g_clear_object (&client->stream);
  client->in = NULL;
  client->out = NULL;
  g_clear_pointer (&client->reader, redisReaderFree);
  g_clear_error (&client->deferred);
  client->connecting = FALSE;
  client->reading = FALSE;
  client->generation++;
}

/* The new connection's first commands: AUTH, SELECT, the scripts.  Their
 * error replies become the deferred error, looked at after a PING. */
static gboolean
install_locked (MprocRedisClient   *client,
                GSocketConnection  *connection,
                GPtrArray          *done,
                GError            **error)
{
  const MprocRedisConfig *c = client->config;
  g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func ((GDestroyNotify) mproc_redis_cmd_free);

  client->stream = G_IO_STREAM (g_object_ref (connection));
  client->socket = g_object_ref (g_socket_connection_get_socket (connection));
  client->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (client->stream));
  client->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (client->stream));
  client->reader = redisReaderCreate ();
  client->pid = process_generation ();
  g_clear_error (&client->deferred);

  if (c->password != NULL)
    {
      MprocRedisCmd *cmd = mproc_redis_cmd_new ("AUTH");

      if (c->user != NULL)
        mproc_redis_cmd_add_str (cmd, c->user);
      mproc_redis_cmd_add_str (cmd, c->password);
      g_ptr_array_add (cmds, cmd);
    }
  if (c->db != 0)
    {
      MprocRedisCmd *cmd = mproc_redis_cmd_new ("SELECT");

      mproc_redis_cmd_add_int (cmd, c->db);
      g_ptr_array_add (cmds, cmd);
    }
  for (guint i = 0; client->scripts != NULL && client->scripts[i] != NULL; i++)
    {
      MprocRedisCmd *cmd = mproc_redis_cmd_new ("SCRIPT");

      mproc_redis_cmd_add_str (cmd, "LOAD");
      mproc_redis_cmd_add_str (cmd, client->scripts[i]);
      g_ptr_array_add (cmds, cmd);
    }
  for (guint i = 0; i < cmds->len; i++)
    {
      g_autoptr(GBytes) bytes = mproc_redis_cmd_encode (cmds->pdata[i]);

      if (!write_locked (client, bytes, g_get_monotonic_time () + c->timeout_usec, NULL, done, error))
        return FALSE;
      g_queue_push_tail (&client->pending, pending_new (PENDING_DISCARD));
    }
  return TRUE;
}

static gboolean wait_locked (MprocRedisClient  *client,
                             Pending           *p,
                             gint64             deadline,
                             GCancellable      *cancellable,
                             GPtrArray         *done,
                             GError           **error);

static gboolean
ensure_open_locked (MprocRedisClient  *client,
                    GCancellable      *cancellable,
                    GPtrArray         *done,
                    GError           **error)
{
  g_autoptr(GSocketClient) sc = NULL;
  g_autoptr(GSocketConnectable) address = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GBytes) ping = NULL;
  g_autoptr(MprocRedisCmd) cmd = NULL;
  GError *local_error = NULL;
  gint64 deadline = g_get_monotonic_time () + client->config->timeout_usec;
  Pending *p;

  forget_inherited_locked (client);
  while (client->connecting)
    {
      gboolean woken;

      client->n_waiters++;
      woken = g_cond_wait_until (&client->cond, &client->lock, deadline);
      client->n_waiters--;
      if (!woken)
        {
          set_timed_out (error);
          return FALSE;
        }
    }
  /* idle: a connection the server closed meanwhile (restarted, idle
   * timeout, CLIENT KILL) is noticed here and replaced, losing nothing */
  if (client->stream != NULL && client->pending.length == 0 && !client->reading)
    read_some_locked (client, done);
  if (client->stream != NULL)
    return TRUE;

  sc = socket_client_new (client, &address, error);
  if (sc == NULL)
    return FALSE;
  connection = g_socket_client_connect (sc, address, cancellable, &local_error);
  if (connection == NULL)
    {
      map_connect_error (client, local_error, error);
      return FALSE;
    }
  if (!install_locked (client, connection, done, error))
    return FALSE;
  cmd = mproc_redis_cmd_new ("PING");
  ping = mproc_redis_cmd_encode (cmd);
  if (!write_locked (client, ping, deadline, cancellable, done, error))
    return FALSE;
  p = pending_new (PENDING_SYNC);
  g_queue_push_tail (&client->pending, pending_ref (p));
  if (!wait_locked (client, p, deadline, cancellable, done, error))
    {
      pending_unref (p);
      return FALSE;
    }
  pending_unref (p);
  if (client->deferred != NULL)
    {
      g_autoptr(GError) auth_error = g_steal_pointer (&client->deferred);

      fail_locked (client, auth_error, done);
      g_propagate_error (error, g_steal_pointer (&auth_error));
      return FALSE;
    }
  return TRUE;
}

/* --- Waiting ---------------------------------------------------------------- */

/* Until @p (in the line, one ref ours) is done: TRUE with p->reply, or
 * FALSE with @error (p left in the line, abandoned, on timeout or
 * cancellation). */
static gboolean
wait_locked (MprocRedisClient  *client,
             Pending           *p,
             gint64             deadline,
             GCancellable      *cancellable,
             GPtrArray         *done,
             GError           **error)
{
  while (!p->done)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GSocket) socket = NULL;
      gint64 left = remaining_usec (deadline);
      guint generation;
      gboolean ready;

      if (g_cancellable_set_error_if_cancelled (cancellable, &local_error) || left == 0)
        {
          if (local_error == NULL)
            set_timed_out (&local_error);
          p->kind = PENDING_ABANDONED;
          if (client->blocking)
            {
              /* the server would still be blocked on it */
              fail_locked (client, local_error, done);
            }
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (client->reading)
        {
          gint64 until = g_get_monotonic_time () + (left < 0 ? WAIT_SLICE_USEC : MIN (left, WAIT_SLICE_USEC));

          client->n_waiters++;
          g_cond_wait_until (&client->cond, &client->lock, until);
          client->n_waiters--;
          continue;
        }
      /* TLS may hold decrypted bytes the socket does not show */
      if (client->tls && !read_some_locked (client, done))
        continue;
      if (p->done)
        break;

      client->reading = TRUE;
      socket = g_object_ref (client->socket);
      generation = client->generation;
      g_mutex_unlock (&client->lock);
      ready = g_socket_condition_timed_wait (socket, G_IO_IN, left, cancellable, &local_error);
      g_mutex_lock (&client->lock);
      client->reading = FALSE;
      wake_waiters_locked (client);
      if (generation != client->generation)
        continue;
      if (!ready)
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
              g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            continue;
          fail_broken_locked (client, local_error->message, done);
          continue;
        }
      read_some_locked (client, done);
    }
  if (p->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&p->error));
      return FALSE;
    }
  return TRUE;
}

static gint64
deadline_for (MprocRedisClient *client,
              gint64            timeout_usec)
{
  if (timeout_usec < 0)
    timeout_usec = client->config->timeout_usec;
  return timeout_usec == 0 ? -1 : g_get_monotonic_time () + timeout_usec;
}

redisReply *
mproc_redis_client_call (MprocRedisClient  *client,
                         MprocRedisCmd     *cmd,
                         gint64             timeout_usec,
                         GCancellable      *cancellable,
                         GError           **error)
{
  g_autoptr(GBytes) bytes = mproc_redis_cmd_encode (cmd);
  gint64 deadline = deadline_for (client, timeout_usec);
  GPtrArray *done = done_new ();
  redisReply *reply = NULL;
  Pending *p = NULL;

  g_mutex_lock (&client->lock);
  if (!ensure_open_locked (client, cancellable, done, error))
    goto out;
  if (client->deferred != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&client->deferred));
      goto out;
    }
  if (!write_locked (client, bytes, deadline, cancellable, done, error))
    goto out;
  p = pending_new (PENDING_SYNC);
  g_queue_push_tail (&client->pending, pending_ref (p));
  if (wait_locked (client, p, deadline, cancellable, done, error))
    {
      reply = g_steal_pointer (&p->reply);
      if (!mproc_redis_reply_check (reply, error))
        g_clear_pointer (&reply, freeReplyObject);
    }
  pending_unref (p);

out:
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return reply;
}

gboolean
mproc_redis_client_send (MprocRedisClient  *client,
                         MprocRedisCmd     *cmd,
                         GCancellable      *cancellable,
                         GError           **error)
{
  g_autoptr(GBytes) bytes = mproc_redis_cmd_encode (cmd);
  gint64 deadline = deadline_for (client, -1);
  GPtrArray *done = done_new ();
  gboolean ret = FALSE;

  g_mutex_lock (&client->lock);
  if (!ensure_open_locked (client, cancellable, done, error))
    goto out;
  if (client->deferred != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&client->deferred));
      goto out;
    }
  if (!write_locked (client, bytes, deadline, cancellable, done, error))
    goto out;
  if (client->pending.length >= FLOW_LIMIT)
    {
      /* the writer outruns the server: wait for this reply */
      Pending *p = pending_new (PENDING_SYNC);

      g_queue_push_tail (&client->pending, pending_ref (p));
      ret = wait_locked (client, p, deadline, cancellable, done, error);
      if (ret && !mproc_redis_reply_check (p->reply, error))
        ret = FALSE;
      pending_unref (p);
      goto out;
    }
  g_queue_push_tail (&client->pending, pending_new (PENDING_DISCARD));
  if (client->pending.length >= DRAIN_AT && !client->reading)
    read_some_locked (client, done);
  ret = TRUE;

out:
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return ret;
}

/* --- Asynchronous calls ----------------------------------------------------- */

typedef struct
{
  MprocRedisClient *client;
  Pending          *pending;
} PendingRef;

static void
pending_ref_free (gpointer data)
{
  PendingRef *pr = data;

  mproc_redis_client_unref (pr->client);
  pending_unref (pr->pending);
  g_free (pr);
}

/* Timed out or cancelled: the task returns now, the reply is dropped. */
static void
abandon (PendingRef *pr,
         GError     *error)
{
  MprocRedisClient *client = pr->client;
  Pending *p = pr->pending;
  GPtrArray *done = done_new ();
  GTask *task;

  g_mutex_lock (&client->lock);
  task = g_steal_pointer (&p->task);
  if (task != NULL)
    {
      p->kind = PENDING_ABANDONED;
      if (client->blocking)
        fail_locked (client, error, done);
    }
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  pending_drop_sources (p);
  if (task != NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
    }
  else
    g_error_free (error);
}

static gboolean
pending_timeout_cb (gpointer data)
{
  GError *error = NULL;

  set_timed_out (&error);
  abandon (data, error);
  return G_SOURCE_REMOVE;
}

static gboolean
pending_cancelled_cb (GCancellable *cancellable,
                      gpointer      data)
{
  GError *error = NULL;

  g_cancellable_set_error_if_cancelled (cancellable, &error);
  abandon (data, error);
  return G_SOURCE_REMOVE;
}

/* Writes the command of @task (whose task data is its encoding).  On
 * failure, @error is for the caller to return once unlocked (a GTask
 * returned later than its creation may call back at once). */
static gboolean
issue_locked (MprocRedisClient  *client,
              GTask             *task,
              GPtrArray         *done,
              GError           **error_out)
{
  GBytes *bytes = g_task_get_task_data (task);
  gint64 timeout_usec = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (task), "mproc-redis-timeout")) - 1;
  GCancellable *cancellable = g_task_get_cancellable (task);
  GMainContext *context = g_task_get_context (task);
  GError *error = NULL;
  Pending *p;

  if (client->deferred != NULL)
    {
      g_propagate_error (error_out, g_steal_pointer (&client->deferred));
      return FALSE;
    }
  if (!write_locked (client, bytes, deadline_for (client, timeout_usec), cancellable, done, &error))
    {
      g_propagate_error (error_out, error);
      return FALSE;
    }
  p = pending_new (PENDING_TASK);
  p->task = g_object_ref (task);
  if (timeout_usec < 0)
    timeout_usec = client->config->timeout_usec;
  if (timeout_usec > 0)
    {
      PendingRef *pr = g_new0 (PendingRef, 1);

      pr->client = mproc_redis_client_ref (client);
      pr->pending = pending_ref (p);
      p->timeout_source = g_timeout_source_new (MAX (1, timeout_usec / 1000));
      g_source_set_callback (p->timeout_source, pending_timeout_cb, pr, pending_ref_free);
      g_source_set_static_name (p->timeout_source, "[mproc] redis timeout");
      g_source_attach (p->timeout_source, context);
    }
  if (cancellable != NULL)
    {
      PendingRef *pr = g_new0 (PendingRef, 1);

      pr->client = mproc_redis_client_ref (client);
      pr->pending = pending_ref (p);
      p->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (p->cancel_source, (GSourceFunc) (void (*) (void)) pending_cancelled_cb,
                             pr, pending_ref_free);
      g_source_attach (p->cancel_source, context);
    }
  g_queue_push_tail (&client->pending, p);
  ensure_source_locked (client, context);
  return TRUE;
}

static void
connected_for_call_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocRedisClient *client = g_object_get_data (G_OBJECT (task), "mproc-redis-client");
  GError *error = NULL;
  GPtrArray *done;

  if (!mproc_redis_client_connect_finish (client, result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  done = done_new ();
  g_mutex_lock (&client->lock);
  if (client->stream == NULL)
    {
      set_broken (&error, client->config->display, _("the server closed the connection"));
      g_task_return_error (task, error);
    }
  else
    issue_locked (client, task, done, &error);
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  if (error != NULL)
    g_task_return_error (task, error);
}

void
mproc_redis_client_call_async (MprocRedisClient    *client,
                               MprocRedisCmd       *cmd,
                               gint64               timeout_usec,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;
  GPtrArray *done;

  g_task_set_source_tag (task, mproc_redis_client_call_async);
  g_task_set_task_data (task, mproc_redis_cmd_encode (cmd), (GDestroyNotify) g_bytes_unref);
  g_object_set_data (G_OBJECT (task), "mproc-redis-timeout", GSIZE_TO_POINTER ((gsize) (timeout_usec + 1)));
  if (g_task_return_error_if_cancelled (task))
    return;

  g_mutex_lock (&client->lock);
  forget_inherited_locked (client);
  if (client->stream == NULL || client->connecting)
    {
      g_mutex_unlock (&client->lock);
      g_object_set_data_full (G_OBJECT (task), "mproc-redis-client", mproc_redis_client_ref (client),
                              (GDestroyNotify) mproc_redis_client_unref);
      mproc_redis_client_connect_async (client, cancellable, connected_for_call_cb, g_steal_pointer (&task));
      return;
    }
  done = done_new ();
  issue_locked (client, task, done, &error);
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  if (error != NULL)
    g_task_return_error (task, error);
}

redisReply *
mproc_redis_client_call_finish (MprocRedisClient  *client,
                                GAsyncResult      *result,
                                GError           **error)
{
  redisReply *reply;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply != NULL && !mproc_redis_reply_check (reply, error))
    g_clear_pointer (&reply, freeReplyObject);
  return reply;
}

/* --- Asynchronous connection ------------------------------------------------ */

static void
finish_connect_locked (MprocRedisClient *client,
                       const GError     *error,
                       GPtrArray        *waiters)
{
  client->connecting = FALSE;
  g_ptr_array_extend_and_steal (waiters, g_steal_pointer (&client->connect_waiters));
  client->connect_waiters = g_ptr_array_new ();
  wake_waiters_locked (client);
}

static void
return_waiters (GPtrArray    *waiters,
                const GError *error)
{
  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = waiters->pdata[i];

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
  g_ptr_array_unref (waiters);
}

static void
handshake_ping_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  MprocRedisClient *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(redisReply) reply = NULL;
  GPtrArray *waiters = g_ptr_array_new ();
  GPtrArray *done = done_new ();

  reply = g_task_propagate_pointer (G_TASK (result), &error);
  g_mutex_lock (&client->lock);
  if (error == NULL && reply != NULL)
    mproc_redis_reply_check (reply, &error);
  if (error == NULL && client->deferred != NULL)
    error = g_steal_pointer (&client->deferred);
  if (error != NULL)
    fail_locked (client, error, done);
  finish_connect_locked (client, error, waiters);
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return_waiters (waiters, error);
  mproc_redis_client_unref (client);
}

static void
socket_connected_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  MprocRedisClient *client = user_data;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  GError *local_error = NULL;
  GPtrArray *done = done_new ();
  GPtrArray *waiters = g_ptr_array_new ();

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &local_error);
  if (connection == NULL)
    map_connect_error (client, local_error, &error);
  g_mutex_lock (&client->lock);
  if (error == NULL && install_locked (client, connection, done, &error))
    {
      g_autoptr(MprocRedisCmd) cmd = mproc_redis_cmd_new ("PING");
      g_autoptr(GTask) task = g_task_new (NULL, NULL, handshake_ping_cb, client);
      GError *issue_error = NULL;

      g_task_set_task_data (task, mproc_redis_cmd_encode (cmd), (GDestroyNotify) g_bytes_unref);
      g_object_set_data (G_OBJECT (task), "mproc-redis-timeout", GSIZE_TO_POINTER ((gsize) 0));

      /* handshake_ping_cb() finishes the connection, either way */
      issue_locked (client, task, done, &issue_error);
      g_mutex_unlock (&client->lock);
      complete_tasks (done);
      if (issue_error != NULL)
        g_task_return_error (task, issue_error);
      g_ptr_array_unref (waiters);
      return;
    }
  finish_connect_locked (client, error, waiters);
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return_waiters (waiters, error);
  mproc_redis_client_unref (client);
}

void
mproc_redis_client_connect_async (MprocRedisClient    *client,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GSocketClient) sc = NULL;
  g_autoptr(GSocketConnectable) address = NULL;
  GError *error = NULL;

  g_task_set_source_tag (task, mproc_redis_client_connect_async);
  g_mutex_lock (&client->lock);
  forget_inherited_locked (client);
  if (client->stream != NULL && !client->connecting)
    {
      g_mutex_unlock (&client->lock);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  g_ptr_array_add (client->connect_waiters, task);
  if (client->connecting)
    {
      g_mutex_unlock (&client->lock);
      return;
    }
  sc = socket_client_new (client, &address, &error);
  if (sc == NULL)
    {
      GPtrArray *waiters = g_ptr_array_new ();

      finish_connect_locked (client, error, waiters);
      g_mutex_unlock (&client->lock);
      return_waiters (waiters, error);
      g_error_free (error);
      return;
    }
  client->connecting = TRUE;
  g_mutex_unlock (&client->lock);
  /* the connection is shared: one caller's cancellable does not stop it */
  g_socket_client_connect_async (sc, address, NULL, socket_connected_cb, mproc_redis_client_ref (client));
}

gboolean
mproc_redis_client_connect_finish (MprocRedisClient  *client,
                                   GAsyncResult      *result,
                                   GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
mproc_redis_client_connect (MprocRedisClient  *client,
                            GCancellable      *cancellable,
                            GError           **error)
{
  GPtrArray *done = done_new ();
  gboolean ret;

  g_mutex_lock (&client->lock);
  ret = ensure_open_locked (client, cancellable, done, error);
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return ret;
}

gboolean
mproc_redis_client_is_open (MprocRedisClient *client)
{
  GPtrArray *done = done_new ();
  gboolean ret;

  g_mutex_lock (&client->lock);
  /* a close by the server shows as an end of stream, read here */
  if (client->stream != NULL && client->pid == process_generation () &&
      client->pending.length == 0 && !client->reading)
    read_some_locked (client, done);
  ret = client->stream != NULL && client->pid == process_generation ();
  g_mutex_unlock (&client->lock);
  complete_tasks (done);
  return ret;
}
