/* event.c: the seed's multiprocessing_event.py (scenarios.md §3)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One MprocEvent; "block" waits for it for ever, "nonblock" for 2 s; the
 * main process sets it after 3 s. A timed-out wait is not an error: it
 * returns FALSE and the waiter prints the flag.
 */

#include <stdio.h>

#include <mproc.h>

static int
wait_for_event (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocEvent *e = mproc_process_get_object (process, 0);
  gboolean is_set;

  printf ("wait_for_event: starting\n");
  is_set = mproc_event_wait (e, -1, NULL, NULL);
  printf ("wait_for_event: e.is_set()-> %s\n", is_set ? "True" : "False");
  return 0;
}

static int
wait_for_event_timeout (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocEvent *e = mproc_process_get_object (process, 0);
  gint64 t = g_variant_get_int64 (args);
  gboolean is_set;

  printf ("wait_for_event_timeout: starting\n");
  is_set = mproc_event_wait (e, t, NULL, NULL);
  printf ("wait_for_event_timeout: e.is_set()-> %s\n", is_set ? "True" : "False");
  return 0;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocEvent) e = NULL;
  g_autoptr(MprocProcess) w1 = NULL;
  g_autoptr(MprocProcess) w2 = NULL;

  setvbuf (stdout, NULL, _IOLBF, 0);
  mproc_register_target ("wait_for_event", wait_for_event, NULL, NULL);
  mproc_register_target ("wait_for_event_timeout", wait_for_event_timeout, NULL, NULL);
  mproc_init (&argc, &argv);

  e = mproc_event_new (&error);
  if (e == NULL)
    g_error ("%s", error->message);

  w1 = mproc_process_new ("wait_for_event", NULL);
  mproc_process_set_name (w1, "block");
  mproc_process_add_object (w1, MPROC_SHAREABLE (e));
  if (!mproc_process_start (w1, &error))
    g_error ("%s", error->message);

  w2 = mproc_process_new ("wait_for_event_timeout", g_variant_new_int64 (2 * G_USEC_PER_SEC));
  mproc_process_set_name (w2, "nonblock");
  mproc_process_add_object (w2, MPROC_SHAREABLE (e));
  if (!mproc_process_start (w2, &error))
    g_error ("%s", error->message);

  printf ("main: waiting before calling Event.set()\n");
  g_usleep (3 * G_USEC_PER_SEC);
  mproc_event_set (e);
  printf ("main: event is set\n");

  mproc_process_join (w1, -1, NULL, NULL);
  mproc_process_join (w2, -1, NULL, NULL);
  return 0;
}
