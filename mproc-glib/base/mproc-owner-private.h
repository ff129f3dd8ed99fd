/* mproc-owner-private.h: who holds a word in shared memory, and whether
 * that thread still lives
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A lock word in shared memory names its holder by an owner id: the
 * holder's thread id (in the low 30 bits, as FUTEX_TID_MASK), so that the
 * kernel can tell any sharer whether the holder lives.  Nothing else about
 * the holder is kept in shared memory: a sharer that writes anything into
 * the word can only make the lock look held by someone else, or free, or
 * abandoned.
 *
 * Liveness goes through a pidfd opened on the id (PIDFD_THREAD, Linux 6.9,
 * so that a dead thread of a live process counts as dead).  Once opened,
 * the pidfd names that very thread, however long the wait: a recycled id
 * cannot pass for the old holder.  Without PIDFD_THREAD, a thread-group
 * leader still gets a pidfd; any other thread falls back to kill (id, 0),
 * which a recycled id can fool.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MPROC_OWNER_ID_MASK 0x3fffffffu

/* The cache behind mproc_owner_self_id(), _mproc_thread_owner_id, is
 * declared in mproc-lock.h: exported for the inline fast path of
 * MprocLock, initial-exec so that reading it is one load. */

/* The calling thread's owner id, cached in thread-local storage (the
 * inline fast path of MprocLock reads the cache directly); forgotten in the
 * child of fork(). */
guint32  mproc_owner_self_id     (void);
/* In a child made by a raw clone() (no atfork handlers run). */
void     mproc_owner_forget_self (void);

guint    mproc_fork_generation   (void);

/* A pidfd on a thread (@is_thread, PIDFD_THREAD where the kernel has it)
 * or a process, close-on-exec; -1 with errno set. */
int      mproc_owner_open_pidfd  (int      id,
                                  gboolean is_thread);

/* What one waiter knows about the holder it waits for: the id it last
 * checked and a pidfd on it.  Process-local.  The ids are thread ids
 * (MPROC_OWNER_WATCH_INIT), or process ids for words that name a whole
 * process (MPROC_OWNER_WATCH_INIT_PROCESS: gone when every thread is). */
typedef struct
{
  guint32  id;
  int      pidfd;
  gboolean is_process;
} MprocOwnerWatch;

#define MPROC_OWNER_WATCH_INIT         { 0, -1, FALSE }
#define MPROC_OWNER_WATCH_INIT_PROCESS { 0, -1, TRUE }

/* Whether the thread (or process) @id is known to be gone (a zombie
 * counts as gone: it holds nothing).  Opens a pidfd when @id differs from
 * the last one; never blocks.  The caller itself is never gone. */
gboolean mproc_owner_watch_is_dead (MprocOwnerWatch *watch,
                                    guint32          id);
void     mproc_owner_watch_clear   (MprocOwnerWatch *watch);

G_END_DECLS
