/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry point of `crosskey`, the az-style client: splits the command line, finds the command in
 * the tables of the cmd_*.c files (longest match of the leading words), prints help generated from
 * those tables for groups and commands, parses the command's flags and runs it. Each run has its own
 * arena, which holds every secret the run touched and is wiped when the run ends; `quickstart` runs
 * the commands of the procedure through the same entry (cli_dispatch) in this process.
 */
#include "cli/cli_int.h"
#include "http/client/httpc.h"

#include <stdio.h>
#include <string.h>

static const struct cli_cmd *const cli_tables[] = {
    cli_account_cmds, cli_tenant_cmds, cli_group_cmds, cli_provider_cmds, cli_ad_cmds, cli_identity_cmds, cli_role_cmds,
    cli_keyvault_cmds, cli_keyvault_key_cmds, cli_storage_cmds, cli_storage_blob_cmds, cli_quickstart_cmds,
};

static const struct cli_group cli_groups[] = {
    {"", "crosskey: az-style client for crosskeyd (identity, ARM, Graph, Key Vault, Storage)."},
    {"account", "Manage the signed-in account and its subscriptions."},
    {"ad", "Manage Microsoft Entra-style applications and service principals (Graph)."},
    {"ad app", "Manage applications."},
    {"ad app federated-credential", "Manage federated identity credentials of an application."},
    {"ad sp", "Manage service principals."},
    {"feature", "Manage resource provider features."},
    {"group", "Manage resource groups."},
    {"identity", "Manage user-assigned managed identities."},
    {"keyvault", "Manage key vaults (ARM) and their keys (Key Vault data plane)."},
    {"keyvault audit", "Read and verify a vault's hash-chained audit log."},
    {"keyvault key", "Manage keys in a vault."},
    {"keyvault key rotation-policy", "Manage a key's rotation policy."},
    {"provider", "Manage resource providers."},
    {"role", "Manage role-based access control."},
    {"role assignment", "Manage role assignments."},
    {"storage", "Manage storage accounts (ARM Microsoft.Storage), their containers and blobs."},
    {"storage account", "Manage storage accounts."},
    {"storage account keys", "Manage a storage account's access keys."},
    {"storage blob", "Upload, download, list, show and delete blobs (Blob service)."},
    {"storage container", "Create, list, show and delete containers (Blob service)."},
    {"tenant", "Operator: create and list tenants (needs --data DIR and the operator credential)."},
    {"workload", "Operator: let workloads on this host use managed identities (needs --data DIR)."},
};

static const struct {
    const char *flag;
    const char *help;
} cli_global_help[] = {
    {"--data", "Data directory of crosskeyd (operator commands and login)."},
    {"--debug", "Show each request (method, URL without its query) and its status."},
    {"--help -h", "Show this help message and exit."},
    {"--output -o", "Output format.  Allowed values: json, none, table, tsv.  Default: json."},
    {"--query", "JMESPath query string (a.b, [0], [-1], [], [*], {Name:expr})."},
    {"--subscription", "Name or ID of subscription."},
};

#define CLI_NTABLES (sizeof(cli_tables) / sizeof(cli_tables[0]))

/* Number of space-separated words in a command path. */
static int cli_nwords(const char *path)
{
    int n = path[0] != '\0';
    for (const char *p = path; *p; p++)
        n += *p == ' ';
    return n;
}

/* 1 when path starts with the first n words. */
static int cli_path_has_prefix(const char *path, const char *const *words, int n)
{
    const char *p = path;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(words[i]);
        if (strncmp(p, words[i], l) != 0 || (p[l] != ' ' && p[l] != '\0'))
            return 0;
        p += l;
        if (*p == ' ')
            p++;
        else if (i + 1 < n)
            return 0;
    }
    return 1;
}

static const struct cli_cmd *cli_find(const char *const *words, int nwords)
{
    const struct cli_cmd *best = NULL;
    int best_n = 0;
    for (size_t t = 0; t < CLI_NTABLES; t++) {
        for (const struct cli_cmd *c = cli_tables[t]; c->path != NULL; c++) {
            int n = cli_nwords(c->path);
            /* All of the command's own words must match. */
            if (n <= nwords && n > best_n && cli_path_has_prefix(c->path, words, n)) {
                best = c;
                best_n = n;
            }
        }
    }
    return best;
}

static const char *cli_group_summary(const char *path)
{
    for (size_t i = 0; i < sizeof(cli_groups) / sizeof(cli_groups[0]); i++) {
        if (strcmp(cli_groups[i].path, path) == 0)
            return cli_groups[i].summary;
    }
    return "";
}

/* Joins words into buf with single spaces. */
static void cli_join(const char *const *words, int n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? " " : "", words[i]);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
}

static void cli_help_globals(void)
{
    printf("\nGlobal Arguments\n");
    for (size_t i = 0; i < sizeof(cli_global_help) / sizeof(cli_global_help[0]); i++)
        printf("    %-16s : %s\n", cli_global_help[i].flag, cli_global_help[i].help);
}

