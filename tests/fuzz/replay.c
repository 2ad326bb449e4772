/* SPDX-License-Identifier: Apache-2.0 */
/* Replays corpus files (or every file in corpus directories) through a harness's
 * LLVMFuzzerTestOneInput, so each harness runs as an ordinary test without libFuzzer. */
#include "core/fsutil.h"
#include "core/mem.h"
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CK_REPLAY_MAX (1u << 20)

static int replay_file(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    if (ck_read_file(path, CK_REPLAY_MAX, &data, &len) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    ck_free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such path %s\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += replay_file(argv[i]) != 0;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *p = ck_path_join(argv[i], e->d_name);
            if (p == NULL)
                return 1;
            failed += replay_file(p) != 0;
            files++;
            ck_free(p);
        }
        if (d != NULL)
            closedir(d);
    }
    printf("replay: %d inputs, %d unreadable\n", files, failed);
    return files == 0 || failed > 0;
}
