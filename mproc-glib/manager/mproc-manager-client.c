/* mproc-manager-client.c: a client's connection to the manager's server:
 * the rings, requests and replies, and async calls waited for without a
 * thread
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-client-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-ring-private.h"
#include "mproc-shm-private.h"
#include "mproc-wire-private.h"

#define REPLY_SPIN_USEC        50

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

void
mproc_manager_set_broken_error (GError     **error,
                                const char  *why)
{
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
               _("The manager’s server is gone: %s"), why);
}

MprocManagerConn *
mproc_manager_conn_ref (MprocManagerConn *conn)
{
  g_atomic_ref_count_inc (&conn->ref);
  return conn;
}

void
mproc_manager_conn_unref (MprocManagerConn *conn)
{
  if (!g_atomic_ref_count_dec (&conn->ref))
    return;

  g_clear_pointer (&conn->requests, mproc_ring_free);
  g_clear_pointer (&conn->replies, mproc_ring_free);
  g_clear_pointer (&conn->events, mproc_ring_free);
  g_clear_pointer (&conn->shm, mproc_shm_unref);
  g_clear_pointer (&conn->order, mproc_order_free);
  mproc_clear_fd (&conn->sock);
  g_clear_error (&conn->broken);
  g_clear_pointer (&conn->watchers, g_ptr_array_unref);
  g_clear_pointer (&conn->waiters, g_hash_table_unref);
  g_clear_pointer (&conn->async_polls, g_hash_table_unref);
  g_mutex_clear (&conn->reply_lock);
  g_cond_clear (&conn->reply_cond);
  g_mutex_clear (&conn->call_lock);
  g_mutex_clear (&conn->state_lock);
  g_mutex_clear (&conn->event_read_lock);
  g_free (conn);
}

static void async_poll_free (gpointer data);

MprocManagerConn *
mproc_manager_conn_new (GPid server_pid)
{
  MprocManagerConn *conn = g_new0 (MprocManagerConn, 1);

  g_atomic_ref_count_init (&conn->ref);
  conn->pid = getpid ();
  conn->sock = -1;
  conn->server_pid = server_pid;
  g_mutex_init (&conn->call_lock);
  g_mutex_init (&conn->state_lock);
  g_mutex_init (&conn->event_read_lock);
  g_mutex_init (&conn->reply_lock);
  g_cond_init (&conn->reply_cond);
  conn->watchers = g_ptr_array_new ();
  conn->waiters = g_hash_table_new (g_int64_hash, g_int64_equal);
  conn->async_polls = g_hash_table_new_full (NULL, NULL, NULL, async_poll_free);
  return conn;
}

/* "unix:abstract=NAME" or "unix:path=PATH" */
gboolean
mproc_manager_parse_address (const char          *address,
                             struct sockaddr_un  *sun,
                             socklen_t           *len,
                             GError             **error)
{
  const char *name;
  gsize n;

  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;

  if (g_str_has_prefix (address, "unix:abstract="))
    {
      name = address + strlen ("unix:abstract=");
      n = strlen (name);
      if (n == 0 || n + 1 > sizeof sun->sun_path)
        goto bad;
      memcpy (sun->sun_path + 1, name, n);
      *len = offsetof (struct sockaddr_un, sun_path) + 1 + n;
      return TRUE;
    }
  if (g_str_has_prefix (address, "unix:path="))
    {
      name = address + strlen ("unix:path=");
      n = strlen (name);
      if (n == 0 || n + 1 > sizeof sun->sun_path)
        goto bad;
      memcpy (sun->sun_path, name, n);
      *len = offsetof (struct sockaddr_un, sun_path) + n + 1;
      return TRUE;
    }

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Unsupported manager address “%s”"), address);
  return FALSE;
}

static gboolean
check_peer (int       sock,
            GPid     *peer_pid,
            GError  **error)
{
  struct ucred cred;
  socklen_t len = sizeof cred;

  if (getsockopt (sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot identify the manager’s server: %s"), g_strerror (errsv));
      return FALSE;
    }
  if (cred.uid != getuid ())
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                   _("The manager’s server belongs to another user (uid %u)"), (guint) cred.uid);
      return FALSE;
    }
  if (peer_pid != NULL)
    *peer_pid = cred.pid;
  return TRUE;
}

