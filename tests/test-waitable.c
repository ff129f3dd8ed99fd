/* test-waitable.c: shared memory, futexes and wait points, with real processes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Children are made with a raw fork() (the library's process API comes
 * later), open their own handles from dup'd fds as a real peer would, and
 * leave with _exit().  Every test is wrapped in a check that the number of
 * open fds is the same before and after.
 */

#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <gio/gio.h>

#include "mproc-error.h"
#include "mproc-futex-private.h"
#include "mproc-shm-private.h"
#include "mproc-waitable-private.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

#define CHILD_ASSERT(expr)                                                 \
  G_STMT_START {                                                           \
    if (!(expr))                                                           \
      {                                                                    \
        g_printerr ("child %d: %s:%d: assertion failed: %s\n",             \
                    (int) getpid (), __FILE__, __LINE__, #expr);           \
        return 1;                                                          \
      }                                                                    \
  } G_STMT_END

static guint
count_dir_entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static guint
count_fds (void)
{
  return count_dir_entries ("/proc/self/fd");
}

static guint
count_threads (void)
{
  return count_dir_entries ("/proc/self/task");
}

typedef int (*ChildFunc) (gpointer data);

static pid_t
fork_child (ChildFunc func,
            gpointer  data)
{
  pid_t pid;

  fflush (stdout);
  fflush (stderr);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (func (data));
  return pid;
}

static void
assert_child_ok (pid_t pid)
{
  int status = 0;
  pid_t r;

  do
    r = waitpid (pid, &status, 0);
  while (r < 0 && errno == EINTR);
  g_assert_cmpint (r, ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

typedef void (*TestFunc) (void);

static void
run_without_fd_leak (gconstpointer data)
{
  TestFunc func = (TestFunc) data;
  guint before = count_fds ();

  func ();
  g_assert_cmpuint (count_fds (), ==, before);
}

#define add_test(path, func) \
  g_test_add_data_func (path, (gconstpointer) (func), run_without_fd_leak)

static gint64
elapsed_ms_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000;
}

/* A test "event": a flag and a wait point in one arena. */
typedef struct
{
  guint32         flag;
  guint32         tokens;
  guint32         ping;
  guint32         pong;
  MprocWaitShared wait;
  MprocWaitShared wait2;
} TestShared;

typedef struct
{
  MprocShm       *shm;
  TestShared     *sh;
  MprocWaitPoint *wp;
  MprocWaitPoint *wp2;
} TestEvent;

static void
test_event_init (TestEvent *ev)
{
  g_autoptr(GError) error = NULL;

  ev->shm = mproc_shm_new (sizeof (TestShared), "test-event", &error);
  g_assert_no_error (error);
  ev->sh = mproc_shm_get_data (ev->shm);
  ev->wp = mproc_wait_point_new (&ev->sh->wait, -1, &error);
  g_assert_no_error (error);
  ev->wp2 = mproc_wait_point_new (&ev->sh->wait2, -1, &error);
  g_assert_no_error (error);
}

/* What a peer does with the fds it received. */
static gboolean
test_event_open (TestEvent       *ev,
                 const TestEvent *from)
{
  g_autoptr(GError) error = NULL;

  ev->shm = mproc_shm_new_from_fd (dup (mproc_shm_get_fd (from->shm)),
                                   sizeof (TestShared), &error);
  if (ev->shm == NULL)
    return FALSE;
  ev->sh = mproc_shm_get_data (ev->shm);
  ev->wp = mproc_wait_point_new (&ev->sh->wait, dup (mproc_wait_point_get_fd (from->wp)), &error);
  ev->wp2 = mproc_wait_point_new (&ev->sh->wait2, dup (mproc_wait_point_get_fd (from->wp2)), &error);
  return ev->wp != NULL && ev->wp2 != NULL;
}

static void
test_event_clear (TestEvent *ev)
{
  g_clear_pointer (&ev->wp, mproc_wait_point_free);
  g_clear_pointer (&ev->wp2, mproc_wait_point_free);
  g_clear_pointer (&ev->shm, mproc_shm_unref);
  ev->sh = NULL;
}

static void
test_event_set (TestEvent *ev)
{
  g_atomic_int_set (&ev->sh->flag, 1);
  mproc_wait_point_wake (ev->wp, G_MAXINT);
}

static gboolean
flag_is_set (gpointer   user_data,
             GError   **error)
{
  TestShared *sh = user_data;

  return g_atomic_int_get (&sh->flag) != 0;
}

/* A semaphore's acquire: acts on the state. */
static gboolean
take_token (gpointer   user_data,
            GError   **error)
{
  TestShared *sh = user_data;
  guint32 n = g_atomic_int_get (&sh->tokens);

  while (n > 0)
    {
      if (g_atomic_int_compare_and_exchange_full (&sh->tokens, n, n - 1, &n))
        return TRUE;
    }
  return FALSE;
}

static gboolean
never (gpointer   user_data,
       GError   **error)
{
  guint *n_calls = user_data;

  if (n_calls != NULL)
    (*n_calls)++;
  return FALSE;
}

static gboolean
fail_when_set (gpointer   user_data,
               GError   **error)
{
  TestShared *sh = user_data;

  if (g_atomic_int_get (&sh->flag) == 0)
    return FALSE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "owner died");
  return FALSE;
}

typedef struct
{
  guint    n_done;
  guint    n_success;
  GError  *first_error;
  gint64   done_time;
} DoneCounter;

static void
count_done (gpointer  user_data,
            gboolean  success,
            GError   *error)
{
  DoneCounter *c = user_data;

  g_assert_true (success == (error == NULL));
  c->n_done++;
  c->done_time = g_get_monotonic_time ();
  if (success)
    c->n_success++;
  else if (c->first_error == NULL)
    c->first_error = g_error_copy (error);
}

static void
done_counter_clear (DoneCounter *c)
{
  g_clear_error (&c->first_error);
}

static gboolean
set_true_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates @context until *@n reaches @target, failing after 10 s. */
static void
iterate_until (GMainContext *context,
               guint        *n,
               guint         target)
{
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (*n < target)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, end);
      g_main_context_iteration (context, TRUE);
    }
}

