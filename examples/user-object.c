/* user-object.c: the seed's §1, passing one object to one worker
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Python pickles an instance of a user class onto a Queue. Here the "user
 * object" is a small GObject that describes itself as a GVariant and is
 * rebuilt from one: the child gets a copy and runs its own code on it, so
 * the line names the child. Nothing received is executed.
 */

#include <stdio.h>

#include <mproc.h>

#define FANCY_TYPE_OBJECT (fancy_object_get_type ())
G_DECLARE_FINAL_TYPE (FancyObject, fancy_object, FANCY, OBJECT, GObject)

struct _FancyObject
{
  GObject parent_instance;
  char   *name;
};

G_DEFINE_FINAL_TYPE (FancyObject, fancy_object, G_TYPE_OBJECT)

static void
fancy_object_finalize (GObject *object)
{
  g_free (FANCY_OBJECT (object)->name);
  G_OBJECT_CLASS (fancy_object_parent_class)->finalize (object);
}

static void
fancy_object_class_init (FancyObjectClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = fancy_object_finalize;
}

static void
fancy_object_init (FancyObject *self)
{
}

static FancyObject *
fancy_object_new (const char *name)
{
  FancyObject *self = g_object_new (FANCY_TYPE_OBJECT, NULL);

  self->name = g_strdup (name);
  return self;
}

/* What crosses the process boundary: plain data, never code. */
static GVariant *
fancy_object_to_variant (FancyObject *self)
{
  return g_variant_new ("(s)", self->name);
}

static FancyObject *
fancy_object_new_from_variant (GVariant *value)
{
  const char *name = NULL;

  if (!g_variant_is_of_type (value, G_VARIANT_TYPE ("(s)")))
    return NULL;
  g_variant_get (value, "(&s)", &name);
  return fancy_object_new (name);
}

static void
fancy_object_do_something (FancyObject *self)
{
  printf ("Doing something fancy in %s for %s!\n",
          mproc_process_get_name (mproc_current_process ()), self->name);
}

static int
worker (MprocProcess *process,
        GVariant     *args,
        gpointer      user_data)
{
  MprocQueue *queue = mproc_process_get_object (process, 0);
  g_autoptr(GVariant) item = NULL;
  g_autoptr(FancyObject) object = NULL;
  g_autoptr(GError) error = NULL;

  item = mproc_queue_get (queue, -1, NULL, &error);
  if (item == NULL || (object = fancy_object_new_from_variant (item)) == NULL)
    {
      g_printerr ("worker: %s\n", error != NULL ? error->message : "not a fancy object");
      return 1;
    }
  fancy_object_do_something (object);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(MprocQueue) queue = NULL;
  g_autoptr(MprocProcess) process = NULL;
  g_autoptr(FancyObject) object = NULL;
  g_autoptr(GError) error = NULL;

  /* Line by line, in the children too: they run main() up to mproc_init(). */
  setvbuf (stdout, NULL, _IOLBF, 0);
  mproc_register_target ("worker", worker, NULL, NULL);
  mproc_init (&argc, &argv);

  queue = mproc_queue_new (0, &error);
  if (queue == NULL)
    g_error ("%s", error->message);

  process = mproc_process_new ("worker", NULL);
  mproc_process_add_object (process, MPROC_SHAREABLE (queue));
  if (!mproc_process_start (process, &error))
    g_error ("%s", error->message);

  object = fancy_object_new ("Fancy Dan");
  if (!mproc_queue_put (queue, fancy_object_to_variant (object), -1, NULL, &error))
    g_error ("%s", error->message);

  /* Wait for the worker to finish. */
  mproc_queue_close (queue);
  mproc_queue_join_thread (queue);
  mproc_process_join (process, -1, NULL, NULL);

  return mproc_process_get_exit_code (process);
}
