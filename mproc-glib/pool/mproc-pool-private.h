/* mproc-pool-private.h: what the pool and its workers share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each worker is a process started with the built-in target
 * MPROC_POOL_WORKER_TARGET and one MprocPoolChannel: its end of a
 * socketpair(AF_UNIX, SOCK_STREAM) whose other end the pool keeps.  Both
 * directions carry frames: a 16-byte PoolFrame header, then the payload
 * padded to 8 bytes (so a payload read into an 8-aligned buffer stays
 * aligned).  The pool writes TASK frames (one chunk of one call, or one
 * apply) without blocking, as many as the worker's window allows; the
 * worker runs them in order and answers each with one RESULT or ERROR frame
 * as soon as it is done, so the pool always knows which chunk a dead worker
 * was running: the oldest one it has not answered.
 *
 * A payload is a typed value laid out so that neither side needs to build
 * a GVariant tree to send it: a name and a type string (each with its NUL,
 * lengths first), padding to 8, then the serialised value, so a chunk of a
 * packed array (`ax`) is one memcpy on each side:
 *
 *   guint32 name_len; guint32 type_len; name; type; pad; data
 *
 *   TASK    name = target, value = an array of items (a chunk)
 *   APPLY   name = target, value = the argument itself
 *   STOP    empty: finish and exit
 *   RESULT  no name, value = the array of results (or the apply's result)
 *   ERROR   no name, value "(sis)": error domain (quark string), code, message
 *
 * The fast path for packed arrays in memory files (mproc_pool_map_fd_async):
 * the items and the results never travel on the socket.  The pool sends a
 * worker the call's two memfds once (FILES, with SCM_RIGHTS on its first
 * byte: the input, then the output), then TASK_FD frames whose value is a
 * PoolFdTask; the worker pread()s its items, runs the target and, when the
 * results are a packed array of the items' element size, pwrite()s them in
 * place and answers INPLACE (name none, type = the results' type, no data);
 * any other result comes back as a RESULT.  RELEASE closes a call's memfds
 * in the worker once the call is over.  No one maps them: nothing to
 * unmap when a worker dies, and the pool can seal the output.
 *
 *   FILES    empty, seq = the call's file id; 2 fds ride along
 *   TASK_FD  name = target, type = the items' array type, value PoolFdTask
 *   INPLACE  no name, type = the results' array type, no data
 *   RELEASE  empty, seq = the call's file id
 *
 * A worker exits after maxtasksperchild TASK frames (counted as Python
 * counts tasks: one per chunk), on STOP, and on end-of-file; the pool never
 * sends it more than its quota.
 *
 * Both sides use mproc-pool-frame.c (frames, payloads, errors),
 * mproc-pool-channel.c (the worker's socket) and mproc-pool-registry.c
 * (the targets); mproc-pool-worker.c is the worker process, and
 * mproc-pool-parent-private.h lists the pool's own files.
 */

#pragma once

#include <gio/gio.h>

#include "mproc-pool.h"
#include "mproc-process.h"

G_BEGIN_DECLS

#define MPROC_POOL_WORKER_TARGET "mproc-pool-worker"

typedef struct
{
  guint32 size;        /* payload bytes, padding excluded */
  guint32 kind;        /* PoolFrameKind */
  guint32 seq;         /* TASK: the pool's number; RESULT/ERROR: the same */
  guint32 exec_usec;   /* RESULT/ERROR: how long the target ran */
} PoolFrame;

G_STATIC_ASSERT (sizeof (PoolFrame) == 16);

typedef enum
{
  POOL_FRAME_TASK = 1,
  POOL_FRAME_APPLY,
  POOL_FRAME_STOP,
  POOL_FRAME_RESULT,
  POOL_FRAME_ERROR,
  POOL_FRAME_FILES,
  POOL_FRAME_TASK_FD,
  POOL_FRAME_INPLACE,
  POOL_FRAME_RELEASE,
} PoolFrameKind;

/* The value of a TASK_FD frame (stored as "ay" bytes). */
typedef struct
{
  guint32 file_id;     /* as in the FILES frame */
  guint32 n_items;
  guint64 offset;      /* of the first item and of its result, in bytes */
} PoolFdTask;

G_STATIC_ASSERT (sizeof (PoolFdTask) == 16);

/* Appends one frame to @out.  The value is @value, or @type + @data. */
void     mproc_pool_append_frame  (GByteArray     *out,
                                   guint32         kind,
                                   guint32         seq,
                                   guint32         exec_usec,
                                   const char     *name,
                                   GVariant       *value,
                                   const char     *type,
                                   gconstpointer   data,
                                   gsize           data_size);
