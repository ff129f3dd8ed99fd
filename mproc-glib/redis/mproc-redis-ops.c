/* mproc-redis-ops.c: the manager's requests as Redis commands
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each request of MprocDict, MprocList and MprocNamespace (an op and its
 * arguments, as for the manager's own server) becomes one command — a
 * plain read, or a script for a change — and its reply is turned into the
 * value the server would have sent, so that the proxies cannot tell.
 */

#include "config.h"

#include <string.h>

#include "mproc-error.h"
#include "mproc-i18n-private.h"
#include "mproc-redis-private.h"

typedef GVariant *(*ConvertFunc) (redisReply  *reply,
                                  GVariant    *args,
                                  GError     **error);

typedef struct
{
  MprocRedisCmd *cmd;
  ConvertFunc    convert;
  GVariant      *args;
} Plan;

static void
plan_clear (Plan *plan)
{
  g_clear_pointer (&plan->cmd, mproc_redis_cmd_free);
  g_clear_pointer (&plan->args, g_variant_unref);
}

static void
set_bad_request (GError     **error,
                 const char  *type,
                 GVariant    *args)
{
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
               _("Malformed request: expected arguments of type “%s”, got “%s”"),
               type, g_variant_get_type_string (args));
}

/* --- Replies ------------------------------------------------------------------ */

static GVariant *
convert_unit (redisReply  *reply,
              GVariant    *args,
              GError     **error)
{
  return g_variant_new ("()");
}

static GVariant *
convert_boolean (redisReply  *reply,
                 GVariant    *args,
                 GError     **error)
{
  if (reply->type != REDIS_REPLY_INTEGER)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  return g_variant_new_boolean (reply->integer != 0);
}

static GVariant *
convert_count (redisReply  *reply,
               GVariant    *args,
               GError     **error)
{
  if (reply->type == REDIS_REPLY_ARRAY)
    return g_variant_new_uint64 (reply->elements);
  if (reply->type != REDIS_REPLY_INTEGER || reply->integer < 0)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  return g_variant_new_uint64 (reply->integer);
}

static GVariant *
convert_boxed (redisReply  *reply,
               GVariant    *args,
               GError     **error)
{
  if (reply->type != REDIS_REPLY_STRING)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  return mproc_redis_reply_boxed (reply->str, reply->len, error);
}

static void
set_no_key (GError  **error,
            GVariant *boxed_key)
{
  g_autoptr(GVariant) inner = g_variant_get_variant (boxed_key);
  g_autofree char *text = g_variant_print (inner, TRUE);

  g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND, _("The dictionary has no key %s"), text);
}

/* GET, POP: args "(vmv)": the value, else the fallback, else NOT_FOUND */
static GVariant *
convert_value_or_default (redisReply  *reply,
                          GVariant    *args,
                          GError     **error)
{
  g_autoptr(GVariant) fallback = NULL;
  g_autoptr(GVariant) key = NULL;

  if (reply->type == REDIS_REPLY_STRING)
    return mproc_redis_reply_boxed (reply->str, reply->len, error);
  if (reply->type != REDIS_REPLY_NIL)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  g_variant_get_child (args, 1, "mv", &fallback);
  if (fallback != NULL)
    return g_variant_new_variant (fallback);
  key = g_variant_get_child_value (args, 0);
  set_no_key (error, key);
  return NULL;
}

/* REMOVE on a dict: 0 means no such key */
static GVariant *
convert_dict_removed (redisReply  *reply,
                      GVariant    *args,
                      GError     **error)
{
  if (reply->type != REDIS_REPLY_INTEGER)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  if (reply->integer == 0)
    {
      set_no_key (error, args);
      return NULL;
    }
  return g_variant_new ("()");
}

