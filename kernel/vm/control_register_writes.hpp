// A guest's writes to CR0 and CR4 (MOV to CR, CLTS, LMSW) and to EFER (WRMSR), judged
// by the architecture's rules (kernel/vm/control_register_rules.hpp) and carried out for
// it: #GP where a CPU gives it, and otherwise the new values, EFER.LMA as the CPU would
// change it, PAE's PDPTEs for a backend that caches them, and a TLB flush when cached
// translations no longer hold.
//
// What reaches here: on SVM every write to CR0 and CR4 (the VMCB's CR write intercepts,
// APM vol. 2 15.9); on VMX every write that changes a bit the guest/host masks own
// (SDM vol. 3C 25.6.6), which are all of CR4 and all of CR0 but TS and MP (changing
// those never breaks a rule, and the guest may toggle them at no cost).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/instruction_length.hpp"
#include "kernel/vm/vm_exit.hpp"

struct Vcpu;

// The CR0 bits the guest changes without an exit (VMX's CR0 guest/host mask is the
// complement; SVM intercepts every write, having no mask).
inline constexpr u64 kGuestOwnedCr0Bits = (1ull << 1) | (1ull << 3);  // MP, TS

void handle_control_register_write(Vcpu& vcpu, const CrWriteExit& exit);

// The access to CR`cr` at RIP, decoded from guest memory for a backend that did not tell
// its form and operand (SVM without decode assists); `forms` are the accepted ones
// (cr_forms). False when the domain was ended (the bytes are no such access) or a fetch
// fault was raised.
constexpr u32 cr_form(CrAccessForm form) { return 1u << u32(form); }
bool decode_cr_access_at_rip(Vcpu& vcpu, const GuestControlState& c, u8 cr, u32 forms, DecodedCrAccess& out);

// WRMSR to EFER: false for #GP; otherwise the backend holds the new value.
bool write_guest_efer(Vcpu& vcpu, u64 value);

// PAE's four PDPTEs at the guest's CR3 into `pdptes`, for a backend that caches them
// (VcpuBackend::caches_pae_pdptes) and a state it takes whole (vcpu_set_state); false
// when they are outside the guest's RAM or a present one has reserved bits set.
bool read_guest_pae_pdptes(Vcpu& vcpu, u64 cr3, u64 (&pdptes)[4]);
