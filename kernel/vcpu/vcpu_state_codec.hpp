// The serialised form of VcpuArchState: save/restore and migration (even from an SVM host
// to a VMX one) carry this one byte format, never a VMCB, a VMCS or a C++ struct. Its
// version is VcpuArchState::kVersion, and a decoder refuses any version it does not know
// rather than guess at a layout.
//
// Layout, all little-endian, no padding, no alignment:
//   header (24 bytes): u32 magic 'VCPS' (0x53504356, so the bytes read "VCPS"),
//                      u32 version, u32 total length (header included), u32 parts (the
//                      vcpu_state::Part bits the state carries), u32 checksum, u32 reserved = 0
//   then every field in declaration order, each at its own fixed width: gpr[16], rip,
//   rflags; segment[ES..TR] as {u16 selector, u16 attributes, u32 limit, u64 base,
//   u8 unusable}; gdtr, idtr as {u64 base, u16 limit}; control; debug (DR0-DR3, DR6,
//   DR7); msrs; fpu (u64 xcr0 and the XSAVE bytes as they are); events (injected {u8 kind,
//   u8 vector, u8 has_error_code, u32 error_code, u8 instruction_length},
//   u8 interrupt_shadow, u8 nmi_blocked, u8 nmi_pending, u8 activity); tsc.
//   Bools are one byte 0 or 1, enums one byte. Every field belongs to one part (tsc to
//   kMsrs, gdtr and idtr to kSegments); the fields of a part the mask leaves out are 0.
//   The checksum is CRC-32 (hypercall::vcpu_state_checksum) over all the bytes with the
//   checksum field read as 0. Version 2 is 1360 bytes.
//
// History: version 1 (1352 bytes) had a 16-byte header {magic, version, length, 0}, no
// parts and no checksum, and carried DR0-DR3 as 0 (they were not switched per vCPU then).
// It is refused (UnknownVersion): restoring one would silently clear a guest's DR0-DR3.
//
// Decoding is strict (every accepted input is the encoding of the state it yields):
// checksum right, bools 0 or 1, enums in range, segment attributes in 12 bits, DR6 and
// DR7 in 32 bits, parts within kAll, absent parts' bytes 0, reserved 0, and the buffer
// exactly the total length. It reads no byte beyond `length` and writes `out` only on
// success.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vcpu/vcpu_arch_state.hpp"

// The exact size of an encoding of this version.
usize vcpu_state_encoded_size();

// Writes the encoding of the `parts` of `state` (bits outside kAll ignored) into out;
// returns the bytes written, or 0 (nothing written) if capacity is below
// vcpu_state_encoded_size().
usize vcpu_state_encode(const VcpuArchState& state, u8* out, usize capacity, u32 parts = vcpu_state::kAll);

enum class VcpuStateDecodeError : u8 {
    None,
    TooShort,        // fewer bytes than the header or than its total length
    BadMagic,        // not 'VCPS'
    UnknownVersion,  // not VcpuArchState::kVersion
    BadLength,       // total length not this version's size, or bytes beyond it
    BadChecksum,     // the checksum does not match the bytes
    BadField,        // reserved not 0, unknown parts, a bool not 0/1, an enum out of range, attributes
                     // above 12 bits, DR6/DR7 above 32 bits, a byte of an absent part not 0
};

const char* vcpu_state_decode_error_name(VcpuStateDecodeError error);

// On success `out` holds the state (absent parts zero) and `parts`, when given, the mask.
VcpuStateDecodeError vcpu_state_decode(const u8* in, usize length, VcpuArchState& out, u32* parts = nullptr);