static GVariant *
convert_av (redisReply  *reply,
            GVariant    *args,
            GError     **error)
{
  GVariantBuilder builder;

  if (reply->type != REDIS_REPLY_ARRAY)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("av"));
  for (size_t i = 0; i < reply->elements; i++)
    {
      redisReply *e = reply->element[i];
      GVariant *boxed;

      if (e->type != REDIS_REPLY_STRING ||
          (boxed = mproc_redis_reply_boxed (e->str, e->len, error)) == NULL)
        {
          if (error != NULL && *error == NULL)
            mproc_redis_set_malformed (error);
          g_variant_builder_clear (&builder);
          return NULL;
        }
      g_variant_builder_add_value (&builder, boxed);
      g_variant_unref (boxed);
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
convert_items (redisReply  *reply,
               GVariant    *args,
               GError     **error)
{
  GVariantBuilder builder;

  if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(vv)"));
  for (size_t i = 0; i < reply->elements; i += 2)
    {
      redisReply *k = reply->element[i], *v = reply->element[i + 1];
      g_autoptr(GVariant) key = NULL;
      g_autoptr(GVariant) value = NULL;

      if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
          (key = mproc_redis_reply_boxed (k->str, k->len, error)) == NULL ||
          (value = mproc_redis_reply_boxed (v->str, v->len, error)) == NULL)
        {
          if (error != NULL && *error == NULL)
            mproc_redis_set_malformed (error);
          g_variant_builder_clear (&builder);
          return NULL;
        }
      g_variant_builder_add (&builder, "(@v@v)", key, value);
    }
  return g_variant_builder_end (&builder);
}

static GVariant *
convert_names (redisReply  *reply,
               GVariant    *args,
               GError     **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  if (reply->type != REDIS_REPLY_ARRAY)
    {
      mproc_redis_set_malformed (error);
      return NULL;
    }
  for (size_t i = 0; i < reply->elements; i++)
    {
      redisReply *e = reply->element[i];

      if (e->type != REDIS_REPLY_STRING || strlen (e->str) != e->len || !g_utf8_validate (e->str, e->len, NULL))
        {
          mproc_redis_set_malformed (error);
          return NULL;
        }
      g_ptr_array_add (names, e->str);
    }
  return g_variant_new_strv ((const char * const *) names->pdata, names->len);
}

static GVariant *
convert_ns_value (redisReply  *reply,
                  GVariant    *args,
                  GError     **error)
{
  if (reply->type == REDIS_REPLY_NIL)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                   _("The namespace has no attribute “%s”"), g_variant_get_string (args, NULL));
      return NULL;
    }
  return convert_boxed (reply, args, error);
}

static GVariant *
convert_ns_deleted (redisReply  *reply,
                    GVariant    *args,
                    GError     **error)
{
  if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
    {
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                   _("The namespace has no attribute “%s”"), g_variant_get_string (args, NULL));
      return NULL;
    }
  return convert_unit (reply, args, error);
}

static GVariant *
convert_list_index (redisReply  *reply,
                    GVariant    *args,
                    GError     **error)
{
  if (reply->type == REDIS_REPLY_NIL)
    {
      g_autoptr(GVariant) value = g_variant_get_variant (args);
      g_autofree char *text = g_variant_print (value, TRUE);

      g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                   _("The list has no item equal to %s"), text);
      return NULL;
    }
  return convert_count (reply, args, error);
}

/* Script errors that mean "no such item" ("MPROC_NOTFOUND <length>")
 * get the local messages. */
static void
fix_not_found (GError  **error,
               guint     op,
               GVariant *args)
{
  const char *length;
  gint64 index = 0;
  guint64 len = 0;

  if (error == NULL || *error == NULL || !g_error_matches (*error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND))
    return;
  length = strstr ((*error)->message, "MPROC_NOTFOUND ");
  if (length != NULL)
    len = g_ascii_strtoull (length + strlen ("MPROC_NOTFOUND "), NULL, 10);
  if (op == LIST_OP_REMOVE)
    {
      g_autoptr(GVariant) value = g_variant_get_variant (args);
      g_autofree char *text = g_variant_print (value, TRUE);

      g_clear_error (error);
      g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
                   _("The list has no item equal to %s"), text);
      return;
    }
  if (op == LIST_OP_SET)
    g_variant_get_child (args, 0, "x", &index);
  else if (op == LIST_OP_POP || op == LIST_OP_GET)
    index = g_variant_get_int64 (args);
  else
    return;
  g_clear_error (error);
  g_set_error (error, MPROC_ERROR, MPROC_ERROR_NOT_FOUND,
               _("List index %lld out of range (length %u)"), (long long) index, (guint) len);
}

