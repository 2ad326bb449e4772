/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_SERVICES_ST_DATA_H
#define CK_SERVICES_ST_DATA_H

/* Blob data-plane internals: parts (encrypted extent files), the blob index, request context. */
#include "crypto/segment.h"
#include "services/storage/st_int.h"

#include <stdint.h>

#define ST_BLOCK_EXPIRY_S (7 * 24 * 3600) /* uncommitted blocks, as Azure */
#define ST_MAX_PUT_BLOB (5000ull * 1024 * 1024)
#define ST_MAX_BLOCK (4000ull * 1024 * 1024)
#define ST_MAX_BLOCKS 50000
#define ST_MAX_UNCOMMITTED 100000
#define ST_MAX_META 8192
#define ST_XML_LIMIT (4u * 1024 * 1024) /* Put Block List bodies (50 000 ids of 64 chars fit) */

/* One part of a blob, as listed in the index. */
struct st_part {
    char id[2 * CK_SEG_ID_LEN + 1]; /* hex */
    uint8_t salt[CK_SEG_SALT_LEN];
    uint64_t size;
    uint32_t seg_size;
    char block_id[96]; /* the block's id (base64) when the part came from Put Block, else "" */
    int inline_;       /* stored in the index (parts.data) rather than in an extent file */
    const uint8_t *data; /* a new inline part's CKB1 bytes (owned by its writer) */
    size_t data_len;
};

/* Parts up to one segment are kept in the index row itself: one durable write (the index
 * commit) instead of a file, its sync, a rename and a directory sync. */
#define ST_INLINE_MAX CK_SEG_DEFAULT_SIZE

/* Parsed conditional headers (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since). */
struct st_cond {
    const char *if_match, *if_none_match;
    int64_t if_modified_since, if_unmodified_since; /* -1: absent */
};

enum st_cond_result {
    ST_COND_OK = 0,
    ST_COND_NOT_MODIFIED,  /* 304 */
    ST_COND_FAILED,        /* 412 ConditionNotMet */
    ST_COND_EXISTS,        /* If-None-Match: * on an existing resource (409 for Put Blob) */
    ST_COND_MULTIPLE,      /* 400 MultipleConditionHeadersNotSupported */
    ST_COND_UNSATISFIABLE, /* 400 UnsatisfiableCondition: If-None-Match: * on a read */
};

/* Whether the combination of headers is one the Blob service accepts (independent of the
 * resource): one ETag per header; for writes one header, or If-Match with If-Unmodified-Since,
 * or If-None-Match with If-Modified-Since. */
enum st_cond_result st_cond_form(const struct st_cond *c, int is_read);
/* Evaluates conditions against a resource (etag NULL when it does not exist) by the documented
 * rules of the Blob service. Reads: If-Match and If-Unmodified-Since must hold (412), and
 * If-None-Match or If-Modified-Since when given (304 when neither holds). Writes: If-None-Match
 * decides over If-Modified-Since, If-Match over If-Unmodified-Since; failure is 412. */
enum st_cond_result st_cond_eval(const struct st_cond *c, const char *etag, int64_t last_modified, int is_read);

struct st_container {
    char *name, *etag;
    int64_t last_modified;
    uint8_t *meta; /* sealed metadata, or NULL */
    size_t meta_len;
};

struct st_blob {
    char *name, *version_id, *etag;
    char *content_type, *content_encoding, *content_language, *content_disposition, *cache_control, *content_md5;
    uint64_t size;
    int64_t created, last_modified;
    uint8_t *meta;
    size_t meta_len;
    struct st_part *parts;
    size_t nparts;
};

struct st_block {
    char *id;
    uint64_t size;
    struct st_part part;
};

/* Part files a write made unreachable; removed once its transaction is durable. */
struct st_dropped {
    char (*ids)[2 * CK_SEG_ID_LEN + 1];
    size_t n, cap;
};
void st_dropped_unlink(struct st *st, struct st_dropped *d);
int st_dropped_add(struct st_dropped *d, const char *id);

/* ---- st_index.c (each call is one transaction, group-committed with concurrent ones) ---- */
/* Runs fn inside the shared transaction of the next group commit, under a savepoint; returns fn's
 * result once the commit is durable (CK_E_DB when the commit failed). Parts fn adds to its dropped
 * list are unlinked after the commit. */
