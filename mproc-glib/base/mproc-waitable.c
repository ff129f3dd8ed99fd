/* mproc-waitable.c: waiting for a condition on shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-waitable-private.h for the protocol and the threading rules.
 * Locking inside this file: one GMutex per wait point (in MprocWaitCore,
 * which outlives the handle because the async sources need it after
 * mproc_wait_point_free()).  Lock order: core mutex, then a GMainContext's
 * own lock (g_source_set_ready_time(), g_source_attach()); GLib never
 * calls our source functions with its context lock held, so the order is
 * never reversed.  No user callback (check, done) and no
 * g_cancellable_disconnect() ever runs with the core mutex held.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <gio/gio.h>

#include "mproc-futex-private.h"
#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-waitable-private.h"

G_STATIC_ASSERT (sizeof (MprocWaitShared) == 16);

/* How long a blocking waiter spins before it sleeps, in µs.  Waking a
 * sleeper on the other vCPU of the target VMs costs ~20 µs (the idle vCPU
 * has halted and is woken through the hypervisor), while a peer that
 * answers within a few µs is common (lock hand-over, ping-pong): spinning
 * ~5 µs turns those into sub-µs hand-overs and costs at most 5 µs of one
 * CPU when the peer is slow.  Spinning is skipped entirely when only one
 * CPU is usable (mproc_spin_allowed()), where it only delays the peer. */
#define DEFAULT_SPIN_USEC 5

/* Blocking waiters with a GCancellable need an epoll instance of their
 * own; a few idle ones are kept per wait point to save three system calls
 * per wait. */
#define MAX_IDLE_EPOLL_FDS 4

static gint spin_usec = DEFAULT_SPIN_USEC;

typedef struct _MprocWaitCore    MprocWaitCore;
typedef struct _MprocWaitSource  MprocWaitSource;
typedef struct _MprocAsyncWaiter MprocAsyncWaiter;

/* The per-process bookkeeping of one wait point.  Refcounted: the handle
 * holds one ref, every async source and waiter one more, so the mutex
 * stays valid until the last source is gone. */
struct _MprocWaitCore
{
  gatomicrefcount  ref_count;
  GMutex           mutex;
  GCond            idle_cond;   /* signalled when n_busy drops to 0 while closed */
  guint            n_busy;      /* dispatches running checks right now */
  gboolean         closed;      /* the handle was freed */
  GList           *sources;     /* MprocWaitSource, one strong ref each */
};

struct _MprocWaitPoint
{
  MprocWaitShared *shared;
  int              eventfd;
  pid_t            pid;         /* the process this handle belongs to */
  MprocWaitCore   *core;
  int              idle_epfds[MAX_IDLE_EPOLL_FDS];   /* under core->mutex */
  guint            n_idle_epfds;
};

/* One per (wait point, GMainContext) with pending async waiters. */
struct _MprocWaitSource
{
  GSource          source;
  MprocWaitCore   *core;
  MprocWaitShared *shared;      /* NULL once closed */
  GMainContext    *context;     /* identity for lookup only; not a ref */
  int              epfd;
  gpointer         epfd_tag;
  guint32          seen_seq;    /* seq at the last full round of checks; dispatch only */

  /* under core->mutex */
  GQueue           waiters;
  guint            listed : 1;  /* in core->sources */
  guint            counted : 1; /* counted in shared->n_fd_waiters */
  guint            kick : 1;    /* dispatch again at once */
};

typedef enum
{
  WAITER_PENDING,
  WAITER_CANCELLED,
  WAITER_DONE,
} WaiterState;

struct _MprocAsyncWaiter
{
  GList            link;        /* data = self; in source->waiters */
  MprocWaitCore   *core;
  MprocWaitSource *source;      /* under core->mutex; NULL until queued */
  MprocWaitCheck   check;
  gpointer         check_data;
  MprocWaitDone    done;
  gpointer         done_data;
  gint64           deadline;    /* monotonic µs, -1 = none */
  GCancellable    *cancellable;
  gulong           cancelled_id;
  gint             state;       /* WaiterState: written under core->mutex */
  gboolean         fresh;       /* never checked yet; dispatch only */
  gboolean         success;
  GError          *error;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static void
close_fd (int *fd)
{
  int errsv = errno;

  if (*fd >= 0)
    close (*fd);
  *fd = -1;
  errno = errsv;
}

static void set_error_from_errno (GError     **error,
                                  int          errsv,
                                  const char  *format,
                                  ...) G_GNUC_PRINTF (3, 4);

/* The GIOErrorEnum code follows errno; callers pass g_strerror (errsv)
 * themselves so that the format is checked at each call. */
static void
set_error_from_errno (GError     **error,
                      int          errsv,
                      const char  *format,
                      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (error == NULL)
    return;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED, message);
}