void
mproc_manager_prefix_connect_error (GError     **error,
                                    const char  *address)
{
  if (error != NULL && *error != NULL && (*error)->domain == MPROC_ERROR &&
      (*error)->code == MPROC_ERROR_CLOSED)
    (*error)->code = MPROC_ERROR_BROKEN;
  g_prefix_error (error, _("Cannot connect to the manager at “%s”: "), address);
}

GVariant *
mproc_manager_parse_welcome (GVariant    *reply,
                             const char  *address,
                             const char  *body_type,
                             GError     **error)
{
  g_autoptr(GVariant) body = NULL;
  const char *status;

  if (g_variant_is_of_type (reply, G_VARIANT_TYPE ("(sv)")))
    {
      g_variant_get (reply, "(&sv)", &status, &body);
      if (g_str_equal (status, "error") && g_variant_is_of_type (body, G_VARIANT_TYPE ("(us)")))
        {
          guint32 code;
          const char *message;

          g_variant_get (body, "(u&s)", &code, &message);
          g_set_error (error, MPROC_ERROR, code, _("The manager at “%s” refused the connection: %s"),
                       address, message);
          return NULL;
        }
      if (g_str_equal (status, "ok") && g_variant_is_of_type (body, G_VARIANT_TYPE (body_type)))
        return g_steal_pointer (&body);
    }
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("The manager at “%s” sent a malformed reply"), address);
  return NULL;
}

/* Connects to the unix socket at @address, checks its owner and says
 * hello: the socket, or -1 with @error. */
static int
conn_connect_unix (const char    *address,
                   GCancellable  *cancellable,
                   GError       **error)
{
  g_auto(MprocFd) sock = -1;
  struct sockaddr_un sun;
  socklen_t len;

  if (!mproc_manager_parse_address (address, &sun, &len, error))
    return -1;

  sock = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect (sock, (struct sockaddr *) &sun, len) < 0)
    {
      int errsv = errno;

      if (errsv == ECONNREFUSED || errsv == ENOENT)
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                     _("No manager is listening at “%s”"), address);
      else
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                     _("Cannot connect to the manager at “%s”: %s"), address, g_strerror (errsv));
      return -1;
    }
  if (!check_peer (sock, NULL, error))
    return -1;

  if (!mproc_wire_send_value (sock, g_variant_new ("(su)", MPROC_MANAGER_PROTOCOL, (guint32) getpid ()),
                              NULL, 0, cancellable, error))
    {
      g_prefix_error (error, _("Cannot connect to the manager at “%s”: "), address);
      return -1;
    }
  return g_steal_fd (&sock);
}

/* Reads the server's welcome on @sock (readable) and maps the rings it
 * hands over: the connection, which takes @sock, or NULL with @error. */
static MprocManagerConn *
conn_welcome_unix (const char    *address,
                   int            sock_in,
                   GError       **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  g_auto(MprocFd) sock = sock_in;
  guint64 size;
  gint32 h_shm, h_ev[3], h_order, slot;
  GPid server_pid = 0;
  MprocManagerConn *conn;
  int shm_fd;

  reply = mproc_wire_recv_value (sock, fds, 4096, NULL, error);
  if (reply == NULL)
    {
      mproc_manager_prefix_connect_error (error, address);
      return NULL;
    }
  body = mproc_manager_parse_welcome (reply, address, "(tuhhhhhi)", error);
  if (body == NULL)
    return NULL;
  /* SO_PEERCRED names whoever called listen(): the server says who it is */
  g_variant_get (body, "(tuhhhhhi)", &size, &server_pid, &h_shm, &h_ev[0], &h_ev[1], &h_ev[2],
                 &h_order, &slot);
  if (h_shm < 0 || (guint) h_shm >= fds->len || h_order < 0 || (guint) h_order >= fds->len ||
      h_order == h_shm)
    goto malformed;
  for (guint i = 0; i < 3; i++)
    if (h_ev[i] < 0 || (guint) h_ev[i] >= fds->len)
      goto malformed;

  conn = mproc_manager_conn_new (server_pid);

  shm_fd = g_array_index (fds, int, h_shm);
  g_array_index (fds, int, h_shm) = -1;
  /* consumes shm_fd, on failure too */
  conn->shm = mproc_shm_new_from_fd (shm_fd, size, error);
  if (conn->shm == NULL)
    {
      mproc_manager_conn_unref (conn);
      return NULL;
    }
  {
    gsize offsets[3];
    MprocRing **rings[3] = { &conn->requests, &conn->replies, &conn->events };
    const guint64 *layout = mproc_shm_get_data (conn->shm);

    /* the first 64 bytes describe the layout: three offsets */
    for (guint i = 0; i < 3; i++)
      {
        offsets[i] = layout[i];
        if (offsets[i] < 64 || offsets[i] >= size)
          {
            mproc_manager_conn_unref (conn);
            goto malformed;
          }
        *rings[i] = mproc_ring_new (conn->shm, offsets[i], g_array_index (fds, int, h_ev[i]), error);
        if (*rings[i] == NULL)
          {
            mproc_manager_conn_unref (conn);
            return NULL;
          }
      }
  }
  conn->order = mproc_order_new_from_fd (g_array_index (fds, int, h_order), slot, error);
  g_array_index (fds, int, h_order) = -1;
  if (conn->order == NULL)
    {
      mproc_manager_conn_unref (conn);
      return NULL;
    }
  conn->sock = g_steal_fd (&sock);
  return conn;

malformed:
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("The manager at “%s” sent a malformed reply"), address);
  return NULL;
}

