/* mproc-spawn.c: the spawn start method, and re-executing the program
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-process-private.h"
#include "mproc-runtime-private.h"
#include "mproc-wire-private.h"

#define START_MESSAGE_MAX_SIZE (G_MAXUINT32)

/* Executes the running binary again with the same command line; the new
 * process finds @child_fd as fd 3, the lifeline as fd 4 and what it is for
 * in MPROC_BOOTSTRAP, which mproc_init() reads. GLib's spawn closes every
 * other fd, so the child inherits nothing by accident. */
gboolean
mproc_spawn_self (const char  *mode,
                  int          child_fd,
                  GPid        *pid,
                  GError     **error)
{
  return mproc_spawn_program (mode, NULL, child_fd, pid, error);
}

/* A helper program that registers the same targets and calls mproc_init()
 * can stand in for the running one (Python's set_executable()). */
gboolean
mproc_spawn_program (const char  *mode,
                     const char  *executable,
                     int          child_fd,
                     GPid        *pid,
                     GError     **error)
{
  g_auto(GStrv) argv = NULL;
  g_auto(GStrv) envp = NULL;
  g_autofree char *bootstrap = NULL;
  int source_fds[2];
  int target_fds[2] = { 3, 4 };
  int lifeline;

  lifeline = mproc_runtime_get_lifeline_fd (error);
  if (lifeline < 0)
    return FALSE;

  if (executable != NULL)
    {
      argv = g_new0 (char *, 3);
      argv[0] = g_strdup (executable);
      argv[1] = g_strdup (executable);
    }
  else
    argv = mproc_runtime_dup_self_argv (error);
  if (argv == NULL)
    return FALSE;

  bootstrap = g_strdup_printf ("%s:3:4:%d", mode, (int) getpid ());
  envp = g_environ_setenv (g_get_environ (), MPROC_BOOTSTRAP_ENV, bootstrap, TRUE);
  envp = mproc_title_environ_add_space (envp);

  source_fds[0] = child_fd;
  source_fds[1] = lifeline;

  fflush (stdout);
  fflush (stderr);

  /* In the directory of mproc_init(): the command line may name the program
   * (a script, for an interpreter) relative to it. */
  if (!g_spawn_async_with_pipes_and_fds (mproc_runtime_get_init_dir (), (const char * const *) argv,
                                         (const char * const *) envp,
                                         G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_FILE_AND_ARGV_ZERO,
                                         NULL, NULL,
                                         -1, -1, -1,
                                         source_fds, target_fds, G_N_ELEMENTS (source_fds),
                                         pid, NULL, NULL, NULL,
                                         error))
    {
      g_prefix_error (error, "%s", _("Cannot start a process: "));
      return FALSE;
    }

  return TRUE;
}

/* In the spawned program, from mproc_init(): read the start message and run. */
void
mproc_spawn_child_main (int  fd,
                        int  lifeline_fd,
                        GPid parent_pid)
{
  g_autoptr(GArray) fds = mproc_fd_array_new ();
  g_autoptr(GVariant) message = NULL;
  g_autoptr(GError) error = NULL;
  MprocProcess *self = NULL;

  mproc_runtime_hold_lifeline (lifeline_fd, parent_pid);
  close (lifeline_fd);

  message = mproc_wire_recv_value (fd, fds, START_MESSAGE_MAX_SIZE, NULL, &error);
  close (fd);
  if (message == NULL)
    {
      g_printerr ("mproc-glib: %s%s\n", _("Cannot start a process: "), error->message);
      _exit (1);
    }
  /* a failure is reported to the parent (mproc-start-status.c) */
  self = mproc_process_new_from_start_message (message, fds, &error);
  if (self == NULL)
    _exit (1);

  mproc_fd_array_close_all (fds);
  mproc_process_run_in_child (self);
}
