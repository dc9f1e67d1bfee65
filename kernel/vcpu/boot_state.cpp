#include "kernel/vcpu/boot_state.hpp"

namespace {

using vcpu_state::Segment;
using vcpu_state::SegmentIndex;

// Compressed descriptor attributes (vcpu_arch_state.hpp): type, S, DPL, P in 7:0; AVL,
// L, D/B, G in 11:8 (Intel SDM vol. 3A 3.4.5).
constexpr u16 kCode16 = 0x09b;      // present, code execute/read, accessed
constexpr u16 kData16 = 0x093;      // present, data read/write, accessed
constexpr u16 kCode32Flat = 0xc9b;  // ... D = 1, G = 1
constexpr u16 kData32Flat = 0xc93;  // ... B = 1, G = 1
constexpr u16 kCode64 = 0xa9b;      // ... L = 1, G = 1
constexpr u16 kTss32Busy = 0x08b;   // VM entry wants a usable, busy TSS (SDM vol. 3C 26.3.1.2)
constexpr u16 kLdt = 0x082;

constexpr u64 kCr0Pe = 1ull << 0, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5, kCr0Pg = 1ull << 31;
constexpr u64 kCr4Pae = 1ull << 5;
constexpr u64 kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr u64 kDefaultPat = 0x0007040600070406ull;  // the power-on PAT (SDM vol. 3A 11.12.4)

Segment segment(u16 selector, u64 base, u32 limit, u16 attributes) {
    return {selector, attributes, limit, base, false};
}

}  // namespace

VcpuArchState boot_arch_state(const GuestEntryState& entry) {
    VcpuArchState s{};
    s.gpr[u8(Gpr::Rax)] = entry.rax;
    s.gpr[u8(Gpr::Rbx)] = entry.rbx;
    s.gpr[u8(Gpr::Rsp)] = entry.rsp;
    s.gpr[u8(Gpr::Rsi)] = entry.rsi;
    s.rip = entry.rip;
    s.rflags = 0x2;  // bit 1 is always set; IF clear

    Segment code, data, fs_gs;
    switch (entry.mode) {
        case GuestCpuMode::Real:
            // CS:IP from a start-up IPI (SDM vol. 3A 8.4.4) or a real-mode loader.
            code = segment(entry.cs_selector, u64(entry.cs_selector) << 4, 0xffff, kCode16);
            data = fs_gs = segment(0, 0, 0xffff, kData16);
            s.control.cr0 = kCr0Et | kCr0Ne;
            break;
        case GuestCpuMode::Long64:
            // Paging and long mode already on, as the Linux 64-bit boot protocol requires
            // (Documentation/x86/boot.rst, "64-bit Boot Protocol").
            code = segment(entry.cs_selector, 0, 0xffffffff, kCode64);
            data = segment(entry.data_selector, 0, 0xffffffff, kData32Flat);
            fs_gs = segment(0, 0, 0xffff, kData16);
            s.control.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Pg;
            s.control.cr3 = entry.cr3;
            s.control.cr4 = kCr4Pae;
            s.control.efer = kEferLme | kEferLma;
            s.gdtr = {entry.gdt_base, entry.gdt_limit};
            break;
        case GuestCpuMode::Protected16:
        case GuestCpuMode::Protected32: {
            // The Multiboot machine state (Multiboot spec 3.2): flat 4 GiB segments,
            // protected mode, paging off; GDTR and IDTR are the kernel's to set. With a
            // GDT given, the Linux 32-bit boot protocol's: the segments are its
            // __BOOT_CS and __BOOT_DS (boot.rst, "32-bit Boot Protocol").
            const bool own_gdt = entry.gdt_limit != 0;
            code = segment(own_gdt ? entry.cs_selector : 0x08, 0, 0xffffffff, kCode32Flat);
            data = fs_gs = segment(own_gdt ? entry.data_selector : 0x10, 0, 0xffffffff, kData32Flat);
            s.control.cr0 = kCr0Pe | kCr0Et | kCr0Ne;
            if (own_gdt) s.gdtr = {entry.gdt_base, entry.gdt_limit};
            break;
        }
    }
    // CR0.NE is set in every start state: VMX operation fixes it to 1 (Intel SDM vol. 3C
    // 24.8, IA32_VMX_CR0_FIXED0), so a guest that starts with it set never writes a value
    // VMX would have to emulate; x87 errors are reported as #MF, as every OS since the
    // 486 wants.
    if (entry.mode == GuestCpuMode::Real || s.gdtr.limit == 0) s.gdtr = {0, 0xffff};
    s.seg(SegmentIndex::Cs) = code;
    s.seg(SegmentIndex::Ds) = s.seg(SegmentIndex::Es) = s.seg(SegmentIndex::Ss) = data;
    s.seg(SegmentIndex::Fs) = s.seg(SegmentIndex::Gs) = fs_gs;
    s.seg(SegmentIndex::Tr) = segment(0, 0, 0xffff, kTss32Busy);
    s.seg(SegmentIndex::Ldtr) = segment(0, 0, 0xffff, kLdt);
    s.seg(SegmentIndex::Ldtr).unusable = true;
    s.idtr = {0, 0x3ff};
    s.debug = {{0, 0, 0, 0}, 0xffff0ff0, 0x400};  // DR6 and DR7 after reset (SDM vol. 3A 9.1.1)
    s.msrs.pat = kDefaultPat;
    s.events.activity = vcpu_state::ActivityState::Active;
    return s;
}