/* ------------------------------------------------------------------------ */
/* shm                                                                      */

static int
shm_child_reads (gpointer data)
{
  MprocShm *parent = data;
  g_autoptr(MprocShm) shm = NULL;
  char *p;

  shm = mproc_shm_new_from_fd (dup (mproc_shm_get_fd (parent)), 8192, NULL);
  CHILD_ASSERT (shm != NULL);
  CHILD_ASSERT (mproc_shm_get_size (shm) == 8192);
  p = mproc_shm_get_data (shm);
  CHILD_ASSERT (strcmp (p, "hello from the parent") == 0);
  strcpy (p + 4096, "hello from the child");
  return 0;
}

static void
test_shm_child_sees_data (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocShm) shm = NULL;
  char *p;

  g_test_summary ("A child maps the arena from a dup of its fd and shares writes both ways");

  shm = mproc_shm_new (8192, "test-shm", &error);
  g_assert_no_error (error);
  p = mproc_shm_get_data (shm);
  for (gsize i = 0; i < 8192; i++)
    g_assert_cmpint (p[i], ==, 0);
  strcpy (p, "hello from the parent");

  assert_child_ok (fork_child (shm_child_reads, shm));
  g_assert_cmpstr (p + 4096, ==, "hello from the child");
}

static void
test_shm_sealed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocShm) shm = mproc_shm_new (4096, NULL, &error);
  int seals;

  g_assert_no_error (error);
  seals = fcntl (mproc_shm_get_fd (shm), F_GET_SEALS);
  g_assert_cmpint (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), ==,
                   F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  g_assert_cmpint (ftruncate (mproc_shm_get_fd (shm), 0), ==, -1);
  g_assert_cmpint (errno, ==, EPERM);

  g_assert_true (mproc_shm_ref (shm) == shm);
  mproc_shm_unref (shm);
}

static void
test_shm_reject_too_small (void)
{
  g_autoptr(GError) error = NULL;
  MprocShm *shm;
  int fd;

  fd = memfd_create ("small", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 100), ==, 0);
  g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), ==, 0);

  shm = mproc_shm_new_from_fd (fd, 4096, &error);   /* closes fd */
  g_assert_null (shm);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_test_message ("%s", error->message);
}

static void
test_shm_reject_unsealed (void)
{
  g_autoptr(GError) error = NULL;
  MprocShm *shm;
  int fd;

  fd = memfd_create ("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 4096), ==, 0);
  shm = mproc_shm_new_from_fd (fd, 4096, &error);
  g_assert_null (shm);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
  g_clear_error (&error);

  /* a memfd that cannot even be sealed */
  fd = memfd_create ("unsealable", MFD_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 4096), ==, 0);
  shm = mproc_shm_new_from_fd (fd, 4096, &error);
  g_assert_null (shm);
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
}

static void
test_shm_reject_not_memfd (void)
{
  g_autoptr(GError) error = NULL;
  int fds[2];

  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  close (fds[1]);
  g_assert_null (mproc_shm_new_from_fd (fds[0], 16, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
}

/* ------------------------------------------------------------------------ */
/* futex                                                                    */

static gpointer
futex_waker_thread (gpointer data)
{
  guint32 *word = data;

  g_usleep (20 * 1000);
  g_atomic_int_set (word, 1);
  mproc_futex_wake (word, G_MAXINT);
  return NULL;
}

static void
test_futex_wait_wake (void)
{
  g_autoptr(MprocShm) shm = mproc_shm_new (4096, NULL, NULL);
  guint32 *word = mproc_shm_get_data (shm);
  GThread *thread;
  gint64 start;
  int r;

  /* value already changed: returns at once */
  g_assert_cmpint (mproc_futex_wait (word, 7, -1), ==, 0);

  start = g_get_monotonic_time ();
  g_assert_cmpint (mproc_futex_wait (word, 0, start + 30 * 1000), ==, ETIMEDOUT);
  g_assert_cmpint (elapsed_ms_since (start), >=, 30);

  /* deadline in the past */
  g_assert_cmpint (mproc_futex_wait (word, 0, 1), ==, ETIMEDOUT);

  thread = g_thread_new ("waker", futex_waker_thread, word);
  do
    r = mproc_futex_wait (word, 0, g_get_monotonic_time () + 5 * G_USEC_PER_SEC);
  while (r == 0 && g_atomic_int_get (word) == 0);
  g_assert_cmpint (r, ==, 0);
  g_thread_join (thread);

  {
    cpu_set_t set;

    g_assert_cmpint (sched_getaffinity (0, sizeof set, &set), ==, 0);
    g_assert_true (mproc_spin_allowed () == (g_get_num_processors () > 1 && CPU_COUNT (&set) > 1));
  }
}

/* ------------------------------------------------------------------------ */
/* Wait point handles                                                       */

static void
test_wait_point_reject_not_eventfd (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocShm) shm = mproc_shm_new (4096, NULL, NULL);
  int fds[2];

  g_test_summary ("A wait point refuses an fd that is not an eventfd (a pipe would SIGPIPE the waker)");
  g_assert_cmpint (pipe2 (fds, O_CLOEXEC), ==, 0);
  close (fds[0]);
  g_assert_null (mproc_wait_point_new (mproc_shm_get_data (shm), fds[1], &error));   /* closes fds[1] */
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE);
}

