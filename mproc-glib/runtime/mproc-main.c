/* mproc-main.c: process-wide state, mproc_init() and the child registry
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "mproc-error.h"
#include "mproc-fd-private.h"
#include "mproc-i18n-private.h"
#include "mproc-main.h"
#include "mproc-process-private.h"
#include "mproc-runtime-private.h"
#include "mproc-wire-private.h"

typedef struct
{
  MprocTargetFunc func;
  gpointer        user_data;
  GDestroyNotify  destroy;
} Target;

/* The fork function of mproc_set_fork_func(): reference-counted, so that a
 * fork in progress keeps it alive while another thread replaces it. */
typedef struct
{
  MprocForkFunc  func;
  gpointer       user_data;
  GDestroyNotify destroy;
} ForkHook;

/* All of it is guarded by runtime_lock. */
static GMutex        runtime_lock;
static gint          initialized;      /* atomic */
static GHashTable   *targets;
static guint         child_counter;
static char         *identity;           /* "" in the main process, "1:2" in Process-1:2 */
static GPtrArray    *children;           /* started, not yet reaped */
static MprocProcess *current_process;
static MprocProcess *parent_process;
static char         *parent_process_name;   /* in a child, until parent_process is made */
static GPid          parent_process_pid;
static int           lifeline_fds[2] = { -1, -1 };
static int           child_lifeline_fd = -1;
static gboolean      atexit_registered;
static ForkHook     *fork_hook;
static char         *init_dir;         /* set once, by the first mproc_init() */
static char        **child_argv;       /* mproc_set_child_argv(), or NULL */

static void
target_free (gpointer data)
{
  Target *target = data;

  if (target->destroy != NULL)
    target->destroy (target->user_data);
  g_free (target);
}

/**
 * mproc_init:
 * @argc: (inout) (optional): the address of main()'s `argc`
 * @argv: (array length=argc) (inout) (optional) (nullable) (transfer none): the address of main()'s `argv`
 *
 * Prepares mproc-glib and, in a child started by the spawn or forkserver
 * start method, runs the child's target and exits: in a child this function
 * never returns.
 *
 * Call it at the top of main(), after registering targets with
 * [func@Mproc.register_target] (and after g_type_ensure() of any
 * [class@Mproc.Process] subclass the program starts, unless it is linked with
 * `-rdynamic`), and before anything else: the spawn and forkserver start
 * methods re-execute the program, and everything main() does before this call
 * runs again in every such child. Calling it also makes forkserver the
 * default start method, which is safe in threaded programs such as GTK
 * applications (see [func@Mproc.Context.get_default]).
 *
 * It does nothing in a process that was not started by mproc-glib, such as
 * the subprocesses of `g_test_trap_subprocess()`.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_init (int    *argc,
            char ***argv)
{
  const char *bootstrap;
  g_auto(GStrv) parts = NULL;
  gint64 fd, lifeline, parent_pid;

  /* The command line may be relative to here (python3 script.py): children
   * re-execute it here, wherever the program has gone since. A spawned
   * child was started here too, before it moved to its parent's directory,
   * and passes it on to its own children. */
  g_mutex_lock (&runtime_lock);
  if (init_dir == NULL)
    init_dir = g_get_current_dir ();
  g_mutex_unlock (&runtime_lock);

  g_atomic_int_set (&initialized, TRUE);

  bootstrap = g_getenv (MPROC_BOOTSTRAP_ENV);
  if (bootstrap == NULL)
    return;

  parts = g_strsplit (bootstrap, ":", 0);
  g_unsetenv (MPROC_BOOTSTRAP_ENV);

  if (g_strv_length (parts) != 4 ||
      !g_ascii_string_to_signed (parts[1], 10, 0, G_MAXINT, &fd, NULL) ||
      !g_ascii_string_to_signed (parts[2], 10, 0, G_MAXINT, &lifeline, NULL) ||
      !g_ascii_string_to_signed (parts[3], 10, 1, G_MAXINT, &parent_pid, NULL))
    {
      /* Running the parent's main() again would be worse than stopping. */
      g_printerr ("mproc-glib: ");
      /* Translators: %s is the name of an environment variable. */
      g_printerr (_("Invalid %s in the environment"), MPROC_BOOTSTRAP_ENV);
      g_printerr ("\n");
      _exit (1);
    }

  if (g_str_equal (parts[0], "spawn"))
    mproc_spawn_child_main (fd, lifeline, parent_pid);
  else if (g_str_equal (parts[0], "forkserver"))
    mproc_forkserver_main (fd, lifeline, parent_pid);

  g_printerr ("mproc-glib: ");
  /* Translators: %s is fork, spawn or forkserver, or what was found instead. */
  g_printerr (_("Unknown start mode “%s”"), parts[0]);
  g_printerr ("\n");
  _exit (1);
}

