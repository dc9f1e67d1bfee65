// Reading and writing a vCPU's guest memory the way its own code sees it: linear
// addresses through the guest's page tables (mm/guest_page_walk), at the guest's CPL.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu.hpp"
#include "mm/guest_page_walk.hpp"

// Reading the control state costs a VMCB walk or many VMREADs: callers that have it
// pass it in.
GuestPagingState guest_paging_state(const Vcpu& vcpu, const GuestControlState& control);
GuestPagingState guest_paging_state(const Vcpu& vcpu);

// Fetches the bytes of the instruction at CS:RIP (up to 15, fewer at the end of guest
// RAM); false with `fault` when not even the first byte can be read. `control` is the
// vCPU's current control state.
bool fetch_guest_instruction(Vcpu& vcpu, const GuestControlState& control, u8 (&bytes)[15], usize& available,
                             WalkFault& fault);

bool read_guest_linear(Vcpu& vcpu, u64 linear, void* dst, usize len, WalkFault& fault);
bool write_guest_linear(Vcpu& vcpu, u64 linear, const void* src, usize len, WalkFault& fault);

// Turns a failed access into what the guest would have seen: #PF (with CR2) or #GP.
// Returns false when the failure is not the guest's to handle (its page tables point
// outside its RAM): the caller then ends the domain.
bool reflect_guest_fault(Vcpu& vcpu, const WalkFault& fault);