int st_txn_run(struct st *st, int (*fn)(struct st *st, void *arg, struct st_dropped *d), void *arg);
int st_container_get(struct st *st, struct ck_arena *a, const char *account, const char *name,
                     struct st_container *out);
int st_container_create(struct st *st, const char *account, const char *name, const char *etag, int64_t now,
                        const uint8_t *meta, size_t meta_len);
int st_container_set_meta(struct st *st, const char *account, const char *name, const char *etag, int64_t now,
                          const uint8_t *meta, size_t meta_len);
/* Deletes a container with its blobs and staged blocks (their part files are removed). */
int st_container_delete(struct st *st, const char *account, const char *name);
/* Lists containers whose name starts with prefix and sorts after `after`, at most limit + 1 rows. */
int st_container_list(struct st *st, struct ck_arena *a, const char *account, const char *prefix, const char *after,
                      int limit, struct st_container **out, size_t *n);

int st_blob_get(struct st *st, struct ck_arena *a, const char *account, const char *container, const char *name,
                struct st_blob *out);
/*
 * Commits b as the blob's new version, in one transaction: the container must exist (else
 * CK_E_NOT_FOUND with *missing_container set), cond is evaluated against the current version
 * (ST_COND_FAILED → CK_E_FORBIDDEN, ST_COND_EXISTS → CK_E_EXISTS), new_parts are recorded, the
 * parts the old version used and any staged blocks are dropped. from_blocks: b's parts came from
 * staged blocks, whose rows are consumed.
 */
int st_blob_commit(struct st *st, const char *account, const char *container, const struct st_blob *b,
                   const struct st_cond *cond, const struct st_part *new_parts, size_t n_new, int from_blocks,
                   int *missing_container);
/* Updates properties or metadata of the current version if cond holds; new etag and time. */
int st_blob_update(struct st *st, const char *account, const char *container, const struct st_blob *b,
                   const struct st_cond *cond, int metadata_only);
int st_blob_delete(struct st *st, const char *account, const char *container, const char *name,
                   const struct st_cond *cond);
/* Lists blobs after `after` whose name starts with prefix, in name order, at most limit rows. */
int st_blob_list(struct st *st, struct ck_arena *a, const char *account, const char *container, const char *prefix,
                 const char *after, int limit, struct st_blob **out, size_t *n);

/* Stages a block (replacing a block of the same id). CK_E_NOT_FOUND: no container.
 * CK_E_LIMIT: too many uncommitted blocks. CK_E_INVALID: id length differs from the others'. */
int st_block_put(struct st *st, const char *account, const char *container, const char *blob, const char *block_id,
                 const struct st_part *part);
/* The staged (uncommitted) blocks of a blob, oldest first. */
int st_block_list(struct st *st, struct ck_arena *a, const char *account, const char *container, const char *blob,
                  struct st_block **out, size_t *n);

/* The operations of the Blob data plane this server knows. */
enum st_op {
    ST_OP_NONE = 0,
    ST_OP_LIST_CONTAINERS,
    ST_OP_ACCOUNT_INFO,
    ST_OP_SERVICE_PROPS,
    ST_OP_CONTAINER_CREATE,
    ST_OP_CONTAINER_PROPS,
    ST_OP_CONTAINER_DELETE,
    ST_OP_CONTAINER_SET_META,
    ST_OP_LIST_BLOBS,
    ST_OP_PUT_BLOB,
    ST_OP_COPY_BLOB,
    ST_OP_PUT_BLOCK,
    ST_OP_PUT_BLOCK_LIST,
    ST_OP_GET_BLOCK_LIST,
    ST_OP_GET_BLOB,
    ST_OP_BLOB_PROPS,
    ST_OP_SET_PROPS,
    ST_OP_SET_META,
    ST_OP_GET_META,
    ST_OP_DELETE_BLOB,
};

/* One data-plane request, from the begin hook to the handler (lives in the request arena). */
struct st_call {
    struct st *st;
    struct ck_req *req;
    struct ck_arena *a;
    const char *method;
    int head;
    enum st_op op;
    char *account, *container, *blob; /* decoded; NULL when the path has none */
    struct st_account acct;
    const char *sas_rscc, *sas_rscd, *sas_rsce, *sas_rscl, *sas_rsct; /* SAS response overrides */
    struct ck_secret *aek;            /* released with the arena; NULL when the key cannot be used */
    struct st_key_err kerr;           /* why aek is NULL (customer key denied or unreachable) */
    /* A streamed upload (Put Blob, Put Block). */
    struct st_part_writer *w;
    int sink_rc;
    uint64_t length;
};

