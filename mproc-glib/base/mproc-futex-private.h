/* mproc-futex-private.h: futexes on words in shared memory
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * These are *shared* futexes (no FUTEX_PRIVATE_FLAG): the words live in
 * MAP_SHARED memory mapped by several processes, and the kernel keys them
 * by (inode, offset), so a wake in one process reaches a waiter in another.
 * Most code should not use these directly but go through MprocWaitPoint
 * (mproc-waitable-private.h), which adds spinning, cancellation and async
 * waits on top.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

int      mproc_futex_wait   (guint32 *addr,
                             guint32  expected,
                             gint64   deadline_usec);
void     mproc_futex_wake   (guint32 *addr,
                             int      n_waiters);
gboolean mproc_spin_allowed (void);

/* One iteration of a spin loop: tells the CPU we are spinning (on x86,
 * PAUSE saves power and lets the sibling hyperthread run, ~30 ns on the
 * target machines); elsewhere at least stops the compiler from hoisting
 * loads out of the loop. */
static inline void
mproc_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield" ::: "memory");
#else
  __asm__ __volatile__ ("" ::: "memory");
#endif
}

G_END_DECLS
