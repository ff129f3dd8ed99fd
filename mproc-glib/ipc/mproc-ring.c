/* mproc-ring.c: the shared-memory message ring of queues and pipes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-ring-private.h for the design.  Memory ordering: the holder of
 * the write lock is the only writer of head, n_put and pending; the holder
 * of the read lock the only writer of tail and n_got.  Record bytes are
 * published by the release store of head and consumed after an acquire
 * load of it; space is handed back by the release store of tail.
 */

#include "config.h"

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-futex-private.h"
#include "mproc-i18n-private.h"
#include "mproc-ring-body-private.h"
#include "mproc-ring-private.h"
#include "mproc-runtime-private.h"
#include "mproc-wire-private.h"

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

static guint64 owner_self (void);

static MprocRingFaultHook fault_hook;

static inline void
ring_fault (MprocRingFault point)
{
  if (G_UNLIKELY (fault_hook != NULL))
    fault_hook (point);
}

void
mproc_ring_fault (MprocRingFault point)
{
  ring_fault (point);
}

void
mproc_ring_set_fault_hook (MprocRingFaultHook hook)
{
  fault_hook = hook;
}

#define ALIGN8(x) (((x) + 7) & ~(guint64) 7)
#define REC_SIZE(len) (REC_HDR + ALIGN8 ((guint64) (len)))

/* ------------------------------------------------------------------------ */
/* Set-up                                                                   */

gsize
mproc_ring_shm_size (gsize capacity)
{
  return HEADER_SIZE + capacity;
}

void
mproc_ring_init_shared (MprocShm      *shm,
                        gsize          offset,
                        gsize          capacity,
                        guint          maxsize,
                        MprocRingFlags flags)
{
  RingShared *sh = (RingShared *) ((guint8 *) mproc_shm_get_data (shm) + offset);

  g_assert (capacity >= 4096 && (capacity & (capacity - 1)) == 0);
  g_assert (offset + mproc_ring_shm_size (capacity) <= mproc_shm_get_size (shm));

  sh->magic = RING_MAGIC;
  sh->version = RING_VERSION;
  sh->capacity = capacity;
  sh->maxsize = maxsize;
  sh->flags = flags;
}

static gboolean
make_wait_points (MprocRing  *ring,
                  GError    **error)
{
  MprocWaitPoint *wps[3] = { NULL, };
  MprocWaitShared *shared[3] = { &ring->sh->wait_data, &ring->sh->wait_space, &ring->sh->wait_done };

  for (guint i = 0; i < 3; i++)
    {
      int fd = fcntl (ring->event_fd, F_DUPFD_CLOEXEC, 3);

      if (fd < 0)
        {
          int errsv = errno;

          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
        }
      else
        wps[i] = mproc_wait_point_new (shared[i], fd, error);

      if (wps[i] == NULL)
        {
          for (guint j = 0; j < i; j++)
            mproc_wait_point_free (wps[j]);
          return FALSE;
        }
    }

  /* Inherited handles only close their fds. */
  mproc_wait_point_free (ring->wp_data);
  mproc_wait_point_free (ring->wp_space);
  mproc_wait_point_free (ring->wp_done);
  ring->wp_data = wps[0];
  ring->wp_space = wps[1];
  ring->wp_done = wps[2];
  ring->owner = owner_self ();
  return TRUE;
}

MprocRing *
mproc_ring_new (MprocShm  *shm,
                gsize      offset,
                int        event_fd,
                GError   **error)
{
  MprocRing *ring;
  RingShared *sh;
  guint64 capacity;

  if (offset + HEADER_SIZE > mproc_shm_get_size (shm))
    goto invalid;

  sh = (RingShared *) ((guint8 *) mproc_shm_get_data (shm) + offset);
  capacity = __atomic_load_n (&sh->capacity, __ATOMIC_ACQUIRE);
  if (sh->magic != RING_MAGIC || sh->version != RING_VERSION ||
      capacity < 4096 || (capacity & (capacity - 1)) != 0 ||
      capacity > mproc_shm_get_size (shm) - offset - HEADER_SIZE)
    goto invalid;

  ring = g_new0 (MprocRing, 1);
  ring->shm = mproc_shm_ref (shm);
  ring->sh = sh;
  ring->data = (guint8 *) sh + HEADER_SIZE;
  ring->capacity = capacity;
  ring->mask = capacity - 1;
  ring->maxsize = sh->maxsize;
  ring->joinable = (sh->flags & MPROC_RING_JOINABLE) != 0;
  g_mutex_init (&ring->mutex);
  ring->event_fd = fcntl (event_fd, F_DUPFD_CLOEXEC, 3);
  ring->spill_fd = -1;
  ring->generation = mproc_runtime_get_fork_generation ();

  if (ring->event_fd < 0 || !make_wait_points (ring, error))
    {
      if (ring->event_fd < 0)
        {
          int errsv = errno;

          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
        }
      mproc_ring_free (ring);
      return NULL;
    }

  return ring;

invalid:
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received shared memory that does not hold a message ring"));
  return NULL;
}

void
mproc_ring_free (MprocRing *ring)
{
  if (ring == NULL)
    return;

  mproc_wait_point_free (ring->wp_data);
  mproc_wait_point_free (ring->wp_space);
  mproc_wait_point_free (ring->wp_done);
  mproc_clear_fd (&ring->event_fd);
  mproc_clear_fd (&ring->spill_fd);
  g_clear_pointer (&ring->shm, mproc_shm_unref);
  g_mutex_clear (&ring->mutex);
  g_free (ring);
}

gboolean
mproc_ring_set_spill_fd (MprocRing  *ring,
                         int         spill_fd,
                         GError    **error)
{
  int fd = fcntl (spill_fd, F_DUPFD_CLOEXEC, 3);

  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("Failed to duplicate a file descriptor: %s"), g_strerror (errsv));
      return FALSE;
    }
  mproc_clear_fd (&ring->spill_fd);
  ring->spill_fd = fd;
  return TRUE;
}

/* A handle inherited through fork() has inert wait points and the
 * parent's pid: make our own, once, on first use. */
static inline void
ring_ensure (MprocRing *ring)
{
  guint generation = mproc_runtime_get_fork_generation ();

  if (G_LIKELY ((guint) g_atomic_int_get (&ring->generation) == generation))
    return;

  g_mutex_lock (&ring->mutex);
  if (ring->generation != generation)
    {
      g_autoptr(GError) error = NULL;

      if (!make_wait_points (ring, &error))
        g_error ("Cannot rebuild a message ring after fork: %s", error->message);
      g_atomic_int_set (&ring->generation, generation);
    }
  g_mutex_unlock (&ring->mutex);
}

guint
mproc_ring_get_maxsize (MprocRing *ring)
{
  return ring->maxsize;
}

gsize
mproc_ring_get_capacity (MprocRing *ring)
{
  return ring->capacity;
}

gboolean
mproc_ring_is_joinable (MprocRing *ring)
{
  return ring->joinable;
}

guint
mproc_ring_get_qsize (MprocRing *ring)
{
  guint64 got = __atomic_load_n (&ring->sh->n_got, __ATOMIC_ACQUIRE);
  guint64 put = __atomic_load_n (&ring->sh->n_put, __ATOMIC_ACQUIRE);

  return put > got ? (guint) MIN (put - got, G_MAXUINT) : 0;
}

gboolean
mproc_ring_has_data (MprocRing *ring)
{
  return __atomic_load_n (&ring->sh->head, __ATOMIC_ACQUIRE) !=
         __atomic_load_n (&ring->sh->tail, __ATOMIC_ACQUIRE);
}

gboolean
mproc_ring_is_full (MprocRing *ring)
{
  guint64 head = __atomic_load_n (&ring->sh->head, __ATOMIC_ACQUIRE);
  guint64 tail = __atomic_load_n (&ring->sh->tail, __ATOMIC_ACQUIRE);

  if (ring->maxsize > 0 && mproc_ring_get_qsize (ring) >= ring->maxsize)
    return TRUE;
  return head - tail + 64 > ring->capacity;
}

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

/* ------------------------------------------------------------------------ */
/* Locks that survive their holder                                          */