gboolean
mproc_runtime_is_initialized (void)
{
  return g_atomic_int_get (&initialized);
}

/* Whether a GJS JavaScript engine lives in this process (gjs, or a program
 * embedding libgjs such as GNOME Shell).  SpiderMonkey starts its helper
 * threads at once and has nothing like os.fork() to prepare for a fork, so
 * only spawn is safe there: even a fork server would be a gjs. */
gboolean
mproc_runtime_is_gjs (void)
{
  static gsize gjs = 0;

  if (g_once_init_enter (&gjs))
    g_once_init_leave (&gjs, dlsym (RTLD_DEFAULT, "gjs_context_get_current") != NULL ? 2 : 1);
  return gjs == 2;
}

/**
 * mproc_register_target:
 * @name: the name under which processes refer to @func
 * @func: (scope notified) (closure user_data) (destroy destroy): the function
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Registers a function that [class@Mproc.Process] can run in a child by
 * name. Register every target before calling [func@Mproc.init], so that a child
 * started by spawn or forkserver, which runs main() only up to [func@Mproc.init],
 * knows them too. A second registration of the same name replaces the first.
 *
 * This function is thread-safe.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_register_target (const char      *name,
                       MprocTargetFunc  func,
                       gpointer         user_data,
                       GDestroyNotify   destroy)
{
  Target *target;

  g_return_if_fail (name != NULL);
  g_return_if_fail (func != NULL);

  target = g_new0 (Target, 1);
  target->func = func;
  target->user_data = user_data;
  target->destroy = destroy;

  g_mutex_lock (&runtime_lock);
  if (targets == NULL)
    targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, target_free);
  g_hash_table_replace (targets, g_strdup (name), target);
  g_mutex_unlock (&runtime_lock);
}

static void
fork_hook_clear (gpointer data)
{
  ForkHook *hook = data;

  if (hook->destroy != NULL)
    hook->destroy (hook->user_data);
}

static void
fork_hook_unref (ForkHook *hook)
{
  g_atomic_rc_box_release_full (hook, fork_hook_clear);
}

/**
 * mproc_set_fork_func:
 * @func: (nullable) (scope notified) (closure user_data) (destroy destroy): the
 *   function that forks, or %NULL to use fork() again
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Makes the fork start method create its children with @func instead of
 * fork(). A language runtime needs this when its interpreter must be told of
 * a fork: PyGObject calls C with Python's global interpreter lock released,
 * so a fork() done in C while another Python thread runs leaves the child
 * waiting for ever for a lock held by a thread that does not exist there;
 * Python's own `os.fork()` prepares the interpreter and does not. The `Mproc`
 * override of PyGObject sets it to a function calling `os.fork()`, so Python
 * programs need do nothing.
 *
 * @func is called in the thread that starts the process, including pool
 * workers and manager servers started with the fork method; it must behave
 * as fork(). In the child the library goes on as after fork(): it runs the
 * target and exits. The spawn start method and the fork server do not call
 * it: they do not fork the calling process.
 *
 * This function is thread-safe; a fork already under way finishes with the
 * function it started with.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_set_fork_func (MprocForkFunc  func,
                     gpointer       user_data,
                     GDestroyNotify destroy)
{
  ForkHook *hook = NULL;
  ForkHook *old;

  if (func != NULL)
    {
      hook = g_atomic_rc_box_new0 (ForkHook);
      hook->func = func;
      hook->user_data = user_data;
      hook->destroy = destroy;
    }
  else if (destroy != NULL)
    destroy (user_data);

  g_mutex_lock (&runtime_lock);
  old = fork_hook;
  fork_hook = hook;
  g_mutex_unlock (&runtime_lock);

  if (old != NULL)
    fork_hook_unref (old);
}

GPid
mproc_runtime_fork (void)
{
  ForkHook *hook = NULL;
  GPid pid;

  g_mutex_lock (&runtime_lock);
  if (fork_hook != NULL)
    hook = g_atomic_rc_box_acquire (fork_hook);
  g_mutex_unlock (&runtime_lock);

  if (hook == NULL)
    return fork ();

  errno = 0;
  pid = hook->func (hook->user_data);
  /* In the child the hook stays referenced: it may fork again. */
  if (pid != 0)
    {
      int errsv = errno;

      fork_hook_unref (hook);
      errno = errsv;
    }
  return pid;
}

