/* mproc-sync-private.h: what the synchronisation primitives share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every primitive of issue #5 (lock, rlock, event, semaphore, condition,
 * barrier, value) keeps its state in one MprocShm of its own:
 *
 *   offset 0   MprocWaitShared (the wait point's shared part)
 *   offset 64  the primitive's state (its own cache line(s))
 *
 * and travels to another process as "(hh)": the memfd and the wait point's
 * eventfd, followed by whatever the class adds.  MprocSync is the
 * per-process handle on that: the mapping and a wait point, which is rebuilt
 * lazily in a child that inherited the object through fork() (the
 * inherited wait point is inert there, see mproc-waitable-private.h).
 *
 * The lock word of MprocLock and its recursive subclass MprocRLock (and of
 * the barrier's guard) is described in mproc-mutex.c: an owner id in a
 * futex word, the holder's liveness learned from its pidfd; nothing in the
 * shared memory is a pointer or a libc structure.
 */

#pragma once

#include <gio/gio.h>

#include "mproc-shm-private.h"
#include "mproc-waitable-private.h"

G_BEGIN_DECLS

#define MPROC_SYNC_STATE_OFFSET 64

typedef struct _MprocSync MprocSync;

MprocSync      *mproc_sync_new             (gsize          state_size,
                                            const char    *debug_name,
                                            GError       **error);
MprocSync      *mproc_sync_new_from_handle (GVariant      *handle,
                                            GArray        *fds,
                                            gsize          state_size,
                                            GError       **error);
/* The optional lock of a Value or Array, described as "m(sv)" (floating;
 * NULL with @error set on failure), and rebuilt from that description (a
 * description that is not of an RLock is malformed). */
struct _MprocRLock;
GVariant       *mproc_sync_serialize_optional_lock   (struct _MprocRLock  *lock,
                                                      GArray              *fds,
                                                      GError             **error);
gboolean        mproc_sync_deserialize_optional_lock (GVariant            *description,
                                                      GArray              *fds,
                                                      struct _MprocRLock **lock,
                                                      GError             **error);
GVariant       *mproc_sync_serialize       (MprocSync     *sync,
                                            GArray        *fds,
                                            GError       **error);
void            mproc_sync_free            (MprocSync     *sync);
MprocWaitPoint *mproc_sync_get_wait_point  (MprocSync     *sync);
gpointer        mproc_sync_get_state       (MprocSync     *sync);
MprocWaitShared *mproc_sync_get_wait_shared (MprocSync    *sync);
void            mproc_sync_wake            (MprocSync     *sync,
                                            int            n);
/* Whether the lock in @sync's state is recursive: kept in this process,
 * never read from the shared memory. */
void            mproc_sync_set_recursive   (MprocSync     *sync,
                                            gboolean       recursive);
gboolean        mproc_sync_get_recursive   (MprocSync     *sync);

/* Blocks on an async operation by running it in a private main context
 * (the sync pattern of gsubprocess.c): used by the blocking calls that must
 * also watch fds (pidfds, the cancellable).  Between begin() and end()
 * start the async call with mproc_sync_block_cb and the block as data. */
typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
} MprocSyncBlock;

void            mproc_sync_block_begin     (MprocSyncBlock      *block);
void            mproc_sync_block_cb        (GObject             *source_object,
                                            GAsyncResult        *result,
                                            gpointer             user_data);
GAsyncResult   *mproc_sync_block_end       (MprocSyncBlock      *block);

/* A GSource that fires once, when any of a set of threads/processes has
 * exited (pidfds).  Re-targeting to the same set is free. */
typedef struct _MprocDeathWatch MprocDeathWatch;
typedef void (*MprocDeathFunc) (gpointer user_data, int pid);

MprocDeathWatch *mproc_death_watch_new     (GMainContext   *context,
                                            MprocDeathFunc  func,
                                            gpointer        user_data);
/* Returns FALSE when one of @pids is already gone (then nothing is
 * watched); @is_thread selects PIDFD_THREAD (falls back to the process
 * when the kernel lacks it and the id is a process). */
gboolean         mproc_death_watch_set     (MprocDeathWatch *watch,
                                            const int       *pids,
                                            guint            n_pids,
                                            gboolean         is_thread);
void             mproc_death_watch_free    (MprocDeathWatch *watch);

/* The lock of MprocLock and MprocRLock (mproc-mutex.c). */
typedef struct
{
  guint32 word;        /* owner id | waiters bit; 0 when free */
  guint32 recursive;   /* checked against the handle when received, never trusted after */
  guint32 count;       /* levels of an RLock held, written by the holder only */
  guint32 _pad;
} MprocMutexShared;

typedef enum
{
  MPROC_MUTEX_OK,
  MPROC_MUTEX_OWNER_DIED,   /* held, taken over from a dead holder */
  MPROC_MUTEX_TIMED_OUT,
} MprocMutexStatus;

void      mproc_mutex_shared_init    (MprocMutexShared *shared,
                                      gboolean          recursive);
/* Blocking, forever, without async waiters: the barrier's guard. */
MprocMutexStatus mproc_mutex_shared_lock   (MprocMutexShared *shared);
void             mproc_mutex_shared_unlock (MprocMutexShared *shared);

/* On the MprocMutexShared state of @sync, recursive as set with
 * mproc_sync_set_recursive(). */
gboolean  mproc_mutex_acquire        (MprocSync        *sync,
                                      gint64            timeout_usec,
                                      GCancellable     *cancellable,
                                      GError          **error);
gboolean  mproc_mutex_try_acquire    (MprocSync        *sync,
                                      GError          **error);
gboolean  mproc_mutex_release        (MprocSync        *sync,
                                      GError          **error);
void      mproc_mutex_acquire_async  (MprocSync        *sync,
                                      GObject          *source_object,
                                      gpointer          source_tag,
                                      gint64            timeout_usec,
                                      GCancellable     *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer          user_data);
gboolean  mproc_mutex_is_owned       (MprocSync        *sync);
/* For MprocCondition: release every level of recursion, and take them back. */
gboolean  mproc_mutex_release_all    (MprocSync        *sync,
                                      guint            *saved_count,
                                      GError          **error);
void      mproc_mutex_restore_count  (MprocSync        *sync,
                                      guint             saved_count);

/* A new MprocLock, or MprocRLock when @recursive (mproc_rlock_new()). */
struct _MprocLock;
struct _MprocLock *mproc_lock_new_internal (gboolean            recursive,
                                            GError            **error);
/* The MprocSync of a lock (or rlock), for MprocCondition. */
MprocSync *mproc_lock_get_sync  (struct _MprocLock  *self);


G_END_DECLS
