/* mproc.h: the one header of mproc-glib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>
#include <glib-object.h>
#include <gio/gio.h>

#define MPROC_INSIDE
# include "mproc-version.h"
# include "mproc-version-macros.h"
# include "mproc-enum-types.h"
# include "mproc-error.h"
# include "mproc-shareable.h"
# include "mproc-context.h"
# include "mproc-process.h"
# include "mproc-main.h"
/* message passing (#4) */
# include "mproc-queue.h"
# include "mproc-joinable-queue.h"
# include "mproc-simple-queue.h"
# include "mproc-connection.h"
/* managers (#6) */
# include "mproc-manager.h"
# include "mproc-manager-dbus.h"
# include "mproc-dict.h"
# include "mproc-list.h"
# include "mproc-namespace.h"
/* pools (#7) */
# include "mproc-pool.h"
/* D-Bus worker services (#9) */
# include "mproc-pool-dbus.h"
# include "mproc-redis-pool.h"
# include "mproc-shared-dbus.h"
/* synchronisation (#5) */
# include "mproc-event.h"
# include "mproc-lock.h"
# include "mproc-rlock.h"
# include "mproc-semaphore.h"
# include "mproc-condition.h"
# include "mproc-barrier.h"
# include "mproc-value.h"
# include "mproc-array.h"
#undef MPROC_INSIDE
