/* mproc-manager.c: a server process that owns shared state (the public
 * object; its clients' connections are in mproc-manager-client.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-client-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-transport-private.h"
#include "mproc-process.h"
#include "mproc-ring-private.h"
#include "mproc-shareable-private.h"
#include "mproc-wire-private.h"


/**
 * MprocManager:
 *
 * A server process that owns shared state, like Python's
 * `multiprocessing.Manager()`: dictionaries (#MprocDict), lists
 * (#MprocList) and namespaces (#MprocNamespace) whose values are #GVariant
 * values, plus any shared object (#MprocQueue, #MprocLock, #MprocEvent…)
 * published under a name, so that processes that only know the manager's
 * address can find it.
 *
 * **C**
 *
 * |[<!-- language="C" -->
 * g_autoptr(MprocManager) manager = mproc_manager_new ();
 * g_autoptr(MprocDict) dict = NULL;
 *
 * if (!mproc_manager_start (manager, NULL, &error))
 *   return FALSE;
 * dict = mproc_dict_new (manager, NULL, NULL, &error);
 * mproc_dict_set (dict, g_variant_new_int32 (1), g_variant_new_int32 (2), NULL, &error);
 * ]|
 *
 * [method@Mproc.Manager.start] runs the server as a child process (the built-in
 * target `mproc-manager-server`, under the start method of the manager's
 * #MprocContext). Like every child, the server dies with the process that
 * started it; [method@Mproc.Manager.shutdown] (or dropping the last reference to
 * the manager in that process) stops it earlier.
 *
 * #MprocManager is a #GInitable and a #GAsyncInitable: their init starts
 * the server unless it runs already (started, connected, or made for a
 * URI), so g_async_initable_new_async() with %MPROC_TYPE_MANAGER makes a
 * started manager without blocking; [ctor@Mproc.Manager.new] and
 * g_object_new() make one that waits for [method@Mproc.Manager.start].
 * Likewise #MprocDict, #MprocList and #MprocNamespace take their
 * #MprocDict:manager and #MprocDict:name at construction and are found or
 * created on the server by their init (one round trip), or on their first
 * call when made with g_object_new() alone.
 *
 * ## Addresses and security
 *
 * The server listens on a unix socket with an abstract name, given by
 * [method@Mproc.Manager.get_address] as a D-Bus style address
 * (`unix:abstract=mproc-manager-…`): an abstract socket leaves no file
 * behind, even when the server is killed. Both sides check the other's user
 * id (`SO_PEERCRED`): a process of another user is refused with
 * %MPROC_ERROR_ACCESS_DENIED. Values are #GVariant values checked to be in
 * normal form; nothing a client sends is ever executed. A malformed request
 * gets an error reply and the server goes on serving everyone.
 *
 * Other machines can be let in over TCP with [method@Mproc.Manager.listen_tcp],
 * which requires an authkey ([method@Mproc.Manager.set_authkey]): a client
 * connects with [func@Mproc.Manager.connect_with_authkey] after an HMAC-SHA256
 * challenge-response both ways, as in Python, and a client with a wrong
 * or missing key is refused with %MPROC_ERROR_ACCESS_DENIED before it can
 * send any request.
 *
 * Any process of the same user, a child or an unrelated program, connects
 * with [func@Mproc.Manager.connect]. A manager can also be handed to a child
 * with [method@Mproc.Process.add_object]: the child gets a manager connected to
 * the same server.
 *
 * ## Transport
 *
 * One request/reply over a socket per operation costs two cross-CPU
 * wake-ups (about 30 µs), which would be no faster than Python. Instead,
 * each client gets three message rings in shared memory from the server
 * (requests, replies, notifications); the server serves each client's
 * requests in order from a thread of its own that spins briefly while the
 * client is busy, and the client spins briefly for its reply, so a
 * request/reply costs no system call while both are busy. Writes that
 * cannot fail ([method@Mproc.Dict.set], [method@Mproc.List.append]…) are pipelined: they
 * return once the request is in the ring, and every later request of the
 * same process sees their effect. The socket only carries the connection
 * set-up and the file descriptors of published objects, and its hang-up is
 * how each side learns that the other is gone.
 *
 * Reads need no round trip at all: the server publishes the state of each
 * dictionary and namespace that a client reads in shared memory that
 * clients map read-only, and [method@Mproc.Dict.get], [method@Mproc.Dict.contains],
 * [method@Mproc.Dict.len], [method@Mproc.Namespace.get] and [method@Mproc.Namespace.has] read
 * it there, once every write they follow has been applied (this process's
 * own pipelined writes, and any other process's writes that it could have
 * heard of), so they never see the world before their own past. When that
 * takes more than a few microseconds (the server is busy with many
 * writes), they ask the server instead. Lists and everything else, and
 * every call over TCP, are served by the server.
 *
 * ## Async calls without a thread
 *
 * Every `_async` function returns at once and calls its callback in the
 * caller's thread-default main context, and none hides a thread: each
 * waits on #GSource objects of that context, so its main loop keeps
 * running meanwhile.
 *
 * - A call (every #MprocDict, #MprocList and #MprocNamespace call, and
 *   [method@Mproc.Manager.ping_async], [method@Mproc.Manager.publish_async] and
 *   [method@Mproc.Manager.lookup_async]) puts its request in the ring, or over
 *   TCP writes its frame, at once; one #GSource per connection and main
 *   context reads the replies and hands each to its call.
 * - [func@Mproc.Manager.connect_async] and
 *   [func@Mproc.Manager.connect_with_authkey_async] run the handshake in steps
 *   (the peer's user id, or the HMAC challenge-response both ways, then
 *   the rings' file descriptors), each a wait on the socket with a
 *   timeout; a host name is resolved by #GResolver's async lookup.
 * - [method@Mproc.Manager.start_async] starts the server process at once (a
 *   fork, a spawn, or a request to the fork server: none waits for the
 *   child), then connects as above.
 * - [method@Mproc.Manager.shutdown_async] sends its request, then waits for the
 *   server's exit on its pidfd ([method@Mproc.Process.join_async]).
 * - [method@Mproc.Manager.listen_tcp_async] resolves the host name with
 *   #GResolver's async lookup, binds, then sends its request.
 *
 * Their #GCancellable ends the wait with %G_IO_ERROR_CANCELLED.
 *
 * ## Faults
 *
 * When the server dies, every pending and every later call fails with
 * %MPROC_ERROR_BROKEN (within 0.1 s): a pipelined write fails as soon as
 * the death has been noticed, which [method@Mproc.Manager.ping] forces. A client
 * that dies leaves nothing behind in the server.
 *
 * ## Thread safety
 *
 * A manager and its proxies may be used from any thread; calls from the
 * threads of one process are served one at a time, in order. Async methods
 * complete in the thread-default main context of the caller.
 *
 * Since: 0.1
 * Stability: Unstable
 */

#define SHUTDOWN_TIMEOUT_USEC  (5 * G_USEC_PER_SEC)

struct _MprocManager
{
  GObject           parent_instance;

  MprocContext     *context;
  char             *address;
  MprocProcess     *process;           /* the server, in the process that started it */
  GPid              starter_pid;
  int               listen_fd;         /* between bind() and the server's start */
  int               dbus_listen_fd;    /* the same for the D-Bus plane */
  gboolean          shut_down;
  GBytes           *authkey;           /* TCP: to listen, or to connect */
  char             *tcp_address;       /* after mproc_manager_listen_tcp() */

  gint              timeout_ms;        /* each call's limit, -1: none (atomic) */

