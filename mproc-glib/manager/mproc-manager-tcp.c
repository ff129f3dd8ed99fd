/* mproc-manager-tcp.c: a client's connection over TCP (the authkey's
 * challenge-response, then one frame each way per call)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-manager-client-private.h"
#include "mproc-manager-private.h"
#include "mproc-wire-private.h"

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

gboolean
mproc_manager_auth_has_key (GBytes *authkey)
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

/* A non-blocking socket whose connect() to @inet:@port is under way (or
 * done), or -1 with @error. */
static int
connect_tcp_begin (const char    *address,
                   GInetAddress  *inet,
                   guint16        port,
                   GError       **error)
{
  g_auto(MprocFd) sock = -1;
  struct sockaddr_storage ss;
  socklen_t len;
  int errsv;

  if (!to_native (inet, port, &ss, &len, error))
    return -1;
  sock = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock >= 0 && (connect (sock, (struct sockaddr *) &ss, len) == 0 || errno == EINPROGRESS))
    return g_steal_fd (&sock);
  errsv = errno;
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
               _("Cannot connect to the manager at “%s”: %s"), address, g_strerror (errsv));
  return -1;
}

/* @sock's connect() is over (writable): its outcome. */
static gboolean
connect_tcp_end (const char  *address,
                 int          sock,
                 GError     **error)
{
  int errsv = 0, one = 1;
  socklen_t errsv_len = sizeof errsv;

  if (getsockopt (sock, SOL_SOCKET, SO_ERROR, &errsv, &errsv_len) < 0)
    errsv = errno;
  if (errsv != 0)
    {
      if (errsv == ECONNREFUSED)
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                     _("No manager is listening at “%s”"), address);
      else
        g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                     _("Cannot connect to the manager at “%s”: %s"), address, g_strerror (errsv));
      return FALSE;
    }
  setsockopt (sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return TRUE;
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

  inet = resolve_host (host, cancellable, error);
  if (inet == NULL)
    return -1;
  sock = connect_tcp_begin (address, inet, port, error);
  if (sock < 0 || !mproc_fd_wait (sock, G_IO_OUT, deadline, cancellable, error) ||
      !connect_tcp_end (address, sock, error))
    return -1;
  return g_steal_fd (&sock);
}

/* Binds a listening socket on @inet:@port. */
static int
tcp_bind_listen (GInetAddress  *inet,
                 guint16        port,
                 char         **address_out,
                 GError       **error)
{
  g_autofree char *host_string = NULL;
  g_auto(MprocFd) fd = -1;
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1;

  if (!to_native (inet, port, &ss, &len, error))
    return -1;
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
      return -1;
    }
  port = g_ntohs (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                           : ((struct sockaddr_in *) &ss)->sin_port);

  host_string = g_inet_address_to_string (inet);
  *address_out = g_strdup_printf ("tcp:host=%s,port=%u", host_string, (guint) port);
  return g_steal_fd (&fd);
}

int
mproc_manager_tcp_listen (const char    *host,
                          guint16        port,
                          char         **address_out,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GInetAddress) inet = resolve_host (host, cancellable, error);

  if (inet == NULL)
    return -1;
  return tcp_bind_listen (inet, port, address_out, error);
}

typedef struct
{
  guint16  port;
  int      fd;
  char    *address;
} TcpListen;

static void
tcp_listen_free (gpointer data)
{
  TcpListen *tl = data;

  mproc_clear_fd (&tl->fd);
  g_free (tl->address);
  g_free (tl);
}

