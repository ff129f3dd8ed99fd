/* mproc-manager-protocol-private.h: the manager's protocol, shared by the
 * server and the client side above it, and the server's hooks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Transport.  A client connects to the server's unix socket (abstract
 * name, peer uid checked on both sides with SO_PEERCRED) and says hello;
 * the server answers with a memfd holding three message rings
 * (mproc-ring-private.h) and their eventfds, and the order page with this
 * client's slot in it (mproc-manager-view-private.h):
 *
 *   requests  client -> server   "(utttv)": op, object id, serial, send
 *                                time (CLOCK_MONOTONIC ns), args
 *   replies   server -> client   "(tuv)":  serial, status, value
 *   events    server -> client   "(ttuv)": seq, object id, kind, payload
 *
 * After that the socket carries only the file descriptors of PUBLISH and
 * LOOKUP messages, and its hang-up is how each side learns that the other
 * is gone.  A request with serial 0 wants no reply (writes that cannot
 * fail: set, update, append, clear…): it is pipelined.  The server serves
 * the requests of all clients oldest first by send time, so a request is
 * served after every request it causally follows, whoever sent it.  Status 0 is success (value: the result);
 * any other status is an MprocError code + 1 and the value a string.
 */

#pragma once

#include <gio/gio.h>

#include "mproc-process.h"

G_BEGIN_DECLS

#define MPROC_MANAGER_SERVER_TARGET "mproc-manager-server"
#define MPROC_MANAGER_PROTOCOL      "mproc-manager-2"

typedef enum
{
  MPROC_MANAGER_KIND_DICT = 1,
  MPROC_MANAGER_KIND_LIST,
  MPROC_MANAGER_KIND_NAMESPACE,
} MprocManagerKind;

typedef enum
{
  /* object id 0: the manager itself */
  MANAGER_OP_PING = 1,          /* () -> () */
  MANAGER_OP_SHUTDOWN,          /* () -> () */
  MANAGER_OP_CREATE,            /* (us) kind, name ("" = anonymous) -> t id */
  MANAGER_OP_INCREF,            /* () on object, no reply */
  MANAGER_OP_DECREF,            /* () on object, no reply */
  MANAGER_OP_SUBSCRIBE,         /* () on object -> (t seq, av snapshot) */
  MANAGER_OP_UNSUBSCRIBE,       /* () on object, no reply */
  MANAGER_OP_SNAPSHOT,          /* () on object -> (t seq, av snapshot) */
  MANAGER_OP_PUBLISH,           /* (sv) name, description + fds -> () */
  MANAGER_OP_LOOKUP,            /* s name -> v description + fds */
  MANAGER_OP_UNPUBLISH,         /* s name -> () */
  MANAGER_OP_VIEW,              /* () on a dict or namespace -> () + fd of its view */
  MANAGER_OP_LISTEN_TCP = 50,   /* ay authkey + fd of a listening TCP socket -> () */

  DICT_OP_SET = 100,            /* (vv) */
  DICT_OP_GET,                  /* (vmv) key, default -> v or NOT_FOUND */
  DICT_OP_CONTAINS,             /* v key -> b */
  DICT_OP_REMOVE,               /* v key -> () or NOT_FOUND */
  DICT_OP_POP,                  /* (vmv) key, default -> v or NOT_FOUND */
  DICT_OP_SETDEFAULT,           /* (vv) -> v */
  DICT_OP_UPDATE,               /* a(vv) */
  DICT_OP_KEYS,                 /* () -> av */
  DICT_OP_VALUES,               /* () -> av */
  DICT_OP_ITEMS,                /* () -> a(vv) */
  DICT_OP_LEN,                  /* () -> t */
  DICT_OP_CLEAR,                /* () */
  DICT_OP_UPDATE_PACKED,        /* v: the caller's array of pairs, as it is (a{xx}, a(sv)…) */

  LIST_OP_APPEND = 200,         /* v */
  LIST_OP_EXTEND,               /* av */
  LIST_OP_INSERT,               /* (xv) */
  LIST_OP_GET,                  /* x -> v or NOT_FOUND */
  LIST_OP_SET,                  /* (xv) -> () or NOT_FOUND */
  LIST_OP_REMOVE,               /* v -> () or NOT_FOUND */
  LIST_OP_POP,                  /* x -> v or NOT_FOUND */
  LIST_OP_INDEX,                /* v -> t or NOT_FOUND */
  LIST_OP_COUNT,                /* v -> t */
  LIST_OP_LEN,                  /* () -> t */
  LIST_OP_SLICE,                /* (xx) -> av */
  LIST_OP_CLEAR,                /* () */

  NAMESPACE_OP_SET = 300,       /* (sv) */
  NAMESPACE_OP_GET,             /* s -> v or NOT_FOUND */
  NAMESPACE_OP_HAS,             /* s -> b */
  NAMESPACE_OP_DELETE,          /* s -> () or NOT_FOUND */
  NAMESPACE_OP_LIST,            /* () -> as */
} MprocManagerOp;

