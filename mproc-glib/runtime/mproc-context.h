/* mproc-context.h: how child processes are started
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <glib-object.h>

#include "mproc-version-macros.h"

G_BEGIN_DECLS

/**
 * MprocStartMethod:
 * @MPROC_START_METHOD_FORK: the child is a fork() of the parent and runs the
 *   target at once. Fast, but unsafe once the parent has threads.
 * @MPROC_START_METHOD_SPAWN: the child is a fresh execution of the program
 *   itself, which must call [func@Mproc.init] at the top of main().
 * @MPROC_START_METHOD_FORKSERVER: the child is forked from a single-threaded
 *   server process, itself a fresh execution of the program, started the first
 *   time it is needed. Fast and safe in threaded programs; needs [func@Mproc.init].
 *
 * How a [class@Mproc.Process] is started, as in Python's `multiprocessing`.
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef enum
{
  MPROC_START_METHOD_FORK,
  MPROC_START_METHOD_SPAWN,
  MPROC_START_METHOD_FORKSERVER,
} MprocStartMethod;

#define MPROC_TYPE_CONTEXT (mproc_context_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (MprocContext, mproc_context, MPROC, CONTEXT, GObject)

MPROC_AVAILABLE_IN_1_0
MprocContext     *mproc_context_new              (MprocStartMethod  start_method) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocContext     *mproc_context_get_default      (void);
MPROC_AVAILABLE_IN_1_0
MprocStartMethod  mproc_context_get_start_method (MprocContext     *self);

G_END_DECLS