MprocManagerConn *
mproc_manager_conn_open (const char    *address,
                         GBytes        *authkey,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_auto(MprocFd) sock = -1;

  if (g_str_has_prefix (address, "tcp:"))
    return mproc_manager_conn_open_tcp (address, authkey, cancellable, error);
  sock = conn_connect_unix (address, cancellable, error);
  if (sock < 0)
    return NULL;
  if (!mproc_fd_wait (sock, G_IO_IN, g_get_monotonic_time () + MPROC_MANAGER_CONNECT_TIMEOUT_USEC,
                      cancellable, error))
    {
      g_prefix_error (error, _("Cannot connect to the manager at “%s”: "), address);
      return NULL;
    }
  return conn_welcome_unix (address, g_steal_fd (&sock), error);
}

typedef struct
{
  char *address;
  int   sock;
} OpenData;

static void
open_data_free (gpointer data)
{
  OpenData *od = data;

  g_free (od->address);
  mproc_clear_fd (&od->sock);
  g_free (od);
}

static void
open_welcome_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  OpenData *od = g_task_get_task_data (task);
  GError *error = NULL;
  MprocManagerConn *conn;

  if (!mproc_fd_wait_finish (result, &error))
    {
      g_prefix_error (&error, _("Cannot connect to the manager at “%s”: "), od->address);
      g_task_return_error (task, error);
      return;
    }
  conn = conn_welcome_unix (od->address, g_steal_fd (&od->sock), &error);
  if (conn != NULL)
    g_task_return_pointer (task, conn, (GDestroyNotify) mproc_manager_conn_unref);
  else
    g_task_return_error (task, error);
}

/* The async form of mproc_manager_conn_open(): the welcome (unix) or the
 * challenge-response (TCP) is waited for from the caller's main context,
 * without a thread. */
void
mproc_manager_conn_open_async (const char          *address,
                               GBytes              *authkey,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;
  OpenData *od;
  int sock;

  g_task_set_source_tag (task, mproc_manager_conn_open_async);
  if (g_str_has_prefix (address, "tcp:"))
    {
      mproc_manager_conn_open_tcp_async (address, authkey, task);
      return;
    }
  /* a unix connect() and a short hello do not wait for the server */
  sock = conn_connect_unix (address, cancellable, &error);
  if (sock < 0)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  od = g_new0 (OpenData, 1);
  od->address = g_strdup (address);
  od->sock = sock;
  g_task_set_task_data (task, od, open_data_free);
  mproc_fd_wait_async (sock, G_IO_IN, g_get_monotonic_time () + MPROC_MANAGER_CONNECT_TIMEOUT_USEC,
                       NULL, cancellable, open_welcome_cb, task);
}