/* --- Requests ------------------------------------------------------------------ */

MprocRedisCmd *
mproc_redis_object_eval (MprocRedisObject *obj,
                         MprocRedisScript  script)
{
  MprocRedisCmd *cmd = mproc_redis_cmd_new ("EVALSHA");

  mproc_redis_cmd_add_str (cmd, mproc_redis_client_script_sha (obj->backend->client, script));
  mproc_redis_cmd_add_str (cmd, "5");
  mproc_redis_cmd_add_str (cmd, obj->hkey);
  mproc_redis_cmd_add_str (cmd, obj->vkey);
  mproc_redis_cmd_add_str (cmd, obj->ckey);
  mproc_redis_cmd_add_str (cmd, obj->okey);
  mproc_redis_cmd_add_str (cmd, obj->nkey);
  return cmd;
}

static MprocRedisCmd *
plain (MprocRedisObject *obj,
       const char       *name)
{
  MprocRedisCmd *cmd = mproc_redis_cmd_new (name);

  mproc_redis_cmd_add_str (cmd, obj->hkey);
  return cmd;
}

/* Adds each pair of @pairs (any array of 2-tuples or dict entries) boxed. */
static gboolean
add_pairs (MprocRedisCmd  *cmd,
           GVariant       *pairs,
           GError        **error)
{
  const GVariantType *element = g_variant_is_of_type (pairs, G_VARIANT_TYPE_ARRAY) ?
                                g_variant_type_element (g_variant_get_type (pairs)) : NULL;
  gsize n;

  if (element == NULL ||
      !(g_variant_type_is_dict_entry (element) ||
        (g_variant_type_is_tuple (element) && g_variant_type_n_items (element) == 2)))
    {
      set_bad_request (error, "a{?*}", pairs);
      return FALSE;
    }
  n = g_variant_n_children (pairs);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) pair = g_variant_get_child_value (pairs, i);
      g_autoptr(GVariant) key = g_variant_get_child_value (pair, 0);
      g_autoptr(GVariant) value = g_variant_get_child_value (pair, 1);

      mproc_redis_cmd_add_boxed (cmd, key);
      mproc_redis_cmd_add_boxed (cmd, value);
    }
  return TRUE;
}

