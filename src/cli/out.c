/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Output of `crosskey`: results as JSON (indented, like az), table (scalar columns with
 * capitalised headers, id/type/etag left out, as az's automatic table) or tsv (scalar values in
 * order, nested values left out); a JMESPath subset for --query (a.b, [n], [-1], [] and [*]
 * projections, [?a=='x'] filters, {Name:expr, ...} multi-select hashes); and the
 * ERROR/WARNING/DEBUG lines on stderr.
 */
#include "cli/cli_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void cli_vline(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vline("ERROR: ", fmt, ap);
    va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vline("WARNING: ", fmt, ap);
    va_end(ap);
}

void cli_debug(const struct cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    if (!ctx->debug)
        return;
    va_start(ap, fmt);
    cli_vline("DEBUG: ", fmt, ap);
    va_end(ap);
}

void cli_json_wipe(json_t *v)
{
    const char *k;
    json_t *m;
    size_t i;

    if (json_is_string(v)) {
        /* jansson owns the bytes; overwrite them in place before the value is released. */
        ck_wipe((char *)json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, m) cli_json_wipe(m);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) cli_json_wipe(m);
    }
}

/* ---- --query: a JMESPath subset ---- */

static const char *cli_q_skip(const char *p, const char *end)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Returns the position of the bracket that closes the one at p, or NULL. */
static const char *cli_q_close(const char *p, const char *end)
{
    char open = *p, close = open == '[' ? ']' : '}';
    int depth = 0;
    for (; p < end; p++) {
        if (*p == open)
            depth++;
        else if (*p == close && --depth == 0)
            return p;
    }
    return NULL;
}

static json_t *cli_q_eval(const json_t *v, const char *p, const char *end, int *bad);

/* Evaluates "{Key: expr, ...}" (p at '{', close at '}') against v. */
static json_t *cli_q_hash(const json_t *v, const char *p, const char *close, int *bad)
{
    json_t *obj = json_object();
    const char *q = p + 1;

    if (obj == NULL) {
        *bad = 1;
        return NULL;
    }
    while (q < close && !*bad) {
        const char *colon = memchr(q, ':', (size_t)(close - q));
        if (colon == NULL) {
            *bad = 1;
            break;
        }
        const char *ks = cli_q_skip(q, colon), *ke = colon;
        while (ke > ks && isspace((unsigned char)ke[-1]))
            ke--;
        /* The value expression runs to the next comma at depth 0. */
        const char *vs = colon + 1, *ve = vs;
        int depth = 0;
        for (; ve < close; ve++) {
            if (*ve == '[' || *ve == '{')
                depth++;
            else if (*ve == ']' || *ve == '}')
                depth--;
            else if (*ve == ',' && depth == 0)
                break;
        }
        if (ke == ks) {
            *bad = 1;
            break;
        }
        char key[128];
        snprintf(key, sizeof(key), "%.*s", (int)(ke - ks), ks);
        json_t *r = cli_q_eval(v, vs, ve, bad);
        json_object_set_new(obj, key, r ? r : json_null());
        q = ve < close ? ve + 1 : close;
    }
    if (*bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* JMESPath truthiness: false, null, "" and empty arrays and objects are false. */
static int cli_q_true(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v))
        return 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_array(v))
        return json_array_size(v) > 0;
    if (json_is_object(v))
        return json_object_size(v) > 0;
    return 1;
}

/* Evaluates one operand of a filter: 'raw string', `json literal`, or an expression on e. */
static json_t *cli_q_operand(const json_t *e, const char *s, const char *end, int *bad)
{
    s = cli_q_skip(s, end);
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    if (end - s >= 2 && *s == '\'' && end[-1] == '\'')
        return json_stringn(s + 1, (size_t)(end - s - 2));
    if (end - s >= 2 && *s == '`' && end[-1] == '`') {
        json_t *lit = json_loadb(s + 1, (size_t)(end - s - 2), JSON_DECODE_ANY, NULL);
        if (lit == NULL)
            *bad = 1;
        return lit;
    }
    return cli_q_eval(e, s, end, bad);
}

