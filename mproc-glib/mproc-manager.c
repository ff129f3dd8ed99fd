/* mproc-manager.c: a server process that owns shared state, and its clients
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-process.h"
#include "mproc-ring-private.h"
#include "mproc-shareable-private.h"
#include "mproc-shm-private.h"
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
 * mproc_manager_start() runs the server as a child process (the built-in
 * target `mproc-manager-server`, under the start method of the manager's
 * #MprocContext). Like every child, the server dies with the process that
 * started it; mproc_manager_shutdown() (or dropping the last reference to
 * the manager in that process) stops it earlier.
 *
 * ## Addresses and security
 *
 * The server listens on a unix socket with an abstract name, given by
 * mproc_manager_get_address() as a D-Bus style address
 * (`unix:abstract=mproc-manager-…`): an abstract socket leaves no file
 * behind, even when the server is killed. Both sides check the other's user
 * id (`SO_PEERCRED`): a process of another user is refused with
 * %MPROC_ERROR_ACCESS_DENIED. Values are #GVariant values checked to be in
 * normal form; nothing a client sends is ever executed. A malformed request
 * gets an error reply and the server goes on serving everyone.
 *
 * Other machines can be let in over TCP with mproc_manager_listen_tcp(),
 * which requires an authkey (mproc_manager_set_authkey()): a client
 * connects with mproc_manager_connect_with_authkey() after an HMAC-SHA256
 * challenge-response both ways, as in Python, and a client with a wrong
 * or missing key is refused with %MPROC_ERROR_ACCESS_DENIED before it can
 * send any request.
 *
 * Any process of the same user, a child or an unrelated program, connects
 * with mproc_manager_connect(). A manager can also be handed to a child
 * with mproc_process_add_object(): the child gets a manager connected to
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
 * cannot fail (mproc_dict_set(), mproc_list_append()…) are pipelined: they
 * return once the request is in the ring, and every later request of the
 * same process sees their effect. The socket only carries the connection
 * set-up and the file descriptors of published objects, and its hang-up is
 * how each side learns that the other is gone.
 *
 * Reads need no round trip at all: the server publishes the state of each
 * dictionary and namespace that a client reads in shared memory that
 * clients map read-only, and mproc_dict_get(), mproc_dict_contains(),
 * mproc_dict_len(), mproc_namespace_get() and mproc_namespace_has() read
 * it there, once every write they follow has been applied (this process's
 * own pipelined writes, and any other process's writes that it could have
 * heard of), so they never see the world before their own past. When that
 * takes more than a few microseconds (the server is busy with many
 * writes), they ask the server instead. Lists and everything else, and
 * every call over TCP, are served by the server.
 *
 * Async forms put their request in the ring at once and wait for the
 * reply from the caller's main context, without a thread (over TCP they
 * run on GIO's worker threads).
 *
 * ## Async calls that use a worker thread
 *
 * Every `_async` function returns at once and calls its callback in the
 * caller's thread-default main context. Most need no thread: a proxy call
 * on the rings (every #MprocDict, #MprocList and #MprocNamespace call, and
 * mproc_manager_ping_async(), of a manager reached by its unix address)
 * puts its request in the ring and one #GSource per connection and main
 * context waits for the replies. The following run their blocking form on
 * one of GIO's worker threads instead (g_task_run_in_thread()), each for
 * the time of the call:
 *
 * - mproc_manager_start_async(): starts the server process under the
 *   context's start method (a fork, a spawn, or a request to the fork
 *   server: #MprocProcess starts are blocking) and waits for its
 *   handshake.
 * - mproc_manager_shutdown_async(): asks the server to stop, then waits
 *   for the process to exit and reaps it.
 * - mproc_manager_connect_async() and
 *   mproc_manager_connect_with_authkey_async(): connect, check the peer's
 *   user id or run the HMAC challenge-response both ways, and receive the
 *   rings' file descriptors: a short exchange of several steps, each with
 *   a timeout.
 * - mproc_manager_listen_tcp_async() (which also resolves the host name
 *   and binds the listening socket), mproc_manager_publish_async() and
 *   mproc_manager_lookup_async(): requests whose file descriptors travel
 *   on the connection's unix socket (`SCM_RIGHTS`) beside the ring, which
 *   only the blocking path does.
 * - Over TCP (mproc_manager_connect_with_authkey()), every proxy call and
 *   mproc_manager_ping_async(): there are no rings; each call sends a frame
 *   and reads frames until its reply under the connection's lock, so the
 *   calls of one TCP connection take turns, one worker thread each.
 *
 * These are set-up steps, or calls that cross the network: a worker
 * thread (GIO keeps a small pool) costs little next to them. Their
 * #GCancellable is passed to the blocking form, which honours it.
 *
 * ## Faults
 *
 * When the server dies, every pending and every later call fails with
 * %MPROC_ERROR_BROKEN (within 0.1 s): a pipelined write fails as soon as
 * the death has been noticed, which mproc_manager_ping() forces. A client
 * that dies leaves nothing behind in the server.
 *
 * ## Thread safety
 *
 * A manager and its proxies may be used from any thread; calls from the
 * threads of one process are served one at a time, in order. Async methods
 * complete in the thread-default main context of the caller.
 *
 * Since: 1.0
 */

#define CONNECT_TIMEOUT_USEC   (10 * G_USEC_PER_SEC)
#define SHUTDOWN_TIMEOUT_USEC  (5 * G_USEC_PER_SEC)
#define REPLY_SPIN_USEC        50
#define HUP_CHECK_USEC         1000

typedef struct _Conn Conn;

struct _Conn
{
  gatomicrefcount  ref;
  GPid             pid;           /* the process that opened it */
  int              sock;
  GPid             server_pid;
  MprocShm        *shm;
  MprocRing       *requests;
  MprocRing       *replies;
  MprocRing       *events;
  MprocOrder      *order;         /* ring clients: for reads from views */
  gint64           last_read_hup_check;

  GMutex           call_lock;     /* one exchange at a time */
  guint64          next_serial;
  gint64           last_hup_check;

  GMutex           reply_lock;    /* waiters, reading, async_polls */
  GCond            reply_cond;
  GHashTable      *waiters;       /* serial -> Waiter* */
  gboolean         reading;       /* someone reads the reply ring */
  GHashTable      *async_polls;   /* GMainContext* -> AsyncPoll* */

  GMutex           state_lock;    /* broken, watchers */
  GError          *broken;
  GPtrArray       *watchers;
  GMutex           event_read_lock;
};

struct _MprocProxyWatcher
{
  gatomicrefcount      ref;
  Conn                *conn;
  guint64              id;
  GWeakRef             proxy;
  MprocProxyEventFunc  func;
  GMainContext        *context;
  guint64              skip_until;   /* under conn->state_lock */
  gboolean             active;       /* under conn->state_lock */
  GCancellable        *cancellable;  /* of the pending poll */
  GObject             *owner;        /* holds @conn for the poll's GTask */
};

struct _MprocManager
{
  GObject        parent_instance;

  MprocContext  *context;
  char          *address;
  MprocProcess  *process;         /* the server, in the process that started it */
  GPid           starter_pid;
  int            listen_fd;       /* between bind() and the server's start */
  gboolean       shut_down;
  GBytes        *authkey;         /* TCP: to listen, or to connect */
  char          *tcp_address;     /* after mproc_manager_listen_tcp() */

  GMutex         lock;            /* conn */
  Conn          *conn;
};

