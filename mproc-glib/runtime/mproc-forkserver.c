/* mproc-forkserver.c: the forkserver start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fork server is the program itself, executed again with
 * MPROC_BOOTSTRAP=forkserver: mproc_init() turns it into a single-threaded
 * loop that forks children ahead of need.
 *
 * It forks with clone(CLONE_PARENT), so every child is a child of the *main*
 * process, not of the server: the main process reaps it and reads its exit
 * status itself (pidfd, waitid), with no status relayed through the server,
 * and getppid() in the child is the main process.
 *
 * It keeps one *spare* child forked in advance. The spare waits on a socket
 * whose other end the server hands to the main process, with the spare's
 * pid ("announcement"). Starting a process is then one write of the start
 * message to the spare, plus a "next" note to the server, which forks the
 * next spare while the first one runs: no fork and no round trip on the
 * way to a running child.
 *
 *   main                      server                     spare
 *    |  <-- announce (pid, fd) --|                          |
 *    |  ------- start message ----------------------------> |  runs
 *    |  ------- "next" -------> |  forks, announces          |
 *
 * An unused spare exits when its socket closes (end-of-file), and the main
 * process, which knows its pid, reaps it.
 */

#include "config.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-owner-private.h"
#include "mproc-process-private.h"
#include "mproc-runtime-private.h"
#include "mproc-wire-private.h"

#define REQUEST_MAX_SIZE (G_MAXUINT32)

/* Client side, in the main process; all of it under server_lock. */
static GMutex   server_lock;
static int      server_fd = -1;
static GPid     server_pid = 0;
static int      spare_fd = -1;        /* the spare in hand */
static GPid     spare_pid = 0;
static gboolean announcement_due;     /* the server owes us an announcement */

static void
reap (GPid pid)
{
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

static void
spare_drop_locked (void)
{
  /* The spare exits when its socket closes. */
  mproc_clear_fd (&spare_fd);
  if (spare_pid > 0)
    reap (spare_pid);
  spare_pid = 0;
}

/* Reads the announcement of the next spare. */
static gboolean
read_announcement_locked (GError **error)
{
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  g_autoptr(GVariant) reply = NULL;

  reply = mproc_wire_recv_value (server_fd, fds, 64, NULL, error);
  if (reply == NULL)
    return FALSE;
  announcement_due = FALSE;

  if (!g_variant_is_of_type (reply, G_VARIANT_TYPE_INT32) || fds->len != 1)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("The fork server sent a malformed reply"));
      return FALSE;
    }

  if (g_variant_get_int32 (reply) <= 0)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("The fork server cannot fork: %s"), g_strerror (-g_variant_get_int32 (reply)));
      return FALSE;
    }

  spare_pid = g_variant_get_int32 (reply);
  spare_fd = g_array_index (fds, int, 0);
  g_array_index (fds, int, 0) = -1;
  return TRUE;
}

static void
server_close_locked (gboolean kill_it)
{
  g_autoptr(GError) error = NULL;

  if (server_fd >= 0 && announcement_due && !kill_it)
    {
      /* Collect the spare it forked for us, to reap it. */
      if (spare_fd < 0 && read_announcement_locked (&error))
        spare_drop_locked ();
    }
  announcement_due = FALSE;

  mproc_clear_fd (&server_fd);
  if (server_pid > 0)
    {
      if (kill_it)
        kill (server_pid, SIGKILL);
      /* Otherwise it exits when it reads end-of-file. */
      reap (server_pid);
    }
  server_pid = 0;
}

static gboolean
server_ensure_locked (GError **error)
{
  int sv[2];

  if (server_fd >= 0)
    return TRUE;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot start the fork server: %s"), g_strerror (errsv));
      return FALSE;
    }

  if (!mproc_spawn_self ("forkserver", sv[1], &server_pid, error))
    {
      close (sv[0]);
      close (sv[1]);
      return FALSE;
    }

  close (sv[1]);
  server_fd = sv[0];
  announcement_due = TRUE;   /* a new server announces its first spare */
  return TRUE;
}

/* Gets a spare in hand, starting or replacing the server if needed. */
static gboolean
take_spare_locked (GError **error)
{
  for (guint attempt = 0; spare_fd < 0; attempt++)
    {
      g_autoptr(GError) local_error = NULL;

      if (!server_ensure_locked (error))
        return FALSE;

      if (!announcement_due)
        {
          if (mproc_wire_send_value (server_fd, g_variant_new_string ("next"), NULL, 0, NULL, &local_error))
            announcement_due = TRUE;
        }
      if (announcement_due && read_announcement_locked (&local_error))
        break;

      /* The server died (or misbehaves): replace it, once. */
      server_close_locked (TRUE);
      if (attempt == 1)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "%s", _("The fork server failed: "));
          return FALSE;
        }
    }

  return TRUE;
}

