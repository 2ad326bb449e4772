/* SPDX-License-Identifier: Apache-2.0 */
/* Shared Key's header order (core/skorder.h). */
#include "core/skorder.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Weight tables of SharedKeyComparator.js (storage-common 12.4.1); index = character code. The
 * JavaScript tables answer `undefined` past 127, modelled here as CK_SKCMP_W_UNDEF. */
static const uint16_t ck_skcmp_lv0[128] = {
    [33] = 1820,  [35] = 1823,  [36] = 1825,  [37] = 1827,  [38] = 1829,  [42] = 1837,  [43] = 2051,
    [46] = 1843,  [48] = 3331,  [49] = 3354,  [50] = 3356,  [51] = 3358,  [52] = 3360,  [53] = 3362,
    [54] = 3364,  [55] = 3366,  [56] = 3368,  [57] = 3370,  [65] = 3586,  [66] = 3593,  [67] = 3594,
    [68] = 3610,  [69] = 3617,  [70] = 3619,  [71] = 3621,  [72] = 3628,  [73] = 3634,  [74] = 3637,
    [75] = 3638,  [76] = 3656,  [77] = 3665,  [78] = 3696,  [79] = 3708,  [80] = 3710,  [81] = 3721,
    [82] = 3722,  [83] = 3729,  [84] = 3737,  [85] = 3743,  [86] = 3746,  [87] = 3748,  [88] = 3750,
    [89] = 3751,  [90] = 3753,  [94] = 1859,  [95] = 1860,  [96] = 1864,  [97] = 3586,  [98] = 3593,
    [99] = 3594,  [100] = 3610, [101] = 3617, [102] = 3619, [103] = 3621, [104] = 3628, [105] = 3634,
    [106] = 3637, [107] = 3638, [108] = 3656, [109] = 3665, [110] = 3696, [111] = 3708, [112] = 3710,
    [113] = 3721, [114] = 3722, [115] = 3729, [116] = 3737, [117] = 3743, [118] = 3746, [119] = 3748,
    [120] = 3750, [121] = 3751, [122] = 3753, [124] = 1868, [126] = 1872};
static const uint16_t ck_skcmp_lv2[128] = {
    [65] = 18, [66] = 18, [67] = 18, [68] = 18, [69] = 18, [70] = 18, [71] = 18, [72] = 18, [73] = 18,
    [74] = 18, [75] = 18, [76] = 18, [77] = 18, [78] = 18, [79] = 18, [80] = 18, [81] = 18, [82] = 18,
    [83] = 18, [84] = 18, [85] = 18, [86] = 18, [87] = 18, [88] = 18, [89] = 18, [90] = 18};
static const uint16_t ck_skcmp_lv4[128] = {[39] = 32786, [45] = 33298};

#define CK_SKCMP_W_END 1
#define CK_SKCMP_W_UNDEF (-1)

static long ck_skcmp_weight(const uint16_t *table, const char *s, size_t len, size_t i)
{
    if (i >= len)
        return CK_SKCMP_W_END;
    unsigned char c = (unsigned char)s[i];
    return c < 128 ? (long)table[c] : CK_SKCMP_W_UNDEF;
}

/* isLessThan() of SharedKeyComparator.js, statement for statement. */
int ck_sharedkey_less(const char *lhs, const char *rhs)
{
    const uint16_t *const tables[3] = {ck_skcmp_lv0, ck_skcmp_lv2, ck_skcmp_lv4};
    size_t ll = strlen(lhs), rl = strlen(rhs), i = 0, j = 0;
    int level = 0;
    while (level < 3) {
        if (level == 2 && i != j)
            return i > j;
        long w1 = ck_skcmp_weight(tables[level], lhs, ll, i);
        long w2 = ck_skcmp_weight(tables[level], rhs, rl, j);
        if (w1 == CK_SKCMP_W_END && w2 == CK_SKCMP_W_END) {
            i = 0;
            j = 0;
            level++;
        } else if (w1 == w2) {
            i++;
            j++;
        } else if (w1 == 0) {
            i++;
        } else if (w2 == 0) {
            j++;
        } else {
            if (w1 == CK_SKCMP_W_UNDEF || w2 == CK_SKCMP_W_UNDEF)
                return 0; /* JavaScript: a comparison with undefined is false */
            return w1 < w2;
        }
    }
    return 0;
}
