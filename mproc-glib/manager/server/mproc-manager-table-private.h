/* mproc-manager-table-private.h: the server's dict, keys and values as bytes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A manager dict lives in its server as an insertion-ordered hash table
 * whose keys and values are their `v` serialisations ("boxed": the value's
 * data, a NUL, its type string), the form they arrive in and the form the
 * shared view and the replies store them in.  Two keys are equal when their
 * boxed bytes are (same type, same normal-form data), as GVariant's own
 * equality says for values in normal form.
 *
 * The layout is CPython's compact dict: a dense array of entries in
 * insertion order, and an open-addressing index of 32-bit entry numbers.
 * An entry keeps a boxed key or value of up to 16 bytes inline, so that a
 * batch of small pairs (an `a{xx}` update) costs no allocation per pair.
 * Removed entries stay as holes until the index is next rebuilt.
 *
 * Not thread-safe: the server calls it under its lock.  Everything given to
 * it must be boxed and in normal form (the server decodes requests in
 * normal form); it copies what it keeps.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _MprocTable MprocTable;

MprocTable *mproc_table_new        (void);
void        mproc_table_free       (MprocTable    *table);
guint       mproc_table_size       (MprocTable    *table);
/* Makes room for @n_more new keys without rebuilding the index on the way. */
void        mproc_table_reserve    (MprocTable    *table,
                                    gsize          n_more);
/* Sets @key to @value; TRUE if @key was not there (it goes last). */
gboolean    mproc_table_set        (MprocTable    *table,
                                    const guint8  *key,
                                    gsize          key_size,
                                    const guint8  *value,
                                    gsize          value_size);
/* The boxed value of @key (borrowed, valid until the next change), or NULL. */
const guint8 *mproc_table_lookup   (MprocTable    *table,
                                    const guint8  *key,
                                    gsize          key_size,
                                    gsize         *value_size);
/* Removes @key; FALSE if absent.  @value (nullable): its value, a new
 * floating `v` GVariant. */
gboolean    mproc_table_remove     (MprocTable    *table,
                                    const guint8  *key,
                                    gsize          key_size,
                                    GVariant     **value);
void        mproc_table_clear      (MprocTable    *table);

/* Iteration in insertion order: start with *@position = 0; no changes to
 * the table meanwhile. */
gboolean    mproc_table_next       (MprocTable    *table,
                                    guint         *position,
                                    const guint8 **key,
                                    gsize         *key_size,
                                    const guint8 **value,
                                    gsize         *value_size);

/* A new floating `v` GVariant holding a copy of the boxed bytes @data. */
GVariant   *mproc_table_boxed_new  (const guint8  *data,
                                    gsize          size);

G_END_DECLS
