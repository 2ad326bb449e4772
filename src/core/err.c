/* SPDX-License-Identifier: Apache-2.0 */
/* The error table of err.h, expanded into lookups by value. */
#include "core/err.h"

static const struct {
    int status;
    const char *code;
    const char *text;
} ck_err_rows[] = {
#define CK_ERR_ROW(name, status, code, text) {status, code, text},
    CK_ERRORS(CK_ERR_ROW)
#undef CK_ERR_ROW
};

int ck_err_status(ck_err err)
{
    if ((unsigned)err >= CK_E__COUNT)
        return 500;
    return ck_err_rows[err].status;
}

const char *ck_err_code(ck_err err)
{
    if ((unsigned)err >= CK_E__COUNT)
        return "InternalError";
    return ck_err_rows[err].code;
}

const char *ck_err_text(ck_err err)
{
    if ((unsigned)err >= CK_E__COUNT)
        return "internal error";
    return ck_err_rows[err].text;
}
