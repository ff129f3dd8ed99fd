/* mproc-ring-ops-private.h: what the parts of the message ring share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * mproc-ring.c holds the shared layout, the locks and the steps that
 * write and read records (MprocWaitCheck functions: as much progress as
 * can be made without waiting); mproc-ring-drive.c drives them: sync
 * waits, async waits, JoinableQueue and the "readable" GSource.  See
 * mproc-ring-private.h for the design.
 */

#pragma once

#include "mproc-ring-private.h"

G_BEGIN_DECLS

#define RING_MAGIC      0x474e4952u   /* "RING" */
#define RING_VERSION    2u
#define HEADER_SIZE     512           /* RingShared, rounded up */
#define REC_HDR         8
#define OOL_HDR         16            /* SPILL: position (8), length (8); MEMFD: length (8), 0 (8) */
/* A holder seen for this long is checked for life, at most this often. */
#define DEAD_CHECK_USEC (50 * 1000)
/* Sliced waits re-check locks and hang-ups this often. */
#define SLICE_USEC      (100 * 1000)
/* Records larger than this fraction of the ring go out of line (the body
 * in the spill file or a memfd); smaller ones skip to the start of the
 * ring (a PAD record) when they do not fit before the wrap. */
#define INLINE_DIVISOR  2
/* Messages up to this size are copied by a sync get into a buffer on the
 * stack and decoded from there (no heap copy, no GBytes). */
#define SMALL_COPY      256
/* Out-of-line bodies are written and read in pieces of this size, with
 * the timeout and the cancellable checked in between. */
#define OOL_PIECE       (8 * 1024 * 1024)

enum
{
  KIND_SINGLE = 0x51,
  KIND_PAD    = 0x55,
  KIND_SPILL  = 0x56,   /* body in the ring's spill file */
  KIND_MEMFD  = 0x57,   /* body in a sealed memfd, the last fd of the record */
};

typedef struct
{
  guint32 magic;
  guint32 version;
  guint64 capacity;
  guint32 maxsize;
  guint32 flags;
  guint8  _pad0[64 - 24];

  /* producer side */
  guint64 wlock;           /* holder: mproc_ring_owner_self(), 0 when free */
  guint64 head;
  guint64 n_put;
  guint64 pending;         /* joinable: head a commit is about to publish */
  guint64 spill_head;      /* next free position of the spill file */
  guint8  _pad1[64 - 40];

  /* consumer side */
  guint64 rlock;
  guint64 tail;
  guint64 n_got;
  /* The count of the record being taken, as it will be (j_ngot) and the
   * tail it is taken at (j_tail), written before n_got and tail: a
   * consumer that takes over the lock of a dead one undoes a count whose
   * tail never moved (see ring_recover_rlock()). */
  guint64 j_tail;
  guint64 j_ngot;
  guint64 spill_tail;      /* the spill file is free below this position */
  guint8  _pad2[64 - 48];

  guint32 unfinished;      /* joinable: put and not task_done() */
  guint32 _pad3;
  guint8  _pad4[64 - 8];

  /* data_waiters / space_waiters: threads (or async sources) about to
   * wait, or waiting, on wait_data / wait_space.  A state change wakes the
   * wait point only when its count is non-zero, so that a queue nobody
   * waits on costs no shared write besides head / tail (see ring_wake()). */
  MprocWaitShared wait_data;
  guint32 data_waiters;
  guint32 rlock_waiters;   /* consumers that found the read lock held */
  guint8  _pad5[64 - 24];
  MprocWaitShared wait_space;
  guint32 space_waiters;
  guint32 wlock_waiters;   /* producers that found the write lock held */
  guint8  _pad6[64 - 24];
  MprocWaitShared wait_done;
} RingShared;

G_STATIC_ASSERT (sizeof (RingShared) <= HEADER_SIZE);

struct _MprocRing
{
  MprocShm       *shm;
  RingShared     *sh;
  guint8         *data;
  guint64         capacity;   /* read once, validated */
  guint64         mask;
  guint32         maxsize;
  gboolean        joinable;
  int             event_fd;
  int             spill_fd;   /* queues: the spill file; else -1 */
  GMutex          mutex;      /* rebuilding the wait points after fork */
  guint           generation;
  guint64         owner;      /* this process in the lock words */
  MprocWaitPoint *wp_data;
  MprocWaitPoint *wp_space;
  MprocWaitPoint *wp_done;

  /* Last values seen of the other side's position; read and written only
   * while holding the write lock (seen_tail) or the read lock (seen_head),
   * whose acquire/release orders them between threads.  Both positions
   * only grow, so a value seen is a lower bound of the current one: a
   * producer that finds room below seen_tail, or a consumer that finds
   * records below seen_head, need not touch the other side's cache line.
   * Decisions that need the exact value (no room, no data, validation)
   * re-read the shared one. */
  guint64         seen_tail;
  guint64         seen_head;
};

