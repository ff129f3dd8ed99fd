/* test-manager-peers.c: a manager against hostile or careless peers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include <mproc.h>

#include "mproc-manager-client-private.h"
#include "mproc-manager-private.h"
#include "mproc-ring-private.h"
#include "mproc-shm-private.h"
#include "mproc-wire-private.h"
#include "test-util.h"

/* --- A double close ----------------------------------------------------------
 *
 * close() is replaced for this program: while armed, the first close of
 * the watched file (by inode) is followed at once by a dup2() onto the
 * same number, as if another thread had opened a file right then and got
 * the number.  A second close of that number by the library would close
 * the other thread's file. */

static ino_t watched_ino;
static int   armed;
static int   placeholder = -1;
static int   taken_fd = -1;

int
close (int fd)
{
  struct stat st;
  int ret;

  if (!g_atomic_int_get (&armed) || fstat (fd, &st) < 0 || st.st_ino != watched_ino ||
      !g_atomic_int_compare_and_exchange (&armed, 1, 0))
    return syscall (SYS_close, fd);
  ret = syscall (SYS_close, fd);
  g_assert_cmpint (dup3 (placeholder, fd, O_CLOEXEC), ==, fd);
  taken_fd = fd;
  return ret;
}

typedef struct
{
  int listen_fd;
  int send_fds[3];   /* the rings' memfd, the order page's, an eventfd */
  gsize size;
} FakeServer;

/* Answers one client's hello with a welcome naming @send_fds. */
static gpointer
fake_server_thread (gpointer data)
{
  FakeServer *fs = data;
  g_autoptr(GVariant) hello = NULL;
  g_autoptr(GError) error = NULL;
  int sock = accept4 (fs->listen_fd, NULL, NULL, SOCK_CLOEXEC);

  g_assert_cmpint (sock, >=, 0);
  hello = mproc_wire_recv_value (sock, NULL, 4096, NULL, &error);
  g_assert_no_error (error);
  mproc_wire_send_value (sock,
                         g_variant_new ("(sv)", "ok",
                                        g_variant_new ("(tuhhhhhi)", (guint64) fs->size, (guint32) getpid (),
                                                       0, 2, 2, 2, 1, 0)),
                         fs->send_fds, 3, NULL, &error);
  g_assert_no_error (error);
  /* the client hangs up */
  while (read (sock, &(char) { 0 }, 1) > 0)
    ;
  syscall (SYS_close, sock);
  return NULL;
}

static char *
fake_listen (int *listen_fd)
{
  char *address = g_strdup_printf ("unix:abstract=mproc-test-peers-%d-%08x", (int) getpid (), g_random_int ());
  struct sockaddr_un sun;
  socklen_t len;

  g_assert_true (mproc_manager_parse_address (address, &sun, &len, NULL));
  *listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (bind (*listen_fd, (struct sockaddr *) &sun, len), ==, 0);
  g_assert_cmpint (listen (*listen_fd, 4), ==, 0);
  return address;
}

/* A memfd with three valid rings at 4096, 8192 + … (what a welcome maps). */
static int
make_ring_shm (gsize *size)
{
  gsize ring = mproc_ring_shm_size (4096);
  g_autoptr(GError) error = NULL;
  MprocShm *shm;
  guint64 *layout;
  int fd;

  *size = 4096 + 3 * ring;
  shm = mproc_shm_new (*size, "test-peers", &error);
  g_assert_no_error (error);
  layout = mproc_shm_get_data (shm);
  for (guint i = 0; i < 3; i++)
    {
      layout[i] = 4096 + i * ring;
      mproc_ring_init_shared (shm, layout[i], 4096, 0, 0);
    }
  fd = fcntl (mproc_shm_get_fd (shm), F_DUPFD_CLOEXEC, 3);
  mproc_shm_unref (shm);
  return fd;
}

static void
check_double_close (gboolean bad_order)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *address = NULL;
  FakeServer fs = { 0, };
  GThread *thread;
  MprocManagerConn *conn;
  struct stat st;
  int pipe_fds[2];
  int event_fd = eventfd (0, EFD_CLOEXEC);
  int good;

  g_assert_cmpint (pipe2 (pipe_fds, O_CLOEXEC), ==, 0);
  g_assert_cmpint (fstat (pipe_fds[0], &st), ==, 0);
  good = bad_order ? make_ring_shm (&fs.size) : eventfd (0, EFD_CLOEXEC);
  if (!bad_order)
    fs.size = 4096;
  /* the pipe stands for the memfd of the rings, or of the order page */
  fs.send_fds[0] = bad_order ? good : pipe_fds[0];
  fs.send_fds[1] = bad_order ? pipe_fds[0] : good;
  fs.send_fds[2] = event_fd;
  address = fake_listen (&fs.listen_fd);

  placeholder = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  watched_ino = st.st_ino;
  taken_fd = -1;
  g_atomic_int_set (&armed, 1);

  thread = g_thread_new ("fake-server", fake_server_thread, &fs);
  conn = mproc_manager_conn_open (address, NULL, NULL, &error);
  g_assert_null (conn);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_thread_join (thread);

  /* the library closed the fd it received, and only that one */
  g_assert_cmpint (g_atomic_int_get (&armed), ==, 0);
  g_assert_cmpint (taken_fd, >=, 0);
  g_assert_cmpint (fcntl (taken_fd, F_GETFD), !=, -1);

  syscall (SYS_close, taken_fd);
  syscall (SYS_close, placeholder);
  syscall (SYS_close, fs.listen_fd);
  syscall (SYS_close, pipe_fds[0]);
  syscall (SYS_close, pipe_fds[1]);
  syscall (SYS_close, good);
  syscall (SYS_close, event_fd);
}