/* Splits a payload; FALSE if it is malformed.  @type is a valid type string. */
gboolean mproc_pool_parse_payload (const guint8   *payload,
                                   gsize           size,
                                   const char    **name,
                                   const char    **type,
                                   const guint8  **data,
                                   gsize          *data_size);
/* The size of the elements of a packed array type ("ax"…), else 0. */
gsize    mproc_pool_packed_size   (const char     *type_string);

#define POOL_FRAME_PAD(size) (((gsize) (size) + 7) & ~(gsize) 7)
/* Frames larger than this are refused as garbage. */
#define POOL_FRAME_MAX_SIZE ((gsize) 1 << 31)

/* Maps @target over the packed array of @type_string (`ax`, `ad`…) that
 * starts the memfd @items_fd (not taken) and takes @size bytes, the
 * workers reading and writing the memfds themselves.  With @results_fd -1
 * the results come as a new memfd, sealed, when they all are a packed
 * array of the items' element size, else as a value; with a memfd of the
 * caller's (not taken) they are written at its start, and the call fails
 * with MPROC_ERROR_INVALID_MESSAGE if they do not fit so. */
void     mproc_pool_map_fd_async  (MprocPool              *self,
                                   const char             *target,
                                   const char             *type_string,
                                   int                     items_fd,
                                   gsize                   size,
                                   int                     results_fd,
                                   GCancellable           *cancellable,
                                   MprocPoolProgressFunc   progress_func,
                                   gpointer                progress_data,
                                   GDestroyNotify          progress_notify,
                                   GAsyncReadyCallback     callback,
                                   gpointer                user_data);
/* *results_type and *results_fd (a new memfd), or *results_value, or, for
 * a @results_fd of the caller's, *results_type alone. */
gboolean mproc_pool_map_fd_finish (MprocPool              *self,
                                   GAsyncResult           *result,
                                   int                    *results_fd,
                                   char                  **results_type,
                                   GVariant              **results_value,
                                   GError                **error);

/* A source that runs its callback at its ready time, once per
 * g_source_set_ready_time() (mproc-pool-schedule.c). */
extern GSourceFuncs mproc_pool_ready_source_funcs;

/* The worker end of a pool's socket, handed to the worker process.  The
 * type is registered by mproc_register_task() and friends, which spawned
 * children run before mproc_init() like the parent. */
#define MPROC_TYPE_POOL_CHANNEL (mproc_pool_channel_get_type ())
G_DECLARE_FINAL_TYPE (MprocPoolChannel, mproc_pool_channel, MPROC, POOL_CHANNEL, GObject)

MprocPoolChannel *mproc_pool_channel_new       (int               fd,
                                                int               peer_fd,
                                                int               cancel_fd,
                                                int               cancel_peer_fd);
/* The read end of the pipe on which the pool writes the seq (a guint32)
 * of each task it cancels, -1 once closed in the parent. */
int               mproc_pool_channel_get_cancel_fd (MprocPoolChannel *self);
/* The worker's fd (-1 once closed in the parent). */
int               mproc_pool_channel_get_fd    (MprocPoolChannel *self);
/* In the parent, after the worker has started: close the worker's end. */
void              mproc_pool_channel_close_fd  (MprocPoolChannel *self);
/* In a forked worker: close the pool's end (its death must read as EOF). */
void              mproc_pool_channel_close_peer_fd (MprocPoolChannel *self);

/* The task registry (mproc_register_task()): %FALSE if @name is unknown. */
gboolean          mproc_pool_lookup_task       (const char       *name,
                                                MprocTaskFunc    *item_func,
                                                MprocChunkFunc   *chunk_func,
                                                gpointer         *user_data);

/* The names of the registered pool targets, sorted. */
char            **mproc_pool_dup_task_names    (void);

/* The built-in target of every pool worker (mproc-main.c). Args: "(smvuibt)":
 * initializer ("" for none), its argument, maxtasksperchild (0 = none),
 * nice increment, SCHED_IDLE, memory limit in bytes (0 = none). */
int               mproc_pool_worker_main       (MprocProcess     *process,
                                                GVariant         *args,
                                                gpointer          user_data);

/* Builds a GError from an ERROR payload / the other way round. */
GError           *mproc_pool_error_from_variant (GVariant        *value);
GVariant         *mproc_pool_error_to_variant   (const GError    *error);

/* Whether a GVariant read from a peer may be used: normal form, checked in
 * time linear in its size without a call per element of fixed-width arrays. */
gboolean          mproc_pool_variant_is_valid   (GVariant        *value);

G_END_DECLS