#define ALIGN8(x) (((x) + 7) & ~(guint64) 7)
#define REC_SIZE(len) (REC_HDR + ALIGN8 ((guint64) (len)))

/* ------------------------------------------------------------------------ */
/* Wake-ups only for waiters                                                */

/* Whoever changes the state (head, tail) publishes it, then calls this:
 * the fence orders the publication before the read of the count, and a
 * waiter counts itself (ring_waiter_add) before its check reads the state,
 * so either we see its count and wake the wait point, or its check sees
 * the new state (Dekker, as in the wait point itself). */
static inline void
ring_wake (guint32        *waiters,
           MprocWaitPoint *wp)
{
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (__atomic_load_n (waiters, __ATOMIC_RELAXED) != 0)
    mproc_wait_point_wake (wp, G_MAXINT);
}

static inline void
ring_waiter_add (guint32 *waiters)
{
  __atomic_add_fetch (waiters, 1, __ATOMIC_SEQ_CST);
  __atomic_thread_fence (__ATOMIC_SEQ_CST);
}

static inline void
ring_waiter_remove (guint32 *waiters)
{
  /* A count corrupted to 0 only costs extra wake-ups: do not wrap. */
  guint32 old = __atomic_load_n (waiters, __ATOMIC_RELAXED);

  while (old > 0 && !__atomic_compare_exchange_n (waiters, &old, old - 1, FALSE,
                                                  __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
    ;
}

typedef struct
{
  guint64 owner;       /* holder last seen */
  gint64  since;       /* when first seen */
  gint64  last_check;
} LockWatch;

typedef struct
{
  MprocRing    *ring;
  GVariant     *value;      /* to store in place boxed in a "v", or NULL */
  const char   *type;       /* its type string, @type_len bytes */
  gsize         type_len;
  gsize         value_size;
  gboolean      own_value;  /* else borrowed from a sync caller */
  gboolean      is_fixed;   /* a fixed-size basic value, read into @fixed */
  guint64       fixed;
  GBytes       *bytes;      /* the message bytes (serialised lazily for value) */
  const guint8 *data;
  gsize         size;
  int           sock;
  gboolean      own_sock;
  int          *fds;
  guint         n_fds;

  gint64        deadline;     /* an out-of-line body is written until then */
  GCancellable *cancellable;  /* ... or until this is cancelled */

  gboolean      holding;
  gboolean      full;       /* last failure: no room (not lock contention) */
  gboolean      hup;
  LockWatch     watch;
  gboolean      lock_counted;   /* in wlock_waiters */
} PutOp;

typedef struct
{
  MprocRing *ring;
  int        sock;
  gboolean   own_sock;
  GArray    *fds;         /* received fds, or NULL to close them */
  gboolean   peek;        /* poll(): only wait for data or hang-up */
  gboolean   want_copy;   /* a small SINGLE message goes to @small */

  gboolean   holding;
  gboolean   hup;
  GBytes    *result;
  LockWatch  watch;
  gboolean   got_small;   /* the message is in @small, @small_len bytes */
  guint32    small_len;
  guint64    small[SMALL_COPY / 8];
  gboolean   lock_counted;   /* in rlock_waiters */
} GetOp;

void     mproc_ring_ensure          (MprocRing  *ring);

/* What this process writes into a lock word it takes. */
guint64  mproc_ring_owner_self      (void);
/* Whether the holder @owner of a lock word is gone: no such process, a
 * zombie, or its pid now names a process that started at another time. */
gboolean mproc_ring_owner_is_dead   (guint64     owner);

void     mproc_ring_put_op_init     (PutOp      *op,
                                     MprocRing  *ring,
                                     GVariant   *value,
                                     GBytes     *bytes,
                                     int         sock,
                                     const int  *fds,
                                     guint       n_fds,
                                     gboolean    borrow);
PutOp   *mproc_ring_put_op_new      (MprocRing  *ring,
                                     GVariant   *value,
                                     GBytes     *bytes,
                                     int         sock,
                                     const int  *fds,
                                     guint       n_fds);
void     mproc_ring_put_op_clear    (PutOp      *op);
void     mproc_ring_put_op_free     (PutOp      *op);
void     mproc_ring_put_op_release  (PutOp      *op);
gboolean mproc_ring_put_step        (gpointer    user_data,
                                     GError    **error);

void     mproc_ring_get_op_clear    (GetOp      *op);
void     mproc_ring_get_op_free     (GetOp      *op);
void     mproc_ring_get_op_release  (GetOp      *op);
gboolean mproc_ring_get_step        (gpointer    user_data,
                                     GError    **error);
/* Moves the fds of @from to the end of @to (which owns them afterwards). */
void     mproc_ring_move_fds        (GArray     *from,
                                     GArray     *to);

G_END_DECLS