enum {
  PROP_0,
  PROP_ADDRESS,
  PROP_CONTEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void mproc_manager_shareable_init (MprocShareableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (MprocManager, mproc_manager, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (MPROC_TYPE_SHAREABLE,
                                                      mproc_manager_shareable_init))

/* ------------------------------------------------------------------------ */
/* Connections                                                              */

static void
set_broken_error (GError     **error,
                  const char  *why)
{
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
               _("The manager’s server is gone: %s"), why);
}

static Conn *
conn_ref (Conn *conn)
{
  g_atomic_ref_count_inc (&conn->ref);
  return conn;
}

static void
conn_unref (Conn *conn)
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

static void
conn_init_locks (Conn *conn)
{
  g_mutex_init (&conn->call_lock);
  g_mutex_init (&conn->state_lock);
  g_mutex_init (&conn->event_read_lock);
  g_mutex_init (&conn->reply_lock);
  g_cond_init (&conn->reply_cond);
  conn->watchers = g_ptr_array_new ();
  conn->waiters = g_hash_table_new (g_int64_hash, g_int64_equal);
  conn->async_polls = g_hash_table_new_full (NULL, NULL, NULL, async_poll_free);
}

/* "unix:abstract=NAME" or "unix:path=PATH" */
static gboolean
parse_address (const char          *address,
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

static Conn *conn_open_tcp (const char    *address,
                            GBytes        *authkey,
                            GCancellable  *cancellable,
                            GError       **error);

static Conn *
conn_open (const char    *address,
           GBytes        *authkey,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  g_auto(MprocFd) sock = -1;
  struct sockaddr_un sun;
  socklen_t len;
  const char *status;
  guint64 size;
  gint32 h_shm, h_ev[3], h_order, slot;
  GPid server_pid = 0;
  Conn *conn;
  int shm_fd;

  if (g_str_has_prefix (address, "tcp:"))
    return conn_open_tcp (address, authkey, cancellable, error);
  if (!parse_address (address, &sun, &len, error))
    return NULL;

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
      return NULL;
    }
  if (!check_peer (sock, &server_pid, error))
    return NULL;

  if (!mproc_wire_send_value (sock, g_variant_new ("(su)", MPROC_MANAGER_PROTOCOL, (guint32) getpid ()),
                              NULL, 0, cancellable, error) ||
      !mproc_fd_wait (sock, G_IO_IN, g_get_monotonic_time () + CONNECT_TIMEOUT_USEC,
                      cancellable, error))
    {
      g_prefix_error (error, _("Cannot connect to the manager at “%s”: "), address);
      return NULL;
    }
  reply = mproc_wire_recv_value (sock, fds, 4096, cancellable, error);
  if (reply == NULL)
    {
      if (error != NULL && *error != NULL && (*error)->domain == MPROC_ERROR &&
          (*error)->code == MPROC_ERROR_CLOSED)
        (*error)->code = MPROC_ERROR_BROKEN;
      g_prefix_error (error, _("Cannot connect to the manager at “%s”: "), address);
      return NULL;
    }
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(sv)")))
    goto malformed;
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
  if (!g_str_equal (status, "ok") || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(tuhhhhhi)")))
    goto malformed;
  /* SO_PEERCRED names whoever called listen(): the server says who it is */
  g_variant_get (body, "(tuhhhhhi)", &size, &server_pid, &h_shm, &h_ev[0], &h_ev[1], &h_ev[2],
                 &h_order, &slot);
  if (h_shm < 0 || (guint) h_shm >= fds->len || h_order < 0 || (guint) h_order >= fds->len ||
      h_order == h_shm)
    goto malformed;
  for (guint i = 0; i < 3; i++)
    if (h_ev[i] < 0 || (guint) h_ev[i] >= fds->len)
      goto malformed;

  conn = g_new0 (Conn, 1);
  g_atomic_ref_count_init (&conn->ref);
  conn->pid = getpid ();
  conn->sock = -1;
  conn->server_pid = server_pid;
  conn_init_locks (conn);

  shm_fd = g_array_index (fds, int, h_shm);
  g_array_index (fds, int, h_shm) = -1;
  conn->shm = mproc_shm_new_from_fd (shm_fd, size, error);
  if (conn->shm == NULL)
    {
      close (shm_fd);
      conn_unref (conn);
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
            conn_unref (conn);
            goto malformed;
          }
        *rings[i] = mproc_ring_new (conn->shm, offsets[i], g_array_index (fds, int, h_ev[i]), error);
        if (*rings[i] == NULL)
          {
            conn_unref (conn);
            return NULL;
          }
      }
  }
  conn->order = mproc_order_new_from_fd (g_array_index (fds, int, h_order), slot, error);
  g_array_index (fds, int, h_order) = -1;
  if (conn->order == NULL)
    {
      conn_unref (conn);
      return NULL;
    }
  conn->sock = g_steal_fd (&sock);
  return conn;

malformed:
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("The manager at “%s” sent a malformed reply"), address);
  return NULL;
}

/* Marks @conn broken with a copy of @error (the first one wins). */
static void
conn_fail (Conn         *conn,
           const GError *error)
{
  g_mutex_lock (&conn->state_lock);
  if (conn->broken == NULL)
    conn->broken = g_error_copy (error);
  g_mutex_unlock (&conn->state_lock);
}

static gboolean
conn_check (Conn    *conn,
            GError **error)
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
} Waiter;

typedef struct
{
  Conn         *conn;
  GMainContext *context;
  GObject      *owner;       /* the poll's GTask source: holds @conn */
  GCancellable *cancellable;
  guint         n_waiting;   /* async waiters of this context (reply_lock) */
  gboolean      armed;
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
waiter_done (Conn      *conn,
             Waiter    *w,
             GPtrArray *completed)
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
conn_fail_waiters (Conn         *conn,
                   const GError *error,
                   GPtrArray    *completed)
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
conn_route (Conn      *conn,
            GBytes    *bytes,
            GArray    *fds,
            GError    *read_error,
            GPtrArray *completed)
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
      conn_fail (conn, local_error);
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
      if (waiter_result (w, &reply, NULL, &error))
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
conn_add_waiter (Conn *conn)
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
conn_abandon (Conn   *conn,
              Waiter *w)
{
  gboolean ret;

  g_mutex_lock (&conn->reply_lock);
  ret = !w->done && g_hash_table_steal (conn->waiters, &w->serial);
  g_mutex_unlock (&conn->reply_lock);
  return ret;
}

/* Blocks until @w is done: reads the ring while nobody else does. */
static void
conn_wait (Conn         *conn,
           Waiter       *w,
           GCancellable *cancellable)
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
          spin_for_reply (conn->replies);
          bytes = mproc_ring_get (conn->replies, conn->sock, fds, -1, cancellable, &read_error);
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
conn_send (Conn          *conn,
           GVariant      *request,
           const int     *fds,
           guint          n_fds,
           gboolean       pipelined,
           GCancellable  *cancellable,
           GError       **error)
{
  if (!mproc_ring_put (conn->requests, request, NULL, conn->sock, fds, n_fds, -1, cancellable, error))
    return FALSE;
  mproc_order_sent (conn->order);
  if (pipelined)
    {
      gint64 now = g_get_monotonic_time ();

      /* a pipelined write notices a dead server within a millisecond */
      if (now - conn->last_hup_check > HUP_CHECK_USEC)
        {
          conn->last_hup_check = now;
          if (mproc_ring_sock_hup (conn->sock))
            {
              set_broken_error (error, _("the connection was closed"));
              return FALSE;
            }
        }
    }
  return TRUE;
}

static void
conn_fail_error (Conn    *conn,
                 GError  *local_error)
{
  if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_BROKEN) ||
      g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_CLOSED) ||
      g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE))
    {
      local_error->domain = MPROC_ERROR;
      local_error->code = MPROC_ERROR_BROKEN;
      conn_fail (conn, local_error);
    }
}

static GVariant *
conn_request (guint     op,
              guint64   object,
              guint64   serial,
              GVariant *args)
{
  /* the send time orders this request with those of other processes */
  return g_variant_ref_sink (g_variant_new ("(uttt@v)", op, object, serial, send_time (),
                                            g_variant_new_variant (args)));
}

/* One exchange over TCP: a frame each way, one at a time. */
static gboolean
conn_call_tcp (Conn          *conn,
               guint          op,
               guint64        object,
               GVariant      *args,
               guint          n_fds,
               GVariant     **reply,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autoptr(GVariant) request = NULL;
  GError *local_error = NULL;
  guint64 serial = 0;
  gboolean ret = FALSE;

  g_mutex_lock (&conn->call_lock);
  if (!conn_check (conn, error))
    goto out;
  if (n_fds > 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("This operation is not available over TCP"));
      goto out;
    }
  if (reply != NULL)
    serial = ++conn->next_serial;
  request = conn_request (op, object, serial, args);
  if (!mproc_wire_send_value (conn->sock, request, NULL, 0, cancellable, &local_error))
    goto failed;
  if (reply == NULL)
    {
      ret = TRUE;
      goto out;
    }
  for (;;)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) message = NULL;
      g_autoptr(GVariant) value = NULL;
      guint64 got_serial;
      guint32 status;

      /* once a frame starts it is read whole, so that a cancellation
       * never leaves half of one in the stream */
      if (mproc_fd_wait (conn->sock, G_IO_IN, -1, cancellable, &local_error))
        bytes = mproc_wire_recv (conn->sock, NULL, MPROC_MANAGER_TCP_MAX_MESSAGE, NULL, &local_error);
      if (bytes == NULL)
        goto failed;
      message = mproc_wire_decode (bytes, &local_error);
      if (message == NULL || !g_variant_is_of_type (message, G_VARIANT_TYPE ("(tuv)")))
        {
          g_clear_error (&local_error);
          g_set_error_literal (&local_error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                               _("The manager’s server sent a malformed reply"));
          goto failed;
        }
      g_variant_get (message, "(tuv)", &got_serial, &status, &value);
      if (got_serial != serial)
        continue;
      if (status != 0)
        {
          g_set_error_literal (error, MPROC_ERROR, status - 1,
                               g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ?
                               g_variant_get_string (value, NULL) : _("Unknown error"));
          goto out;
        }
      *reply = g_steal_pointer (&value);
      ret = TRUE;
      goto out;
    }

failed:
  conn_fail_error (conn, local_error);
  g_propagate_error (error, local_error);
out:
  g_mutex_unlock (&conn->call_lock);
  return ret;
}

/* One exchange. @reply NULL: pipelined.  @fds_out receives the reply's
 * fds. */