static gboolean
plan_dict (MprocRedisObject  *obj,
           guint              op,
           GVariant          *args,
           Plan              *plan,
           GError           **error)
{
  const char *type = NULL;

  switch (op)
    {
    case DICT_OP_SET: case DICT_OP_SETDEFAULT: type = "(vv)"; break;
    case DICT_OP_GET: case DICT_OP_POP: type = "(vmv)"; break;
    case DICT_OP_CONTAINS: case DICT_OP_REMOVE: case DICT_OP_UPDATE_PACKED: type = "v"; break;
    case DICT_OP_UPDATE: type = "a(vv)"; break;
    default: type = "()";
    }
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    {
      set_bad_request (error, type, args);
      return FALSE;
    }

  switch (op)
    {
    case DICT_OP_SET:
    case DICT_OP_SETDEFAULT:
      {
        g_autoptr(GVariant) key = g_variant_get_child_value (args, 0);
        g_autoptr(GVariant) value = g_variant_get_child_value (args, 1);

        plan->cmd = mproc_redis_object_eval (obj, op == DICT_OP_SET ? SCRIPT_DICT_SET : SCRIPT_DICT_SETDEFAULT);
        mproc_redis_cmd_add_boxed (plan->cmd, key);
        mproc_redis_cmd_add_boxed (plan->cmd, value);
        plan->convert = op == DICT_OP_SET ? convert_unit : convert_boxed;
        return TRUE;
      }
    case DICT_OP_GET:
    case DICT_OP_POP:
      {
        g_autoptr(GVariant) key = g_variant_get_child_value (args, 0);

        plan->cmd = op == DICT_OP_GET ? plain (obj, "HGET") : mproc_redis_object_eval (obj, SCRIPT_DICT_POP);
        mproc_redis_cmd_add_boxed (plan->cmd, key);
        plan->convert = convert_value_or_default;
        return TRUE;
      }
    case DICT_OP_CONTAINS:
      plan->cmd = plain (obj, "HEXISTS");
      mproc_redis_cmd_add_boxed (plan->cmd, args);
      plan->convert = convert_boolean;
      return TRUE;
    case DICT_OP_REMOVE:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_DICT_REMOVE);
      mproc_redis_cmd_add_boxed (plan->cmd, args);
      plan->convert = convert_dict_removed;
      return TRUE;
    case DICT_OP_UPDATE:
    case DICT_OP_UPDATE_PACKED:
      {
        g_autoptr(GVariant) pairs = op == DICT_OP_UPDATE ? g_variant_ref (args) : g_variant_get_variant (args);

        plan->cmd = mproc_redis_object_eval (obj, SCRIPT_DICT_UPDATE);
        plan->convert = convert_unit;
        return add_pairs (plan->cmd, pairs, error);
      }
    case DICT_OP_KEYS:
    case DICT_OP_VALUES:
    case DICT_OP_ITEMS:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_DICT_ITEMS);
      mproc_redis_cmd_add_str (plan->cmd, op == DICT_OP_KEYS ? "keys" : op == DICT_OP_VALUES ? "values" : "items");
      plan->convert = op == DICT_OP_ITEMS ? convert_items : convert_av;
      return TRUE;
    case DICT_OP_LEN:
      plan->cmd = plain (obj, "HLEN");
      plan->convert = convert_count;
      return TRUE;
    case DICT_OP_CLEAR:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_CLEAR);
      mproc_redis_cmd_add_str (plan->cmd, "hash");
      plan->convert = convert_unit;
      return TRUE;
    }
  return FALSE;
}

static gboolean
plan_list (MprocRedisObject  *obj,
           guint              op,
           GVariant          *args,
           Plan              *plan,
           GError           **error)
{
  const char *type;

  switch (op)
    {
    case LIST_OP_APPEND: case LIST_OP_REMOVE: case LIST_OP_INDEX: case LIST_OP_COUNT: type = "v"; break;
    case LIST_OP_EXTEND: type = "av"; break;
    case LIST_OP_INSERT: case LIST_OP_SET: type = "(xv)"; break;
    case LIST_OP_GET: case LIST_OP_POP: type = "x"; break;
    case LIST_OP_SLICE: type = "(xx)"; break;
    default: type = "()";
    }
  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    {
      set_bad_request (error, type, args);
      return FALSE;
    }

  switch (op)
    {
    case LIST_OP_APPEND:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_LIST_EXTEND);
      mproc_redis_cmd_add_boxed (plan->cmd, args);
      plan->convert = convert_unit;
      return TRUE;
    case LIST_OP_EXTEND:
      {
        gsize n = g_variant_n_children (args);

        plan->cmd = mproc_redis_object_eval (obj, SCRIPT_LIST_EXTEND);
        for (gsize i = 0; i < n; i++)
          {
            g_autoptr(GVariant) boxed = g_variant_get_child_value (args, i);

            mproc_redis_cmd_add_boxed (plan->cmd, boxed);
          }
        plan->convert = convert_unit;
        return TRUE;
      }
    case LIST_OP_INSERT:
    case LIST_OP_SET:
      {
        gint64 index;
        g_autoptr(GVariant) boxed = NULL;

        g_variant_get (args, "(x@v)", &index, &boxed);
        plan->cmd = mproc_redis_object_eval (obj, op == LIST_OP_INSERT ? SCRIPT_LIST_INSERT : SCRIPT_LIST_SET);
        mproc_redis_cmd_add_int (plan->cmd, index);
        mproc_redis_cmd_add_boxed (plan->cmd, boxed);
        plan->convert = convert_unit;
        return TRUE;
      }
    case LIST_OP_GET:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_LIST_GET);
      mproc_redis_cmd_add_int (plan->cmd, g_variant_get_int64 (args));
      plan->convert = convert_boxed;
      return TRUE;
    case LIST_OP_POP:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_LIST_POP);
      mproc_redis_cmd_add_int (plan->cmd, g_variant_get_int64 (args));
      plan->convert = convert_boxed;
      return TRUE;
    case LIST_OP_REMOVE:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_LIST_REMOVE);
      mproc_redis_cmd_add_boxed (plan->cmd, args);
      plan->convert = convert_unit;
      return TRUE;
    case LIST_OP_INDEX:
    case LIST_OP_COUNT:
      plan->cmd = plain (obj, "LPOS");
      mproc_redis_cmd_add_boxed (plan->cmd, args);
      if (op == LIST_OP_COUNT)
        {
          mproc_redis_cmd_add_str (plan->cmd, "COUNT");
          mproc_redis_cmd_add_str (plan->cmd, "0");
        }
      plan->convert = op == LIST_OP_INDEX ? convert_list_index : convert_count;
      return TRUE;
    case LIST_OP_LEN:
      plan->cmd = plain (obj, "LLEN");
      plan->convert = convert_count;
      return TRUE;
    case LIST_OP_SLICE:
      {
        gint64 start, stop;

        g_variant_get (args, "(xx)", &start, &stop);
        plan->cmd = mproc_redis_object_eval (obj, SCRIPT_LIST_SLICE);
        mproc_redis_cmd_add_int (plan->cmd, start);
        mproc_redis_cmd_add_int (plan->cmd, stop);
        plan->convert = convert_av;
        return TRUE;
      }
    case LIST_OP_CLEAR:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_CLEAR);
      mproc_redis_cmd_add_str (plan->cmd, "list");
      plan->convert = convert_unit;
      return TRUE;
    }
  return FALSE;
}

