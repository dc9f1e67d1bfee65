// XCR0 validity for guest XSETBV (Intel SDM vol. 1, 13.3).
#include <gtest/gtest.h>

#include "kernel/vm/fpu_state.hpp"

namespace {

TEST(Xcr0Rules, X87AlwaysAvxNeedsSseNothingUnsupported) {
    const u64 x87 = 1, sse = 2, avx = 4;
    EXPECT_TRUE(valid_guest_xcr0(x87, x87 | sse | avx));
    EXPECT_TRUE(valid_guest_xcr0(x87 | sse, x87 | sse | avx));
    EXPECT_TRUE(valid_guest_xcr0(x87 | sse | avx, x87 | sse | avx));
    EXPECT_FALSE(valid_guest_xcr0(0, x87 | sse | avx));  // x87 must be set
    EXPECT_FALSE(valid_guest_xcr0(sse, x87 | sse | avx));
    EXPECT_FALSE(valid_guest_xcr0(x87 | avx, x87 | sse | avx));         // AVX without SSE
    EXPECT_FALSE(valid_guest_xcr0(x87 | sse | avx, x87 | sse));         // AVX not offered
    EXPECT_FALSE(valid_guest_xcr0(x87 | sse | 0xe0, x87 | sse | avx));  // AVX-512 not offered
    EXPECT_FALSE(valid_guest_xcr0(x87 | sse | (1ull << 63), ~0ull >> 1));
}

}  // namespace