static gboolean
conn_call (Conn          *conn,
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
  g_autoptr(GVariant) request = NULL;
  GError *local_error = NULL;
  Waiter *w = NULL;
  gboolean ret;

  if (conn->requests == NULL)
    return conn_call_tcp (conn, op, object, args, n_fds, reply, cancellable, error);

  g_mutex_lock (&conn->call_lock);
  if (!conn_check (conn, error))
    {
      g_mutex_unlock (&conn->call_lock);
      return FALSE;
    }
  if (reply != NULL)
    w = conn_add_waiter (conn);
  request = conn_request (op, object, w != NULL ? w->serial : 0, args);
  ret = conn_send (conn, request, fds, n_fds, reply == NULL, cancellable, &local_error);
  g_mutex_unlock (&conn->call_lock);

  if (!ret)
    {
      /* the request could not be sent */
      if (w != NULL && conn_abandon (conn, w))
        waiter_free (w);
      conn_fail_error (conn, local_error);
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

/* --- Async calls on the ring --------------------------------------------- */

static void async_poll_arm (AsyncPoll *p);

static void
async_poll_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncPoll *p = user_data;
  Conn *conn = p->conn;
  g_autoptr(GPtrArray) completed = g_ptr_array_new ();
  gboolean again;

  mproc_ring_poll_finish (result, NULL);

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
          bytes = mproc_ring_get (conn->replies, conn->sock, fds, 0, NULL, &read_error);
          g_mutex_lock (&conn->reply_lock);
          if (bytes == NULL && g_error_matches (read_error, MPROC_ERROR, MPROC_ERROR_EMPTY) &&
              mproc_ring_sock_hup (conn->sock))
            {
              g_clear_error (&read_error);
              set_broken_error (&read_error, _("the connection was closed"));
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
  mproc_ring_poll_async (p->conn->replies, p->owner, p->conn->sock, -1, p->cancellable,
                         async_poll_cb, p);
  g_main_context_pop_thread_default (p->context);
}

typedef struct
{
  Conn         *conn;
  guint64       serial;
  GMainContext *context;
} CancelData;

static void
cancel_data_free (gpointer data)
{
  CancelData *cd = data;

  conn_unref (cd->conn);
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

  /* any thread: the waiter is ended from its own context */
  copy->conn = conn_ref (cd->conn);
  copy->serial = cd->serial;
  copy->context = g_main_context_ref (cd->context);
  g_main_context_invoke_full (copy->context, G_PRIORITY_DEFAULT, async_cancel_idle, copy, cancel_data_free);
}

/* The async form of conn_call() on the ring: the request is put at once
 * (a pipelined one completes then), the reply is waited for by the
 * AsyncPoll of the caller's context.  The task's value is the reply. */
static void
conn_call_async (Conn     *conn,
                 guint     op,
                 guint64   object,
                 GVariant *args,
                 gboolean  want_reply,
                 GTask    *task)
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
  if (!conn_check (conn, &error))
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
      w->context = g_main_context_ref (g_task_get_context (task));
      if (cancellable != NULL)
        {
          CancelData *cd = g_new0 (CancelData, 1);

          cd->conn = conn_ref (conn);
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
          g_object_set_data_full (p->owner, "mproc-manager-conn", conn_ref (conn),
                                  (GDestroyNotify) conn_unref);
          p->cancellable = g_cancellable_new ();
          g_hash_table_insert (conn->async_polls, p->context, p);
        }
      p->n_waiting++;
      if (!p->armed)
        p->armed = arm = TRUE;
      g_mutex_unlock (&conn->reply_lock);
    }
  request = conn_request (op, object, w != NULL ? w->serial : 0, args);
  /* the ring has room unless the server is far behind: a put does not wait */
  if (!conn_send (conn, request, NULL, 0, !want_reply, NULL, &error))
    {
      g_mutex_unlock (&conn->call_lock);
      conn_fail_error (conn, error);
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
static MprocManager *
manager_for_address (const char *address)
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
static Conn *
manager_get_conn (MprocManager  *self,
                  GCancellable  *cancellable,
                  GError       **error)
{
  Conn *conn = NULL;

  g_mutex_lock (&self->lock);
  if (self->conn != NULL && self->conn->pid != getpid ())
    self->conn = NULL;   /* the parent's: leave it alone */
  if (self->conn != NULL && !conn_check (self->conn, NULL) && self->address != NULL)
    {
      /* broken: only a new connection can work (and usually fails too) */
      Conn *fresh = conn_open (self->address, self->authkey, cancellable, error);

      if (fresh == NULL)
        {
          g_mutex_unlock (&self->lock);
          return NULL;
        }
      conn_unref (self->conn);
      self->conn = fresh;
    }
  if (self->conn == NULL && self->address != NULL)
    self->conn = conn_open (self->address, self->authkey, cancellable, error);
  else if (self->address == NULL)
    g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED,
                         _("The manager has not been started"));
  if (self->conn != NULL)
    conn = conn_ref (self->conn);
  g_mutex_unlock (&self->lock);

  return conn;
}

static gboolean
manager_call (MprocManager  *self,
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
  Conn *conn;
  gboolean ret;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  conn = manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    return FALSE;
  ret = conn_call (conn, op, object, sunk, fds, n_fds, reply, fds_out, cancellable, error);
  conn_unref (conn);
  return ret;
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
    conn_unref (self->conn);
  self->conn = NULL;
  mproc_clear_fd (&self->listen_fd);
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
   * Since: 1.0
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
   * Since: 1.0
   */
  properties[PROP_CONTEXT] =
    g_param_spec_object ("context", NULL, NULL, MPROC_TYPE_CONTEXT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
mproc_manager_init (MprocManager *self)
{
  g_mutex_init (&self->lock);
  self->listen_fd = -1;
}

/* --- Shareable: a manager crosses as its address (and, to the server
 * process only, its listening socket) ---------------------------------- */

static GVariant *
mproc_manager_serialize (MprocShareable *shareable,
                         GArray         *fds,
                         GError        **error)
{
  MprocManager *self = MPROC_MANAGER (shareable);
  gint32 handle = -1;

  if (self->address == NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED,
                           _("The manager has not been started"));
      return NULL;
    }
  if (self->listen_fd >= 0)
    {
      int fd = fcntl (self->listen_fd, F_DUPFD_CLOEXEC, 3);

      if (fd < 0)
        {
          int errsv = errno;

          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
          return NULL;
        }
      g_array_append_val (fds, fd);
      handle = fds->len - 1;
    }
  return g_variant_new ("(sh)", self->address, handle);
}

static MprocShareable *
mproc_manager_deserialize (GVariant *handle,
                           GArray   *fds,
                           GError  **error)
{
  const char *address;
  g_autoptr(GVariant) h = NULL;
  MprocManager *self;

  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(sh)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return NULL;
    }
  g_variant_get (handle, "(&s@h)", &address, &h);
  if (g_variant_get_handle (h) >= 0)
    {
      int fd = mproc_shareable_steal_fd (fds, h, error);

      if (fd < 0)
        return NULL;
      self = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
      self->listen_fd = fd;
      return MPROC_SHAREABLE (self);
    }
  return MPROC_SHAREABLE (manager_for_address (address));
}

static void
mproc_manager_shareable_init (MprocShareableInterface *iface)
{
  iface->serialize = mproc_manager_serialize;
  iface->deserialize = mproc_manager_deserialize;
}

int
mproc_manager_steal_listen_fd (MprocManager *self)
{
  g_return_val_if_fail (MPROC_IS_MANAGER (self), -1);
  return g_steal_fd (&self->listen_fd);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * mproc_manager_new:
 *
 * Creates a manager that starts its server with the default
 * #MprocContext. Call mproc_manager_start() next.
 *
 * Returns: (transfer full): a new `MprocManager`
 *
 * Since: 1.0
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
 * Since: 1.0
 */
MprocManager *
mproc_manager_new_with_context (MprocContext *context)
{
  g_return_val_if_fail (context == NULL || MPROC_IS_CONTEXT (context), NULL);

  return g_object_new (MPROC_TYPE_MANAGER, "context", context, NULL);
}

static int
listen_abstract (char    **address_out,
                 GError  **error)
{
  static gint counter = 0;
  g_auto(MprocFd) fd = -1;
  struct sockaddr_un sun;
  socklen_t len;
  int errsv;

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    goto failed;

  for (guint attempt = 0; attempt < 16; attempt++)
    {
      g_autofree char *address =
        g_strdup_printf ("unix:abstract=mproc-manager-%d-%d-%08x", (int) getpid (),
                         g_atomic_int_add (&counter, 1), g_random_int ());

      if (!parse_address (address, &sun, &len, error))
        return -1;
      if (bind (fd, (struct sockaddr *) &sun, len) == 0)
        {
          if (listen (fd, 128) < 0)
            goto failed;
          *address_out = g_steal_pointer (&address);
          return g_steal_fd (&fd);
        }
      if (errno != EADDRINUSE)
        goto failed;
    }
  errno = EADDRINUSE;

failed:
  errsv = errno;
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
               _("Cannot create the manager’s socket: %s"), g_strerror (errsv));
  return -1;
}

/**
 * mproc_manager_start:
 * @self: a `MprocManager`
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Starts the server process and connects to it. The server listens as soon
 * as this returns; it lives until mproc_manager_shutdown(), until the last
 * reference to @self is dropped in this process, or until this process
 * exits, whichever comes first. Blocks for the server's start-up.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
mproc_manager_start (MprocManager  *self,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autoptr(MprocManager) carrier = NULL;
  g_autoptr(MprocProcess) process = NULL;
  g_autofree char *address = NULL;
  Conn *conn;
  int fd;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->address != NULL || self->process != NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_STILL_RUNNING,
                           _("The manager has already been started"));
      return FALSE;
    }

  fd = listen_abstract (&address, error);
  if (fd < 0)
    return FALSE;

  /* The server receives the listening socket inside a second manager
   * object (a manager is shareable): it listens from the start, so nobody
   * waits for it to be ready. */
  carrier = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
  carrier->listen_fd = fd;
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

  g_mutex_lock (&self->lock);
  self->address = g_steal_pointer (&address);
  self->process = g_steal_pointer (&process);
  self->starter_pid = getpid ();
  g_mutex_unlock (&self->lock);
  remember_manager (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ADDRESS]);

  conn = manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    {
      mproc_process_kill (self->process);
      mproc_process_join (self->process, -1, NULL, NULL);
      self->shut_down = TRUE;
      return FALSE;
    }
  conn_unref (conn);
  return TRUE;
}