/* ---- st_blob.c ---- */
/* Writes the Blob error (XML body, x-ms-error-code) with Azure's code. */
void st_fail(struct st_call *c, struct ck_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Adds x-ms-version and the headers every Blob response carries. */
void st_common_headers(struct st_call *c, struct ck_resp *resp);
/* A fresh quoted ETag ("0x8DE..."), in the call's arena. */
char *st_new_etag(struct st_call *c);
/* Parses the conditional headers and checks their combination for a read or a write; 0, or -1
 * after answering 400. */
int st_cond_parse(struct st_call *c, struct ck_resp *resp, struct st_cond *cond, int is_read);
/* Collects x-ms-meta-* headers and seals them (NULL, 0 when none). 0, or -1 after answering. */
int st_meta_seal(struct st_call *c, struct ck_resp *resp, const char *aad, uint8_t **out, size_t *len);
/* Adds the x-ms-meta-* headers of sealed metadata. 0, or -1 after answering 500. */
int st_meta_headers(struct st_call *c, struct ck_resp *resp, const char *aad, const uint8_t *sealed, size_t len);
/* Re-seals metadata under another blob's name (copy); *out lives in the call's arena. */
int st_meta_reseal(struct st_call *c, const char *src_aad, const uint8_t *sealed, size_t len, const char *dst_aad,
                   uint8_t **out, size_t *outlen);
/* Appends <Metadata>...</Metadata> for sealed metadata to b. */
int st_meta_xml(struct st_call *c, struct ck_buf *b, const char *aad, const uint8_t *sealed, size_t len);
char *st_meta_aad(struct st_call *c, const char *container, const char *blob);
/* XML-escapes s onto b. */
int st_xml_put(struct ck_buf *b, const char *s);
/* RFC 1123 time in the call's arena. */
char *st_http_time(struct st_call *c, int64_t t);

/* ---- st_object.c ---- */
/* Sets up a streamed upload from the begin hook; 0, or -1 after answering. */
int st_upload_begin(struct st_call *c, struct ck_resp *resp);
void st_blob_op(struct st_call *c, struct ck_resp *resp);

/* ---- st_extent.c ---- */

/* Streams one part into a temporary file: header, then sealed segments. */
struct st_part_writer;

int st_part_writer_new(struct st *st, const struct ck_secret *aek, const char *account, const char *container,
                       const char *blob, uint64_t length, struct st_part_writer **out) CK_MUST_CHECK;
/* Takes the next bytes of plaintext. CK_E_TOO_LARGE past the declared length. */
int st_part_write(struct st_part_writer *w, const void *p, size_t n) CK_MUST_CHECK;
/* Bytes taken so far. */
uint64_t st_part_written(const struct st_part_writer *w);
/* Seals the last segment; for a file part syncs, moves the file into extents/ and syncs the
 * directory; an inline part's bytes stay with the writer (part->data) until it is freed, so free
 * the writer only after the index commit. Fills part and md5 (of the plaintext). CK_E_INVALID
 * when fewer bytes came than declared. */
int st_part_finish(struct st_part_writer *w, struct st_part *part, uint8_t md5[16]) CK_MUST_CHECK;
/* Drops the writer and its temporary file (NULL is a no-op). */
void st_part_writer_free(struct st_part_writer *w);
/* Removes a committed part's file (after the index no longer lists it). */
void st_part_unlink(struct st *st, const char *id);

/* Reads a blob's plaintext from its parts, decrypting only the segments a read touches. */
struct st_reader;

int st_reader_new(struct st *st, const struct ck_secret *aek, const char *account, const char *container,
                  const char *blob, const struct st_part *parts, size_t nparts, struct st_reader **out) CK_MUST_CHECK;
/* Reads up to max bytes at offset pos of the blob. Returns the count (> 0), 0 at the end, or a
 * negative ck_err (CK_E_CRYPTO when data fails authentication). */
long st_reader_read(struct st_reader *r, uint64_t pos, uint8_t *buf, size_t max);
void st_reader_free(struct st_reader *r);

/* The index's JSON list of parts: [{"id","size","salt","seg"}]. */
char *st_parts_json(const struct st_part *parts, size_t n);
int st_parts_parse(struct ck_arena *a, const char *json, struct st_part **parts, size_t *n) CK_MUST_CHECK;

#endif