  GMutex            lock;              /* conn */
  MprocManagerConn *conn;
};

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_CONTEXT,
  PROP_TIMEOUT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_manager_shareable_init (MprocShareableInterface *iface);
static void mproc_manager_initable_init (GInitableIface *iface);
static void mproc_manager_async_initable_init (GAsyncInitableIface *iface);

/* Not final: bindings derive from it (a C subclass has no header to
 * derive from). */
G_DEFINE_TYPE_WITH_CODE (MprocManager, mproc_manager, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE,
                                                mproc_manager_shareable_init)
                         G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE, mproc_manager_initable_init)
                         G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                mproc_manager_async_initable_init))
/* ------------------------------------------------------------------------ */
/* Managers: one per address and process for proxies that arrive in a child */

G_LOCK_DEFINE_STATIC (managers);
static GHashTable *managers_by_address;   /* address -> GWeakRef* */
static GPid        managers_pid;

static void
weak_ref_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
remember_manager (MprocManager *self)
{
  GWeakRef *ref;

  G_LOCK (managers);
  if (managers_by_address == NULL || managers_pid != getpid ())
    {
      /* after fork() the table is the parent's: start afresh (leaked) */
      managers_by_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, weak_ref_free);
      managers_pid = getpid ();
    }
  ref = g_new0 (GWeakRef, 1);
  g_weak_ref_init (ref, self);
  g_hash_table_replace (managers_by_address, g_strdup (self->address), ref);
  G_UNLOCK (managers);
}

/* A manager for @address in this process: the one already there, or a new,
 * not yet connected one. */
MprocManager *
mproc_manager_for_address (const char *address)
{
  MprocManager *manager = NULL;

  G_LOCK (managers);
  if (managers_by_address != NULL && managers_pid == getpid ())
    {
      GWeakRef *ref = g_hash_table_lookup (managers_by_address, address);

      if (ref != NULL)
        manager = g_weak_ref_get (ref);
    }
  G_UNLOCK (managers);

  if (manager == NULL)
    {
      manager = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
      remember_manager (manager);
    }
  return manager;
}

/* The connection of this process, opened on first use (and again in a
 * fork()ed child, whose inherited one belongs to its parent). */
MprocManagerConn *
mproc_manager_get_conn (MprocManager  *self,
                        GCancellable  *cancellable,
                        GError       **error)
{
  MprocManagerConn *conn = NULL;

  g_mutex_lock (&self->lock);
  if (self->conn != NULL && self->conn->pid != getpid ())
    self->conn = NULL;   /* the parent's: leave it alone */
  if (self->conn != NULL && !mproc_manager_conn_check (self->conn, NULL) && self->address != NULL)
    {
      /* broken: only a new connection can work (and usually fails too) */
      MprocManagerConn *fresh = mproc_manager_conn_open (self->address, self->authkey, cancellable, error);

      if (fresh == NULL)
        {
          g_mutex_unlock (&self->lock);
          return NULL;
        }
      mproc_manager_conn_unref (self->conn);
      self->conn = fresh;
    }
  if (self->conn == NULL && self->address != NULL)
    self->conn = mproc_manager_conn_open (self->address, self->authkey, cancellable, error);
  else if (self->address == NULL)
    g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED,
                         _("The manager has not been started"));
  if (self->conn != NULL)
    conn = mproc_manager_conn_ref (self->conn);
  g_mutex_unlock (&self->lock);
  if (conn != NULL)
    g_atomic_int_set (&conn->timeout_ms, g_atomic_int_get (&self->timeout_ms));

  return conn;
}

MprocManagerConn *
mproc_manager_peek_conn (MprocManager *self)
{
  MprocManagerConn *conn = NULL;

  g_mutex_lock (&self->lock);
  if (self->conn != NULL && self->conn->pid == getpid ())
    conn = mproc_manager_conn_ref (self->conn);
  g_mutex_unlock (&self->lock);
  return conn;
}

gboolean
mproc_manager_call_server (MprocManager  *self,
                           guint          op,
                           guint64        object,
                           GVariant      *args,
                           const int     *fds,
                           guint          n_fds,
                           GVariant     **reply,
                           GArray        *fds_out,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(GVariant) sunk = g_variant_take_ref (args != NULL ? args : g_variant_new ("()"));
  MprocManagerConn *conn;
  gboolean ret;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  conn = mproc_manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    return FALSE;
  ret = mproc_manager_conn_call (conn, op, object, sunk, fds, n_fds, reply, fds_out, cancellable, error);
  mproc_manager_conn_unref (conn);
  return ret;
}

/* The async form of mproc_manager_get_conn(): a connection already open
 * at once, else one opened from the caller's main context. */
typedef struct
{
  MprocManager *self;
  GTask        *task;
} GetConn;

static void
get_conn_opened_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocManager *self = g_task_get_source_object (task);
  MprocManagerConn *fresh, *conn;
  GError *error = NULL;

  fresh = mproc_manager_conn_open_finish (result, &error);
  if (fresh == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_mutex_lock (&self->lock);
  if (self->conn != NULL && self->conn->pid != getpid ())
    self->conn = NULL;   /* the parent's: leave it alone */
  if (self->conn != NULL && mproc_manager_conn_check (self->conn, NULL))
    mproc_manager_conn_unref (fresh);   /* another call opened one meanwhile */
  else
    {
      if (self->conn != NULL)
        mproc_manager_conn_unref (self->conn);
      self->conn = fresh;
    }
  conn = mproc_manager_conn_ref (self->conn);
  g_mutex_unlock (&self->lock);
  g_atomic_int_set (&conn->timeout_ms, g_atomic_int_get (&self->timeout_ms));
  g_task_return_pointer (task, conn, (GDestroyNotify) mproc_manager_conn_unref);
}

void
mproc_manager_get_conn_async (MprocManager        *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *address = NULL;
  g_autoptr(GBytes) authkey = NULL;
  MprocManagerConn *conn = NULL;

  g_task_set_source_tag (task, mproc_manager_get_conn_async);
  g_mutex_lock (&self->lock);
  if (self->conn != NULL && self->conn->pid == getpid () && mproc_manager_conn_check (self->conn, NULL))
    conn = mproc_manager_conn_ref (self->conn);
  address = g_strdup (self->address);
  authkey = self->authkey != NULL ? g_bytes_ref (self->authkey) : NULL;
  g_mutex_unlock (&self->lock);

  if (conn != NULL)
    {
      g_atomic_int_set (&conn->timeout_ms, g_atomic_int_get (&self->timeout_ms));
      g_task_return_pointer (task, conn, (GDestroyNotify) mproc_manager_conn_unref);
    }
  else if (address == NULL)
    g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_CLOSED, "%s",
                             _("The manager has not been started"));
  else
    {
      mproc_manager_conn_open_async (address, authkey, cancellable, get_conn_opened_cb, task);
      return;
    }
  g_object_unref (task);
}

MprocManagerConn *
mproc_manager_get_conn_finish (MprocManager  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_get_conn_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct
{
  guint     op;
  guint64   object;
  GVariant *args;
  GArray   *fds;       /* sent with the request, closed after */
  gboolean  want_reply;
  GArray   *fds_out;   /* the reply's */
} ServerCall;

static void
server_call_free (gpointer data)
{
  ServerCall *sc = data;

  g_clear_pointer (&sc->args, g_variant_unref);
  if (sc->fds != NULL)
    {
      mproc_fd_array_close_all (sc->fds);
      g_array_unref (sc->fds);
    }
  if (sc->fds_out != NULL)
    {
      mproc_fd_array_close_all (sc->fds_out);
      g_array_unref (sc->fds_out);
    }
  g_free (sc);
}

static void
server_call_replied_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GVariant *reply = g_task_propagate_pointer (G_TASK (result), &error);

  if (reply != NULL)
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
  else
    g_task_return_error (task, error);
}