MprocManagerConn *
mproc_manager_conn_open_finish (GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_conn_open_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Marks @conn broken with a copy of @error (the first one wins). */
void
mproc_manager_conn_fail (MprocManagerConn *conn,
                         const GError     *error)
{
  g_mutex_lock (&conn->state_lock);
  if (conn->broken == NULL)
    conn->broken = g_error_copy (error);
  g_mutex_unlock (&conn->state_lock);
}

gboolean
mproc_manager_conn_check (MprocManagerConn  *conn,
                          GError           **error)
{
  gboolean ok;

  g_mutex_lock (&conn->state_lock);
  ok = conn->broken == NULL;
  if (!ok)
    g_propagate_error (error, g_error_copy (conn->broken));
  g_mutex_unlock (&conn->state_lock);
  return ok;
}

static guint64
send_time (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* Waits a little for a reply before sleeping in the ring.  Spinning only
 * pays when the server runs on another CPU; when the scheduler has put both
 * on one CPU, a pure spin would burn our time slice while the server waits
 * for it, so after a short pause loop each round yields the CPU (which
 * returns at once when nobody else wants it). */
static void
spin_for_reply (MprocRing *ring)
{
  static int n_cpus = 0;
  gint64 end;

  if (n_cpus == 0)
    g_atomic_int_set (&n_cpus, (int) g_get_num_processors ());
  if (n_cpus < 2)
    return;

  for (guint i = 0; i < 64; i++)
    {
      if (mproc_ring_has_data (ring))
        return;
      mproc_cpu_relax ();
    }
  end = g_get_monotonic_time () + REPLY_SPIN_USEC;
  while (!mproc_ring_has_data (ring) && g_get_monotonic_time () < end)
    sched_yield ();
}

/* --- Replies ---------------------------------------------------------------
 *
 * Several calls of one process may wait for replies at once (threads, and
 * async calls waiting from main contexts).  Each registers a Waiter under
 * its serial before its request is sent.  One of them at a time reads the
 * reply ring (conn->reading) and hands every reply to its waiter: a
 * blocking caller is woken (reply_cond), an async call's GTask is returned
 * (the callback then runs in its own context).  A blocking caller reads
 * itself when nobody else does; async calls are read for by one GSource
 * per connection and main context (AsyncPoll), which waits on the ring
 * without any thread.  A reply nobody waits for (its call was cancelled)
 * is dropped. */

typedef struct
{
  guint64       serial;
  gboolean      done;
  guint32       status;
  GVariant     *value;
  GArray       *fds;
  GError       *error;
  GTask        *task;        /* async */
  GMainContext *context;     /* async: its AsyncPoll */
  GCancellable *cancellable; /* async */
  gulong        cancel_id;
  GArray       *fds_out;     /* async: the reply's fds go there (the task holds it) */
} Waiter;

typedef struct
{
  MprocManagerConn *conn;
  GMainContext     *context;
  GObject          *owner;         /* the poll's GTask source: holds @conn */
  GCancellable     *cancellable;
  guint             n_waiting;     /* async waiters of this context (reply_lock) */
  gboolean          armed;
} AsyncPoll;

static void
waiter_free (Waiter *w)
{
  g_clear_pointer (&w->value, g_variant_unref);
  if (w->fds != NULL)
    {
      mproc_fd_array_close_all (w->fds);
      g_array_unref (w->fds);
    }
  g_clear_error (&w->error);
  g_clear_object (&w->task);
  g_clear_pointer (&w->context, g_main_context_unref);
  g_clear_object (&w->cancellable);
  g_free (w);
}

static void
async_poll_free (gpointer data)
{
  AsyncPoll *p = data;

  g_clear_object (&p->cancellable);
  g_clear_object (&p->owner);
  g_main_context_unref (p->context);
  g_free (p);
}

/* Converts a waiter's outcome; takes the reply's fds into @fds_out. */
static gboolean
waiter_result (Waiter    *w,
               GVariant **reply,
               GArray    *fds_out,
               GError   **error)
{
  if (w->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&w->error));
      return FALSE;
    }
  if (w->status != 0)
    {
      /* status: error code + 1 */
      g_set_error_literal (error, MPROC_ERROR, w->status - 1,
                           g_variant_is_of_type (w->value, G_VARIANT_TYPE_STRING) ?
                           g_variant_get_string (w->value, NULL) : _("Unknown error"));
      return FALSE;
    }
  if (fds_out != NULL && w->fds != NULL)
    {
      g_array_append_vals (fds_out, w->fds->data, w->fds->len);
      for (guint i = 0; i < w->fds->len; i++)
        g_array_index (w->fds, int, i) = -1;
    }
  *reply = g_steal_pointer (&w->value);
  return TRUE;
}

/* With reply_lock: @w is done; async ones go to @completed. */
static void
waiter_done (MprocManagerConn *conn,
             Waiter           *w,
             GPtrArray        *completed)
{
  w->done = TRUE;
  if (w->task != NULL)
    {
      AsyncPoll *p = g_hash_table_lookup (conn->async_polls, w->context);

      if (p != NULL && p->n_waiting > 0)
        p->n_waiting--;
      g_ptr_array_add (completed, w);
    }
}