static void
tcp_listen_bind (GTask        *task,
                 GInetAddress *inet)
{
  TcpListen *tl = g_task_get_task_data (task);
  GError *error = NULL;

  tl->fd = tcp_bind_listen (inet, tl->port, &tl->address, &error);
  if (tl->fd >= 0)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
tcp_listen_resolved_cb (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

  if (list == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  tcp_listen_bind (task, list->data);
  g_resolver_free_addresses (list);
}

/* mproc_manager_tcp_listen() with a host name resolved by GResolver's
 * async lookup, without a thread of ours. */
void
mproc_manager_tcp_listen_async (const char          *host,
                                guint16              port,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GInetAddress) inet = NULL;
  TcpListen *tl = g_new0 (TcpListen, 1);

  g_task_set_source_tag (task, mproc_manager_tcp_listen_async);
  tl->port = port;
  tl->fd = -1;
  g_task_set_task_data (task, tl, tcp_listen_free);
  inet = host == NULL ? g_inet_address_new_any (G_SOCKET_FAMILY_IPV4) : g_inet_address_new_from_string (host);
  if (inet != NULL)
    tcp_listen_bind (task, inet);
  else
    {
      g_autoptr(GResolver) resolver = g_resolver_get_default ();

      g_resolver_lookup_by_name_async (resolver, host, cancellable, tcp_listen_resolved_cb,
                                       g_steal_pointer (&task));
    }
}

int
mproc_manager_tcp_listen_finish (GAsyncResult  *result,
                                 char         **address_out,
                                 GError       **error)
{
  TcpListen *tl;

  g_return_val_if_fail (g_async_result_is_tagged (result, mproc_manager_tcp_listen_async), -1);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return -1;
  tl = g_task_get_task_data (G_TASK (result));
  *address_out = g_steal_pointer (&tl->address);
  return g_steal_fd (&tl->fd);
}

/* The client's side of the challenge-response (mproc-manager-private.h):
 * it proves that it knows @authkey, then makes the server prove it too.
 * Each step reads a message that has arrived (@sock is readable). */

/* Reads the server's challenge and answers it, with @nonce, the client's
 * own challenge. */
static gboolean
tcp_answer (const char  *address,
            int          sock,
            GBytes      *authkey,
            guint8      *nonce,
            GError     **error)
{
  g_autoptr(GVariant) challenge = NULL;
  g_autoptr(GVariant) server_nonce = NULL;
  g_autoptr(GBytes) answer = NULL;
  const guint8 *sn;
  gsize sn_size;
  const char *protocol;

  challenge = mproc_wire_recv_value (sock, NULL, 4096, NULL, error);
  if (challenge == NULL)
    {
      mproc_manager_prefix_connect_error (error, address);
      return FALSE;
    }
  if (!g_variant_is_of_type (challenge, G_VARIANT_TYPE ("(say)")))
    goto malformed;
  g_variant_get (challenge, "(&s@ay)", &protocol, &server_nonce);
  if (!g_str_equal (protocol, MPROC_MANAGER_TCP_PROTOCOL))
    goto malformed;
  sn = g_variant_get_fixed_array (server_nonce, &sn_size, 1);
  if (mproc_manager_auth_has_key (authkey))
    answer = mproc_manager_auth_digest (authkey, MPROC_MANAGER_TCP_CLIENT_LABEL, sn, sn_size);
  else
    answer = g_bytes_new (NULL, 0);   /* no key: the server will refuse */
  mproc_manager_auth_nonce (nonce, MPROC_MANAGER_TCP_NONCE_SIZE);
  if (!mproc_wire_send_value (sock, g_variant_new ("(@ay@ay)",
                                                   g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, answer, TRUE),
                                                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, nonce,
                                                                              MPROC_MANAGER_TCP_NONCE_SIZE, 1)),
                              NULL, 0, NULL, error))
    {
      mproc_manager_prefix_connect_error (error, address);
      return FALSE;
    }
  return TRUE;

malformed:
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("The manager at “%s” sent a malformed reply"), address);
  return FALSE;
}

/* Reads the server's welcome and its proof: the connection, which takes
 * @sock, or NULL with @error. */
