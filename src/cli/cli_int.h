/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CLI_INT_H
#define CK_CLI_INT_H

/*
 * Declarations shared by the files of the `crosskey` command-line client. The CLI is a program,
 * not a library: it owns its exit codes and prints to stdout (results) and stderr (errors and
 * --debug lines). It links only ck_httpc, ck_json and ck_core.
 *
 * Every command is one row of a table (struct cli_cmd) naming its flags, so that argument parsing
 * and --help are generated from the same data. A handler receives a struct cli_ctx with the
 * parsed flags and returns a process exit code (enum cli_exit).
 */
#include "core/mem.h"
#include "http/client/httpc.h"
#include "json/json.h"

#include <stddef.h>
#include <stdint.h>

/* Exit codes, as az uses them. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERR = 1,      /* the service or the local system said no */
    CLI_EXIT_USAGE = 2,    /* bad command line */
    CLI_EXIT_NOTFOUND = 3, /* a show command found nothing */
};

#define CLI_MAX_FLAGS 20
#define CLI_MAX_VALUES 32
/* Caps on files the CLI reads. */
#define CLI_FILE_LIMIT (1u << 20)

enum cli_flag_kind {
    CLI_VALUE, /* --name VALUE */
    CLI_BOOL,  /* --yes */
    CLI_MULTI, /* --identity A [B ...] [--identity C]; values up to the next flag */
};

struct cli_flag {
    const char *name;  /* long name without dashes: "resource-group"; NULL ends the list */
    const char *alias; /* one-letter alias without the dash ("g"), or NULL */
    enum cli_flag_kind kind;
    int required;
    const char *help;
};

struct cli_ctx;
typedef int (*cli_handler)(struct cli_ctx *ctx);

struct cli_cmd {
    const char *path;    /* "ad app federated-credential create"; NULL ends a table */
    const char *summary; /* one sentence */
    cli_handler run;
    struct cli_flag flags[CLI_MAX_FLAGS];
    const char *example; /* optional, one command line */
};

struct cli_group {
    const char *path; /* "ad app" */
    const char *summary;
};

/* Parsed flag values of one command, indexed like cmd->flags. Values point into argv. */
struct cli_args {
    int count[CLI_MAX_FLAGS];
    const char *vals[CLI_MAX_FLAGS][CLI_MAX_VALUES];
};

enum cli_output { CLI_OUT_JSON, CLI_OUT_TABLE, CLI_OUT_TSV, CLI_OUT_NONE };

/* Endpoints of one deployment. Strings are owned by whoever filled the struct (arena). */
struct cli_endpoints {
    const char *authority; /* "https://localhost:8443" */
    const char *arm;
    const char *graph;
    const char *ca_file; /* may be NULL: the system store */
};

struct cli_account; /* profile.c */

struct cli_ctx {
    const struct cli_cmd *cmd;
    struct cli_args args;
    const char *data_dir;     /* --data */
    const char *subscription; /* --subscription */
    const char *query;        /* --query */
    enum cli_output output;
    int debug;
    struct ck_arena *arena;       /* freed (and wiped) when the program ends */
    struct cli_account *account;  /* loaded on first use by cli_account_get() */
    struct cli_endpoints op_ep;   /* operator commands: from DIR/endpoints.json */
    const char *op_key;           /* operator credential (arena, wiped at exit) */
    json_t **capture;             /* when set, cli_print stores its result here instead */
};

/* ---- command tables (one per cmd_*.c) ---- */
extern const struct cli_cmd cli_tenant_cmds[];
extern const struct cli_cmd cli_account_cmds[];
extern const struct cli_cmd cli_group_cmds[];
extern const struct cli_cmd cli_provider_cmds[];
extern const struct cli_cmd cli_ad_cmds[];
extern const struct cli_cmd cli_identity_cmds[];
extern const struct cli_cmd cli_role_cmds[];
extern const struct cli_cmd cli_keyvault_cmds[];
extern const struct cli_cmd cli_keyvault_key_cmds[];
extern const struct cli_cmd cli_storage_cmds[];
extern const struct cli_cmd cli_storage_blob_cmds[];
extern const struct cli_cmd cli_quickstart_cmds[];

/* ---- args.c ---- */

