/* fuzz-pool-dbus.c: the arguments of a D-Bus worker service's methods
 *
 * A pool (one worker, fork) exported on a peer-to-peer connection.  The
 * first byte of an input picks a method, then a type string up to a NUL,
 * then bytes: the items (in a sealed memfd for MapFd and MapInto, as a
 * serialised value for the others).  Each call must get an answer, value
 * or error, and the export must still serve a good call afterwards.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <mproc.h>

#include "mproc-wire-private.h"
#include "fuzz-target.h"

#define POOL_PATH "/org/gnome/Mproc/Fuzz"

static MprocPool *pool;
static GDBusConnection *server;
static GDBusConnection *client;

static GVariant *
echo_task (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_ref (arg);
}

static GVariant *
echo_chunk (GVariant *items, gpointer user_data, GError **error)
{
  return g_variant_ref (items);
}

static void
new_connection_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GDBusConnection **) user_data = g_dbus_connection_new_finish (result, NULL);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) s0 = NULL, s1 = NULL;
  g_autoptr(GSocketConnection) c0 = NULL, c1 = NULL;
  g_autofree char *guid = g_dbus_generate_guid ();
  int sv[2];

  mproc_register_task ("fuzz.echo", echo_task, NULL, NULL);
  mproc_register_chunk_task ("fuzz.chunk", echo_chunk, NULL, NULL);
  pool = mproc_pool_new_full (context, 1, NULL, NULL, 0, &error);
  g_assert_no_error (error);

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
  s0 = g_socket_new_from_fd (sv[0], NULL);
  s1 = g_socket_new_from_fd (sv[1], NULL);
  c0 = g_socket_connection_factory_create_connection (s0);
  c1 = g_socket_connection_factory_create_connection (s1);
  g_dbus_connection_new (G_IO_STREAM (c0), guid,
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_SERVER |
                         G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS,
                         NULL, NULL, new_connection_cb, &server);
  client = g_dbus_connection_new_sync (G_IO_STREAM (c1), NULL, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT,
                                       NULL, NULL, &error);
  g_assert_no_error (error);
  while (server == NULL)
    g_main_context_iteration (NULL, TRUE);
  mproc_pool_export (pool, server, POOL_PATH, &error);
  g_assert_no_error (error);
  return 0;
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* A call answered by the export, which runs in this thread's context. */
static GVariant *
call (const char   *method,
      GVariant     *args,
      GUnixFDList  *fds,
      GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  g_dbus_connection_call_with_unix_fd_list (client, NULL, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, method, args,
                                            NULL, G_DBUS_CALL_FLAGS_NONE, 30000, fds, NULL, store_result,
                                            &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_dbus_connection_call_with_unix_fd_list_finish (client, NULL, result, error);
}

static int
sealed_memfd (const guint8 *data, gsize size)
{
  int fd = memfd_create ("fuzz-items", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  g_assert_cmpint (fd, >=, 0);
  if (size > 0)
    g_assert_cmpint (write (fd, data, size), ==, (gssize) size);
  g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), ==, 0);
  return fd;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GVariant) value = NULL;
  const guint8 *nul;
  const char *type_string;
  const guint8 *items;
  gsize n_items;
  int fd;

  if (size < 2 || size > 16 * 1024 || (nul = memchr (data + 1, '\0', size - 1)) == NULL)
    return 0;
  type_string = (const char *) data + 1;
  if (!g_utf8_validate (type_string, -1, NULL))
    return 0;   /* a D-Bus string */
  items = nul + 1;
  n_items = size - (items - data);

  switch (data[0] % 4)
    {
    case 0:
      fd = sealed_memfd (items, n_items);
      g_unix_fd_list_append (fds, fd, NULL);
      close (fd);
      reply = call ("MapFd", g_variant_new ("(ssh)", "fuzz.chunk", type_string, 0), fds, &error);
      break;
    case 1:
      fd = sealed_memfd (items, n_items);
      g_unix_fd_list_append (fds, fd, NULL);
      g_unix_fd_list_append (fds, fd, NULL);
      close (fd);
      reply = call ("MapInto", g_variant_new ("(sshuh)", "fuzz.chunk", type_string, 0,
                                              (guint32) (n_items / 8), 1), fds, &error);
      break;
    case 2:
      value = mproc_wire_decode_data (items, n_items, NULL);
      if (value != NULL)
        reply = call ("Submit", g_variant_new ("(sv)", "fuzz.echo", value), NULL, &error);
      break;
    default:
      value = mproc_wire_decode_data (items, n_items, NULL);
      if (value != NULL)
        reply = call ("MapArray", g_variant_new ("(sv)", "fuzz.chunk", value), NULL, &error);
      break;
    }
  g_clear_error (&error);
  g_clear_pointer (&reply, g_variant_unref);

  reply = call ("Submit", g_variant_new ("(sv)", "fuzz.echo", g_variant_new_int32 (1)), NULL, &error);
  if (reply == NULL)
    g_error ("The export stopped answering: %s", error->message);
  return 0;
}
