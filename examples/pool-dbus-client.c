/* pool-dbus-client.c: a client of mproc-worker-service (or any pool
 * exported with mproc_pool_export()) on the session bus, with plain
 * g_dbus_connection_call: no mproc-glib needed on this side.
 *
 *   pool-dbus-client [BUS_NAME]
 *
 * Calls the example module's targets: Submit example.echo, Map over boxed
 * items, MapArray over a packed array, MapFd with 100 000 items in a
 * sealed memfd, and MapInto with the same items in memfds this client
 * keeps (the fastest way, when it maps again and again); a target's error comes back as a D-Bus error whose name
 * (org.gnome.Mproc.Error.NotFound) any client can read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

#define POOL_PATH      "/org/gnome/Mproc/Pool"
#define POOL_INTERFACE "org.gnome.Mproc.Pool1"
#define N_BIG          100000

static const char *bus_name = "org.gnome.Mproc.WorkerService";

static GVariant *
call (GDBusConnection *bus, const char *method, GVariant *args, GError **error)
{
  return g_dbus_connection_call_sync (bus, bus_name, POOL_PATH, POOL_INTERFACE, method, args,
                                      NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
}

static gboolean
map_fd (GDBusConnection *bus, GError **error)
{
  g_autoptr(GUnixFDList) in_fds = NULL;
  g_autoptr(GUnixFDList) out_fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  gint64 *items = g_new (gint64, N_BIG);
  const gint64 *results;
  const char *type;
  gint32 handle;
  gint64 sum = 0;
  int fd, out_fd;

  for (gint64 i = 0; i < N_BIG; i++)
    items[i] = i;
  /* The items in a memfd sealed against change: the service maps it. */
  fd = memfd_create ("items", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || write (fd, items, N_BIG * sizeof (gint64)) != N_BIG * sizeof (gint64) ||
      fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) < 0)
    g_error ("memfd: %s", g_strerror (errno));
  g_free (items);
  in_fds = g_unix_fd_list_new_from_array (&fd, 1);   /* takes fd */

  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, bus_name, POOL_PATH, POOL_INTERFACE, "MapFd",
                                                         g_variant_new ("(ssh)", "example.double", "ax", 0),
                                                         G_VARIANT_TYPE ("(sh)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                                         in_fds, &out_fds, NULL, error);
  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(&sh)", &type, &handle);
  out_fd = g_unix_fd_list_get (out_fds, handle, error);
  if (out_fd < 0)
    return FALSE;
  results = mmap (NULL, N_BIG * sizeof (gint64), PROT_READ, MAP_SHARED, out_fd, 0);
  close (out_fd);
  if (results == MAP_FAILED)
    g_error ("mmap: %s", g_strerror (errno));
  for (gint64 i = 0; i < N_BIG; i++)
    sum += results[i];
  munmap ((gpointer) results, N_BIG * sizeof (gint64));
  g_print ("MapFd %s: %d items, sum %" G_GINT64_FORMAT "\n", type, N_BIG, sum);
  return TRUE;
}

/* MapInto: the items and the results in two memfds of ours, mapped once
 * and reusable for any number of calls; the workers read and write them. */
static gboolean
map_into (GDBusConnection *bus, GError **error)
{
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GVariant) reply = NULL;
  gsize size = N_BIG * sizeof (gint64);
  int in_fd = memfd_create ("items", MFD_CLOEXEC);
  int out_fd = memfd_create ("results", MFD_CLOEXEC);
  gint64 *items;
  const gint64 *results;
  const char *type;
  gint64 sum = 0;

  if (in_fd < 0 || out_fd < 0 || ftruncate (in_fd, size) < 0 || ftruncate (out_fd, size) < 0)
    g_error ("memfd: %s", g_strerror (errno));
  items = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, in_fd, 0);
  results = mmap (NULL, size, PROT_READ, MAP_SHARED, out_fd, 0);
  if (items == MAP_FAILED || results == MAP_FAILED)
    g_error ("mmap: %s", g_strerror (errno));

  for (gint64 i = 0; i < N_BIG; i++)
    items[i] = i;
  g_unix_fd_list_append (fds, in_fd, NULL);    /* dups: ours stay open */
  g_unix_fd_list_append (fds, out_fd, NULL);
  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, bus_name, POOL_PATH, POOL_INTERFACE, "MapInto",
                                                         g_variant_new ("(sshuh)", "example.double", "ax", 0,
                                                                        (guint32) N_BIG, 1),
                                                         G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                                         fds, NULL, NULL, error);
  if (reply != NULL)
    {
      g_variant_get (reply, "(&s)", &type);
      for (gint64 i = 0; i < N_BIG; i++)
        sum += results[i];
      g_print ("MapInto %s: %d items, sum %" G_GINT64_FORMAT "\n", type, N_BIG, sum);
    }
  munmap (items, size);
  munmap ((gpointer) results, size);
  close (in_fd);
  close (out_fd);
  return reply != NULL;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autofree char *printed = NULL;
  GVariantBuilder boxed;
  gint64 packed[10];

  if (argc > 1)
    bus_name = argv[1];
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    g_error ("%s", error->message);

  /* Submit: one task (the service is started on demand by the bus). */
  reply = call (bus, "Submit", g_variant_new ("(sv)", "example.echo", g_variant_new_string ("hello")), &error);
  if (reply == NULL)
    g_error ("Submit: %s", error->message);
  printed = g_variant_print (reply, TRUE);
  g_print ("Submit example.echo: %s\n", printed);
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&printed, g_free);

  /* Map: each item boxed in a variant. */
  g_variant_builder_init (&boxed, G_VARIANT_TYPE ("av"));
  for (gint64 i = 0; i < 5; i++)
    g_variant_builder_add (&boxed, "v", g_variant_new_int64 (i));
  reply = call (bus, "Map", g_variant_new ("(sav)", "example.double", &boxed), &error);
  if (reply == NULL)
    g_error ("Map: %s", error->message);
  printed = g_variant_print (reply, TRUE);
  g_print ("Map example.double: %s\n", printed);
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&printed, g_free);

  /* MapArray: one packed array. */
  for (guint i = 0; i < G_N_ELEMENTS (packed); i++)
    packed[i] = i;
  reply = call (bus, "MapArray",
                g_variant_new ("(sv)", "example.double",
                               g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, packed, G_N_ELEMENTS (packed),
                                                          sizeof (gint64))),
                &error);
  if (reply == NULL)
    g_error ("MapArray: %s", error->message);
  printed = g_variant_print (reply, TRUE);
  g_print ("MapArray example.double: %s\n", printed);
  g_clear_pointer (&reply, g_variant_unref);

  if (!map_fd (bus, &error))
    g_error ("MapFd: %s", error->message);
  if (!map_into (bus, &error))
    g_error ("MapInto: %s", error->message);

  /* An error of a target: the D-Bus error name says which MprocError. */
  reply = call (bus, "Submit", g_variant_new ("(sv)", "example.fail", g_variant_new_string ("no such file")), &error);
  g_assert (reply == NULL);
  {
    g_autofree char *name = g_dbus_error_get_remote_error (error);

    g_dbus_error_strip_remote_error (error);
    g_print ("Submit example.fail: %s: %s\n", name, error->message);
  }
  return 0;
}