static void
start_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  GError *error = NULL;

  if (mproc_manager_start (source_object, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_start_async:
 * @self: a `MprocManager`
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server is ready or failed to start
 * @user_data: data for @callback
 *
 * Starts the server process without blocking the calling thread (on one
 * of GIO's worker threads: see “Async calls that use a worker thread” in
 * #MprocManager); see
 * mproc_manager_start(). @callback runs in the caller's thread-default main
 * context; call mproc_manager_start_finish() from it.
 *
 * Since: 1.0
 */
void
mproc_manager_start_async (MprocManager        *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_start_async);
  g_task_run_in_thread (task, start_thread);
}

/**
 * mproc_manager_start_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_start_async().
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
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
 * already been stopped.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
mproc_manager_shutdown (MprocManager  *self,
                        GCancellable  *cancellable,
                        GError       **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) local_error = NULL;
  Conn *conn;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

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
  manager_call (self, MANAGER_OP_SHUTDOWN, 0, NULL, NULL, 0, &reply, NULL, cancellable, &local_error);
  if (!mproc_process_join (self->process, SHUTDOWN_TIMEOUT_USEC, cancellable, NULL))
    {
      mproc_process_kill (self->process);
      mproc_process_join (self->process, -1, NULL, NULL);
    }

  g_mutex_lock (&self->lock);
  conn = self->conn;
  self->conn = NULL;
  g_mutex_unlock (&self->lock);
  if (conn != NULL)
    {
      GError *gone = NULL;

      set_broken_error (&gone, _("the manager was shut down"));
      conn_fail (conn, gone);
      g_error_free (gone);
      if (conn->pid == getpid ())
        conn_unref (conn);
    }
  return TRUE;
}

static void
shutdown_thread (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  GError *error = NULL;

  if (mproc_manager_shutdown (source_object, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_shutdown_async:
 * @self: a `MprocManager` started by this process
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when the server has exited
 * @user_data: data for @callback
 *
 * Stops the server without blocking the calling thread (on one of GIO's
 * worker threads, which waits for the server to exit); see
 * mproc_manager_shutdown().
 *
 * Since: 1.0
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
  g_task_run_in_thread (task, shutdown_thread);
}

/**
 * mproc_manager_shutdown_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_shutdown_async().
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
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
 * @address: a manager's address, from mproc_manager_get_address()
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
 * Since: 1.0
 */
MprocManager *
mproc_manager_connect (const char    *address,
                       GCancellable  *cancellable,
                       GError       **error)
{
  g_autoptr(MprocManager) self = NULL;
  Conn *conn;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = manager_for_address (address);
  conn = manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    return NULL;
  conn_unref (conn);
  return g_steal_pointer (&self);
}

static void
connect_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GError *error = NULL;
  MprocManager *manager = mproc_manager_connect (task_data, cancellable, &error);

  if (manager != NULL)
    g_task_return_pointer (task, manager, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_connect_async:
 * @address: a manager's address
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when connected or failed
 * @user_data: data for @callback
 *
 * Connects to a manager's server without blocking the calling thread (the
 * handshake runs on one of GIO's worker threads); see
 * mproc_manager_connect().
 *
 * Since: 1.0
 */
void
mproc_manager_connect_async (const char          *address,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_connect_async);
  g_task_set_task_data (task, g_strdup (address), g_free);
  g_task_run_in_thread (task, connect_thread);
}

/**
 * mproc_manager_connect_finish:
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_connect_async().
 *
 * Returns: (transfer full): the connected manager, or %NULL with @error set
 *
 * Since: 1.0
 */
MprocManager *
mproc_manager_connect_finish (GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_connect_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* TCP                                                                      */

GBytes *
mproc_manager_auth_digest (GBytes       *key,
                           const char   *label,
                           const guint8 *nonce,
                           gsize         nonce_size)
{
  g_autoptr(GHmac) hmac = NULL;
  const guint8 *key_data;
  gsize key_size;
  guint8 digest[32];
  gsize digest_size = sizeof digest;

  key_data = g_bytes_get_data (key, &key_size);
  hmac = g_hmac_new (G_CHECKSUM_SHA256, key_data, key_size);
  /* with its nul, so that label and nonce cannot run into each other */
  g_hmac_update (hmac, (const guchar *) label, strlen (label) + 1);
  g_hmac_update (hmac, nonce, nonce_size);
  g_hmac_get_digest (hmac, digest, &digest_size);
  return g_bytes_new (digest, digest_size);
}

gboolean
mproc_manager_auth_equal (GBytes *a,
                          GBytes *b)
{
  const guint8 *pa, *pb;
  gsize na, nb;
  guint8 diff = 0;

  pa = g_bytes_get_data (a, &na);
  pb = g_bytes_get_data (b, &nb);
  if (na != nb || na == 0)
    return FALSE;
  for (gsize i = 0; i < na; i++)
    diff |= pa[i] ^ pb[i];
  return diff == 0;
}

void
mproc_manager_auth_nonce (guint8 *buf,
                          gsize   size)
{
  gsize done = 0;

  while (done < size)
    {
      ssize_t r = getrandom (buf + done, size - done, 0);

      if (r < 0)
        {
          int errsv = errno;

          if (errsv == EINTR)
            continue;
          g_error ("getrandom() failed: %s", g_strerror (errsv));
        }
      done += r;
    }
}

static gboolean
has_authkey (GBytes *authkey)
{
  return authkey != NULL && g_bytes_get_size (authkey) > 0;
}

/* A numeric address, or a name resolved (blocking); NULL: any IPv4. */
static GInetAddress *
resolve_host (const char    *host,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(GResolver) resolver = NULL;
  GInetAddress *inet;
  GList *list;

  if (host == NULL)
    return g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  inet = g_inet_address_new_from_string (host);
  if (inet != NULL)
    return inet;
  resolver = g_resolver_get_default ();
  list = g_resolver_lookup_by_name (resolver, host, cancellable, error);
  if (list == NULL)
    return NULL;
  inet = g_object_ref (list->data);
  g_resolver_free_addresses (list);
  return inet;
}

static gboolean
to_native (GInetAddress             *inet,
           guint16                   port,
           struct sockaddr_storage  *ss,
           socklen_t                *len,
           GError                  **error)
{
  g_autoptr(GSocketAddress) sa = g_inet_socket_address_new (inet, port);

  *len = g_socket_address_get_native_size (sa);
  return g_socket_address_to_native (sa, ss, sizeof *ss, error);
}

/* "tcp:host=HOST,port=PORT" (D-Bus style; "family=…" is ignored) */
static gboolean
parse_tcp_address (const char  *address,
                   char       **host,
                   guint16     *port,
                   GError     **error)
{
  g_auto(GStrv) pairs = g_strsplit (address + strlen ("tcp:"), ",", -1);
  gboolean have_port = FALSE;

  for (guint i = 0; pairs[i] != NULL; i++)
    {
      const char *eq = strchr (pairs[i], '=');
      const char *value = eq != NULL ? eq + 1 : NULL;
      guint64 n;

      if (value == NULL)
        goto bad;
      if (g_str_has_prefix (pairs[i], "host=") && *host == NULL && value[0] != '\0')
        *host = g_strdup (value);
      else if (g_str_has_prefix (pairs[i], "port=") &&
               g_ascii_string_to_unsigned (value, 10, 1, G_MAXUINT16, &n, NULL))
        {
          *port = n;
          have_port = TRUE;
        }
      else if (!g_str_has_prefix (pairs[i], "family="))
        goto bad;
    }
  if (*host != NULL && have_port)
    return TRUE;

bad:
  g_clear_pointer (host, g_free);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               _("Unsupported manager address “%s”"), address);
  return FALSE;
}

static int
connect_tcp (const char    *address,
             const char    *host,
             guint16        port,
             gint64         deadline,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_auto(MprocFd) sock = -1;
  struct sockaddr_storage ss;
  socklen_t len;
  int errsv = 0, one = 1;
  socklen_t errsv_len = sizeof errsv;

  inet = resolve_host (host, cancellable, error);
  if (inet == NULL || !to_native (inet, port, &ss, &len, error))
    return -1;
  sock = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0 || (connect (sock, (struct sockaddr *) &ss, len) < 0 && errno != EINPROGRESS))
    errsv = errno;
  else if (!mproc_fd_wait (sock, G_IO_OUT, deadline, cancellable, error))
    return -1;
  else if (getsockopt (sock, SOL_SOCKET, SO_ERROR, &errsv, &errsv_len) < 0)
    errsv = errno;
  if (errsv != 0)
    {
      if (errsv == ECONNREFUSED)
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                     _("No manager is listening at “%s”"), address);
      else
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                     _("Cannot connect to the manager at “%s”: %s"), address, g_strerror (errsv));
      return -1;
    }
  setsockopt (sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return g_steal_fd (&sock);
}

/* The client's side of the challenge-response (mproc-manager-private.h):
 * it proves that it knows @authkey, then makes the server prove it too. */
