/* test-redis-util.h: a real redis-server for a test program
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Started on a unix socket in a temporary folder (and, when asked, on a
 * random 127.0.0.1 port), waited for until it answers PING, stopped by
 * its pid.  Nothing is saved unless asked (AOF for restart tests).  It
 * daemonizes (its pid from its pidfile), so that it is no child of the
 * test, whose leak checks count children.
 */

#pragma once

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

G_BEGIN_DECLS

typedef struct
{
  char    *dir;
  char    *socket_path;
  char    *uri;          /* unix:/…/r.sock */
  char    *tcp_uri;      /* redis://127.0.0.1:port, or NULL */
  guint16  port;
  GPid     pid;
  GStrv    extra;        /* more server arguments, kept for restarts */
} TestRedis;

static inline gboolean
test_redis_available (void)
{
  g_autofree char *path = g_find_program_in_path ("redis-server");

  return path != NULL;
}

/* PING over the unix socket: TRUE when +PONG (or an auth error: alive). */
static inline gboolean
test_redis_ping (const char *socket_path)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (socket_path);
  g_autoptr(GSocketConnection) connection = NULL;
  char buf[64] = { 0 };
  gssize n;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, NULL);
  if (connection == NULL)
    return FALSE;
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                  "PING\r\n", 6, NULL, NULL, NULL))
    return FALSE;
  n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (connection)), buf, sizeof buf - 1, NULL, NULL);
  return n > 0 && (g_str_has_prefix (buf, "+PONG") || g_str_has_prefix (buf, "-NOAUTH"));
}

/* Not a child: alive until gone from /proc or a zombie. */
static inline gboolean
test_redis_alive (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *end;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  end = strrchr (stat, ')');
  return end != NULL && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

static inline gboolean
test_redis_spawn (TestRedis *r)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *pidfile = g_build_filename (r->dir, "redis.pid", NULL);
  gint64 deadline;

  g_ptr_array_add (argv, g_strdup ("redis-server"));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup_printf ("%u", r->port));
  g_ptr_array_add (argv, g_strdup ("--bind"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--unixsocket"));
  g_ptr_array_add (argv, g_strdup (r->socket_path));
  g_ptr_array_add (argv, g_strdup ("--unixsocketperm"));
  g_ptr_array_add (argv, g_strdup ("700"));
  g_ptr_array_add (argv, g_strdup ("--save"));
  g_ptr_array_add (argv, g_strdup (""));
  g_ptr_array_add (argv, g_strdup ("--dir"));
  g_ptr_array_add (argv, g_strdup (r->dir));
  g_ptr_array_add (argv, g_strdup ("--logfile"));
  g_ptr_array_add (argv, g_build_filename (r->dir, "redis.log", NULL));
  g_ptr_array_add (argv, g_strdup ("--daemonize"));
  g_ptr_array_add (argv, g_strdup ("yes"));
  g_ptr_array_add (argv, g_strdup ("--pidfile"));
  g_ptr_array_add (argv, g_build_filename (r->dir, "redis.pid", NULL));
  for (guint i = 0; r->extra != NULL && r->extra[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (r->extra[i]));
  g_ptr_array_add (argv, NULL);

  unlink (pidfile);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL,
                     G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, NULL, &error))
    g_error ("cannot start redis-server: %s", error->message);

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *text = NULL;

      if (r->pid == 0 && g_file_get_contents (pidfile, &text, NULL, NULL))
        r->pid = atoi (text);
      if (r->pid > 0 && !test_redis_alive (r->pid))
        {
          r->pid = 0;
          return FALSE;    /* the port was taken, most likely */
        }
      if (r->pid > 0 && test_redis_ping (r->socket_path))
        return TRUE;
      g_usleep (10 * 1000);
    }
  g_error ("redis-server did not answer PING within 10 s");
  return FALSE;
}

/* @extra: more arguments for redis-server (NULL-terminated), or NULL. */
static inline TestRedis *
test_redis_start (gboolean           tcp,
                  const char * const *extra)
{
  TestRedis *r = g_new0 (TestRedis, 1);
  g_autoptr(GError) error = NULL;

  r->dir = g_dir_make_tmp ("mproc-redis-XXXXXX", &error);
  g_assert_no_error (error);
  r->socket_path = g_build_filename (r->dir, "r.sock", NULL);
  r->uri = g_strdup_printf ("unix:%s", r->socket_path);
  r->extra = g_strdupv ((char **) extra);
  for (int attempt = 0; attempt < 20; attempt++)
    {
      r->port = tcp ? (guint16) g_random_int_range (20000, 60000) : 0;
      if (test_redis_spawn (r))
        break;
      g_assert_true (tcp);
    }
  g_assert_cmpint (r->pid, >, 0);
  if (tcp)
    r->tcp_uri = g_strdup_printf ("redis://127.0.0.1:%u", r->port);
  return r;
}

static inline void
test_redis_kill (TestRedis *r,
                 int        sig)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  if (r->pid <= 0)
    return;
  kill (r->pid, sig);
  while (test_redis_alive (r->pid))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("redis-server %d did not exit", (int) r->pid);
      g_usleep (5 * 1000);
    }
  r->pid = 0;
}

/* Starts it again on the same socket and port (after test_redis_kill()). */
static inline void
test_redis_restart (TestRedis *r)
{
  g_assert_cmpint (r->pid, ==, 0);
  unlink (r->socket_path);
  g_assert_true (test_redis_spawn (r));
}

static inline void
test_redis_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          test_redis_remove_tree (child);
        else
          unlink (child);
      }
  rmdir (path);
}

static inline void
test_redis_stop (TestRedis *r)
{
  if (r == NULL)
    return;
  test_redis_kill (r, SIGTERM);
  test_redis_remove_tree (r->dir);
  g_free (r->dir);
  g_free (r->socket_path);
  g_free (r->uri);
  g_free (r->tcp_uri);
  g_strfreev (r->extra);
  g_free (r);
}

G_END_DECLS