/* Global options, recognised anywhere on the command line. */
struct cli_globals {
    const char *words[16]; /* the command words, in order */
    int nwords;
    const char **rest; /* everything after the command words that is not a global option */
    int nrest;
    int help;
};

/*
 * Splits argv into command words, global options (stored in ctx and g) and the remaining
 * arguments. g->rest is allocated from ctx->arena. Returns CLI_EXIT_OK or CLI_EXIT_USAGE (the
 * error is printed).
 */
int cli_split(int argc, char **argv, struct cli_ctx *ctx, struct cli_globals *g);
/* Parses the command's flags from rest into ctx->args and checks required flags. Returns
 * CLI_EXIT_OK or CLI_EXIT_USAGE (the error is printed). */
int cli_parse_flags(struct cli_ctx *ctx, const char **rest, int nrest);
/* The first value of a flag, or NULL when absent. */
const char *cli_arg(const struct cli_ctx *ctx, const char *name);
/* All values of a flag; returns how many and points *vals at them. */
int cli_args_of(const struct cli_ctx *ctx, const char *name, const char *const **vals);
/* 1 when a flag was given. */
int cli_has(const struct cli_ctx *ctx, const char *name);
/* az's confirmation: --yes, else a prompt on a terminal, else an error. Returns 1 to go ahead. */
int cli_confirm(struct cli_ctx *ctx);
/* Prints "the following arguments are required: ..." for a missing alternative. */
int cli_need(const struct cli_ctx *ctx, const char *what);

/* ---- out.c ---- */

