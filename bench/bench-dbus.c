/* bench-dbus.c: dbus_submit_rtt, dbus_map_tiny (issue #9)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both run against mproc-worker-service (the in-tree build, with the
 * example module and 2 workers, as Python's Pool(2)) on the session bus;
 * bench/run starts a private bus when there is none.
 *
 *   dbus_submit_rtt: n = 2000 remote Submit("example.double", <int64 i>)
 *     waited for one after the other (g_dbus_connection_call_sync); us per
 *     call.  Beside it, in the same run:
 *     dbus_echo_rtt: the same number of bare GDBus method calls Echo(v) ->
 *       v to a C process on the same bus that answers at once (the cost of
 *       D-Bus itself: client -> bus daemon -> server and back);
 *     dbus_local_apply_rtt: mproc_pool_apply() of the same task on a local
 *       Pool(2) (fork), as pool_apply_async_rtt;
 *     dbus_submit_vs_echo and dbus_submit_vs_local_apply: the ratios
 *       (target: Submit at most 1.5x the bare call).
 *   dbus_map_tiny: a map of n = 100000 int64 items through example.double
 *     (2 * x), in tasks/s, the clock covering building the items, the call
 *     and reading the results (checked untimed):
 *     dbus_map_tiny_av: Map, each item boxed in a variant;
 *     dbus_map_tiny_array: MapArray, one packed `ax` in the message;
 *     dbus_map_tiny_fd: MapFd, the `ax` in a sealed memfd both ways;
 *     dbus_map_tiny_into: MapInto, the client's two memfds made once and
 *       kept mapped, as a program that maps again and again would: each
 *       call writes the items into one, and the timed part ends once every
 *       result in the other has been read and checked.
 *     Each row runs its repetitions on their own (after an untimed call),
 *     so that none pays for what another kind of call left to clean up.
 *     bench/run sets them beside Python's pool_map_tiny.
 *
 * The echo server is this program executed again with
 * MPROC_BENCH_DBUS_ECHO in its environment: a constructor serves and exits
 * before main() runs.
 */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixfdlist.h>
#include <mproc.h>

#include "bench.h"

#define SERVICE_NAME  "org.gnome.Mproc.Bench.WorkerService"
#define ECHO_NAME     "org.gnome.Mproc.Bench.Echo"
#define POOL_PATH     "/org/gnome/Mproc/Pool"
#define ECHO_PATH     "/org/gnome/Mproc/Bench/Echo"
#define ECHO_ENV      "MPROC_BENCH_DBUS_ECHO"

/* --- The echo server ------------------------------------------------------ */

static const char echo_xml[] =
  "<node><interface name='org.gnome.Mproc.Bench.Echo'>"
  "<method name='Echo'><arg type='v' direction='in'/><arg type='v' direction='out'/></method>"
  "</interface></node>";

static void
echo_call_cb (GDBusConnection       *connection,
              const char            *sender,
              const char            *object_path,
              const char            *interface_name,
              const char            *method_name,
              GVariant              *parameters,
              GDBusMethodInvocation *invocation,
              gpointer               user_data)
{
  g_dbus_method_invocation_return_value (invocation, g_variant_ref (parameters));
}

static const GDBusInterfaceVTable echo_vtable = { echo_call_cb, NULL, NULL, { 0 } };

static void __attribute__((constructor))
echo_server_main (void)
{
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GDBusNodeInfo) node = NULL;
  g_autoptr(GMainLoop) loop = NULL;

  if (getenv (ECHO_ENV) == NULL)
    return;
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  if (bus == NULL)
    _exit (1);
  node = g_dbus_node_info_new_for_xml (echo_xml, NULL);
  g_dbus_connection_register_object (bus, ECHO_PATH, node->interfaces[0], &echo_vtable, NULL, NULL, NULL);
  g_bus_own_name_on_connection (bus, ECHO_NAME, G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE, NULL, NULL, NULL, NULL);
  /* exits with the bus, or when the bench kills it */
  g_dbus_connection_set_exit_on_close (bus, TRUE);
  loop = g_main_loop_new (NULL, FALSE);
  g_main_loop_run (loop);
  _exit (0);
}