/* ------------------------------------------------------------------------ */
/* Blocking waits                                                           */

typedef struct
{
  TestEvent *parent;
  gboolean   use_cancellable;
} BlockingChildData;

static int
blocking_child (gpointer data)
{
  BlockingChildData *d = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  TestEvent ev = { 0, };
  gboolean ok;

  CHILD_ASSERT (test_event_open (&ev, d->parent));
  if (d->use_cancellable)
    cancellable = g_cancellable_new ();
  ok = mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, 10 * G_USEC_PER_SEC,
                              cancellable, &error);
  if (error != NULL)
    g_printerr ("child: %s\n", error->message);
  CHILD_ASSERT (ok);
  test_event_clear (&ev);
  return 0;
}

static void
blocking_child_woken (gboolean use_cancellable,
                      gint64   spin)
{
  TestEvent ev = { 0, };
  BlockingChildData d = { &ev, use_cancellable };
  gint64 saved_spin = mproc_wait_get_spin_usec ();
  gint64 start;
  pid_t pid;

  mproc_wait_set_spin_usec (spin);
  test_event_init (&ev);
  pid = fork_child (blocking_child, &d);

  /* let it fall asleep, then check it counted itself */
  start = g_get_monotonic_time ();
  while ((use_cancellable ? g_atomic_int_get (&ev.sh->wait.n_fd_waiters)
                          : g_atomic_int_get (&ev.sh->wait.n_sleepers)) == 0)
    {
      g_assert_cmpint (elapsed_ms_since (start), <, 5000);
      g_usleep (1000);
    }

  test_event_set (&ev);
  assert_child_ok (pid);
  g_assert_cmpuint (ev.sh->wait.n_sleepers, ==, 0);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
  mproc_wait_set_spin_usec (saved_spin);
}

static void
test_wait_blocking_child_woken (void)
{
  g_test_summary ("A child blocked on the futex is woken by the parent's wake");
  blocking_child_woken (FALSE, 5);
}

static void
test_wait_blocking_child_woken_nospin (void)
{
  blocking_child_woken (FALSE, 0);
}

static void
test_wait_blocking_child_woken_cancellable (void)
{
  g_test_summary ("A child blocked in poll() (it has a cancellable) is woken through the eventfd");
  blocking_child_woken (TRUE, 5);
}

static void
test_wait_blocking_timeout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TestEvent ev = { 0, };
  gint64 start;

  test_event_init (&ev);

  /* 0 = check once */
  start = g_get_monotonic_time ();
  g_assert_false (mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, 0, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed_ms_since (start), <, 5);
  g_clear_error (&error);

  /* futex path */
  start = g_get_monotonic_time ();
  g_assert_false (mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, 100 * 1000, NULL, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed_ms_since (start), >=, 100);
  g_assert_cmpint (elapsed_ms_since (start), <, 180);
  g_clear_error (&error);

  /* poll path */
  start = g_get_monotonic_time ();
  g_assert_false (mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, 100 * 1000, cancellable, &error));
  g_assert_error (error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed_ms_since (start), >=, 100);
  g_assert_cmpint (elapsed_ms_since (start), <, 180);
  g_clear_error (&error);

  g_assert_cmpuint (ev.sh->wait.n_sleepers, ==, 0);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);

  /* already true: no time, no error */
  test_event_set (&ev);
  g_assert_true (mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, 0, NULL, &error));
  g_assert_no_error (error);

  test_event_clear (&ev);
}

static gpointer
cancel_later_thread (gpointer data)
{
  g_usleep (50 * 1000);
  g_cancellable_cancel (data);
  return NULL;
}

