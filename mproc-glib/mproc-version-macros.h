/* mproc-version-macros.h: symbol visibility and availability
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(MPROC_INSIDE) && !defined(MPROC_COMPILATION)
# error "Only <mproc.h> can be included directly."
#endif

#if defined(MPROC_COMPILATION) && defined(__GNUC__)
# define _MPROC_EXTERN __attribute__((visibility ("default"))) extern
#else
# define _MPROC_EXTERN extern
#endif

#define MPROC_AVAILABLE_IN_ALL _MPROC_EXTERN
#define MPROC_AVAILABLE_IN_1_0 _MPROC_EXTERN
#define MPROC_AVAILABLE_IN_0_2 _MPROC_EXTERN
