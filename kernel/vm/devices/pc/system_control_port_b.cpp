#include "kernel/vm/devices/pc/system_control_port_b.hpp"

#include "kernel/vm/devices/pc/isa_port_access.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {
constexpr u8 kTimer2 = 2;
}

void SystemControlPortB::set_serr_nmi_status(bool active) { serr_status_ = active && serr_nmi_enabled(); }

void SystemControlPortB::set_iochk_nmi_status(bool active) { iochk_status_ = active && iochk_nmi_enabled(); }

u8 SystemControlPortB::read_byte(u16 port) {
    if (port != kPort) return 0xff;
    refresh_toggle_ = !refresh_toggle_;
    return u8(control_ | (refresh_toggle_ ? kRefreshToggle : 0) | (pit_.output(kTimer2) ? kTimer2Out : 0) |
              (iochk_status_ ? kIochkNmiStatus : 0) | (serr_status_ ? kSerrNmiStatus : 0));
}

void SystemControlPortB::write_byte(u16 port, u8 value) {
    if (port != kPort) return;
    control_ = value & kWritable;
    // Setting a disable bit also clears that source's status (ICH9 13.7.1).
    if (!serr_nmi_enabled()) serr_status_ = false;
    if (!iochk_nmi_enabled()) iochk_status_ = false;
    pit_.set_gate(kTimer2, control_ & kTimer2Gate);
}

u32 SystemControlPortB::port_read(u16 port, u8 size) {
    return isa_split_read(port, size, [this](u16 byte_port) { return read_byte(byte_port); });
}

void SystemControlPortB::port_write(u16 port, u8 size, u32 value) {
    isa_split_write(port, size, value, [this](u16 byte_port, u8 byte) { write_byte(byte_port, byte); });
}

void SystemControlPortB::save(StateWriter& out) const {
    out.put_u8(control_);
    out.put_bool(refresh_toggle_);
    out.put_bool(serr_status_);
    out.put_bool(iochk_status_);
}

bool SystemControlPortB::load(StateReader& in, State& out) const {
    out.control = in.get_u8();
    out.refresh_toggle = in.get_bool();
    out.serr_status = in.get_bool();
    out.iochk_status = in.get_bool();
    // Bits 7:4 are status, never stored (ICH9 13.7.1); a disabled source has no status.
    in.require((out.control & ~kWritable) == 0);
    in.require(!(out.serr_status && (out.control & kSerrNmiDisable)));
    in.require(!(out.iochk_status && (out.control & kIochkNmiDisable)));
    return !in.failed();
}

void SystemControlPortB::restore(const State& state) {
    control_ = state.control;
    refresh_toggle_ = state.refresh_toggle;
    serr_status_ = state.serr_status;
    iochk_status_ = state.iochk_status;
}
