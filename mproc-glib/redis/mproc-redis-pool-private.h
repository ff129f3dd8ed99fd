/* mproc-redis-pool-private.h: a pool whose workers take chunks from Redis
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Keys of the pool NAME (B = P:{pool/NAME}; the hash tag keeps them in one
 * cluster slot, so each script below is atomic):
 *
 *   B:t            STREAM of chunks, consumer group "w" (the workers).
 *                  Fields: c the caller's id, i its call number, k the
 *                  chunk's index, t the target, m "a" (apply) or "m" (a
 *                  chunk of a map: an array), o the timeout in µs (-1
 *                  none), r how many times it may be run again if its
 *                  worker dies, n how many times it was, a the argument
 *                  (a boxed GVariant, checked on receipt).
 *   B:w            HASH worker name -> its description, boxed "(sxasxu)":
 *                  host, pid, targets, started (µs since the epoch),
 *                  local processes
 *   B:hb:ID        a worker's or a caller's heartbeat: it exists while the
 *                  lease runs (SET PX, renewed every lease/5)
 *   B:r:ID         STREAM of the results for caller ID: i, k, s ("o" a
 *                  result, "e" an error "(sis)", "d" the worker died: v is
 *                  its name), v; read and deleted by the caller
 *   B:x:ID:CALL    set when caller ID cancels or gives up CALL
 *   B:f            STREAM of the chunks failed by a reaper (capped): the
 *                  record to inspect
 *
 * A worker reads chunks with XREADGROUP, checks (TAKE) that their caller
 * is alive and has not cancelled them (else acknowledges them unrun), runs
 * them on its local pool and answers with RESULT, which acknowledges the
 * entry and appends the result only if the entry was still pending: the
 * first answer wins, and a late one (a worker that was paused past its
 * lease) is dropped.  Every worker and caller runs REAP each heartbeat:
 * the pending entries of a consumer without heartbeat are acknowledged and
 * failed ("d") or, while r allows, added again.  Entries and results are
 * deleted once acknowledged or read, so no stream grows with the work done.
 */

#pragma once

#include "mproc-pool.h"
#include "mproc-pool-backend-private.h"
#include "mproc-redis-client-private.h"

G_BEGIN_DECLS

#define MPROC_REDIS_POOL_GROUP "w"

typedef enum
{
  POOL_SCRIPT_OPEN,
  POOL_SCRIPT_TAKE,
  POOL_SCRIPT_RESULT,
  POOL_SCRIPT_REAP,
  POOL_SCRIPT_RELEASE,
  N_POOL_SCRIPTS
} MprocRedisPoolScript;

extern const char * const mproc_redis_pool_scripts[N_POOL_SCRIPTS + 1];

/* The keys of one pool. */
typedef struct
{
  char *base;      /* P:{pool/NAME} */
  char *tasks;
  char *workers;
  char *failed;
} MprocRedisPoolKeys;

gboolean       mproc_redis_pool_keys_init  (MprocRedisPoolKeys     *keys,
                                            const MprocRedisConfig *config,
                                            const char             *pool_name,
                                            GError                **error);
void           mproc_redis_pool_keys_clear (MprocRedisPoolKeys     *keys);

/* EVALSHA of @script with KEYS tasks, workers, failed, then ARGV base;
 * add more ARGVs after. */
MprocRedisCmd *mproc_redis_pool_eval       (MprocRedisClient       *client,
                                            const MprocRedisPoolKeys *keys,
                                            MprocRedisPoolScript    script);
/* The REAP command (@self: the reaper's name, never reaped). */
MprocRedisCmd *mproc_redis_pool_reap_cmd   (MprocRedisClient       *client,
                                            const MprocRedisPoolKeys *keys,
                                            const char             *self);
/* The heartbeat of @id: SET B:hb:ID @value PX lease. */
MprocRedisCmd *mproc_redis_pool_beat_cmd   (const MprocRedisPoolKeys *keys,
                                            const MprocRedisConfig *config,
                                            const char             *id,
                                            const char             *value);
/* A random id for a caller or a worker. */
char          *mproc_redis_pool_new_id     (const char             *host);

/* A field of a stream entry's flat [k, v, k, v…] array, or NULL. */
redisReply    *mproc_redis_pool_field      (redisReply             *fields,
                                            const char             *name);
gboolean       mproc_redis_pool_field_uint (redisReply             *fields,
                                            const char             *name,
                                            guint64                *value);

/* The period of heartbeats: a fifth of the lease. */
#define MPROC_REDIS_POOL_BEAT_USEC(config) ((config)->worker_lease_usec / 5)

G_END_DECLS
