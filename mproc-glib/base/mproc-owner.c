/* mproc-owner.c: owner ids and their liveness
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-owner-private.h.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mproc-fd-private.h"
#include "mproc-owner-private.h"

#ifndef PIDFD_THREAD
# define PIDFD_THREAD O_EXCL   /* Linux 6.9 */
#endif

__attribute__ ((visibility ("default")))
__thread guint32 _mproc_thread_owner_id __attribute__ ((tls_model ("initial-exec"))) = 0;

/* Only the forking thread lives on in the child: its cache is this one. */
static void
owner_atfork_child (void)
{
  _mproc_thread_owner_id = 0;
}

guint32
mproc_owner_self_id (void)
{
  static gsize registered = 0;

  if (G_LIKELY (_mproc_thread_owner_id != 0))
    return _mproc_thread_owner_id;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, owner_atfork_child);
      g_once_init_leave (&registered, 1);
    }
  /* Thread ids stay below 2^22 (PID_MAX_LIMIT): they fit the mask. */
  _mproc_thread_owner_id = (guint32) syscall (SYS_gettid) & MPROC_OWNER_ID_MASK;
  return _mproc_thread_owner_id;
}

void
mproc_owner_forget_self (void)
{
  _mproc_thread_owner_id = 0;
}

int
mproc_owner_open_pidfd (int      id,
                        gboolean is_thread)
{
  int fd;

  if (is_thread)
    {
      fd = (int) syscall (SYS_pidfd_open, id, PIDFD_THREAD);
      if (fd >= 0 || errno != EINVAL)
        return fd;
    }
  /* No PIDFD_THREAD (before Linux 6.9): good for a thread-group leader;
   * pidfd_open() refuses anything else. */
  fd = (int) syscall (SYS_pidfd_open, id, 0);
  if (fd >= 0)
    fcntl (fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

void
mproc_owner_watch_clear (MprocOwnerWatch *watch)
{
  mproc_clear_fd (&watch->pidfd);
  watch->id = 0;
}

gboolean
mproc_owner_watch_is_dead (MprocOwnerWatch *watch,
                           guint32          id)
{
  struct pollfd pfd;

  id &= MPROC_OWNER_ID_MASK;
  if (id == 0 || id == (watch->is_process ? (guint32) getpid () : mproc_owner_self_id ()))
    return FALSE;

  if (id != watch->id || watch->pidfd < 0)
    {
      mproc_owner_watch_clear (watch);
      watch->id = id;
      watch->pidfd = mproc_owner_open_pidfd ((int) id, !watch->is_process);
      if (watch->pidfd < 0)
        {
          if (errno == ESRCH)
            return TRUE;
          /* No pidfd for it (an old kernel and not a leader, or out of
           * fds): ask whether the id exists at all. */
          return kill ((pid_t) id, 0) < 0 && errno == ESRCH;
        }
    }

  pfd.fd = watch->pidfd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  return poll (&pfd, 1, 0) == 1;
}

/* Bumped in every child of fork(): objects remember the generation that
 * made them, to tell an inherited copy from their own. */
static guint fork_generation;   /* atomic */

static void
fork_generation_child (void)
{
  g_atomic_int_inc (&fork_generation);
}

guint
mproc_fork_generation (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered))
    {
      pthread_atfork (NULL, NULL, fork_generation_child);
      g_once_init_leave (&registered, 1);
    }

  return g_atomic_int_get (&fork_generation);
}