static void
server_call_conn_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ServerCall *sc = g_task_get_task_data (task);
  GError *error = NULL;
  MprocManagerConn *conn;
  GTask *inner;

  conn = mproc_manager_get_conn_finish (MPROC_MANAGER (source), result, &error);
  if (conn == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* the outer task keeps @sc (and so fds_out) alive for the inner one */
  inner = g_task_new (source, g_task_get_cancellable (task), server_call_replied_cb, g_object_ref (task));
  mproc_manager_conn_call_async (conn, sc->op, sc->object, sc->args,
                                 sc->fds != NULL ? (const int *) sc->fds->data : NULL,
                                 sc->fds != NULL ? sc->fds->len : 0, sc->want_reply, sc->fds_out, inner);
  g_object_unref (inner);
  mproc_manager_conn_unref (conn);
}

/* The async form of mproc_manager_call_server(): @args floating, owned or
 * NULL; @fds (taken, may be NULL) go with the request. The task's value
 * is the reply ("()" without @want_reply); its fds are taken with
 * mproc_manager_call_server_finish(). No thread: the connection is opened
 * and the reply waited for from the caller's main context. */
void
mproc_manager_call_server_async (MprocManager        *self,
                                 guint                op,
                                 guint64              object,
                                 GVariant            *args,
                                 GArray              *fds,
                                 gboolean             want_reply,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  ServerCall *sc = g_new0 (ServerCall, 1);

  g_task_set_source_tag (task, mproc_manager_call_server_async);
  sc->op = op;
  sc->object = object;
  sc->args = g_variant_take_ref (args != NULL ? args : g_variant_new ("()"));
  sc->fds = fds;
  sc->want_reply = want_reply;
  sc->fds_out = mproc_fd_array_new ();
  g_task_set_task_data (task, sc, server_call_free);
  mproc_manager_get_conn_async (self, cancellable, server_call_conn_cb, task);
}

GVariant *
mproc_manager_call_server_finish (MprocManager  *self,
                                  GAsyncResult  *result,
                                  GArray       **fds_out,
                                  GError       **error)
{
  GVariant *reply;

  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_call_server_async), NULL);

  reply = g_task_propagate_pointer (G_TASK (result), error);
  if (reply != NULL && fds_out != NULL)
    {
      ServerCall *sc = g_task_get_task_data (G_TASK (result));

      *fds_out = g_steal_pointer (&sc->fds_out);
    }
  return reply;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
mproc_manager_dispose (GObject *object)
{
  MprocManager *self = MPROC_MANAGER (object);

  /* the process that started the server stops it (children leave it be) */
  if (self->process != NULL && self->starter_pid == getpid () && !self->shut_down)
    mproc_manager_shutdown (self, NULL, NULL);

  G_OBJECT_CLASS (mproc_manager_parent_class)->dispose (object);
}

static void
mproc_manager_finalize (GObject *object)
{
  MprocManager *self = MPROC_MANAGER (object);

  if (self->conn != NULL && self->conn->pid == getpid ())
    mproc_manager_conn_unref (self->conn);
  self->conn = NULL;
  mproc_clear_fd (&self->listen_fd);
  mproc_clear_fd (&self->dbus_listen_fd);
  g_clear_object (&self->process);
  g_clear_object (&self->context);
  g_clear_pointer (&self->address, g_free);
  g_clear_pointer (&self->authkey, g_bytes_unref);
  g_clear_pointer (&self->tcp_address, g_free);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (mproc_manager_parent_class)->finalize (object);
}

