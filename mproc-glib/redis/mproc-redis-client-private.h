/* mproc-redis-client-private.h: a connection to a Redis (or Valkey) server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The protocol (RESP2) is libhiredis's: its reply reader (redisReader) and
 * its command encoder (redisFormatCommandArgv), a maintained and fuzzed
 * parser.  The connection is GIO's: a GSocketClient to a unix socket or a
 * TCP address (TLS through GTlsClientConnection), non-blocking reads and
 * writes, a deadline per call, GCancellable, and _async calls completed in
 * the caller's thread-default main context from a GSource on the socket
 * (no thread).  Calls are pipelined: each writes its command at once and
 * replies are matched to calls in order.  A call that times out or is
 * cancelled leaves its place in the line (its reply is read and dropped),
 * so the connection stays usable.
 *
 * A blocking command (BLMOVE, XREAD BLOCK…) gets a client of its own
 * (mproc_redis_client_new_blocking()): cancelling it closes that
 * connection, as CLIENT UNBLOCK is an @dangerous command.
 *
 * Errors: the connection lost or refused → MPROC_ERROR_BROKEN; NOAUTH,
 * WRONGPASS, NOPERM → MPROC_ERROR_ACCESS_DENIED; a deadline passed →
 * MPROC_ERROR_TIMED_OUT; any other error reply → MPROC_ERROR_FAILED with
 * the server's text.  Secrets never appear in messages.
 */

#pragma once

#include <gio/gio.h>
#include <hiredis/hiredis.h>

G_BEGIN_DECLS

/* --- Where the server is (mproc-redis-uri.c) ------------------------------ */

typedef struct
{
  char    *uri;           /* as given: what handles carry to children */
  char    *display;       /* host:port or the socket path, for messages */
  char    *host;          /* TCP, or NULL */
  guint16  port;
  char    *path;          /* unix socket, or NULL */
  gboolean tls;
  char    *tls_ca;        /* absolute path of the CA file, or NULL */
  char    *user;          /* ACL user, or NULL (default) */
  char    *password;      /* or NULL */
  guint    db;
  char    *prefix;        /* key prefix, "mproc" by default */
  gint64   timeout_usec;  /* per call */
  gint64   lease_usec;    /* of locks */
  gint64   worker_lease_usec;  /* of pool workers' heartbeats */
  guint    max_redeliveries;   /* of a dead pool worker's chunks */
} MprocRedisConfig;

/* Accepts redis://, rediss://, valkey://, valkeys:// ([user[:password]@]host[:port][/db])
 * and unix:/path, each with ?prefix=, ?db=, ?password-file=, ?tls-ca=,
 * ?timeout= (seconds), ?lease= (seconds, of locks), ?worker-lease= (seconds,
 * of pool workers), ?max-redeliveries= (of a dead pool worker's chunks). */
MprocRedisConfig *mproc_redis_config_parse  (const char        *uri,
                                             GError           **error);
void              mproc_redis_config_free   (MprocRedisConfig  *config);
/* Whether @address names a Redis server (by its scheme). */
gboolean          mproc_redis_uri_is_redis  (const char        *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocRedisConfig, mproc_redis_config_free)

/* --- Commands --------------------------------------------------------------- */

/* A command being built: its arguments, binary-safe. */
typedef struct _MprocRedisCmd MprocRedisCmd;

MprocRedisCmd *mproc_redis_cmd_new        (const char     *name);
void           mproc_redis_cmd_free       (MprocRedisCmd  *cmd);
void           mproc_redis_cmd_add        (MprocRedisCmd  *cmd,
                                           const void     *data,
                                           gsize           size);
void           mproc_redis_cmd_add_str    (MprocRedisCmd  *cmd,
                                           const char     *str);
void           mproc_redis_cmd_add_int    (MprocRedisCmd  *cmd,
                                           gint64          value);
/* The `v` serialisation of @value (its data, a NUL, its type). */
void           mproc_redis_cmd_add_boxed  (MprocRedisCmd  *cmd,
                                           GVariant       *value);
/* The RESP encoding (redisFormatCommandArgv). */
GBytes        *mproc_redis_cmd_encode     (MprocRedisCmd  *cmd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocRedisCmd, mproc_redis_cmd_free)

/* --- Replies (mproc-redis-reply.c) ------------------------------------------ */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (redisReply, freeReplyObject)

/* FALSE with @error if @reply is an error reply (mapped as above). */
gboolean  mproc_redis_reply_check         (redisReply       *reply,
                                           GError          **error);
/* A boxed value read back: a `v` in normal form, or NULL with
 * MPROC_ERROR_INVALID_MESSAGE. */
GVariant *mproc_redis_reply_boxed         (const char       *data,
                                           gsize             size,
                                           GError          **error);
void      mproc_redis_set_malformed       (GError          **error);

/* --- The connection (mproc-redis-client.c) ---------------------------------- */

typedef struct _MprocRedisClient MprocRedisClient;

/* Not connected yet; the first call connects.  @scripts (nullable,
 * NULL-terminated Lua sources) are loaded on each connection. */
MprocRedisClient *mproc_redis_client_new          (const MprocRedisConfig *config,
                                                   const char * const     *scripts);
/* A client for one blocking command at a time; cancelling closes it. */
MprocRedisClient *mproc_redis_client_new_blocking (const MprocRedisConfig *config);
MprocRedisClient *mproc_redis_client_ref          (MprocRedisClient       *client);
void              mproc_redis_client_unref        (MprocRedisClient       *client);
/* Closes the connection; pending calls fail with MPROC_ERROR_CLOSED. */
void              mproc_redis_client_close        (MprocRedisClient       *client);

gboolean          mproc_redis_client_connect      (MprocRedisClient       *client,
                                                   GCancellable           *cancellable,
                                                   GError                **error);
void              mproc_redis_client_connect_async  (MprocRedisClient     *client,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean          mproc_redis_client_connect_finish (MprocRedisClient     *client,
                                                     GAsyncResult         *result,
                                                     GError              **error);

/* One command; returns its reply (never an error reply: that is @error),
 * or NULL with @error.  @timeout_usec < 0: the configured one; 0: none. */
redisReply       *mproc_redis_client_call         (MprocRedisClient       *client,
                                                   MprocRedisCmd          *cmd,
                                                   gint64                  timeout_usec,
                                                   GCancellable           *cancellable,
                                                   GError                **error);
/* Pipelined, no reply wanted: an error reply of such a command is
 * reported by the next call on this client. */
gboolean          mproc_redis_client_send         (MprocRedisClient       *client,
                                                   MprocRedisCmd          *cmd,
                                                   GCancellable           *cancellable,
                                                   GError                **error);
void              mproc_redis_client_call_async   (MprocRedisClient       *client,
                                                   MprocRedisCmd          *cmd,
                                                   gint64                  timeout_usec,
                                                   GCancellable           *cancellable,
                                                   GAsyncReadyCallback     callback,
                                                   gpointer                user_data);
redisReply       *mproc_redis_client_call_finish  (MprocRedisClient       *client,
                                                   GAsyncResult           *result,
                                                   GError                **error);
/* The SHA1 of script @index given to mproc_redis_client_new(). */
const char       *mproc_redis_client_script_sha   (MprocRedisClient       *client,
                                                   guint                   index);
const MprocRedisConfig *mproc_redis_client_get_config (MprocRedisClient   *client);
/* Whether the connection is up (idle: one non-blocking read tells). */
gboolean          mproc_redis_client_is_open      (MprocRedisClient       *client);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MprocRedisClient, mproc_redis_client_unref)

G_END_DECLS
