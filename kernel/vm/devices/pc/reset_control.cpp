#include "kernel/vm/devices/pc/reset_control.hpp"

#include "kernel/vm/devices/pc/port_access.hpp"

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