/* With reply_lock: every waiter fails with @error (the connection broke). */
static void
conn_fail_waiters (MprocManagerConn *conn,
                   const GError     *error,
                   GPtrArray        *completed)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, conn->waiters);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Waiter *w = value;

      w->error = g_error_copy (error);
      g_hash_table_iter_steal (&iter);
      waiter_done (conn, w, completed);
    }
  g_cond_broadcast (&conn->reply_cond);
}

/* With reply_lock: hands one reply (or a read error) to its waiter. */
static void
conn_route (MprocManagerConn *conn,
            GBytes           *bytes,
            GArray           *fds,
            GError           *read_error,
            GPtrArray        *completed)
{
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GError) local_error = NULL;
  guint64 serial;
  Waiter *w;

  if (bytes == NULL)
    {
      if (g_error_matches (read_error, MPROC_ERROR, MPROC_ERROR_EMPTY) ||
          g_error_matches (read_error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
          g_error_matches (read_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
        return;
      local_error = g_error_copy (read_error);
    }
  else
    {
      message = mproc_wire_decode (bytes, NULL);
      if (message == NULL || !g_variant_is_of_type (message, G_VARIANT_TYPE ("(tuv)")))
        local_error = g_error_new_literal (MPROC_ERROR, MPROC_ERROR_BROKEN,
                                           _("The manager’s server sent a malformed reply"));
    }
  if (local_error != NULL)
    {
      /* the stream cannot be trusted any more: every call fails */
      local_error->domain = MPROC_ERROR;
      local_error->code = MPROC_ERROR_BROKEN;
      mproc_manager_conn_fail (conn, local_error);
      conn_fail_waiters (conn, local_error, completed);
      return;
    }

  g_variant_get_child (message, 0, "t", &serial);
  if (!g_hash_table_steal_extended (conn->waiters, &serial, NULL, (gpointer *) &w))
    {
      mproc_fd_array_close_all (fds);
      return;   /* abandoned */
    }
  g_variant_get (message, "(tuv)", NULL, &w->status, &w->value);
  w->fds = mproc_fd_array_new ();
  g_array_append_vals (w->fds, fds->data, fds->len);
  for (guint i = 0; i < fds->len; i++)
    g_array_index (fds, int, i) = -1;
  waiter_done (conn, w, completed);
  g_cond_broadcast (&conn->reply_cond);
}

/* Outside reply_lock: returns the GTasks of async waiters that are done. */
static void
complete_async (GPtrArray *completed)
{
  for (guint i = 0; i < completed->len; i++)
    {
      Waiter *w = completed->pdata[i];
      GTask *task = g_steal_pointer (&w->task);
      GVariant *reply = NULL;
      GError *error = NULL;

      if (w->cancel_id != 0)
        g_cancellable_disconnect (w->cancellable, w->cancel_id);
      if (waiter_result (w, &reply, w->fds_out, &error))
        g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
      else
        g_task_return_error (task, error);
      g_object_unref (task);
      waiter_free (w);
    }
  g_ptr_array_set_size (completed, 0);
}

/* Registers a waiter for the next serial (with call_lock). */
static Waiter *
conn_add_waiter (MprocManagerConn *conn)
{
  Waiter *w = g_new0 (Waiter, 1);

  w->serial = ++conn->next_serial;
  g_mutex_lock (&conn->reply_lock);
  g_hash_table_insert (conn->waiters, &w->serial, w);
  g_mutex_unlock (&conn->reply_lock);
  return w;
}

/* Forgets @w, whose call ended without its reply (it may come later and is
 * then dropped).  Returns FALSE if the reply came meanwhile. */
static gboolean
conn_abandon (MprocManagerConn *conn,
              Waiter           *w)
{
  gboolean ret;

  g_mutex_lock (&conn->reply_lock);
  ret = !w->done && g_hash_table_steal (conn->waiters, &w->serial);
  g_mutex_unlock (&conn->reply_lock);
  return ret;
}

/* Reads one reply: from the ring, or over TCP a frame from the socket.
 * @timeout 0: MPROC_ERROR_EMPTY at once if none is there; -1: waits
 * (until @cancellable). */
static GBytes *
conn_read_reply (MprocManagerConn  *conn,
                 GArray            *fds,
                 gint64             timeout,
                 GCancellable      *cancellable,
                 GError           **error)
{
  if (conn->replies != NULL)
    {
      if (timeout != 0)
        spin_for_reply (conn->replies);
      return mproc_ring_get (conn->replies, conn->sock, fds, timeout, cancellable, error);
    }
  return mproc_manager_tcp_read_reply (conn, timeout, cancellable, error);
}

/* Blocks until @w is done: reads the replies while nobody else does. */
static void
conn_wait (MprocManagerConn *conn,
           Waiter           *w,
           GCancellable     *cancellable)
{
  g_autoptr(GPtrArray) completed = g_ptr_array_new ();

  g_mutex_lock (&conn->reply_lock);
  while (!w->done)
    {
      if (g_cancellable_is_cancelled (cancellable))
        break;
      if (!conn->reading)
        {
          g_autoptr(GArray) fds = mproc_fd_array_new ();
          g_autoptr(GBytes) bytes = NULL;
          g_autoptr(GError) read_error = NULL;

          conn->reading = TRUE;
          g_mutex_unlock (&conn->reply_lock);
          bytes = conn_read_reply (conn, fds, -1, cancellable, &read_error);
          g_mutex_lock (&conn->reply_lock);
          conn->reading = FALSE;
          conn_route (conn, bytes, fds, read_error, completed);
          g_cond_broadcast (&conn->reply_cond);
        }
      else
        g_cond_wait_until (&conn->reply_cond, &conn->reply_lock,
                           g_get_monotonic_time () + 10 * G_TIME_SPAN_MILLISECOND);
      if (completed->len > 0)
        {
          g_mutex_unlock (&conn->reply_lock);
          complete_async (completed);
          g_mutex_lock (&conn->reply_lock);
        }
    }
  g_mutex_unlock (&conn->reply_lock);
}

/* Puts one request in the ring (with call_lock). */
static gboolean
conn_send (MprocManagerConn  *conn,
           GVariant          *request,
           const int         *fds,
           guint              n_fds,
           gboolean           pipelined,
           GCancellable      *cancellable,
           GError           **error)
{
  if (conn->requests == NULL)
    {
      /* TCP: a frame on the socket, without fds */
      if (n_fds > 0)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                               _("This operation is not available over TCP"));
          return FALSE;
        }
      if (!mproc_wire_send_value (conn->sock, request, NULL, 0, cancellable, error))
        return FALSE;
    }
  else if (!mproc_ring_put (conn->requests, request, NULL, conn->sock, fds, n_fds, -1, cancellable, error))
    return FALSE;
  else
    mproc_order_sent (conn->order);
  if (pipelined)
    {
      gint64 now = g_get_monotonic_time ();

      /* a pipelined write notices a dead server within a millisecond */
      if (now - conn->last_hup_check > MPROC_MANAGER_HUP_CHECK_USEC)
        {
          conn->last_hup_check = now;
          if (mproc_ring_sock_hup (conn->sock))
            {
              mproc_manager_set_broken_error (error, _("the connection was closed"));
              return FALSE;
            }
        }
    }
  return TRUE;
}

