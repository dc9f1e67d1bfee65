// The test exit port: a 32-bit write to port 0xf4 ends the domain with the value
// written as its exit code (the same port QEMU's isa-debug-exit device uses, so a test
// kernel behaves alike under QEMU and under Vireo).
#pragma once

#include "kernel/vm/io_bus.hpp"

struct Domain;

class TestExitPort final : public IoDevice {
public:
    static constexpr u16 kPort = 0xf4;

    explicit TestExitPort(Domain& domain) : domain_(domain) {}
    u32 io_read(Vcpu& vcpu, u16 port, u8 size) override;
    void io_write(Vcpu& vcpu, u16 port, u8 size, u32 value) override;

private:
    Domain& domain_;
};
