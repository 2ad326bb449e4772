/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line parsing for `crosskey`: global options (--data, --subscription, --output, --query,
 * --debug, --help) are recognised anywhere; the leading bare words name the command; the rest is
 * matched against the command's flag table (long names, one-letter aliases, --flag=value, bool
 * flags and multi-valued flags as az's nargs='+'). Errors use az's wording.
 */
#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Returns 1 and stores the value when arg is the long option --name or --name=value. */
static int cli_match_long(const char *arg, const char *name, const char **inline_val)
{
    size_t n = strlen(name);
    if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0)
        return 0;
    if (arg[2 + n] == '\0') {
        *inline_val = NULL;
        return 1;
    }
    if (arg[2 + n] == '=') {
        *inline_val = arg + 3 + n;
        return 1;
    }
    return 0;
}

static int cli_set_output(struct cli_ctx *ctx, const char *v)
{
    if (strcmp(v, "json") == 0 || strcmp(v, "jsonc") == 0)
        ctx->output = CLI_OUT_JSON;
    else if (strcmp(v, "table") == 0)
        ctx->output = CLI_OUT_TABLE;
    else if (strcmp(v, "tsv") == 0)
        ctx->output = CLI_OUT_TSV;
    else if (strcmp(v, "none") == 0)
        ctx->output = CLI_OUT_NONE;
    else {
        cli_err("argument --output/-o: invalid choice: '%s' (choose from 'json', 'jsonc', 'none', 'table', "
                "'tsv')",
                v);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/*
 * Recognises one global option at argv[*i]. Returns 1 when consumed (advancing *i past its value),
 * 0 when argv[*i] is not a global option, -1 on a missing value (printed).
 */
static int cli_global(int argc, char **argv, int *i, struct cli_ctx *ctx, struct cli_globals *g)
{
    static const struct {
        const char *name;
        const char *alias;
        int has_value;
    } opts[] = {
        {"data", NULL, 1},  {"subscription", NULL, 1}, {"output", "o", 1}, {"query", NULL, 1},
        {"debug", NULL, 0}, {"verbose", NULL, 0},      {"help", "h", 0},   {"only-show-errors", NULL, 0},
    };
    const char *arg = argv[*i];
    const char *val = NULL;
    size_t k;
    int hit = 0;

    for (k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        if (cli_match_long(arg, opts[k].name, &val)) {
            hit = 1;
            break;
        }
        if (opts[k].alias != NULL && arg[0] == '-' && strcmp(arg + 1, opts[k].alias) == 0) {
            hit = 1;
            val = NULL;
            break;
        }
    }
    if (!hit)
        return 0;
    if (opts[k].has_value && val == NULL) {
        if (*i + 1 >= argc) {
            cli_err("argument --%s: expected one argument", opts[k].name);
            return -1;
        }
        val = argv[++*i];
    }
    if (strcmp(opts[k].name, "data") == 0)
        ctx->data_dir = val;
    else if (strcmp(opts[k].name, "subscription") == 0)
        ctx->subscription = val;
    else if (strcmp(opts[k].name, "output") == 0)
        return cli_set_output(ctx, val) == CLI_EXIT_OK ? 1 : -1;
    else if (strcmp(opts[k].name, "query") == 0)
        ctx->query = val;
    else if (strcmp(opts[k].name, "debug") == 0)
        ctx->debug = 1;
    else if (strcmp(opts[k].name, "help") == 0)
        g->help = 1;
    return 1;
}

int cli_split(int argc, char **argv, struct cli_ctx *ctx, struct cli_globals *g)
{
    int in_words = 1;

    g->nwords = 0;
    g->nrest = 0;
    g->help = 0;
    g->rest = ck_arena_alloc(ctx->arena, sizeof(char *) * (size_t)(argc + 1));
    if (g->rest == NULL) {
        cli_err("out of memory");
        return CLI_EXIT_ERR;
    }
    for (int i = 1; i < argc; i++) {
        int r = cli_global(argc, argv, &i, ctx, g);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r > 0)
            continue;
        if (in_words && argv[i][0] != '-') {
            if (g->nwords >= (int)(sizeof(g->words) / sizeof(g->words[0]))) {
                cli_err("too many command words");
                return CLI_EXIT_USAGE;
            }
            g->words[g->nwords++] = argv[i];
            continue;
        }
        in_words = 0;
        g->rest[g->nrest++] = argv[i];
    }
    return CLI_EXIT_OK;
}

static int cli_flag_index(const struct cli_cmd *cmd, const char *name)
{
    for (int i = 0; i < CLI_MAX_FLAGS && cmd->flags[i].name != NULL; i++) {
        if (strcmp(cmd->flags[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* Finds the flag that arg names; returns its index or -1, and any inline "=value". */
static int cli_find_flag(const struct cli_cmd *cmd, const char *arg, const char **inline_val)
{
    *inline_val = NULL;
    for (int i = 0; i < CLI_MAX_FLAGS && cmd->flags[i].name != NULL; i++) {
        const struct cli_flag *f = &cmd->flags[i];
        if (cli_match_long(arg, f->name, inline_val))
            return i;
        if (f->alias != NULL && arg[0] == '-' && arg[1] != '-' && strcmp(arg + 1, f->alias) == 0)
            return i;
    }
    return -1;
}

static void cli_flag_label(const struct cli_flag *f, char *out, size_t outlen)
{
    if (f->alias != NULL)
        snprintf(out, outlen, "--%s/-%s", f->name, f->alias);
    else
        snprintf(out, outlen, "--%s", f->name);
}

int cli_parse_flags(struct cli_ctx *ctx, const char **rest, int nrest)
{
    const struct cli_cmd *cmd = ctx->cmd;
    struct cli_args *a = &ctx->args;
    char label[96];

    memset(a, 0, sizeof(*a));
    for (int i = 0; i < nrest; i++) {
        const char *inline_val = NULL;
        int k = cli_find_flag(cmd, rest[i], &inline_val);
        if (k < 0) {
            cli_err("unrecognized arguments: %s", rest[i]);
            fprintf(stderr, "Try '%s %s --help' for the arguments it takes.\n", "crosskey", cmd->path);
            return CLI_EXIT_USAGE;
        }
        const struct cli_flag *f = &cmd->flags[k];
        cli_flag_label(f, label, sizeof(label));
        if (f->kind == CLI_BOOL) {
            int on = 1;
            if (inline_val != NULL) {
                if (strcasecmp(inline_val, "true") == 0 || strcmp(inline_val, "1") == 0)
                    on = 1;
                else if (strcasecmp(inline_val, "false") == 0 || strcmp(inline_val, "0") == 0)
                    on = 0;
                else {
                    cli_err("argument %s: expected true or false, got '%s'", label, inline_val);
                    return CLI_EXIT_USAGE;
                }
            }
            a->count[k] = on;
            a->vals[k][0] = on ? "true" : NULL;
            continue;
        }
        if (f->kind == CLI_VALUE && a->count[k] > 0) {
            cli_err("argument %s: given more than once", label);
            return CLI_EXIT_USAGE;
        }
        int got = 0;
        if (inline_val != NULL) {
            a->vals[k][a->count[k]++] = inline_val;
            got = 1;
        } else if (i + 1 < nrest) {
            /* A value flag takes the next argument whatever it looks like: secrets may start with '-'. */
            a->vals[k][a->count[k]++] = rest[++i];
            got = 1;
        }
        if (!got) {
            cli_err("argument %s: expected %s", label, f->kind == CLI_MULTI ? "at least one argument" : "one argument");
            return CLI_EXIT_USAGE;
        }
        if (f->kind == CLI_MULTI) {
            while (i + 1 < nrest && rest[i + 1][0] != '-') {
                if (a->count[k] >= CLI_MAX_VALUES) {
                    cli_err("argument %s: more than %d values", label, CLI_MAX_VALUES);
                    return CLI_EXIT_USAGE;
                }
                a->vals[k][a->count[k]++] = rest[++i];
            }
        }
    }

    /* Required flags, listed together as argparse does. */
    char missing[512] = "";
    size_t used = 0;
    for (int k = 0; k < CLI_MAX_FLAGS && cmd->flags[k].name != NULL; k++) {
        if (!cmd->flags[k].required || a->count[k] > 0)
            continue;
        cli_flag_label(&cmd->flags[k], label, sizeof(label));
        int n = snprintf(missing + used, sizeof(missing) - used, "%s%s", used ? ", " : "", label);
        if (n > 0 && (size_t)n < sizeof(missing) - used)
            used += (size_t)n;
    }
    if (used > 0) {
        cli_err("the following arguments are required: %s", missing);
        fprintf(stderr, "Try '%s %s --help' for the arguments it takes.\n", "crosskey", cmd->path);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

const char *cli_arg(const struct cli_ctx *ctx, const char *name)
{
    int k = cli_flag_index(ctx->cmd, name);
    if (k < 0 || ctx->args.count[k] == 0)
        return NULL;
    return ctx->args.vals[k][0];
}

int cli_args_of(const struct cli_ctx *ctx, const char *name, const char *const **vals)
{
    int k = cli_flag_index(ctx->cmd, name);
    if (k < 0) {
        *vals = NULL;
        return 0;
    }
    *vals = ctx->args.vals[k];
    return ctx->args.count[k];
}

int cli_has(const struct cli_ctx *ctx, const char *name)
{
    int k = cli_flag_index(ctx->cmd, name);
    return k >= 0 && ctx->args.count[k] > 0;
}

int cli_need(const struct cli_ctx *ctx, const char *what)
{
    cli_err("the following arguments are required: %s", what);
    fprintf(stderr, "Try '%s %s --help' for the arguments it takes.\n", "crosskey", ctx->cmd->path);
    return CLI_EXIT_USAGE;
}

/* az's confirmation: a prompt on a terminal, an error otherwise. Returns 1 to go ahead. */
int cli_confirm(struct cli_ctx *ctx)
{
    char line[16];
    if (cli_has(ctx, "yes"))
        return 1;
    if (!isatty(STDIN_FILENO)) {
        cli_err("Unable to prompt for confirmation as no tty available. Use --yes.");
        return 0;
    }
    fprintf(stderr, "Are you sure you want to perform this operation? (y/n): ");
    fflush(stderr);
    if (fgets(line, sizeof(line), stdin) == NULL)
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}
