/* mproc-builtins.c: the targets of the library's own processes, on top of
 * every layer: the runtime looks them up here (mproc-runtime-private.h)
 * without including the layers that define them, and the private
 * shareable types that mproc_type_from_name() must know
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-manager-protocol-private.h"
#include "mproc-pool-private.h"
#include "mproc-redis-private.h"
#include "mproc-runtime-private.h"
#include "mproc-shareable-private.h"

const MprocBuiltinTarget mproc_builtin_targets[] = {
  { MPROC_POOL_WORKER_TARGET, mproc_pool_worker_main },
  { MPROC_MANAGER_SERVER_TARGET, mproc_manager_server_main },
  { NULL, NULL }
};

const MprocManagerTransport * const mproc_builtin_transports[] = {
  &mproc_redis_transport,
  NULL
};

GType (* const mproc_builtin_private_types[]) (void) = {
  mproc_pool_channel_get_type,
  NULL
};