typedef enum
{
  MANAGER_EVENT_CHANGED = 1,    /* dict: mv key (nothing: many); namespace: ms name */
  MANAGER_EVENT_ITEMS,          /* list: (uuav) position, removed, added */
  MANAGER_EVENT_LOST,           /* () on object 0: the event ring overflowed */
} MprocManagerEvent;

/* TCP (mproc_manager_listen_tcp()).  After connect(), the server sends
 * "(say)" (MPROC_MANAGER_TCP_PROTOCOL, a random nonce); the client answers
 * "(ayay)": HMAC-SHA256 (authkey, CLIENT_LABEL nonce) and a nonce of its
 * own; the server either refuses ("(sv)" "error" (us)) and hangs up, or
 * says "(sv)" "ok" (ayu): HMAC-SHA256 (authkey, SERVER_LABEL client nonce)
 * and its pid, which the client checks in turn.  Then each request is one
 * frame "(utttv)" and each reply one frame "(tuv)", as in the rings. */
#define MPROC_MANAGER_TCP_PROTOCOL     "mproc-manager-tcp-1"
#define MPROC_MANAGER_TCP_CLIENT_LABEL "mproc-manager-tcp-1 client"
#define MPROC_MANAGER_TCP_SERVER_LABEL "mproc-manager-tcp-1 server"
#define MPROC_MANAGER_TCP_NONCE_SIZE   32
#define MPROC_MANAGER_TCP_MAX_MESSAGE  (64 * 1024 * 1024)

/* HMAC-SHA256 (@key, @label @nonce) as bytes. */
GBytes   *mproc_manager_auth_digest (GBytes       *key,
                                     const char   *label,
                                     const guint8 *nonce,
                                     gsize         nonce_size);
/* Constant-time comparison (in the contents, not the sizes). */
gboolean  mproc_manager_auth_equal  (GBytes       *a,
                                     GBytes       *b);
/* Fills @buf with random bytes from the kernel. */
void      mproc_manager_auth_nonce  (guint8       *buf,
                                     gsize         size);

/* The built-in target of the server process (mproc-manager-server.c). */
int       mproc_manager_server_main (MprocProcess *process,
                                     GVariant     *args,
                                     gpointer      user_data);

/* The server's start: the carrier (an MprocManager handed to the server
 * process) gives up its listening sockets; FALSE if @carrier is not one.
 * @address stays valid while @carrier lives. */
gboolean  mproc_manager_carrier_steal (GObject     *carrier,
                                       int         *listen_fd,
                                       int         *dbus_listen_fd,
                                       const char **address);

/* Values as dict keys: hash and equality on type and normal-form bytes. */
/* The server's decoding of a boxed request: mproc_wire_decode(), with the
 * normal-form check of a batch of fixed-size pairs done by hand
 * (mproc-manager-decode.c). */
GVariant *mproc_manager_request_decode (GBytes  *bytes,
                                        GError **error);

/* --- The D-Bus plane (mproc-manager-dbus.c) ----------------------------- */

typedef struct _Server MprocManagerServer;
typedef struct _MprocManagerDBus MprocManagerDBus;

/* In the server's main thread, its context pushed: serves the D-Bus
 * plane on @listen_fd (taken), bound by the manager's starter. */
MprocManagerDBus *mproc_manager_dbus_start (MprocManagerServer *server,
                                            const char         *address,
                                            int                 listen_fd,
                                            GError            **error);
void      mproc_manager_dbus_stop      (MprocManagerDBus   *dbus);
/* Whether any D-Bus peer is connected (cheap: checked before each change). */
gboolean  mproc_manager_dbus_has_peers (MprocManagerDBus   *dbus);
/* Emits @interface's Changed signal to every peer; @parameters floating. */
void      mproc_manager_dbus_emit      (MprocManagerDBus   *dbus,
                                        const char         *interface,
                                        GVariant           *parameters);
/* The peer-to-peer D-Bus address of the server at @address, or NULL. */
char     *mproc_manager_dbus_address_for (const char       *address);
/* Returns the result (owned) or NULL with @error; @args floating or NULL. */
GVariant *mproc_manager_server_call    (MprocManagerServer *server,
                                        MprocManagerKind    kind,
                                        const char         *name,
                                        guint               op,
                                        GVariant           *args,
                                        GError            **error);

G_END_DECLS