gboolean
mproc_runtime_lookup_target (const char      *name,
                             MprocTargetFunc *func,
                             gpointer        *user_data)
{
  Target *target = NULL;

  for (guint i = 0; mproc_builtin_targets[i].name != NULL; i++)
    if (g_str_equal (mproc_builtin_targets[i].name, name))
      {
        *func = mproc_builtin_targets[i].func;
        *user_data = NULL;
        return TRUE;
      }

  g_mutex_lock (&runtime_lock);
  if (targets != NULL)
    target = g_hash_table_lookup (targets, name);
  if (target != NULL)
    {
      *func = target->func;
      *user_data = target->user_data;
    }
  g_mutex_unlock (&runtime_lock);

  return target != NULL;
}

/* Python names a process after its class and its place among its parent's
 * children: Process-1, then Process-1:1 for that child's first child. */
char *
mproc_runtime_next_name (GType type)
{
  const char *type_name;
  const char *plus;
  char *name;

  type_name = type == MPROC_TYPE_PROCESS ? "Process" : g_type_name (type);
  /* PyGObject registers Python classes as "module+Class" */
  plus = strrchr (type_name, '+');
  if (plus != NULL)
    type_name = plus + 1;

  g_mutex_lock (&runtime_lock);
  child_counter++;
  if (identity == NULL || identity[0] == '\0')
    name = g_strdup_printf ("%s-%u", type_name, child_counter);
  else
    name = g_strdup_printf ("%s-%s:%u", type_name, identity, child_counter);
  g_mutex_unlock (&runtime_lock);

  return name;
}

/* The identity a new child gets: its name's numeric suffix. */
char *
mproc_runtime_dup_identity (void)
{
  char *ret;

  g_mutex_lock (&runtime_lock);
  if (identity == NULL || identity[0] == '\0')
    ret = g_strdup_printf ("%u", child_counter);
  else
    ret = g_strdup_printf ("%s:%u", identity, child_counter);
  g_mutex_unlock (&runtime_lock);

  return ret;
}

static void
at_exit (void)
{
  mproc_shutdown ();
}

void
mproc_runtime_add_child (MprocProcess *process)
{
  g_mutex_lock (&runtime_lock);
  if (children == NULL)
    children = g_ptr_array_new_with_free_func (g_object_unref);
  g_ptr_array_add (children, g_object_ref (process));
  if (!atexit_registered)
    {
      atexit_registered = TRUE;
      atexit (at_exit);
    }
  g_mutex_unlock (&runtime_lock);
}

void
mproc_runtime_remove_child (MprocProcess *process)
{
  MprocProcess *removed = NULL;

  g_mutex_lock (&runtime_lock);
  if (children != NULL && g_ptr_array_remove_fast (children, process))
    removed = process;
  g_mutex_unlock (&runtime_lock);

  /* g_ptr_array_remove_fast() dropped the registry's reference, which may
   * well have been the last one: nothing more to do here. */
  (void) removed;
}

static GPtrArray *
dup_children (void)
{
  GPtrArray *ret = g_ptr_array_new_with_free_func (g_object_unref);

  g_mutex_lock (&runtime_lock);
  for (guint i = 0; children != NULL && i < children->len; i++)
    g_ptr_array_add (ret, g_object_ref (children->pdata[i]));
  g_mutex_unlock (&runtime_lock);

  return ret;
}

/**
 * mproc_active_children:
 *
 * Lists the children of the calling process that are still running, after
 * reaping those that have exited (as Python's `active_children()` does).
 *
 * This function is thread-safe.
 *
 * Returns: (transfer full) (element-type MprocProcess): the running children
 *
 * Since: 0.1
 * Stability: Unstable
 */
