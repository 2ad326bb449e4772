/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_JSON_JSON_H
#define CK_JSON_JSON_H

/*
 * Typed getters and builders over jansson, with size and depth caps on parsing. Getters return
 * NULL (or the default) when a member is absent or of another type; they never allocate.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CK_JSON_MAX_DEPTH 32

/*
 * Parses text[0..len) as one JSON value. Returns the value (caller owns; json_decref) or NULL with
 * a short reason written into err (which may be NULL). Documents deeper than CK_JSON_MAX_DEPTH are
 * refused.
 */
json_t *ck_json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Like ck_json_parse, but the value must be an object. */
json_t *ck_json_parse_object(const char *text, size_t len, char *err, size_t errlen);

const char *ck_json_str(const json_t *obj, const char *key);
/* Returns the integer member, accepting integers and numeric strings; def when absent or bad. */
int64_t ck_json_int(const json_t *obj, const char *key, int64_t def);
/* Returns 1/0 for a boolean member, def when absent or not a boolean. */
int ck_json_bool(const json_t *obj, const char *key, int def);
json_t *ck_json_obj(const json_t *obj, const char *key);
json_t *ck_json_arr(const json_t *obj, const char *key);
/* Case-insensitive member lookup (ARM property names are matched without regard to case). */
json_t *ck_json_get_ci(const json_t *obj, const char *key);

/* Serialises compactly; caller frees with ck_free... (jansson's json_dumps result, use free()). */
char *ck_json_dump(const json_t *v);

/* json_object_set_new that ignores NULL values (so a failed json_string() does not crash). */
void ck_json_set(json_t *obj, const char *key, json_t *v);
/* Sets key to a string, or to null when s is NULL. */
void ck_json_set_str(json_t *obj, const char *key, const char *s);

#endif