int
mproc_forkserver_prepare (void)
{
  int ret = -1;

  if (!mproc_runtime_is_initialized ())
    return -1;

  g_mutex_lock (&server_lock);
  if (spare_fd < 0 && server_ensure_locked (NULL))
    {
      if (!announcement_due &&
          mproc_wire_send_value (server_fd, g_variant_new_string ("next"), NULL, 0, NULL, NULL))
        announcement_due = TRUE;
      if (announcement_due)
        ret = server_fd;
    }
  g_mutex_unlock (&server_lock);

  return ret;
}

gboolean
mproc_forkserver_start_child (GVariant  *message,
                              GArray    *fds,
                              GPid      *pid,
                              GError   **error)
{
  g_autoptr(GBytes) bytes = mproc_wire_encode (message);
  gboolean ret = FALSE;

  g_mutex_lock (&server_lock);

  /* One retry: a spare that died while it waited is replaced. */
  for (guint attempt = 0; attempt < 2 && !ret; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      g_auto(MprocFd) child_fd = -1;
      gboolean ok;
      GPid child;

      if (!take_spare_locked (error))
        break;

      child = spare_pid;
      child_fd = g_steal_fd (&spare_fd);
      spare_pid = 0;

      ok = mproc_wire_send (child_fd, bytes, (const int *) fds->data, fds->len, NULL, &local_error);

      /* The next spare is forked while this one starts. */
      if (mproc_wire_send_value (server_fd, g_variant_new_string ("next"), NULL, 0, NULL, NULL))
        announcement_due = TRUE;
      else
        server_close_locked (TRUE);

      if (!ok)
        {
          kill (child, SIGKILL);
          reap (child);
          if (attempt == 1)
            g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                        "%s", _("The fork server failed: "));
          continue;
        }

      *pid = child;
      ret = TRUE;
    }

  g_mutex_unlock (&server_lock);

  return ret;
}

void
mproc_forkserver_stop (void)
{
  g_mutex_lock (&server_lock);
  spare_drop_locked ();
  server_close_locked (FALSE);
  g_mutex_unlock (&server_lock);
}

/* In a fork()ed child: the server and the spare belong to the parent. */
void
mproc_forkserver_forget (void)
{
  mproc_clear_fd (&server_fd);
  mproc_clear_fd (&spare_fd);
  server_pid = 0;
  spare_pid = 0;
  announcement_due = FALSE;
}

GPid
mproc_forkserver_get_pid (void)
{
  GPid ret;

  g_mutex_lock (&server_lock);
  ret = server_pid;
  g_mutex_unlock (&server_lock);

  return ret;
}

/* For the tests: makes sure the spare the server forked is in hand (its
 * announcement read), and returns its pid, or 0. */
GPid
mproc_forkserver_sync_spare (void)
{
  GPid ret;

  g_mutex_lock (&server_lock);
  if (spare_fd < 0 && server_fd >= 0 && announcement_due)
    read_announcement_locked (NULL);
  ret = spare_pid;
  g_mutex_unlock (&server_lock);

  return ret;
}

int
mproc_forkserver_get_fd (void)
{
  int ret;

  g_mutex_lock (&server_lock);
  ret = server_fd;
  g_mutex_unlock (&server_lock);

  return ret;
}

gboolean
mproc_forkserver_is_own_fd (int fd)
{
  gboolean ret;

  g_mutex_lock (&server_lock);
  ret = fd >= 0 && (fd == server_fd || fd == spare_fd);
  g_mutex_unlock (&server_lock);

  return ret;
}

/* Server side. */

static gpointer robust_head;
static size_t   robust_len;
/* glibc's cached tid of the server's thread (struct pthread's tid, just
 * before robust_prev and robust_head), or NULL if not found where expected.
 * A clone()d child must have its own there: glibc writes it into robust
 * and error-checking mutexes (a stale one makes every spare the "owner" of
 * the others' locks, and the kernel's owner-died handling misses them). */
static pid_t   *glibc_tid;

/* A forked child maps the library's code and copies the heap pages it
 * touches one fault at a time (a fork copies no page table entries for
 * untouched file mappings). The spare pays these while it waits, by
 * building and decoding a process the way a real start will, so that the
 * real start finds them mapped. */