/* --- Helpers --------------------------------------------------------------- */

/* The build tree of this program: ../service/ beside ../bench/. */
static char *
build_path (const char *relative)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = g_path_get_dirname (self);

  return g_build_filename (dir, "..", relative, NULL);
}

static gboolean
name_has_owner (GDBusConnection *bus,
                const char      *name)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean has = FALSE;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", name),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has);
  return has;
}

static GPid
start (GDBusConnection  *bus,
       const char      **argv,
       char            **envp,
       const char       *name)
{
  g_autoptr(GError) error = NULL;
  GPid pid;

  if (!g_spawn_async (NULL, (char **) argv, envp, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                      NULL, NULL, &pid, &error))
    g_error ("%s: %s", argv[0], error->message);
  for (guint i = 0; i < 1000 && !name_has_owner (bus, name); i++)
    g_usleep (10000);
  if (!name_has_owner (bus, name))
    g_error ("%s did not appear on the bus", name);
  return pid;
}

static void
stop (GPid pid)
{
  int status;

  kill (pid, SIGTERM);
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
}

typedef struct
{
  GDBusConnection *bus;
  GPid             service;
} Service;

static void
service_start (Service *s)
{
  g_autofree char *binary = build_path ("service/mproc-worker-service");
  g_autofree char *modules = build_path ("service/modules");
  const char *argv[] = { binary, "--bus-name", SERVICE_NAME, "--modules-dir", modules,
                         "--workers", "2", "--idle-timeout", "0", NULL };
  g_autoptr(GError) error = NULL;

  (void) mproc_error_quark ();
  s->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (s->bus == NULL)
    g_error ("dbus benchmarks need a session bus (bench/run starts one): %s", error->message);
  s->service = start (s->bus, argv, NULL, SERVICE_NAME);
}

static void
service_stop (Service *s)
{
  stop (s->service);
  g_clear_object (&s->bus);
}

static GVariant *
pool_call (GDBusConnection *bus,
           const char      *method,
           GVariant        *args)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply;

  reply = g_dbus_connection_call_sync (bus, SERVICE_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE, method, args,
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    g_error ("%s: %s", method, error->message);
  return reply;
}

/* --- dbus_submit_rtt --------------------------------------------------------- */

static double
submit_loop (GDBusConnection *bus,
             guint64          n)
{
  double t0 = bench_now ();

  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(GVariant) reply = pool_call (bus, "Submit", g_variant_new ("(sv)", "example.double",
                                                                          g_variant_new_int64 (i)));
      g_autoptr(GVariant) value = NULL;

      g_variant_get (reply, "(v)", &value);
      if (g_variant_get_int64 (value) != (gint64) (2 * i))
        g_error ("dbus_submit_rtt: wrong result");
    }
  return (bench_now () - t0) / n * 1e6;
}

static double
echo_loop (GDBusConnection *bus,
           guint64          n)
{
  double t0 = bench_now ();

  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GVariant) value = NULL;

      reply = g_dbus_connection_call_sync (bus, ECHO_NAME, ECHO_PATH, "org.gnome.Mproc.Bench.Echo", "Echo",
                                           g_variant_new ("(v)", g_variant_new_int64 (i)), NULL,
                                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      if (reply == NULL)
        g_error ("dbus_echo_rtt: %s", error->message);
      g_variant_get (reply, "(v)", &value);
      if (g_variant_get_int64 (value) != (gint64) i)
        g_error ("dbus_echo_rtt: wrong result");
    }
  return (bench_now () - t0) / n * 1e6;
}