static MprocManagerConn *
tcp_welcome (const char    *address,
             int            sock_in,
             GBytes        *authkey,
             const guint8  *nonce,
             GError       **error)
{
  g_auto(MprocFd) sock = sock_in;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) body = NULL;
  g_autoptr(GVariant) proof = NULL;
  g_autoptr(GBytes) expected = NULL;
  g_autoptr(GBytes) got = NULL;
  guint32 server_pid;
  MprocManagerConn *conn;

  reply = mproc_wire_recv_value (sock, NULL, 4096, NULL, error);
  if (reply == NULL)
    {
      mproc_manager_prefix_connect_error (error, address);
      return NULL;
    }
  body = mproc_manager_parse_welcome (reply, address, "(ayu)", error);
  if (body == NULL)
    return NULL;
  g_variant_get (body, "(@ayu)", &proof, &server_pid);
  if (mproc_manager_auth_has_key (authkey))
    expected = mproc_manager_auth_digest (authkey, MPROC_MANAGER_TCP_SERVER_LABEL, nonce,
                                          MPROC_MANAGER_TCP_NONCE_SIZE);
  got = g_variant_get_data_as_bytes (proof);
  if (expected == NULL || !mproc_manager_auth_equal (expected, got))
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED,
                   _("The server at “%s” does not know the authkey"), address);
      return NULL;
    }

  conn = mproc_manager_conn_new (server_pid);
  conn->sock = g_steal_fd (&sock);
  return conn;
}

MprocManagerConn *
mproc_manager_conn_open_tcp (const char    *address,
                             GBytes        *authkey,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autofree char *host = NULL;
  g_auto(MprocFd) sock = -1;
  guint8 nonce[MPROC_MANAGER_TCP_NONCE_SIZE];
  gint64 deadline = g_get_monotonic_time () + MPROC_MANAGER_CONNECT_TIMEOUT_USEC;
  guint16 port = 0;

  if (!parse_tcp_address (address, &host, &port, error))
    return NULL;
  sock = connect_tcp (address, host, port, deadline, cancellable, error);
  if (sock < 0)
    return NULL;
  if (!mproc_fd_wait (sock, G_IO_IN, deadline, cancellable, error))
    goto failed;
  if (!tcp_answer (address, sock, authkey, nonce, error))
    return NULL;
  if (!mproc_fd_wait (sock, G_IO_IN, deadline, cancellable, error))
    goto failed;
  return tcp_welcome (address, g_steal_fd (&sock), authkey, nonce, error);

failed:
  mproc_manager_prefix_connect_error (error, address);
  return NULL;
}

/* --- The same from a main context, without a thread ---------------------- */

typedef enum
{
  OPEN_RESOLVING,
  OPEN_CONNECTING,
  OPEN_CHALLENGED,
  OPEN_WELCOMED,
} OpenStep;

typedef struct
{
  char     *address;
  GBytes   *authkey;
  guint16   port;
  int       sock;
  gint64    deadline;
  OpenStep  step;
  guint8    nonce[MPROC_MANAGER_TCP_NONCE_SIZE];
} TcpOpen;

static void
tcp_open_free (gpointer data)
{
  TcpOpen *to = data;

  g_free (to->address);
  g_clear_pointer (&to->authkey, g_bytes_unref);
  mproc_clear_fd (&to->sock);
  g_free (to);
}

static void tcp_open_step (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data);

static void
tcp_open_wait (GTask        *task,
               TcpOpen      *to,
               GIOCondition  condition)
{
  mproc_fd_wait_async (to->sock, condition, to->deadline, NULL, g_task_get_cancellable (task),
                       tcp_open_step, task);
}

static void
tcp_open_connect (GTask        *task,
                  TcpOpen      *to,
                  GInetAddress *inet)
{
  GError *error = NULL;

  to->sock = connect_tcp_begin (to->address, inet, to->port, &error);
  if (to->sock < 0)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  to->step = OPEN_CONNECTING;
  tcp_open_wait (task, to, G_IO_OUT);
}

