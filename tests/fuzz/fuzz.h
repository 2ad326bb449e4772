/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_FUZZ_H
#define CK_FUZZ_H

/* The libFuzzer entry point each harness defines; replay.c calls it for corpus files. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property violation: crash so both libFuzzer and the replay driver report it. */
#define CK_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#endif