static Conn *
conn_open_tcp (const char    *address,
               GBytes        *authkey,
               GCancellable  *cancellable,
               GError       **error)
{
  g_autofree char *host = NULL;
  g_auto(MprocFd) sock = -1;
  g_autoptr(GVariant) challenge = NULL;
  g_autoptr(GVariant) server_nonce = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) proof = NULL;
  g_autoptr(GBytes) answer = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GBytes) got = NULL;
  guint8 nonce[MPROC_MANAGER_TCP_NONCE_SIZE];
  gint64 deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_USEC;
  const guint8 *sn;
  gsize sn_size;
  const char *protocol, *status;
  guint32 server_pid;
  guint16 port = 0;
  Conn *conn;

  if (!parse_tcp_address (address, &host, &port, error))
    return NULL;
  sock = connect_tcp (address, host, port, deadline, cancellable, error);
  if (sock < 0)
    return NULL;

  if (!mproc_fd_wait (sock, G_IO_IN, deadline, cancellable, error) ||
      (challenge = mproc_wire_recv_value (sock, NULL, 4096, cancellable, error)) == NULL)
    goto failed;
  if (!g_variant_is_of_type (challenge, G_VARIANT_TYPE ("(say)")))
    goto malformed;
  g_variant_get (challenge, "(&s@ay)", &protocol, &server_nonce);
  if (!g_str_equal (protocol, MPROC_MANAGER_TCP_PROTOCOL))
    goto malformed;
  sn = g_variant_get_fixed_array (server_nonce, &sn_size, 1);
  if (has_authkey (authkey))
    answer = mproc_manager_auth_digest (authkey, MPROC_MANAGER_TCP_CLIENT_LABEL, sn, sn_size);
  else
    answer = g_bytes_new (NULL, 0);   /* no key: the server will refuse */
  mproc_manager_auth_nonce (nonce, sizeof nonce);
  if (!mproc_wire_send_value (sock, g_variant_new ("(@ay@ay)",
                                                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, answer, TRUE),
                                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, nonce,
                                                                              sizeof nonce, 1)),
                              NULL, 0, cancellable, error) ||
      !mproc_fd_wait (sock, G_IO_IN, deadline, cancellable, error) ||
      (reply = mproc_wire_recv_value (sock, NULL, 4096, cancellable, error)) == NULL)
    goto failed;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE ("(sv)")))
    goto malformed;
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
  if (!g_str_equal (status, "ok") || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(ayu)")))
    goto malformed;
  g_variant_get (body, "(@ayu)", &proof, &server_pid);
  if (has_authkey (authkey))
    expected = mproc_manager_auth_digest (authkey, MPROC_MANAGER_TCP_SERVER_LABEL, nonce, sizeof nonce);
  got = g_variant_get_data_as_bytes (proof);
  if (expected == NULL || !mproc_manager_auth_equal (expected, got))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                   _("The server at “%s” does not know the authkey"), address);
      return NULL;
    }

  conn = g_new0 (Conn, 1);
  g_atomic_ref_count_init (&conn->ref);
  conn->pid = getpid ();
  conn->sock = g_steal_fd (&sock);
  conn->server_pid = server_pid;
  conn_init_locks (conn);
  return conn;

failed:
  if (error != NULL && *error != NULL && (*error)->domain == MPROC_ERROR &&
      (*error)->code == MPROC_ERROR_CLOSED)
    (*error)->code = MPROC_ERROR_BROKEN;
  g_prefix_error (error, _("Cannot connect to the manager at “%s”: "), address);
  return NULL;

malformed:
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("The manager at “%s” sent a malformed reply"), address);
  return NULL;
}

/**
 * mproc_manager_set_authkey:
 * @self: a `MprocManager`
 * @authkey: (nullable): the secret shared with remote clients, or %NULL
 *
 * Sets the authentication key of @self, like the `authkey` of Python's
 * managers: the secret a TCP listener (mproc_manager_listen_tcp()) asks
 * its clients to prove they know, and that a manager connected over TCP
 * proves it knows (see mproc_manager_connect_with_authkey()).
 *
 * The key itself never travels: each side sends a random nonce and the
 * other answers with its HMAC-SHA256 under the key, compared in constant
 * time. Use at least 32 random bytes. The key protects the handshake
 * only: the traffic is not encrypted, so on an untrusted network use a
 * tunnel (SSH, WireGuard…).
 *
 * Set the key before mproc_manager_listen_tcp(): a listener keeps the key
 * it was opened with.
 *
 * Since: 1.0
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
 * after mproc_manager_start() (or on a manager connected over its unix
 * address): the socket is bound here, so that its errors are reported
 * here, and handed to the server, which listens on it until it stops.
 * mproc_manager_get_tcp_address() then gives the address that clients
 * pass to mproc_manager_connect_with_authkey().
 *
 * An authkey is required (mproc_manager_set_authkey()); without one the
 * call fails with %MPROC_ERROR_ACCESS_DENIED. A client that does not
 * prove it knows the key within a few seconds is refused with
 * %MPROC_ERROR_ACCESS_DENIED (or %MPROC_ERROR_INVALID_MESSAGE for bytes
 * that are not the protocol) before it can send any request, and the
 * server goes on serving the others.
 *
 * Remote clients cannot map the server's shared memory: each of their
 * requests travels over the TCP stream and waits for its reply. They can
 * use dicts, lists and namespaces (served in order with the local
 * clients) but not change notifications, mproc_manager_publish() or
 * mproc_manager_lookup(), which need shared memory or file descriptors.
 *
 * A manager listens on TCP once: a second call fails with
 * %G_IO_ERROR_EXISTS.
 *
 * Returns: %TRUE once the server listens, %FALSE with @error set
 *
 * Since: 1.0
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
  g_autoptr(GInetAddress) inet = NULL;
  g_autofree char *host_string = NULL;
  g_auto(MprocFd) fd = -1;
  struct sockaddr_storage ss;
  socklen_t len;
  gboolean listening;
  int one = 1;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_mutex_lock (&self->lock);
  if (self->authkey != NULL)
    key = g_bytes_ref (self->authkey);
  listening = self->tcp_address != NULL;
  g_mutex_unlock (&self->lock);

  if (!has_authkey (key))
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

  inet = resolve_host (host, cancellable, error);
  if (inet == NULL || !to_native (inet, port, &ss, &len, error))
    return FALSE;
  fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 ||
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind (fd, (struct sockaddr *) &ss, len) < 0 ||
      listen (fd, SOMAXCONN) < 0 ||
      getsockname (fd, (struct sockaddr *) &ss, &(socklen_t) { sizeof ss }) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   _("Cannot listen on TCP port %u: %s"), (guint) port, g_strerror (errsv));
      return FALSE;
    }
  port = g_ntohs (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                           : ((struct sockaddr_in *) &ss)->sin_port);

  if (!manager_call (self, MANAGER_OP_LISTEN_TCP, 0,
                     g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, key, TRUE),
                     &fd, 1, &reply, NULL, cancellable, error))
    return FALSE;

  host_string = g_inet_address_to_string (inet);
  g_mutex_lock (&self->lock);
  if (self->tcp_address == NULL)
    self->tcp_address = g_strdup_printf ("tcp:host=%s,port=%u", host_string, (guint) port);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

typedef struct
{
  char    *host;
  guint16  port;
  char    *address;
  GBytes  *authkey;
} TcpTaskData;

static void
tcp_task_data_free (gpointer data)
{
  TcpTaskData *d = data;

  g_free (d->host);
  g_free (d->address);
  g_clear_pointer (&d->authkey, g_bytes_unref);
  g_free (d);
}

static void
listen_tcp_thread (GTask        *task,
                   gpointer      source_object,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  TcpTaskData *d = task_data;
  GError *error = NULL;

  if (mproc_manager_listen_tcp (source_object, d->host, d->port, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
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
 * Asynchronous form of mproc_manager_listen_tcp(); runs on one of GIO's
 * worker threads.
 *
 * Since: 1.0
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
  TcpTaskData *d;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  d = g_new0 (TcpTaskData, 1);
  d->host = g_strdup (host);
  d->port = port;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_listen_tcp_async);
  g_task_set_task_data (task, d, tcp_task_data_free);
  g_task_run_in_thread (task, listen_tcp_thread);
}

/**
 * mproc_manager_listen_tcp_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_listen_tcp_async().
 *
 * Returns: %TRUE once the server listens, %FALSE with @error set
 *
 * Since: 1.0
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
 * mproc_manager_listen_tcp() has succeeded, in D-Bus style:
 * `tcp:host=127.0.0.1,port=40123` (with port 0 the port the system chose).
 *
 * Returns: (nullable): the TCP address, or %NULL when not listening on TCP
 *
 * Since: 1.0
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
 * Connects to a manager that listens on TCP (mproc_manager_listen_tcp()),
 * possibly on another machine, proving that this process knows @authkey
 * and checking that the server knows it too. A wrong or missing key fails
 * with %MPROC_ERROR_ACCESS_DENIED. For a unix address the key is not
 * used (the server checks the user id instead) and this is
 * mproc_manager_connect().
 *
 * A manager connected over TCP serves dicts, lists and namespaces, each
 * call being one request and one reply over the network; change
 * notifications, mproc_manager_publish() and mproc_manager_lookup() fail
 * with %MPROC_ERROR_FAILED. It cannot be passed to a child process (the
 * child would connect without the key and be refused).
 *
 * Returns: (transfer full): a connected manager, or %NULL with @error set
 *
 * Since: 1.0
 */
MprocManager *
mproc_manager_connect_with_authkey (const char    *address,
                                    GBytes        *authkey,
                                    GCancellable  *cancellable,
                                    GError       **error)
{
  g_autoptr(MprocManager) self = NULL;
  Conn *conn;

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_str_has_prefix (address, "tcp:"))
    return mproc_manager_connect (address, cancellable, error);

  /* not shared with other connections to @address: its key is its own */
  self = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
  mproc_manager_set_authkey (self, authkey);
  conn = manager_get_conn (self, cancellable, error);
  if (conn == NULL)
    return NULL;
  conn_unref (conn);
  return g_steal_pointer (&self);
}

