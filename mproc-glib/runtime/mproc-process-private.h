/* mproc-process-private.h: process internals shared by the start methods
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "mproc-context.h"
#include "mproc-process.h"

G_BEGIN_DECLS

typedef enum
{
  PROCESS_STATE_NEW,        /* not started */
  PROCESS_STATE_RUNNING,    /* started, not reaped */
  PROCESS_STATE_EXITED,     /* reaped: exit_code is valid */
  PROCESS_STATE_CLOSED,     /* closed */
  PROCESS_STATE_SELF,       /* the object of the process that is running it */
} ProcessState;

/* Builds the start message of @self for spawn and forkserver: "a{sv}" plus
 * the fds of its shared objects, appended to @fds. Returns a full reference. */
GVariant     *mproc_process_build_start_message (MprocProcess  *self,
                                                 GArray        *fds,
                                                 GError       **error);
/* The program the spawn start method executes for @self instead of the
 * running one (it must call mproc_init()); %NULL for the running one. */
void          mproc_process_set_executable      (MprocProcess  *self,
                                                 const char    *executable);
/* In the child: rebuilds the process object from a start message. */
MprocProcess *mproc_process_new_from_start_message (GVariant   *message,
                                                    GArray     *fds,
                                                    GError    **error);
/* In the child: runs @self and exits with its exit code. */
G_NORETURN
void          mproc_process_run_in_child        (MprocProcess  *self);
/* A process object describing another process (the parent, MainProcess). */
MprocProcess *mproc_process_new_for_pid         (const char    *name,
                                                 GPid           pid);
/* Called in a fork()ed child for each inherited child-process object: forget
 * it without touching the real process (it is a sibling now). */
void          mproc_process_forget              (MprocProcess  *self);
gboolean      mproc_process_try_reap            (MprocProcess  *self);
/* The pidfd of a started, not closed child (readable once it has exited),
 * or -1: what mproc_connection_wait() polls for a process. Owned by @self. */
int           mproc_process_get_pidfd           (MprocProcess  *self);

/* The start status socket (mproc-start-status.c). The parent keeps the
 * returned end and appends the child's to @fds, at *@child_index. */
int           mproc_start_status_new            (GArray        *fds,
                                                 guint         *child_index,
                                                 GError       **error);
/* In the child: tells the parent why it cannot run (on stderr if @fd < 0). */
void          mproc_start_status_report         (int            fd,
                                                 const GError  *error);
/* In the parent, once the child is reaped: what the child reported, as an
 * error naming the process, or NULL. */
GError       *mproc_start_status_read           (int            fd,
                                                 const char    *name,
                                                 GPid           pid);

G_END_DECLS