/* Evaluates a filter "lhs == rhs", "lhs != rhs" or "expr" (between '?' and ']') on e. */
static int cli_q_filter(const json_t *e, const char *s, const char *end, int *bad)
{
    const char *op = NULL;
    char quote = 0;
    int keep;

    for (const char *q = s; q + 1 < end; q++) {
        if (quote) {
            quote = *q == quote ? 0 : quote;
        } else if (*q == '\'' || *q == '`') {
            quote = *q;
        } else if ((q[0] == '=' || q[0] == '!') && q[1] == '=') {
            op = q;
            break;
        }
    }
    json_t *l = cli_q_operand(e, s, op ? op : end, bad);
    if (op == NULL) {
        keep = cli_q_true(l);
    } else {
        json_t *r = cli_q_operand(e, op + 2, end, bad);
        keep = (l != NULL && r != NULL && json_equal(l, r)) == (op[0] == '=');
        json_decref(r);
    }
    json_decref(l);
    return keep && !*bad;
}

static json_t *cli_q_eval(const json_t *v, const char *p, const char *end, int *bad)
{
    json_t *cur = json_incref((json_t *)v);

    while (!*bad) {
        p = cli_q_skip(p, end);
        if (p >= end)
            return cur;
        /* A sub-expression after a projection starts with its '.'. */
        if (*p == '.')
            p = cli_q_skip(p + 1, end);
        if (json_is_null(cur) || cur == NULL) {
            /* Keep parsing for syntax, but the answer is null. */
            json_decref(cur);
            cur = json_null();
        }
        if (*p == '[') {
            const char *close = cli_q_close(p, end);
            if (close == NULL)
                break;
            const char *in = cli_q_skip(p + 1, close);
            int filter = in < close && *in == '?';
            if (in == close || filter || (*in == '*' && cli_q_skip(in + 1, close) == close)) {
                json_t *out = json_array();
                size_t i;
                json_t *e;
                int was_array = json_is_array(cur);
                if (out == NULL)
                    break;
                if (was_array) {
                    json_array_foreach(cur, i, e) {
                        if (filter && !cli_q_filter(e, in + 1, close, bad))
                            continue;
                        json_t *r = cli_q_eval(e, close + 1, end, bad);
                        if (r != NULL && !json_is_null(r))
                            json_array_append_new(out, r);
                        else
                            json_decref(r);
                    }
                }
                json_decref(cur);
                if (*bad) {
                    json_decref(out);
                    return NULL;
                }
                if (!was_array) {
                    json_decref(out);
                    return json_null();
                }
                return out;
            }
            char *numend = NULL;
            char num[32];
            snprintf(num, sizeof(num), "%.*s", (int)(close - in), in);
            long idx = strtol(num, &numend, 10);
            if (numend == num || *cli_q_skip(numend, numend + strlen(numend)) != '\0')
                break;
            json_t *next = json_null();
            if (json_is_array(cur)) {
                long n = (long)json_array_size(cur);
                if (idx < 0)
                    idx += n;
                if (idx >= 0 && idx < n)
                    next = json_incref(json_array_get(cur, (size_t)idx));
            }
            json_decref(cur);
            cur = next;
            p = close + 1;
            continue;
        }
        if (*p == '{') {
            const char *close = cli_q_close(p, end);
            if (close == NULL)
                break;
            json_t *next = json_is_null(cur) ? json_null() : cli_q_hash(cur, p, close, bad);
            json_decref(cur);
            cur = next;
            p = close + 1;
            continue;
        }
        const char *s = p;
        while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '@' || *p == '$' || *p == '-'))
            p++;
        if (p == s)
            break;
        json_t *next = json_null();
        if (json_is_object(cur)) {
            char key[256];
            snprintf(key, sizeof(key), "%.*s", (int)(p - s), s);
            json_t *m = json_object_get(cur, key);
            if (m != NULL)
                next = json_incref(m);
        }
        json_decref(cur);
        cur = next;
    }
    json_decref(cur);
    *bad = 1;
    return NULL;
}