static void
connect_with_authkey_thread (GTask        *task,
                             gpointer      source_object,
                             gpointer      task_data,
                             GCancellable *cancellable)
{
  TcpTaskData *d = task_data;
  GError *error = NULL;
  MprocManager *manager = mproc_manager_connect_with_authkey (d->address, d->authkey, cancellable, &error);

  if (manager != NULL)
    g_task_return_pointer (task, manager, g_object_unref);
  else
    g_task_return_error (task, error);
}

/**
 * mproc_manager_connect_with_authkey_async:
 * @address: a manager's address
 * @authkey: (nullable): the manager's authkey
 * @cancellable: (nullable): a `GCancellable`
 * @callback: (scope async) (closure user_data): called when connected or failed
 * @user_data: data for @callback
 *
 * Asynchronous form of mproc_manager_connect_with_authkey(); the
 * connection and its challenge-response run on one of GIO's worker
 * threads.
 *
 * Since: 1.0
 */
void
mproc_manager_connect_with_authkey_async (const char          *address,
                                          GBytes              *authkey,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  TcpTaskData *d;

  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  d = g_new0 (TcpTaskData, 1);
  d->address = g_strdup (address);
  d->authkey = authkey != NULL ? g_bytes_ref (authkey) : NULL;
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_connect_with_authkey_async);
  g_task_set_task_data (task, d, tcp_task_data_free);
  g_task_run_in_thread (task, connect_with_authkey_thread);
}

/**
 * mproc_manager_connect_with_authkey_finish:
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_connect_with_authkey_async().
 *
 * Returns: (transfer full): a connected manager, or %NULL with @error set
 *
 * Since: 1.0
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
 * Gets the address other processes pass to mproc_manager_connect().
 *
 * Returns: (nullable): the address, or %NULL before mproc_manager_start()
 *
 * Since: 1.0
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
 * Since: 1.0
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
 * Since: 1.0
 */
gboolean
mproc_manager_ping (MprocManager  *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return manager_call (self, MANAGER_OP_PING, 0, NULL, NULL, 0, &reply, NULL, cancellable, error);
}

static void
ping_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;

  if (mproc_manager_ping (source_object, cancellable, &error))
    g_task_return_pointer (task, g_variant_ref_sink (g_variant_new ("()")), (GDestroyNotify) g_variant_unref);
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
 * Makes one round trip to the server without blocking the calling thread:
 * without a thread on the rings, on one of GIO's worker threads over TCP.
 *
 * Since: 1.0
 */
void
mproc_manager_ping_async (MprocManager        *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Conn *conn;

  g_return_if_fail (MPROC_IS_MANAGER (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_ping_async);
  conn = manager_get_conn (self, cancellable, &error);
  if (conn == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (conn->requests != NULL)
    {
      g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));

      /* on the ring: no thread */
      conn_call_async (conn, MANAGER_OP_PING, 0, unit, TRUE, task);
    }
  else
    g_task_run_in_thread (task, ping_thread);
  conn_unref (conn);
}

/**
 * mproc_manager_ping_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_ping_async().
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
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
 * or not, gets it with mproc_manager_lookup(), as with Python's
 * `Manager().Queue()` and friends. The server keeps the object's shared
 * memory and file descriptors, never runs any of its code, and keeps it
 * until mproc_manager_unpublish() or its own exit.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
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
  description = mproc_shareable_serialize (object, fds, error);
  if (description == NULL)
    return FALSE;
  g_variant_ref_sink (description);
  if (fds->len > MPROC_WIRE_MAX_FDS)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("The object has too many file descriptors to publish"));
      return FALSE;
    }
  return manager_call (self, MANAGER_OP_PUBLISH, 0, g_variant_new ("(sv)", name, description),
                       (const int *) fds->data, fds->len, &reply, NULL, cancellable, error);
}

typedef struct
{
  char           *name;
  MprocShareable *object;
} PublishData;

static void
publish_data_free (gpointer data)
{
  PublishData *pd = data;

  g_free (pd->name);
  g_clear_object (&pd->object);
  g_free (pd);
}

static void
publish_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  PublishData *pd = task_data;
  GError *error = NULL;

  if (mproc_manager_publish (source_object, pd->name, pd->object, cancellable, &error))
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
 * Publishes @object without blocking the calling thread; see
 * mproc_manager_publish().
 *
 * Since: 1.0
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
  PublishData *pd;

  g_return_if_fail (MPROC_IS_MANAGER (self));
  g_return_if_fail (name != NULL);
  g_return_if_fail (MPROC_IS_SHAREABLE (object));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, mproc_manager_publish_async);
  pd = g_new0 (PublishData, 1);
  pd->name = g_strdup (name);
  pd->object = g_object_ref (object);
  g_task_set_task_data (task, pd, publish_data_free);
  g_task_run_in_thread (task, publish_thread);
}

/**
 * mproc_manager_publish_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_publish_async().
 *
 * Returns: %TRUE on success, %FALSE with @error set
 *
 * Since: 1.0
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
 * @name: a name given to mproc_manager_publish()
 * @cancellable: (nullable): a `GCancellable`
 * @error: return location for a #GError
 *
 * Gets the object published under @name: a new instance in this process
 * that shares its state with every other one.
 *
 * Returns: (transfer full): the object, or %NULL with @error set
 *   (%MPROC_ERROR_NOT_FOUND if nothing is published under @name)
 *
 * Since: 1.0
 */
MprocShareable *
mproc_manager_lookup (MprocManager  *self,
                      const char    *name,
                      GCancellable  *cancellable,
                      GError       **error)
{
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GVariant) reply = NULL;

  g_return_val_if_fail (MPROC_IS_MANAGER (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fds = mproc_fd_array_new ();
  if (!manager_call (self, MANAGER_OP_LOOKUP, 0, g_variant_new_string (name), NULL, 0,
                     &reply, fds, cancellable, error))
    return NULL;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_VARIANT))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("The manager’s server sent a malformed reply"));
      return NULL;
    }
  {
    g_autoptr(GVariant) description = g_variant_get_variant (reply);

    return mproc_shareable_deserialize (description, fds, error);
  }
}

static void
lookup_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;
  MprocShareable *object = mproc_manager_lookup (source_object, task_data, cancellable, &error);

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
 * Gets a published object without blocking the calling thread (on one of
 * GIO's worker threads: the object's file descriptors come over the
 * connection's socket); see mproc_manager_lookup().
 *
 * Since: 1.0
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
  g_task_set_task_data (task, g_strdup (name), g_free);
  g_task_run_in_thread (task, lookup_thread);
}

/**
 * mproc_manager_lookup_finish:
 * @self: a `MprocManager`
 * @result: the `GAsyncResult` given to the callback
 * @error: return location for a #GError
 *
 * Finishes mproc_manager_lookup_async().
 *
 * Returns: (transfer full): the object, or %NULL with @error set
 *
 * Since: 1.0
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
 * Since: 1.0
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

  return manager_call (self, MANAGER_OP_UNPUBLISH, 0, g_variant_new_string (name), NULL, 0,
                       &reply, NULL, cancellable, error);
}

/* ------------------------------------------------------------------------ */
/* Proxies                                                                  */

static void
set_malformed_reply (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("The manager’s server sent a malformed reply"));
}

GVariant *
mproc_proxy_reply_unbox (GVariant  *reply,
                         GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_VARIANT))
    {
      set_malformed_reply (error);
      return NULL;
    }
  return g_variant_get_variant (reply);
}

gboolean
mproc_proxy_reply_boolean (GVariant  *reply,
                           gboolean  *out_value,
                           GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_BOOLEAN))
    {
      set_malformed_reply (error);
      return FALSE;
    }
  *out_value = g_variant_get_boolean (reply);
  return TRUE;
}

gssize
mproc_proxy_reply_count (GVariant  *reply,
                         GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_UINT64) ||
      g_variant_get_uint64 (reply) > G_MAXSSIZE)
    {
      set_malformed_reply (error);
      return -1;
    }
  return g_variant_get_uint64 (reply);
}

GVariant *
mproc_proxy_reply_raw (GVariant    *reply,
                       const char  *type,
                       GError     **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE (type)))
    {
      set_malformed_reply (error);
      return NULL;
    }
  return g_variant_ref (reply);
}

char **
mproc_proxy_reply_strv (GVariant  *reply,
                        GError   **error)
{
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_STRING_ARRAY))
    {
      set_malformed_reply (error);
      return NULL;
    }
  return g_variant_dup_strv (reply, NULL);
}

/* Takes a server-side reference for this process's connection when the
 * proxy is used in a process for the first time (a child). */
static gboolean
proxy_ensure_ref (MprocProxyCore  *core,
                  GCancellable    *cancellable,
                  GError         **error)
{
  GPid pid = getpid ();
  gboolean ret = TRUE;

  if (G_LIKELY (core->ref_pid == pid))
    return TRUE;
  g_mutex_lock (&core->lock);
  if (core->ref_pid != pid)
    {
      ret = manager_call (core->manager, MANAGER_OP_INCREF, core->id, NULL, NULL, 0, NULL, NULL,
                          cancellable, error);
      if (ret)
        core->ref_pid = pid;
    }
  g_mutex_unlock (&core->lock);
  return ret;
}

