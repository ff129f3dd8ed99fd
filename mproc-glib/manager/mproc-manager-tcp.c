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

int
mproc_manager_tcp_listen (const char    *host,
                          guint16        port,
                          char         **address_out,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autofree char *host_string = NULL;
  g_auto(MprocFd) fd = -1;
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1;

  inet = resolve_host (host, cancellable, error);
  if (inet == NULL || !to_native (inet, port, &ss, &len, error))
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

/* The client's side of the challenge-response (mproc-manager-private.h):
 * it proves that it knows @authkey, then makes the server prove it too. */
MprocManagerConn *
mproc_manager_conn_open_tcp (const char    *address,
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
  gint64 deadline = g_get_monotonic_time () + MPROC_MANAGER_CONNECT_TIMEOUT_USEC;
  const guint8 *sn;
  gsize sn_size;
  const char *protocol;
  guint32 server_pid;
  guint16 port = 0;
  MprocManagerConn *conn;

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
  if (mproc_manager_auth_has_key (authkey))
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
  body = mproc_manager_parse_welcome (reply, address, "(ayu)", error);
  if (body == NULL)
    return NULL;
  g_variant_get (body, "(@ayu)", &proof, &server_pid);
  if (mproc_manager_auth_has_key (authkey))
    expected = mproc_manager_auth_digest (authkey, MPROC_MANAGER_TCP_SERVER_LABEL, nonce, sizeof nonce);
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

failed:
  mproc_manager_prefix_connect_error (error, address);
  return NULL;

malformed:
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("The manager at “%s” sent a malformed reply"), address);
  return NULL;
}

/* One exchange over TCP: a frame each way, one at a time. */
gboolean
mproc_manager_conn_call_tcp (MprocManagerConn  *conn,
                             guint              op,
                             guint64            object,
                             GVariant          *args,
                             guint              n_fds,
                             GVariant         **reply,
                             GCancellable      *cancellable,
                             GError           **error)
{
  g_autoptr(GVariant) request = NULL;
  GError *local_error = NULL;
  guint64 serial = 0;
  gboolean ret = FALSE;

  g_mutex_lock (&conn->call_lock);
  if (!mproc_manager_conn_check (conn, error))
    goto out;
  if (n_fds > 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("This operation is not available over TCP"));
      goto out;
    }
  if (reply != NULL)
    serial = ++conn->next_serial;
  request = mproc_manager_conn_request (op, object, serial, args);
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
        bytes = mproc_wire_recv (conn->sock, NULL, MIN (MPROC_MANAGER_TCP_MAX_MESSAGE, mproc_wire_get_max_message_size ()),
                                 NULL, &local_error);
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
  mproc_manager_conn_fail_error (conn, local_error);
  g_propagate_error (error, local_error);
out:
  g_mutex_unlock (&conn->call_lock);
  return ret;
}

