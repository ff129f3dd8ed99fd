/* mproc-forkserver.c: the forkserver start method
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fork server is the program itself, executed again with
 * MPROC_BOOTSTRAP=forkserver: mproc_init() turns it into a single-threaded
 * loop that reads start messages and forks one child for each. It forks with
 * clone(CLONE_PARENT), so every child is a child of the *main* process, not
 * of the server: the main process reaps it and reads its exit status itself
 * (pidfd, waitid), with no status relayed through the server and no extra
 * wake-up on the way, and getppid() in the child is the main process.
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
#include "mproc-process-private.h"
#include "mproc-runtime-private.h"
#include "mproc-wire-private.h"

#define REQUEST_MAX_SIZE (G_MAXUINT32)

/* Client side, in the main process. */
static GMutex server_lock;
static int    server_fd = -1;
static GPid   server_pid = 0;

static void
server_close_locked (gboolean wait)
{
  mproc_clear_fd (&server_fd);
  if (server_pid > 0 && wait)
    {
      /* The server exits when it reads end-of-file. */
      while (waitpid (server_pid, NULL, 0) < 0 && errno == EINTR)
        ;
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
  return TRUE;
}

gboolean
mproc_forkserver_start_child (GVariant  *message,
                              GArray    *fds,
                              GPid      *pid,
                              GError   **error)
{
  g_autoptr(GBytes) request = mproc_wire_encode (message);
  gboolean ret = FALSE;

  g_mutex_lock (&server_lock);

  /* One retry: a server that died since the last request is replaced. */
  for (guint attempt = 0; attempt < 2 && !ret; attempt++)
    {
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GError) local_error = NULL;
      gint32 child;

      if (!server_ensure_locked (error))
        break;

      if (mproc_wire_send (server_fd, request, (const int *) fds->data, fds->len, NULL, &local_error))
        reply = mproc_wire_recv_value (server_fd, NULL, 64, NULL, &local_error);

      if (reply == NULL || !g_variant_is_of_type (reply, G_VARIANT_TYPE_INT32))
        {
          if (reply != NULL)
            g_set_error_literal (&local_error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                                 _("The fork server sent a malformed reply"));
          if (server_pid > 0)
            kill (server_pid, SIGKILL);
          server_close_locked (TRUE);
          if (attempt == 1)
            {
              g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                          "%s", _("The fork server failed: "));
            }
          continue;
        }

      child = g_variant_get_int32 (reply);
      if (child <= 0)
        {
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("The fork server cannot fork: %s"), g_strerror (-child));
          break;
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
  server_close_locked (TRUE);
  g_mutex_unlock (&server_lock);
}

/* In a fork()ed child: the server belongs to the parent. */
void
mproc_forkserver_forget (void)
{
  mproc_clear_fd (&server_fd);
  server_pid = 0;
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

int
mproc_forkserver_get_fd (void)
{
  int ret;

  g_mutex_lock (&server_lock);
  ret = server_fd;
  g_mutex_unlock (&server_lock);

  return ret;
}

/* Server side. */
void
mproc_forkserver_main (int  control_fd,
                       int  lifeline_fd,
                       GPid parent_pid)
{
  gpointer robust_head = NULL;
  size_t robust_len = 0;

  /* The server holds its own reference to the lifeline, and keeps the
   * original descriptor for its children to open theirs from. */
  mproc_runtime_hold_lifeline (lifeline_fd, parent_pid);
  mproc_runtime_warn_if_threaded ();

  /* clone() does not do what glibc's fork() does for the child's robust
   * mutex list; keep the head to register it again in each child. */
  syscall (SYS_get_robust_list, 0, &robust_head, &robust_len);

  for (;;)
    {
      g_autoptr(GArray) fds = mproc_fd_array_new ();
      g_autoptr(GVariant) message = NULL;
      g_autoptr(GError) error = NULL;
      long child;

      message = mproc_wire_recv_value (control_fd, fds, REQUEST_MAX_SIZE, NULL, &error);
      if (message == NULL)
        {
          /* End-of-file: the main process stopped us or died. */
          if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_BROKEN))
            g_printerr ("mproc-glib fork server: %s\n", error->message);
          _exit (0);
        }

      child = syscall (SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
      if (child < 0)
        child = -errno;
      if (child == 0)
        {
          MprocProcess *self;

          if (robust_head != NULL)
            syscall (SYS_set_robust_list, robust_head, robust_len);
          close (control_fd);
          mproc_runtime_hold_lifeline (lifeline_fd, parent_pid);
          close (lifeline_fd);

          self = mproc_process_new_from_start_message (message, fds, &error);
          if (self == NULL)
            {
              g_printerr ("mproc-glib: cannot start process: %s\n", error->message);
              _exit (1);
            }
          mproc_fd_array_close_all (fds);
          mproc_process_run_in_child (self);
        }

      if (!mproc_wire_send_value (control_fd,
                                  g_variant_new_int32 ((gint32) child),
                                  NULL, 0, NULL, &error))
        _exit (0);
    }
}
