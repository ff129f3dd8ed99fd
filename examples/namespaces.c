/* namespaces.c: the seed's multiprocessing_namespaces.py (§8)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A producer sets an attribute on a shared namespace, then an event; the
 * consumer reads the attribute before the event (an error: not set yet)
 * and after it (the value).
 */

#include <mproc.h>

static int
producer (MprocProcess *process,
          GVariant     *args,
          gpointer      user_data)
{
  MprocNamespace *ns = mproc_process_get_object (process, 0);
  MprocEvent *event = mproc_process_get_object (process, 1);
  g_autoptr(GError) error = NULL;

  if (!mproc_namespace_set (ns, "value", g_variant_new_string ("This is the value"), NULL, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  mproc_event_set (event);
  return 0;
}

static int
consumer (MprocProcess *process,
          GVariant     *args,
          gpointer      user_data)
{
  MprocNamespace *ns = mproc_process_get_object (process, 0);
  MprocEvent *event = mproc_process_get_object (process, 1);
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GError) error = NULL;

  value = mproc_namespace_get (ns, "value", NULL, &error);
  if (value != NULL)
    g_print ("Before event, consumer got: %s\n", g_variant_get_string (value, NULL));
  else
    g_print ("Before event, consumer got: %s\n", error->message);
  g_clear_pointer (&value, g_variant_unref);
  g_clear_error (&error);

  mproc_event_wait (event, -1, NULL, NULL);
  value = mproc_namespace_get (ns, "value", NULL, &error);
  if (value == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_print ("After event, consumer got: %s\n", g_variant_get_string (value, NULL));
  return 0;
}

int
main (int argc, char *argv[])
{
  g_autoptr(MprocManager) mgr = NULL;
  g_autoptr(MprocNamespace) ns = NULL;
  g_autoptr(MprocEvent) event = NULL;
  g_autoptr(MprocProcess) c = NULL;
  g_autoptr(MprocProcess) p = NULL;
  g_autoptr(GError) error = NULL;

  mproc_register_target ("producer", producer, NULL, NULL);
  mproc_register_target ("consumer", consumer, NULL, NULL);
  mproc_init (&argc, &argv);

  mgr = mproc_manager_new ();
  if (!mproc_manager_start (mgr, NULL, &error) ||
      (ns = mproc_namespace_new (mgr, NULL, NULL, &error)) == NULL ||
      (event = mproc_event_new (&error)) == NULL)
    g_error ("%s", error->message);

  p = mproc_process_new ("producer", NULL);
  c = mproc_process_new ("consumer", NULL);
  mproc_process_add_object (p, MPROC_SHAREABLE (ns));
  mproc_process_add_object (p, MPROC_SHAREABLE (event));
  mproc_process_add_object (c, MPROC_SHAREABLE (ns));
  mproc_process_add_object (c, MPROC_SHAREABLE (event));

  /* the consumer first, as in the seed */
  if (!mproc_process_start (c, &error) || !mproc_process_start (p, &error) ||
      !mproc_process_join (c, -1, NULL, &error) || !mproc_process_join (p, -1, NULL, &error))
    g_error ("%s", error->message);

  g_clear_object (&c);
  g_clear_object (&p);
  g_clear_object (&ns);
  mproc_manager_shutdown (mgr, NULL, NULL);
  return 0;
}