gboolean
mproc_proxy_core_init_new (MprocProxyCore    *core,
                           MprocManager      *manager,
                           MprocManagerKind   kind,
                           const char        *name,
                           GCancellable      *cancellable,
                           GError           **error)
{
  g_autoptr(GVariant) reply = NULL;

  g_mutex_init (&core->lock);
  core->manager = g_object_ref (manager);
  core->kind = kind;
  if (!manager_call (manager, MANAGER_OP_CREATE, 0,
                     g_variant_new ("(us)", (guint32) kind, name != NULL ? name : ""),
                     NULL, 0, &reply, NULL, cancellable, error))
    return FALSE;
  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_UINT64))
    {
      set_malformed_reply (error);
      return FALSE;
    }
  core->id = g_variant_get_uint64 (reply);
  core->ref_pid = getpid ();
  return TRUE;
}

void
mproc_proxy_core_clear (MprocProxyCore *core)
{
  mproc_proxy_unwatch (core);
  if (core->manager != NULL && core->ref_pid == getpid ())
    {
      Conn *conn = NULL;

      /* drop our server reference if we are connected (never connect for it) */
      g_mutex_lock (&core->manager->lock);
      if (core->manager->conn != NULL && core->manager->conn->pid == getpid ())
        conn = conn_ref (core->manager->conn);
      g_mutex_unlock (&core->manager->lock);
      if (conn != NULL)
        {
          g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));

          conn_call (conn, MANAGER_OP_DECREF, core->id, unit, NULL, 0, NULL, NULL, NULL, NULL);
          conn_unref (conn);
        }
    }
  core->ref_pid = 0;
  g_clear_pointer ((MprocView **) &core->view, mproc_view_free);
  g_clear_object (&core->manager);
  g_mutex_clear (&core->lock);
}

GVariant *
mproc_proxy_core_serialize (MprocProxyCore *core)
{
  return g_variant_new ("(st)", core->manager->address, core->id);
}

gboolean
mproc_proxy_core_deserialize (MprocProxyCore   *core,
                              MprocManagerKind  kind,
                              GVariant         *handle,
                              GError          **error)
{
  const char *address;

  g_mutex_init (&core->lock);
  core->kind = kind;
  if (!g_variant_is_of_type (handle, G_VARIANT_TYPE ("(st)")))
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed shared object"));
      return FALSE;
    }
  g_variant_get (handle, "(&st)", &address, &core->id);
  core->manager = manager_for_address (address);
  core->ref_pid = 0;
  return TRUE;
}

gboolean
mproc_proxy_call (MprocProxyCore  *core,
                  guint            op,
                  GVariant        *args,
                  GVariant       **reply,
                  GCancellable    *cancellable,
                  GError         **error)
{
  if (!proxy_ensure_ref (core, cancellable, error))
    {
      if (args != NULL)
        g_variant_unref (g_variant_take_ref (args));
      return FALSE;
    }
  return manager_call (core->manager, op, core->id, args, NULL, 0, reply, NULL, cancellable, error);
}

/* --- Reads from the view ------------------------------------------------ */

/* How long a read waits for writes in flight before it asks the server
 * (which serves it after them anyway). */
#define VIEW_WAIT_USEC 50

/* The view to read from now (NULL: ask the server), or FALSE with @error
 * when the server is known to be gone.  Without @create, only a view
 * already mapped is used: len() alone does not make the server keep one. */
static gboolean
proxy_view_prepare (MprocProxyCore  *core,
                    gboolean         create,
                    MprocView      **view_out,
                    GError         **error)
{
  GError *local_error = NULL;
  MprocView *view = NULL;
  gboolean ret = TRUE;
  gint64 now;
  Conn *conn;

  *view_out = NULL;
  if (g_atomic_int_get (&core->view_failed) ||
      (!create && g_atomic_pointer_get (&core->view) == NULL))
    return TRUE;
  if (!proxy_ensure_ref (core, NULL, error))
    return FALSE;
  conn = manager_get_conn (core->manager, NULL, error);
  if (conn == NULL)
    return FALSE;
  if (conn->requests == NULL)
    {
      /* over TCP every read is a round trip */
      g_atomic_int_set (&core->view_failed, TRUE);
      goto out;
    }
  if (!conn_check (conn, error))
    {
      ret = FALSE;
      goto out;
    }
  /* a dead server is noticed within a millisecond, as by pipelined writes */
  now = g_get_monotonic_time ();
  if (now - __atomic_load_n (&conn->last_read_hup_check, __ATOMIC_RELAXED) > HUP_CHECK_USEC)
    {
      __atomic_store_n (&conn->last_read_hup_check, now, __ATOMIC_RELAXED);
      if (mproc_ring_sock_hup (conn->sock))
        {
          set_broken_error (&local_error, _("the connection was closed"));
          conn_fail (conn, local_error);
          g_propagate_error (error, local_error);
          ret = FALSE;
          goto out;
        }
    }

  view = g_atomic_pointer_get (&core->view);
  if (view == NULL)
    {
      g_mutex_lock (&core->lock);
      if (core->view == NULL && !core->view_failed)
        {
          g_autoptr(GArray) fds = mproc_fd_array_new ();
          g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));
          g_autoptr(GVariant) reply = NULL;

          if (conn_call (conn, MANAGER_OP_VIEW, core->id, unit, NULL, 0, &reply, fds, NULL, &local_error) &&
              fds->len == 1)
            {
              core->view = mproc_view_new (g_array_index (fds, int, 0), NULL);
              g_array_index (fds, int, 0) = -1;
            }
          if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_BROKEN))
            {
              g_propagate_error (error, local_error);
              ret = FALSE;
            }
          else if (core->view == NULL)
            g_atomic_int_set (&core->view_failed, TRUE);
          g_clear_error (&local_error);
        }
      view = core->view;
      g_mutex_unlock (&core->lock);
    }
  if (view != NULL && !mproc_order_wait_served (conn->order, VIEW_WAIT_USEC))
    view = NULL;

out:
  conn_unref (conn);
  *view_out = ret ? view : NULL;
  return ret;
}

gboolean
mproc_proxy_view_lookup (MprocProxyCore  *core,
                         GVariant        *key,
                         GVariant       **value_out,
                         int             *found,
                         GError         **error)
{
  MprocView *view;

  *found = MPROC_VIEW_UNAVAILABLE;
  if (!proxy_view_prepare (core, TRUE, &view, error))
    return FALSE;
  if (view != NULL)
    *found = mproc_view_lookup (view, key, value_out);
  return TRUE;
}

gboolean
mproc_proxy_view_len (MprocProxyCore  *core,
                      gint64          *len,
                      GError         **error)
{
  MprocView *view;

  *len = -1;
  if (!proxy_view_prepare (core, FALSE, &view, error))
    return FALSE;
  if (view != NULL)
    *len = mproc_view_len (view);
  return TRUE;
}

typedef struct
{
  MprocProxyCore *core;
  GObject        *proxy;     /* keeps @core alive */
  guint           op;
  GVariant       *args;
  gboolean        want_reply;
} CallData;

static void
call_data_free (gpointer data)
{
  CallData *cd = data;

  g_clear_pointer (&cd->args, g_variant_unref);
  g_clear_object (&cd->proxy);
  g_free (cd);
}

static void
call_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  CallData *cd = task_data;
  GVariant *reply = NULL;
  GError *error = NULL;

  if (!mproc_proxy_call (cd->core, cd->op, g_variant_ref (cd->args),
                         cd->want_reply ? &reply : NULL, cancellable, &error))
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, reply != NULL ? reply : g_variant_ref_sink (g_variant_new ("()")),
                           (GDestroyNotify) g_variant_unref);
}

/* On the rings, the request is put at once and the reply is waited for
 * from the caller's main context (conn_call_async()).  Over TCP, where a
 * reply is read from a socket frame by frame, the blocking call runs on
 * GIO's worker threads. */
