/* mproc-redis-private.h: the manager's objects in Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Keys (P: the prefix; {…}: a hash tag, so that one object's keys share a
 * cluster slot and its scripts stay atomic):
 *
 *   P:{meta}:names   HASH  "kind:name" -> object id
 *   P:{meta}:ids     counter of object ids
 *   P:{o<id>}:h      HASH  dict: boxed key -> boxed value;
 *                          namespace: name -> boxed value
 *   P:{o<id>}:l      LIST  boxed values
 *   P:{o<id>}:v      counter: the version of the object
 *   P:{o<id>}:o      ZSET  a hash's keys by insertion (dicts keep the order
 *                          they were first set in, as local ones do)
 *   P:{o<id>}:n      counter of insertions into :o
 *   P:{o<id>}:c      STREAM of changes, capped: s (version) and
 *                          k (a key or name) | a (all of it) for dicts and
 *                          namespaces; p, r, n (position, removed, added)
 *                          and v (each added value) or x (too many) for lists
 *
 * Every change is one script that changes the object, bumps its version
 * and appends to its change stream, so a watcher that reads the stream
 * from its last entry misses nothing, and sees a gap in the versions when
 * the stream was trimmed past it (then it starts again from a snapshot).
 * Values are boxed GVariants (`v` serialisation), checked for normal form
 * when read back.
 */

#pragma once

#include "mproc-manager-private.h"
#include "mproc-manager-transport-private.h"
#include "mproc-redis-client-private.h"

G_BEGIN_DECLS

typedef enum
{
  SCRIPT_CREATE,
  SCRIPT_DICT_SET,
  SCRIPT_DICT_SETDEFAULT,
  SCRIPT_DICT_REMOVE,
  SCRIPT_DICT_POP,
  SCRIPT_DICT_UPDATE,
  SCRIPT_CLEAR,
  SCRIPT_LIST_EXTEND,
  SCRIPT_LIST_INSERT,
  SCRIPT_LIST_SET,
  SCRIPT_LIST_POP,
  SCRIPT_LIST_REMOVE,
  SCRIPT_LIST_SLICE,
  SCRIPT_LIST_GET,
  SCRIPT_DICT_ITEMS,
  SCRIPT_SNAPSHOT,
  SCRIPT_JQ_PUT,
  SCRIPT_JQ_DONE,
  SCRIPT_JQ_STATE,
  SCRIPT_JQ_QSIZE,
  SCRIPT_LOCK_ACQUIRE,
  SCRIPT_LOCK_RELEASE,
  SCRIPT_LOCK_RENEW,
  SCRIPT_EVENT_SET,
  SCRIPT_EVENT_STATE,
  N_SCRIPTS
} MprocRedisScript;

extern const char * const mproc_redis_scripts[N_SCRIPTS + 1];

/* A manager's link to its server: one per manager and process. */
typedef struct
{
  MprocRedisConfig *config;
  MprocRedisClient *client;
} MprocRedisBackend;

/* One object (MprocProxyCore.remote). */
typedef struct
{
  MprocRedisBackend *backend;   /* the manager's, alive while the core is */
  char              *hkey;      /* P:{o<id>}:h or :l */
  char              *vkey;
  char              *ckey;
  char              *okey;
  char              *nkey;
  gpointer           watcher;   /* RedisWatcher, mproc-redis-watch.c */
} MprocRedisObject;

/* An EVALSHA of @script on @n_keys keys (a NULL-terminated list). */
MprocRedisCmd *mproc_redis_eval          (MprocRedisClient  *client,
                                          MprocRedisScript   script,
                                          ...) G_GNUC_NULL_TERMINATED;

/* The manager's link, or NULL with G_IO_ERROR_NOT_SUPPORTED (a manager
 * of its own server process). */
MprocRedisBackend *mproc_redis_backend_for (MprocManager  *manager,
                                            GError       **error);

/* An EVALSHA of @script on @obj's keys; add the ARGVs after. */
MprocRedisCmd *mproc_redis_object_eval   (MprocRedisObject  *obj,
                                          MprocRedisScript   script);

/* mproc-redis-ops.c */
gboolean  mproc_redis_ops_call        (MprocProxyCore      *core,
                                       guint                op,
                                       GVariant            *args,
                                       GVariant           **reply,
                                       GCancellable        *cancellable,
                                       GError             **error);
void      mproc_redis_ops_call_async  (MprocProxyCore      *core,
                                       guint                op,
                                       GVariant            *args,
                                       gboolean             want_reply,
                                       GTask               *task);

/* mproc-redis-watch.c */
gboolean  mproc_redis_watch           (MprocProxyCore      *core,
                                       GObject             *proxy,
                                       MprocProxyEventFunc  func,
                                       GVariant           **snapshot,
                                       GCancellable        *cancellable,
                                       GError             **error);
gboolean  mproc_redis_resync          (MprocProxyCore      *core,
                                       GVariant           **snapshot,
                                       GError             **error);
void      mproc_redis_unwatch         (MprocProxyCore      *core);
gboolean  mproc_redis_is_watched      (MprocProxyCore      *core);
/* The object's snapshot ("av", empty but for lists) and version. */
GVariant *mproc_redis_snapshot        (MprocRedisObject    *obj,
                                       MprocManagerKind     kind,
                                       guint64             *version,
                                       char               **last_id,
                                       GCancellable        *cancellable,
                                       GError             **error);

/* The transport table's entry for redis:// and rediss:// URIs. */
extern const MprocManagerTransport mproc_redis_transport;
gboolean      mproc_redis_uri_matches     (const char          *address);
MprocManager *mproc_redis_manager_for_uri (const char          *uri,
                                           GError             **error);

G_END_DECLS
