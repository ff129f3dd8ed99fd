/* producer-consumer.c: the seed's §2, a worker pool by hand with poison pills
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Built twice: producer-consumer (the seed's version, a plain MprocQueue) and
 * joinable-queue (the later version: an MprocJoinableQueue, task_done() after
 * every item and the parent's join() before it reads the results).
 *
 * Consumer is an MprocProcess subclass holding its two queues as properties,
 * which is how its state reaches the child under every start method.
 */

#include <stdio.h>

#include <mproc.h>

/* A task is "m(ii)": Just (a, b), or Nothing, the poison pill. */
#define TASK_TYPE G_VARIANT_TYPE ("m(ii)")

/* Declared by hand: the type is named plain "Consumer", so that its
 * processes are named Consumer-1, Consumer-2… as in the seed. */
typedef struct _Consumer Consumer;
typedef struct
{
  MprocProcessClass parent_class;
} ConsumerClass;

static GType consumer_get_type (void);
#define TYPE_CONSUMER (consumer_get_type ())
#define CONSUMER(obj) (G_TYPE_CHECK_INSTANCE_CAST ((obj), TYPE_CONSUMER, Consumer))

struct _Consumer
{
  MprocProcess  parent_instance;
  MprocQueue   *task_queue;
  MprocQueue   *result_queue;
};

enum { PROP_0, PROP_TASK_QUEUE, PROP_RESULT_QUEUE, N_PROPS };
static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (Consumer, consumer, MPROC_TYPE_PROCESS)

static void
task_done (Consumer *self)
{
#ifdef USE_JOINABLE_QUEUE
  g_autoptr(GError) error = NULL;

  if (!mproc_joinable_queue_task_done (MPROC_JOINABLE_QUEUE (self->task_queue), &error))
    g_printerr ("%s\n", error->message);
#endif
}

static int
consumer_run (MprocProcess *process)
{
  Consumer *self = CONSUMER (process);
  const char *name = mproc_process_get_name (process);

  for (;;)
    {
      g_autoptr(GVariant) item = NULL;
      g_autoptr(GVariant) task = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *answer = NULL;
      int a, b;

      item = mproc_queue_get (self->task_queue, -1, NULL, &error);
      if (item == NULL || !g_variant_is_of_type (item, TASK_TYPE))
        {
          g_printerr ("%s: %s\n", name, error != NULL ? error->message : "bad task");
          return 1;
        }

      task = g_variant_get_maybe (item);
      if (task == NULL)
        {
          /* Poison pill means shutdown */
          printf ("%s: Exiting\n", name);
          task_done (self);
          break;
        }

      g_variant_get (task, "(ii)", &a, &b);
      printf ("%s: %d * %d\n", name, a, b);
      g_usleep (G_USEC_PER_SEC / 10);   /* pretend to take some time to do the work */
      answer = g_strdup_printf ("%d * %d = %d", a, b, a * b);
      task_done (self);
      if (!mproc_queue_put (self->result_queue, g_variant_new_string (answer), -1, NULL, &error))
        {
          g_printerr ("%s: %s\n", name, error->message);
          return 1;
        }
    }

  return 0;
}

static void
consumer_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  Consumer *self = CONSUMER (object);

  switch (id)
    {
    case PROP_TASK_QUEUE: g_value_set_object (value, self->task_queue); break;
    case PROP_RESULT_QUEUE: g_value_set_object (value, self->result_queue); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
consumer_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  Consumer *self = CONSUMER (object);

  switch (id)
    {
    case PROP_TASK_QUEUE: g_set_object (&self->task_queue, g_value_get_object (value)); break;
    case PROP_RESULT_QUEUE: g_set_object (&self->result_queue, g_value_get_object (value)); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
consumer_dispose (GObject *object)
{
  Consumer *self = CONSUMER (object);

  g_clear_object (&self->task_queue);
  g_clear_object (&self->result_queue);
  G_OBJECT_CLASS (consumer_parent_class)->dispose (object);
}

static void
consumer_class_init (ConsumerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = consumer_get_property;
  object_class->set_property = consumer_set_property;
  object_class->dispose = consumer_dispose;
  MPROC_PROCESS_CLASS (klass)->run = consumer_run;

  properties[PROP_TASK_QUEUE] =
    g_param_spec_object ("task-queue", NULL, NULL, MPROC_TYPE_QUEUE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RESULT_QUEUE] =
    g_param_spec_object ("result-queue", NULL, NULL, MPROC_TYPE_QUEUE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
consumer_init (Consumer *self)
{
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(MprocQueue) tasks = NULL;
  g_autoptr(MprocQueue) results = NULL;
  g_autoptr(GPtrArray) consumers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  guint num_consumers;
  const int num_jobs = 10;

  /* Line by line, in the children too: they run main() up to mproc_init(). */
  setvbuf (stdout, NULL, _IOLBF, 0);
  /* A spawned child must know the type by name before mproc_init(). */
  g_type_ensure (TYPE_CONSUMER);
  mproc_init (&argc, &argv);

  /* Establish communication queues */
#ifdef USE_JOINABLE_QUEUE
  tasks = MPROC_QUEUE (mproc_joinable_queue_new (0, &error));
#else
  tasks = mproc_queue_new (0, &error);
#endif
  if (tasks == NULL || (results = mproc_queue_new (0, &error)) == NULL)
    g_error ("%s", error->message);

  /* Start consumers */
  num_consumers = mproc_cpu_count () * 2;
  printf ("Creating %u consumers\n", num_consumers);
  for (guint i = 0; i < num_consumers; i++)
    {
      Consumer *consumer = g_object_new (TYPE_CONSUMER,
                                         "task-queue", tasks,
                                         "result-queue", results,
                                         NULL);
      g_ptr_array_add (consumers, consumer);
      if (!mproc_process_start (MPROC_PROCESS (consumer), &error))
        g_error ("%s", error->message);
    }

  /* Enqueue jobs */
  for (int i = 0; i < num_jobs; i++)
    if (!mproc_queue_put (tasks, g_variant_new_maybe (NULL, g_variant_new ("(ii)", i, i)),
                          -1, NULL, &error))
      g_error ("%s", error->message);

  /* Add a poison pill for each consumer */
  for (guint i = 0; i < num_consumers; i++)
    if (!mproc_queue_put (tasks, g_variant_new_maybe (G_VARIANT_TYPE ("(ii)"), NULL),
                          -1, NULL, &error))
      g_error ("%s", error->message);

#ifdef USE_JOINABLE_QUEUE
  /* Wait for all of the tasks to finish */
  if (!mproc_joinable_queue_join (MPROC_JOINABLE_QUEUE (tasks), -1, NULL, &error))
    g_error ("%s", error->message);
#endif

  /* Start printing results */
  for (int i = 0; i < num_jobs; i++)
    {
      g_autoptr(GVariant) result = mproc_queue_get (results, -1, NULL, &error);

      if (result == NULL || !g_variant_is_of_type (result, G_VARIANT_TYPE_STRING))
        g_error ("%s", error != NULL ? error->message : "bad result");
      printf ("Result: %s\n", g_variant_get_string (result, NULL));
    }

  for (guint i = 0; i < consumers->len; i++)
    mproc_process_join (consumers->pdata[i], -1, NULL, NULL);

  return 0;
}
