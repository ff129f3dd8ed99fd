/* mproc-shareable.h: objects that can be handed to another process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#include <glib-object.h>

#include "mproc-version-macros.h"

G_BEGIN_DECLS

#define MPROC_TYPE_SHAREABLE (mproc_shareable_get_type ())

MPROC_AVAILABLE_IN_1_0
G_DECLARE_INTERFACE (MprocShareable, mproc_shareable, MPROC, SHAREABLE, GObject)

G_END_DECLS
