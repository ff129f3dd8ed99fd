/* mproc-i18n-private.h: translations of mproc-glib's own messages
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The text domain is bound lazily on first use, not in a constructor, so
 * that merely loading the library costs nothing. */
const char *mproc_gettext (const char *msgid) G_GNUC_FORMAT (1);

#define _(String) mproc_gettext (String)
#define N_(String) (String)

G_END_DECLS