void
mproc_manager_conn_fail_error (MprocManagerConn *conn,
                               GError           *local_error)
{
  if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_BROKEN) ||
      g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_CLOSED) ||
      g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE))
    {
      local_error->domain = MPROC_ERROR;
      local_error->code = MPROC_ERROR_BROKEN;
      mproc_manager_conn_fail (conn, local_error);
    }
}

GVariant *
mproc_manager_conn_request (guint     op,
                            guint64   object,
                            guint64   serial,
                            GVariant *args)
{
  /* the send time orders this request with those of other processes */
  return g_variant_ref_sink (g_variant_new ("(uttt@v)", op, object, serial, send_time (),
                                            g_variant_new_variant (args)));
}

/* One exchange. @reply NULL: pipelined.  @fds_out receives the reply's
 * fds. */
gboolean
mproc_manager_conn_call (MprocManagerConn  *conn,
                         guint              op,
                         guint64            object,
                         GVariant          *args,
                         const int         *fds,
                         guint              n_fds,
                         GVariant         **reply,
                         GArray            *fds_out,
                         GCancellable      *cancellable,
                         GError           **error)
{
  g_autoptr(GVariant) request = NULL;
  GError *local_error = NULL;
  Waiter *w = NULL;
  gboolean ret;

  g_mutex_lock (&conn->call_lock);
  if (!mproc_manager_conn_check (conn, error))
    {
      g_mutex_unlock (&conn->call_lock);
      return FALSE;
    }
  if (reply != NULL)
    w = conn_add_waiter (conn);
  request = mproc_manager_conn_request (op, object, w != NULL ? w->serial : 0, args);
  ret = conn_send (conn, request, fds, n_fds, reply == NULL, cancellable, &local_error);
  g_mutex_unlock (&conn->call_lock);

  if (!ret)
    {
      /* the request could not be sent */
      if (w != NULL && conn_abandon (conn, w))
        waiter_free (w);
      mproc_manager_conn_fail_error (conn, local_error);
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (w == NULL)
    return TRUE;

  conn_wait (conn, w, cancellable);
  if (!w->done && conn_abandon (conn, w))
    {
      g_cancellable_set_error_if_cancelled (cancellable, error);
      ret = FALSE;
    }
  else
    ret = waiter_result (w, reply, fds_out, error);   /* a broken conn is marked by conn_route() */
  waiter_free (w);
  return ret;
}

/* --- Async calls --------------------------------------------------------- */

static void async_poll_arm (AsyncPoll *p);

static void
async_poll_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncPoll *p = user_data;
  MprocManagerConn *conn = p->conn;
  g_autoptr(GPtrArray) completed = g_ptr_array_new ();
  gboolean again;

  if (p->conn->replies != NULL)
    mproc_ring_poll_finish (result, NULL);
  else
    mproc_fd_wait_finish (result, NULL);

  g_mutex_lock (&conn->reply_lock);
  if (!conn->reading)
    {
      /* read everything there is (never blocking: we are in a main loop) */
      conn->reading = TRUE;
      for (;;)
        {
          g_autoptr(GArray) fds = mproc_fd_array_new ();
          g_autoptr(GBytes) bytes = NULL;
          g_autoptr(GError) read_error = NULL;

          g_mutex_unlock (&conn->reply_lock);
          bytes = conn_read_reply (conn, fds, 0, NULL, &read_error);
          g_mutex_lock (&conn->reply_lock);
          if (bytes == NULL && g_error_matches (read_error, MPROC_ERROR, MPROC_ERROR_EMPTY) &&
              mproc_ring_sock_hup (conn->sock))
            {
              g_clear_error (&read_error);
              mproc_manager_set_broken_error (&read_error, _("the connection was closed"));
            }
          conn_route (conn, bytes, fds, read_error, completed);
          if (bytes == NULL)
            break;
        }
      conn->reading = FALSE;
      g_cond_broadcast (&conn->reply_cond);
    }
  p->armed = again = p->n_waiting > 0;
  /* an idle poll goes: it holds the connection */
  if (!again)
    g_hash_table_steal (conn->async_polls, p->context);
  g_mutex_unlock (&conn->reply_lock);

  complete_async (completed);
  if (again)
    async_poll_arm (p);
  else
    async_poll_free (p);
}

