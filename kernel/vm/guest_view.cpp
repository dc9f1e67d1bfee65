#include "kernel/vm/guest_view.hpp"

#include "kernel/domain/domain.hpp"

namespace {
constexpr u8 kVectorGp = 13;
constexpr u8 kVectorPf = 14;
constexpr u64 kRflagsAc = 1ull << 18;
}  // namespace

GuestPagingState guest_paging_state(const Vcpu& vcpu) {
    return guest_paging_state(vcpu, vcpu.backend->control_state());
}

GuestPagingState guest_paging_state(const Vcpu& vcpu, const GuestControlState& c) {
    GuestPagingState s;
    s.cr0 = c.cr0;
    s.cr3 = c.cr3;
    s.cr4 = c.cr4;
    s.efer = c.efer;
    s.cpl = c.cpl;
    s.rflags_ac = (vcpu.regs.rflags & kRflagsAc) != 0;
    return s;
}

bool fetch_guest_instruction(Vcpu& vcpu, const GuestControlState& c, u8 (&bytes)[15], usize& available,
                             WalkFault& fault) {
    u64 linear = c.segment_base[u8(SegmentRegister::Cs)] + vcpu.regs.rip;
    if (c.mode != GuestCpuMode::Long64) linear &= 0xffffffffull;
    // Without paging the linear address is guest-physical (SDM vol. 3A 4.1.1): all 15
    // bytes in one page of RAM are read straight, as the walk below would read them.
    // Anything else (the end of RAM, a page boundary) takes the walk.
    constexpr u64 kCr0Pg = 1ull << 31;
    if (!(c.cr0 & kCr0Pg) && (linear & (kPageSize - 1)) + sizeof(bytes) <= kPageSize &&
        vcpu.domain->memory.read(linear, bytes, sizeof(bytes))) {
        available = sizeof(bytes);
        return true;
    }
    const GuestPagingState paging = guest_paging_state(vcpu, c);
    GuestAccess access;
    access.fetch = true;
    // An instruction may end before a page boundary that the next page's fault (or the
    // end of guest RAM) lies behind: then only the bytes up to the boundary are fetched.
    available = sizeof(bytes);
    if (read_guest_virtual(vcpu.domain->memory, paging, linear, bytes, available, access, fault)) return true;
    const u64 to_page_end = kPageSize - (linear & (kPageSize - 1));
    if (to_page_end >= sizeof(bytes)) return false;
    available = usize(to_page_end);
    return read_guest_virtual(vcpu.domain->memory, paging, linear, bytes, available, access, fault);
}

bool read_guest_linear(Vcpu& vcpu, u64 linear, void* dst, usize len, WalkFault& fault) {
    return read_guest_virtual(vcpu.domain->memory, guest_paging_state(vcpu), linear, dst, len, GuestAccess{}, fault);
}

bool write_guest_linear(Vcpu& vcpu, u64 linear, const void* src, usize len, WalkFault& fault) {
    GuestAccess access;
    access.write = true;
    return write_guest_virtual(vcpu.domain->memory, guest_paging_state(vcpu), linear, src, len, access, fault);
}

bool reflect_guest_fault(Vcpu& vcpu, const WalkFault& fault) {
    switch (fault.kind) {
        case WalkResult::PageFault:
            vcpu.backend->set_cr2(fault.address);
            vcpu.events.raise_exception(kVectorPf, true, fault.error_code);
            return true;
        case WalkResult::NonCanonical: vcpu.events.raise_exception(kVectorGp, true, 0); return true;
        case WalkResult::Contended: return true;  // re-execute the instruction
        case WalkResult::Ok:
        case WalkResult::BadTablePhysical:
        case WalkResult::BadDataPhysical: break;
    }
    return false;
}