typedef struct
{
  guint64 owner;       /* holder last seen */
  gint64  since;       /* when first seen */
  gint64  last_check;
} LockWatch;

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
static guint64
owner_self (void)
{
  guint64 start = 0;
  pid_t pid = getpid ();

  if (!proc_start_time (pid, &start))
    start = 0;   /* no /proc: fall back to the pid alone */
  return (guint64) (guint32) pid | ((guint64) (guint32) start << 32);
}

/* Whether the holder @owner is gone: no such process, a zombie (it holds
 * nothing), or its pid now names a process that started at another time. */
static gboolean
owner_is_dead (guint64 owner)
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

/* Throttled: TRUE only once @owner has been seen holding for a while and
 * turns out to be dead. */
static gboolean
watch_owner_dead (MprocRing *ring,
                  LockWatch *watch,
                  guint64    owner)
{
  gint64 now = g_get_monotonic_time ();

  if (owner != watch->owner)
    {
      watch->owner = owner;
      watch->since = now;
      watch->last_check = now;
      return FALSE;
    }
  if (now - watch->last_check < DEAD_CHECK_USEC)
    return FALSE;
  watch->last_check = now;
  if (owner == ring->owner)
    return FALSE;   /* another thread of ours */
  return owner_is_dead (owner);
}

