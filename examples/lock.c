/* lock.c: the seed's multiprocessing_lock.py (scenarios.md §4)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two processes write a line each to the stdout they inherited, one under
 * a scoped lock (MPROC_LOCK_AUTO_LOCK, Python's `with lock:`), the other
 * acquiring and releasing explicitly. Each line is written one byte at a
 * time, slowly: without the lock the two would be jumbled.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mproc.h>

static void
write_slowly (const char *line)
{
  for (const char *p = line; *p != '\0'; p++)
    {
      if (write (STDOUT_FILENO, p, 1) != 1)
        return;
      g_usleep (2000);
    }
}

static int
worker_with (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);

  {
    MPROC_LOCK_AUTO_LOCK (lock, locker);
    write_slowly ("Lock acquired via with\n");
  }
  return 0;
}

static int
worker_no_with (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocLock *lock = mproc_process_get_object (process, 0);
  g_autoptr(GError) error = NULL;

  if (!mproc_lock_acquire (lock, -1, NULL, &error) &&
      !g_error_matches (error, MPROC_ERROR, MPROC_ERROR_OWNER_DIED))
    return 1;
  write_slowly ("Lock acquired directly\n");
  mproc_lock_release (lock, NULL);
  return 0;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocLock) lock = NULL;
  g_autoptr(MprocProcess) w = NULL;
  g_autoptr(MprocProcess) nw = NULL;

  setvbuf (stdout, NULL, _IOLBF, 0);
  mproc_register_target ("worker_with", worker_with, NULL, NULL);
  mproc_register_target ("worker_no_with", worker_no_with, NULL, NULL);
  mproc_init (&argc, &argv);

  lock = mproc_lock_new (&error);
  if (lock == NULL)
    g_error ("%s", error->message);

  w = mproc_process_new ("worker_with", NULL);
  nw = mproc_process_new ("worker_no_with", NULL);
  mproc_process_add_object (w, MPROC_SHAREABLE (lock));
  mproc_process_add_object (nw, MPROC_SHAREABLE (lock));
  if (!mproc_process_start (w, &error) || !mproc_process_start (nw, &error))
    g_error ("%s", error->message);

  mproc_process_join (w, -1, NULL, NULL);
  mproc_process_join (nw, -1, NULL, NULL);
  return 0;
}
