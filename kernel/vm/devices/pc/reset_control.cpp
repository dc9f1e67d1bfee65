#include "kernel/vm/devices/pc/reset_control.hpp"

#include "kernel/vm/devices/pc/port_access.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {
constexpr u8 kWritable = ResetControl::kSysRst | ResetControl::kRstCpu | ResetControl::kFullRst;
}  // namespace

u32 ResetControl::port_read(u16 port, u8 size) {
    if (port != kPort) return port_access_mask(size);
    return byte_register_read(value_, size);
}

void ResetControl::port_write(u16 port, u8, u32 value) {
    if (port != kPort) return;
    // RST_CPU never stays set (see the header), so every write with it set is the
    // 0-to-1 transition that starts a reset.
    value_ = u8(value) & kWritable & u8(~kRstCpu);
    if (value & kRstCpu) platform_.request_reset();
}

void ResetControl::save(StateWriter& out) const { out.put_u8(value_); }

bool ResetControl::load(StateReader& in, State& out) const {
    out = in.get_u8();
    in.require((out & ~(kWritable & ~kRstCpu)) == 0);
    return !in.failed();
}