GList *
mproc_active_children (void)
{
  g_autoptr(GPtrArray) snapshot = dup_children ();
  GList *ret = NULL;

  for (guint i = snapshot->len; i > 0; i--)
    {
      MprocProcess *process = snapshot->pdata[i - 1];

      if (!mproc_process_try_reap (process))
        ret = g_list_prepend (ret, g_object_ref (process));
    }

  return ret;
}

/**
 * mproc_shutdown:
 *
 * Does what Python does when a program exits: terminates the daemon children
 * of the calling process (SIGTERM), waits for all children to exit, and stops
 * the fork server. It runs by itself at exit() (an atexit() handler) and
 * after a child's target returns; call it earlier to control when the wait
 * happens. A program can go on starting processes afterwards.
 *
 * This function blocks until the non-daemon children have exited.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_shutdown (void)
{
  g_autoptr(GPtrArray) snapshot = NULL;
  gboolean idle;

  g_mutex_lock (&runtime_lock);
  idle = children == NULL || children->len == 0;
  g_mutex_unlock (&runtime_lock);
  if (idle && mproc_forkserver_get_pid () == 0)
    return;

  snapshot = dup_children ();

  for (guint i = 0; i < snapshot->len; i++)
    if (mproc_process_get_daemon (snapshot->pdata[i]))
      mproc_process_terminate (snapshot->pdata[i]);

  for (guint i = 0; i < snapshot->len; i++)
    mproc_process_join (snapshot->pdata[i], -1, NULL, NULL);

  mproc_forkserver_stop ();
}

/**
 * mproc_current_process:
 *
 * Returns the [class@Mproc.Process] object of the calling process: in a child,
 * the object its parent started (its name, its arguments and shared objects);
 * in a program's main process, an object named "MainProcess".
 *
 * Returns: (transfer none): the current process
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocProcess *
mproc_current_process (void)
{
  MprocProcess *main_process = NULL;
  MprocProcess *ret;

  g_mutex_lock (&runtime_lock);
  ret = current_process;
  g_mutex_unlock (&runtime_lock);
  if (ret != NULL)
    return ret;

  /* Built outside the lock: constructing a process takes it. */
  main_process = mproc_process_new_for_pid ("MainProcess", getpid ());
  g_mutex_lock (&runtime_lock);
  if (current_process == NULL)
    current_process = g_steal_pointer (&main_process);
  ret = current_process;
  g_mutex_unlock (&runtime_lock);
  g_clear_object (&main_process);

  return ret;
}

/**
 * mproc_parent_process:
 *
 * Returns an object describing the parent of the calling process if it was
 * started by mproc-glib (its name and pid), or %NULL in a main process.
 *
 * Returns: (transfer none) (nullable): the parent process
 *
 * Since: 0.1
 * Stability: Unstable
 */
MprocProcess *
mproc_parent_process (void)
{
  MprocProcess *parent = NULL;
  MprocProcess *ret;

  g_mutex_lock (&runtime_lock);
  ret = parent_process;
  g_mutex_unlock (&runtime_lock);
  if (ret != NULL || parent_process_pid == 0)
    return ret;

  /* Made on demand: a child that never asks starts faster. */
  parent = mproc_process_new_for_pid (parent_process_name, parent_process_pid);
  g_mutex_lock (&runtime_lock);
  if (parent_process == NULL)
    parent_process = g_steal_pointer (&parent);
  ret = parent_process;
  g_mutex_unlock (&runtime_lock);
  g_clear_object (&parent);

  return ret;
}

/**
 * mproc_cpu_count:
 *
 * Returns the number of CPUs this process may run on, like Python's
 * `cpu_count()`.
 *
 * Returns: the number of CPUs, at least 1
 *
 * Since: 0.1
 * Stability: Unstable
 */
guint
mproc_cpu_count (void)
{
  return g_get_num_processors ();
}

int
mproc_runtime_get_lifeline_fd (GError **error)
{
  int ret;

  g_mutex_lock (&runtime_lock);
  if (lifeline_fds[0] < 0 && !g_unix_open_pipe (lifeline_fds, FD_CLOEXEC, error))
    {
      lifeline_fds[0] = lifeline_fds[1] = -1;
      g_prefix_error (error, "%s", _("Cannot start a process: "));
    }
  ret = lifeline_fds[0];
  g_mutex_unlock (&runtime_lock);

  return ret;
}