static GVariant *
double_chunk (GVariant *items, gpointer user_data, GError **error)
{
  gsize n = 0;
  const gint64 *in = g_variant_get_fixed_array (items, &n, sizeof (gint64));
  gint64 *out = g_new (gint64, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    out[i] = 2 * in[i];
  return g_variant_new_from_data (G_VARIANT_TYPE ("ax"), out, n * sizeof (gint64), TRUE, g_free, out);
}

static void __attribute__((constructor))
register_dbus_targets (void)
{
  mproc_register_chunk_task ("dbus-bench.double", double_chunk, NULL, NULL);
}

static double
apply_loop (MprocPool *pool,
            guint64    n)
{
  double t0 = bench_now ();

  for (guint64 i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) result = mproc_pool_apply (pool, "dbus-bench.double", g_variant_new_int64 (i),
                                                     -1, NULL, &error);

      if (result == NULL || g_variant_get_int64 (result) != (gint64) (2 * i))
        g_error ("dbus_local_apply_rtt: %s", error != NULL ? error->message : "wrong result");
    }
  return (bench_now () - t0) / n * 1e6;
}

static void
dbus_submit_rtt (void)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(MprocPool) pool = NULL;
  g_autofree double *submit = g_new0 (double, bench_reps ());
  g_autofree double *echo = g_new0 (double, bench_reps ());
  g_autofree double *local = g_new0 (double, bench_reps ());
  g_autofree double *vs_echo = g_new0 (double, bench_reps ());
  g_autofree double *vs_local = g_new0 (double, bench_reps ());
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_auto(GStrv) envp = g_environ_setenv (g_get_environ (), ECHO_ENV, "1", TRUE);
  const char *echo_argv[] = { self, NULL };
  guint64 n = bench_scale (2000, 100);
  g_autoptr(GError) error = NULL;
  Service s = { NULL, };
  GPid echo_server;

  pool = mproc_pool_new_full (context, 2, NULL, NULL, 0, &error);
  if (pool == NULL)
    g_error ("%s", error->message);
  service_start (&s);
  echo_server = start (s.bus, echo_argv, envp, ECHO_NAME);

  /* interleaved repetitions: the three see the same machine load */
  for (int r = -1; r < (int) bench_reps (); r++)
    {
      double a = submit_loop (s.bus, n);
      double b = echo_loop (s.bus, n);
      double c = apply_loop (pool, n);

      if (r < 0)
        continue;
      submit[r] = a;
      echo[r] = b;
      local[r] = c;
      vs_echo[r] = a / b;
      vs_local[r] = a / c;
    }

  bench_emit ("dbus_submit_rtt", "us", n, submit, bench_reps ());
  bench_emit ("dbus_echo_rtt", "us", n, echo, bench_reps ());
  bench_emit ("dbus_local_apply_rtt", "us", n, local, bench_reps ());
  bench_emit ("dbus_submit_vs_echo", "x", n, vs_echo, bench_reps ());
  bench_emit ("dbus_submit_vs_local_apply", "x", n, vs_local, bench_reps ());

  stop (echo_server);
  service_stop (&s);
  mproc_pool_close (pool);
  mproc_pool_join (pool, -1, NULL, NULL);
}

/* --- dbus_map_tiny ------------------------------------------------------------ */

static void
check_results (const gint64 *out,
               gsize         n_out,
               guint64       n)
{
  if (n_out != n)
    g_error ("dbus_map_tiny: %" G_GSIZE_FORMAT " results for %" G_GUINT64_FORMAT " items", n_out, n);
  for (guint64 i = 0; i < n; i++)
    if (out[i] != (gint64) (2 * i))
      g_error ("dbus_map_tiny: wrong result");
}