static void
test_wait_blocking_cancelled (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TestEvent ev = { 0, };
  GThread *thread;
  gint64 start;

  g_test_summary ("A blocking wait is cancelled promptly from another thread");
  test_event_init (&ev);

  start = g_get_monotonic_time ();
  thread = g_thread_new ("canceller", cancel_later_thread, cancellable);
  g_assert_false (mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (elapsed_ms_since (start), >=, 50);
  /* the wait has no timeout: any return is the cancellation's; the bound
   * only says "promptly", with room for a loaded machine under ASan */
  g_assert_cmpint (elapsed_ms_since (start), <, 1000);
  g_thread_join (thread);
  g_clear_error (&error);

  /* already cancelled: fails before checking, even if the check would succeed */
  test_event_set (&ev);
  g_assert_false (mproc_wait_point_wait (ev.wp, flag_is_set, ev.sh, -1, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
}

static gpointer
set_later_thread (gpointer data)
{
  g_usleep (30 * 1000);
  test_event_set (data);
  return NULL;
}

static void
test_wait_blocking_check_error (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TestEvent ev = { 0, };
  GThread *thread;

  test_event_init (&ev);
  thread = g_thread_new ("setter", set_later_thread, &ev);
  g_assert_false (mproc_wait_point_wait (ev.wp, fail_when_set, ev.sh, 5 * G_USEC_PER_SEC, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_thread_join (thread);
  g_clear_error (&error);

  g_assert_false (mproc_wait_point_wait (ev.wp, fail_when_set, ev.sh, 5 * G_USEC_PER_SEC, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  test_event_clear (&ev);
}

/* Many consumers (threads in two processes, futex and poll paths) take
 * tokens released one at a time with wake (1): a lost wake-up would leave
 * a consumer asleep with tokens available, and the test would time out. */
#define TOKENS_PER_CONSUMER 1000
#define CONSUMER_THREADS 3

typedef struct
{
  TestEvent *ev;
  gboolean   use_cancellable;
  gboolean   ok;
} ConsumerData;

static gpointer
consumer_thread (gpointer data)
{
  ConsumerData *c = data;
  g_autoptr(GCancellable) cancellable = c->use_cancellable ? g_cancellable_new () : NULL;

  c->ok = TRUE;
  for (guint i = 0; i < TOKENS_PER_CONSUMER && c->ok; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!mproc_wait_point_wait (c->ev->wp, take_token, c->ev->sh, 10 * G_USEC_PER_SEC,
                                  cancellable, &error))
        {
          g_printerr ("consumer %d: token %u: %s\n", (int) getpid (), i, error->message);
          c->ok = FALSE;
        }
    }
  return NULL;
}

static int
consumer_child (gpointer data)
{
  TestEvent ev = { 0, };
  ConsumerData c[CONSUMER_THREADS];
  GThread *threads[CONSUMER_THREADS];

  CHILD_ASSERT (test_event_open (&ev, data));
  for (guint i = 0; i < CONSUMER_THREADS; i++)
    {
      c[i].ev = &ev;
      c[i].use_cancellable = i == 0;
      threads[i] = g_thread_new ("consumer", consumer_thread, &c[i]);
    }
  for (guint i = 0; i < CONSUMER_THREADS; i++)
    {
      g_thread_join (threads[i]);
      CHILD_ASSERT (c[i].ok);
    }
  test_event_clear (&ev);
  return 0;
}

static void
test_wait_blocking_tokens (void)
{
  TestEvent ev = { 0, };
  pid_t pids[2];
  guint total = G_N_ELEMENTS (pids) * CONSUMER_THREADS * TOKENS_PER_CONSUMER;

  g_test_summary ("No lost wake-up with wake (1) and acting checks, across threads and processes");
  test_event_init (&ev);
  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    pids[i] = fork_child (consumer_child, &ev);

  for (guint i = 0; i < total; i++)
    {
      g_atomic_int_inc (&ev.sh->tokens);
      mproc_wait_point_wake (ev.wp, 1);
      if (i % 64 == 0)
        g_usleep (g_random_int_range (0, 200));   /* let some of them sleep */
    }

  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    assert_child_ok (pids[i]);
  g_assert_cmpuint (ev.sh->tokens, ==, 0);
  g_assert_cmpuint (ev.sh->wait.n_sleepers, ==, 0);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
}

/* ------------------------------------------------------------------------ */
/* Async waits                                                              */

static void
test_wait_async_immediate (void)
{
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };

  g_test_summary ("done is never called from inside wait_async, even when the check holds at once");
  test_event_init (&ev);
  test_event_set (&ev);

  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  g_assert_cmpuint (c.n_done, ==, 0);
  iterate_until (NULL, &c.n_done, 1);
  g_assert_cmpuint (c.n_success, ==, 1);

  /* the source retired: nothing counted any more */
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

static int
set_later_child (gpointer data)
{
  TestEvent ev = { 0, };

  CHILD_ASSERT (test_event_open (&ev, data));
  g_usleep (50 * 1000);
  test_event_set (&ev);
  test_event_clear (&ev);
  return 0;
}

static void
test_wait_async_many (void)
{
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  guint fds_before, threads_before;
  pid_t pid;

  g_test_summary ("1000 pending async waiters cost one fd and no thread, and all wake on one wake from another process");
  test_event_init (&ev);

  fds_before = count_fds ();
  threads_before = count_threads ();
  for (guint i = 0; i < 1000; i++)
    mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  g_assert_cmpuint (count_fds (), <=, fds_before + 1);
  g_assert_cmpuint (count_threads (), ==, threads_before);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 1);

  /* first round of checks, then the wake from the child */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (c.n_done, ==, 0);

  pid = fork_child (set_later_child, &ev);
  iterate_until (NULL, &c.n_done, 1000);
  g_assert_cmpuint (c.n_success, ==, 1000);
  assert_child_ok (pid);

  g_assert_cmpuint (count_threads (), ==, threads_before);
  g_assert_cmpuint (count_fds (), ==, fds_before);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

static int
async_child (gpointer data)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  CHILD_ASSERT (test_event_open (&ev, data));
  g_main_context_push_thread_default (context);
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  while (c.n_done == 0 && g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
  CHILD_ASSERT (c.n_success == 1);
  test_event_clear (&ev);
  done_counter_clear (&c);
  return 0;
}

static void
test_wait_async_multi_process (void)
{
  TestEvent ev = { 0, };
  BlockingChildData d = { &ev, FALSE };
  DoneCounter c = { 0, };
  pid_t async_pid, blocking_pid;
  gint64 start;

  g_test_summary ("One wake reaches an async waiter here, one in another process's main loop, and a blocked third process");
  test_event_init (&ev);

  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  async_pid = fork_child (async_child, &ev);
  blocking_pid = fork_child (blocking_child, &d);

  start = g_get_monotonic_time ();
  while (g_atomic_int_get (&ev.sh->wait.n_fd_waiters) < 2 ||
         g_atomic_int_get (&ev.sh->wait.n_sleepers) < 1)
    {
      g_assert_cmpint (elapsed_ms_since (start), <, 5000);
      g_usleep (1000);
    }
  /* let the child's source run its first round of checks */
  g_usleep (20 * 1000);

  test_event_set (&ev);
  iterate_until (NULL, &c.n_done, 1);
  g_assert_cmpuint (c.n_success, ==, 1);
  assert_child_ok (async_pid);
  assert_child_ok (blocking_pid);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

static void
test_wait_async_no_busy_loop (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  gboolean quit = FALSE;
  guint n_checks = 0;
  guint n_iterations = 0;

  g_test_summary ("A pending waiter whose check stays FALSE leaves the main loop idle, also after a wake");
  test_event_init (&ev);
  mproc_wait_point_wait_async (ev.wp, never, &n_checks, -1, cancellable, count_done, &c);

  g_timeout_add (200, set_true_cb, &quit);
  while (!quit)
    {
      g_main_context_iteration (NULL, TRUE);
      n_iterations++;
    }
  g_test_message ("%u iterations, %u checks in 200 ms", n_iterations, n_checks);
  g_assert_cmpuint (n_iterations, <=, 4);
  g_assert_cmpuint (n_checks, ==, 1);

  /* one wake: one more round of checks, then idle again */
  mproc_wait_point_wake (ev.wp, G_MAXINT);
  quit = FALSE;
  n_iterations = 0;
  g_timeout_add (200, set_true_cb, &quit);
  while (!quit)
    {
      g_main_context_iteration (NULL, TRUE);
      n_iterations++;
    }
  g_assert_cmpuint (n_iterations, <=, 4);
  g_assert_cmpuint (n_checks, ==, 2);

  g_cancellable_cancel (cancellable);
  iterate_until (NULL, &c.n_done, 1);
  g_assert_error (c.first_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

static void
test_wait_async_timeout (void)
{
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  DoneCounter c0 = { 0, };
  gint64 start;

  test_event_init (&ev);
  start = g_get_monotonic_time ();
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, 100 * 1000, NULL, count_done, &c);
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, 0, NULL, count_done, &c0);
  g_assert_cmpuint (c0.n_done, ==, 0);
  iterate_until (NULL, &c0.n_done, 1);
  g_assert_error (c0.first_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpuint (c.n_done, ==, 0);

  iterate_until (NULL, &c.n_done, 1);
  g_assert_error (c.first_error, MPROC_ERROR, MPROC_ERROR_TIMED_OUT);
  g_assert_cmpint ((c.done_time - start) / 1000, >=, 100);
  g_assert_cmpint ((c.done_time - start) / 1000, <, 180);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
  done_counter_clear (&c);
  done_counter_clear (&c0);
}

static void
test_wait_async_cancelled (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) other = g_cancellable_new ();
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  DoneCounter c_other = { 0, };
  GThread *thread;
  gint64 start;

  g_test_summary ("Cancelling from another thread completes the waiter promptly in its context; others stay pending");
  test_event_init (&ev);

  start = g_get_monotonic_time ();
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, cancellable, count_done, &c);
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, other, count_done, &c_other);
  thread = g_thread_new ("canceller", cancel_later_thread, cancellable);
  iterate_until (NULL, &c.n_done, 1);
  g_thread_join (thread);
  g_assert_error (c.first_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint ((c.done_time - start) / 1000, >=, 50);
  g_assert_cmpint ((c.done_time - start) / 1000, <, 130);
  g_assert_cmpuint (c_other.n_done, ==, 0);

  /* already cancelled: reported later, from the context */
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, cancellable, count_done, &c);
  g_assert_cmpuint (c.n_done, ==, 1);
  iterate_until (NULL, &c.n_done, 2);
  g_assert_cmpuint (c.n_success, ==, 0);

  test_event_set (&ev);
  iterate_until (NULL, &c_other.n_done, 1);
  g_assert_cmpuint (c_other.n_success, ==, 1);
  test_event_clear (&ev);
  done_counter_clear (&c);
  done_counter_clear (&c_other);
}

static gpointer
free_later_thread (gpointer data)
{
  TestEvent *ev = data;

  g_usleep (30 * 1000);
  g_clear_pointer (&ev->wp, mproc_wait_point_free);
  return NULL;
}

static void
test_wait_async_closed (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  GThread *thread;

  g_test_summary ("Freeing a wait point completes its pending async waiters with CLOSED, from their context");
  test_event_init (&ev);

  for (guint i = 0; i < 10; i++)
    mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, i % 2 ? cancellable : NULL,
                                 count_done, &c);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 1);

  mproc_wait_point_free (g_steal_pointer (&ev.wp));
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  g_assert_cmpuint (c.n_done, ==, 0);
  iterate_until (NULL, &c.n_done, 10);
  g_assert_cmpuint (c.n_success, ==, 0);
  g_assert_error (c.first_error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_clear_error (&c.first_error);

  /* freed from another thread while this one runs the loop */
  ev.wp = mproc_wait_point_new (&ev.sh->wait, -1, NULL);
  for (guint i = 0; i < 10; i++)
    mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, 10 * G_USEC_PER_SEC, cancellable,
                                 count_done, &c);
  thread = g_thread_new ("freer", free_later_thread, &ev);
  iterate_until (NULL, &c.n_done, 20);
  g_thread_join (thread);
  g_assert_cmpuint (c.n_success, ==, 0);
  g_assert_error (c.first_error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);

  test_event_clear (&ev);
  done_counter_clear (&c);
}

static void
test_wait_async_check_error (void)
{
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  pid_t pid;

  test_event_init (&ev);
  mproc_wait_point_wait_async (ev.wp, fail_when_set, ev.sh, -1, NULL, count_done, &c);
  pid = fork_child (set_later_child, &ev);
  iterate_until (NULL, &c.n_done, 1);
  assert_child_ok (pid);
  g_assert_error (c.first_error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

static void
test_wait_async_context (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };

  g_test_summary ("The waiter belongs to the thread-default context at the time of the call");
  test_event_init (&ev);
  test_event_set (&ev);

  g_main_context_push_thread_default (context);
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  g_main_context_pop_thread_default (context);

  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (c.n_done, ==, 0);

  iterate_until (context, &c.n_done, 1);
  g_assert_cmpuint (c.n_success, ==, 1);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

static void
test_wait_async_context_destroyed (void)
{
  GMainContext *context = g_main_context_new ();
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };

  test_event_init (&ev);
  g_main_context_push_thread_default (context);
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  mproc_wait_point_wait_async (ev.wp, flag_is_set, ev.sh, -1, NULL, count_done, &c);
  g_main_context_pop_thread_default (context);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 1);

  g_main_context_unref (context);
  g_assert_cmpuint (c.n_done, ==, 2);
  g_assert_error (c.first_error, MPROC_ERROR, MPROC_ERROR_CLOSED);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

typedef struct
{
  TestEvent   *ev;
  DoneCounter  c;
  guint        n_rewaits;
} RewaitData;

static void
rewait_done (gpointer  user_data,
             gboolean  success,
             GError   *error)
{
  RewaitData *r = user_data;

  count_done (&r->c, success, error);
  if (r->n_rewaits-- > 0)
    mproc_wait_point_wait_async (r->ev->wp, take_token, r->ev->sh, -1, NULL, rewait_done, r);
}

static void
test_wait_async_rewait_from_done (void)
{
  TestEvent ev = { 0, };
  RewaitData r = { &ev, { 0, }, 99 };
  pid_t pid;

  g_test_summary ("done may start the next wait; tokens released by another process one by one are all taken");
  test_event_init (&ev);
  mproc_wait_point_wait_async (ev.wp, take_token, ev.sh, -1, NULL, rewait_done, &r);
  pid = fork_child (set_later_child, &ev);   /* only to exercise a foreign wake */
  for (guint i = 0; i < 100; i++)
    {
      g_atomic_int_inc (&ev.sh->tokens);
      mproc_wait_point_wake (ev.wp, 1);
      if (i % 10 == 0)
        g_main_context_iteration (NULL, FALSE);
    }
  iterate_until (NULL, &r.c.n_done, 100);
  g_assert_cmpuint (r.c.n_success, ==, 100);
  g_assert_cmpuint (ev.sh->tokens, ==, 0);
  assert_child_ok (pid);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
  done_counter_clear (&r.c);
}

static int
token_producer_child (gpointer data)
{
  TestEvent ev = { 0, };

  CHILD_ASSERT (test_event_open (&ev, data));
  for (guint i = 0; i < 500; i++)
    {
      g_atomic_int_inc (&ev.sh->tokens);
      mproc_wait_point_wake (ev.wp, 1);
      if (i % 16 == 0)
        g_usleep (g_random_int_range (0, 300));
    }
  test_event_clear (&ev);
  return 0;
}

static void
test_wait_async_tokens (void)
{
  TestEvent ev = { 0, };
  DoneCounter c = { 0, };
  pid_t pid;

  g_test_summary ("500 async waiters with acting checks each take one of 500 tokens released by another process with wake (1)");
  test_event_init (&ev);
  for (guint i = 0; i < 500; i++)
    mproc_wait_point_wait_async (ev.wp, take_token, ev.sh, -1, NULL, count_done, &c);
  pid = fork_child (token_producer_child, &ev);
  iterate_until (NULL, &c.n_done, 500);
  assert_child_ok (pid);
  g_assert_cmpuint (c.n_success, ==, 500);
  g_assert_cmpuint (ev.sh->tokens, ==, 0);
  test_event_clear (&ev);
  done_counter_clear (&c);
}

typedef struct
{
  TestEvent    *ev;
  GCancellable *cancellable;
  DoneCounter   c;
  guint         n_cancellable;
} ThreadWaiters;

#define WAITERS_PER_THREAD 100

static gpointer
async_waiters_thread (gpointer data)
{
  ThreadWaiters *t = data;
  g_autoptr(GMainContext) context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  for (guint i = 0; i < WAITERS_PER_THREAD; i++)
    mproc_wait_point_wait_async (t->ev->wp, take_token, t->ev->sh, -1,
                                 i % 4 == 0 ? t->cancellable : NULL, count_done, &t->c);
  iterate_until (context, &t->c.n_done, WAITERS_PER_THREAD);
  g_main_context_pop_thread_default (context);
  return NULL;
}

static void
test_wait_async_threads (void)
{
  TestEvent ev = { 0, };
  ThreadWaiters t[4];
  GThread *threads[G_N_ELEMENTS (t)];
  guint n_success = 0, n_cancelled = 0;

  g_test_summary ("Async waiters in four threads' contexts (four sources) share tokens; some are cancelled midway");
  test_event_init (&ev);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      t[i] = (ThreadWaiters) { &ev, g_cancellable_new (), { 0, }, 0 };
      threads[i] = g_thread_new ("async-waiters", async_waiters_thread, &t[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (t) * WAITERS_PER_THREAD; i++)
    {
      if (i == 100)
        for (guint j = 0; j < G_N_ELEMENTS (t); j++)
          g_cancellable_cancel (t[j].cancellable);
      g_atomic_int_inc (&ev.sh->tokens);
      mproc_wait_point_wake (ev.wp, 1);
      if (i % 8 == 0)
        g_usleep (100);
    }

  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      g_thread_join (threads[i]);
      n_success += t[i].c.n_success;
      n_cancelled += t[i].c.n_done - t[i].c.n_success;
      if (t[i].c.first_error != NULL)
        g_assert_error (t[i].c.first_error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      done_counter_clear (&t[i].c);
      g_object_unref (t[i].cancellable);
    }

  /* every token was taken or is still there; nobody took one and reported CANCELLED */
  g_assert_cmpuint (n_success + n_cancelled, ==, G_N_ELEMENTS (t) * WAITERS_PER_THREAD);
  g_assert_cmpuint (n_success + ev.sh->tokens, ==, G_N_ELEMENTS (t) * WAITERS_PER_THREAD);
  g_assert_cmpuint (ev.sh->wait.n_fd_waiters, ==, 0);
  test_event_clear (&ev);
}

/* ------------------------------------------------------------------------ */
/* Measurements (-m perf)                                                   */

#define PINGPONG_ROUNDS 20000

typedef struct
{
  guint32 *word;
  guint32  target;
} ReachData;

static gboolean
word_reached (gpointer   user_data,
              GError   **error)
{
  ReachData *r = user_data;

  return (guint32) g_atomic_int_get (r->word) >= r->target;
}

typedef struct
{
  TestEvent *parent;
  gboolean   use_cancellable;
} PongData;

static int
pong_child (gpointer data)
{
  PongData *d = data;
  g_autoptr(GCancellable) cancellable = d->use_cancellable ? g_cancellable_new () : NULL;
  TestEvent ev = { 0, };

  CHILD_ASSERT (test_event_open (&ev, d->parent));
  for (guint32 i = 1; i <= PINGPONG_ROUNDS + 100; i++)
    {
      ReachData r = { &ev.sh->ping, i };

      CHILD_ASSERT (mproc_wait_point_wait (ev.wp, word_reached, &r, 10 * G_USEC_PER_SEC,
                                           cancellable, NULL));
      g_atomic_int_set (&ev.sh->pong, i);
      mproc_wait_point_wake (ev.wp2, G_MAXINT);
    }
  test_event_clear (&ev);
  return 0;
}

static double
pingpong (gint64   spin,
          gboolean use_cancellable)
{
  g_autoptr(GCancellable) cancellable = use_cancellable ? g_cancellable_new () : NULL;
  TestEvent ev = { 0, };
  PongData d = { &ev, use_cancellable };
  gint64 saved_spin = mproc_wait_get_spin_usec ();
  gint64 start = 0;
  pid_t pid;

  mproc_wait_set_spin_usec (spin);
  test_event_init (&ev);
  pid = fork_child (pong_child, &d);
  for (guint32 i = 1; i <= PINGPONG_ROUNDS + 100; i++)
    {
      ReachData r = { &ev.sh->pong, i };

      if (i == 101)
        start = g_get_monotonic_time ();
      g_atomic_int_set (&ev.sh->ping, i);
      mproc_wait_point_wake (ev.wp, G_MAXINT);
      g_assert_true (mproc_wait_point_wait (ev.wp2, word_reached, &r, 10 * G_USEC_PER_SEC,
                                            cancellable, NULL));
    }
  assert_child_ok (pid);
  test_event_clear (&ev);
  mproc_wait_set_spin_usec (saved_spin);

  return (double) (g_get_monotonic_time () - start) / PINGPONG_ROUNDS;
}

static void
test_perf_pingpong (void)
{
  if (!g_test_perf ())
    {
      g_test_skip ("only with -m perf");
      return;
    }

  g_test_message ("futex ping-pong, spin 5 µs:  %.2f µs per round trip", pingpong (5, FALSE));
  g_test_message ("futex ping-pong, spin 20 µs: %.2f µs per round trip", pingpong (20, FALSE));
  g_test_message ("futex ping-pong, no spin:    %.2f µs per round trip", pingpong (0, FALSE));
  g_test_message ("poll ping-pong (cancellable), spin 5 µs: %.2f µs per round trip", pingpong (5, TRUE));
  g_test_message ("poll ping-pong (cancellable), no spin:   %.2f µs per round trip", pingpong (0, TRUE));
}

static void
test_perf_wake_no_waiters (void)
{
  TestEvent ev = { 0, };
  const guint n = 10 * 1000 * 1000;
  gint64 start;

  if (!g_test_perf ())
    {
      g_test_skip ("only with -m perf");
      return;
    }

  test_event_init (&ev);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    mproc_wait_point_wake (ev.wp, 1);
  g_test_message ("wake with nobody waiting: %.2f ns",
                  (double) (g_get_monotonic_time () - start) * 1000.0 / n);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    mproc_wait_point_wait (ev.wp, never, NULL, 0, NULL, NULL);
  g_test_message ("wait (timeout 0) on a false check: %.2f ns",
                  (double) (g_get_monotonic_time () - start) * 1000.0 / n);
  test_event_clear (&ev);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* Created once up front so that its wakeup fd does not count as a leak
   * in the first test that iterates it. */
  g_main_context_default ();
  g_main_context_iteration (NULL, FALSE);

  add_test ("/mproc/shm/child-sees-data", test_shm_child_sees_data);
  add_test ("/mproc/shm/sealed", test_shm_sealed);
  add_test ("/mproc/shm/reject/too-small", test_shm_reject_too_small);
  add_test ("/mproc/shm/reject/unsealed", test_shm_reject_unsealed);
  add_test ("/mproc/shm/reject/not-memfd", test_shm_reject_not_memfd);
  add_test ("/mproc/futex/wait-wake", test_futex_wait_wake);
  add_test ("/mproc/wait/point/reject-not-eventfd", test_wait_point_reject_not_eventfd);
  add_test ("/mproc/wait/blocking/child-woken", test_wait_blocking_child_woken);
  add_test ("/mproc/wait/blocking/child-woken/nospin", test_wait_blocking_child_woken_nospin);
  add_test ("/mproc/wait/blocking/child-woken/cancellable", test_wait_blocking_child_woken_cancellable);
  add_test ("/mproc/wait/blocking/timeout", test_wait_blocking_timeout);
  add_test ("/mproc/wait/blocking/cancelled", test_wait_blocking_cancelled);
  add_test ("/mproc/wait/blocking/check-error", test_wait_blocking_check_error);
  add_test ("/mproc/wait/blocking/tokens", test_wait_blocking_tokens);
  add_test ("/mproc/wait/async/immediate", test_wait_async_immediate);
  add_test ("/mproc/wait/async/many", test_wait_async_many);
  add_test ("/mproc/wait/async/multi-process", test_wait_async_multi_process);
  add_test ("/mproc/wait/async/no-busy-loop", test_wait_async_no_busy_loop);
  add_test ("/mproc/wait/async/timeout", test_wait_async_timeout);
  add_test ("/mproc/wait/async/cancelled", test_wait_async_cancelled);
  add_test ("/mproc/wait/async/closed", test_wait_async_closed);
  add_test ("/mproc/wait/async/check-error", test_wait_async_check_error);
  add_test ("/mproc/wait/async/context", test_wait_async_context);
  add_test ("/mproc/wait/async/context-destroyed", test_wait_async_context_destroyed);
  add_test ("/mproc/wait/async/rewait-from-done", test_wait_async_rewait_from_done);
  add_test ("/mproc/wait/async/tokens", test_wait_async_tokens);
  add_test ("/mproc/wait/async/threads", test_wait_async_threads);
  add_test ("/mproc/wait/perf/pingpong", test_perf_pingpong);
  add_test ("/mproc/wait/perf/wake-no-waiters", test_perf_wake_no_waiters);

  return g_test_run ();
}
