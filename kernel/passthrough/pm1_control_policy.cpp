#include "kernel/passthrough/pm1_control_policy.hpp"

Pm1WriteDecision pm1_control_write(u16 offset, u8 size, u32 value, const AcpiSleepType& s5, bool block_b) {
    Pm1WriteDecision d;
    if (offset > 1 || (size != 1 && size != 2 && size != 4)) return d;
    // The register as the write leaves it: a byte at offset 1 is bits 15:8 (and holds
    // SLP_EN and SLP_TYP: a byte write must not slip past the check).
    const u64 width = size == 4 ? 0xffffffffull : (1ull << (8 * size)) - 1;
    d.image = u16((u64(value) & width) << (8 * offset));
    d.lanes = u16(width << (8 * offset));
    if (!(d.image & pm1_control::kSlpEn)) return d;
    d.slp_typ = u8((d.image & pm1_control::kSlpTypMask) >> pm1_control::kSlpTypShift);
    if (!s5.found) {
        d.action = Pm1WriteAction::PowerOff;
        d.s5_unknown = true;
        return d;
    }
    const u8 s5_type = block_b ? s5.slp_typ_b : s5.slp_typ_a;
    // SLP_TYP lies in bits 12:10, all in the high byte: a write that covers SLP_EN
    // covers SLP_TYP too.
    d.action = d.slp_typ == s5_type ? Pm1WriteAction::PowerOff : Pm1WriteAction::RefuseSleep;
    return d;
}