static void
spare_rehearse (void)
{
  g_autoptr(MprocProcess) dummy = mproc_process_new ("rehearsal", g_variant_new ("(i)", 0));
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  g_autoptr(GVariant) message = mproc_process_build_start_message (dummy, fds, NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GVariant) decoded = NULL;
  g_autoptr(MprocProcess) again = NULL;

  if (message == NULL)
    return;
  bytes = mproc_wire_encode (message);
  decoded = mproc_wire_decode (bytes, NULL);
  if (decoded != NULL)
    again = mproc_process_new_from_start_message (decoded, fds, NULL);
}

/* In the spare: wait for a start message, then run it. */
G_NORETURN static void
spare_main (int  sock,
            int  lifeline_fd,
            GPid parent_pid)
{
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GError) error = NULL;
  MprocProcess *self = NULL;

  /* clone() does not do what glibc's fork() does for the robust mutex
   * list of the child's thread: register it again. */
  if (robust_head != NULL)
    syscall (SYS_set_robust_list, robust_head, robust_len);
  /* Nor does it run the atfork handlers: this thread's id changed. */
  mproc_owner_forget_self ();
  mproc_runtime_hold_lifeline (lifeline_fd, parent_pid);
  close (lifeline_fd);
  spare_rehearse ();

  message = mproc_wire_recv_value (sock, fds, REQUEST_MAX_SIZE, NULL, &error);
  if (message == NULL)
    {
      /* End-of-file: an unused spare. */
      if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN))
        g_printerr ("mproc-glib: %s%s\n", _("Cannot start a process: "), error->message);
      _exit (0);
    }
  close (sock);

  /* a failure is reported to the parent (mproc-start-status.c) */
  self = mproc_process_new_from_start_message (message, fds, &error);
  if (self == NULL)
    _exit (1);
  mproc_fd_array_close_all (fds);
  mproc_process_run_in_child (self);
}

/* Forks a spare and announces it to the main process: (pid, socket). */
static void
announce_spare (int  control_fd,
                int  lifeline_fd,
                GPid parent_pid)
{
  g_autoptr(GError) error = NULL;
  int sv[2];
  long child;

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    {
      int errsv = errno;
      if (!mproc_wire_send_value (control_fd, g_variant_new_int32 (-errsv), NULL, 0, NULL, &error))
        _exit (0);
      return;
    }

  /* CLONE_CHILD_SETTID: the kernel stores the child's tid in glibc's
   * cached copy, as glibc's own fork() does. */
  if (glibc_tid != NULL)
    child = syscall (SYS_clone, CLONE_PARENT | CLONE_CHILD_SETTID | SIGCHLD, NULL, NULL, glibc_tid, 0);
  else
    child = syscall (SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
  if (child == 0)
    {
      close (control_fd);
      close (sv[0]);
      spare_main (sv[1], lifeline_fd, parent_pid);
    }
  if (child < 0)
    child = -errno;
  close (sv[1]);

  if (!mproc_wire_send_value (control_fd, g_variant_new_int32 ((gint32) child),
                              child > 0 ? &sv[0] : NULL, child > 0 ? 1 : 0, NULL, &error))
    _exit (0);
  close (sv[0]);
}

void
mproc_forkserver_main (int  control_fd,
                       int  lifeline_fd,
                       GPid parent_pid)
{
  /* The server holds its own reference to the lifeline, and keeps the
   * original descriptor for its children to open theirs from. */
  mproc_runtime_hold_lifeline (lifeline_fd, parent_pid);
  mproc_runtime_warn_if_threaded ();
  mproc_title_set ("forkserver");
  syscall (SYS_get_robust_list, 0, &robust_head, &robust_len);
  if (robust_head != NULL)
    {
      pid_t *tid = (pid_t *) (gpointer) ((char *) robust_head - sizeof (gpointer) - 2 * sizeof (pid_t));

      if (*tid == (pid_t) syscall (SYS_gettid))
        glibc_tid = tid;
    }

  for (;;)
    {
      g_autoptr(GVariant) request = NULL;
      g_autoptr(GError) error = NULL;

      announce_spare (control_fd, lifeline_fd, parent_pid);

      request = mproc_wire_recv_value (control_fd, NULL, 64, NULL, &error);
      if (request == NULL)
        {
          /* End-of-file: the main process stopped us or died. */
          if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN))
            g_printerr ("mproc-glib: %s%s\n", _("The fork server failed: "), error->message);
          _exit (0);
        }
    }
}