static void
mproc_manager_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MprocManager *self = MPROC_MANAGER (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_CONTEXT:
      g_value_set_object (value, self->context);
      break;
    case PROP_TIMEOUT:
      g_value_set_int (value, mproc_manager_get_timeout (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_manager_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MprocManager *self = MPROC_MANAGER (object);

  switch (prop_id)
    {
    case PROP_ADDRESS:
      g_free (self->address);
      self->address = g_value_dup_string (value);
      break;
    case PROP_CONTEXT:
      g_set_object (&self->context, g_value_get_object (value));
      break;
    case PROP_TIMEOUT:
      mproc_manager_set_timeout (self, g_value_get_int (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mproc_manager_class_init (MprocManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = mproc_manager_dispose;
  object_class->finalize = mproc_manager_finalize;
  object_class->get_property = mproc_manager_get_property;
  object_class->set_property = mproc_manager_set_property;

  /**
   * MprocManager:address:
   *
   * The address of the server (`unix:abstract=…`), %NULL until the manager
   * has been started.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_ADDRESS] =
    g_param_spec_string ("address", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  /**
   * MprocManager:context:
   *
   * The #MprocContext whose start method starts the server, %NULL for the
   * default context.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_CONTEXT] =
    g_param_spec_object ("context", NULL, NULL, MPROC_TYPE_CONTEXT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  /**
   * MprocManager:timeout:
   *
   * How long each call on the manager may take, in milliseconds: every
   * call of its #MprocDict, #MprocList and #MprocNamespace proxies (and of
   * the queues, locks and events made by a manager for a Redis URI), and
   * [method@Mproc.Manager.ping], [method@Mproc.Manager.publish] and
   * [method@Mproc.Manager.lookup], blocking or async, fails with
   * %MPROC_ERROR_TIMED_OUT when the server has not answered by then (a
   * server stopped with `SIGSTOP`, or swamped).  A reply that comes later
   * is dropped.  -1, the default, sets no limit: a call waits as long as
   * the server lives (a Redis manager then keeps the `timeout` of its
   * URI).  A blocking wait of the call itself (a queue's get with its own
   * timeout) is not cut short by it.
   *
   * Since: 0.1
   * Stability: Unstable
   */
  properties[PROP_TIMEOUT] =
    g_param_spec_int ("timeout", NULL, NULL, -1, G_MAXINT, -1,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_manager_init (MprocManager *self)
{
  self->timeout_ms = -1;
  g_mutex_init (&self->lock);
  self->listen_fd = -1;
  self->dbus_listen_fd = -1;
}

/* --- Shareable: a manager crosses as its address (and, to the server
 * process only, its listening sockets) --------------------------------- */

static gint32
serialize_fd (int      fd,
              GArray  *fds,
              GError **error)
{
  int copy;

  if (fd < 0)
    return -1;
  copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
      return -2;
    }
  g_array_append_val (fds, copy);
  return fds->len - 1;
}

static GVariant *
mproc_manager_serialize (MprocShareable *shareable,
                         GArray         *fds,
                         GError        **error)
{
  MprocManager *self = MPROC_MANAGER (shareable);
  gint32 handle, dbus_handle;

  if (self->address == NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED,
                           _("The manager has not been started"));
      return NULL;
    }
  if ((handle = serialize_fd (self->listen_fd, fds, error)) < -1 ||
      (dbus_handle = serialize_fd (self->dbus_listen_fd, fds, error)) < -1)
    return NULL;
  return g_variant_new ("(shh)", self->address, handle, dbus_handle);
}

static MprocShareable *
mproc_manager_deserialize (GVariant *handle,
                           GArray   *fds,
                           GError  **error)
{
  const char *address;
  g_autoptr(GVariant) h = NULL;
  g_autoptr(GVariant) dbus_h = NULL;
  MprocManager *self;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(shh)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return NULL;
    }
  g_variant_get (handle, "(&s@h@h)", &address, &h, &dbus_h);
  if (g_variant_get_handle (h) >= 0)
    {
      int fd = mproc_shareable_steal_fd (fds, h, error);
      int dbus_fd = -1;

      if (fd < 0)
        return NULL;
      if (g_variant_get_handle (dbus_h) >= 0 &&
          (dbus_fd = mproc_shareable_steal_fd (fds, dbus_h, error)) < 0)
        {
          close (fd);
          return NULL;
        }
      self = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
      self->listen_fd = fd;
      self->dbus_listen_fd = dbus_fd;
      return MPROC_SHAREABLE (self);
    }
  return MPROC_SHAREABLE (mproc_manager_for_address (address));
}

static void
mproc_manager_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_manager_serialize;
  iface->deserialize = mproc_manager_deserialize;
}

gboolean
mproc_manager_carrier_steal (GObject     *carrier,
                             int         *listen_fd,
                             int         *dbus_listen_fd,
                             const char **address)
{
  MprocManager *self;

  if (!MPROC_IS_MANAGER (carrier))
    return FALSE;
  self = MPROC_MANAGER (carrier);
  *listen_fd = g_steal_fd (&self->listen_fd);
  *dbus_listen_fd = g_steal_fd (&self->dbus_listen_fd);
  *address = self->address;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * mproc_manager_new:
 *
 * Creates a manager that starts its server with the default
 * #MprocContext. Call [method@Mproc.Manager.start] next.
 *
 * Returns: (transfer full): a new `MprocManager`
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_new (void)
{
  return g_object_new (MPROC_TYPE_MANAGER, NULL);
}

/**
 * mproc_manager_new_with_context:
 * @context: (nullable): the context whose start method starts the server
 *
 * Creates a manager that starts its server with @context.
 *
 * Returns: (transfer full): a new `MprocManager`
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_new_with_context (MprocContext *context)
{
  g_return_val_if_fail (context == NULL || MPROC_IS_CONTEXT (context), NULL);

  return g_object_new (MPROC_TYPE_MANAGER, "context", context, NULL);
}

/* Binds @sock to the abstract @address and listens; FALSE with errno. */
static gboolean
bind_abstract (int          sock,
               const char  *address)
{
  struct sockaddr_un sun;
  socklen_t len;

  if (!mproc_manager_parse_address (address, &sun, &len, NULL))
    {
      errno = ENAMETOOLONG;
      return FALSE;
    }
  return bind (sock, (struct sockaddr *) &sun, len) == 0 && listen (sock, 128) == 0;
}

/* Binds the manager's socket and the D-Bus plane's beside it (its name
 * with "-dbus"), both here and now: a name bound later by the server could
 * be taken first by another user, whom clients would then reach. */
static int
listen_abstract (char    **address_out,
                 int      *dbus_fd_out,
                 GError  **error)
{
  static gint counter = 0;
  int errsv = EADDRINUSE;

  for (guint attempt = 0; attempt < 16; attempt++)
    {
      g_autofree char *address =
        g_strdup_printf ("unix:abstract=mproc-manager-%d-%d-%08x", (int) getpid (),
                         g_atomic_int_add (&counter, 1), g_random_int ());
      g_autofree char *dbus_address = g_strconcat (address, "-dbus", NULL);
      g_auto(MprocFd) fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      g_auto(MprocFd) dbus_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

      if (fd < 0 || dbus_fd < 0)
        {
          errsv = errno;
          break;
        }
      if (bind_abstract (fd, address) && bind_abstract (dbus_fd, dbus_address))
        {
          *address_out = g_steal_pointer (&address);
          *dbus_fd_out = g_steal_fd (&dbus_fd);
          return g_steal_fd (&fd);
        }
      errsv = errno;
      if (errsv != EADDRINUSE)
        break;
    }

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
               _("Cannot create the manager’s socket: %s"), g_strerror (errsv));
  return -1;
}

/* Binds the sockets and starts the server process; the caller connects.
 * A start does not wait for the child (fork, spawn, or a request to the
 * fork server): only the connection waits for the server. */
static gboolean
start_server (MprocManager  *self,
              GError       **error)
{
  g_autoptr(MprocManager) carrier = NULL;
  g_autoptr(MprocProcess) process = NULL;
  g_autofree char *address = NULL;
  int fd, dbus_fd;

  if (self->address != NULL || self->process != NULL || mproc_manager_get_transport (self) != NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_STILL_RUNNING,
                           _("The manager has already been started"));
      return FALSE;
    }

  fd = listen_abstract (&address, &dbus_fd, error);
  if (fd < 0)
    return FALSE;

  /* The server receives the listening socket inside a second manager
   * object (a manager is shareable): it listens from the start, so nobody
   * waits for it to be ready. */
  carrier = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
  carrier->listen_fd = fd;
  carrier->dbus_listen_fd = dbus_fd;
  process = mproc_process_new_with_context (self->context, MPROC_MANAGER_SERVER_TARGET, NULL);
  mproc_process_set_name (process, "SyncManager");
  mproc_process_set_daemon (process, TRUE);
  mproc_process_add_object (process, MPROC_SHAREABLE (carrier));
  if (!mproc_process_start (process, error))
    {
      g_prefix_error (error, "%s", _("Cannot start the manager’s server: "));
      return FALSE;
    }
  /* only the server keeps listening */
  mproc_clear_fd (&carrier->listen_fd);
  mproc_clear_fd (&carrier->dbus_listen_fd);

  g_mutex_lock (&self->lock);
  self->address = g_steal_pointer (&address);
  self->process = g_steal_pointer (&process);
  self->starter_pid = getpid ();
  g_mutex_unlock (&self->lock);
  remember_manager (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESS]);
  return TRUE;
}

/* $MPROC_MANAGER_URI, if set and @self is to use it; "" (with @error)
 * when @self is started already; NULL: start a server. */
static const char *
start_uri (MprocManager  *self,
           GError       **error)
{
  const char *uri = g_getenv (MPROC_MANAGER_URI_ENV);

  if (uri == NULL || uri[0] == '\0')
    return NULL;
  if (self->address != NULL || self->process != NULL || mproc_manager_get_transport (self) != NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_STILL_RUNNING,
                           _("The manager has already been started"));
      return "";
    }
  return uri;
}

static void
start_uri_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocManager *self = MPROC_MANAGER (source);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  self->starter_pid = getpid ();
  g_task_return_boolean (task, TRUE);
}

/**
 * mproc_manager_start:
 * @self: a `MprocManager`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Starts the server process and connects to it. The server listens as soon
 * as this returns; it lives until [method@Mproc.Manager.shutdown], until the last
 * reference to @self is dropped in this process, or until this process
 * exits, whichever comes first. Blocks for the server's start-up.
 *
 * When the environment variable `MPROC_MANAGER_URI` is set (to a URI that
 * [ctor@Mproc.Manager.new_for_uri] takes, `redis://…` or `unix:/…`), no
 * server starts: @self connects to that Redis server and its dicts, lists
 * and namespaces live there, so a program written for a local manager runs
 * unchanged against Redis. Objects handed to children then reach them
 * through Redis too; [method@Mproc.Manager.shutdown] leaves them in Redis.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_start (MprocManager  *self,
                     GCancellable  *cancellable,
                     GError       **error)
{
  MprocManagerConn *conn;
  const char *uri;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Run unchanged against Redis: the objects live there, no server starts */
  if ((uri = start_uri (self, error)) != NULL)
    {
      if (uri[0] == '\0' || !mproc_redis_manager_start_for_uri (self, uri, cancellable, error))
        return FALSE;
      self->starter_pid = getpid ();
      return TRUE;
    }
  if (!start_server (self, error))
    return FALSE;
  conn = mproc_manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    {
      mproc_process_kill (self->process);
      mproc_process_join (self->process, -1, NULL, NULL);
      self->shut_down = TRUE;
      return FALSE;
    }
  mproc_manager_conn_unref (conn);
  return TRUE;
}

