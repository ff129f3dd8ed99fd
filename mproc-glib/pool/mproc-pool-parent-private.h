/* mproc-pool-parent-private.h: what the pool's own files share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The parent side of a pool (mproc-pool-private.h is what it shares with
 * its workers), one file per job:
 *
 *   mproc-pool.c           the MprocPool object and its API (apply, map,
 *                          starmap)
 *   mproc-pool-iterator.c  imap and MprocPoolIterator
 *   mproc-pool-call.c      calls: their chunks and the reassembled results
 *   mproc-pool-workers.c   worker processes: their I/O, life and death
 *   mproc-pool-schedule.c  which worker runs which chunk, timeouts, and
 *                          reporting from the pool's main context
 *   mproc-pool-wait.c      the blocking calls: polling the workers directly
 *   mproc-pool-shm.c       the fast path for packed arrays in memfds
 *   mproc-pool-start.c     starting: GInitable and GAsyncInitable
 *   mproc-pool-join.c      close, terminate, join
 */

#pragma once

#include <gio/gio.h>

#include "mproc-error.h"
#include "mproc-pool-backend-private.h"
#include "mproc-pool-private.h"
#include "mproc-process.h"

G_BEGIN_DECLS

#define DEFAULT_WINDOW_USEC  200.0    /* work queued on a worker ahead of it */
#define MAX_WINDOW           256

typedef enum
{
  POOL_RUN,
  POOL_CLOSE,
  POOL_TERMINATE,
} PoolState;

typedef enum
{
  CALL_APPLY,
  CALL_MAP,
  CALL_IMAP,
} CallKind;

typedef struct _Call Call;
typedef struct _Worker Worker;

typedef struct
{
  Call   *call;        /* strong */
  guint   index;       /* chunk number in its call */
  guint   lo;          /* first item */
  guint   len;         /* number of items */
  guint32 seq;
  gint64  started;     /* when its worker began it (approximately) */
} Chunk;

struct _Call
{
  gint                  ref_count;
  MprocPool            *pool;          /* weak: every holder also holds the pool */
  CallKind              kind;
  char                 *target;
  GVariant             *items;         /* array, or the argument of an apply */
  gsize                 esize;         /* element size of packed item arrays */
  guint                 n_items;
  guint                 chunksize;
  guint                 n_chunks;
  guint                 n_chunks_done;
  guint                 n_items_done;
  gint64                timeout_usec;
  GVariant            **results;       /* one per chunk, unless packed */
  guint8               *chunk_done;    /* per chunk: 0, DONE, DONE|PACKED */
  char                 *rtype;         /* packed results: their array type */
  gsize                 resize;        /* and element size */
  guint8               *rbuf;          /* n_items * resize */
  GError              **errors;        /* one per chunk (imap) */
  GError               *error;         /* map/apply: the first error */
  gboolean              finished;      /* nothing more will be run */
  gboolean              cancelled;     /* its running chunks are told to stop */
  gint64                cancelled_at;
  gboolean              notified;
  gboolean              dirty;

  GTask                *task;
  GSource              *cancel_source;
  MprocPoolProgressFunc progress;
  gpointer              progress_data;
  GDestroyNotify        progress_notify;
  guint                 reported_done;

  MprocPoolIterator    *iter;          /* weak: it owns us */

  /* mproc_pool_map_fd_async(): the memfds of the items and the results
   * (-1 otherwise), and their id in FILES frames */
  int                   in_fd;
  int                   out_fd;
  guint32               file_id;
  gboolean              into;          /* out_fd is the caller's */
};

/* fds to send with the byte at @offset of a worker's out buffer */
typedef struct
{
  gsize offset;
  int   fds[2];
} FdAttach;

struct _Worker
{
  MprocPool    *pool;
  MprocProcess *process;
  GPid          pid;
  int           fd;
  int           pidfd;
  int           cancel_fd;   /* write end of the worker's cancel pipe */
  GSource      *source;
  gpointer      fd_tag;
  gpointer      pid_tag;
  GQueue        inflight;    /* Chunk*, oldest (running) first */
  guint         n_sent;
  guint8       *in;
  gsize         in_start;
  gsize         in_end;
  gsize         in_size;
  GByteArray   *out;
  gsize         out_start;
  GArray       *attach;      /* FdAttach, in order of offset */
  GPtrArray    *file_calls;  /* Call* whose memfds the worker holds */
  double        avg_exec_usec;
  gboolean      retiring;    /* got its quota of tasks, or was told to stop */
  gboolean      timed_out;
  gboolean      cancel_killed; /* killed for running a cancelled chunk */
  gboolean      dead;
};

struct _MprocPool
{
  GObject       parent_instance;

  MprocContext *context;
  guint         processes;
  guint         maxtasksperchild;
  char         *initializer;
  GVariant     *initargs;
  int           cancel_grace_ms; /* -1: never kill for a cancel */
  int           nice;
  gboolean      sched_idle;
  guint64       memory_limit;
  char         *executable;

  GMainContext *main_context;
  GPtrArray    *workers;
  GQueue        pending;       /* Chunk* not sent yet */
  GQueue        dirty;         /* Call* with something to report */
  GSource      *notify_source;
  GSource      *timeout_source;
  GList        *join_tasks;
  guint         n_started;
  guint32       next_seq;
  guint32       next_file_id;
  PoolState     state;
  guint         quick_deaths;
  guint         n_busy;        /* as last notified */
  guint         n_queued;

