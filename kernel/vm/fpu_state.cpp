#include "kernel/vm/fpu_state.hpp"

#include <string.h>

#include "kernel/memory_layout.hpp"
#include "kernel/percpu.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/kernel_address_space.hpp"

namespace {

constexpr u64 kXcr0X87 = 1, kXcr0Sse = 2, kXcr0Avx = 4;
bool g_xsave = false;
u64 g_guest_xcr0_supported = 0;

u64 xgetbv() {
    u32 lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
    return (u64(hi) << 32) | lo;
}

void xsetbv(u64 value) { asm volatile("xsetbv" ::"c"(0u), "a"(u32(value)), "d"(u32(value >> 32)) : "memory"); }

// All components enabled in XCR0 (requested-feature bitmap all ones).
void xsave(u8* area) { asm volatile("xsave64 %0" : "=m"(*area) : "a"(~0u), "d"(~0u) : "memory"); }
void xrstor(const u8* area) { asm volatile("xrstor64 %0" ::"m"(*area), "a"(~0u), "d"(~0u) : "memory"); }

u8* area_of(Vcpu& vcpu) { return phys_to_virt<u8>(vcpu.fpu_area_page); }

}  // namespace

void fpu_enable_this_cpu() {
    constexpr u64 kCr0Mp = 1ull << 1, kCr0Em = 1ull << 2, kCr0Ts = 1ull << 3, kCr0Ne = 1ull << 5;
    constexpr u64 kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10, kCr4Osxsave = 1ull << 18;
    x86::write_cr0((x86::read_cr0() | kCr0Mp | kCr0Ne) & ~(kCr0Em | kCr0Ts));
    u64 cr4 = x86::read_cr4() | kCr4Osfxsr | kCr4Osxmmexcpt;
    const bool xsave = x86::cpuid(0).eax >= 0xd && (x86::cpuid(1).ecx & (1u << 26));
    if (xsave) cr4 |= kCr4Osxsave;
    x86::write_cr4(cr4);
    if (xsave) {
        const u64 hardware = x86::cpuid(0xd, 0).eax;
        g_guest_xcr0_supported = hardware & (kXcr0X87 | kXcr0Sse | kXcr0Avx);
        xsetbv(kXcr0X87 | kXcr0Sse);
        // One page per vCPU must hold everything a guest may enable (x87+SSE+AVX: 832 bytes).
        g_xsave = x86::cpuid(0xd, 0).ecx <= kPageSize;
    }
}

u64 fpu_guest_xcr0_supported() { return g_xsave ? g_guest_xcr0_supported : 0; }

bool fpu_prepare_vcpu(Vcpu& vcpu) {
    if (vcpu.fpu_area_page) return true;
    vcpu.fpu_area_page = frame_alloc(1);  // zeroed, page-aligned (XSAVE needs 64 bytes)
    if (vcpu.fpu_area_page == kNoPhysFrame) {
        vcpu.fpu_area_page = 0;
        return false;
    }
    fpu_reset_state(vcpu);
    return true;
}

void fpu_release_vcpu(Vcpu& vcpu) {
    if (vcpu.fpu_area_page) frame_free(vcpu.fpu_area_page);
    vcpu.fpu_area_page = 0;
}

void fpu_reset_state(Vcpu& vcpu) {
    vcpu.xcr0 = kXcr0X87;
    if (!vcpu.fpu_area_page) return;
    u8* area = area_of(vcpu);
    memset(area, 0, kPageSize);  // XSTATE_BV = 0: every component in its initial state
    const u16 fcw = 0x037f;
    const u32 mxcsr = 0x1f80;
    memcpy(area + 0, &fcw, sizeof(fcw));       // legacy region: FCW at byte 0
    memcpy(area + 24, &mxcsr, sizeof(mxcsr));  // MXCSR at byte 24
}