/* Each step's wait ends here (the task's reference travels along). */
static void
tcp_open_step (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  TcpOpen *to = g_task_get_task_data (task);
  GError *error = NULL;
  MprocManagerConn *conn;

  if (to->step == OPEN_RESOLVING)
    {
      GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), result, &error);

      if (list != NULL)
        {
          g_autoptr(GInetAddress) inet = g_object_ref (list->data);

          g_resolver_free_addresses (list);
          tcp_open_connect (task, to, inet);
          return;
        }
    }
  else if (!mproc_fd_wait_finish (result, &error))
    mproc_manager_prefix_connect_error (&error, to->address);
  else if (to->step == OPEN_CONNECTING)
    {
      if (connect_tcp_end (to->address, to->sock, &error))
        {
          to->step = OPEN_CHALLENGED;
          tcp_open_wait (task, to, G_IO_IN);
          return;
        }
    }
  else if (to->step == OPEN_CHALLENGED)
    {
      if (tcp_answer (to->address, to->sock, to->authkey, to->nonce, &error))
        {
          to->step = OPEN_WELCOMED;
          tcp_open_wait (task, to, G_IO_IN);
          return;
        }
    }
  else
    {
      conn = tcp_welcome (to->address, g_steal_fd (&to->sock), to->authkey, to->nonce, &error);
      if (conn != NULL)
        {
          g_task_return_pointer (task, conn, (GDestroyNotify) mproc_manager_conn_unref);
          g_object_unref (task);
          return;
        }
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

/* mproc_manager_conn_open_tcp() in steps, each a wait on a source; @task
 * (whose reference this takes) gets the connection. */
void
mproc_manager_conn_open_tcp_async (const char *address,
                                   GBytes     *authkey,
                                   GTask      *task)
{
  g_autofree char *host = NULL;
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GResolver) resolver = NULL;
  GError *error = NULL;
  TcpOpen *to;

  to = g_new0 (TcpOpen, 1);
  to->address = g_strdup (address);
  to->authkey = authkey != NULL ? g_bytes_ref (authkey) : NULL;
  to->sock = -1;
  to->deadline = g_get_monotonic_time () + MPROC_MANAGER_CONNECT_TIMEOUT_USEC;
  g_task_set_task_data (task, to, tcp_open_free);
  if (!parse_tcp_address (address, &host, &to->port, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  inet = g_inet_address_new_from_string (host);
  if (inet != NULL)
    {
      tcp_open_connect (task, to, inet);
      return;
    }
  /* a name: GResolver's async lookup */
  to->step = OPEN_RESOLVING;
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (resolver, host, g_task_get_cancellable (task), tcp_open_step, task);
}

/* A reply frame over TCP (mproc-manager-client.c routes it). @timeout 0:
 * MPROC_ERROR_EMPTY at once if none has come; -1: waits until
 * @cancellable. Once a frame starts it is read whole, so that a
 * cancellation never leaves half of one in the stream. */
GBytes *
mproc_manager_tcp_read_reply (MprocManagerConn  *conn,
                              gint64             timeout,
                              GCancellable      *cancellable,
                              GError           **error)
{
  GError *local_error = NULL;

  if (!mproc_fd_wait (conn->sock, G_IO_IN, timeout < 0 ? -1 : g_get_monotonic_time () + timeout,
                      cancellable, &local_error))
    {
      if (g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
        {
          g_clear_error (&local_error);
          /* internal: the reader stops there, no one sees it */
          g_set_error_literal (&local_error, MPROC_ERROR, MPROC_ERROR_EMPTY, "no reply yet");
        }
      g_propagate_error (error, local_error);
      return NULL;
    }
  return mproc_wire_recv (conn->sock, NULL,
                          MIN (MPROC_MANAGER_TCP_MAX_MESSAGE, mproc_wire_get_max_message_size ()),
                          NULL, error);
}
