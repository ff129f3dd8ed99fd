/* mproc-manager-private.h: the proxies' plumbing (the protocol is in
 * mproc-manager-protocol-private.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>

#include "mproc-manager.h"
#include "mproc-manager-protocol-private.h"

G_BEGIN_DECLS

/* --- Proxies ------------------------------------------------------------ */

typedef void (*MprocProxyEventFunc) (GObject  *proxy,
                                     guint     kind,
                                     GVariant *payload);

typedef struct _MprocProxyWatcher MprocProxyWatcher;
typedef struct _MprocManagerTransport MprocManagerTransport;

typedef struct
{
  MprocManager      *manager;
  guint64            id;
  MprocManagerKind   kind;
  GPid               ref_pid;      /* process whose connection holds our server ref */
  GMutex             lock;
  MprocProxyWatcher *watcher;      /* non-NULL while watched (this process) */
  gpointer           view;         /* MprocView: dict, namespace; mapped on first read */
  gboolean           view_failed;  /* no view (TCP, list, too large): round trips */
  const MprocManagerTransport *transport;  /* NULL: the built-in one */
  gpointer           remote;       /* the transport's state of the object */
} MprocProxyCore;

gboolean  mproc_proxy_core_init_new    (MprocProxyCore   *core,
                                        MprocManager     *manager,
                                        MprocManagerKind  kind,
                                        const char       *name,
                                        GCancellable     *cancellable,
                                        GError          **error);
void      mproc_proxy_core_clear       (MprocProxyCore   *core);
GVariant *mproc_proxy_core_serialize   (MprocProxyCore   *core);
gboolean  mproc_proxy_core_deserialize (MprocProxyCore   *core,
                                        MprocManagerKind  kind,
                                        GVariant         *handle,
                                        GError          **error);

/* @args is floating or owned (taken, g_variant_take_ref()); NULL means "()".  With @reply NULL the request
 * is pipelined (no reply).  @reply receives the result value. */
gboolean  mproc_proxy_call             (MprocProxyCore   *core,
                                        guint             op,
                                        GVariant         *args,
                                        GVariant        **reply,
                                        GCancellable     *cancellable,
                                        GError          **error);
void      mproc_proxy_call_async       (MprocProxyCore   *core,
                                        gpointer          source_object,
                                        gpointer          source_tag,
                                        guint             op,
                                        GVariant         *args,
                                        gboolean          want_reply,
                                        GCancellable     *cancellable,
                                        GAsyncReadyCallback callback,
                                        gpointer          user_data);
/* Returns the reply value ("()" for a pipelined call) or NULL with @error. */
GVariant *mproc_proxy_call_finish      (gpointer          source_object,
                                        GAsyncResult     *result,
                                        gpointer          source_tag,
                                        GError          **error);

/* Reads without a round trip (mproc-manager-view-private.h): after this
 * process's and every causally earlier write is applied, looks @key up in
 * the object's view.  Returns FALSE with @error (the server is gone), or
 * TRUE with *@found: 1 found (@value_out set), 0 missing, -1 unavailable
 * (the caller makes the request instead). */
gboolean  mproc_proxy_view_lookup      (MprocProxyCore   *core,
                                        GVariant         *key,
                                        GVariant        **value_out,
                                        int              *found,
                                        GError          **error);
/* The same for the number of entries: *@len is -1 when unavailable. */
gboolean  mproc_proxy_view_len         (MprocProxyCore   *core,
                                        gint64           *len,
                                        GError          **error);

/* Subscribes @proxy to the events of its object; @func runs in the
 * thread-default main context of the caller.  @snapshot receives the
 * object's state as of the subscription (for lists: "av").  Events after
 * that snapshot only are delivered. */
gboolean  mproc_proxy_watch            (MprocProxyCore     *core,
                                        GObject            *proxy,
                                        MprocProxyEventFunc func,
                                        GVariant          **snapshot,
                                        GCancellable       *cancellable,
                                        GError            **error);
void      mproc_proxy_unwatch          (MprocProxyCore     *core);
/* While watched: a fresh snapshot, after which events resume. */
gboolean  mproc_proxy_resync           (MprocProxyCore     *core,
                                        GVariant          **snapshot,
                                        GError            **error);
gboolean  mproc_proxy_is_watched       (MprocProxyCore     *core);

/* Replies: check the type, convert (errors: INVALID_MESSAGE). */
GVariant *mproc_proxy_reply_unbox      (GVariant         *reply,
                                        GError          **error);
gboolean  mproc_proxy_reply_boolean    (GVariant         *reply,
                                        gboolean         *out_value,
                                        GError          **error);
gssize    mproc_proxy_reply_count      (GVariant         *reply,
                                        GError          **error);
GVariant *mproc_proxy_reply_raw        (GVariant         *reply,
                                        const char       *type,
                                        GError          **error);
char    **mproc_proxy_reply_strv       (GVariant         *reply,
                                        GError          **error);

/* Tests: a request with arbitrary contents, and raw bytes in the ring. */
gboolean  mproc_manager_call_raw       (MprocManager       *self,
                                        guint               op,
                                        guint64             object,
                                        GVariant           *args,
                                        GVariant          **reply,
                                        GError            **error);
void      mproc_manager_inject_raw     (MprocManager       *self,
                                        const void         *data,
                                        gsize               size);
guint64   mproc_proxy_get_id           (gpointer            proxy);

G_END_DECLS