json_t *cli_query(const json_t *v, const char *expr)
{
    int bad = 0;
    json_t *r = cli_q_eval(v, expr, expr + strlen(expr), &bad);
    if (bad) {
        json_decref(r);
        return NULL;
    }
    return r;
}

/* ---- printing ---- */

/* Writes a scalar as az prints it in table and tsv output; returns 0 for objects and arrays. */
static int cli_scalar(const json_t *v, char *out, size_t outlen)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        snprintf(out, outlen, "%s", json_string_value(v));
        return 1;
    case JSON_INTEGER:
        snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 1;
    case JSON_REAL:
        snprintf(out, outlen, "%g", json_real_value(v));
        return 1;
    case JSON_TRUE:
        snprintf(out, outlen, "True");
        return 1;
    case JSON_FALSE:
        snprintf(out, outlen, "False");
        return 1;
    case JSON_NULL:
        out[0] = '\0';
        return 1;
    default:
        return 0;
    }
}

/* Prints one tsv cell (a tab before all but the first); nested values are left out. */
static void cli_tsv_cell(const json_t *m, int *sep)
{
    char cell[4096];
    if (!cli_scalar(m, cell, sizeof(cell)))
        return;
    printf("%s%s", *sep ? "\t" : "", cell);
    *sep = 1;
}

static void cli_print_tsv(const json_t *v)
{
    char cell[4096];
    size_t i;
    json_t *row;
    const json_t *one[1] = {v};
    size_t nrows = json_is_array(v) ? json_array_size(v) : 1;

    for (i = 0; i < nrows; i++) {
        row = json_is_array(v) ? json_array_get(v, i) : (json_t *)one[0];
        if (json_is_object(row)) {
            const char *k;
            json_t *m;
            int sep = 0;
            json_object_foreach(row, k, m) cli_tsv_cell(m, &sep);
            putchar('\n');
        } else if (json_is_array(row)) {
            size_t j;
            json_t *m;
            int sep = 0;
            json_array_foreach(row, j, m) cli_tsv_cell(m, &sep);
            putchar('\n');
        } else if (cli_scalar(row, cell, sizeof(cell))) {
            printf("%s\n", cell);
        }
    }
}

/* az's automatic table leaves these members out. */
static int cli_table_skips(const char *name)
{
    static const char *const skip[] = {"id", "type", "etag"};
    for (size_t j = 0; j < sizeof(skip) / sizeof(skip[0]); j++) {
        if (strcmp(name, skip[j]) == 0)
            return 1;
    }
    return 0;
}

/* Builds az's automatic table rows: an array of flat objects with capitalised keys. */
static json_t *cli_table_rows(const json_t *v)
{
    json_t *rows = json_array();
    size_t i, nrows = json_is_array(v) ? json_array_size(v) : 1;
    char cell[4096];

    for (i = 0; rows != NULL && i < nrows; i++) {
        const json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
        json_t *row = json_object();
        if (row == NULL)
            break;
        if (json_is_object(item)) {
            const char *k;
            json_t *m;
            json_object_foreach((json_t *)item, k, m) {
                if (cli_table_skips(k))
                    continue;
                if (!cli_scalar(m, cell, sizeof(cell)))
                    continue;
                char key[256];
                snprintf(key, sizeof(key), "%s", k);
                key[0] = (char)toupper((unsigned char)key[0]);
                ck_json_set_str(row, key, cell);
            }
        } else if (cli_scalar(item, cell, sizeof(cell))) {
            ck_json_set_str(row, "Result", cell);
        }
        json_array_append_new(rows, row);
    }
    return rows;
}

/*
 * Prints one table line: the header (row NULL, rule 0), the rule under it (row NULL, rule 1) or a
 * row. cols maps column names to widths.
 */