static void
start_killed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  mproc_process_join_finish (MPROC_PROCESS (source), result, NULL);
  g_task_return_error (task, g_task_get_task_data (task));
  g_task_set_task_data (task, NULL, NULL);
}

static void
start_connected_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  MprocManager *self = MPROC_MANAGER (source);
  GError *error = NULL;
  MprocManagerConn *conn = mproc_manager_get_conn_finish (self, result, &error);

  if (conn != NULL)
    {
      mproc_manager_conn_unref (conn);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  /* a server that does not answer goes: its exit is waited for too */
  self->shut_down = TRUE;
  g_task_set_task_data (task, error, NULL);
  mproc_process_kill (self->process);
  mproc_process_join_async (self->process, -1, NULL, start_killed_cb, task);
}

/**
 * mproc_manager_start_async:
 * @self: a `MprocManager`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server is ready or failed to start
 * @user_data: data for @callback
 *
 * Starts the server process without blocking the calling thread: the
 * process is started at once (a fork, a spawn, or a request to the fork
 * server, none of which waits for the child), then the server's welcome
 * is waited for from the caller's thread-default main context, without
 * a thread; see [method@Mproc.Manager.start]. @callback runs in the caller's thread-default main
 * context; call [method@Mproc.Manager.start_finish] from it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_start_async (MprocManager        *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  const char *uri;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_start_async);
  if ((uri = start_uri (self, &error)) != NULL)
    {
      if (uri[0] == '\0')
        g_task_return_error (task, error);
      else
        mproc_redis_manager_start_for_uri_async (self, uri,
                                                 g_task_new (self, cancellable, start_uri_cb,
                                                             g_steal_pointer (&task)));
      return;
    }
  if (!start_server (self, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  mproc_manager_get_conn_async (self, cancellable, start_connected_cb, g_steal_pointer (&task));
}

/* --- GInitable, GAsyncInitable: a manager made ready to use is started ---- */

/* Whether there is a server to talk to already: started, connected, or
 * made for a URI of another engine. */
static gboolean
manager_is_running (MprocManager *self)
{
  return self->address != NULL || mproc_manager_get_transport (self) != NULL;
}

static gboolean
manager_initable_init (GInitable     *initable,
                       GCancellable  *cancellable,
                       GError       **error)
{
  MprocManager *self = MPROC_MANAGER (initable);

  if (manager_is_running (self))
    return TRUE;
  return mproc_manager_start (self, cancellable, error);
}

static void
mproc_manager_initable_init (GInitableIface *iface)
{
  iface->init = manager_initable_init;
}

static void
manager_started_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (mproc_manager_start_finish (MPROC_MANAGER (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
manager_init_async (GAsyncInitable      *initable,
                    int                  io_priority,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  MprocManager *self = MPROC_MANAGER (initable);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, manager_init_async);
  g_task_set_priority (task, io_priority);
  if (manager_is_running (self))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  mproc_manager_start_async (self, cancellable, manager_started_cb, g_steal_pointer (&task));
}

static gboolean
manager_init_finish (GAsyncInitable  *initable,
                     GAsyncResult    *result,
                     GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, initable), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, manager_init_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
mproc_manager_async_initable_init (GAsyncInitableIface *iface)
{
  iface->init_async = manager_init_async;
  iface->init_finish = manager_init_finish;
}

/**
 * mproc_manager_set_timeout:
 * @self: a `MprocManager`
 * @timeout_ms: the limit of each call in milliseconds, or -1 for none
 *
 * Sets [property@Mproc.Manager:timeout]: each call made from now on by
 * this process through @self fails with %MPROC_ERROR_TIMED_OUT if the
 * server has not answered within @timeout_ms.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_set_timeout (MprocManager *self,
                           int           timeout_ms)
{
  const MprocManagerTransport *transport;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (timeout_ms >= -1);

  if (g_atomic_int_exchange (&self->timeout_ms, timeout_ms) == timeout_ms)
    return;
  g_mutex_lock (&self->lock);
  if (self->conn != NULL)
    g_atomic_int_set (&self->conn->timeout_ms, timeout_ms);
  g_mutex_unlock (&self->lock);
  transport = mproc_manager_get_transport (self);
  if (transport != NULL && transport->set_timeout != NULL)
    transport->set_timeout (self, timeout_ms);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

/**
 * mproc_manager_get_timeout:
 * @self: a `MprocManager`
 *
 * Gets [property@Mproc.Manager:timeout].
 *
 * Returns: the limit of each call in milliseconds, or -1 for none
 *
 * Since: 0.1
 * Stability: Unstable
 */
int
mproc_manager_get_timeout (MprocManager *self)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (self), -1);

  return g_atomic_int_get (&self->timeout_ms);
}

/**
 * mproc_manager_start_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Manager.start_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_start_finish (MprocManager  *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_start_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Started by this process for $MPROC_MANAGER_URI: the objects stay in Redis */
static gboolean
started_for_uri (MprocManager *self)
{
  return self->process == NULL && self->starter_pid == getpid () &&
         mproc_manager_get_transport (self) != NULL;
}

/* The server is gone: this process's connection fails every call. */
static void
shutdown_drop_conn (MprocManager *self)
{
  MprocManagerConn *conn;

  g_mutex_lock (&self->lock);
  conn = self->conn;
  self->conn = NULL;
  g_mutex_unlock (&self->lock);
  if (conn != NULL)
    {
      GError *gone = NULL;

      mproc_manager_set_broken_error (&gone, _("the manager was shut down"));
      mproc_manager_conn_fail (conn, gone);
      g_error_free (gone);
      if (conn->pid == getpid ())
        mproc_manager_conn_unref (conn);
    }
}

/**
 * mproc_manager_shutdown:
 * @self: a `MprocManager` started by this process
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Stops the server: it finishes the requests it has received, then exits,
 * and every client's later calls fail with %MPROC_ERROR_BROKEN. Waits (at
 * most 5 s, then kills it) for the server process to exit. Only the process
 * that started the server may stop it. Does nothing if the server has
 * already been stopped. A manager that [method@Mproc.Manager.start]
 * connected to `MPROC_MANAGER_URI` has no server: its objects stay in
 * Redis.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_shutdown (MprocManager  *self,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (started_for_uri (self))
    {
      self->shut_down = TRUE;
      return TRUE;
    }
  if (self->process == NULL || self->starter_pid != getpid ())
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_NOT_OWNER,
                           _("Only the process that started a manager can shut it down"));
      return FALSE;
    }
  if (self->shut_down)
    return TRUE;
  self->shut_down = TRUE;

  /* a server already dead is fine: it is shut down */
  mproc_manager_call_server (self, MANAGER_OP_SHUTDOWN, 0, NULL, NULL, 0, &reply, NULL, cancellable, &local_error);
  if (!mproc_process_join (self->process, SHUTDOWN_TIMEOUT_USEC, cancellable, NULL))
    {
      mproc_process_kill (self->process);
      mproc_process_join (self->process, -1, NULL, NULL);
    }
  shutdown_drop_conn (self);
  return TRUE;
}

