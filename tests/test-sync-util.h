/* test-sync-util.h: helpers of the synchronisation tests (#5)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <stdarg.h>
#include <unistd.h>

#include <mproc.h>

#include "test-util.h"

/* Starts @target under the start method of index @method with @args and
 * the shared objects given (NULL-terminated). */
static inline MprocProcess *
sync_start (gconstpointer  method,
            const char    *target,
            GVariant      *args,
            ...)
{
  g_autoptr(MprocContext) context = mproc_context_new (GPOINTER_TO_INT (method));
  g_autoptr(GError) error = NULL;
  MprocProcess *process = mproc_process_new_with_context (context, target, args);
  va_list ap;
  gpointer object;

  va_start (ap, args);
  while ((object = va_arg (ap, gpointer)) != NULL)
    mproc_process_add_object (process, MPROC_SHAREABLE (object));
  va_end (ap);

  g_assert_true (mproc_process_start (process, &error));
  g_assert_no_error (error);
  return process;
}

static inline void
sync_join (MprocProcess *process,
           int           expected_code)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (mproc_process_join (process, 30 * G_USEC_PER_SEC, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mproc_process_get_exit_code (process), ==, expected_code);
}





/* Waits (polling, test only) until @value reaches @expected. */
static inline void
sync_wait_value (MprocValue *value,
                 gint64      expected)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (mproc_value_get_int (value) != expected)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

typedef struct
{
  GCancellable *cancellable;
  guint         msec;
} SyncCancelLater;

static inline gpointer
sync_cancel_thread (gpointer data)
{
  SyncCancelLater *cl = data;

  g_usleep (cl->msec * 1000);
  g_cancellable_cancel (cl->cancellable);
  g_object_unref (cl->cancellable);
  g_free (cl);
  return NULL;
}

/* Cancels @cancellable from another thread after @msec; join the thread. */
static inline GThread *
sync_cancel_later (GCancellable *cancellable,
                   guint         msec)
{
  SyncCancelLater *cl = g_new0 (SyncCancelLater, 1);

  cl->cancellable = g_object_ref (cancellable);
  cl->msec = msec;
  return g_thread_new ("canceller", sync_cancel_thread, cl);
}
