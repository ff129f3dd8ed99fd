/* mproc-torture.c: queues, locks, managers and pools while their users are killed at random
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   mproc-torture [--seconds N] [--seed S]
 *
 * (N defaults to $MPROC_TORTURE_SECONDS, else 60.)
 * Producers put numbered, checksummed messages (mostly small, some larger
 * than the ring, so that they go out of line) on one queue; consumers get
 * them; lock holders take one lock and update two counters in shared
 * memory under it, step by step.  For N seconds the parent SIGKILLs one of
 * them at random every few tens of milliseconds and starts another in its
 * place.  Manager clients set and read back their own key of one shared
 * dict; the parent runs tasks on a pool whose workers it also kills.  Then it stops the killing, lets the producers finish, drains the
 * queue and checks:
 *
 * - nothing hangs: every child and every call returns within its bound;
 * - no message is received twice, and every message whose put returned
 *   is received, except at most one per consumer killed (the one it had
 *   taken when it died); every message received has the right checksum;
 * - the lock is consistent: whoever acquires it without OWNER_DIED finds
 *   the two counters equal;
 * - a manager client's key holds what it last wrote (or the write it was
 *   killed in); the server serves to the end;
 * - a pool task gives its result or WORKER_DIED, and the pool goes on;
 * - no fd (memfd, socket, eventfd) and no process is left in the parent.
 *
 * The children see the shared state (the ledger) through an anonymous
 * shared mapping inherited through fork(): it is the test's record, not
 * the library's, and survives the children it records.
 */

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mproc.h>

#include "../test-util.h"

#define N_PRODUCERS   3
#define N_CONSUMERS   3
#define N_LOCKERS     2
#define N_CLIENTS     2
#define MAX_PRODUCERS 2048
#define QUOTA         600      /* messages per producer life */
#define RING_BYTES    (64 * 1024)

typedef struct
{
  gint  stop_producers;
  gint  stop_consumers;
  /* per producer id: the last seq whose put returned (+1), and whether
   * it was killed */
  gint  put_done[MAX_PRODUCERS];
  gint  killed[MAX_PRODUCERS];
  /* per producer id and seq: times received */
  guint8 received[MAX_PRODUCERS][QUOTA];
  gint  bad_checksum;
  gint  bad_message;
  gint  consumer_errors;
  /* the lock's two counters, and violations seen */
  gint  a;
  gint  b;
  gint  lock_violations;
  gint  owner_died;
  /* per manager client slot: the last value whose set returned */
  gint  written[N_CLIENTS];
  gint  client_errors;
} Ledger;

static Ledger *ledger;

typedef enum { ROLE_PRODUCER, ROLE_CONSUMER, ROLE_LOCKER, ROLE_CLIENT, N_ROLES } Role;

static const char *role_names[] = { "producer", "consumer", "locker", "client" };

static guint32
checksum (const guint8 *data, gsize n)
{
  guint32 h = 2166136261u;

  for (gsize i = 0; i < n; i++)
    h = (h ^ data[i]) * 16777619u;
  return h;
}

static gsize
payload_size (GRand *rand)
{
  /* one in twenty larger than half the ring: out of line */
  if (g_rand_int_range (rand, 0, 20) == 0)
    return g_rand_int_range (rand, RING_BYTES / 2, 4 * RING_BYTES);
  return g_rand_int_range (rand, 0, 600);
}

/* args "(uu)": producer id, seed */
static int
producer (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocQueue *queue = MPROC_QUEUE (mproc_process_get_object (process, 0));
  g_autoptr(GRand) rand = NULL;
  guint32 id, seed;

  g_variant_get (args, "(uu)", &id, &seed);
  rand = g_rand_new_with_seed (seed);
  for (guint seq = 0; seq < QUOTA && !g_atomic_int_get (&ledger->stop_producers); seq++)
    {
      gsize n = payload_size (rand);
      guint8 *data = g_malloc (MAX (n, 1));
      g_autoptr(GError) error = NULL;
      GVariant *message;

      for (gsize i = 0; i < n; i++)
        data[i] = (guint8) g_rand_int (rand);
      message = g_variant_new ("(uuu@ay)", id, seq, checksum (data, n),
                               g_variant_new_from_data (G_VARIANT_TYPE_BYTESTRING, data, n, TRUE, g_free, data));
      if (!mproc_queue_put (queue, message, 10 * G_USEC_PER_SEC, NULL, &error))
        {
          g_printerr ("producer %u: put %u: %s\n", id, seq, error->message);
          return 1;
        }
      g_atomic_int_set (&ledger->put_done[id], seq + 1);
    }
  return 0;
}