/* Called first thing in every child (async-signal-safe, as it may run right
 * after fork()). Each child opens its own file description of the parent's
 * lifeline pipe and asks for SIGKILL when the pipe hangs up, that is when the
 * parent process is gone, whichever of its threads started us: unlike
 * PR_SET_PDEATHSIG, which fires when the forking *thread* exits. */
void
mproc_runtime_hold_lifeline (int  lifeline_fd,
                             GPid parent_pid)
{
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0, len = strlen (path);
  int fd;

  /* A fork()ed child inherits the write end: holding it would keep the pipe
   * from ever hanging up. No locking: we may be right after fork(). */
  if (lifeline_fds[1] >= 0)
    {
      close (lifeline_fds[1]);
      lifeline_fds[1] = -1;
    }

  /* no snprintf: its locale and FILE set-up would fault in pages */
  do
    digits[n++] = '0' + lifeline_fd % 10;
  while ((lifeline_fd /= 10) > 0 && n < (int) sizeof digits);
  while (n > 0)
    path[len++] = digits[--n];
  path[len] = '\0';
  fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0)
    {
      fcntl (fd, F_SETSIG, SIGKILL);
      fcntl (fd, F_SETOWN, getpid ());
      fcntl (fd, F_SETFL, O_RDONLY | O_NONBLOCK | O_ASYNC);
      /* a forkserver child inherits the server's own one */
      if (child_lifeline_fd >= 0)
        close (child_lifeline_fd);
      child_lifeline_fd = fd;
    }

  /* The parent may have died before we were ready to notice. */
  if (getppid () != parent_pid)
    _exit (1);
}

/* In a child, after mproc_runtime_hold_lifeline(): forget what belonged to
 * the parent (fork() children inherit all of it) and become @self. */
void
mproc_runtime_enter_child (MprocProcess *self,
                           const char   *child_identity,
                           const char   *parent_name,
                           GPid          parent_pid)
{
  g_autoptr(GPtrArray) inherited = NULL;
  int null_fd;

  g_mutex_lock (&runtime_lock);
  inherited = g_steal_pointer (&children);
  child_counter = 0;
  g_free (identity);
  identity = g_strdup (child_identity);
  g_clear_object (&current_process);
  current_process = g_object_ref (self);
  g_clear_object (&parent_process);
  g_free (parent_process_name);
  parent_process_name = g_strdup (parent_name);
  parent_process_pid = parent_pid;
  mproc_clear_fd (&lifeline_fds[0]);
  mproc_clear_fd (&lifeline_fds[1]);
  g_mutex_unlock (&runtime_lock);

  for (guint i = 0; inherited != NULL && i < inherited->len; i++)
    mproc_process_forget (inherited->pdata[i]);

  mproc_title_set (mproc_process_get_name (self));

  mproc_forkserver_forget ();

  /* A child reads nothing from its parent's terminal (as in Python). */
  null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0)
    {
      dup2 (null_fd, STDIN_FILENO);
      close (null_fd);
    }

}

/* Forking a process with several threads copies only the calling thread; any
 * lock another thread held stays locked forever in the child. Python 3.12
 * warns once about it, and so do we. */
