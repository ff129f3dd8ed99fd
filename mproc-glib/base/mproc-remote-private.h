/* mproc-remote-private.h: queues and locks whose state lives elsewhere
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An MprocQueue, MprocJoinableQueue or MprocLock made by a manager for a
 * URI (mproc_manager_new_queue()…) keeps no ring and no shared memory:
 * its methods hand over to the MprocRemote attached to it, whose class is
 * the engine's (redis/).  Each class method is optional; a method a
 * remote object lacks fails with G_IO_ERROR_NOT_SUPPORTED.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MprocRemote MprocRemote;

typedef struct
{
  /* queues */
  gboolean  (*put)       (MprocRemote   *remote,
                          GVariant      *value,
                          gint64         timeout_usec,
                          GCancellable  *cancellable,
                          GError       **error);
  GVariant *(*get)       (MprocRemote   *remote,
                          gint64         timeout_usec,
                          GCancellable  *cancellable,
                          GError       **error);
  gssize    (*qsize)     (MprocRemote   *remote,
                          GError       **error);
  gboolean  (*task_done) (MprocRemote   *remote,
                          GError       **error);
  gboolean  (*join)      (MprocRemote   *remote,
                          gint64         timeout_usec,
                          GCancellable  *cancellable,
                          GError       **error);
  /* Their asynchronous forms, with no thread behind them: they return
   * @task (taken; the object is its source, its cancellable the call's)
   * from the task's context, a boolean for put, the message for get. */
  void      (*put_async) (MprocRemote   *remote,
                          GVariant      *value,
                          gint64         timeout_usec,
                          GTask         *task);
  void      (*get_async) (MprocRemote   *remote,
                          gint64         timeout_usec,
                          GTask         *task);
  /* locks */
  gboolean  (*acquire)   (MprocRemote   *remote,
                          gint64         timeout_usec,
                          GCancellable  *cancellable,
                          GError       **error);
  gboolean  (*release)   (MprocRemote   *remote,
                          GError       **error);
  gboolean  (*is_owned)  (MprocRemote   *remote);
  /* returns @task (taken) with acquire's boolean and error */
  void      (*acquire_async) (MprocRemote *remote,
                              gint64       timeout_usec,
                              GTask       *task);
  /* events: set (TRUE) or clear; wait() is FALSE without @error on timeout */
  void      (*event_set) (MprocRemote   *remote,
                          gboolean       value);
  gboolean  (*event_is_set) (MprocRemote *remote);
  gboolean  (*event_wait) (MprocRemote  *remote,
                          gint64         timeout_usec,
                          GCancellable  *cancellable,
                          GError       **error);
  /* returns @task (taken) with event_wait's boolean, as put_async does */
  void      (*event_wait_async) (MprocRemote *remote,
                                 gint64       timeout_usec,
                                 GTask       *task);
  void      (*free)      (MprocRemote   *remote);
} MprocRemoteClass;

struct _MprocRemote
{
  const MprocRemoteClass *klass;
};

/* The remote state of @object, or NULL (a local object). */
MprocRemote *mproc_remote_get            (gpointer      object);
/* Attaches @remote (taken) to @object. */
void         mproc_remote_set            (gpointer      object,
                                          MprocRemote  *remote);
void         mproc_remote_set_unsupported (GError     **error);

G_END_DECLS