static void cli_table_line(const json_t *cols, const json_t *row, int rule)
{
    struct ck_buf line;
    const char *k;
    json_t *m;
    int sep = 0;

    ck_buf_init(&line, 1u << 20);
    json_object_foreach((json_t *)cols, k, m) {
        int w = (int)json_integer_value(m);
        const char *cell = row != NULL ? ck_json_str(row, k) : k;
        if (sep)
            ck_buf_puts(&line, "  ");
        sep = 1;
        if (rule) {
            for (int j = 0; j < w; j++)
                ck_buf_puts(&line, "-");
        } else {
            ck_buf_printf(&line, "%-*s", w, cell ? cell : "");
        }
    }
    while (line.len > 0 && line.data[line.len - 1] == ' ')
        line.data[--line.len] = '\0';
    printf("%s\n", line.data ? line.data : "");
    ck_buf_cleanup(&line);
}

static void cli_print_table(const json_t *v)
{
    json_t *rows = cli_table_rows(v);
    json_t *cols = json_object(); /* column name -> width, in order of first appearance */
    size_t i;
    json_t *row;
    const char *k;
    json_t *m;

    if (rows == NULL || cols == NULL)
        goto out;
    json_array_foreach(rows, i, row) {
        json_object_foreach(row, k, m) {
            size_t w = strlen(json_string_value(m));
            size_t have = (size_t)ck_json_int(cols, k, (json_int_t)strlen(k));
            json_object_set_new(cols, k, json_integer((json_int_t)(w > have ? w : have)));
        }
    }
    if (json_object_size(cols) == 0)
        goto out;
    /* Header, rule, rows; two spaces between columns, no trailing blanks. */
    cli_table_line(cols, NULL, 0);
    cli_table_line(cols, NULL, 1);
    json_array_foreach(rows, i, row) cli_table_line(cols, row, 0);
out:
    json_decref(rows);
    json_decref(cols);
}

/* Commands whose table output az shapes itself; the others get the automatic table. */
static const char *cli_table_format(const char *path)
{
    static const struct {
        const char *path;
        const char *expr;
    } fmts[] = {
        {"group list", "[].{Name:name, Location:location, Status:properties.provisioningState}"},
        {"group show", "{Name:name, Location:location, Status:properties.provisioningState}"},
        {"role assignment list", "[].{Principal:principalId, Role:roleDefinitionName, Scope:scope}"},
        {"role definition list", "[].{Name:roleName, Type:roleType, Description:description}"},
        {"account list", "[].{Name:name, SubscriptionId:id, TenantId:tenantId, IsDefault:isDefault}"},
        {"account show", "{Name:name, SubscriptionId:id, TenantId:tenantId, IsDefault:isDefault}"},
        {"login", "[].{Name:name, SubscriptionId:id, TenantId:tenantId, IsDefault:isDefault}"},
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        if (strcmp(fmts[i].path, path) == 0)
            return fmts[i].expr;
    }
    return NULL;
}

int cli_print(struct cli_ctx *ctx, const json_t *v)
{
    json_t *q = NULL;
    int rc = CLI_EXIT_OK;

    if (v == NULL)
        return CLI_EXIT_OK;
    const char *expr = ctx->query;
    if (expr == NULL && ctx->output == CLI_OUT_TABLE && ctx->cmd != NULL)
        expr = cli_table_format(ctx->cmd->path);
    if (expr != NULL) {
        q = cli_query(v, expr);
        if (q == NULL) {
            cli_err("argument --query: invalid jmespath_type value: '%s'", expr);
            return CLI_EXIT_USAGE;
        }
        v = q;
    }
    if (ctx->capture != NULL) {
        /* A command run by quickstart: the result is handed over instead of printed (a copy, as
         * the command may wipe its own objects afterwards). */
        json_decref(*ctx->capture);
        *ctx->capture = json_deep_copy(v);
        json_decref(q);
        return CLI_EXIT_OK;
    }
    switch (ctx->output) {
    case CLI_OUT_JSON: {
        char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (s == NULL) {
            cli_err("out of memory");
            rc = CLI_EXIT_ERR;
            break;
        }
        printf("%s\n", s);
        ck_freezero(s, strlen(s));
        break;
    }
    case CLI_OUT_TABLE:
        cli_print_table(v);
        break;
    case CLI_OUT_TSV:
        cli_print_tsv(v);
        break;
    case CLI_OUT_NONE:
        break;
    }
    fflush(stdout);
    json_decref(q);
    return rc;
}
