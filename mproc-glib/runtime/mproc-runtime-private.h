/* mproc-runtime-private.h: process-wide state of mproc-glib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include "mproc-process.h"

G_BEGIN_DECLS

/* The environment variable through which a re-executed program learns that
 * it is a child: "spawn:<fd>:<lifeline fd>:<parent pid>" or
 * "forkserver:<fd>:<lifeline fd>:<parent pid>". */
#define MPROC_BOOTSTRAP_ENV "MPROC_BOOTSTRAP"

/* The targets of the library's own processes (pool workers, manager
 * servers), known in every process, registered or not: the table is
 * defined on top of the layers (mproc-builtins.c), so that the runtime
 * starts them without knowing them. */
typedef struct
{
  const char      *name;
  MprocTargetFunc  func;
} MprocBuiltinTarget;

extern const MprocBuiltinTarget mproc_builtin_targets[];

gboolean         mproc_runtime_is_initialized   (void);
gboolean         mproc_runtime_is_gjs           (void);
char            *mproc_runtime_next_name        (GType            type);
char            *mproc_runtime_dup_identity     (void);
gboolean         mproc_runtime_lookup_target    (const char      *name,
                                                 MprocTargetFunc *func,
                                                 gpointer        *user_data);

void             mproc_runtime_add_child        (MprocProcess    *process);
void             mproc_runtime_remove_child     (MprocProcess    *process);

/* The read end of the pipe whose write end only this process holds: a child
 * is killed when it reads end-of-file (see mproc_runtime_hold_lifeline()). */
int              mproc_runtime_get_lifeline_fd  (GError         **error);
char           **mproc_runtime_dup_self_argv    (GError         **error);
/* The working directory of the main process when it called mproc_init(), or
 * NULL: where a re-executed program starts (see mproc_spawn_self()). */
const char      *mproc_runtime_get_init_dir     (void);
/* Bumped in the child by every fork() (a pthread_atfork handler): an object
 * whose per-process state (wait-point handles, mappings' bookkeeping) was
 * made under another generation was inherited through fork and must make
 * its own. Cheap: one atomic load. */

/* fork(), or the function given to mproc_set_fork_func(). */
GPid             mproc_runtime_fork             (void);

/* For the tests' leak checks: fds the runtime keeps for the process's life. */
gboolean         mproc_runtime_is_own_fd        (int              fd);

/* Child side. */
void             mproc_runtime_enter_child      (MprocProcess    *self,
                                                 const char      *identity,
                                                 const char      *parent_name,
                                                 GPid             parent_pid);
void             mproc_runtime_hold_lifeline    (int              lifeline_fd,
                                                 GPid             parent_pid);
void             mproc_runtime_warn_if_threaded (void);

/* Fork server (mproc-forkserver.c). */
/* For a start that must not block (mproc_pool_new_async()): gets the fork
 * server going and its next spare asked for, and returns the fd that is
 * readable once the spare is announced, or -1 when one is in hand (or on
 * an error, which the start then reports). */
int              mproc_forkserver_prepare       (void);
gboolean         mproc_forkserver_start_child   (GVariant        *message,
                                                 GArray          *fds,
                                                 GPid            *pid,
                                                 GError         **error);
void             mproc_forkserver_stop          (void);
void             mproc_forkserver_forget        (void);
GPid             mproc_forkserver_get_pid       (void);
int              mproc_forkserver_get_fd        (void);
gboolean         mproc_forkserver_is_own_fd     (int              fd);
GPid             mproc_forkserver_sync_spare    (void);
G_NORETURN void  mproc_forkserver_main          (int              control_fd,
                                                 int              lifeline_fd,
                                                 GPid             parent_pid);

/* Re-executes the program as a child (mproc-spawn.c). @child_fd becomes fd 3
 * of the new process and the lifeline fd 4. */
gboolean         mproc_spawn_self               (const char      *mode,
                                                 int              child_fd,
                                                 GPid            *pid,
                                                 GError         **error);
/* The same, executing @executable (with no arguments) when not NULL. */
gboolean         mproc_spawn_program            (const char      *mode,
                                                 const char      *executable,
                                                 int              child_fd,
                                                 GPid            *pid,
                                                 GError         **error);
G_NORETURN void  mproc_spawn_child_main         (int              fd,
                                                 int              lifeline_fd,
                                                 GPid             parent_pid);

/* mproc-title.c: names this process @name in /proc/PID/comm and its
 * command line "program: @name"; in a child, before its target runs. */
void             mproc_title_set                (const char      *name);
/* Lends a spawned program's command line room for its title: takes @envp. */
char           **mproc_title_environ_add_space  (char           **envp);

G_END_DECLS
