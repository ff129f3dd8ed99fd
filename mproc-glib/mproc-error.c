/* mproc-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "mproc-error.h"

G_DEFINE_QUARK (mproc-error-quark, mproc_error)