static void
ring_recover_wlock (MprocRing *ring)
{
  RingShared *sh = ring->sh;
  guint64 pending = __atomic_load_n (&sh->pending, __ATOMIC_ACQUIRE);

  /* The dead producer had counted a task whose record it never published. */
  if (pending != 0 && __atomic_load_n (&sh->head, __ATOMIC_ACQUIRE) != pending)
    {
      guint32 old = __atomic_load_n (&sh->unfinished, __ATOMIC_ACQUIRE);

      while (old > 0 && !__atomic_compare_exchange_n (&sh->unfinished, &old, old - 1, FALSE,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        ;
      if (old == 1)
        mproc_wait_point_wake (ring->wp_done, G_MAXINT);
    }
  __atomic_store_n (&sh->pending, 0, __ATOMIC_RELEASE);
}

/* A consumer died holding the read lock: a record it counted (n_got)
 * without moving the tail past it is still there for the next one, so
 * the count is undone. */
static void
ring_recover_rlock (MprocRing *ring)
{
  RingShared *sh = ring->sh;
  guint64 j_ngot = __atomic_load_n (&sh->j_ngot, __ATOMIC_ACQUIRE);

  if (j_ngot != 0 &&
      __atomic_load_n (&sh->j_tail, __ATOMIC_ACQUIRE) == __atomic_load_n (&sh->tail, __ATOMIC_ACQUIRE) &&
      __atomic_load_n (&sh->n_got, __ATOMIC_ACQUIRE) == j_ngot)
    __atomic_store_n (&sh->n_got, j_ngot - 1, __ATOMIC_RELEASE);
}

/* Tries to take @lock, and takes it over from a dead holder. */
static gboolean
ring_trylock (MprocRing *ring,
              guint64   *lock,
              LockWatch *watch,
              gboolean   is_write)
{
  guint64 me = ring->owner;
  guint64 old = __atomic_load_n (lock, __ATOMIC_RELAXED);

  /* No RMW on a lock seen held: waiters do not mark it (see ring_unlock). */
  if (G_LIKELY (old == 0) &&
      __atomic_compare_exchange_n (lock, &old, me, FALSE,
                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return TRUE;
  if (!watch_owner_dead (ring, watch, old))
    return FALSE;

  /* The holder died holding it: take it over. */
  if (!__atomic_compare_exchange_n (lock, &old, me, FALSE,
                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    return FALSE;
  if (is_write && ring->joinable)
    ring_recover_wlock (ring);
  else if (!is_write)
    ring_recover_rlock (ring);
  return TRUE;
}

/* A plain release store. Whoever found the lock held counts itself in
 * @lock_waiters (ring_lock_or_wait()) and waits on the wait point of its op
 * (a producer on wait_space, a consumer on wait_data): only they are woken.
 * Waking every waiter of the op's wait point instead would wake the holder
 * itself when it releases after finding nothing to do, and two idle ends
 * of a pipe would wake each other for ever. */
static void
ring_unlock (guint64        *lock,
             guint32        *lock_waiters,
             MprocWaitPoint *wp)
{
  __atomic_store_n (lock, 0, __ATOMIC_RELEASE);
  ring_wake (lock_waiters, wp);
}

/* Takes @lock, or counts the caller in @lock_waiters (once: *@counted) so
 * that the holder's ring_unlock() wakes it. After counting, tries once
 * more: the holder may have released before it could see the count. */
static gboolean
ring_lock_or_wait (MprocRing *ring,
                   guint64   *lock,
                   LockWatch *watch,
                   gboolean   is_write,
                   guint32   *lock_waiters,
                   gboolean  *counted)
{
  gboolean taken = ring_trylock (ring, lock, watch, is_write);

  if (!taken && !*counted)
    {
      ring_waiter_add (lock_waiters);
      *counted = TRUE;
      taken = ring_trylock (ring, lock, watch, is_write);
    }
  if (taken && *counted)
    {
      ring_waiter_remove (lock_waiters);
      *counted = FALSE;
    }
  return taken;
}

/* After a SINGLE record was published (or consumed) and the lock released:
 * one fence, then whichever side waits is woken.  Producers waiting for
 * the write lock are counted in space_waiters, consumers waiting for the
 * read lock in data_waiters. */
static void
ring_wake_both (MprocRing *ring)
{
  RingShared *sh = ring->sh;

  __atomic_thread_fence (__ATOMIC_SEQ_CST);
  if (__atomic_load_n (&sh->data_waiters, __ATOMIC_RELAXED) != 0)
    mproc_wait_point_wake (ring->wp_data, G_MAXINT);
  if (__atomic_load_n (&sh->space_waiters, __ATOMIC_RELAXED) != 0)
    mproc_wait_point_wake (ring->wp_space, G_MAXINT);
}

/* Positions that are misaligned or out of range are corruption (only a
 * sharer that wrote into the shared memory can cause them): the caller,
 * holding its lock (@holding_write says which), reports
 * %MPROC_ERROR_INVALID_MESSAGE and calls this to make the ring usable
 * again.  With both locks, everything visible is dropped; with only its
 * own, each side moves its own position forward to a sane one, and the
 * other side fixes the rest on its next step. */
static void
ring_realign (MprocRing *ring,
              gboolean   holding_write)
{
  RingShared *sh = ring->sh;
  guint64 *other = holding_write ? &sh->rlock : &sh->wlock;
  guint64 expected = 0;
  guint64 head = __atomic_load_n (&sh->head, __ATOMIC_ACQUIRE);
  guint64 tail = __atomic_load_n (&sh->tail, __ATOMIC_ACQUIRE);
  gboolean tail_ahead = (gint64) (tail - head) > 0;

  if (__atomic_compare_exchange_n (other, &expected, ring->owner, FALSE,
                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
    {
      guint64 pos = ALIGN8 (tail_ahead ? tail : head);

      __atomic_store_n (&sh->n_got, __atomic_load_n (&sh->n_put, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
      __atomic_store_n (&sh->head, pos, __ATOMIC_RELEASE);
      __atomic_store_n (&sh->tail, pos, __ATOMIC_RELEASE);
      ring->seen_head = ring->seen_tail = pos;
      if (holding_write)
        ring_unlock (&sh->rlock, &sh->rlock_waiters, ring->wp_data);
      else
        ring_unlock (&sh->wlock, &sh->wlock_waiters, ring->wp_space);
      ring_wake_both (ring);
      return;
    }

  if (holding_write)
    {
      if (tail_ahead)
        head = ALIGN8 (tail);
      else
        head = ALIGN8 (head);
      __atomic_store_n (&sh->head, head, __ATOMIC_RELEASE);
      ring->seen_tail = tail;
      /* a parked consumer re-checks, and fixes the tail */
      ring_wake (&sh->data_waiters, ring->wp_data);
    }
  else
    {
      if (!tail_ahead)
        {
          tail = ALIGN8 (head);
          __atomic_store_n (&sh->n_got, __atomic_load_n (&sh->n_put, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
        }
      else
        tail = ALIGN8 (tail);
      __atomic_store_n (&sh->tail, tail, __ATOMIC_RELEASE);
      ring->seen_head = head;
      ring_wake (&sh->space_waiters, ring->wp_space);
    }
}

static void
set_corrupt (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("The shared memory of the queue is corrupt"));
}

gboolean
mproc_ring_sock_hup (int sock)
{
  struct pollfd pfd = { sock, POLLRDHUP, 0 };

  if (sock < 0)
    return FALSE;
  while (poll (&pfd, 1, 0) < 0 && errno == EINTR)
    ;
  return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

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

static void
put_op_clear (PutOp *op)
{
  if (op->own_sock)
    mproc_clear_fd (&op->sock);
  if (op->own_value)
    g_clear_pointer (&op->value, g_variant_unref);
  g_clear_pointer (&op->bytes, g_bytes_unref);
  if (op->fds != NULL)
    {
      for (guint i = 0; i < op->n_fds; i++)
        mproc_clear_fd (&op->fds[i]);
      g_free (op->fds);
    }
}

static void
put_op_free (PutOp *op)
{
  put_op_clear (op);
  g_free (op);
}

/* A value of a fixed-size basic type is read with its getter (one lock of
 * the GVariant instead of two for get_size() + store()); a non-normal
 * serialised one (wrong size) reads as GLib's default, in normal form. */
static gboolean
read_fixed_basic (GVariant *value,
                  char      type,
                  guint64  *out,
                  gsize    *size)
{
  union { guint8 y; guint16 q; guint32 u; guint64 t; gdouble d; } v = { 0, };

  switch (type)
    {
    case 'y': v.y = g_variant_get_byte (value); *size = 1; break;
    case 'b': v.y = g_variant_get_boolean (value) ? 1 : 0; *size = 1; break;
    case 'n': v.q = (guint16) g_variant_get_int16 (value); *size = 2; break;
    case 'q': v.q = g_variant_get_uint16 (value); *size = 2; break;
    case 'i': v.u = (guint32) g_variant_get_int32 (value); *size = 4; break;
    case 'u': v.u = g_variant_get_uint32 (value); *size = 4; break;
    case 'h': v.u = (guint32) g_variant_get_handle (value); *size = 4; break;
    case 'x': v.t = (guint64) g_variant_get_int64 (value); *size = 8; break;
    case 't': v.t = g_variant_get_uint64 (value); *size = 8; break;
    case 'd': v.d = g_variant_get_double (value); *size = 8; break;
    default: return FALSE;
    }
  memcpy (out, &v, sizeof v);
  return TRUE;
}

/* @op is zeroed.  A sync put (@borrow) keeps no reference of its own to
 * a non-floating @value: the caller's lasts the whole call.  A floating
 * @value is consumed either way. */
static void
put_op_init (PutOp     *op,
             MprocRing *ring,
             GVariant  *value,
             GBytes    *bytes,
             int        sock,
             const int *fds,
             guint      n_fds,
             gboolean   borrow)
{
  op->ring = ring;
  op->sock = sock;
  if (value != NULL)
    {
      /* The serialised "v" is the value's own serialised form, a NUL and
       * its type string (no alignment padding: the child is at offset 0),
       * so it is written in place without building the boxed value. */
      if (!borrow)
        op->value = g_variant_ref_sink (value);
      else if (g_variant_is_floating (value))
        op->value = value;   /* ours to drop: unref frees a floating ref too */
      else
        op->value = NULL;
      op->own_value = op->value != NULL;
      op->value = value;
      op->type = g_variant_get_type_string (value);
      op->type_len = strlen (op->type);
      if (op->type_len == 1 && read_fixed_basic (value, op->type[0], &op->fixed, &op->value_size))
        op->is_fixed = TRUE;
      else
        op->value_size = g_variant_get_size (value);
      op->size = op->value_size + 1 + op->type_len;
    }
  else
    {
      op->bytes = g_bytes_ref (bytes);
      op->data = g_bytes_get_data (bytes, &op->size);
    }
  if (n_fds > 0)
    {
      /* dup()ed now: the caller may close its fds once the call returns */
      op->fds = g_new (int, n_fds);
      op->n_fds = n_fds;
      for (guint i = 0; i < n_fds; i++)
        op->fds[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, 3);
    }
}

static PutOp *
put_op_new (MprocRing *ring,
            GVariant  *value,
            GBytes    *bytes,
            int        sock,
            const int *fds,
            guint      n_fds)
{
  PutOp *op = g_new0 (PutOp, 1);

  put_op_init (op, ring, value, bytes, sock, fds, n_fds, FALSE);
  return op;
}

static inline void
write_header (guint8  *at,
              guint32  len,
              guint32  kind,
              guint32  n_fds)
{
  guint32 hdr[2] = { len, kind | (n_fds << 16) };

  memcpy (at, hdr, sizeof hdr);
}

static void
commit_nowake (MprocRing *ring,
               guint64    new_head,
               gboolean   counts)
{
  RingShared *sh = ring->sh;

  if (counts)
    {
      if (ring->joinable)
        {
          __atomic_store_n (&sh->pending, new_head, __ATOMIC_RELAXED);
          __atomic_add_fetch (&sh->unfinished, 1, __ATOMIC_SEQ_CST);
        }
      __atomic_store_n (&sh->n_put, sh->n_put + 1, __ATOMIC_RELEASE);
    }
  __atomic_store_n (&sh->head, new_head, __ATOMIC_RELEASE);
  if (counts && ring->joinable)
    __atomic_store_n (&sh->pending, 0, __ATOMIC_RELEASE);
}

static void
commit (MprocRing *ring,
        guint64    new_head,
        gboolean   counts)
{
  commit_nowake (ring, new_head, counts);
  ring_wake (&ring->sh->data_waiters, ring->wp_data);
}

/* Sends the message's fds, and @body (>= 0) after them, over the
 * connection's socket: before the record that announces them. */
static gboolean
send_fds (PutOp   *op,
          int      body,
          GError **error)
{
  g_autoptr(GBytes) empty = NULL;
  g_autofree int *all = NULL;
  guint n = op->n_fds + (body >= 0 ? 1 : 0);

  if (n == 0)
    return TRUE;
  if (op->sock < 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("File descriptors can only be sent over a connection"));
      return FALSE;
    }
  for (guint i = 0; i < op->n_fds; i++)
    if (op->fds[i] < 0)
      {
        g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                             _("Invalid file descriptor to send"));
        return FALSE;
      }
  if (n > MPROC_WIRE_MAX_FDS)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("Too many file descriptors in one message"));
      return FALSE;
    }
  all = g_new (int, n);
  if (op->n_fds > 0)
    memcpy (all, op->fds, op->n_fds * sizeof (int));
  if (body >= 0)
    all[op->n_fds] = body;
  empty = g_bytes_new_static ("", 0);
  return mproc_wire_send (op->sock, empty, all, n, NULL, error);
}

static void
put_op_release (PutOp *op)
{
  if (op->lock_counted)
    {
      ring_waiter_remove (&op->ring->sh->wlock_waiters);
      op->lock_counted = FALSE;
    }
  if (op->holding)
    {
      op->holding = FALSE;
      ring_unlock (&op->ring->sh->wlock, &op->ring->sh->wlock_waiters, op->ring->wp_space);
    }
}

/* The pieces of the serialised "v" of @op: the value's own serialised
 * form, a NUL and its type string (or the caller's bytes). */
static guint
put_op_iov (PutOp        *op,
            struct iovec  iov[3])
{
  if (op->value != NULL)
    {
      iov[0].iov_base = (gpointer) g_variant_get_data (op->value);
      iov[0].iov_len = op->value_size;
      iov[1].iov_base = (gpointer) "";
      iov[1].iov_len = 1;
      iov[2].iov_base = (gpointer) op->type;
      iov[2].iov_len = op->type_len;
      return 3;
    }
  iov[0].iov_base = (gpointer) op->data;
  iov[0].iov_len = op->size;
  return 1;
}

/* Writes a message too large for the ring out of line and publishes the
 * record that points at it at @off; the caller checked the room for the
 * record.  The write lock is held throughout, so that bodies in the spill
 * file are in the order of their records. */
static gboolean
put_out_of_line (PutOp    *op,
                 guint64   head,
                 guint64   off,
                 GError  **error)
{
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  guint8 *at = ring->data + off;
  struct iovec iov[3];
  guint n_iov = put_op_iov (op, iov);
  guint64 words[2];
  guint32 kind;
  guint n_fds = op->n_fds;
  guint64 spill_end = 0;

  if (ring->spill_fd >= 0)
    {
      guint64 pos = (__atomic_load_n (&sh->spill_head, __ATOMIC_RELAXED) + 4095) & ~(guint64) 4095;

      if (pos >= MPROC_RING_SPILL_LIMIT || op->size > MPROC_RING_SPILL_LIMIT - pos)
        pos = 0;   /* only a corrupt position gets here: start again */
      if (!mproc_ring_body_write (ring->spill_fd, pos, iov, n_iov, op->size,
                                  op->deadline, op->cancellable, NULL, error) ||
          !send_fds (op, -1, error))
        return FALSE;
      kind = KIND_SPILL;
      words[0] = pos;
      words[1] = op->size;
      spill_end = pos + op->size;
    }
  else if (op->sock >= 0)
    {
      MprocFd body = -1;
      gboolean sent;

      if (!mproc_ring_body_write (-1, 0, iov, n_iov, op->size,
                                  op->deadline, op->cancellable, &body, error))
        return FALSE;
      sent = send_fds (op, body, error);
      mproc_clear_fd (&body);
      if (!sent)
        return FALSE;
      kind = KIND_MEMFD;
      words[0] = op->size;
      words[1] = 0;
      n_fds++;
    }
  else
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                   _("A message of %llu bytes is too large for this channel"),
                   (unsigned long long) op->size);
      return FALSE;
    }

  write_header (at, OOL_HDR, kind, n_fds);
  memcpy (at + REC_HDR, words, sizeof words);
  if (spill_end != 0)
    __atomic_store_n (&sh->spill_head, spill_end, __ATOMIC_RELEASE);
  commit_nowake (ring, head + REC_SIZE (OOL_HDR), TRUE);
  op->holding = FALSE;
  __atomic_store_n (&sh->wlock, 0, __ATOMIC_RELEASE);
  ring_wake_both (ring);
  return TRUE;
}

/* MprocWaitCheck of writers: makes as much progress as it can. */
static gboolean
put_step (gpointer  user_data,
          GError  **error)
{
  PutOp *op = user_data;
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  guint64 cap = ring->capacity;
  gboolean inline_rec = REC_SIZE (op->size) <= cap / INLINE_DIVISOR;
  guint64 need = inline_rec ? REC_SIZE (op->size) : REC_SIZE (OOL_HDR);

  op->full = FALSE;
  if (!op->holding)
    {
      if (!ring_lock_or_wait (ring, &sh->wlock, &op->watch, TRUE,
                              &sh->wlock_waiters, &op->lock_counted))
        return FALSE;
      op->holding = TRUE;
    }

  for (;;)
    {
      guint64 head = __atomic_load_n (&sh->head, __ATOMIC_RELAXED);
      guint64 tail = ring->seen_tail;
      guint64 used = head - tail;
      guint64 off, room, contig;

      /* The tail seen last is enough when it leaves room for the record;
       * anything else is decided on the current one. */
      if (used > cap || need > MIN (cap - used, cap - (head & ring->mask)))
        {
          tail = __atomic_load_n (&sh->tail, __ATOMIC_ACQUIRE);
          ring->seen_tail = tail;
          used = head - tail;
        }

      if (used > cap || (head & 7) != 0 || (tail & 7) != 0)
        {
          ring_realign (ring, TRUE);
          put_op_release (op);
          set_corrupt (error);
          return FALSE;
        }
      off = head & ring->mask;
      room = cap - used;
      contig = MIN (room, cap - off);

      if (ring->maxsize > 0 && mproc_ring_get_qsize (ring) >= ring->maxsize)
        break;

      if (need <= contig)
        {
          guint8 *at = ring->data + off;

          if (!inline_rec)
            {
              if (put_out_of_line (op, head, off, error))
                return TRUE;
              put_op_release (op);
              return FALSE;
            }
          if (!send_fds (op, -1, error))
            {
              put_op_release (op);
              return FALSE;
            }
          write_header (at, (guint32) op->size, KIND_SINGLE, op->n_fds);
          if (op->is_fixed)
            {
              memcpy (at + REC_HDR, &op->fixed, op->value_size);
              at[REC_HDR + op->value_size] = '\0';
              at[REC_HDR + op->value_size + 1] = (guint8) op->type[0];
            }
          else if (op->value != NULL)
            {
              g_variant_store (op->value, at + REC_HDR);
              at[REC_HDR + op->value_size] = '\0';
              memcpy (at + REC_HDR + op->value_size + 1, op->type, op->type_len);
            }
          else if (op->size > 0)
            memcpy (at + REC_HDR, op->data, op->size);
          /* publish, unlock, then one fence for both wake-ups */
          commit_nowake (ring, head + need, TRUE);
          op->holding = FALSE;
          __atomic_store_n (&sh->wlock, 0, __ATOMIC_RELEASE);
          ring_wake_both (ring);
          return TRUE;
        }

      if (contig == room)
        break;
      /* skip to the start of the ring: a record never wraps */
      write_header (ring->data + off, (guint32) (contig - REC_HDR), KIND_PAD, 0);
      commit (ring, head + contig, FALSE);
    }

  op->full = TRUE;
  put_op_release (op);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

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

/* A counted message the reader could not deliver (no memory, a malformed
 * body) will never be task_done() by anyone. */
static void
ring_forget_task (MprocRing *ring)
{
  guint32 old;

  if (!ring->joinable)
    return;
  old = __atomic_load_n (&ring->sh->unfinished, __ATOMIC_ACQUIRE);
  while (old > 0 && !__atomic_compare_exchange_n (&ring->sh->unfinished, &old, old - 1, FALSE,
                                                  __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
    ;
  if (old == 1)
    mproc_wait_point_wake (ring->wp_done, G_MAXINT);
}

static void
get_op_release (GetOp *op)
{
  if (op->lock_counted)
    {
      ring_waiter_remove (&op->ring->sh->rlock_waiters);
      op->lock_counted = FALSE;
    }
  if (op->holding)
    {
      op->holding = FALSE;
      ring_unlock (&op->ring->sh->rlock, &op->ring->sh->rlock_waiters, op->ring->wp_data);
    }
}

static void
get_op_clear (GetOp *op)
{
  get_op_release (op);
  g_clear_pointer (&op->result, g_bytes_unref);
  if (op->fds != NULL)
    g_array_unref (op->fds);
  if (op->own_sock)
    mproc_clear_fd (&op->sock);
}

static void
get_op_free (GetOp *op)
{
  get_op_clear (op);
  g_free (op);
}

static void
advance_tail (MprocRing *ring,
              guint64    tail)
{
  __atomic_store_n (&ring->sh->tail, tail, __ATOMIC_RELEASE);
  ring_wake (&ring->sh->space_waiters, ring->wp_space);
}

/* Counts the message of the record at @tail as got, without waking
 * anyone yet.  The journal (j_tail, j_ngot) goes first, so that whoever
 * takes the lock over from us, should we die before the tail moves,
 * undoes the count (ring_recover_rlock()). */
static void
count_got (MprocRing *ring,
           guint64    tail)
{
  RingShared *sh = ring->sh;
  guint64 n_got = sh->n_got + 1;

  __atomic_store_n (&sh->j_ngot, n_got, __ATOMIC_RELAXED);
  __atomic_store_n (&sh->j_tail, tail, __ATOMIC_RELEASE);
  __atomic_store_n (&sh->n_got, n_got, __ATOMIC_RELEASE);
  ring_fault (MPROC_RING_FAULT_COUNTED);
}

/* Moves the fds of @from to the end of @to (which owns them afterwards). */
static void
move_fds (GArray *from,
          GArray *to)
{
  g_array_append_vals (to, from->data, from->len);
  for (guint i = 0; i < from->len; i++)
    g_array_index (from, int, i) = -1;
  g_array_set_size (from, 0);
}

static gboolean
receive_fds (GetOp    *op,
             guint     n_fds,
             GError  **error)
{
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GBytes) payload = NULL;

  if (n_fds == 0)
    return TRUE;
  if (op->sock < 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a malformed message"));
      return FALSE;
    }
  fds = mproc_fd_array_new ();
  payload = mproc_wire_recv (op->sock, fds, 0, NULL, error);
  if (payload == NULL)
    return FALSE;
  if (fds->len != n_fds)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("Received a message with the wrong number of file descriptors"));
      return FALSE;
    }
  if (op->fds != NULL)
    move_fds (fds, op->fds);
  return TRUE;
}

static gboolean
get_fail (GetOp    *op,
          GError  **error,
          GError   *local_error)
{
  get_op_release (op);
  g_propagate_error (error, local_error);
  return FALSE;
}

/* A record that does not make sense: we cannot find the next record
 * boundary, so everything visible is dropped. */
static gboolean
get_corrupt (GetOp    *op,
             GError  **error)
{
  ring_realign (op->ring, FALSE);
  get_op_release (op);
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                       _("Received a malformed message"));
  return FALSE;
}

/* Takes the out-of-line message of the record at @tail (@rec bytes):
 * reads its body, then counts it and moves the tail.  A body that cannot
 * be read costs only its own message. */
static gboolean
get_out_of_line (GetOp         *op,
                 guint64        tail,
                 guint64        rec,
                 guint32        kind,
                 guint32        n_fds,
                 const guint8  *at,
                 GError       **error)
{
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  GError *local_error = NULL;
  guint64 words[2];
  GBytes *body = NULL;

  memcpy (words, at + REC_HDR, sizeof words);
  if (kind == KIND_SPILL)
    {
      guint64 pos = words[0], size = words[1];
      guint64 end = (pos + size + 4095) & ~(guint64) 4095;
      guint64 freed = __atomic_load_n (&sh->spill_tail, __ATOMIC_RELAXED);

      if (ring->spill_fd < 0 || (pos & 4095) != 0 || pos >= MPROC_RING_SPILL_LIMIT ||
          size > MPROC_RING_SPILL_LIMIT - pos)
        return get_corrupt (op, error);
      body = mproc_ring_body_read (ring->spill_fd, pos, size, &local_error);
      if (body != NULL)
        ring_fault (MPROC_RING_FAULT_BODY_READ);
      if (body != NULL && n_fds > 0 && !receive_fds (op, n_fds, &local_error))
        g_clear_pointer (&body, g_bytes_unref);
      count_got (ring, tail);
      advance_tail (ring, tail + rec);
      /* Bodies lie in the order of their records: everything below this
       * one is taken, or was left by a writer that died. */
      if (freed > pos || pos - freed > MPROC_RING_SPILL_LIMIT / 2)
        freed = pos;
      mproc_ring_body_punch (ring->spill_fd, freed, end);
      __atomic_store_n (&sh->spill_tail, end, __ATOMIC_RELAXED);
    }
  else
    {
      g_autoptr(GArray) fds = mproc_fd_array_new ();
      GArray *user_fds = op->fds;
      int body_fd;

      if (n_fds == 0 || words[1] != 0)
        return get_corrupt (op, error);
      op->fds = fds;
      if (receive_fds (op, n_fds, &local_error))
        {
          body_fd = g_array_index (fds, int, fds->len - 1);
          g_array_index (fds, int, fds->len - 1) = -1;
          g_array_set_size (fds, fds->len - 1);
          body = mproc_ring_body_map (body_fd, words[0], &local_error);
          if (body != NULL)
            ring_fault (MPROC_RING_FAULT_BODY_READ);
        }
      op->fds = user_fds;
      if (body != NULL && user_fds != NULL)
        move_fds (fds, user_fds);
      mproc_fd_array_close_all (fds);
      count_got (ring, tail);
      advance_tail (ring, tail + rec);
    }

  if (body == NULL)
    {
      ring_forget_task (ring);
      return get_fail (op, error, local_error);
    }
  get_op_release (op);
  op->result = body;
  return TRUE;
}

/* MprocWaitCheck of readers. */
static gboolean
get_step (gpointer  user_data,
          GError  **error)
{
  GetOp *op = user_data;
  MprocRing *ring = op->ring;
  RingShared *sh = ring->sh;
  guint64 cap = ring->capacity;

  if (op->peek)
    {
      if (mproc_ring_has_data (ring))
        return TRUE;
      if (op->sock >= 0 && op->hup)
        return TRUE;
      return FALSE;
    }

  if (!op->holding)
    {
      if (!ring_lock_or_wait (ring, &sh->rlock, &op->watch, FALSE,
                              &sh->rlock_waiters, &op->lock_counted))
        return FALSE;
      op->holding = TRUE;
    }

  for (;;)
    {
      guint64 tail = __atomic_load_n (&sh->tail, __ATOMIC_RELAXED);
      guint64 head = ring->seen_head;
      guint64 avail = head - tail;
      guint64 off, rec;
      guint32 hdr[2];
      guint32 len, kind, n_fds;
      const guint8 *at;

      /* Records below the head seen last are published and, the tail
       * being ours, not consumed: read the producer's line only when the
       * ones seen are used up (or another consumer went past them). */
      if (avail == 0 || avail > cap)
        {
          head = __atomic_load_n (&sh->head, __ATOMIC_ACQUIRE);
          ring->seen_head = head;
          avail = head - tail;
        }

      if (avail > cap || (head & 7) != 0 || (tail & 7) != 0)
        {
          ring_realign (ring, FALSE);
          get_op_release (op);
          set_corrupt (error);
          return FALSE;
        }
      if (avail == 0)
        {
          get_op_release (op);
          return FALSE;
        }

      off = tail & ring->mask;
      at = ring->data + off;
      /* read once: the peer may scribble concurrently */
      memcpy (hdr, at, sizeof hdr);
      __atomic_signal_fence (__ATOMIC_SEQ_CST);
      len = hdr[0];
      kind = hdr[1] & 0xff;
      n_fds = hdr[1] >> 16;
      rec = REC_SIZE (len);
      if (rec > avail || off + rec > cap || n_fds > MPROC_WIRE_MAX_FDS)
        return get_corrupt (op, error);

      switch (kind)
        {
        case KIND_PAD:
          advance_tail (ring, tail + rec);
          continue;

        case KIND_SINGLE:
          {
            guint8 *copy;
            GError *local_error = NULL;

            if (op->want_copy && len <= SMALL_COPY && n_fds == 0)
              {
                memcpy (op->small, at + REC_HDR, len);
                op->small_len = len;
                op->got_small = TRUE;
                count_got (ring, tail);
                /* hand the space back, unlock, one fence for both wake-ups */
                __atomic_store_n (&sh->tail, tail + rec, __ATOMIC_RELEASE);
                op->holding = FALSE;
                __atomic_store_n (&sh->rlock, 0, __ATOMIC_RELEASE);
                ring_wake_both (ring);
                return TRUE;
              }
            copy = g_try_malloc (MAX (len, 1));
            if (copy == NULL)
              {
                count_got (ring, tail);
                advance_tail (ring, tail + rec);
                ring_forget_task (ring);
                return get_fail (op, error,
                                 g_error_new (MPROC_ERROR, MPROC_ERROR_FAILED,
                                              _("Not enough memory for a message of %u bytes"), len));
              }
            memcpy (copy, at + REC_HDR, len);
            count_got (ring, tail);
            advance_tail (ring, tail + rec);
            if (!receive_fds (op, n_fds, &local_error))
              {
                g_free (copy);
                return get_fail (op, error, local_error);
              }
            get_op_release (op);
            op->result = g_bytes_new_take (copy, len);
            return TRUE;
          }

        case KIND_SPILL:
        case KIND_MEMFD:
          if (len != OOL_HDR)
            return get_corrupt (op, error);
          return get_out_of_line (op, tail, rec, kind, n_fds, at, error);

        default:
          return get_corrupt (op, error);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Driving the steps: sync                                                  */

typedef enum { OP_PUT, OP_GET, OP_POLL, OP_JOIN } OpKind;

static void
set_would_block (OpKind   kind,
                 GError **error)
{
  switch (kind)
    {
    case OP_PUT:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FULL, _("The queue is full"));
      break;
    case OP_GET:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_EMPTY, _("The queue is empty"));
      break;
    case OP_POLL:
    case OP_JOIN:
    default:
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("Timed out"));
      break;
    }
}

static void
set_broken (GError **error)
{
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_BROKEN,
                       _("The other end of the connection is closed"));
}

static void
op_abandon (OpKind   kind,
            gpointer op)
{
  if (kind == OP_PUT)
    put_op_release (op);
  else if (kind == OP_GET)
    get_op_release (op);
}

static MprocWaitPoint *
op_wait_point (MprocRing *ring,
               OpKind     kind)
{
  switch (kind)
    {
    case OP_PUT: return ring->wp_space;
    case OP_JOIN: return ring->wp_done;
    case OP_GET:
    case OP_POLL:
    default: return ring->wp_data;
    }
}

static gboolean join_step (gpointer user_data, GError **error);

static MprocWaitCheck
op_check (OpKind kind)
{
  switch (kind)
    {
    case OP_PUT: return put_step;
    case OP_JOIN: return join_step;
    case OP_GET:
    case OP_POLL:
    default: return get_step;
    }
}

static int
op_sock (OpKind   kind,
         gpointer op)
{
  if (kind == OP_PUT)
    return ((PutOp *) op)->sock;
  if (kind == OP_GET || kind == OP_POLL)
    return ((GetOp *) op)->sock;
  return -1;
}

/* After a slice timed out: TRUE to go on waiting, FALSE with @error set. */
static gboolean
op_after_slice (MprocRing *ring,
                OpKind     kind,
                gpointer   op,
                gint64     deadline,
                gboolean   nowait,
                GError   **error)
{
  int sock = op_sock (kind, op);

  if (sock >= 0 && mproc_ring_sock_hup (sock))
    {
      if (kind == OP_GET || kind == OP_POLL)
        {
          GError *local_error = NULL;

          /* what was sent before the peer closed is still ours */
          ((GetOp *) op)->hup = TRUE;
          if (op_check (kind) (op, &local_error))
            return TRUE;
          if (local_error != NULL)
            {
              g_propagate_error (error, local_error);
              return FALSE;
            }
          if (kind == OP_POLL)
            return TRUE;
        }
      op_abandon (kind, op);
      set_broken (error);
      return FALSE;
    }

  if (nowait || (deadline >= 0 && g_get_monotonic_time () >= deadline))
    {
      op_abandon (kind, op);
      if (nowait)
        set_would_block (kind, error);
      else
        g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT, _("Timed out"));
      return FALSE;
    }
  return TRUE;
}

/* Waits are cut in slices so that what no wake-up announces (a lock
 * holder that died, a connection's peer hanging up) is
 * noticed: short ones when it matters, else one second. */
static gint64
op_slice (MprocRing *ring,
          OpKind     kind,
          gpointer   op,
          gint64     deadline)
{
  gint64 slice = SLICE_USEC * 10;

  if (op_sock (kind, op) >= 0 ||
      (kind == OP_PUT && ((PutOp *) op)->watch.owner != 0) ||
      ((kind == OP_GET || kind == OP_POLL) && ((GetOp *) op)->watch.owner != 0))
    slice = SLICE_USEC;

  if (deadline >= 0)
    slice = CLAMP (deadline - g_get_monotonic_time (), 0, SLICE_USEC);
  return slice;
}

/* The count of waiters that state changes for @kind must wake. */
static guint32 *
op_waiters (MprocRing *ring,
            OpKind     kind)
{
  switch (kind)
    {
    case OP_PUT: return &ring->sh->space_waiters;
    case OP_GET:
    case OP_POLL: return &ring->sh->data_waiters;
    case OP_JOIN:
    default: return NULL;   /* wp_done: every change wakes */
    }
}

static gboolean
op_has_result (OpKind   kind,
               gpointer op)
{
  return kind == OP_GET && (((GetOp *) op)->result != NULL || ((GetOp *) op)->got_small);
}

/* Before counting itself as a waiter (from then on every change the peer
 * makes costs it a wake-up), a blocking put or get spins briefly on the
 * words its check depends on (the position the peer moves and the lock),
 * as the raw ring does: a peer a few hundred ns behind is caught with no
 * shared write at all.  Same budget and same rule (never on one usable
 * CPU) as the wait point's own spin.  Returns TRUE when the op finished
 * (*@success says how), FALSE to go on and wait. */
static gboolean
op_spin (MprocRing *ring,
         OpKind     kind,
         gpointer   op,
         gint64     deadline,
         gboolean  *success,
         GError   **error)
{
  RingShared *sh = ring->sh;
  MprocWaitCheck check = op_check (kind);
  gint64 spin = mproc_wait_get_spin_usec ();
  guint64 *pos;
  guint64 *lock;
  gint64 end;

  if (spin <= 0 || !mproc_spin_allowed ())
    return FALSE;
  if (kind == OP_PUT)
    {
      pos = &sh->tail;
      lock = &sh->wlock;
    }
  else if (kind == OP_GET || kind == OP_POLL)
    {
      pos = &sh->head;
      lock = &sh->rlock;
    }
  else
    return FALSE;

  end = g_get_monotonic_time () + spin;
  if (deadline >= 0 && deadline < end)
    end = deadline;

  for (;;)
    {
      guint64 p0 = __atomic_load_n (pos, __ATOMIC_ACQUIRE);
      guint64 l0 = __atomic_load_n (lock, __ATOMIC_ACQUIRE);
      GError *local_error = NULL;

      /* checked after the snapshot: a change in between is seen below */
      if (check (op, &local_error) || local_error != NULL)
        {
          *success = local_error == NULL;
          if (local_error != NULL)
            g_propagate_error (error, local_error);
          return TRUE;
        }

      for (;;)
        {
          guint i;

          for (i = 0; i < 64; i++)
            {
              if (__atomic_load_n (pos, __ATOMIC_RELAXED) != p0 ||
                  __atomic_load_n (lock, __ATOMIC_RELAXED) != l0)
                break;
              mproc_cpu_relax ();
            }
          if (i < 64)
            break;
          if (g_get_monotonic_time () >= end)
            return FALSE;
        }
    }
}

/* Returns TRUE when done; "done" for OP_POLL with hup set too. */
static gboolean
op_run_sync (MprocRing    *ring,
             OpKind        kind,
             gpointer      op,
             gint64        timeout_usec,
             GCancellable *cancellable,
             GError      **error)
{
  MprocWaitCheck check = op_check (kind);
  gint64 deadline;
  GError *local_error = NULL;

  ring_ensure (ring);

  /* fast path: no wait machinery at all */
  if (check (op, &local_error))
    return TRUE;
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }

  deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;

  if (timeout_usec != 0)
    {
      gboolean success = FALSE;

      if (op_spin (ring, kind, op, deadline, &success, error))
        return success;
    }

  for (;;)
    {
      if (timeout_usec != 0)
        {
          gint64 slice = op_slice (ring, kind, op, deadline);
          guint32 *waiters = op_waiters (ring, kind);
          gboolean done;

          if (waiters != NULL)
            ring_waiter_add (waiters);
          done = mproc_wait_point_wait (op_wait_point (ring, kind), check, op, slice,
                                        cancellable, &local_error);
          if (waiters != NULL)
            ring_waiter_remove (waiters);
          if (done)
            return TRUE;
          if (!g_error_matches (local_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
            {
              op_abandon (kind, op);
              g_propagate_error (error, local_error);
              return FALSE;
            }
          g_clear_error (&local_error);
        }
      if (!op_after_slice (ring, kind, op, deadline, timeout_usec == 0, error))
        return FALSE;
      if (kind == OP_POLL && ((GetOp *) op)->hup)
        return TRUE;
      if (op_has_result (kind, op))
        return TRUE;
    }
}

gboolean
mproc_ring_put (MprocRing     *ring,
                GVariant      *value,
                GBytes        *bytes,
                int            sock,
                const int     *fds,
                guint          n_fds,
                gint64         timeout_usec,
                GCancellable  *cancellable,
                GError       **error)
{
  PutOp op = { NULL, };
  gboolean ret;

  put_op_init (&op, ring, value, bytes, sock, fds, n_fds, TRUE);
  /* put_nowait() does not wait for room, but writes all of its body */
  op.deadline = timeout_usec <= 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  op.cancellable = cancellable;
  ret = op_run_sync (ring, OP_PUT, &op, timeout_usec, cancellable, error);
  put_op_clear (&op);
  return ret;
}

/* @op is zeroed. */
static void
get_op_init (GetOp     *op,
             MprocRing *ring,
             int        sock,
             gboolean   want_fds)
{
  op->ring = ring;
  op->sock = sock;
  if (want_fds)
    op->fds = mproc_fd_array_new ();
}

static GetOp *
get_op_new (MprocRing *ring,
            int        sock,
            gboolean   want_fds)
{
  GetOp *op = g_new0 (GetOp, 1);

  get_op_init (op, ring, sock, want_fds);
  return op;
}

GBytes *
mproc_ring_get (MprocRing     *ring,
                int            sock,
                GArray        *fds_out,
                gint64         timeout_usec,
                GCancellable  *cancellable,
                GError       **error)
{
  GetOp op = { NULL, };
  GBytes *ret = NULL;

  get_op_init (&op, ring, sock, fds_out != NULL);
  if (op_run_sync (ring, OP_GET, &op, timeout_usec, cancellable, error))
    {
      ret = g_steal_pointer (&op.result);
      if (fds_out != NULL)
        move_fds (op.fds, fds_out);
    }
  get_op_clear (&op);
  return ret;
}

GVariant *
mproc_ring_get_value (MprocRing     *ring,
                      gint64         timeout_usec,
                      GCancellable  *cancellable,
                      GError       **error)
{
  GetOp op = { NULL, };
  GVariant *ret = NULL;

  get_op_init (&op, ring, -1, FALSE);
  op.want_copy = TRUE;
  if (op_run_sync (ring, OP_GET, &op, timeout_usec, cancellable, error))
    {
      /* decoded with the read lock released: a malformed message costs
       * only itself */
      if (op.got_small)
        ret = mproc_wire_decode_data ((const guint8 *) op.small, op.small_len, error);
      else
        ret = mproc_wire_decode (op.result, error);
    }
  get_op_clear (&op);
  return ret;
}

gboolean
mproc_ring_poll (MprocRing     *ring,
                 int            sock,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  GetOp *op = get_op_new (ring, sock, FALSE);
  gboolean ret;

  op->peek = TRUE;
  ret = op_run_sync (ring, OP_POLL, op, timeout_usec, cancellable, error);
  get_op_free (op);
  return ret;
}

/* ------------------------------------------------------------------------ */
/* Driving the steps: async                                                 */

typedef struct
{
  MprocRing *ring;
  OpKind     kind;
  gpointer   op;
  gint64     deadline;
  gboolean   nowait;
  MprocShm  *shm;       /* keeps *waiters mapped until the wait is over */
  guint32   *waiters;   /* counted in it while a wait is pending */
} AsyncOp;

static void
async_op_uncount (AsyncOp *a)
{
  if (a->waiters != NULL)
    {
      ring_waiter_remove (a->waiters);
      a->waiters = NULL;
    }
}

static void
async_op_free (gpointer data)
{
  AsyncOp *a = data;

  async_op_uncount (a);
  g_clear_pointer (&a->shm, mproc_shm_unref);

  if (a->kind == OP_PUT)
    put_op_free (a->op);
  else if (a->kind == OP_JOIN)
    g_free (a->op);
  else
    get_op_free (a->op);
  g_free (a);
}

static void async_arm (GTask *task);

static void
async_done_cb (gpointer  user_data,
               gboolean  success,
               GError   *error)
{
  g_autoptr(GTask) task = user_data;
  AsyncOp *a = g_task_get_task_data (task);
  GError *local_error = NULL;

  async_op_uncount (a);
  if (success)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
    {
      op_abandon (a->kind, a->op);
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  if (!op_after_slice (a->ring, a->kind, a->op, a->deadline, a->nowait, &local_error))
    {
      g_task_return_error (task, local_error);
      return;
    }
  if ((a->kind == OP_POLL && ((GetOp *) a->op)->hup) ||
      op_has_result (a->kind, a->op))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  async_arm (g_steal_pointer (&task));
}

/* Takes the task's reference. */
static void
async_arm (GTask *task)
{
  AsyncOp *a = g_task_get_task_data (task);
  gint64 slice = a->nowait ? 0 : op_slice (a->ring, a->kind, a->op, a->deadline);

  a->waiters = op_waiters (a->ring, a->kind);
  if (a->waiters != NULL)
    {
      if (a->shm == NULL)
        a->shm = mproc_shm_ref (a->ring->shm);
      ring_waiter_add (a->waiters);
    }
  /* a slice of 0 would never run the check: 1 µs does, once */
  mproc_wait_point_wait_async (op_wait_point (a->ring, a->kind), op_check (a->kind), a->op,
                               MAX (slice, 1), g_task_get_cancellable (task),
                               async_done_cb, task);
}

static void
async_start (MprocRing          *ring,
             gpointer            source_object,
             OpKind              kind,
             gpointer            op,
             gint64              timeout_usec,
             GCancellable       *cancellable,
             GAsyncReadyCallback callback,
             gpointer            user_data,
             gpointer            tag)
{
  g_autoptr(GTask) task = g_task_new (source_object, cancellable, callback, user_data);
  AsyncOp *a = g_new0 (AsyncOp, 1);

  /* An async operation keeps its own copy of a connection's socket, so that
   * closing the connection meanwhile cannot make it use a reused fd. */
  if (kind == OP_PUT && ((PutOp *) op)->sock >= 0)
    {
      ((PutOp *) op)->sock = fcntl (((PutOp *) op)->sock, F_DUPFD_CLOEXEC, 3);
      ((PutOp *) op)->own_sock = TRUE;
    }
  else if ((kind == OP_GET || kind == OP_POLL) && ((GetOp *) op)->sock >= 0)
    {
      ((GetOp *) op)->sock = fcntl (((GetOp *) op)->sock, F_DUPFD_CLOEXEC, 3);
      ((GetOp *) op)->own_sock = TRUE;
    }
  ring_ensure (ring);
  g_task_set_source_tag (task, tag);
  a->ring = ring;
  a->kind = kind;
  a->op = op;
  a->nowait = timeout_usec == 0;
  a->deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  if (kind == OP_PUT)
    {
      ((PutOp *) op)->deadline = timeout_usec <= 0 ? -1 : a->deadline;
      ((PutOp *) op)->cancellable = g_task_get_cancellable (task);
    }
  g_task_set_task_data (task, a, async_op_free);
  async_arm (g_steal_pointer (&task));
}

void
mproc_ring_put_async (MprocRing          *ring,
                      gpointer            source_object,
                      GVariant           *value,
                      GBytes             *bytes,
                      int                 sock,
                      const int          *fds,
                      guint               n_fds,
                      gint64              timeout_usec,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  async_start (ring, source_object, OP_PUT, put_op_new (ring, value, bytes, sock, fds, n_fds),
               timeout_usec, cancellable, callback, user_data, mproc_ring_put_async);
}

gboolean
mproc_ring_put_finish (GAsyncResult  *result,
                       GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
mproc_ring_get_async (MprocRing          *ring,
                      gpointer            source_object,
                      int                 sock,
                      gboolean            want_fds,
                      gint64              timeout_usec,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  async_start (ring, source_object, OP_GET, get_op_new (ring, sock, want_fds),
               timeout_usec, cancellable, callback, user_data, mproc_ring_get_async);
}

GBytes *
mproc_ring_get_finish (GAsyncResult  *result,
                       GArray        *fds_out,
                       GError       **error)
{
  AsyncOp *a = g_task_get_task_data (G_TASK (result));
  GetOp *op;

  if (!g_task_propagate_boolean (G_TASK (result), error) || a == NULL)
    return NULL;
  op = a->op;
  if (fds_out != NULL && op->fds != NULL)
    move_fds (op->fds, fds_out);
  return g_steal_pointer (&op->result);
}

void
mproc_ring_poll_async (MprocRing          *ring,
                       gpointer            source_object,
                       int                 sock,
                       gint64              timeout_usec,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  GetOp *op = get_op_new (ring, sock, FALSE);

  op->peek = TRUE;
  async_start (ring, source_object, OP_POLL, op, timeout_usec, cancellable, callback, user_data,
               mproc_ring_poll_async);
}

gboolean
mproc_ring_poll_finish (GAsyncResult  *result,
                        GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* JoinableQueue                                                            */

typedef struct
{
  MprocRing *ring;
} JoinOp;

static gboolean
join_step (gpointer  user_data,
           GError  **error)
{
  JoinOp *op = user_data;

  return __atomic_load_n (&op->ring->sh->unfinished, __ATOMIC_ACQUIRE) == 0;
}

gboolean
mproc_ring_task_done (MprocRing  *ring,
                      GError    **error)
{
  guint32 old = __atomic_load_n (&ring->sh->unfinished, __ATOMIC_ACQUIRE);

  ring_ensure (ring);
  do
    {
      if (old == 0)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TOO_MANY_RELEASES,
                               _("task_done() called more times than there were items"));
          return FALSE;
        }
    }
  while (!__atomic_compare_exchange_n (&ring->sh->unfinished, &old, old - 1, FALSE,
                                       __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE));

  if (old == 1)
    mproc_wait_point_wake (ring->wp_done, G_MAXINT);
  return TRUE;
}

gboolean
mproc_ring_join (MprocRing     *ring,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  JoinOp op = { ring };

  ring_ensure (ring);
  return mproc_wait_point_wait (ring->wp_done, join_step, &op, timeout_usec, cancellable, error);
}

void
mproc_ring_join_async (MprocRing          *ring,
                       gpointer            source_object,
                       gint64              timeout_usec,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  JoinOp *op = g_new0 (JoinOp, 1);

  op->ring = ring;
  async_start (ring, source_object, OP_JOIN, op, timeout_usec, cancellable, callback, user_data,
               mproc_ring_join_async);
}

gboolean
mproc_ring_join_finish (GAsyncResult  *result,
                        GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* A GSource for "readable"                                                 */

typedef struct _SourceWait SourceWait;

typedef struct
{
  GSource       source;
  MprocRing    *ring;
  GObject      *owner;
  GCancellable *cancellable;   /* of the pending wait, NULL when none */
  SourceWait   *wait;          /* the pending wait, NULL when none */
  gboolean      ready;
} RingSource;

/* The pending wait does not own its source: a source destroyed while it
 * waits must still reach its dispose, which cancels the wait and detaches
 * it (source = NULL); the wait then only frees itself. */
struct _SourceWait
{
  GSource  *source;   /* not a ref; NULL once the source is disposed */
  MprocShm *shm;      /* keeps *waiters mapped */
  guint32  *waiters;  /* counted in it until done */
};

static gboolean
source_check_cb (gpointer  user_data,
                 GError  **error)
{
  SourceWait *w = user_data;

  if (w->source == NULL)
    return FALSE;
  return mproc_ring_has_data (((RingSource *) w->source)->ring);
}

static void
source_done_cb (gpointer  user_data,
                gboolean  success,
                GError   *error)
{
  SourceWait *w = user_data;
  RingSource *rs = (RingSource *) w->source;

  ring_waiter_remove (w->waiters);
  mproc_shm_unref (w->shm);
  if (rs != NULL)
    {
      rs->wait = NULL;
      if (success && !g_source_is_destroyed (w->source))
        {
          rs->ready = TRUE;
          g_source_set_ready_time (w->source, 0);
        }
      else if (!g_source_is_destroyed (w->source) &&
               g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
        {
          rs->ready = FALSE;   /* re-armed by prepare() */
        }
      if (!g_source_is_destroyed (w->source))
        g_clear_object (&rs->cancellable);
    }
  g_free (w);
}

static void
ring_source_arm (RingSource *rs)
{
  GMainContext *context = g_source_get_context (&rs->source);
  SourceWait *w;

  if (rs->cancellable != NULL || rs->ready || context == NULL)
    return;

  w = g_new0 (SourceWait, 1);
  w->source = &rs->source;
  rs->wait = w;
  w->shm = mproc_shm_ref (rs->ring->shm);
  w->waiters = &rs->ring->sh->data_waiters;
  ring_waiter_add (w->waiters);
  rs->cancellable = g_cancellable_new ();
  g_main_context_push_thread_default (context);
  mproc_wait_point_wait_async (rs->ring->wp_data, source_check_cb, w, -1, rs->cancellable,
                               source_done_cb, w);
  g_main_context_pop_thread_default (context);
}

static gboolean
ring_source_prepare (GSource *source,
                     gint    *timeout)
{
  RingSource *rs = (RingSource *) source;

  *timeout = -1;
  if (mproc_ring_has_data (rs->ring))
    return TRUE;
  rs->ready = FALSE;
  ring_source_arm (rs);
  return FALSE;
}

static gboolean
ring_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  RingSource *rs = (RingSource *) source;

  g_source_set_ready_time (source, -1);
  rs->ready = FALSE;
  if (callback == NULL)
    return G_SOURCE_REMOVE;
  return callback (user_data);
}

static void
ring_source_dispose (GSource *source)
{
  RingSource *rs = (RingSource *) source;

  if (rs->wait != NULL)
    {
      rs->wait->source = NULL;
      rs->wait = NULL;
    }
  if (rs->cancellable != NULL)
    g_cancellable_cancel (rs->cancellable);
}

static void
ring_source_finalize (GSource *source)
{
  RingSource *rs = (RingSource *) source;

  g_clear_object (&rs->cancellable);
  g_clear_object (&rs->owner);
}

static GSourceFuncs ring_source_funcs = {
  ring_source_prepare,
  NULL,
  ring_source_dispatch,
  ring_source_finalize,
  NULL, NULL,
};

GSource *
mproc_ring_source_new (MprocRing *ring,
                       GObject   *owner)
{
  GSource *source = g_source_new (&ring_source_funcs, sizeof (RingSource));
  RingSource *rs = (RingSource *) source;

  ring_ensure (ring);
  rs->ring = ring;
  rs->owner = g_object_ref (owner);   /* keeps @ring alive */
  g_source_set_dispose_function (source, ring_source_dispose);
  g_source_set_static_name (source, "[mproc] queue readable");
  return source;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

void
mproc_ring_inject_raw (MprocRing  *ring,
                       const void *data,
                       gsize       size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);

  g_assert_true (mproc_ring_put (ring, NULL, bytes, -1, NULL, 0, -1, NULL, NULL));
}

void
mproc_ring_corrupt_next (MprocRing *ring)
{
  guint64 tail = __atomic_load_n (&ring->sh->tail, __ATOMIC_ACQUIRE);
  guint32 garbage[2] = { 0x7ffffff0u, 0x99 };

  memcpy (ring->data + (tail & ring->mask), garbage, sizeof garbage);
}

void
mproc_ring_test_skew (MprocRing *ring,
                      gboolean   head,
                      gint64     delta)
{
  guint64 *pos = head ? &ring->sh->head : &ring->sh->tail;

  __atomic_store_n (pos, __atomic_load_n (pos, __ATOMIC_ACQUIRE) + (guint64) delta, __ATOMIC_RELEASE);
}

void
mproc_ring_test_set_lock (MprocRing *ring,
                          gboolean   write,
                          guint64    owner)
{
  __atomic_store_n (write ? &ring->sh->wlock : &ring->sh->rlock, owner, __ATOMIC_RELEASE);
}

guint64
mproc_ring_test_owner (MprocRing *ring)
{
  ring_ensure (ring);
  return ring->owner;
}