static double
map_av (GDBusConnection *bus,
        guint64          n)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) results = NULL;
  g_autofree gint64 *out = g_new (gint64, n);
  GVariantBuilder items;
  GVariantIter iter;
  GVariant *child;
  double t0 = bench_now (), dt;
  gsize k = 0;

  g_variant_builder_init (&items, G_VARIANT_TYPE ("av"));
  for (guint64 i = 0; i < n; i++)
    g_variant_builder_add (&items, "v", g_variant_new_int64 (i));
  reply = pool_call (bus, "Map", g_variant_new ("(sav)", "example.double", &items));
  results = g_variant_get_child_value (reply, 0);
  g_variant_iter_init (&iter, results);
  while ((child = g_variant_iter_next_value (&iter)) != NULL)
    {
      g_autoptr(GVariant) v = g_variant_get_variant (child);

      if (k < n)
        out[k] = g_variant_get_int64 (v);
      k++;
      g_variant_unref (child);
    }
  dt = bench_now () - t0;
  check_results (out, k, n);
  return n / dt;
}

static double
map_array (GDBusConnection *bus,
           guint64          n)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) results = NULL;
  gint64 *range = g_new (gint64, n);
  const gint64 *out;
  gsize n_out = 0;
  double t0 = bench_now (), dt;

  for (guint64 i = 0; i < n; i++)
    range[i] = i;
  reply = pool_call (bus, "MapArray",
                     g_variant_new ("(sv)", "example.double",
                                    g_variant_new_from_data (G_VARIANT_TYPE ("ax"), range, n * sizeof (gint64),
                                                             TRUE, g_free, range)));
  g_variant_get (reply, "(v)", &results);
  out = g_variant_get_fixed_array (results, &n_out, sizeof (gint64));
  dt = bench_now () - t0;
  check_results (out, n_out, n);
  return n / dt;
}

static double
map_fd (GDBusConnection *bus,
        guint64          n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) in_fds = NULL;
  g_autoptr(GUnixFDList) out_fds = NULL;
  g_autoptr(GVariant) reply = NULL;
  gsize size = n * sizeof (gint64);
  const char *type;
  gint64 *range;
  gint32 handle;
  double t0 = bench_now (), dt;
  int fd, out_fd;
  gint64 *out;

  /* built a block at a time and written: cheaper than faulting in a
   * shared mapping page by page */
  fd = memfd_create ("bench-items", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    g_error ("memfd: %s", g_strerror (errno));
  range = g_new (gint64, 8192);
  for (guint64 i = 0; i < n; i += 8192)
    {
      guint64 len = MIN (8192, n - i);

      for (guint64 j = 0; j < len; j++)
        range[j] = i + j;
      if (write (fd, range, len * sizeof (gint64)) != (gssize) (len * sizeof (gint64)))
        g_error ("memfd: %s", g_strerror (errno));
    }
  g_free (range);
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) < 0)
    g_error ("seal: %s", g_strerror (errno));
  in_fds = g_unix_fd_list_new_from_array (&fd, 1);

  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, SERVICE_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE,
                                                         "MapFd", g_variant_new ("(ssh)", "example.double", "ax", 0),
                                                         G_VARIANT_TYPE ("(sh)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                                         in_fds, &out_fds, NULL, &error);
  if (reply == NULL)
    g_error ("MapFd: %s", error->message);
  g_variant_get (reply, "(&sh)", &type, &handle);
  out_fd = g_unix_fd_list_get (out_fds, handle, &error);
  if (out_fd < 0)
    g_error ("MapFd: %s", error->message);
  out = mmap (NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, out_fd, 0);
  close (out_fd);
  if (out == MAP_FAILED)
    g_error ("mmap: %s", g_strerror (errno));
  dt = bench_now () - t0;
  check_results (out, size / sizeof (gint64), n);
  munmap (out, size);
  return n / dt;
}

typedef struct
{
  int     in_fd;
  int     out_fd;
  gint64 *in;
  gint64 *out;
  gsize   size;
} IntoBuffers;

