/* mproc-futex.c: futexes on words in shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "mproc-futex-private.h"

/*
 * mproc_futex_wait:
 * @addr: a futex word in shared memory
 * @expected: the value the caller last saw in *@addr
 * @deadline_usec: absolute deadline in g_get_monotonic_time() µs, or -1
 *
 * Sleeps while *@addr == @expected, until woken, until the deadline, or
 * until a signal arrives.  FUTEX_WAIT_BITSET is used rather than FUTEX_WAIT
 * because it takes an *absolute* CLOCK_MONOTONIC time (the clock
 * g_get_monotonic_time() reads), so retrying after EINTR or a spurious
 * wake-up never stretches the deadline.
 *
 * Returns: 0 when woken or when *@addr no longer held @expected (EAGAIN is
 *   folded into 0: for the caller both mean "re-check"), %ETIMEDOUT, or
 *   %EINTR.  Any other failure means a bad address or a kernel without
 *   futexes, a programming error, and aborts.
 */
int
mproc_futex_wait (guint32 *addr,
                  guint32  expected,
                  gint64   deadline_usec)
{
  struct timespec ts;
  struct timespec *tsp = NULL;
  long r;
  int errsv;

  if (deadline_usec >= 0)
    {
      ts.tv_sec = deadline_usec / G_USEC_PER_SEC;
      ts.tv_nsec = (deadline_usec % G_USEC_PER_SEC) * 1000;
      tsp = &ts;
    }

  r = syscall (SYS_futex, addr, FUTEX_WAIT_BITSET, expected, tsp, NULL,
               FUTEX_BITSET_MATCH_ANY);
  if (r == 0)
    return 0;

  errsv = errno;
  switch (errsv)
    {
    case EAGAIN:
      return 0;
    case ETIMEDOUT:
    case EINTR:
      return errsv;
    default:
      g_error ("futex wait on %p failed: %s", (void *) addr, g_strerror (errsv));
      return errsv;
    }
}

/*
 * mproc_futex_wake:
 * @addr: a futex word in shared memory
 * @n_waiters: how many sleepers to wake, %G_MAXINT for all
 *
 * Always a system call: callers should only wake when they know someone
 * sleeps (see MprocWaitShared.n_sleepers).
 */
void
mproc_futex_wake (guint32 *addr,
                  int      n_waiters)
{
  long r;

  g_return_if_fail (n_waiters > 0);

  r = syscall (SYS_futex, addr, FUTEX_WAKE, n_waiters, NULL, NULL, 0);
  if (r < 0)
    {
      int errsv = errno;

      g_error ("futex wake on %p failed: %s", (void *) addr, g_strerror (errsv));
    }
}

/*
 * mproc_spin_allowed:
 *
 * Whether a waiter may spin before it sleeps.  Spinning only pays when the
 * thread that will change the state can run at the same time as the
 * spinner; on one CPU the spinner holds the very CPU its peer needs, so
 * every spin is pure loss (measured: a ping-pong under `taskset -c 0`
 * takes 5 µs per round trip without spinning, 15 µs with a 5 µs spin).
 * On Linux, GLib 2.74's g_get_num_processors() counts online CPUs and
 * ignores the affinity mask, so the mask (which also reflects cpusets) is
 * consulted too.  Computed once: a later change of affinity is not seen.
 */
gboolean
mproc_spin_allowed (void)
{
  static gsize allowed = 0;   /* 0 unknown, 1 no, 2 yes */

  if (g_once_init_enter (&allowed))
    {
      guint n_cpus = g_get_num_processors ();
      cpu_set_t set;

      CPU_ZERO (&set);
      if (sched_getaffinity (0, sizeof set, &set) == 0)
        n_cpus = MIN (n_cpus, (guint) CPU_COUNT (&set));

      g_once_init_leave (&allowed, n_cpus > 1 ? 2 : 1);
    }

  return allowed == 2;
}