static void
test_double_close (void)
{
  g_test_summary ("A client whose manager sends an unusable memfd closes the fd it received once: "
                  "a file another thread opened meanwhile under the same number stays open");
  check_double_close (FALSE);
  check_double_close (TRUE);
}

/* --- Another user's sockets ----------------------------------------------- */

#define NOBODY 65534

static gboolean
allow_anyone_cb (GDBusAuthObserver *observer,
                 GIOStream         *stream,
                 GCredentials      *credentials,
                 gpointer           user_data)
{
  return TRUE;
}

static gboolean
accept_anyone_cb (GDBusServer     *server,
                  GDBusConnection *connection,
                  gpointer         user_data)
{
  g_object_ref (connection);   /* kept: the peer would talk to us */
  return TRUE;
}

/* The program run as "nobody": binds a manager's two names as a hostile
 * user would who saw them first, says "ready" and serves until killed. */
static int
hostile_main (const char *address)
{
  g_autofree char *dbus_address = g_strconcat (address, "-dbus", NULL);
  g_autofree char *guid = g_dbus_generate_guid ();
  g_autoptr(GDBusAuthObserver) observer = g_dbus_auth_observer_new ();
  g_autoptr(GDBusServer) server = NULL;
  g_autoptr(GError) error = NULL;
  struct sockaddr_un sun;
  socklen_t len;
  int fd;

  if (setgid (NOBODY) < 0 || setuid (NOBODY) < 0 || getuid () != NOBODY)
    return 1;
  /* after setuid(), which clears it: never outlive a failed test */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid () == 1)
    return 1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (!mproc_manager_parse_address (address, &sun, &len, NULL) ||
      bind (fd, (struct sockaddr *) &sun, len) < 0 || listen (fd, 8) < 0)
    return 1;
  g_signal_connect (observer, "authorize-authenticated-peer", G_CALLBACK (allow_anyone_cb), NULL);
  server = g_dbus_server_new_sync (dbus_address, G_DBUS_SERVER_FLAGS_AUTHENTICATION_ALLOW_ANONYMOUS,
                                   guid, observer, NULL, &error);
  if (server == NULL)
    return 1;
  g_signal_connect (server, "new-connection", G_CALLBACK (accept_anyone_cb), NULL);
  g_dbus_server_start (server);
  printf ("ready\n");
  fflush (stdout);
  while (TRUE)
    g_main_context_iteration (NULL, TRUE);
  return 0;
}

static void
test_other_user (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) manager = NULL;
  g_autoptr(MprocManager) connected = NULL;
  g_autoptr(GDBusConnection) connection = NULL;
  g_autofree char *address = NULL;
  const char *argv[] = { g_test_get_filename (G_TEST_BUILT, "test-manager-peers", NULL),
                         "--hostile", NULL, NULL };
  char ready[8] = { 0, };
  GPid pid;
  int out;
  int status;

  g_test_summary ("A client does not talk to a manager's socket or D-Bus plane bound by another "
                  "user: ACCESS_DENIED; a started manager has both names bound already");
  if (getuid () != 0)
    {
      g_test_skip ("needs root, to run a second user");
      return;
    }

  address = g_strdup_printf ("unix:abstract=mproc-test-hostile-%d-%08x", (int) getpid (), g_random_int ());
  argv[2] = address;
  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &pid, NULL, &out, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (read (out, ready, sizeof ready - 1), ==, 6);
  g_assert_cmpstr (ready, ==, "ready\n");

  connected = mproc_manager_connect (address, NULL, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_assert_null (connected);
  g_clear_error (&error);

  manager = g_object_new (MPROC_TYPE_MANAGER, "address", address, NULL);
  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
  g_assert_null (connection);
  g_clear_error (&error);

  {
    g_autoptr(GAsyncResult) result = NULL;

    mproc_manager_dup_dbus_connection_async (manager, NULL, test_store_result, &result);
    test_wait_result (&result);
    connection = mproc_manager_dup_dbus_connection_finish (manager, result, &error);
    g_assert_error (error, MPROC_ERROR, MPROC_ERROR_ACCESS_DENIED);
    g_assert_null (connection);
    g_clear_error (&error);
  }

  kill (pid, SIGKILL);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_spawn_close_pid (pid);
  close (out);

  /* a manager of ours: both names are taken from the start */
  g_clear_object (&manager);
  manager = mproc_manager_new ();
  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  {
    g_autofree char *dbus_address = g_strconcat (mproc_manager_get_address (manager), "-dbus", NULL);
    struct sockaddr_un sun;
    socklen_t len;
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    g_assert_true (mproc_manager_parse_address (dbus_address, &sun, &len, NULL));
    g_assert_cmpint (bind (fd, (struct sockaddr *) &sun, len), ==, -1);
    g_assert_cmpint (errno, ==, EADDRINUSE);
    close (fd);
  }
  connection = mproc_manager_dup_dbus_connection (manager, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_close_sync (connection, NULL, NULL);
  g_clear_object (&connection);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_no_error (error);
}

/* --- A client that does not read its replies ------------------------------- */

typedef struct
{
  MprocManager *manager;   /* local (rings) or over TCP */
  GMutex        lock;
  GCond         cond;
  gboolean      done;
} Worker;

/* Sets and reads back keys of a dict: what a well-behaved client does. */
static gpointer
worker_thread (gpointer data)
{
  Worker *w = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocDict) dict = mproc_dict_new (w->manager, "shared", NULL, &error);

  g_assert_no_error (error);
  for (gint32 i = 0; i < 200; i++)
    {
      g_autoptr(GVariant) value = NULL;

      g_assert_true (mproc_dict_set (dict, g_variant_new_int32 (i), g_variant_new_int32 (-i), NULL, &error));
      g_assert_no_error (error);
      value = mproc_dict_get (dict, g_variant_new_int32 (i), NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_variant_get_int32 (value), ==, -i);
    }
  g_mutex_lock (&w->lock);
  w->done = TRUE;
  g_cond_signal (&w->cond);
  g_mutex_unlock (&w->lock);
  return NULL;
}

