// XSAVE as a guest sees it: CPUID reports XSAVE and reflects CR4.OSXSAVE, leaf 0xD sizes
// follow XCR0, XSETBV accepts only valid XCR0 values (SDM vol. 1, 13.3), and AVX state
// survives while the hypervisor runs (the smp test checks it across vCPU switches).
#include "tests/guests/lib/guest.hpp"

int guest_main(uint32_t, uint32_t) {
    enable_sse();
    CHECK(cpuid(1).ecx & (1u << 26), "CPUID says XSAVE is there");
    CHECK(!(cpuid(1).ecx & (1u << 27)), "OSXSAVE is clear while CR4.OSXSAVE is");
    enable_osxsave();
    CHECK(cpuid(1).ecx & (1u << 27), "OSXSAVE follows CR4.OSXSAVE");
    const Cpuid d = cpuid(0xd, 0);
    CHECK((d.eax & 3) == 3 && (d.eax & ~7u) == 0, "XCR0 may hold x87, SSE and at most AVX (%#x)", d.eax);
    CHECK(xgetbv() == 1, "XCR0 starts as x87 only (%#llx)", xgetbv());
    CHECK(cpuid(0xd, 0).ebx == 576, "the XSAVE area for x87 is 576 bytes (%u)", cpuid(0xd, 0).ebx);
    CHECK(try_xsetbv(0, 0) == 13, "XCR0 without x87 raises #GP");
    CHECK(try_xsetbv(1, 1) == 13, "XSETBV of XCR1 raises #GP");
    CHECK(try_xsetbv(0, 1 | 4) == 13, "AVX without SSE raises #GP");
    // AVX-512 state (bits 5-7): not offered by Vireo's CPUID (nor by the CPUs we test on,
    // which matters under QEMU's TCG, where XSETBV is not intercepted).
    CHECK(try_xsetbv(0, 0xe7) == 13, "components CPUID does not offer raise #GP");
    CHECK(try_xsetbv(0, 3) == -1 && xgetbv() == 3, "XCR0 = x87|SSE is accepted (%#llx)", xgetbv());
    const bool avx = (d.eax & 4) && (cpuid(1).ecx & (1u << 28));
    if (avx) {
        CHECK(try_xsetbv(0, 7) == -1 && xgetbv() == 7, "XCR0 = x87|SSE|AVX is accepted");
        CHECK(cpuid(0xd, 0).ebx == 832, "the XSAVE area grows to 832 bytes (%u)", cpuid(0xd, 0).ebx);
        // YMM0's upper half keeps its value across exits (CPUID exits here).
        const uint32_t pattern = 0x5a5a1234;
        asm volatile(
            "movd %0, %%xmm1; pshufd $0, %%xmm1, %%xmm1; vinsertf128 $1, %%xmm1, %%ymm0, %%ymm0" ::"r"(pattern));
        for (int i = 0; i < 20; ++i) (void)cpuid(0);
        uint32_t upper;
        asm volatile("vextractf128 $1, %%ymm0, %%xmm2; movd %%xmm2, %0" : "=r"(upper));
        CHECK(upper == pattern, "YMM0's upper half survived 20 exits (%#x)", upper);
    } else {
        print("(no AVX on this CPU: the AVX checks are skipped)\n");
    }
    return finish("xsave");
}