void
mproc_proxy_call_async (MprocProxyCore      *core,
                        gpointer             source_object,
                        gpointer             source_tag,
                        guint                op,
                        GVariant            *args,
                        gboolean             want_reply,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  CallData *cd;
  Conn *conn;

  task = g_task_new (source_object, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  conn = proxy_ensure_ref (core, cancellable, &error) ?
         manager_get_conn (core->manager, cancellable, &error) : NULL;
  if (conn == NULL)
    {
      if (args != NULL)
        g_variant_unref (g_variant_take_ref (args));
      g_task_return_error (task, error);
      return;
    }
  if (conn->requests != NULL)
    {
      g_autoptr(GVariant) sunk = g_variant_take_ref (args != NULL ? args : g_variant_new ("()"));

      conn_call_async (conn, op, core->id, sunk, want_reply, task);
      conn_unref (conn);
      return;
    }
  conn_unref (conn);

  cd = g_new0 (CallData, 1);
  cd->core = core;
  cd->proxy = g_object_ref (source_object);
  cd->op = op;
  cd->args = g_variant_take_ref (args != NULL ? args : g_variant_new ("()"));
  cd->want_reply = want_reply;
  g_task_set_task_data (task, cd, call_data_free);
  g_task_run_in_thread (task, call_thread);
}

GVariant *
mproc_proxy_call_finish (gpointer       source_object,
                         GAsyncResult  *result,
                         gpointer       source_tag,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, source_object), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* --- Watching ------------------------------------------------------------ */

static MprocProxyWatcher *
watcher_ref (MprocProxyWatcher *w)
{
  g_atomic_ref_count_inc (&w->ref);
  return w;
}

static void
watcher_unref (gpointer data)
{
  MprocProxyWatcher *w = data;

  if (!g_atomic_ref_count_dec (&w->ref))
    return;
  g_weak_ref_clear (&w->proxy);
  g_main_context_unref (w->context);
  g_clear_object (&w->cancellable);
  g_clear_object (&w->owner);
  conn_unref (w->conn);
  g_free (w);
}

typedef struct
{
  MprocProxyWatcher *watcher;
  guint64            seq;
  guint              kind;
  GVariant          *payload;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  watcher_unref (d->watcher);
  g_variant_unref (d->payload);
  g_free (d);
}

static gboolean
deliver_cb (gpointer data)
{
  Delivery *d = data;
  MprocProxyWatcher *w = d->watcher;
  g_autoptr(GObject) proxy = NULL;
  gboolean deliver;

  g_mutex_lock (&w->conn->state_lock);
  deliver = w->active && (d->kind == MANAGER_EVENT_LOST || d->seq > w->skip_until);
  g_mutex_unlock (&w->conn->state_lock);
  if (!deliver)
    return G_SOURCE_REMOVE;
  proxy = g_weak_ref_get (&w->proxy);
  if (proxy != NULL)
    w->func (proxy, d->kind, d->payload);
  return G_SOURCE_REMOVE;
}

/* Reads every event available and hands each to the watchers of its
 * object, in their own contexts.  Whoever gets the read lock pumps; the
 * others find the ring empty afterwards. */
static void
conn_pump_events (Conn *conn)
{
  g_autoptr(GPtrArray) deliveries = NULL;

  if (!g_mutex_trylock (&conn->event_read_lock))
    return;

  deliveries = g_ptr_array_new ();
  for (;;)
    {
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GVariant) message = NULL;
      g_autoptr(GVariant) payload = NULL;
      guint64 seq, id;
      guint32 kind;

      bytes = mproc_ring_get (conn->events, conn->sock, NULL, 0, NULL, NULL);
      if (bytes == NULL)
        break;
      message = mproc_wire_decode (bytes, NULL);
      if (message == NULL || !g_variant_is_of_type (message, G_VARIANT_TYPE ("(ttuv)")))
        continue;
      g_variant_get (message, "(ttuv)", &seq, &id, &kind, &payload);

      g_mutex_lock (&conn->state_lock);
      for (guint i = 0; i < conn->watchers->len; i++)
        {
          MprocProxyWatcher *w = conn->watchers->pdata[i];

          if (w->id == id || kind == MANAGER_EVENT_LOST)
            {
              Delivery *d = g_new0 (Delivery, 1);

              d->watcher = watcher_ref (w);
              d->seq = seq;
              d->kind = kind;
              d->payload = g_variant_ref (payload);
              g_ptr_array_add (deliveries, d);
            }
        }
      g_mutex_unlock (&conn->state_lock);
    }
  g_mutex_unlock (&conn->event_read_lock);

  for (guint i = 0; i < deliveries->len; i++)
    {
      Delivery *d = deliveries->pdata[i];

      g_main_context_invoke_full (d->watcher->context, G_PRIORITY_DEFAULT, deliver_cb, d,
                                  delivery_free);
    }
}

static void watcher_arm (MprocProxyWatcher *w);

static void
watcher_poll_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  MprocProxyWatcher *w = user_data;
  gboolean active;

  if (mproc_ring_poll_finish (result, NULL))
    {
      conn_pump_events (w->conn);
      g_mutex_lock (&w->conn->state_lock);
      active = w->active;
      g_mutex_unlock (&w->conn->state_lock);
      /* a server that hung up sends nothing more */
      if (active && !mproc_ring_sock_hup (w->conn->sock))
        watcher_arm (w);
    }
  watcher_unref (w);
}

/* Waits (in the watcher's context, without a thread) for events. */
static void
watcher_arm (MprocProxyWatcher *w)
{
  g_main_context_push_thread_default (w->context);
  mproc_ring_poll_async (w->conn->events, w->owner, w->conn->sock, -1, w->cancellable,
                         watcher_poll_cb, watcher_ref (w));
  g_main_context_pop_thread_default (w->context);
}

gboolean
mproc_proxy_watch (MprocProxyCore       *core,
                   GObject              *proxy,
                   MprocProxyEventFunc   func,
                   GVariant            **snapshot,
                   GCancellable         *cancellable,
                   GError              **error)
{
  g_autoptr(GVariant) reply = NULL;
  MprocProxyWatcher *w;
  guint64 seq;
  Conn *conn;

  if (mproc_proxy_is_watched (core))
    return TRUE;
  if (!proxy_ensure_ref (core, cancellable, error))
    return FALSE;
  conn = manager_get_conn (core->manager, cancellable, error);
  if (conn == NULL)
    return FALSE;

  w = g_new0 (MprocProxyWatcher, 1);
  g_atomic_ref_count_init (&w->ref);
  w->conn = conn;
  w->id = core->id;
  g_weak_ref_init (&w->proxy, proxy);
  w->func = func;
  w->context = g_main_context_ref_thread_default ();
  w->skip_until = G_MAXUINT64;
  w->active = TRUE;

  g_mutex_lock (&conn->state_lock);
  g_ptr_array_add (conn->watchers, watcher_ref (w));
  g_mutex_unlock (&conn->state_lock);

  if (!mproc_proxy_call (core, MANAGER_OP_SUBSCRIBE, NULL, &reply, cancellable, error) ||
      !g_variant_is_of_type (reply, G_VARIANT_TYPE ("(tv)")))
    {
      if (reply != NULL)
        g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                             _("The manager’s server sent a malformed reply"));
      g_mutex_lock (&conn->state_lock);
      w->active = FALSE;
      g_ptr_array_remove (conn->watchers, w);
      g_mutex_unlock (&conn->state_lock);
      watcher_unref (w);
      watcher_unref (w);
      return FALSE;
    }

  g_mutex_lock (&conn->state_lock);
  g_variant_get (reply, "(tv)", &seq, snapshot);
  w->skip_until = seq;
  g_mutex_unlock (&conn->state_lock);

  /* the poll keeps the connection (and so the ring) alive, not the manager */
  w->owner = g_object_new (G_TYPE_OBJECT, NULL);
  g_object_set_data_full (w->owner, "mproc-manager-conn", conn_ref (conn), (GDestroyNotify) conn_unref);
  w->cancellable = g_cancellable_new ();
  watcher_arm (w);

  g_mutex_lock (&core->lock);
  core->watcher = w;
  g_mutex_unlock (&core->lock);

  /* events may already be waiting */
  conn_pump_events (conn);
  return TRUE;
}

gboolean
mproc_proxy_is_watched (MprocProxyCore *core)
{
  gboolean ret;

  g_mutex_lock (&core->lock);
  ret = core->watcher != NULL && core->watcher->conn->pid == getpid ();
  g_mutex_unlock (&core->lock);
  return ret;
}

void
mproc_proxy_unwatch (MprocProxyCore *core)
{
  MprocProxyWatcher *w;
  Conn *conn;

  g_mutex_lock (&core->lock);
  w = g_steal_pointer (&core->watcher);
  g_mutex_unlock (&core->lock);
  if (w == NULL || w->conn->pid != getpid ())
    return;   /* an inherited watcher belongs to the parent */

  conn = w->conn;
  g_mutex_lock (&conn->state_lock);
  w->active = FALSE;
  if (g_ptr_array_remove (conn->watchers, w))
    watcher_unref (w);
  g_mutex_unlock (&conn->state_lock);

  g_cancellable_cancel (w->cancellable);
  if (conn_check (conn, NULL))
    {
      g_autoptr(GVariant) unit = g_variant_ref_sink (g_variant_new ("()"));

      conn_call (conn, MANAGER_OP_UNSUBSCRIBE, core->id, unit, NULL, 0, NULL, NULL, NULL, NULL);
    }
  watcher_unref (w);
}

gboolean
mproc_proxy_resync (MprocProxyCore  *core,
                    GVariant       **snapshot,
                    GError         **error)
{
  g_autoptr(GVariant) reply = NULL;
  MprocProxyWatcher *w;
  guint64 seq;

  g_mutex_lock (&core->lock);
  w = core->watcher != NULL ? watcher_ref (core->watcher) : NULL;
  g_mutex_unlock (&core->lock);
  if (w == NULL)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_CLOSED, _("The object is not watched"));
      return FALSE;
    }

  if (!mproc_proxy_call (core, MANAGER_OP_SNAPSHOT, NULL, &reply, NULL, error) ||
      !g_variant_is_of_type (reply, G_VARIANT_TYPE ("(tv)")))
    {
      if (reply != NULL)
        set_malformed_reply (error);
      watcher_unref (w);
      return FALSE;
    }
  g_mutex_lock (&w->conn->state_lock);
  g_variant_get (reply, "(tv)", &seq, snapshot);
  w->skip_until = seq;
  g_mutex_unlock (&w->conn->state_lock);
  watcher_unref (w);
  return TRUE;
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
  return manager_call (self, op, object, args, NULL, 0, reply, NULL, NULL, error);
}

void
mproc_manager_inject_raw (MprocManager *self,
                          const void   *data,
                          gsize         size)
{
  Conn *conn = manager_get_conn (self, NULL, NULL);

  g_assert (conn != NULL);
  g_mutex_lock (&conn->call_lock);
  mproc_ring_inject_raw (conn->requests, data, size);
  g_mutex_unlock (&conn->call_lock);
  conn_unref (conn);
}

/* Every proxy's instance struct is a GObject followed by its core. */
typedef struct
{
  GObject        parent_instance;
  MprocProxyCore core;
} ProxyLayout;

guint64
mproc_proxy_get_id (gpointer proxy)
{
  return ((ProxyLayout *) proxy)->core.id;
}