static gboolean
plan_namespace (MprocRedisObject  *obj,
                guint              op,
                GVariant          *args,
                Plan              *plan,
                GError           **error)
{
  const char *type = op == NAMESPACE_OP_SET ? "(sv)" : op == NAMESPACE_OP_LIST ? "()" : "s";

  if (!g_variant_is_of_type (args, G_VARIANT_TYPE (type)))
    {
      set_bad_request (error, type, args);
      return FALSE;
    }
  switch (op)
    {
    case NAMESPACE_OP_SET:
      {
        const char *name;
        g_autoptr(GVariant) value = NULL;

        g_variant_get (args, "(&sv)", &name, &value);
        plan->cmd = mproc_redis_object_eval (obj, SCRIPT_DICT_SET);
        mproc_redis_cmd_add_str (plan->cmd, name);
        mproc_redis_cmd_add_boxed (plan->cmd, value);
        plan->convert = convert_unit;
        return TRUE;
      }
    case NAMESPACE_OP_GET:
      plan->cmd = plain (obj, "HGET");
      mproc_redis_cmd_add_str (plan->cmd, g_variant_get_string (args, NULL));
      plan->convert = convert_ns_value;
      return TRUE;
    case NAMESPACE_OP_HAS:
      plan->cmd = plain (obj, "HEXISTS");
      mproc_redis_cmd_add_str (plan->cmd, g_variant_get_string (args, NULL));
      plan->convert = convert_boolean;
      return TRUE;
    case NAMESPACE_OP_DELETE:
      plan->cmd = mproc_redis_object_eval (obj, SCRIPT_DICT_REMOVE);
      mproc_redis_cmd_add_str (plan->cmd, g_variant_get_string (args, NULL));
      plan->convert = convert_ns_deleted;
      return TRUE;
    case NAMESPACE_OP_LIST:
      plan->cmd = plain (obj, "HKEYS");
      plan->convert = convert_names;
      return TRUE;
    }
  return FALSE;
}

