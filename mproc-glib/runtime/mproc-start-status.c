/* mproc-start-status.c: how a spawned or forkserver child tells its parent
 * why it could not run its target
 *
 * A child of spawn or forkserver is a fresh program: it finds its target or
 * its process type again by name, and fails when the program registered it
 * after mproc_init() (or never). A line on the child's stderr and exit code
 * 1 tell the user nothing they can act on from the parent, so the child
 * sends the reason on a datagram socket handed with its start message, and
 * the parent turns it into the GError of join().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-process-private.h"

/* A reason is a short sentence; anything longer is cut. */
#define STATUS_MAX_SIZE 1024

int
mproc_start_status_new (GArray  *fds,
                        guint   *child_index,
                        GError **error)
{
  int pair[2];

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Cannot create a socket for a new process: %s"), g_strerror (errsv));
      return -1;
    }
  /* the parent only reads, the child only writes */
  shutdown (pair[0], SHUT_WR);
  g_array_append_val (fds, pair[1]);
  *child_index = fds->len - 1;
  return pair[0];
}

void
mproc_start_status_report (int           fd,
                           const GError *error)
{
  guint32 code = error->domain == MPROC_ERROR ? (guint32) error->code : MPROC_ERROR_FAILED;
  gsize len = MIN (strlen (error->message), STATUS_MAX_SIZE - sizeof code);
  char buf[STATUS_MAX_SIZE];

  if (fd < 0)
    {
      g_printerr ("mproc-glib: %s%s\n", _("Cannot start a process: "), error->message);
      return;
    }
  memcpy (buf, &code, sizeof code);
  memcpy (buf + sizeof code, error->message, len);
  if (send (fd, buf, sizeof code + len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    g_printerr ("mproc-glib: %s%s\n", _("Cannot start a process: "), error->message);
}

GError *
mproc_start_status_read (int         fd,
                         const char *name,
                         GPid        pid)
{
  char buf[STATUS_MAX_SIZE];
  g_autofree char *reason = NULL;
  guint32 code;
  ssize_t n;

  if (fd < 0)
    return NULL;
  do
    n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  /* nothing: the child ran its target (or was killed before it could say) */
  if (n < (ssize_t) sizeof code)
    return NULL;

  memcpy (&code, buf, sizeof code);
  if (code != MPROC_ERROR_UNKNOWN_TARGET && code != MPROC_ERROR_INVALID_MESSAGE)
    code = MPROC_ERROR_FAILED;
  /* from our own program, but still only text */
  reason = g_utf8_make_valid (buf + sizeof code, n - sizeof code);
  return g_error_new (MPROC_ERROR, code, _("Process “%s” (pid %d) could not start: %s"),
                      name, (int) pid, reason);
}