/* In @p's context: waits for replies without a thread. */
static void
async_poll_arm (AsyncPoll *p)
{
  g_main_context_push_thread_default (p->context);
  if (p->conn->replies != NULL)
    mproc_ring_poll_async (p->conn->replies, p->owner, p->conn->sock, -1, p->cancellable,
                           async_poll_cb, p);
  else
    mproc_fd_wait_async (p->conn->sock, G_IO_IN, -1, p->owner, p->cancellable, async_poll_cb, p);
  g_main_context_pop_thread_default (p->context);
}

typedef struct
{
  MprocManagerConn *conn;
  guint64           serial;
  GMainContext     *context;
} CancelData;

static void
cancel_data_free (gpointer data)
{
  CancelData *cd = data;

  mproc_manager_conn_unref (cd->conn);
  g_main_context_unref (cd->context);
  g_free (cd);
}

/* In the call's context: ends it with CANCELLED unless its reply came. */
static gboolean
async_cancel_idle (gpointer data)
{
  CancelData *cd = data;
  g_autoptr(GPtrArray) completed = g_ptr_array_new ();
  Waiter *w;

  g_mutex_lock (&cd->conn->reply_lock);
  if (g_hash_table_steal_extended (cd->conn->waiters, &cd->serial, NULL, (gpointer *) &w))
    {
      w->error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, _("Operation was cancelled"));
      waiter_done (cd->conn, w, completed);
    }
  g_mutex_unlock (&cd->conn->reply_lock);
  complete_async (completed);
  return G_SOURCE_REMOVE;
}