static void
shutdown_killed_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  mproc_process_join_finish (MPROC_PROCESS (source), result, NULL);
  shutdown_drop_conn (g_task_get_source_object (task));
  g_task_return_boolean (task, TRUE);
}

static void
shutdown_joined_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  if (!mproc_process_join_finish (MPROC_PROCESS (source), result, NULL))
    {
      /* not gone within its time (or cancelled): killed */
      mproc_process_kill (MPROC_PROCESS (source));
      mproc_process_join_async (MPROC_PROCESS (source), -1, NULL, shutdown_killed_cb,
                                g_steal_pointer (&task));
      return;
    }
  shutdown_drop_conn (g_task_get_source_object (task));
  g_task_return_boolean (task, TRUE);
}

static void
shutdown_replied_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GTask *task = user_data;
  MprocManager *self = MPROC_MANAGER (source);
  g_autoptr(GVariant) reply = NULL;

  /* a server already dead is fine: it is shut down */
  reply = mproc_manager_call_server_finish (self, result, NULL, NULL);
  mproc_process_join_async (self->process, SHUTDOWN_TIMEOUT_USEC, g_task_get_cancellable (task),
                            shutdown_joined_cb, task);
}

/**
 * mproc_manager_shutdown_async:
 * @self: a `MprocManager` started by this process
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has exited
 * @user_data: data for @callback
 *
 * Stops the server without blocking the calling thread: the request and
 * the server's exit are waited for from the caller's thread-default main
 * context, without a thread; see [method@Mproc.Manager.shutdown].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_shutdown_async (MprocManager        *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_shutdown_async);
  if (started_for_uri (self))
    {
      self->shut_down = TRUE;
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (self->process == NULL || self->starter_pid != getpid ())
    {
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_NOT_OWNER, "%s",
                               _("Only the process that started a manager can shut it down"));
      return;
    }
  if (self->shut_down)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  self->shut_down = TRUE;
  mproc_manager_call_server_async (self, MANAGER_OP_SHUTDOWN, 0, NULL, NULL, TRUE, cancellable,
                                   shutdown_replied_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_shutdown_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Manager.shutdown_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_shutdown_finish (MprocManager  *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_shutdown_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_manager_connect:
 * @address: a manager's address, from [method@Mproc.Manager.get_address]
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Connects to the server of a manager started by another process (a
 * parent, or an unrelated program of the same user). Fails with
 * %MPROC_ERROR_BROKEN if no server listens at @address, and with
 * %MPROC_ERROR_ACCESS_DENIED if the server refuses this process.
 *
 * Returns: (transfer full): a manager connected to the server, or %NULL
 *   with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_connect (const char    *address,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(MprocManager) self = NULL;
  MprocManagerConn *conn;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = mproc_manager_for_address (address);
  conn = mproc_manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    return NULL;
  mproc_manager_conn_unref (conn);
  return g_steal_pointer (&self);
}

/* The end of every async connect: @task's value is the manager. */
static void
connect_done_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  MprocManagerConn *conn = mproc_manager_get_conn_finish (MPROC_MANAGER (source), result, &error);

  if (conn == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  mproc_manager_conn_unref (conn);
  g_task_return_pointer (task, g_object_ref (source), g_object_unref);
}

/**
 * mproc_manager_connect_async:
 * @address: a manager's address
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when connected or failed
 * @user_data: data for @callback
 *
 * Connects to a manager's server without blocking the calling thread: each
 * step of the handshake is waited for from the caller's thread-default
 * main context, without a thread; see [func@Mproc.Manager.connect].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_connect_async (const char          *address,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MprocManager) manager = NULL;

  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_connect_async);
  manager = mproc_manager_for_address (address);
  mproc_manager_get_conn_async (manager, cancellable, connect_done_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_connect_finish:
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Mproc.Manager.connect_async].
 *
 * Returns: (transfer full): the connected manager, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_connect_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_connect_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_manager_set_authkey:
 * @self: a `MprocManager`
 * @authkey: (nullable): the secret shared with remote clients, or %NULL
 *
 * Sets the authentication key of @self, like the `authkey` of Python's
 * managers: the secret a TCP listener ([method@Mproc.Manager.listen_tcp]) asks
 * its clients to prove they know, and that a manager connected over TCP
 * proves it knows (see [func@Mproc.Manager.connect_with_authkey]).
 *
 * The key itself never travels: each side sends a random nonce and the
 * other answers with its HMAC-SHA256 under the key, compared in constant
 * time. Use at least 32 random bytes. The key protects the handshake
 * only: the traffic is not encrypted, so on an untrusted network use a
 * tunnel (SSH, WireGuard…).
 *
 * Set the key before [method@Mproc.Manager.listen_tcp]: a listener keeps the key
 * it was opened with.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_set_authkey (MprocManager *self,
                           GBytes       *authkey)
{
  g_return_if_fail (MPROC_IS_MANAGER (self));

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->authkey, g_bytes_unref);
  if (authkey != NULL)
    self->authkey = g_bytes_ref (authkey);
  g_mutex_unlock (&self->lock);
}

/**
 * mproc_manager_listen_tcp:
 * @self: a started `MprocManager`
 * @host: (nullable): the local address to listen on (a numeric IPv4 or
 *   IPv6 address or a host name), or %NULL for every IPv4 interface
 * @port: the TCP port, or 0 to let the system choose one
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Makes the manager's server also accept clients from other machines on
 * TCP, as Python's `BaseManager(address=(host, port), authkey=…)`. Call it
 * after [method@Mproc.Manager.start] (or on a manager connected over its unix
 * address): the socket is bound here, so that its errors are reported
 * here, and handed to the server, which listens on it until it stops.
 * [method@Mproc.Manager.get_tcp_address] then gives the address that clients
 * pass to [func@Mproc.Manager.connect_with_authkey].
 *
 * An authkey is required ([method@Mproc.Manager.set_authkey]); without one the
 * call fails with %MPROC_ERROR_ACCESS_DENIED. A client that does not
 * prove it knows the key within a few seconds is refused with
 * %MPROC_ERROR_ACCESS_DENIED (or %MPROC_ERROR_INVALID_MESSAGE for bytes
 * that are not the protocol) before it can send any request, and the
 * server goes on serving the others.
 *
 * Remote clients cannot map the server's shared memory: each of their
 * requests travels over the TCP stream and waits for its reply. They can
 * use dicts, lists and namespaces (served in order with the local
 * clients) but not change notifications, [method@Mproc.Manager.publish] or
 * [method@Mproc.Manager.lookup], which need shared memory or file descriptors.
 *
 * A manager listens on TCP once: a second call fails with
 * %G_IO_ERROR_EXISTS.
 *
 * Returns: %TRUE once the server listens, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_listen_tcp (MprocManager  *self,
                          const char    *host,
                          guint16        port,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GBytes) key = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *address = NULL;
  g_auto(MprocFd) fd = -1;
  gboolean listening;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->authkey != NULL)
    key = g_bytes_ref (self->authkey);
  listening = self->tcp_address != NULL;
  g_mutex_unlock (&self->lock);

  if (!mproc_manager_auth_has_key (key))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                           _("A manager listens on TCP only with an authkey: "
                             "set one with mproc_manager_set_authkey()"));
      return FALSE;
    }
  if (listening)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                           _("The manager already listens on TCP"));
      return FALSE;
    }

  fd = mproc_manager_tcp_listen (host, port, &address, cancellable, error);
  if (fd < 0)
    return FALSE;
  if (!mproc_manager_call_server (self, MANAGER_OP_LISTEN_TCP, 0,
                                  g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, key, TRUE),
                                  &fd, 1, &reply, NULL, cancellable, error))
    return FALSE;

  g_mutex_lock (&self->lock);
  if (self->tcp_address == NULL)
    self->tcp_address = g_steal_pointer (&address);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

typedef struct
{
  GBytes *key;
  char   *address;
} ListenTcp;

static void
listen_tcp_free (gpointer data)
{
  ListenTcp *lt = data;

  g_clear_pointer (&lt->key, g_bytes_unref);
  g_free (lt->address);
  g_free (lt);
}

static void
listen_tcp_replied_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocManager *self = MPROC_MANAGER (source);
  ListenTcp *lt = g_task_get_task_data (task);
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = mproc_manager_call_server_finish (self, result, NULL, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_mutex_lock (&self->lock);
  if (self->tcp_address == NULL)
    self->tcp_address = g_steal_pointer (&lt->address);
  g_mutex_unlock (&self->lock);
  g_task_return_boolean (task, TRUE);
}

static void
listen_tcp_bound_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  MprocManager *self = g_task_get_source_object (task);
  ListenTcp *lt = g_task_get_task_data (task);
  GCancellable *cancellable;
  GError *error = NULL;
  GArray *fds;
  int fd;

  fd = mproc_manager_tcp_listen_finish (result, &lt->address, &error);
  if (fd < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  fds = mproc_fd_array_new ();
  g_array_append_val (fds, fd);
  cancellable = g_task_get_cancellable (task);
  mproc_manager_call_server_async (self, MANAGER_OP_LISTEN_TCP, 0,
                                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, lt->key, TRUE),
                                   fds, TRUE, cancellable, listen_tcp_replied_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_listen_tcp_async:
 * @self: a started `MprocManager`
 * @host: (nullable): the local address to listen on, or %NULL for every
 *   IPv4 interface
 * @port: the TCP port, or 0 to let the system choose one
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Asynchronous form of [method@Mproc.Manager.listen_tcp], without a thread: see
 * “Async calls without a thread” in #MprocManager.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_listen_tcp_async (MprocManager        *self,
                                const char          *host,
                                guint16              port,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  gboolean listening;
  ListenTcp *lt;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_listen_tcp_async);
  lt = g_new0 (ListenTcp, 1);
  g_task_set_task_data (task, lt, listen_tcp_free);
  g_mutex_lock (&self->lock);
  if (self->authkey != NULL)
    lt->key = g_bytes_ref (self->authkey);
  listening = self->tcp_address != NULL;
  g_mutex_unlock (&self->lock);
  if (!mproc_manager_auth_has_key (lt->key))
    {
      g_task_return_new_error (task, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED, "%s",
                               _("A manager listens on TCP only with an authkey: "
                                 "set one with mproc_manager_set_authkey()"));
      return;
    }
  if (listening)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_EXISTS, "%s",
                               _("The manager already listens on TCP"));
      return;
    }
  mproc_manager_tcp_listen_async (host, port, cancellable, listen_tcp_bound_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_listen_tcp_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Manager.listen_tcp_async].
 *
 * Returns: %TRUE once the server listens, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_listen_tcp_finish (MprocManager  *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_listen_tcp_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_manager_get_tcp_address:
 * @self: a `MprocManager`
 *
 * Gets the TCP address on which @self listens, once
 * [method@Mproc.Manager.listen_tcp] has succeeded, in D-Bus style:
 * `tcp:host=127.0.0.1,port=40123` (with port 0 the port the system chose).
 *
 * Returns: (nullable): the TCP address, or %NULL when not listening on TCP
 *
 * Since: 0.1
 * Stability: Unstable
 */
