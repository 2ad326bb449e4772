/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CK_CORE_SKORDER_H
#define CK_CORE_SKORDER_H

/*
 * The order in which Azure Storage's Shared Key signs x-ms-* header names: isLessThan() of
 * storage-common's SharedKeyComparator.js (12.4.1), statement for statement. The storage service
 * verifies with it and the CLI signs with it, so both agree with the SDK.
 */

/* 1 when lhs sorts before rhs. */
int ck_sharedkey_less(const char *lhs, const char *rhs);

#endif