static void
set_timed_out (GError **error)
{
  if (error == NULL)
    return;   /* spare a try-once caller the gettext lookup */
  g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                       _("Timed out while waiting"));
}

/* Runs @check, folding its two ways of finishing into one.
 * Returns TRUE when the wait is over, *success telling how. */
static inline gboolean
run_check (MprocWaitCheck   check,
           gpointer         user_data,
           gboolean        *success,
           GError         **error)
{
  GError *local_error = NULL;
  gboolean ok;

  ok = check (user_data, &local_error);
  if (local_error != NULL)
    {
      *success = FALSE;
      g_propagate_error (error, local_error);
      return TRUE;
    }

  *success = ok;
  return ok;
}

/* A new epoll instance watching @event_fd edge-triggered: every write to
 * the eventfd raises a new edge here even though nobody ever reads it. */
static int
epoll_watch_new (int      event_fd,
                 GError **error)
{
  struct epoll_event ev = { .events = EPOLLIN | EPOLLET, };
  int epfd;

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    {
      int errsv = errno;

      set_error_from_errno (error, errsv, _("Failed to create epoll instance: %s"), g_strerror (errsv));
      return -1;
    }

  ev.data.fd = event_fd;
  if (epoll_ctl (epfd, EPOLL_CTL_ADD, event_fd, &ev) < 0)
    {
      int errsv = errno;

      close_fd (&epfd);
      set_error_from_errno (error, errsv, _("Failed to watch event file descriptor: %s"), g_strerror (errsv));
      return -1;
    }

  return epfd;
}

/* Consumes the pending edge (edge-triggered items leave the ready list
 * once reported), so the epoll fd stops being readable until the next
 * write to the eventfd. */
static void
epoll_drain (int epfd)
{
  struct epoll_event evs[4];

  while (epoll_wait (epfd, evs, G_N_ELEMENTS (evs), 0) < 0 && errno == EINTR)
    ;
}

/* An fd received from another process must really be an eventfd: a wake
 * writes 8 bytes to it, which on a pipe without reader would SIGPIPE us,
 * and on a socket or file would do worse. */
static gboolean
check_is_eventfd (int      fd,
                  GError **error)
{
  char path[64];
  char target[64];
  ssize_t len;

  g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  len = readlink (path, target, sizeof target - 1);
  if (len < 0)
    {
      int errsv = errno;

      if (errsv == EBADF || (errsv == ENOENT && access ("/proc/self/fd", F_OK) == 0))
        {
          set_error_from_errno (error, errsv, _("Invalid event file descriptor: %s"), g_strerror (errsv));
          return FALSE;
        }
      return TRUE;   /* no /proc: cannot tell, trust */
    }
  target[len] = '\0';

  if (strcmp (target, "anon_inode:[eventfd]") != 0)
    {
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                           _("File descriptor received for a wait point is not an eventfd"));
      return FALSE;
    }

  return TRUE;
}

static MprocWaitCore *
core_ref (MprocWaitCore *core)
{
  g_atomic_ref_count_inc (&core->ref_count);
  return core;
}

static void
core_unref (MprocWaitCore *core)
{
  if (!g_atomic_ref_count_dec (&core->ref_count))
    return;

  g_assert (core->sources == NULL);
  g_mutex_clear (&core->mutex);
  g_cond_clear (&core->idle_cond);
  g_free (core);
}

/* ------------------------------------------------------------------------ */
/* Handle                                                                   */

/*
 * mproc_wait_point_new:
 * @shared: the wait point's part in shared memory, 4-byte aligned
 * @event_fd: (transfer full): the eventfd received with the object, or -1
 *   to create one (the creating process)
 * @error: return location for a #GError
 *
 * An fd from another process is checked to be an eventfd and made
 * non-blocking (a wake must never block); it is closed on failure.
 *
 * Returns: (transfer full): the handle, or %NULL with @error set
 */
