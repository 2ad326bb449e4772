/* SPDX-License-Identifier: Apache-2.0 */
/* Capped parsing and typed member access over jansson. */
#include "json/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ck_json_depth_ok(const json_t *v, int depth)
{
    if (depth > CK_JSON_MAX_DEPTH)
        return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            if (!ck_json_depth_ok(m, depth + 1))
                return 0;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m) {
            if (!ck_json_depth_ok(m, depth + 1))
                return 0;
        }
    }
    return 1;
}

json_t *ck_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    /* A cheap pre-scan bounds nesting before jansson recurses. */
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > CK_JSON_MAX_DEPTH) {
                if (err)
                    snprintf(err, errlen, "JSON nesting exceeds %d levels", CK_JSON_MAX_DEPTH);
                return NULL;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (v == NULL) {
        if (err)
            snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!ck_json_depth_ok(v, 0)) {
        json_decref(v);
        if (err)
            snprintf(err, errlen, "JSON nesting exceeds %d levels", CK_JSON_MAX_DEPTH);
        return NULL;
    }
    return v;
}

json_t *ck_json_parse_object(const char *text, size_t len, char *err, size_t errlen)
{
    json_t *v = ck_json_parse(text, len, err, errlen);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        if (err)
            snprintf(err, errlen, "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

const char *ck_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v) : NULL;
}

int64_t ck_json_int(const json_t *obj, const char *key, int64_t def)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s != '\0' && end != NULL && *end == '\0' && errno != ERANGE)
            return x;
    }
    return def;
}

int ck_json_bool(const json_t *obj, const char *key, int def)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_boolean(v))
        return json_is_true(v);
    return def;
}

json_t *ck_json_obj(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_object(v) ? v : NULL;
}

json_t *ck_json_arr(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_array(v) ? v : NULL;
}

json_t *ck_json_get_ci(const json_t *obj, const char *key)
{
    const char *k;
    json_t *v;
    if (!json_is_object(obj))
        return NULL;
    v = json_object_get(obj, key);
    if (v != NULL)
        return v;
    json_object_foreach((json_t *)obj, k, v) {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

char *ck_json_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void ck_json_set(json_t *obj, const char *key, json_t *v)
{
    if (v != NULL)
        json_object_set_new(obj, key, v);
}

void ck_json_set_str(json_t *obj, const char *key, const char *s)
{
    json_object_set_new(obj, key, s ? json_string(s) : json_null());
}
