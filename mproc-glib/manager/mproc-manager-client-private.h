/* mproc-manager-client-private.h: a client's connection to the manager's
 * server (mproc-manager-client.c, over TCP mproc-manager-tcp.c), and the
 * manager's internals that proxies use (mproc-manager.c)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mproc-manager.h"
#include "mproc-manager-private.h"
#include "mproc-manager-view-private.h"
#include "mproc-ring-private.h"
#include "mproc-shm-private.h"

G_BEGIN_DECLS

#define MPROC_MANAGER_CONNECT_TIMEOUT_USEC (10 * G_USEC_PER_SEC)
/* how often a pipelined write or a read checks that the server lives */
#define MPROC_MANAGER_HUP_CHECK_USEC       1000

typedef struct _MprocManagerConn MprocManagerConn;

struct _MprocManagerConn
{
  gatomicrefcount  ref;
  GPid             pid;           /* the process that opened it */
  int              sock;
  GPid             server_pid;
  MprocShm        *shm;
  MprocRing       *requests;
  MprocRing       *replies;
  MprocRing       *events;
  MprocOrder      *order;         /* ring clients: for reads from views */
  gint64           last_read_hup_check;

  GMutex           call_lock;     /* one exchange at a time */
  guint64          next_serial;
  gint64           last_hup_check;

  GMutex           reply_lock;    /* waiters, reading, async_polls */
  GCond            reply_cond;
  GHashTable      *waiters;       /* serial -> Waiter* */
  gboolean         reading;       /* someone reads the reply ring */
  GHashTable      *async_polls;   /* GMainContext* -> AsyncPoll* */

  GMutex           state_lock;    /* broken, watchers */
  GError          *broken;
  GPtrArray       *watchers;
  GMutex           event_read_lock;
};

/* --- mproc-manager-client.c ---------------------------------------------- */

/* A connection of this process, not yet open: its locks and tables. */
MprocManagerConn *mproc_manager_conn_new        (GPid               server_pid);
MprocManagerConn *mproc_manager_conn_ref        (MprocManagerConn  *conn);
void              mproc_manager_conn_unref      (MprocManagerConn  *conn);
/* "unix:abstract=NAME" or "unix:path=PATH" as a socket address. */
gboolean          mproc_manager_parse_address   (const char          *address,
                                                 struct sockaddr_un  *sun,
                                                 socklen_t           *len,
                                                 GError             **error);
/* The server's answer to a connection: ("ok", body of @body_type) or
 * ("error", (code, message)).  Returns the body, or NULL with @error:
 * refused, or malformed. */
GVariant         *mproc_manager_parse_welcome   (GVariant            *reply,
                                                 const char          *address,
                                                 const char          *body_type,
                                                 GError             **error);
/* A failed connection's @error: CLOSED becomes BROKEN, prefixed. */
void              mproc_manager_prefix_connect_error (GError       **error,
                                                      const char    *address);
/* Connects to @address (unix, or "tcp:…" with @authkey). */
MprocManagerConn *mproc_manager_conn_open       (const char        *address,
                                                 GBytes            *authkey,
                                                 GCancellable      *cancellable,
                                                 GError           **error);