void cli_help_cmd(const struct cli_cmd *cmd)
{
    char label[96];
    int width = 0;

    printf("\nCommand\n    crosskey %s : %s\n", cmd->path, cmd->summary);
    for (int i = 0; i < CLI_MAX_FLAGS && cmd->flags[i].name != NULL; i++) {
        const struct cli_flag *f = &cmd->flags[i];
        int n = snprintf(label, sizeof(label), "--%s%s%s%s", f->name, f->alias ? " -" : "", f->alias ? f->alias : "",
                         f->required ? " [Required]" : "");
        if (n > width)
            width = n;
    }
    if (cmd->flags[0].name != NULL)
        printf("\nArguments\n");
    for (int i = 0; i < CLI_MAX_FLAGS && cmd->flags[i].name != NULL; i++) {
        const struct cli_flag *f = &cmd->flags[i];
        snprintf(label, sizeof(label), "--%s%s%s%s", f->name, f->alias ? " -" : "", f->alias ? f->alias : "",
                 f->required ? " [Required]" : "");
        printf("    %-*s : %s\n", width, label, f->help);
    }
    cli_help_globals();
    if (cmd->example != NULL)
        printf("\nExamples\n    %s\n", cmd->example);
    printf("\n");
}

/* Prints the help of a group: its direct subgroups and commands. */
static void cli_help_group(const char *const *words, int nwords)
{
    char path[256];
    const char *seen[64];
    int nseen = 0;

    cli_join(words, nwords, path, sizeof(path));
    printf("\nGroup\n    crosskey%s%s : %s\n", nwords ? " " : "", path, cli_group_summary(path));
    for (int pass = 0; pass < 2; pass++) {
        int header = 0;
        for (size_t t = 0; t < CLI_NTABLES; t++) {
            for (const struct cli_cmd *c = cli_tables[t]; c->path != NULL; c++) {
                if (!cli_path_has_prefix(c->path, words, nwords) || cli_nwords(c->path) <= nwords)
                    continue;
                /* The next word after the group's own words. */
                const char *p = c->path;
                for (int i = 0; i < nwords; i++)
                    p = strchr(p, ' ') + 1;
                size_t wl = strcspn(p, " ");
                int is_group = p[wl] == ' ';
                if (is_group != (pass == 0))
                    continue;
                int dup = 0;
                for (int i = 0; i < nseen; i++)
                    dup |= strncmp(seen[i], p, wl) == 0 && (seen[i][wl] == ' ' || seen[i][wl] == '\0');
                if (dup)
                    continue;
                if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
                    seen[nseen++] = p;
                if (!header) {
                    printf("\n%s:\n", pass == 0 ? "Subgroups" : "Commands");
                    header = 1;
                }
                if (is_group) {
                    char sub[600];
                    snprintf(sub, sizeof(sub), "%s%s%.*s", path, nwords ? " " : "", (int)wl, p);
                    printf("    %-22.*s : %s\n", (int)wl, p, cli_group_summary(sub));
                } else {
                    printf("    %-22.*s : %s\n", (int)wl, p, c->summary);
                }
            }
        }
    }
    if (nwords == 0)
        cli_help_globals();
    printf("\nFor the arguments of a command: crosskey %s%s<command> --help\n\n", path, nwords ? " " : "");
}

/* 1 when some command lives below the given words. */
static int cli_is_group(const char *const *words, int nwords)
{
    for (size_t t = 0; t < CLI_NTABLES; t++) {
        for (const struct cli_cmd *c = cli_tables[t]; c->path != NULL; c++) {
            if (cli_nwords(c->path) > nwords && cli_path_has_prefix(c->path, words, nwords))
                return 1;
        }
    }
    return 0;
}

int cli_dispatch(int argc, char **argv, json_t **capture)
{
    struct cli_ctx ctx;
    struct cli_globals g;
    char joined[256];
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.output = CLI_OUT_JSON;
    ctx.capture = capture;
    ctx.arena = ck_arena_new();
    if (ctx.arena == NULL) {
        fprintf(stderr, "ERROR: out of memory\n");
        return CLI_EXIT_ERR;
    }
    rc = cli_split(argc, argv, &ctx, &g);
    if (rc != CLI_EXIT_OK)
        goto out;
    ctx.cmd = cli_find(g.words, g.nwords);
    if (ctx.cmd == NULL || (cli_nwords(ctx.cmd->path) < g.nwords && cli_is_group(g.words, g.nwords))) {
        if (cli_is_group(g.words, g.nwords) || g.nwords == 0) {
            cli_help_group(g.words, g.nwords);
            rc = g.help || g.nrest == 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
            if (rc != CLI_EXIT_OK)
                cli_err("'%s' is a command group; choose one of its commands", g.words[g.nwords - 1]);
            goto out;
        }
        cli_join(g.words, g.nwords, joined, sizeof(joined));
        cli_err("'%s' is misspelled or not recognized by the system. See 'crosskey --help'.", joined);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (g.help) {
        cli_help_cmd(ctx.cmd);
        rc = CLI_EXIT_OK;
        goto out;
    }
    if (cli_nwords(ctx.cmd->path) < g.nwords) {
        cli_join(g.words + cli_nwords(ctx.cmd->path), g.nwords - cli_nwords(ctx.cmd->path), joined, sizeof(joined));
        cli_err("unrecognized arguments: %s", joined);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    rc = cli_parse_flags(&ctx, g.rest, g.nrest);
    if (rc != CLI_EXIT_OK)
        goto out;
    rc = ctx.cmd->run(&ctx);
out:
    fflush(stdout);
    ck_arena_free(ctx.arena);
    return rc;
}

int main(int argc, char **argv)
{
    if (ck_httpc_global_init() != CK_OK) {
        fprintf(stderr, "ERROR: cannot initialise\n");
        return CLI_EXIT_ERR;
    }
    return cli_dispatch(argc, argv, NULL);
}