/* Prints "ERROR: <message>" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "WARNING: <message>" to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "DEBUG: <message>" to stderr when --debug is on. */
void cli_debug(const struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Applies --query and prints v in the chosen format. v may be NULL (prints nothing). Does not
 * take ownership. Returns CLI_EXIT_OK, or CLI_EXIT_USAGE for a bad query. */
int cli_print(struct cli_ctx *ctx, const json_t *v);
/* Overwrites every string inside v (recursively) so secrets do not linger in freed memory. */
void cli_json_wipe(json_t *v);
/* Evaluates the JMESPath subset on v. Returns a new reference (json_null() for no match) or NULL
 * when the expression is malformed. Exposed for tests. */
json_t *cli_query(const json_t *v, const char *expr);

/* ---- profile.c ---- */


/* Reads DIR/endpoints.json into ep (strings in ctx->arena). Returns CLI_EXIT_OK or an exit
 * code (printed). */
int cli_endpoints_from_data(struct cli_ctx *ctx, const char *dir, struct cli_endpoints *ep);
/* Loads the saved profile and picks the account named by --subscription (id or name) or the
 * default one. Returns CLI_EXIT_OK or an exit code (printed, e.g. "Please run 'crosskey login'"). */
int cli_account_get(struct cli_ctx *ctx);
/* Accessors for the current account (after cli_account_get). */
const char *cli_account_sub(const struct cli_ctx *ctx);    /* subscription id or NULL */
const char *cli_account_tenant(const struct cli_ctx *ctx); /* tenant id */
const struct cli_endpoints *cli_account_endpoints(const struct cli_ctx *ctx);
/* The subscription id for an ARM command, or NULL (error printed) for a tenant-level account. */
const char *cli_require_sub(struct cli_ctx *ctx);
/* Loads the profile document ({"subscriptions":[...],"servicePrincipals":[...]}); an empty one
 * when none was saved. Returns a new reference or NULL (printed). */
json_t *cli_profile_load(struct cli_ctx *ctx);
/* Saves the profile with mode 0600 in a 0700 directory. Returns CLI_EXIT_OK or CLI_EXIT_ERR. */
int cli_profile_save(struct cli_ctx *ctx, const json_t *profile);
/* The subscription entry of profile that --subscription names, or the default one (borrowed);
 * NULL (printed) when there is none. */
json_t *cli_profile_current(struct cli_ctx *ctx, const json_t *profile);
/* Makes the given credential the current account for this run (login uses it to validate). */
int cli_account_use(struct cli_ctx *ctx, const struct cli_endpoints *ep, const char *tenant, const char *client_id,
                    const char *secret);
/* Removes the saved profile and token cache. */
void cli_profile_remove(struct cli_ctx *ctx);
/* Returns the path of a file in the config directory (arena); creates the dir 0700 when mk. */
char *cli_config_path(struct cli_ctx *ctx, const char *name, int mk);
/* Gets an access token for scope using the current account, from the cache when still valid.
 * *tok is a secret string in ctx->arena (wiped when the arena is freed). */
int cli_token(struct cli_ctx *ctx, const char *scope, int fresh, const char **tok);
/* Drops any cached token for the current account. */
void cli_token_forget(struct cli_ctx *ctx);

/* ---- rest.c ---- */

enum cli_api {
    CLI_API_ARM,        /* {arm}{path}, bearer token for management */
    CLI_API_GRAPH,      /* {graph}/v1.0{path}, bearer token for Graph */
    CLI_API_OP_IDENTITY, /* {authority}{path}, operator credential */
    CLI_API_OP_ARM,     /* {arm}{path}, operator credential */
};

struct cli_resp {
    long status;
    json_t *body;   /* parsed body, or NULL when empty or not JSON */
    char *location; /* Location header (ck_free) or NULL */
    char *www_authenticate; /* WWW-Authenticate header (ck_free) or NULL */
};

/* Operator session: endpoints and the operator key (arena, wiped). */
int cli_operator_open(struct cli_ctx *ctx);

/*
 * Sends one request and waits for the answer. path is relative to the API's base and already
 * carries its query string. Returns CLI_EXIT_OK when any HTTP response arrived (resp filled,
 * clean up with cli_resp_cleanup), otherwise an exit code (printed).
 */
int cli_call(struct cli_ctx *ctx, enum cli_api api, const char *method, const char *path, const json_t *body,
             struct cli_resp *resp);
void cli_resp_cleanup(struct cli_resp *resp);
/* Sends one request to an absolute URL with the given extra headers (NULL-terminated), trusting
 * ca_file besides the system store. --debug shows method, URL without its query, and status.
 * Returns CLI_EXIT_OK when any HTTP response arrived (resp filled, clean up with
 * cli_resp_cleanup), otherwise an exit code (printed). */
int cli_send(struct cli_ctx *ctx, const char *method, const char *url, const char *const *hdrs, const char *body,
             size_t body_len, const char *ca_file, struct cli_resp *resp);
/* Like cli_call, but any status outside 2xx is printed as "ERROR: (code) message" and turned
 * into an exit code (CLI_EXIT_NOTFOUND for 404). On success *out (if out is not NULL) gets the
 * body (caller decrefs; may be NULL). */
int cli_call_ok(struct cli_ctx *ctx, enum cli_api api, const char *method, const char *path, const json_t *body,
                json_t **out);
/* Prints the error a response carries and returns the exit code for it. */
int cli_resp_error(const struct cli_resp *resp);
/* Posts a client-credentials token request. On success *body is the token response (caller wipes
 * and decrefs). On failure the error is printed and an exit code returned. */
int cli_token_request(struct cli_ctx *ctx, const struct cli_endpoints *ep, const char *tenant,
                      const char *client_id, const char *secret, const char *scope, json_t **body);
/* Percent-encodes one path or query component into the arena. */
const char *cli_enc(struct cli_ctx *ctx, const char *s);
/* printf into the arena; never returns NULL (exits on out of memory). */
char *cli_fmt(struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses --parameters style input: inline JSON or @file. Returns a new reference or NULL
 * (printed). */
json_t *cli_json_arg(struct cli_ctx *ctx, const char *flag, const char *text);
/* Follows "@odata.nextLink"/"nextLink" pages of a list; returns an array (caller decrefs). */
int cli_list(struct cli_ctx *ctx, enum cli_api api, const char *path, json_t **out);
/* An ARM resource by name: a GET of item (a path with its api-version) when the group is known
 * (item not NULL), else the first element of list whose name matches without regard to case.
 * Prints "(ResourceNotFound) <what> '<name>' was not found ..." when there is none. Caller decrefs
 * *out. Returns an exit code. */
int cli_arm_find(struct cli_ctx *ctx, const char *item, const char *list, const char *name, const char *what,
                 json_t **out);
/* Fetches one page (url: the first path, then each nextLink) into *body, or returns an exit code
 * (printed). */
typedef int (*cli_page_fn)(struct cli_ctx *ctx, void *arg, const char *url, json_t **body);
/* cli_list over any transport: the "value" arrays of every page, joined (caller decrefs *out). */
int cli_list_pages(struct cli_ctx *ctx, cli_page_fn fetch, void *arg, const char *path, json_t **out);
/* A 2xx response hands its body to *out (if out is not NULL); anything else is printed as
 * "ERROR: (code) message" and turned into an exit code. */
int cli_resp_take(struct cli_resp *resp, json_t **out);

/* Adds "resourceGroup" (from the id) and lifts "properties" to the top level, as az does for
 * flattened models. v is modified in place. */
void cli_flatten(json_t *v, int lift_properties);

/* cli_flatten on an object, or on each element of an array. */
void cli_flatten_all(json_t *v);
/* cli_call_ok, then prints the body (flattened first when flat is set). Returns an exit code. */
int cli_run(struct cli_ctx *ctx, enum cli_api api, const char *method, const char *path, const json_t *body, int flat);
/* cli_list, then prints the array (each element flattened when flat is set). */
int cli_run_list(struct cli_ctx *ctx, enum cli_api api, const char *path, int flat);

/* ---- cmd_group.c ---- */

/* Parses the command's az-style "--tags a=b c" into a new object (caller decrefs); NULL (printed)
 * on a malformed tag. */
json_t *cli_tags(struct cli_ctx *ctx);

/* ---- cmd_keyvault.c (shared with cmd_keyvault_key.c) ---- */

/* Finds vault `name` through ARM: in group rg when rg is not NULL, else by listing the
 * subscription's vaults. Returns CLI_EXIT_OK with *vault (caller decrefs), or an exit code
 * (printed; CLI_EXIT_NOTFOUND when there is no such vault). */
int cli_kv_vault_get(struct cli_ctx *ctx, const char *name, const char *rg, json_t **vault);
/* Prints v like cli_print, but with -o table and no --query the rows are first shaped by
 * table_expr (az's columns for the command). */
int cli_kv_print(struct cli_ctx *ctx, const json_t *v, const char *table_expr);
/* Parses a true/false flag value. Returns 1 or 0, -1 when the flag is absent, or -2 when the
 * value is neither (printed). */
int cli_kv_bool(struct cli_ctx *ctx, const char *flag);

/* SHA-256 and HMAC-SHA-256 come from the crypto module (OpenSSL): crypto/crypto.h. */
#define CLI_SHA256_LEN 32

/* ---- cmd_keyvault_audit.c ---- */

/* Recomputes the hash chain of audit records (oldest first). On CLI_EXIT_OK *result is a new
 * {"valid","records","firstBadSequence"} object, or json_null() when the local check is not
 * available; otherwise an exit code (printed). */
int cli_kv_audit_check(struct cli_ctx *ctx, const json_t *records, json_t **result);

/* ---- cmd_storage.c (shared with blob.c) ---- */

/* Finds storage account `name` through ARM: in group rg when rg is not NULL, else by listing the
 * subscription's accounts. Returns CLI_EXIT_OK with *acct (the ARM resource; caller decrefs), or an
 * exit code (printed; CLI_EXIT_NOTFOUND when there is no such account). */
int cli_storage_account_get(struct cli_ctx *ctx, const char *name, const char *rg, json_t **acct);

/* ---- blob.c: the Blob data plane ---- */

/* x-ms-version sent on every Blob request (the one @azure/storage-blob 12.32 sends). */
#define CLI_BLOB_VERSION "2026-04-06"
/* Put Block size for large uploads, and the range size of downloads. */
#define CLI_BLOB_BLOCK (4u << 20)
/* Uploads and downloads larger than this show a progress bar (on a terminal, or with --progress). */
#define CLI_PROGRESS_MIN (4u << 20)
/* Request headers a command may add (the HTTP client takes 15; the date, version, request id,
 * content type and authorization take the rest). */
#define CLI_BLOB_MAX_HEADERS 13
#define CLI_BLOB_MAX_QUERY 8

/* One storage account's blob endpoint and credential (strings and key in ctx->arena). */
struct cli_blob {
    const char *account;
    const char *id;        /* the account's ARM id */
    const char *origin;    /* "https://localhost:10443" */
    const char *base_path; /* "/account" for path-style endpoints, "" for host-style */
    const char *ca_file;
    int login;             /* bearer token (--auth-mode login), else Shared Key */
    const uint8_t *key;    /* decoded account key (wiped with the arena) */
    size_t key_len;
    const char *token;
};

struct cli_pair {
    const char *name;
    const char *value;
};

/* One Blob request. container NULL: the account; blob NULL: the container. Query values are given
 * decoded (they are encoded in the URL and signed decoded); empty values are left out. */
struct cli_blob_req {
    const char *method;
    const char *container;
    const char *blob;
    struct cli_pair query[CLI_BLOB_MAX_QUERY];
    int nquery;
    struct cli_pair headers[CLI_BLOB_MAX_HEADERS];
    int nheaders;
    const void *body;
    size_t body_len;
    size_t limit; /* response body cap; 0: 1 MiB */
};

/* Resolves --account-name (ARM: primaryEndpoints.blob) and the credential of --auth-mode
 * (key: --account-key or key1 from listKeys; login: a token for https://storage.azure.com).
 * Returns CLI_EXIT_OK or an exit code (printed). */
int cli_blob_open(struct cli_ctx *ctx, struct cli_blob *b);
void cli_blob_query(struct cli_blob_req *r, const char *name, const char *value);
/* Adds a request header. Returns 0, or -1 when there are too many. */
int cli_blob_header(struct cli_blob_req *r, const char *name, const char *value);
/* Signs and sends a request. Returns CLI_EXIT_OK when any response arrived (resp filled: clean it
 * up with ck_httpc_resp_cleanup), otherwise an exit code (printed). */
int cli_blob_do(struct cli_ctx *ctx, const struct cli_blob *b, const struct cli_blob_req *r, struct ck_httpc_resp *resp);
/* Prints a refused request as "ERROR: (code) message", with what the code means and how to fix it
 * where that is known (container: the container of the request, for the hint). Returns the exit
 * code (CLI_EXIT_NOTFOUND for 404). */
int cli_blob_fail(struct cli_ctx *ctx, const struct cli_blob *b, const struct ck_httpc_resp *resp, const char *container);
/* The next element <tag>...</tag> (or <tag/>) at or after *p: its content in *in and *inlen; *p moves
 * past it. Returns 1, or 0 when there is none. */
int cli_xml_elem(const char **p, const char *end, const char *tag, const char **in, size_t *inlen);
/* The next child element at *p: its name and content. Returns 1, or 0 at the end. */
int cli_xml_child(const char **p, const char *end, const char **name, size_t *nlen, const char **in, size_t *inlen);
/* XML text (entities decoded) as a new JSON string, or NULL when out of memory. */
json_t *cli_xml_string(const char *s, size_t n);
/* The text of the first <tag> in s, or NULL. */
json_t *cli_xml_get(const char *s, size_t n, const char *tag);
/* An HTTP date as az prints times ("2025-11-23T15:02:00+00:00"); json_null() for NULL. */
json_t *cli_blob_time(const char *http_date);

struct cli_progress {
    int on, tty, last;
    const char *what;
    uint64_t total, done;
};
/* A progress bar on stderr for transfers above CLI_PROGRESS_MIN, when stderr is a terminal or the
 * command has --progress (never with --no-progress); stdout is never touched. */
void cli_progress_start(struct cli_ctx *ctx, struct cli_progress *p, const char *what, uint64_t total);
void cli_progress_step(struct cli_progress *p, uint64_t done);
void cli_progress_end(struct cli_progress *p);

/* ---- main.c ---- */
void cli_help_cmd(const struct cli_cmd *cmd);
/*
 * Runs one command line (argv[0] is the program name) as `crosskey` would, with its own context and
 * arena. When capture is not NULL, the command's result (after --query) is stored in *capture (a
 * new reference; the caller decrefs and wipes it if it may hold a secret) instead of printed;
 * errors still go to stderr. Returns the command's exit code.
 */
int cli_dispatch(int argc, char **argv, json_t **capture);

#endif