const char *
mproc_manager_get_tcp_address (MprocManager *self)
{
  const char *address;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);

  g_mutex_lock (&self->lock);
  address = self->tcp_address;   /* set once */
  g_mutex_unlock (&self->lock);
  return address;
}

/**
 * mproc_manager_connect_with_authkey:
 * @address: a manager's address: `tcp:host=…,port=…` or a unix address
 * @authkey: (nullable): the manager's authkey
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Connects to a manager that listens on TCP ([method@Mproc.Manager.listen_tcp]),
 * possibly on another machine, proving that this process knows @authkey
 * and checking that the server knows it too. A wrong or missing key fails
 * with %MPROC_ERROR_ACCESS_DENIED. For a unix address the key is not
 * used (the server checks the user id instead) and this is
 * [func@Mproc.Manager.connect].
 *
 * A manager connected over TCP serves dicts, lists and namespaces, each
 * call being one request and one reply over the network; change
 * notifications, [method@Mproc.Manager.publish] and [method@Mproc.Manager.lookup] fail
 * with %MPROC_ERROR_FAILED. It cannot be passed to a child process (the
 * child would connect without the key and be refused).
 *
 * Returns: (transfer full): a connected manager, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_connect_with_authkey (const char    *address,
                                    GBytes        *authkey,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  g_autoptr(MprocManager) self = NULL;
  MprocManagerConn *conn;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_str_has_prefix (address, "tcp:"))
    return mproc_manager_connect (address, cancellable, error);

  /* not shared with other connections to @address: its key is its own */
  self = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
  mproc_manager_set_authkey (self, authkey);
  conn = mproc_manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    return NULL;
  mproc_manager_conn_unref (conn);
  return g_steal_pointer (&self);
}

/**
 * mproc_manager_connect_with_authkey_async:
 * @address: a manager's address
 * @authkey: (nullable): the manager's authkey
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when connected or failed
 * @user_data: data for @callback
 *
 * Asynchronous form of [func@Mproc.Manager.connect_with_authkey]: the
 * connection and its challenge-response are waited for from the caller's
 * main context, without a thread.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_connect_with_authkey_async (const char          *address,
                                          GBytes              *authkey,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(MprocManager) manager = NULL;

  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_connect_with_authkey_async);
  if (g_str_has_prefix (address, "tcp:"))
    {
      /* not shared with other connections to @address: its key is its own */
      manager = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
      mproc_manager_set_authkey (manager, authkey);
    }
  else
    manager = mproc_manager_for_address (address);
  mproc_manager_get_conn_async (manager, cancellable, connect_done_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_connect_with_authkey_finish:
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [func@Mproc.Manager.connect_with_authkey_async].
 *
 * Returns: (transfer full): a connected manager, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocManager *
mproc_manager_connect_with_authkey_finish (GAsyncResult  *result,
                                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_connect_with_authkey_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_manager_get_address:
 * @self: a `MprocManager`
 *
 * Gets the address other processes pass to [func@Mproc.Manager.connect].
 *
 * Returns: (nullable): the address, or %NULL before [method@Mproc.Manager.start]
 *
 * Since: 0.1
 * Stability: Unstable
 */
const char *
mproc_manager_get_address (MprocManager *self)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);

  return self->address;
}

/**
 * mproc_manager_get_server_pid:
 * @self: a `MprocManager`
 *
 * Gets the process id of the server, as seen when this process connected.
 *
 * Returns: the server's pid, or 0 if this process has not connected
 *
 * Since: 0.1
 * Stability: Unstable
 */
GPid
mproc_manager_get_server_pid (MprocManager *self)
{
  GPid pid = 0;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), 0);

  g_mutex_lock (&self->lock);
  if (self->conn != NULL && self->conn->pid == getpid ())
    pid = self->conn->server_pid;
  g_mutex_unlock (&self->lock);
  return pid;
}

