/* mproc-process.h: a target run in a child process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <gio/gio.h>

#include "mproc-context.h"
#include "mproc-shareable.h"
#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_PROCESS (mproc_process_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_DERIVABLE_TYPE (MprocProcess, mproc_process, MPROC, PROCESS, GObject)

/**
 * MprocProcessClass:
 * @parent_class: the parent class
 * @run: runs in the child process and returns its exit code; the default
 *   calls the registered target named by [property@Mproc.Process:target]
 *
 * The class of [class@Mproc.Process]. Override @run in a subclass to give a
 * process its own behaviour, as a Python program subclasses `Process`.
 *
 * Since: 0.1
 * Stability: Unstable
 */
struct _MprocProcessClass
{
  GObjectClass parent_class;

  int (*run) (MprocProcess *self);

  /*< private >*/
  gpointer _reserved[8];
};

/**
 * MprocTargetFunc:
 * @process: the process running the target, in the child; its arguments are
 *   [method@Mproc.Process.get_args] and its shared objects
 *   [method@Mproc.Process.get_object]
 * @args: (nullable): the arguments the process was created with
 * @user_data: the data given to [func@Mproc.register_target]
 *
 * A function run in a child process.
 *
 * Returns: the exit code of the child process
 *
 * Since: 0.1
 * Stability: Unstable
 */
typedef int (*MprocTargetFunc) (MprocProcess *process,
                                GVariant     *args,
                                gpointer      user_data);

MPROC_AVAILABLE_IN_1_0
MprocProcess   *mproc_process_new              (const char          *target,
                                                GVariant            *args) G_GNUC_WARN_UNUSED_RESULT;
MPROC_AVAILABLE_IN_1_0
MprocProcess   *mproc_process_new_with_context (MprocContext        *context,
                                                const char          *target,
                                                GVariant            *args) G_GNUC_WARN_UNUSED_RESULT;

MPROC_AVAILABLE_IN_1_0
MprocContext   *mproc_process_get_context      (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
const char     *mproc_process_get_target       (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
GVariant       *mproc_process_get_args         (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
const char     *mproc_process_get_name         (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_process_set_name         (MprocProcess        *self,
                                                const char          *name);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_get_daemon       (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_process_set_daemon       (MprocProcess        *self,
                                                gboolean             daemon);
MPROC_AVAILABLE_IN_1_0
GPid            mproc_process_get_pid          (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_has_exited       (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
int             mproc_process_get_exit_code    (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_is_alive         (MprocProcess        *self);

MPROC_AVAILABLE_IN_1_0
void            mproc_process_add_object       (MprocProcess        *self,
                                                MprocShareable      *object);
MPROC_AVAILABLE_IN_1_0
guint           mproc_process_get_n_objects    (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
gpointer        mproc_process_get_object       (MprocProcess        *self,
                                                guint                index);

MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_start            (MprocProcess        *self,
                                                GError             **error);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_join             (MprocProcess        *self,
                                                gint64               timeout_usec,
                                                GCancellable        *cancellable,
                                                GError             **error);
MPROC_AVAILABLE_IN_0_2
void            mproc_process_join_async       (MprocProcess        *self,
                                                gint64               timeout_usec,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_join_finish      (MprocProcess        *self,
                                                GAsyncResult        *result,
                                                GError             **error);
MPROC_AVAILABLE_IN_1_0
void            mproc_process_terminate        (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
void            mproc_process_kill             (MprocProcess        *self);
MPROC_AVAILABLE_IN_1_0
gboolean        mproc_process_close            (MprocProcess        *self,
                                                GError             **error);

G_END_DECLS