static void
into_buffers_init (IntoBuffers *b,
                   guint64      n)
{
  b->size = n * sizeof (gint64);
  b->in_fd = memfd_create ("bench-items", MFD_CLOEXEC);
  b->out_fd = memfd_create ("bench-results", MFD_CLOEXEC);
  if (b->in_fd < 0 || b->out_fd < 0 || ftruncate (b->in_fd, b->size) < 0 || ftruncate (b->out_fd, b->size) < 0)
    g_error ("memfd: %s", g_strerror (errno));
  b->in = mmap (NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, b->in_fd, 0);
  b->out = mmap (NULL, b->size, PROT_READ, MAP_SHARED, b->out_fd, 0);
  if (b->in == MAP_FAILED || b->out == MAP_FAILED)
    g_error ("mmap: %s", g_strerror (errno));
}

static void
into_buffers_clear (IntoBuffers *b)
{
  munmap (b->in, b->size);
  munmap ((gpointer) b->out, b->size);
  close (b->in_fd);
  close (b->out_fd);
}

/* @base changes from call to call: the results of the last one would not
 * pass the check. */
static double
map_into (GDBusConnection *bus,
          IntoBuffers     *b,
          guint64          n,
          gint64           base)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = g_unix_fd_list_new ();
  g_autoptr(GVariant) reply = NULL;
  double t0 = bench_now (), dt;

  for (guint64 i = 0; i < n; i++)
    b->in[i] = base + i;
  if (g_unix_fd_list_append (fds, b->in_fd, &error) < 0 || g_unix_fd_list_append (fds, b->out_fd, &error) < 0)
    g_error ("MapInto: %s", error->message);
  reply = g_dbus_connection_call_with_unix_fd_list_sync (bus, SERVICE_NAME, POOL_PATH, MPROC_POOL_DBUS_INTERFACE,
                                                         "MapInto",
                                                         g_variant_new ("(sshuh)", "example.double", "ax", 0, (guint32) n, 1),
                                                         G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                                         fds, NULL, NULL, &error);
  if (reply == NULL)
    g_error ("MapInto: %s", error->message);
  for (guint64 i = 0; i < n; i++)
    if (b->out[i] != 2 * (base + (gint64) i))
      g_error ("dbus_map_tiny_into: wrong result");
  dt = bench_now () - t0;
  return n / dt;
}

static void
dbus_map_tiny (void)
{
  g_autofree double *av = g_new0 (double, bench_reps ());
  g_autofree double *array = g_new0 (double, bench_reps ());
  g_autofree double *fd = g_new0 (double, bench_reps ());
  g_autofree double *into = g_new0 (double, bench_reps ());
  guint64 n = bench_scale (100000, 1000);
  Service s = { NULL, };
  IntoBuffers buffers;

  service_start (&s);
  into_buffers_init (&buffers, n);
  /* one row after the other, each with an untimed call first: what one
   * kind of call leaves to clean up (the memfds of MapFd, the values of
   * Map) would fall on the next one */
  for (int r = -1; r < (int) bench_reps (); r++)
    {
      double a = map_av (s.bus, n);

      if (r >= 0)
        av[r] = a;
    }
  for (int r = -1; r < (int) bench_reps (); r++)
    {
      double b = map_array (s.bus, n);

      if (r >= 0)
        array[r] = b;
    }
  for (int r = -1; r < (int) bench_reps (); r++)
    {
      double c = map_fd (s.bus, n);

      if (r >= 0)
        fd[r] = c;
    }
  for (int r = -1; r < (int) bench_reps (); r++)
    {
      double d = map_into (s.bus, &buffers, n, (r + 2) * (gint64) n);

      if (r >= 0)
        into[r] = d;
    }
  bench_emit ("dbus_map_tiny_av", "tasks/s", n, av, bench_reps ());
  bench_emit ("dbus_map_tiny_array", "tasks/s", n, array, bench_reps ());
  bench_emit ("dbus_map_tiny_fd", "tasks/s", n, fd, bench_reps ());
  bench_emit ("dbus_map_tiny_into", "tasks/s", n, into, bench_reps ());
  into_buffers_clear (&buffers);
  service_stop (&s);
}

BENCH_REGISTER (dbus_submit_rtt, "dbus_submit_rtt")
BENCH_REGISTER (dbus_map_tiny, "dbus_map_tiny")