/**
 * mproc_manager_ping:
 * @self: a `MprocManager`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Makes one round trip to the server. When it returns, every pipelined
 * write this process made before has been applied.
 *
 * Returns: %TRUE on success, %FALSE with @error set (%MPROC_ERROR_BROKEN
 *   if the server is gone)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_ping (MprocManager  *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mproc_manager_call_server (self, MANAGER_OP_PING, 0, NULL, NULL, 0, &reply, NULL, cancellable, error);
}

static void
ping_replied_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GVariant *reply = mproc_manager_call_server_finish (MPROC_MANAGER (source), result, NULL, &error);

  if (reply != NULL)
    g_task_return_pointer (task, reply, (GDestroyNotify) g_variant_unref);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_ping_async:
 * @self: a `MprocManager`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called with the answer
 * @user_data: data for @callback
 *
 * Makes one round trip to the server without blocking the calling thread,
 * and without a thread (on the rings or over TCP).
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_ping_async (MprocManager        *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MPROC_IS_MANAGER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_ping_async);
  mproc_manager_call_server_async (self, MANAGER_OP_PING, 0, NULL, NULL, TRUE, cancellable,
                                   ping_replied_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_ping_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Manager.ping_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_ping_finish (MprocManager  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_ping_async), FALSE);

  reply = g_task_propagate_pointer (G_TASK (result), error);
  return reply != NULL;
}

/* @object's description (owned) with its fds in @fds, or NULL. */
static GVariant *
publish_serialize (MprocShareable  *object,
                   GArray          *fds,
                   GError         **error)
{
  g_autoptr(GVariant) description = mproc_shareable_serialize (object, fds, error);

  if (description == NULL)
    return NULL;
  g_variant_ref_sink (description);
  if (fds->len > MPROC_WIRE_MAX_FDS)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("The object has too many file descriptors to publish"));
      return NULL;
    }
  return g_steal_pointer (&description);
}

/**
 * mproc_manager_publish:
 * @self: a `MprocManager`
 * @name: the name to publish @object under
 * @object: a shared object: #MprocQueue, #MprocLock, #MprocEvent…
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Hands @object to the server under @name (replacing any object published
 * under that name), so that any process connected to the manager, related
 * or not, gets it with [method@Mproc.Manager.lookup], as with Python's
 * `Manager().Queue()` and friends. The server keeps the object's shared
 * memory and file descriptors, never runs any of its code, and keeps it
 * until [method@Mproc.Manager.unpublish] or its own exit.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_publish (MprocManager    *self,
                       const char      *name,
                       MprocShareable  *object,
                       GCancellable    *cancellable,
                       GError         **error)
{
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GVariant) description = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (MPROC_IS_SHAREABLE (object), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  fds = mproc_fd_array_new ();
  description = publish_serialize (object, fds, error);
  if (description == NULL)
    return FALSE;
  return mproc_manager_call_server (self, MANAGER_OP_PUBLISH, 0, g_variant_new ("(sv)", name, description),
                                    (const int *) fds->data, fds->len, &reply, NULL, cancellable, error);
}

static void
publish_reply_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;

  reply = mproc_manager_call_server_finish (MPROC_MANAGER (source), result, NULL, &error);
  if (reply != NULL)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_publish_async:
 * @self: a `MprocManager`
 * @name: the name to publish @object under
 * @object: a shared object
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when done
 * @user_data: data for @callback
 *
 * Publishes @object without blocking the calling thread, and without a
 * thread; see
 * [method@Mproc.Manager.publish].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_publish_async (MprocManager        *self,
                             const char          *name,
                             MprocShareable      *object,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GVariant) description = NULL;
  GError *error = NULL;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (MPROC_IS_SHAREABLE (object));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_publish_async);
  fds = mproc_fd_array_new ();
  description = publish_serialize (object, fds, &error);
  if (description == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  mproc_manager_call_server_async (self, MANAGER_OP_PUBLISH, 0, g_variant_new ("(sv)", name, description),
                                   g_steal_pointer (&fds), TRUE, cancellable, publish_reply_cb,
                                   g_steal_pointer (&task));
}

/**
 * mproc_manager_publish_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Manager.publish_async].
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_publish_finish (MprocManager  *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_publish_async), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * mproc_manager_lookup:
 * @self: a `MprocManager`
 * @name: a name given to [method@Mproc.Manager.publish]
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets the object published under @name: a new instance in this process
 * that shares its state with every other one.
 *
 * Returns: (transfer full): the object, or %NULL with @error set
 *   (%MPROC_ERROR_NOT_FOUND if nothing is published under @name)
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocShareable *
mproc_manager_lookup (MprocManager  *self,
                      const char    *name,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) description = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fds = mproc_fd_array_new ();
  if (!mproc_manager_call_server (self, MANAGER_OP_LOOKUP, 0, g_variant_new_string (name), NULL, 0,
                                  &reply, fds, cancellable, error))
    return NULL;
  description = mproc_proxy_reply_unbox (reply, error);
  if (description == NULL)
    return NULL;
  return mproc_shareable_deserialize (description, fds, error);
}

static void
lookup_reply_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) description = NULL;
  g_autoptr(GArray) fds = NULL;
  MprocShareable *object = NULL;
  GError *error = NULL;

  reply = mproc_manager_call_server_finish (MPROC_MANAGER (source), result, &fds, &error);
  if (reply != NULL)
    description = mproc_proxy_reply_unbox (reply, &error);
  if (description != NULL)
    object = mproc_shareable_deserialize (description, fds, &error);
  if (fds != NULL)
    mproc_fd_array_close_all (fds);
  if (object != NULL)
    g_task_return_pointer (task, object, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_lookup_async:
 * @self: a `MprocManager`
 * @name: a published name
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called with the object
 * @user_data: data for @callback
 *
 * Gets a published object without blocking the calling thread, and
 * without a thread; see
 * [method@Mproc.Manager.lookup].
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_manager_lookup_async (MprocManager        *self,
                            const char          *name,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (name != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_lookup_async);
  mproc_manager_call_server_async (self, MANAGER_OP_LOOKUP, 0, g_variant_new_string (name), NULL, TRUE,
                                   cancellable, lookup_reply_cb, g_steal_pointer (&task));
}

/**
 * mproc_manager_lookup_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes [method@Mproc.Manager.lookup_async].
 *
 * Returns: (transfer full): the object, or %NULL with @error set
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocShareable *
mproc_manager_lookup_finish (MprocManager  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_lookup_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * mproc_manager_unpublish:
 * @self: a `MprocManager`
 * @name: a published name
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Makes the server forget the object published under @name (processes
 * that have it keep it).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *   (%MPROC_ERROR_NOT_FOUND if nothing is published under @name)
 *
 * Since: 0.1
 * Stability: Unstable
 */
gboolean
mproc_manager_unpublish (MprocManager  *self,
                         const char    *name,
                         GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return mproc_manager_call_server (self, MANAGER_OP_UNPUBLISH, 0, g_variant_new_string (name), NULL, 0,
                                    &reply, NULL, cancellable, error);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

gboolean
mproc_manager_call_raw (MprocManager  *self,
                        guint          op,
                        guint64        object,
                        GVariant      *args,
                        GVariant     **reply,
                        GError       **error)
{
  return mproc_manager_call_server (self, op, object, args, NULL, 0, reply, NULL, NULL, error);
}

void
mproc_manager_inject_raw (MprocManager *self,
                          const void   *data,
                          gsize         size)
{
  MprocManagerConn *conn = mproc_manager_get_conn (self, NULL, NULL);

  g_assert (conn != NULL);
  g_mutex_lock (&conn->call_lock);
  mproc_ring_inject_raw (conn->requests, data, size);
  g_mutex_unlock (&conn->call_lock);
  mproc_manager_conn_unref (conn);
}

