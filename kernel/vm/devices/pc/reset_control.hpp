// The chipset's Reset Control register at I/O port 0xCF9 (Intel ICH9 datasheet 13.7.5
// RST_CNT; PIIX3/PIIX4 "RC" register): bit 1 SYS_RST picks a hard or soft reset, bit 2
// RST_CPU starts it on its 0-to-1 transition, bit 3 FULL_RST asks for a full power
// cycle. Linux's reboot=pci (and the FADT RESET_REG, if the tables point it here with
// value 0x06) writes 0x02 then 0x06 (warm) or 0x0E (cold).
//
// A virtual machine has no difference between the three kinds of reset: each becomes
// PlatformControl::request_reset(). RST_CPU clears itself once the reset is requested,
// as the reset it causes would clear it, so writing 0x06 again resets again.
//
// The port is one byte wide and shares 0xCF8-0xCFB with the PCI CONFIG_ADDRESS
// register, which only answers dword accesses: PciHostBridge forwards byte accesses to
// 0xCF9 here. Ports are absolute.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/pc/platform_control.hpp"

class StateWriter;
class StateReader;

class ResetControl {
public:
    static constexpr u16 kPort = 0xcf9;
    static constexpr u8 kSysRst = 0x02;
    static constexpr u8 kRstCpu = 0x04;
    static constexpr u8 kFullRst = 0x08;

    explicit ResetControl(PlatformControl& platform) : platform_(platform) {}

    u32 port_read(u16 port, u8 size);
    void port_write(u16 port, u8 size, u32 value);
    void reset() { value_ = 0; }

    // Save and restore (platform_state_codec.hpp): the register's SYS_RST and FULL_RST
    // bits (RST_CPU never stays set).
    using State = u8;
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(State value) { value_ = value; }

private:
    PlatformControl& platform_;
    u8 value_ = 0;
};
