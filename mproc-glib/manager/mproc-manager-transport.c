/* mproc-manager-transport.c: the table of transports behind the proxies
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-manager-transport-private.h"

typedef struct
{
  const MprocManagerTransport *transport;
  gpointer                     data;
  GDestroyNotify               destroy;
} Binding;

static void
binding_free (gpointer data)
{
  Binding *b = data;

  if (b->destroy != NULL)
    b->destroy (b->data);
  g_free (b);
}

static GQuark
transport_quark (void)
{
  return g_quark_from_static_string ("mproc-manager-transport");
}

const MprocManagerTransport *
mproc_manager_get_transport (MprocManager *self)
{
  Binding *b = g_object_get_qdata (G_OBJECT (self), transport_quark ());

  return b != NULL ? b->transport : NULL;
}

gpointer
mproc_manager_get_transport_data (MprocManager *self)
{
  Binding *b = g_object_get_qdata (G_OBJECT (self), transport_quark ());

  return b != NULL ? b->data : NULL;
}

void
mproc_manager_set_transport (MprocManager                *self,
                             const MprocManagerTransport *transport,
                             gpointer                     data,
                             GDestroyNotify               destroy)
{
  Binding *b = g_new0 (Binding, 1);

  b->transport = transport;
  b->data = data;
  b->destroy = destroy;
  g_object_set_qdata_full (G_OBJECT (self), transport_quark (), b, binding_free);
}

MprocManager *
mproc_manager_transport_for_address (const char  *address,
                                     GError     **error)
{
  for (guint i = 0; mproc_builtin_transports[i] != NULL; i++)
    {
      const MprocManagerTransport *transport = mproc_builtin_transports[i];

      if (transport->claims != NULL && transport->claims (address))
        return transport->manager_for_address (address, error);
    }
  return NULL;
}
