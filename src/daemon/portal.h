/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_DAEMON_PORTAL_H
#define CK_DAEMON_PORTAL_H

/*
 * The portal's static files (everything under web/portal), embedded into crosskeyd at build time by
 * cmake/portal_embed.cmake, and the mount that serves them at /portal/ on the main origin
 * (docs/portal.md).
 */
#include "http/server/httpd.h"

#include <stddef.h>

/* One embedded file: its path as requested ("/portal/js/app.js"), its bytes, and a strong ETag
 * (quoted). Generated; the table ends after ckd_portal_nfiles entries. */
struct ckd_portal_file {
    const char *path;
    const unsigned char *data;
    size_t len;
    const char *etag;
};

extern const struct ckd_portal_file ckd_portal_files[];
extern const size_t ckd_portal_nfiles;

/*
 * Mounts the portal on h: GET and HEAD of "/portal/" (index.html), of each embedded file, and
 * "/portal" (a redirect to "/portal/"). Any other path under /portal answers 404, any other method
 * 405. Paths are looked up exactly as sent (still percent-encoded) in the embedded table: nothing
 * is read from the file system, so no path can name another file. Mount it before any mount whose
 * matcher would take /portal. Returns CK_OK or CK_E_LIMIT (too many mounts).
 */
int ckd_portal_mount(struct ck_httpd *h);

#endif