  /* NULL: chunks run on the workers above */
  const MprocPoolBackend *backend;
  gpointer      backend_data;
  GDestroyNotify backend_destroy;
};

#define CHUNK_DONE   1
#define CHUNK_PACKED 2

typedef gboolean (*PoolDone) (gpointer data);

/* mproc-pool-start.c */
void       mproc_pool_initable_init       (GInitableIface      *iface);
void       mproc_pool_async_initable_init (GAsyncInitableIface *iface);

/* mproc-pool.c */
gboolean   mproc_pool_check_running     (MprocPool          *self,
                                         GError            **error);
gboolean   mproc_pool_start_task        (MprocPool          *self,
                                         Call               *call,
                                         gpointer            source_tag,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
gboolean   mproc_pool_check_items       (GVariant           *items,
                                         gboolean            star);
void       mproc_pool_notify_load       (MprocPool          *self);
void       mproc_pool_kill_all          (MprocPool          *self);
void       mproc_pool_join_check_cb     (MprocPool          *self);

/* mproc-pool-iterator.c */
void       mproc_pool_iter_push         (MprocPoolIterator  *self,
                                         Call               *call,
                                         guint               chunk_index);
void       mproc_pool_iter_deliver      (MprocPoolIterator  *self);

/* mproc-pool-call.c */
Call      *mproc_pool_call_new_n        (MprocPool          *self,
                                         CallKind            kind,
                                         const char         *target,
                                         GVariant           *items,
                                         guint               n_items,
                                         guint               chunksize,
                                         gint64              timeout_usec,
                                         GCancellable       *cancellable,
                                         gboolean            default_chunks_like_map);
Call      *mproc_pool_call_new          (MprocPool          *self,
                                         CallKind            kind,
                                         const char         *target,
                                         GVariant           *items,
                                         guint               chunksize,
                                         gint64              timeout_usec,
                                         GCancellable       *cancellable,
                                         gboolean            default_chunks_like_map);
Call      *mproc_pool_call_ref          (Call               *call);
void       mproc_pool_call_unref        (Call               *call);
void       mproc_pool_chunk_free        (Chunk              *chunk);
void       mproc_pool_call_mark_dirty   (Call               *call);
void       mproc_pool_call_drop_pending (Call               *call);
void       mproc_pool_call_fail         (Call               *call,
                                         GError             *error);
void       mproc_pool_call_chunk_done   (Call               *call,
                                         guint               index,
                                         guint               len,
                                         GVariant           *result,
                                         GError             *error);
void       mproc_pool_fail_chunks       (GQueue             *chunks,
                                         MprocError          code,
                                         const char         *message);
GVariant  *mproc_pool_call_chunk_value  (Call               *call,
                                         guint               c);
GVariant  *mproc_pool_call_build_result (Call               *call);
GVariant  *mproc_pool_call_slice        (Call               *call,
                                         Chunk              *chunk);
void       mproc_pool_call_release      (Call               *call);

/* mproc-pool-workers.c */
gboolean   mproc_pool_worker_start      (MprocPool          *self,
                                         GError            **error);
void       mproc_pool_worker_free       (Worker             *w);
void       mproc_pool_remove_worker     (MprocPool          *self,
                                         Worker             *w);
void       mproc_pool_worker_send_chunk (Worker             *w,
                                         Chunk              *chunk);
void       mproc_pool_worker_flush      (Worker             *w);
void       mproc_pool_worker_read       (Worker             *w);
void       mproc_pool_worker_died       (Worker             *w);
void       mproc_pool_cancel_running    (MprocPool          *self,
                                         Call               *call);

/* mproc-pool-schedule.c */
void       mproc_pool_submit            (MprocPool          *self,
                                         Call               *call);
void       mproc_pool_count_load        (MprocPool          *self,
                                         guint              *n_busy,
                                         guint              *n_queued);
void       mproc_pool_dispatch          (MprocPool          *self);
void       mproc_pool_check_idle        (MprocPool          *self);
gint64     mproc_pool_check_timeouts    (MprocPool          *self,
                                         gint64              now);
void       mproc_pool_arm_timeouts      (MprocPool          *self);
gboolean   mproc_pool_notify_cb         (gpointer            user_data);
void       mproc_pool_schedule_notify   (MprocPool          *self);

/* mproc-pool-wait.c */
gboolean   mproc_pool_wait              (MprocPool          *self,
                                         PoolDone            done,
                                         gpointer            data,
                                         gint64              timeout_usec,
                                         GCancellable       *cancellable,
                                         GError            **error);
GVariant  *mproc_pool_run_sync          (MprocPool          *self,
                                         Call               *call,
                                         GCancellable       *cancellable,
                                         GError            **error);

/* mproc-pool-shm.c */
gboolean   mproc_pool_worker_send_files (Worker             *w,
                                         Call               *call,
                                         GError            **error);
void       mproc_pool_release_files     (MprocPool          *self);
void       mproc_pool_call_return_fd_result (Call           *call,
                                             GTask          *task);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, mproc_pool_call_unref)

G_END_DECLS