static gboolean
plan_op (MprocProxyCore  *core,
         guint            op,
         GVariant        *args,
         Plan            *plan,
         GError         **error)
{
  MprocRedisObject *obj = core->remote;
  gboolean ok = FALSE;

  plan->args = g_variant_ref (args);
  switch (core->kind)
    {
    case MPROC_MANAGER_KIND_DICT:
      ok = plan_dict (obj, op, args, plan, error);
      break;
    case MPROC_MANAGER_KIND_LIST:
      ok = plan_list (obj, op, args, plan, error);
      break;
    case MPROC_MANAGER_KIND_NAMESPACE:
      ok = plan_namespace (obj, op, args, plan, error);
      break;
    }
  if (!ok && (error == NULL || *error == NULL) && plan->cmd == NULL)
    g_set_error (error, MPROC_ERROR, MPROC_ERROR_INVALID_MESSAGE,
                 _("Malformed request: unknown operation %u"), op);
  return ok;
}

gboolean
mproc_redis_ops_call (MprocProxyCore  *core,
                      guint            op,
                      GVariant        *args,
                      GVariant       **reply_out,
                      GCancellable    *cancellable,
                      GError         **error)
{
  MprocRedisObject *obj = core->remote;
  g_autoptr(redisReply) reply = NULL;
  Plan plan = { 0 };
  GVariant *value;
  gboolean ret = FALSE;

  if (!plan_op (core, op, args, &plan, error))
    goto out;
  if (reply_out == NULL)
    {
      /* a write whose success nobody waits for: pipelined */
      ret = mproc_redis_client_send (obj->backend->client, plan.cmd, cancellable, error);
      goto out;
    }
  reply = mproc_redis_client_call (obj->backend->client, plan.cmd, -1, cancellable, error);
  if (reply == NULL)
    {
      fix_not_found (error, op, args);
      goto out;
    }
  value = plan.convert (reply, plan.args, error);
  if (value == NULL)
    goto out;
  /* convert gives a floating value or a full reference: take either */
  *reply_out = g_variant_take_ref (value);
  ret = TRUE;

out:
  plan_clear (&plan);
  g_variant_unref (args);
  return ret;
}

typedef struct
{
  ConvertFunc  convert;
  GVariant    *args;
  guint        op;
  gboolean     want_reply;
} AsyncData;

static void
async_data_free (gpointer data)
{
  AsyncData *ad = data;

  g_variant_unref (ad->args);
  g_free (ad);
}

static void
call_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AsyncData *ad = g_object_get_data (G_OBJECT (task), "mproc-redis-op");
  MprocProxyCore *core = g_object_get_data (G_OBJECT (task), "mproc-redis-core");
  MprocRedisObject *obj = core->remote;
  g_autoptr(redisReply) reply = NULL;
  GError *error = NULL;
  GVariant *value;

  reply = mproc_redis_client_call_finish (obj->backend->client, result, &error);
  if (reply == NULL)
    {
      fix_not_found (&error, ad->op, ad->args);
      g_task_return_error (task, error);
      return;
    }
  value = ad->want_reply ? ad->convert (reply, ad->args, &error) : g_variant_new ("()");
  if (value == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, g_variant_take_ref (value), (GDestroyNotify) g_variant_unref);
}

void
mproc_redis_ops_call_async (MprocProxyCore *core,
                            guint           op,
                            GVariant       *args,
                            gboolean        want_reply,
                            GTask          *task)
{
  MprocRedisObject *obj = core->remote;
  GError *error = NULL;
  AsyncData *ad;
  Plan plan = { 0 };

  if (!plan_op (core, op, args, &plan, &error))
    {
      plan_clear (&plan);
      g_variant_unref (args);
      g_task_return_error (task, error);
      return;
    }
  ad = g_new0 (AsyncData, 1);
  ad->convert = plan.convert;
  ad->args = args;
  ad->op = op;
  ad->want_reply = want_reply;
  g_object_set_data_full (G_OBJECT (task), "mproc-redis-op", ad, async_data_free);
  /* the task's source object (the proxy) keeps @core alive */
  g_object_set_data (G_OBJECT (task), "mproc-redis-core", core);
  mproc_redis_client_call_async (obj->backend->client, plan.cmd, -1, g_task_get_cancellable (task),
                                 call_done_cb, g_object_ref (task));
  plan_clear (&plan);
}