void fpu_switch_to(Vcpu& vcpu) {
    PerCpu& cpu = this_cpu();
    if (cpu.fpu_owner == &vcpu) return;
    if (g_xsave) {
        // XSAVE/XRSTOR move only what XCR0 enables, but SSE registers are usable with
        // XCR0 = x87 alone (CR4.OSFXSR decides): the state moves under every component a
        // guest may have, then the new owner's own XCR0 goes in.
        // QEMU's TCG does not honour the SVM XSETBV intercept: a guest may have changed
        // XCR0 itself, so the owner's value is read back rather than trusted.
        if (cpu.fpu_owner) cpu.fpu_owner->xcr0 = xgetbv();
        xsetbv(g_guest_xcr0_supported);
        if (cpu.fpu_owner) xsave(area_of(*cpu.fpu_owner));
        xrstor(area_of(vcpu));
        xsetbv(vcpu.xcr0);
    } else {
        if (cpu.fpu_owner) asm volatile("fxsave64 %0" : "=m"(*area_of(*cpu.fpu_owner)));
        asm volatile("fxrstor64 %0" ::"m"(*area_of(vcpu)));
    }
    cpu.fpu_owner = &vcpu;
}

void fpu_save_if_loaded_here(Vcpu& vcpu) {
    PerCpu& cpu = this_cpu();
    if (cpu.fpu_owner != &vcpu) return;
    if (g_xsave) {
        vcpu.xcr0 = xgetbv();
        xsetbv(g_guest_xcr0_supported);
        xsave(area_of(vcpu));
    } else {
        asm volatile("fxsave64 %0" : "=m"(*area_of(vcpu)));
    }
    cpu.fpu_owner = nullptr;
}

namespace {

// Where the upper YMM halves sit in the standard XSAVE format (CPUID.(EAX=0DH,ECX=2).EBX,
// SDM vol. 1 13.4.3): 576 on every CPU so far, but enumerated.
usize ymm_offset() {
    static usize offset = 0;
    if (!offset) offset = x86::cpuid(0xd, 2).ebx;
    return offset;
}

bool has_avx_area() { return g_xsave && (g_guest_xcr0_supported & kXcr0Avx); }

constexpr usize kMxcsrOffset = 24, kMxcsrMaskOffset = 28;
constexpr usize kHeaderOffset = vcpu_state::Fpu::kLegacyBytes;

// MXCSR bits that may be set: the host's MXCSR_MASK, 0xffbf when it reads 0 (SDM vol. 1
// 11.6.6).
u32 mxcsr_mask() {
    static u32 mask = 0;
    if (!mask) {
        alignas(16) u8 area[512] = {};
        asm volatile("fxsave64 %0" : "=m"(area));
        memcpy(&mask, area + kMxcsrMaskOffset, sizeof(mask));
        if (!mask) mask = 0xffbf;
    }
    return mask;
}

}  // namespace

void fpu_get_state(const Vcpu& vcpu, vcpu_state::Fpu& out) {
    const u8* area = phys_to_virt<u8>(vcpu.fpu_area_page);
    out.xcr0 = vcpu.xcr0;
    memcpy(out.legacy, area, sizeof(out.legacy));
    memset(out.header, 0, sizeof(out.header));
    memset(out.ymm_high, 0, sizeof(out.ymm_high));
    if (!g_xsave) return;
    memcpy(out.header, area + kHeaderOffset, sizeof(out.header));
    if (has_avx_area()) memcpy(out.ymm_high, area + ymm_offset(), sizeof(out.ymm_high));
}

