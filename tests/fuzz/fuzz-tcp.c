/* fuzz-tcp.c: the TCP handshake of a manager, as a peer without the key
 * drives it
 *
 * One server, started once (fork) and listening on 127.0.0.1.  Each input
 * is written as is after the server's challenge, then the connection is
 * closed; the server must still answer a ping.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mproc.h>

#include "mproc-manager-private.h"
#include "mproc-wire-private.h"
#include "fuzz-target.h"

static MprocManager *manager;
static struct sockaddr_in server_address;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GBytes) key = g_bytes_new_static ("fuzz key", 8);
  g_autoptr(GError) error = NULL;
  const char *address, *port;

  manager = mproc_manager_new_with_context (context);
  mproc_manager_set_authkey (manager, key);
  if (!mproc_manager_start (manager, NULL, &error) ||
      !mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error))
    g_error ("%s", error->message);
  address = mproc_manager_get_tcp_address (manager);
  port = strstr (address, "port=");
  g_assert_nonnull (port);
  server_address.sin_family = AF_INET;
  server_address.sin_port = htons ((guint16) g_ascii_strtoull (port + 5, NULL, 10));
  server_address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) challenge = NULL;
  int sock;

  if (size > 64 * 1024)
    return 0;
  sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (sock, >=, 0);
  if (connect (sock, (struct sockaddr *) &server_address, sizeof server_address) == 0)
    {
      challenge = mproc_wire_recv_value (sock, NULL, 4096, NULL, NULL);
      /* the server may hang up first: a failed write is fine */
      if (size > 0)
        (void) !write (sock, data, size);
    }
  close (sock);

  if (!mproc_manager_call_raw (manager, MANAGER_OP_PING, 0, NULL, &reply, &error))
    g_error ("The manager's server stopped answering: %s", error->message);
  return 0;
}