void
mproc_runtime_warn_if_threaded (void)
{
  static gint warned = 0;
  char buf[1024];
  const char *p;
  ssize_t n;
  int fd;
  int field;

  if (g_atomic_int_get (&warned))
    return;

  fd = open ("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  n = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (n <= 0)
    return;
  buf[n] = '\0';

  /* Field 20 is num_threads; skip "pid (comm)" first, comm may hold spaces. */
  p = strrchr (buf, ')');
  if (p == NULL)
    return;
  for (field = 2; *p != '\0' && field < 20; p++)
    if (*p == ' ')
      field++;

  if (atoi (p) <= 1 || !g_atomic_int_compare_and_exchange (&warned, 0, 1))
    return;
  if (mproc_runtime_is_initialized ())
    g_warning ("This process is multi-threaded, use of the fork start method "
               "may lead to deadlocks in the child; use the spawn start method "
               "(or forkserver, unless this program is a gjs script)");
  else
    g_warning ("This process is multi-threaded, use of the fork start method "
               "may lead to deadlocks in the child; call mproc_init() at the "
               "top of main() to use the forkserver start method instead");
}

gboolean
mproc_runtime_is_own_fd (int fd)
{
  gboolean ret;

  g_mutex_lock (&runtime_lock);
  ret = fd >= 0 && (fd == lifeline_fds[0] || fd == lifeline_fds[1] || fd == child_lifeline_fd);
  g_mutex_unlock (&runtime_lock);

  return ret || mproc_forkserver_is_own_fd (fd);
}

const char *
mproc_runtime_get_init_dir (void)
{
  const char *ret;

  /* set once and never freed: no lock needed to keep it alive */
  g_mutex_lock (&runtime_lock);
  ret = init_dir;
  g_mutex_unlock (&runtime_lock);

  return ret;
}

/**
 * mproc_set_child_argv:
 * @argv: (nullable) (array zero-terminated=1): the command line of the
 *   children, `argv[0]` first, or %NULL for the calling process's own
 *
 * Sets the command line with which the spawn and forkserver start methods
 * execute the running binary again (`/proc/self/exe`): by default the
 * command line of the calling process. An interpreter needs this to start
 * its children with a bootstrap of its own instead of running the user's
 * script again as its main program: the `Mproc` override of PyGObject
 * starts `python3 -c …`, which imports the script under another name (as
 * Python's `multiprocessing` does) before calling [func@Mproc.init]. The child
 * must call [func@Mproc.init] as any program does.
 *
 * This function is thread-safe; a start already under way uses the command
 * line it began with.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_set_child_argv (const char * const *argv)
{
  char **copy = g_strdupv ((char **) argv);
  char **old;

  g_mutex_lock (&runtime_lock);
  old = child_argv;
  child_argv = copy;
  g_mutex_unlock (&runtime_lock);

  g_strfreev (old);
}

char **
mproc_runtime_dup_self_argv (GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  gsize length = 0;
  gsize start = 0;

  g_mutex_lock (&runtime_lock);
  if (child_argv != NULL)
    {
      g_ptr_array_add (argv, g_strdup ("/proc/self/exe"));
      for (guint i = 0; child_argv[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (child_argv[i]));
    }
  g_mutex_unlock (&runtime_lock);
  if (argv->len > 0)
    {
      g_ptr_array_add (argv, NULL);
      return (char **) g_ptr_array_free (g_steal_pointer (&argv), FALSE);
    }

  if (!g_file_get_contents ("/proc/self/cmdline", &contents, &length, error))
    return NULL;

  /* The exec'd file is the running binary, whatever argv[0] says. */
  g_ptr_array_add (argv, g_strdup ("/proc/self/exe"));
  for (gsize i = 0; i < length; i++)
    if (contents[i] == '\0')
      {
        g_ptr_array_add (argv, g_strndup (contents + start, i - start));
        start = i + 1;
      }
  g_ptr_array_add (argv, NULL);

  return (char **) g_ptr_array_free (g_steal_pointer (&argv), FALSE);
}

/**
 * mproc_set_max_message_size:
 * @size: the largest message, in bytes, this process accepts from a peer
 *
 * Sets the largest message this process accepts from another process:
 * a message put in a queue, pipe or manager ring, or a request or reply
 * on a manager's TCP connection.  A peer that announces a larger one is
 * refused before anything is allocated for it: the receiver gets
 * %MPROC_ERROR_INVALID_MESSAGE (queues and pipes) or drops the connection
 * (a manager's server).  The default, 1 GiB, keeps a hostile sharer from
 * making a receiver allocate any size up to `G_MAXSSIZE`; raise it for
 * larger messages, in every process that receives them (a child gets the
 * default).  A manager's TCP connections keep their own limit of 64 MiB
 * when this one is larger.
 *
 * Thread-safe; takes effect for the messages that start after it.
 *
 * Since: 0.1
 * Stability: Unstable
 */
void
mproc_set_max_message_size (gsize size)
{
  g_return_if_fail (size > 0);

  mproc_wire_set_max_message_size (size);
}

/**
 * mproc_get_max_message_size:
 *
 * Gets the limit set by [func@Mproc.set_max_message_size].
 *
 * Returns: the largest message, in bytes, this process accepts
 *
 * Since: 0.1
 * Stability: Unstable
 */
gsize
mproc_get_max_message_size (void)
{
  return mproc_wire_get_max_message_size ();
}