bool fpu_set_state(Vcpu& vcpu, const vcpu_state::Fpu& in) {
    if (!valid_guest_xcr0(in.xcr0, g_xsave ? g_guest_xcr0_supported : kXcr0X87)) return false;
    u32 mxcsr;
    memcpy(&mxcsr, in.legacy + kMxcsrOffset, sizeof(mxcsr));
    if (mxcsr & ~mxcsr_mask()) return false;
    u64 xstate_bv, xcomp_bv;
    memcpy(&xstate_bv, in.header, sizeof(xstate_bv));
    memcpy(&xcomp_bv, in.header + 8, sizeof(xcomp_bv));
    for (usize i = 16; i < sizeof(in.header); ++i)
        if (in.header[i]) return false;
    // Saved under every component guests may use (fpu_switch_to), so XSTATE_BV may name
    // more than the guest's own XCR0, but nothing this host does not offer.
    if (xcomp_bv != 0 || (xstate_bv & ~fpu_guest_xcr0_supported())) return false;
    if (!has_avx_area() && (xstate_bv & kXcr0Avx)) return false;
    u8* area = area_of(vcpu);
    memset(area, 0, kPageSize);
    memcpy(area, in.legacy, sizeof(in.legacy));
    vcpu.xcr0 = in.xcr0;
    if (!g_xsave) return true;
    memcpy(area + kHeaderOffset, in.header, sizeof(in.header));
    if (has_avx_area()) memcpy(area + ymm_offset(), in.ymm_high, sizeof(in.ymm_high));
    return true;
}

u64 fpu_guest_xcr0(Vcpu& vcpu) {
    if (g_xsave && this_cpu().fpu_owner == &vcpu) return xgetbv();  // its value is the live one
    return vcpu.xcr0;
}

bool fpu_set_guest_xcr0(Vcpu& vcpu, u64 value) {
    if (!valid_guest_xcr0(value, fpu_guest_xcr0_supported())) return false;
    vcpu.xcr0 = value;
    xsetbv(value);  // the vCPU is this CPU's FPU owner: it is running here
    return true;
}

namespace {

// MOVDQU/MOVQ with the register number in the instruction: one case per register. The
// hypervisor is built without SSE, so the compiler never holds values in these registers
// and no clobber is needed; the guest's state is in them (fpu_switch_to).
#define VIREO_XMM_CASES(op) \
    op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) op(14) op(15)
#define VIREO_MMX_CASES(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7)

void save_xmm(u8 index, u8 (&out)[16]) {
    switch (index) {
#define SAVE_XMM(n) \
    case n: asm volatile("movdqu %%xmm" #n ", %0" : "=m"(out)); break;
        VIREO_XMM_CASES(SAVE_XMM)
#undef SAVE_XMM
    }
}

void load_xmm(u8 index, const u8 (&in)[16]) {
    switch (index) {
#define LOAD_XMM(n) \
    case n: asm volatile("movdqu %0, %%xmm" #n ::"m"(in)); break;
        VIREO_XMM_CASES(LOAD_XMM)
#undef LOAD_XMM
    }
}

void save_mmx(u8 index, u8 (&out)[8]) {
    switch (index) {
#define SAVE_MMX(n) \
    case n: asm volatile("movq %%mm" #n ", %0" : "=m"(out)); break;
        VIREO_MMX_CASES(SAVE_MMX)
#undef SAVE_MMX
    }
}

void load_mmx(u8 index, const u8 (&in)[8]) {
    switch (index) {
#define LOAD_MMX(n) \
    case n: asm volatile("movq %0, %%mm" #n ::"m"(in)); break;
        VIREO_MMX_CASES(LOAD_MMX)
#undef LOAD_MMX
    }
}

}  // namespace

void fpu_read_vector_register(Vcpu& vcpu, bool xmm, u8 index, u8* dst, u8 size) {
    fpu_switch_to(vcpu);
    if (xmm) {
        u8 value[16] = {};
        save_xmm(index & 15, value);
        memcpy(dst, value, size < 16 ? size : 16);
    } else {
        u8 value[8] = {};
        save_mmx(index & 7, value);
        memcpy(dst, value, size < 8 ? size : 8);
    }
}

void fpu_write_vector_register(Vcpu& vcpu, bool xmm, u8 index, const u8* src, u8 size) {
    fpu_switch_to(vcpu);
    if (xmm) {
        u8 value[16] = {};
        save_xmm(index & 15, value);
        memcpy(value, src, size < 16 ? size : 16);
        load_xmm(index & 15, value);
    } else {
        u8 value[8] = {};
        save_mmx(index & 7, value);
        memcpy(value, src, size < 8 ? size : 8);
        load_mmx(index & 7, value);
    }
}
