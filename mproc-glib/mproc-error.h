/* mproc-error.h: the MPROC_ERROR domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <glib.h>

#include "mproc-version-macros.h"

G_BEGIN_DECLS

/**
 * MPROC_ERROR:
 *
 * The error domain of mproc-glib.
 *
 * Since: 1.0
 */
#define MPROC_ERROR (mproc_error_quark ())

/**
 * MprocError:
 * @MPROC_ERROR_FAILED: a failure with no more specific code
 * @MPROC_ERROR_UNKNOWN_TARGET: no target of that name is registered
 * @MPROC_ERROR_START_METHOD_UNAVAILABLE: the start method cannot be used in this program
 * @MPROC_ERROR_INVALID_MESSAGE: received bytes are not a valid message
 * @MPROC_ERROR_BROKEN: the peer (a fork server, a manager, a pipe's other end) is gone
 * @MPROC_ERROR_TIMED_OUT: the operation did not complete in the given time
 * @MPROC_ERROR_STILL_RUNNING: the process has not exited yet
 *
 * Error codes in the %MPROC_ERROR domain. Cancellation is always reported as
 * %G_IO_ERROR_CANCELLED.
 *
 * Since: 1.0
 */
typedef enum
{
  MPROC_ERROR_FAILED,
  MPROC_ERROR_UNKNOWN_TARGET,
  MPROC_ERROR_START_METHOD_UNAVAILABLE,
  MPROC_ERROR_INVALID_MESSAGE,
  MPROC_ERROR_BROKEN,
  MPROC_ERROR_TIMED_OUT,
  MPROC_ERROR_STILL_RUNNING,
} MprocError;

MPROC_AVAILABLE_IN_1_0
GQuark mproc_error_quark (void);

G_END_DECLS
