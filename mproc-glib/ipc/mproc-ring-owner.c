/* mproc-ring-owner.c: who holds a lock word of a ring, and whether it lives
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A lock word holds its holder's pid and, in the upper half, the low bits
 * of the holder's start time (field 22 of /proc/PID/stat): a holder that
 * died is recognised as dead even once its pid belongs to another process.
 */

#include "config.h"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mproc-ring-ops-private.h"

/* The start time of @pid (clock ticks since boot, field 22 of its stat),
 * which tells a process from a later one that got the same pid. */
static gboolean
proc_start_time (pid_t    pid,
                 guint64 *out)
{
  char path[64];
  char buf[1024];
  const char *p;
  ssize_t n;
  int fd;

  g_snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  do
    n = read (fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n <= 0)
    return FALSE;
  buf[n] = '\0';

  /* the command name may hold spaces and parentheses: skip past the last
   * ')', then field 3 (state) to field 22 */
  p = strrchr (buf, ')');
  if (p == NULL)
    return FALSE;
  for (guint field = 2; field < 22; field++)
    {
      p = strchr (p + 1, ' ');
      if (p == NULL)
        return FALSE;
    }
  *out = g_ascii_strtoull (p + 1, NULL, 10);
  return TRUE;
}

/* What this process writes into a lock word it takes: its pid, and in
 * the upper half the low bits of its start time, so that a holder that
 * died is recognised even once its pid belongs to another process. */
guint64
mproc_ring_owner_self (void)
{
  guint64 start = 0;
  pid_t pid = getpid ();

  if (!proc_start_time (pid, &start))
    start = 0;   /* no /proc: fall back to the pid alone */
  return (guint64) (guint32) pid | ((guint64) (guint32) start << 32);
}

/* Whether the holder @owner is gone: no such process, a zombie (it holds
 * nothing), or its pid now names a process that started at another time. */
gboolean
mproc_ring_owner_is_dead (guint64 owner)
{
  pid_t pid = (pid_t) (owner & G_MAXUINT32);
  guint32 tag = (guint32) (owner >> 32);
  struct pollfd pfd;
  guint64 start;
  gboolean have_start;
  int fd;
  int r;

  if (pid <= 0)
    return TRUE;

  fd = (int) syscall (SYS_pidfd_open, pid, 0);
  if (fd < 0)
    return errno == ESRCH;

  /* Read while the pidfd pins the process: if it is still alive after
   * the read, the stat we read was its own. */
  have_start = proc_start_time (pid, &start);
  pfd.fd = fd;
  pfd.events = POLLIN;
  pfd.revents = 0;
  r = poll (&pfd, 1, 0);
  close (fd);
  if (r == 1)
    return TRUE;
  if (!have_start || tag == 0)
    return FALSE;   /* cannot tell a reused pid: the pid is alive */
  return (guint32) start != tag;
}