/* Runs worker_thread() and waits for it 60 s at most: a server stalled
 * by another client never answers. */
static void
assert_serves (MprocManager *manager)
{
  Worker w = { manager, };
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  GThread *thread;

  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  thread = g_thread_new ("client", worker_thread, &w);
  g_mutex_lock (&w.lock);
  while (!w.done)
    if (!g_cond_wait_until (&w.cond, &w.lock, deadline))
      g_error ("The manager stopped serving its other clients");
  g_mutex_unlock (&w.lock);
  g_thread_join (thread);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
}

static void
test_stalled_client (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocManager) manager = mproc_manager_new ();
  g_autoptr(MprocManager) remote = NULL;
  g_autoptr(GBytes) key = g_bytes_new_static ("test key", 8);
  MprocManagerConn *stalled;
  guint sent = 0;
  gboolean hung_up = FALSE;

  g_test_summary ("A ring client that sends requests and never reads the replies does not stop "
                  "the server: other clients, local and TCP, are served, and it is disconnected");

  mproc_manager_set_authkey (manager, key);
  g_assert_true (mproc_manager_start (manager, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mproc_manager_listen_tcp (manager, "127.0.0.1", 0, NULL, &error));
  g_assert_no_error (error);
  remote = mproc_manager_connect_with_authkey (mproc_manager_get_tcp_address (manager), key, NULL, &error);
  g_assert_no_error (error);

  /* pings with replies, until the server hangs up (or 5 s of a full
   * request ring: a server that stopped pulling) */
  stalled = mproc_manager_conn_open (mproc_manager_get_address (manager), NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint full = 0; sent < 100000 && full < 5000; )
    {
      g_autoptr(GVariant) request =
        g_variant_ref_sink (g_variant_new ("(utttv)", (guint32) MANAGER_OP_PING, (guint64) 0,
                                           (guint64) sent + 1, (guint64) g_get_monotonic_time () * 1000,
                                           g_variant_new ("()")));

      if (mproc_ring_put (stalled->requests, request, NULL, stalled->sock, NULL, 0, 0, NULL, &error))
        sent++;
      else if (g_error_matches (error, MPROC_ERROR, MPROC_ERROR_FULL))
        {
          full++;
          g_usleep (1000);
        }
      else
        break;   /* disconnected */
      g_clear_error (&error);
    }
  g_clear_error (&error);
  g_assert_cmpuint (sent, >, 9000);

  assert_serves (manager);
  assert_serves (remote);

  /* past its outbox's limit, the client was dropped */
  for (guint i = 0; i < 3000 && !hung_up; i++)
    {
      hung_up = mproc_ring_sock_hup (stalled->sock);
      if (!hung_up)
        g_usleep (10000);
    }
  g_assert_true (hung_up);
  mproc_manager_conn_unref (stalled);

  g_clear_object (&remote);
  g_assert_true (mproc_manager_shutdown (manager, NULL, &error));
  g_assert_no_error (error);
}

int
main (int argc, char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--hostile"))
    return hostile_main (argv[2]);
  test_init (&argc, &argv);

  g_test_add_func ("/mproc/manager-peers/double-close", test_double_close);
  g_test_add_func ("/mproc/manager-peers/other-user", test_other_user);
  g_test_add_func ("/mproc/manager-peers/stalled-client", test_stalled_client);
  return g_test_run ();
}
