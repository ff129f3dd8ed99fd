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
 * Since: 0.1
 * Stability: Unstable
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
 * @MPROC_ERROR_CLOSED: the object was closed
 * @MPROC_ERROR_FULL: a bounded queue is full (Python's `queue.Full`)
 * @MPROC_ERROR_EMPTY: a queue is empty (Python's `queue.Empty`)
 * @MPROC_ERROR_OWNER_DIED: the process holding a lock died; the lock now
 *   belongs to the caller, and what it protects may be inconsistent
 * @MPROC_ERROR_NOT_OWNER: releasing a lock, or waiting on or notifying a
 *   condition whose lock, the caller does not hold
 * @MPROC_ERROR_TOO_MANY_RELEASES: a bounded semaphore released above its
 *   initial value, or task_done() called more times than items were put
 * @MPROC_ERROR_BROKEN_BARRIER: the barrier was aborted or a participant
 *   timed out or died
 * @MPROC_ERROR_WORKER_DIED: a pool worker died (killed, crashed or exited)
 *   while it ran the task
 * @MPROC_ERROR_NOT_FOUND: a manager's object has no such key, attribute,
 *   item or published name
 * @MPROC_ERROR_ACCESS_DENIED: a manager refused the connection
 * @MPROC_ERROR_INVALID_STATE: the object is not in a state that allows the
 *   call (a process started twice or used after close(), a pool joined
 *   while still open);
 *   Python raises `ValueError`, `AssertionError` or `RuntimeError` there.
 *   Since: 0.1
 *   Stability: Unstable
 *
 * Error codes in the %MPROC_ERROR domain. Cancellation is always reported as
 * %G_IO_ERROR_CANCELLED.
 *
 * Since: 0.1
 * Stability: Unstable
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
  MPROC_ERROR_CLOSED,
  MPROC_ERROR_FULL,
  MPROC_ERROR_EMPTY,
  MPROC_ERROR_OWNER_DIED,
  MPROC_ERROR_NOT_OWNER,
  MPROC_ERROR_TOO_MANY_RELEASES,
  MPROC_ERROR_BROKEN_BARRIER,
  MPROC_ERROR_WORKER_DIED,
  MPROC_ERROR_NOT_FOUND,
  MPROC_ERROR_ACCESS_DENIED,
  MPROC_ERROR_INVALID_STATE,
} MprocError;

MPROC_AVAILABLE_IN_1_0
GQuark mproc_error_quark (void);

G_END_DECLS
