/* mproc-manager-transport-private.h: what a manager's proxies talk to
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * MprocDict, MprocList and MprocNamespace make the same requests (an op
 * and its arguments, mproc-manager-private.h) and expect the same replies
 * whatever holds their object.  A manager with no transport set is the
 * built-in one: its own server process, reached over the rings or TCP
 * (mproc-manager-client.c, mproc-manager-tcp.c).  Any other engine is an
 * entry of this table, set on the manager when it is made for a URI; its
 * per-object state lives in MprocProxyCore.remote.
 */

#pragma once

#include <gio/gio.h>

#include "mproc-manager.h"
#include "mproc-manager-private.h"

G_BEGIN_DECLS

struct _MprocManagerTransport
{
  const char *name;
  /* Finds or creates the object @name (NULL: a new anonymous one) of
   * core->kind; sets core->id and core->remote. */
  gboolean  (*open)        (MprocProxyCore      *core,
                            const char          *name,
                            GCancellable        *cancellable,
                            GError             **error);
  /* An object met in a handle (core->id, core->kind set). */
  gboolean  (*attach)      (MprocProxyCore      *core,
                            GError             **error);
  /* @args owned (never floating); @reply NULL: no reply wanted. */
  gboolean  (*call)        (MprocProxyCore      *core,
                            guint                op,
                            GVariant            *args,
                            GVariant           **reply,
                            GCancellable        *cancellable,
                            GError             **error);
  /* Returns @task (its value a GVariant, "()" without a reply) from the
   * task's context; @args owned. */
  void      (*call_async)  (MprocProxyCore      *core,
                            guint                op,
                            GVariant            *args,
                            gboolean             want_reply,
                            GTask               *task);
  gboolean  (*watch)       (MprocProxyCore      *core,
                            GObject             *proxy,
                            MprocProxyEventFunc  func,
                            GVariant           **snapshot,
                            GCancellable        *cancellable,
                            GError             **error);
  gboolean  (*resync)      (MprocProxyCore      *core,
                            GVariant           **snapshot,
                            GError             **error);
  void      (*unwatch)     (MprocProxyCore      *core);
  gboolean  (*is_watched)  (MprocProxyCore      *core);
  void      (*close)       (MprocProxyCore      *core);
  /* The address handles carry (the manager's URI). */
  const char *(*address)   (MprocManager        *manager);
  /* Whether @address (a handle's) is one of this engine's URIs. */
  gboolean  (*claims)      (const char          *address);
  /* The manager of this process for @address, which it claims. */
  MprocManager *(*manager_for_address) (const char  *address,
                                        GError     **error);
  /* MprocManager:timeout changed (-1: the engine's own default). */
  void      (*set_timeout) (MprocManager        *manager,
                            int                  timeout_ms);
};

/* The table's entries, NULL-terminated: each engine lives in a layer above
 * this one, so the table is defined on top of them all (mproc-builtins.c). */
extern const MprocManagerTransport * const mproc_builtin_transports[];

/* NULL: the built-in transport. */
const MprocManagerTransport *mproc_manager_get_transport      (MprocManager                *self);
gpointer                     mproc_manager_get_transport_data (MprocManager                *self);
void                         mproc_manager_set_transport      (MprocManager                *self,
                                                               const MprocManagerTransport *transport,
                                                               gpointer                     data,
                                                               GDestroyNotify               destroy);
/* The manager of this process for @address if a transport of the table
 * claims it (by its scheme), else NULL. */
MprocManager                *mproc_manager_transport_for_address (const char           *address,
                                                                  GError              **error);

/* Set, it makes mproc_manager_start() connect to this URI instead of
 * starting a server: programs written for a local manager run on Redis. */
#define MPROC_MANAGER_URI_ENV "MPROC_MANAGER_URI"
/* Binds @manager, not started, to the Redis server at @uri and connects;
 * the async form returns @task (taken, @manager its source) with a
 * boolean, from the task's context. */
gboolean                     mproc_redis_manager_start_for_uri (MprocManager              *manager,
                                                                const char                *uri,
                                                                GCancellable              *cancellable,
                                                                GError                   **error);
void                         mproc_redis_manager_start_for_uri_async (MprocManager        *manager,
                                                                      const char          *uri,
                                                                      GTask               *task);

G_END_DECLS