static int
consumer (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocQueue *queue = MPROC_QUEUE (mproc_process_get_object (process, 0));

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mproc_queue_get (queue, 100 * 1000, NULL, &error);
      g_autoptr(GVariant) payload = NULL;
      guint32 id, seq, sum;
      const guint8 *data;
      gsize n;

      if (v == NULL)
        {
          if (g_error_matches (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT))
            {
              if (g_atomic_int_get (&ledger->stop_consumers))
                return 0;
              continue;
            }
          g_printerr ("consumer: %s\n", error->message);
          g_atomic_int_inc (&ledger->consumer_errors);
          continue;
        }
      if (!g_variant_is_of_type (v, G_VARIANT_TYPE ("(uuuay)")))
        {
          g_atomic_int_inc (&ledger->bad_message);
          continue;
        }
      g_variant_get (v, "(uuu@ay)", &id, &seq, &sum, &payload);
      data = g_variant_get_fixed_array (payload, &n, 1);
      if (id >= MAX_PRODUCERS || seq >= QUOTA)
        {
          g_atomic_int_inc (&ledger->bad_message);
          continue;
        }
      if (checksum (data, n) != sum)
        g_atomic_int_inc (&ledger->bad_checksum);
      __atomic_add_fetch (&ledger->received[id][seq], 1, __ATOMIC_SEQ_CST);
    }
}

static int
locker (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = MPROC_LOCK (mproc_process_get_object (process, 0));

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gint a;

      if (!mproc_lock_acquire (lock, 10 * G_USEC_PER_SEC, NULL, &error))
        {
          if (!g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
            {
              g_printerr ("locker: %s\n", error->message);
              return 1;
            }
          /* ours now, maybe half-updated by the dead holder: repair */
          g_atomic_int_inc (&ledger->owner_died);
          g_atomic_int_set (&ledger->b, g_atomic_int_get (&ledger->a));
        }
      a = g_atomic_int_get (&ledger->a);
      if (a != g_atomic_int_get (&ledger->b))
        g_atomic_int_inc (&ledger->lock_violations);
      g_atomic_int_set (&ledger->a, a + 1);
      g_usleep (g_random_int_range (0, 300));
      g_atomic_int_set (&ledger->b, a + 1);
      if (!mproc_lock_release (lock, &error))
        {
          g_printerr ("locker: release: %s\n", error->message);
          return 1;
        }
    }
}

/* args "u": slot.  Sets its key to growing values, reading each back. */
static int
client (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocDict *dict = MPROC_DICT (mproc_process_get_object (process, 0));
  guint slot = g_variant_get_uint32 (args);

  for (gint v = g_atomic_int_get (&ledger->written[slot]) + 1; ; v++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) got = NULL;

      if (!mproc_dict_set (dict, g_variant_new_uint32 (slot), g_variant_new_int32 (v), NULL, &error))
        {
          g_printerr ("client %u: set: %s\n", slot, error->message);
          g_atomic_int_inc (&ledger->client_errors);
          return 1;
        }
      g_atomic_int_set (&ledger->written[slot], v);
      got = mproc_dict_get (dict, g_variant_new_uint32 (slot), NULL, &error);
      if (got == NULL || !g_variant_is_of_type (got, G_VARIANT_TYPE_INT32) || g_variant_get_int32 (got) != v)
        {
          g_printerr ("client %u: get: %s\n", slot, error != NULL ? error->message : "wrong value");
          g_atomic_int_inc (&ledger->client_errors);
          return 1;
        }
      g_usleep (g_random_int_range (0, 2000));
    }
}

static GVariant *
task_double (GVariant *arg, gpointer user_data, GError **error)
{
  return g_variant_new_int64 (2 * g_variant_get_int64 (arg));
}

typedef struct
{
  MprocProcess *process;
  Role          role;
  guint         producer_id;
  guint         slot;         /* manager clients */
} Child;