MprocWaitPoint *
mproc_wait_point_new (MprocWaitShared  *shared,
                      int               event_fd,
                      GError          **error)
{
  MprocWaitPoint *wp;

  g_return_val_if_fail (shared != NULL, NULL);
  g_return_val_if_fail (((guintptr) shared) % 4 == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (event_fd < 0)
    {
      event_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
      if (event_fd < 0)
        {
          int errsv = errno;

          set_error_from_errno (error, errsv, _("Failed to create event file descriptor: %s"), g_strerror (errsv));
          return NULL;
        }
    }
  else
    {
      int flags;

      if (!check_is_eventfd (event_fd, error))
        {
          close_fd (&event_fd);
          return NULL;
        }

      /* O_NONBLOCK lives in the open file description, shared with every
       * other process: setting it is harmless to them. */
      flags = fcntl (event_fd, F_GETFL);
      if (flags < 0 || ((flags & O_NONBLOCK) == 0 &&
                        fcntl (event_fd, F_SETFL, flags | O_NONBLOCK) < 0))
        {
          int errsv = errno;

          close_fd (&event_fd);
          set_error_from_errno (error, errsv, _("Invalid event file descriptor: %s"), g_strerror (errsv));
          return NULL;
        }
    }

  wp = g_new0 (MprocWaitPoint, 1);
  wp->shared = shared;
  wp->eventfd = event_fd;
  wp->pid = getpid ();
  wp->core = g_new0 (MprocWaitCore, 1);
  g_atomic_ref_count_init (&wp->core->ref_count);
  g_mutex_init (&wp->core->mutex);
  g_cond_init (&wp->core->idle_cond);

  return wp;
}

static void wait_source_kick_locked (MprocWaitSource *source);

/*
 * mproc_wait_point_free:
 * @wp: (nullable) (transfer full): a wait point
 *
 * Pending async waiters complete with %MPROC_ERROR_CLOSED, later, from
 * their own contexts.  Returns only once no check is running anywhere in
 * this process, so the shared memory can be unmapped right after.
 */
void
mproc_wait_point_free (MprocWaitPoint *wp)
{
  MprocWaitCore *core;
  GList *l;

  if (wp == NULL)
    return;

  if (wp->pid != getpid ())
    {
      /* Inherited through fork(): the core and its sources belong to the
       * parent's threads and contexts (and the mutex may have been held
       * at fork time).  Only the fds are ours to close. */
      for (guint i = 0; i < wp->n_idle_epfds; i++)
        close_fd (&wp->idle_epfds[i]);
      close_fd (&wp->eventfd);
      g_free (wp);
      return;
    }

  core = wp->core;

  g_mutex_lock (&core->mutex);
  core->closed = TRUE;
  while (core->n_busy > 0)
    g_cond_wait (&core->idle_cond, &core->mutex);

  /* Sources drop their count here, not when they retire: after we return
   * the shared memory may be gone. */
  for (l = core->sources; l != NULL; l = l->next)
    {
      MprocWaitSource *source = l->data;

      if (source->counted)
        {
          g_atomic_int_add (&wp->shared->n_fd_waiters, -1);
          source->counted = FALSE;
        }
      source->shared = NULL;
      wait_source_kick_locked (source);
    }

  for (guint i = 0; i < wp->n_idle_epfds; i++)
    close_fd (&wp->idle_epfds[i]);
  wp->n_idle_epfds = 0;
  g_mutex_unlock (&core->mutex);

  /* Sources' epoll instances lose their watch when the last process-local
   * reference to the eventfd goes; nothing can wake them afterwards but
   * the kick above. */
  close_fd (&wp->eventfd);
  core_unref (core);
  g_free (wp);
}

/* The fd stays owned by @wp: dup it to send it. */
int
mproc_wait_point_get_fd (MprocWaitPoint *wp)
{
  g_return_val_if_fail (wp != NULL, -1);

  return wp->eventfd;
}

/*
 * mproc_wait_point_wake:
 * @wp: a wait point
 * @n: how many futex sleepers to wake, %G_MAXINT for all
 *
 * Call after publishing the state change (with a store that is at least
 * release-ordered; the seq_cst add below orders it before our loads of the
 * counters).  @n only limits futex sleepers: every fd waiter of every
 * process is woken, and re-checks.  A waiter woken by @n that then times
 * out re-runs its check first, so a targeted wake cannot be lost.
 */
void
mproc_wait_point_wake (MprocWaitPoint *wp,
                       int             n)
{
  MprocWaitShared *shared;

  g_return_if_fail (wp != NULL);
  g_return_if_fail (n > 0);

  shared = wp->shared;
  g_atomic_int_inc (&shared->seq);

  if (g_atomic_int_get (&shared->n_sleepers) != 0)
    mproc_futex_wake (&shared->seq, n);

  if (g_atomic_int_get (&shared->n_fd_waiters) != 0)
    {
      guint64 one = 1;

      /* Non-blocking: EAGAIN would need 2^64 - 2 unread wakes. */
      while (write (wp->eventfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    }
}

/* ------------------------------------------------------------------------ */
/* Blocking waits                                                           */

/*
 * mproc_wait_set_spin_usec:
 * @usec: spin duration in µs, 0 to never spin
 *
 * Process-wide tunable for benchmarks and tests; see DEFAULT_SPIN_USEC.
 */
void
mproc_wait_set_spin_usec (gint64 usec)
{
  g_atomic_int_set (&spin_usec, (gint) CLAMP (usec, 0, G_USEC_PER_SEC));
}

gint64
mproc_wait_get_spin_usec (void)
{
  return g_atomic_int_get (&spin_usec);
}

/* Spins until @end re-running @check whenever seq moves.  Watching seq
 * rather than calling check in a loop keeps the cache line of the state
 * (often written with a CAS by the check) quiet while nothing changes. */
static gboolean
spin_wait (MprocWaitShared  *shared,
           guint32           seen,
           MprocWaitCheck    check,
           gpointer          user_data,
           gint64            end,
           gboolean         *success,
           GError          **error)
{
  for (;;)
    {
      guint32 seq;
      guint i;

      for (i = 0; i < 16; i++)
        {
          if ((guint32) g_atomic_int_get (&shared->seq) != seen)
            break;
          mproc_cpu_relax ();
        }

      seq = g_atomic_int_get (&shared->seq);
      if (seq != seen)
        {
          seen = seq;
          if (run_check (check, user_data, success, error))
            return TRUE;
        }

      if (g_get_monotonic_time () >= end)
        return FALSE;
    }
}

/* Sleeps on the futex: the cheapest way to block, but deaf to a
 * GCancellable. */
static gboolean
futex_sleep (MprocWaitPoint  *wp,
             MprocWaitCheck   check,
             gpointer         user_data,
             gint64           deadline,
             GError         **error)
{
  MprocWaitShared *shared = wp->shared;
  gboolean success = FALSE;
  gboolean timed_out = FALSE;

  g_atomic_int_inc (&shared->n_sleepers);

  for (;;)
    {
      guint32 seq = g_atomic_int_get (&shared->seq);

      if (run_check (check, user_data, &success, error))
        break;

      /* The check above doubles as the final one: a waiter picked by a
       * targeted wake just as its time runs out still takes what it was
       * woken for. */
      if (timed_out || (deadline >= 0 && g_get_monotonic_time () >= deadline))
        {
          set_timed_out (error);
          break;
        }

      timed_out = mproc_futex_wait (&shared->seq, seq, deadline) == ETIMEDOUT;
    }

  g_atomic_int_add (&shared->n_sleepers, -1);

  return success;
}

static int
take_epfd (MprocWaitPoint  *wp,
           GError         **error)
{
  int epfd = -1;

  g_mutex_lock (&wp->core->mutex);
  if (wp->n_idle_epfds > 0)
    epfd = wp->idle_epfds[--wp->n_idle_epfds];
  g_mutex_unlock (&wp->core->mutex);

  if (epfd >= 0)
    return epfd;

  return epoll_watch_new (wp->eventfd, error);
}

static void
give_back_epfd (MprocWaitPoint *wp,
                int             epfd)
{
  g_mutex_lock (&wp->core->mutex);
  if (wp->n_idle_epfds < MAX_IDLE_EPOLL_FDS)
    {
      wp->idle_epfds[wp->n_idle_epfds++] = epfd;
      epfd = -1;
    }
  g_mutex_unlock (&wp->core->mutex);

  close_fd (&epfd);
}

/* Sleeps in poll() on our own edge-triggered epoll over the eventfd and
 * on the cancellable's fd. */
static gboolean
fd_sleep (MprocWaitPoint  *wp,
          MprocWaitCheck   check,
          gpointer         user_data,
          gint64           deadline,
          GCancellable    *cancellable,
          GError         **error)
{
  MprocWaitShared *shared = wp->shared;
  struct pollfd fds[2];
  GPollFD cancel_pollfd;
  gboolean success = FALSE;
  int epfd;

  /* Registered with the eventfd before we count ourselves: a wake that
   * sees our count is guaranteed to raise an edge we will see. */
  epfd = take_epfd (wp, error);
  if (epfd < 0)
    return FALSE;

  if (!g_cancellable_make_pollfd (cancellable, &cancel_pollfd))
    {
      give_back_epfd (wp, epfd);
      g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                           _("Failed to create a file descriptor for the cancellable"));
      return FALSE;
    }

  fds[0].fd = epfd;
  fds[0].events = POLLIN;
  fds[1].fd = cancel_pollfd.fd;
  fds[1].events = POLLIN;

  g_atomic_int_inc (&shared->n_fd_waiters);

  for (;;)
    {
      struct timespec ts;
      struct timespec *tsp = NULL;

      /* Cancellation first: a check may act (take the lock), and taking
       * something then reporting CANCELLED would leak it. */
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;

      if (run_check (check, user_data, &success, error))
        break;

      if (deadline >= 0)
        {
          gint64 remaining = deadline - g_get_monotonic_time ();

          if (remaining <= 0)
            {
              set_timed_out (error);
              break;
            }
          ts.tv_sec = remaining / G_USEC_PER_SEC;
          ts.tv_nsec = (remaining % G_USEC_PER_SEC) * 1000;
          tsp = &ts;
        }

      fds[0].revents = fds[1].revents = 0;
      if (ppoll (fds, 2, tsp, NULL) < 0)
        {
          int errsv = errno;

          if (errsv != EINTR)
            {
              set_error_from_errno (error, errsv, _("Failed to wait: %s"), g_strerror (errsv));
              break;
            }
        }

      if (fds[0].revents != 0)
        epoll_drain (epfd);
    }

  g_atomic_int_add (&shared->n_fd_waiters, -1);
  g_cancellable_release_fd (cancellable);
  give_back_epfd (wp, epfd);

  return success;
}

/*
 * mproc_wait_point_wait:
 * @wp: a wait point
 * @check: the condition; may act on the state
 * @user_data: data for @check
 * @timeout_usec: -1 to wait forever, 0 to check once
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Blocks the calling thread until @check returns %TRUE.  Check first,
 * spin briefly, then sleep: on the futex without @cancellable, else in
 * poll() on the eventfd and the cancellable.
 *
 * Returns: %TRUE when @check succeeded; %FALSE with @error set by the
 *   check, or %MPROC_ERROR_TIMED_OUT, or %G_IO_ERROR_CANCELLED
 */
gboolean
mproc_wait_point_wait (MprocWaitPoint  *wp,
                       MprocWaitCheck   check,
                       gpointer         user_data,
                       gint64           timeout_usec,
                       GCancellable    *cancellable,
                       GError         **error)
{
  MprocWaitShared *shared;
  gboolean success = FALSE;
  gint64 deadline = -1;
  gint64 spin;
  guint32 seen;

  g_return_val_if_fail (wp != NULL, FALSE);
  g_return_val_if_fail (check != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  shared = wp->shared;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;

  /* Read before the check, so that a change between the check and the
   * spin below is noticed. */
  seen = g_atomic_int_get (&shared->seq);
  if (run_check (check, user_data, &success, error))
    return success;

  if (timeout_usec == 0)
    {
      set_timed_out (error);
      return FALSE;
    }

  spin = g_atomic_int_get (&spin_usec);
  if (timeout_usec > 0 || (spin > 0 && mproc_spin_allowed ()))
    {
      gint64 now = g_get_monotonic_time ();

      if (timeout_usec > 0)
        deadline = now + timeout_usec;

      if (spin > 0 && mproc_spin_allowed ())
        {
          gint64 end = now + spin;

          if (deadline >= 0 && deadline < end)
            end = deadline;
          if (spin_wait (shared, seen, check, user_data, end, &success, error))
            return success;
        }
    }

  if (cancellable == NULL)
    return futex_sleep (wp, check, user_data, deadline, error);
  else
    return fd_sleep (wp, check, user_data, deadline, cancellable, error);
}

/* ------------------------------------------------------------------------ */
/* Async waits                                                              */

static void
wait_source_kick_locked (MprocWaitSource *source)
{
  source->kick = TRUE;
  g_source_set_ready_time (&source->source, 0);
}

/* Ready time = at once if kicked or closed, else the earliest deadline. */
static void
wait_source_update_ready_time_locked (MprocWaitSource *source)
{
  gint64 ready_time = -1;
  GList *l;

  if (source->kick || source->core->closed)
    {
      if (!g_queue_is_empty (&source->waiters))
        ready_time = 0;
    }
  else
    {
      for (l = source->waiters.head; l != NULL; l = l->next)
        {
          MprocAsyncWaiter *w = l->data;

          if (w->deadline >= 0 && (ready_time < 0 || w->deadline < ready_time))
            ready_time = w->deadline;
        }
    }

  g_source_set_ready_time (&source->source, ready_time);
}

static void
wait_source_unlist_locked (MprocWaitSource *source)
{
  MprocWaitCore *core = source->core;

  g_assert (source->listed);

  core->sources = g_list_remove (core->sources, source);
  source->listed = FALSE;

  /* counted is only still set while the core is open */
  if (source->counted)
    {
      g_atomic_int_add (&source->shared->n_fd_waiters, -1);
      source->counted = FALSE;
    }
}

static void
waiter_free (MprocAsyncWaiter *w)
{
  g_clear_error (&w->error);
  core_unref (w->core);
  g_free (w);
}

/* Reports the outcome.  Never called with the core mutex held. */
static void
waiter_complete (MprocAsyncWaiter *w)
{
  /* Disconnect first: it waits for a handler running in another thread,
   * after which nothing else refers to @w. */
  if (w->cancellable != NULL)
    {
      g_cancellable_disconnect (w->cancellable, w->cancelled_id);
      g_clear_object (&w->cancellable);
    }

  g_assert (w->success == (w->error == NULL));
  w->done (w->done_data, w->success, w->error);
  waiter_free (w);
}

static void
waiter_cancelled_cb (GCancellable *cancellable,
                     gpointer      user_data)
{
  MprocAsyncWaiter *w = user_data;

  g_mutex_lock (&w->core->mutex);
  if (w->state == WAITER_PENDING)
    {
      g_atomic_int_set (&w->state, WAITER_CANCELLED);
      if (w->source != NULL)
        wait_source_kick_locked (w->source);
    }
  g_mutex_unlock (&w->core->mutex);
}

/* Retires @source once it has no waiters, after the done callbacks (one
 * of which may have queued a new waiter here: then the source, its epoll
 * fd and its count are reused rather than recreated). */
static gboolean
wait_source_maybe_retire (MprocWaitSource *source)
{
  gboolean retire;

  g_mutex_lock (&source->core->mutex);
  retire = source->listed && g_queue_is_empty (&source->waiters);
  if (retire)
    wait_source_unlist_locked (source);
  g_mutex_unlock (&source->core->mutex);

  if (!retire)
    return G_SOURCE_CONTINUE;

  g_source_destroy (&source->source);
  g_source_unref (&source->source);   /* core->sources' ref; dispatch holds another */
  return G_SOURCE_REMOVE;
}

static gboolean
wait_source_dispatch (GSource     *gsource,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  MprocWaitSource *source = (MprocWaitSource *) gsource;
  MprocWaitCore *core = source->core;
  GQueue batch;
  GQueue kept = G_QUEUE_INIT;
  GQueue finished = G_QUEUE_INIT;
  gboolean closed;
  gboolean check_all = FALSE;
  gint64 now;
  GList *l;

  if (g_source_query_unix_fd (gsource, source->epfd_tag) & G_IO_IN)
    epoll_drain (source->epfd);

  /* Phase 1: take the waiters out of the list and mark ourselves busy, so
   * that mproc_wait_point_free() waits for the checks. */
  g_mutex_lock (&core->mutex);
  if (!source->listed)
    {
      g_mutex_unlock (&core->mutex);
      return G_SOURCE_REMOVE;
    }
  closed = core->closed;
  source->kick = FALSE;
  batch = source->waiters;
  g_queue_init (&source->waiters);
  if (!closed)
    {
      guint32 seq = g_atomic_int_get (&source->shared->seq);

      core->n_busy++;
      /* Without a wake since the last round, only new waiters and those
       * whose deadline passed need their check run: a thousand waiters
       * cost nothing while nothing happens. */
      check_all = seq != source->seen_seq;
      source->seen_seq = seq;
    }
  g_mutex_unlock (&core->mutex);

  /* Phase 2: checks, without the lock. */
  now = g_get_monotonic_time ();
  while ((l = g_queue_pop_head_link (&batch)) != NULL)
    {
      MprocAsyncWaiter *w = l->data;
      gboolean expired = w->deadline >= 0 && w->deadline <= now;
      gboolean over = TRUE;

      if (closed)
        g_set_error_literal (&w->error, MPROC_ERROR, MPROC_ERROR_CLOSED,
                             _("Object closed"));
      else if (g_atomic_int_get (&w->state) == WAITER_CANCELLED)
        g_set_error_literal (&w->error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                             _("Operation was cancelled"));
      else if (check_all || w->fresh || expired)
        {
          w->fresh = FALSE;
          if (!run_check (w->check, w->check_data, &w->success, &w->error))
            {
              if (expired)
                set_timed_out (&w->error);
              else
                over = FALSE;
            }
        }
      else
        over = FALSE;

      g_queue_push_tail_link (over ? &finished : &kept, l);
    }

  /* Phase 3: publish.  Waiters queued meanwhile stay behind the kept ones. */
  g_mutex_lock (&core->mutex);
  if (!closed && --core->n_busy == 0 && core->closed)
    g_cond_broadcast (&core->idle_cond);
  for (l = finished.head; l != NULL; l = l->next)
    g_atomic_int_set (&((MprocAsyncWaiter *) l->data)->state, WAITER_DONE);
  while ((l = g_queue_pop_tail_link (&kept)) != NULL)
    g_queue_push_head_link (&source->waiters, l);
  wait_source_update_ready_time_locked (source);
  g_mutex_unlock (&core->mutex);

  /* Phase 4: callbacks, neither locked nor busy, so they may free the
   * wait point. */
  while ((l = g_queue_pop_head_link (&finished)) != NULL)
    waiter_complete (l->data);

  return wait_source_maybe_retire (source);
}

static void
wait_source_finalize (GSource *gsource)
{
  MprocWaitSource *source = (MprocWaitSource *) gsource;

  g_warn_if_fail (g_queue_is_empty (&source->waiters));
  close_fd (&source->epfd);
  core_unref (source->core);
}

static GSourceFuncs wait_source_funcs = {
  NULL,                         /* prepare: ready time and fd suffice */
  NULL,                         /* check */
  wait_source_dispatch,
  wait_source_finalize,
  NULL, NULL,
};

static gboolean
wait_source_never_called (gpointer user_data)
{
  g_assert_not_reached ();
  return G_SOURCE_REMOVE;
}

/* The callback's destroy notify is our hook for "destroyed by someone
 * else", i.e. the GMainContext itself going away.  When we retire the
 * source ourselves it is already unlisted and this does nothing. */
static void
wait_source_destroyed_cb (gpointer user_data)
{
  MprocWaitSource *source = user_data;
  GQueue orphans;
  GList *l;

  g_mutex_lock (&source->core->mutex);
  if (!source->listed)
    {
      g_mutex_unlock (&source->core->mutex);
      return;
    }
  wait_source_unlist_locked (source);
  orphans = source->waiters;
  g_queue_init (&source->waiters);
  for (l = orphans.head; l != NULL; l = l->next)
    g_atomic_int_set (&((MprocAsyncWaiter *) l->data)->state, WAITER_DONE);
  g_mutex_unlock (&source->core->mutex);

  while ((l = g_queue_pop_head_link (&orphans)) != NULL)
    {
      MprocAsyncWaiter *w = l->data;

      g_set_error_literal (&w->error, MPROC_ERROR, MPROC_ERROR_CLOSED,
                           _("The main context of the wait was destroyed"));
      waiter_complete (w);
    }

  g_source_unref (&source->source);   /* core->sources' ref */
}

/* Creates, attaches, lists and counts the source of (@wp, @context). */
static MprocWaitSource *
wait_source_new_locked (MprocWaitPoint  *wp,
                        GMainContext    *context,
                        GError         **error)
{
  MprocWaitSource *source;
  GSource *gsource;
  int epfd;

  epfd = epoll_watch_new (wp->eventfd, error);
  if (epfd < 0)
    return NULL;

  gsource = g_source_new (&wait_source_funcs, sizeof (MprocWaitSource));
  g_source_set_static_name (gsource, "[mproc] wait point");
  source = (MprocWaitSource *) gsource;
  source->core = core_ref (wp->core);
  source->shared = wp->shared;
  source->context = context;
  source->epfd = epfd;
  source->epfd_tag = g_source_add_unix_fd (gsource, epfd, G_IO_IN);
  g_queue_init (&source->waiters);
  source->seen_seq = g_atomic_int_get (&wp->shared->seq);
  g_source_set_callback (gsource, wait_source_never_called, source,
                         wait_source_destroyed_cb);
  g_source_attach (gsource, context);

  /* The creation ref becomes core->sources' ref. */
  wp->core->sources = g_list_prepend (wp->core->sources, source);
  source->listed = TRUE;

  /* Counted after the epoll watch exists and before any check: a waker
   * either sees the count and writes the eventfd, or published its state
   * before our first check reads it. */
  g_atomic_int_inc (&wp->shared->n_fd_waiters);
  source->counted = TRUE;

  return source;
}

static gboolean
waiter_fail_idle_cb (gpointer user_data)
{
  waiter_complete (user_data);
  return G_SOURCE_REMOVE;
}

/*
 * mproc_wait_point_wait_async:
 * @wp: a wait point
 * @check: the condition; may act on the state
 * @check_data: data for @check
 * @timeout_usec: -1 to wait forever, 0 to check once
 * @cancellable: (nullable): a #GCancellable
 * @done: (scope async): called exactly once with the outcome
 * @done_data: data for @done
 *
 * Waits without blocking and without a thread: the caller's
 * thread-default main context polls one epoll fd per wait point, however
 * many waiters it has.  @check and @done run from that context's
 * dispatch, never from inside this call, even if the condition already
 * holds.
 */
void
mproc_wait_point_wait_async (MprocWaitPoint *wp,
                             MprocWaitCheck  check,
                             gpointer        check_data,
                             gint64          timeout_usec,
                             GCancellable   *cancellable,
                             MprocWaitDone   done,
                             gpointer        done_data)
{
  g_autoptr(GMainContext) context = NULL;
  MprocWaitCore *core;
  MprocWaitSource *source = NULL;
  MprocAsyncWaiter *w;
  GList *l;

  g_return_if_fail (wp != NULL);
  g_return_if_fail (wp->pid == getpid ());
  g_return_if_fail (check != NULL);
  g_return_if_fail (done != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  core = wp->core;
  context = g_main_context_ref_thread_default ();

  w = g_new0 (MprocAsyncWaiter, 1);
  w->link.data = w;
  w->core = core_ref (core);
  w->check = check;
  w->check_data = check_data;
  w->done = done;
  w->done_data = done_data;
  w->deadline = timeout_usec < 0 ? -1 : g_get_monotonic_time () + timeout_usec;
  w->state = WAITER_PENDING;
  w->fresh = TRUE;

  /* Connected before the waiter is queued: if already cancelled the
   * handler runs right here, only marks it, and the kick below does the
   * rest. */
  if (cancellable != NULL)
    {
      w->cancellable = g_object_ref (cancellable);
      w->cancelled_id = g_cancellable_connect (cancellable,
                                               G_CALLBACK (waiter_cancelled_cb),
                                               w, NULL);
    }

  g_mutex_lock (&core->mutex);

  for (l = core->sources; l != NULL; l = l->next)
    {
      if (((MprocWaitSource *) l->data)->context == context)
        {
          source = l->data;
          break;
        }
    }

  if (source == NULL)
    source = wait_source_new_locked (wp, context, &w->error);

  if (source == NULL)
    {
      GSource *idle;

      g_mutex_unlock (&core->mutex);

      /* Report the failure like any other outcome: later, from @context. */
      g_atomic_int_set (&w->state, WAITER_DONE);
      idle = g_idle_source_new ();
      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_static_name (idle, "[mproc] wait point failure");
      g_source_set_callback (idle, waiter_fail_idle_cb, w, NULL);
      g_source_attach (idle, context);
      g_source_unref (idle);
      return;
    }

  w->source = source;
  g_queue_push_tail_link (&source->waiters, &w->link);
  wait_source_kick_locked (source);
  g_mutex_unlock (&core->mutex);
}
