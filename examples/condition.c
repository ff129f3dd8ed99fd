/* condition.c: the seed's multiprocessing_condition.py (scenarios.md §5)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A two-stage workflow: "s1" runs stage 1 and notifies all; "stage_2[1]"
 * and "stage_2[2]", already waiting on the condition, then run in
 * parallel.
 */

#include <stdio.h>

#include <mproc.h>

static int
stage_1 (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocCondition *cond = mproc_process_get_object (process, 0);
  const char *name = mproc_process_get_name (mproc_current_process ());

  printf ("Starting %s\n", name);
  mproc_condition_acquire (cond, -1, NULL, NULL);
  printf ("%s done and ready for stage 2\n", name);
  mproc_condition_notify_all (cond, NULL);
  mproc_condition_release (cond, NULL);
  return 0;
}

static int
stage_2 (MprocProcess *process, GVariant *args, gpointer user_data)
{
  MprocCondition *cond = mproc_process_get_object (process, 0);
  const char *name = mproc_process_get_name (mproc_current_process ());

  printf ("Starting %s\n", name);
  mproc_condition_acquire (cond, -1, NULL, NULL);
  mproc_condition_wait (cond, -1, NULL, NULL);
  printf ("%s running\n", name);
  mproc_condition_release (cond, NULL);
  return 0;
}

static MprocProcess *
start (const char     *target,
       const char     *name,
       MprocCondition *cond)
{
  g_autoptr(GError) error = NULL;
  MprocProcess *process = mproc_process_new (target, NULL);

  mproc_process_set_name (process, name);
  mproc_process_add_object (process, MPROC_SHAREABLE (cond));
  if (!mproc_process_start (process, &error))
    g_error ("%s", error->message);
  return process;
}

int
main (int argc, char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MprocCondition) condition = NULL;
  g_autoptr(MprocProcess) s1 = NULL;
  MprocProcess *s2_clients[2];

  setvbuf (stdout, NULL, _IOLBF, 0);
  mproc_register_target ("stage_1", stage_1, NULL, NULL);
  mproc_register_target ("stage_2", stage_2, NULL, NULL);
  mproc_init (&argc, &argv);

  condition = mproc_condition_new (NULL, &error);
  if (condition == NULL)
    g_error ("%s", error->message);

  for (guint i = 0; i < G_N_ELEMENTS (s2_clients); i++)
    {
      g_autofree char *name = g_strdup_printf ("stage_2[%u]", i + 1);

      s2_clients[i] = start ("stage_2", name, condition);
      g_usleep (G_USEC_PER_SEC);
    }
  s1 = start ("stage_1", "s1", condition);

  mproc_process_join (s1, -1, NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (s2_clients); i++)
    {
      mproc_process_join (s2_clients[i], -1, NULL, NULL);
      g_object_unref (s2_clients[i]);
    }
  return 0;
}
