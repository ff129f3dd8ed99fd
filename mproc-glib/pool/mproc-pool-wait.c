/* mproc-pool-wait.c: the pool's blocking calls
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-pool-parent-private.h"

#define SYNC_SPIN_USEC       30       /* blocking calls poll this long before sleeping */

/* --- Blocking waits: poll the workers directly ------------------------- */

gboolean
mproc_pool_wait (MprocPool     *self,
                 PoolDone       done,
                 gpointer       data,
                 gint64         timeout_usec,
                 GCancellable  *cancellable,
                 GError       **error)
{
  g_autofree struct pollfd *fds = NULL;
  g_autoptr(GPtrArray) polled = g_ptr_array_new ();
  gint64 deadline = timeout_usec >= 0 ? g_get_monotonic_time () + timeout_usec : G_MAXINT64;
  gboolean can_spin = g_get_num_processors () > 1;
  GPollFD cancel_fd = { -1, 0, 0 };
  gboolean have_cancel_fd = FALSE;
  gboolean ret = FALSE;
  gint64 spin_until = 0;

  if (self->backend != NULL)
    return self->backend->wait (self, done, data, timeout_usec, cancellable, error);

  g_object_ref (self);
  if (cancellable != NULL)
    have_cancel_fd = g_cancellable_make_pollfd (cancellable, &cancel_fd);

  for (;;)
    {
      gint64 now, next;
      guint n = 0;
      int r, poll_timeout;

      if (done (data))
        {
          ret = TRUE;
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        {
          g_set_error_literal (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT,
                               _("Timed out waiting for the pool"));
          break;
        }

      next = MIN (mproc_pool_check_timeouts (self, now), deadline);

      /* Spin a moment: a result that comes meanwhile costs no wake-up. */
      if (can_spin)
        {
          if (spin_until == 0)
            spin_until = now + SYNC_SPIN_USEC;
          if (now < spin_until)
            {
              for (guint i = 0; i < self->workers->len; i++)
                {
                  Worker *w = g_ptr_array_index (self->workers, i);

                  mproc_pool_worker_read (w);
                  if (w->out->len > w->out_start)
                    mproc_pool_worker_flush (w);
                }
              mproc_pool_dispatch (self);
              mproc_pool_check_idle (self);
              /* A worker that shares this CPU runs now rather than
               * after we sleep (as the workers' own spin does). */
              sched_yield ();
              continue;
            }
        }

      fds = g_renew (struct pollfd, fds, self->workers->len * 2 + 1);
      g_ptr_array_set_size (polled, 0);
      for (guint i = 0; i < self->workers->len; i++)
        {
          Worker *w = g_ptr_array_index (self->workers, i);

          fds[n].fd = w->fd;
          fds[n].events = POLLIN | (w->out->len > w->out_start ? POLLOUT : 0);
          fds[n + 1].fd = w->pidfd;
          fds[n + 1].events = POLLIN;
          fds[n].revents = fds[n + 1].revents = 0;
          n += 2;
          g_ptr_array_add (polled, w);
        }
      if (have_cancel_fd)
        {
          fds[n].fd = cancel_fd.fd;
          fds[n].events = POLLIN;
          fds[n].revents = 0;
          n++;
        }

      if (next == G_MAXINT64)
        poll_timeout = -1;
      else
        poll_timeout = (int) MIN ((next - now + 999) / 1000, G_MAXINT);

      r = poll (fds, n, poll_timeout);
      if (r < 0 && errno != EINTR)
        {
          int errsv = errno;
          g_set_error (error, MPROC_ERROR, MPROC_ERROR_FAILED,
                       _("Cannot wait for the pool: %s"), g_strerror (errsv));
          break;
        }
      if (r <= 0)
        continue;

      /* Workers may be replaced while we go: handle deaths last. */
      for (guint i = 0; i < polled->len; i++)
        {
          Worker *w = g_ptr_array_index (polled, i);

          if (fds[2 * i].revents & POLLIN)
            mproc_pool_worker_read (w);
          if (fds[2 * i].revents & POLLOUT)
            mproc_pool_worker_flush (w);
        }
      for (guint i = 0; i < polled->len; i++)
        {
          Worker *w = g_ptr_array_index (polled, i);

          if (fds[2 * i + 1].revents & POLLIN)
            mproc_pool_worker_died (w);
        }
      mproc_pool_dispatch (self);
      mproc_pool_check_idle (self);
      spin_until = 0;
    }

  if (have_cancel_fd)
    g_cancellable_release_fd (cancellable);
  mproc_pool_arm_timeouts (self);
  g_object_unref (self);
  return ret;
}

static gboolean
call_is_finished (gpointer data)
{
  return ((Call *) data)->finished;
}

/* Runs @call to its end without iterating any main context. */
GVariant *
mproc_pool_run_sync (MprocPool     *self,
                     Call          *call,
                     GCancellable  *cancellable,
                     GError       **error)
{
  mproc_pool_submit (self, call);
  if (!mproc_pool_wait (self, call_is_finished, call, -1, cancellable, error))
    {
      if (!call->finished)
        mproc_pool_cancel_running (self, call);
      call->finished = TRUE;
      mproc_pool_call_drop_pending (call);
      return NULL;
    }
  if (call->error != NULL)
    {
      g_propagate_error (error, g_error_copy (call->error));
      return NULL;
    }
  return mproc_pool_call_build_result (call);
}