void              mproc_manager_conn_open_async (const char          *address,
                                                 GBytes              *authkey,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
MprocManagerConn *mproc_manager_conn_open_finish (GAsyncResult       *result,
                                                  GError            **error);
/* Marks @conn broken with a copy of @error (the first one wins). */
void              mproc_manager_conn_fail       (MprocManagerConn  *conn,
                                                 const GError      *error);
/* Marks @conn broken if @local_error says the stream is unusable. */
void              mproc_manager_conn_fail_error (MprocManagerConn *conn,
                                                 GError           *local_error);
gboolean          mproc_manager_conn_check      (MprocManagerConn  *conn,
                                                 GError           **error);
/* A request (floating-free, owned) with its send time. */
GVariant         *mproc_manager_conn_request    (guint              op,
                                                 guint64            object,
                                                 guint64            serial,
                                                 GVariant          *args);
/* One exchange. @reply NULL: pipelined.  @fds_out receives the reply's fds. */
gboolean          mproc_manager_conn_call       (MprocManagerConn  *conn,
                                                 guint              op,
                                                 guint64            object,
                                                 GVariant          *args,
                                                 const int         *fds,
                                                 guint              n_fds,
                                                 GVariant         **reply,
                                                 GArray            *fds_out,
                                                 GCancellable      *cancellable,
                                                 GError           **error);
/* On the rings or over TCP: @task's value is the reply ("()" when pipelined);
 * @fds travel with the request, the reply's go to @fds_out (which @task
 * must keep alive, e.g. as its task data). */
void              mproc_manager_conn_call_async (MprocManagerConn  *conn,
                                                 guint              op,
                                                 guint64            object,
                                                 GVariant          *args,
                                                 const int         *fds,
                                                 guint              n_fds,
                                                 gboolean           want_reply,
                                                 GArray            *fds_out,
                                                 GTask             *task);
void              mproc_manager_set_broken_error (GError          **error,
                                                  const char       *why);

/* --- mproc-manager-tcp.c ------------------------------------------------- */

gboolean          mproc_manager_auth_has_key    (GBytes            *authkey);
MprocManagerConn *mproc_manager_conn_open_tcp   (const char        *address,
                                                 GBytes            *authkey,
                                                 GCancellable      *cancellable,
                                                 GError           **error);
void              mproc_manager_conn_open_tcp_async (const char    *address,
                                                     GBytes        *authkey,
                                                     GTask         *task);
GBytes           *mproc_manager_tcp_read_reply  (MprocManagerConn  *conn,
                                                 gint64             timeout,
                                                 GCancellable      *cancellable,
                                                 GError           **error);
/* A listening TCP socket on @host (NULL: any IPv4) and @port (0: any), and
 * the address clients connect to in *@address_out. */
int               mproc_manager_tcp_listen      (const char        *host,
                                                 guint16            port,
                                                 char             **address_out,
                                                 GCancellable      *cancellable,
                                                 GError           **error);

void              mproc_manager_tcp_listen_async (const char          *host,
                                                  guint16              port,
                                                  GCancellable        *cancellable,
                                                  GAsyncReadyCallback  callback,
                                                  gpointer             user_data);
int               mproc_manager_tcp_listen_finish (GAsyncResult       *result,
                                                   char              **address_out,
                                                   GError            **error);

/* --- mproc-manager.c ----------------------------------------------------- */

/* A manager for @address in this process: the one already there, or a
 * new, not yet connected one. */
MprocManager     *mproc_manager_for_address     (const char        *address);
/* This process's connection, opened on first use. */
MprocManagerConn *mproc_manager_get_conn        (MprocManager      *self,
                                                 GCancellable      *cancellable,
                                                 GError           **error);
void              mproc_manager_get_conn_async  (MprocManager        *self,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
MprocManagerConn *mproc_manager_get_conn_finish (MprocManager       *self,
                                                 GAsyncResult       *result,
                                                 GError            **error);
/* This process's connection if it is open, else NULL (never connects). */
MprocManagerConn *mproc_manager_peek_conn       (MprocManager      *self);
/* mproc_manager_conn_call() on this process's connection; @args floating,
 * owned or NULL ("()"). */
gboolean          mproc_manager_call_server     (MprocManager      *self,
                                                 guint              op,
                                                 guint64            object,
                                                 GVariant          *args,
                                                 const int         *fds,
                                                 guint              n_fds,
                                                 GVariant         **reply,
                                                 GArray            *fds_out,
                                                 GCancellable      *cancellable,
                                                 GError           **error);

void              mproc_manager_call_server_async (MprocManager        *self,
                                                   guint                op,
                                                   guint64              object,
                                                   GVariant            *args,
                                                   GArray              *fds,
                                                   gboolean             want_reply,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
GVariant         *mproc_manager_call_server_finish (MprocManager       *self,
                                                    GAsyncResult       *result,
                                                    GArray            **fds_out,
                                                    GError            **error);

/* --- mproc-manager-proxy.c ----------------------------------------------- */

/* Takes a server-side reference for this process's connection. */
gboolean          mproc_proxy_ensure_ref        (MprocProxyCore    *core,
                                                 GCancellable      *cancellable,
                                                 GError           **error);
void              mproc_proxy_set_malformed_reply (GError         **error);

G_END_DECLS