typedef struct
{
  MprocQueue *queue;
  MprocLock  *lock;
  MprocManager *manager;
  MprocDict  *dict;
  MprocPool  *pool;
  guint       tasks;
  guint       tasks_failed;
  guint       worker_kills;
  GRand      *rand;
  guint       next_producer;
  guint       kills[N_ROLES];
  guint       finished;
  gboolean    failed;
} Run;

static gboolean
start_child (Run *run, Child *child, Role role)
{
  g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
  g_autoptr(GError) error = NULL;
  GVariant *args = NULL;

  child->role = role;
  if (role == ROLE_PRODUCER)
    {
      if (run->next_producer >= MAX_PRODUCERS)
        return FALSE;
      child->producer_id = run->next_producer++;
      args = g_variant_new ("(uu)", child->producer_id, g_rand_int (run->rand));
    }
  else if (role == ROLE_CLIENT)
    args = g_variant_new_uint32 (child->slot);
  child->process = mproc_process_new_with_context (context, role_names[role], args);
  mproc_process_add_object (child->process,
                            role == ROLE_LOCKER ? MPROC_SHAREABLE (run->lock) :
                            role == ROLE_CLIENT ? MPROC_SHAREABLE (run->dict) : MPROC_SHAREABLE (run->queue));
  if (!mproc_process_start (child->process, &error))
    {
      g_printerr ("cannot start a %s: %s\n", role_names[role], error->message);
      g_clear_object (&child->process);
      run->failed = TRUE;
      return FALSE;
    }
  return TRUE;
}

/* Joins @child within 30 s (else: a hang) and forgets it. */
static void
reap_child (Run *run, Child *child, gboolean expect_clean)
{
  g_autoptr(GError) error = NULL;

  if (!mproc_process_join (child->process, 30 * G_USEC_PER_SEC, NULL, &error))
    {
      g_printerr ("a %s did not end: %s\n", role_names[child->role], error->message);
      mproc_process_kill (child->process);
      mproc_process_join (child->process, -1, NULL, NULL);
      run->failed = TRUE;
    }
  else if (expect_clean && mproc_process_get_exit_code (child->process) != 0)
    {
      g_printerr ("a %s exited with %d\n", role_names[child->role],
                  mproc_process_get_exit_code (child->process));
      run->failed = TRUE;
    }
  g_clear_object (&child->process);
}

static void
kill_child (Run *run, Child *child)
{
  mproc_process_kill (child->process);
  if (child->role == ROLE_PRODUCER)
    g_atomic_int_set (&ledger->killed[child->producer_id], 1);
  run->kills[child->role]++;
  reap_child (run, child, FALSE);
}

/* One task on the pool, sometimes right after one of its workers was
 * killed: its result, or WORKER_DIED. */
static void
run_task (Run *run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) result = NULL;
  gint64 arg = g_rand_int_range (run->rand, 0, 1 << 20);

  if (g_rand_int_range (run->rand, 0, 4) == 0)
    {
      guint n = 0;
      g_autofree int *pids = mproc_pool_dup_worker_pids (run->pool, &n);

      if (n > 0 && kill (pids[g_rand_int_range (run->rand, 0, n)], SIGKILL) == 0)
        run->worker_kills++;
    }
  run->tasks++;
  result = mproc_pool_apply (run->pool, "double", g_variant_new_int64 (arg), 30 * G_USEC_PER_SEC, NULL, &error);
  if (result == NULL && g_error_matches (error, MPROC_ERROR, MPROC_ERROR_WORKER_DIED))
    run->tasks_failed++;
  else if (result == NULL || g_variant_get_int64 (result) != 2 * arg)
    {
      g_print ("# pool task: %s\n", error != NULL ? error->message : "wrong result");
      run->failed = TRUE;
    }
}

static void
check_dict (Run *run)
{
  for (guint slot = 0; slot < N_CLIENTS; slot++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) v = mproc_dict_get (run->dict, g_variant_new_uint32 (slot), NULL, &error);
      gint written = g_atomic_int_get (&ledger->written[slot]);

      if (v == NULL && written == 0)
        continue;
      if (v == NULL || (g_variant_get_int32 (v) != written && g_variant_get_int32 (v) != written + 1))
        {
          g_print ("# client %u: wrote %d, the dict has %d (%s)\n", slot, written,
                   v != NULL ? g_variant_get_int32 (v) : -1, error != NULL ? error->message : "");
          run->failed = TRUE;
        }
    }
  if (ledger->client_errors > 0)
    {
      g_print ("# %d manager client errors\n", ledger->client_errors);
      run->failed = TRUE;
    }
}