static void
async_cancelled_cb (GCancellable *cancellable,
                    gpointer      user_data)
{
  CancelData *cd = user_data;
  CancelData *copy = g_new0 (CancelData, 1);
  GSource *source;

  /* any thread: the waiter is ended from its own context, always later
   * (g_main_context_invoke() could run it here, in the ::cancelled
   * emission, whose g_cancellable_disconnect() in complete_async() would
   * then wait for itself) */
  copy->conn = mproc_manager_conn_ref (cd->conn);
  copy->serial = cd->serial;
  copy->context = g_main_context_ref (cd->context);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, async_cancel_idle, copy, cancel_data_free);
  g_source_set_static_name (source, "[mproc] cancelled manager call");
  g_source_attach (source, copy->context);
  g_source_unref (source);
}

/* The async form of mproc_manager_conn_call() on the ring: the request
 * is put at once (a pipelined one completes then), the reply is waited for
 * by the AsyncPoll of the caller's context.  The task's value is the
 * reply. */
void
mproc_manager_conn_call_async (MprocManagerConn *conn,
                               guint             op,
                               guint64           object,
                               GVariant         *args,
                               const int        *fds,
                               guint             n_fds,
                               gboolean          want_reply,
                               GArray           *fds_out,
                               GTask            *task)
{
  g_autoptr(GVariant) request = NULL;
  g_autoptr(GPtrArray) completed = g_ptr_array_new ();
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  AsyncPoll *p;
  Waiter *w = NULL;
  gboolean arm = FALSE;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_mutex_lock (&conn->call_lock);
  if (!mproc_manager_conn_check (conn, &error))
    {
      g_mutex_unlock (&conn->call_lock);
      g_task_return_error (task, error);
      return;
    }
  if (want_reply)
    {
      w = g_new0 (Waiter, 1);
      w->serial = ++conn->next_serial;
      w->task = g_object_ref (task);
      w->fds_out = fds_out;
      w->context = g_main_context_ref (g_task_get_context (task));
      if (cancellable != NULL)
        {
          CancelData *cd = g_new0 (CancelData, 1);

          cd->conn = mproc_manager_conn_ref (conn);
          cd->serial = w->serial;
          cd->context = g_main_context_ref (w->context);
          w->cancellable = g_object_ref (cancellable);
          w->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (async_cancelled_cb), cd,
                                                cancel_data_free);
        }
      g_mutex_lock (&conn->reply_lock);
      g_hash_table_insert (conn->waiters, &w->serial, w);
      p = g_hash_table_lookup (conn->async_polls, w->context);
      if (p == NULL)
        {
          p = g_new0 (AsyncPoll, 1);
          p->conn = conn;
          p->context = g_main_context_ref (w->context);
          /* the poll keeps the connection (and so the ring) alive */
          p->owner = g_object_new (G_TYPE_OBJECT, NULL);
          g_object_set_data_full (p->owner, "mproc-manager-conn", mproc_manager_conn_ref (conn),
                                  (GDestroyNotify) mproc_manager_conn_unref);
          p->cancellable = g_cancellable_new ();
          g_hash_table_insert (conn->async_polls, p->context, p);
        }
      p->n_waiting++;
      if (!p->armed)
        p->armed = arm = TRUE;
      g_mutex_unlock (&conn->reply_lock);
    }
  request = mproc_manager_conn_request (op, object, w != NULL ? w->serial : 0, args);
  /* the ring has room unless the server is far behind: a put does not wait */
  if (!conn_send (conn, request, fds, n_fds, !want_reply, NULL, &error))
    {
      g_mutex_unlock (&conn->call_lock);
      mproc_manager_conn_fail_error (conn, error);
      if (w != NULL)
        {
          g_mutex_lock (&conn->reply_lock);
          if (g_hash_table_steal (conn->waiters, &w->serial))
            {
              w->error = g_error_copy (error);
              waiter_done (conn, w, completed);
            }
          g_mutex_unlock (&conn->reply_lock);
          complete_async (completed);
          g_error_free (error);
        }
      else
        g_task_return_error (task, error);
      if (arm)
        async_poll_arm (p);
      return;
    }
  g_mutex_unlock (&conn->call_lock);

  if (w == NULL)
    {
      g_task_return_pointer (task, g_variant_ref_sink (g_variant_new ("()")), (GDestroyNotify) g_variant_unref);
      return;
    }
  if (arm)
    async_poll_arm (p);
}

