/* mproc-initable.c: GInitable::init run once, when built or on first use
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See mproc-initable-private.h.
 */

#include "config.h"

#include "mproc-initable-private.h"

gboolean
mproc_init_once_run (MprocInitOnce  *once,
                     GInitable      *initable,
                     MprocInitFunc   func,
                     GCancellable   *cancellable,
                     GError        **error)
{
  if (g_once_init_enter (&once->done))
    {
      GError *local_error = NULL;

      if (!func (initable, cancellable, &local_error))
        once->error = local_error;
      g_once_init_leave (&once->done, 1);
    }

  if (once->error != NULL)
    {
      g_propagate_error (error, g_error_copy (once->error));
      return FALSE;
    }
  return TRUE;
}

gboolean
mproc_init_once_ensure (MprocInitOnce  *once,
                        GInitable      *initable,
                        GError        **error)
{
  g_autoptr(GError) local_error = NULL;

  if (MPROC_INIT_ONCE_READY (once))
    return TRUE;

  if (g_initable_init (initable, NULL, error != NULL ? error : &local_error))
    return TRUE;
  if (error == NULL)
    g_warning ("%s", local_error->message);
  return FALSE;
}

gboolean
mproc_init_once_ensure_task (MprocInitOnce *once,
                             GInitable     *initable,
                             GTask         *task)
{
  GError *error = NULL;

  if (mproc_init_once_ensure (once, initable, &error))
    return TRUE;
  g_task_return_error (task, error);
  g_object_unref (task);
  return FALSE;
}

void
mproc_init_once_mark_done (MprocInitOnce *once)
{
  if (g_once_init_enter (&once->done))
    g_once_init_leave (&once->done, 1);
}

void
mproc_init_once_clear (MprocInitOnce *once)
{
  g_clear_error (&once->error);
}
