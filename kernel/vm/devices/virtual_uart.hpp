// A domain's COM1: enough of a 16550 for a guest to print (polled transmit, as boot
// code and test kernels do). Each line the guest writes reaches the Vireo console
// prefixed with the domain's name.
#pragma once

#include "kernel/vm/io_bus.hpp"

struct Domain;

class VirtualUart final : public IoDevice {
public:
    static constexpr u16 kCom1 = 0x3f8;

    explicit VirtualUart(Domain& domain) : domain_(domain) {}
    u32 io_read(Vcpu& vcpu, u16 port, u8 size) override;
    void io_write(Vcpu& vcpu, u16 port, u8 size, u32 value) override;

private:
    Domain& domain_;
    u8 line_control_ = 0;
    u8 interrupt_enable_ = 0;
    u8 modem_control_ = 0;
    u8 scratch_ = 0;
    u8 divisor_low_ = 1, divisor_high_ = 0;
};