static guint
check_messages (Run *run)
{
  guint missing = 0, duplicates = 0, total = 0;

  for (guint id = 0; id < run->next_producer; id++)
    {
      guint done = g_atomic_int_get (&ledger->put_done[id]);

      for (guint seq = 0; seq < QUOTA; seq++)
        {
          guint got = ledger->received[id][seq];

          total += got;
          if (got > 1)
            duplicates++;
          else if (got == 0 && seq < done)
            missing++;
          else if (got == 1 && seq > done)
            {
              /* only the one put in flight when its producer died */
              g_printerr ("producer %u: seq %u received but never put\n", id, seq);
              run->failed = TRUE;
            }
        }
    }
  g_print ("# %u messages received, %u missing, %u received twice\n", total, missing, duplicates);
  if (duplicates > 0 || missing > run->kills[ROLE_CONSUMER])
    run->failed = TRUE;
  return total;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fds_before = NULL;
  g_autofree char *fds_after = NULL;
  const char *env_seconds = g_getenv ("MPROC_TORTURE_SECONDS");
  gint seconds = env_seconds != NULL ? atoi (env_seconds) : 60;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "How long to kill for (default 60)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed (default: from the clock)", "S" },
    { "tap", 0, 0, G_OPTION_ARG_NONE, NULL, "Ignored (TAP is always printed)", NULL },
    { NULL }
  };
  Child children[N_PRODUCERS + N_CONSUMERS + N_LOCKERS + N_CLIENTS] = { { NULL, 0, 0, 0 } };
  Run run = { NULL, };
  gint64 end;

  mproc_register_target ("producer", producer, NULL, NULL);
  mproc_register_target ("consumer", consumer, NULL, NULL);
  mproc_register_target ("locker", locker, NULL, NULL);
  mproc_register_target ("client", client, NULL, NULL);
  mproc_register_task ("double", task_double, NULL, NULL);
  mproc_init (&argc, &argv);

  options = g_option_context_new ("- kill queue and lock users at random");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (seed == 0)
    seed = g_get_real_time ();
  g_print ("TAP version 13\n1..1\n# seed %" G_GINT64_FORMAT ", %d s\n", seed, seconds);

  ledger = mmap (NULL, sizeof (Ledger), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  g_assert (ledger != MAP_FAILED);
  /* what GLib and the runtime create once and keep, before counting */
  test_warm_up ();
  {
    g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);
    g_autoptr(MprocProcess) process = mproc_process_new_with_context (context, NULL, NULL);

    g_assert_true (mproc_process_start (process, NULL));
    g_assert_true (mproc_process_join (process, -1, NULL, NULL));
  }
  fds_before = test_list_fds ();

  run.rand = g_rand_new_with_seed ((guint32) seed);
  run.queue = mproc_queue_new_full (0, RING_BYTES, &error);
  g_assert_no_error (error);
  run.lock = mproc_lock_new (&error);
  g_assert_no_error (error);
  {
    g_autoptr(MprocContext) context = mproc_context_new (MPROC_START_METHOD_FORK);

    run.manager = mproc_manager_new_with_context (context);
    g_assert_true (mproc_manager_start (run.manager, NULL, &error));
    g_assert_no_error (error);
    run.dict = mproc_dict_new (run.manager, NULL, NULL, &error);
    g_assert_no_error (error);
    run.pool = mproc_pool_new_full (context, 2, NULL, NULL, 0, &error);
    g_assert_no_error (error);
  }

  for (guint i = 0; i < G_N_ELEMENTS (children); i++)
    {
      children[i].slot = i - (N_PRODUCERS + N_CONSUMERS + N_LOCKERS);
      start_child (&run, &children[i],
                   i < N_PRODUCERS ? ROLE_PRODUCER :
                   i < N_PRODUCERS + N_CONSUMERS ? ROLE_CONSUMER :
                   i < N_PRODUCERS + N_CONSUMERS + N_LOCKERS ? ROLE_LOCKER : ROLE_CLIENT);
    }

  end = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end && !run.failed)
    {
      Child *victim = &children[g_rand_int_range (run.rand, 0, G_N_ELEMENTS (children))];

      g_usleep (g_rand_int_range (run.rand, 5, 80) * 1000);

      /* producers that finished their quota are replaced too */
      for (guint i = 0; i < N_PRODUCERS; i++)
        if (children[i].process != NULL && !mproc_process_is_alive (children[i].process))
          {
            reap_child (&run, &children[i], TRUE);
            run.finished++;
            start_child (&run, &children[i], ROLE_PRODUCER);
          }
      run_task (&run);
      if (victim->process == NULL)
        continue;
      kill_child (&run, victim);
      start_child (&run, victim, victim->role);
    }

  /* The end: producers finish, consumers drain, lockers are stopped. */
  g_atomic_int_set (&ledger->stop_producers, 1);
  for (guint i = 0; i < N_PRODUCERS; i++)
    if (children[i].process != NULL)
      reap_child (&run, &children[i], TRUE);
  for (guint i = 0; i < 100 && mproc_queue_get_qsize (run.queue) > 0; i++)
    g_usleep (100 * 1000);
  g_atomic_int_set (&ledger->stop_consumers, 1);
  for (guint i = N_PRODUCERS; i < N_PRODUCERS + N_CONSUMERS; i++)
    reap_child (&run, &children[i], TRUE);
  for (guint i = N_PRODUCERS + N_CONSUMERS; i < G_N_ELEMENTS (children); i++)
    kill_child (&run, &children[i]);
  check_dict (&run);
  mproc_pool_close (run.pool);
  if (!mproc_pool_join (run.pool, 30 * G_USEC_PER_SEC, NULL, &error))
    {
      g_print ("# the pool did not end: %s\n", error->message);
      g_clear_error (&error);
      run.failed = TRUE;
    }
  g_print ("# pool: %u tasks, %u failed with WORKER_DIED, %u workers killed\n",
           run.tasks, run.tasks_failed, run.worker_kills);

  g_print ("# kills: %u producers, %u consumers, %u lock holders, %u manager clients; "
           "%u producers finished\n", run.kills[ROLE_PRODUCER], run.kills[ROLE_CONSUMER],
           run.kills[ROLE_LOCKER], run.kills[ROLE_CLIENT], run.finished);
  check_messages (&run);
  g_print ("# lock: %d updates, %d taken over from a dead holder, %d inconsistent\n",
           ledger->a, ledger->owner_died, ledger->lock_violations);
  if (ledger->bad_checksum > 0 || ledger->bad_message > 0 || ledger->consumer_errors > 0 ||
      ledger->lock_violations > 0)
    {
      g_print ("# bad checksums %d, bad messages %d, consumer errors %d\n",
               ledger->bad_checksum, ledger->bad_message, ledger->consumer_errors);
      run.failed = TRUE;
    }
  if (mproc_queue_get_qsize (run.queue) != 0)
    {
      g_print ("# %u messages left in the queue\n", mproc_queue_get_qsize (run.queue));
      run.failed = TRUE;
    }
  if (!mproc_lock_acquire (run.lock, 5 * G_USEC_PER_SEC, NULL, &error) &&
      !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
    {
      g_print ("# the lock cannot be taken at the end: %s\n", error->message);
      run.failed = TRUE;
    }
  g_clear_error (&error);
  mproc_lock_release (run.lock, NULL);

  g_clear_object (&run.queue);
  g_clear_object (&run.lock);
  g_clear_object (&run.pool);
  g_clear_object (&run.dict);
  if (!mproc_manager_shutdown (run.manager, NULL, &error))
    {
      g_print ("# the manager did not shut down: %s\n", error->message);
      g_clear_error (&error);
      run.failed = TRUE;
    }
  g_clear_object (&run.manager);
  g_rand_free (run.rand);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  fds_after = test_list_fds ();
  if (g_strcmp0 (fds_before, fds_after) != 0)
    {
      g_print ("# fds before: %s\n# fds after: %s\n", fds_before, fds_after);
      run.failed = TRUE;
    }
  if (test_count_children () != 0)
    {
      g_print ("# %u child processes left\n", test_count_children ());
      run.failed = TRUE;
    }
  munmap (ledger, sizeof (Ledger));

  g_print ("%s 1 torture\n", run.failed ? "not ok" : "ok");
  return run.failed ? 1 : 0;
}
