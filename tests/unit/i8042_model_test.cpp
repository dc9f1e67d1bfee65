#include "kernel/vm/devices/pc/i8042_model.hpp"

#include <gtest/gtest.h>

namespace {

constexpr u16 kData = I8042::kDataPort;
constexpr u16 kCmd = I8042::kStatusPort;

class FakePlatform final : public PlatformControl {
public:
    void request_power_off() override { ++power_offs; }
    void request_reset() override { ++resets; }
    int power_offs = 0;
    int resets = 0;
};

class FakeLines final : public InterruptLines {
public:
    void set_isa_irq(u8 irq, bool high) override { level[irq] = high; }
    bool level[16] = {};
};

struct Fixture {
    FakePlatform platform;
    FakeLines lines;
    I8042 kbc{platform, lines};

    u8 status() { return u8(kbc.port_read(kCmd, 1)); }
    void command(u8 cmd) { kbc.port_write(kCmd, 1, cmd); }
    void data(u8 value) { kbc.port_write(kData, 1, value); }
    u8 read_data() { return u8(kbc.port_read(kData, 1)); }
    // What Linux's i8042_command does: wait for an empty input buffer, write, then poll
    // for the output buffer with a bounded loop. Returns -1 on a timeout.
    int command_reply(u8 cmd) {
        if (status() & I8042::kStatusInputFull) return -1;
        command(cmd);
        for (int i = 0; i < 10; ++i) {
            if (status() & I8042::kStatusOutputFull) return read_data();
        }
        return -1;
    }
};

TEST(I8042Model, IdleStatus) {
    Fixture f;
    const u8 status = f.status();
    EXPECT_EQ(status & I8042::kStatusOutputFull, 0);
    EXPECT_EQ(status & I8042::kStatusInputFull, 0);
    EXPECT_EQ(status & I8042::kStatusSystemFlag, I8042::kStatusSystemFlag);
    EXPECT_EQ(status & I8042::kStatusAuxData, 0);
}

TEST(I8042Model, FlushEndsAtOnce) {
    // i8042_flush reads while OBF is set; an idle controller has nothing queued.
    Fixture f;
    int reads = 0;
    while ((f.status() & I8042::kStatusOutputFull) && reads < 100) {
        f.read_data();
        ++reads;
    }
    EXPECT_EQ(reads, 0);
    f.command(0xaa);
    reads = 0;
    while ((f.status() & I8042::kStatusOutputFull) && reads < 100) {
        f.read_data();
        ++reads;
    }
    EXPECT_EQ(reads, 1);
}

TEST(I8042Model, SelfTestAndInterfaceTests) {
    Fixture f;
    EXPECT_EQ(f.command_reply(0xaa), 0x55);
    EXPECT_EQ(f.command_reply(0xab), 0x00);
    EXPECT_EQ(f.command_reply(0xa9), 0x00);
    EXPECT_EQ(f.status() & I8042::kStatusOutputFull, 0);
}

TEST(I8042Model, CommandByteReadWrite) {
    Fixture f;
    EXPECT_EQ(f.command_reply(0x20), I8042::kCtrDefault);
    f.command(0x60);
    EXPECT_EQ(f.status() & I8042::kStatusLastWasCommand, I8042::kStatusLastWasCommand);
    f.data(0x74);
    EXPECT_EQ(f.kbc.command_byte(), 0x74);
    EXPECT_EQ(f.command_reply(0x20), 0x74);
    EXPECT_EQ(f.status() & I8042::kStatusSystemFlag, I8042::kStatusSystemFlag);
    f.command(0x60);
    f.data(0x00);
    EXPECT_EQ(f.status() & I8042::kStatusSystemFlag, 0);  // the status bit mirrors the command byte
}

TEST(I8042Model, EnableDisableInterfaces) {
    Fixture f;
    f.command(0xad);
    EXPECT_TRUE(f.kbc.command_byte() & I8042::kCtrKeyboardDisabled);
    f.command(0xae);
    EXPECT_FALSE(f.kbc.command_byte() & I8042::kCtrKeyboardDisabled);
    f.command(0xa8);
    EXPECT_FALSE(f.command_reply(0x20) & I8042::kCtrAuxDisabled);
    f.command(0xa7);
    EXPECT_TRUE(f.command_reply(0x20) & I8042::kCtrAuxDisabled);
}

TEST(I8042Model, PulseResetLine) {
    Fixture f;
    f.command(0xfe);
    EXPECT_EQ(f.platform.resets, 1);
    f.command(0xff);  // pulses nothing
    f.command(0xfd);  // pulses bit 1 (A20), not the reset line
    EXPECT_EQ(f.platform.resets, 1);
    f.command(0xf0);
    EXPECT_EQ(f.platform.resets, 2);
    EXPECT_EQ(f.platform.power_offs, 0);
}

TEST(I8042Model, LinuxKbdReboot) {
    // native_machine_emergency_restart, BOOT_KBD: kb_wait() polls for IBF clear, then 0xFE.
    Fixture f;
    for (int i = 0; i < 10; ++i) {
        int spins = 0;
        while ((f.status() & I8042::kStatusInputFull) && spins < 0x10000) ++spins;
        EXPECT_EQ(spins, 0);
        f.command(0xfe);
    }
    EXPECT_EQ(f.platform.resets, 10);
}

TEST(I8042Model, OutputPortWrite) {
    Fixture f;
    const int port = f.command_reply(0xd0);
    EXPECT_EQ(port & 0x03, 0x03);  // reset line inactive, A20 on
    f.command(0xd1);
    f.data(0xdf);
    EXPECT_EQ(f.platform.resets, 0);
    EXPECT_EQ(f.command_reply(0xd0) & 0x03, 0x03);
    f.command(0xd1);
    f.data(0xde);  // bit 0 low: CPU reset
    EXPECT_EQ(f.platform.resets, 1);
}

TEST(I8042Model, AuxLoopbackEchoesAsAuxData) {
    // i8042_check_aux: 0xD3 with 0x5A must come back with the aux-data status bit.
    Fixture f;
    f.command(0xd3);
    f.data(0x5a);
    EXPECT_EQ(f.status() & (I8042::kStatusOutputFull | I8042::kStatusAuxData),
              I8042::kStatusOutputFull | I8042::kStatusAuxData);
    EXPECT_EQ(f.read_data(), 0x5a);
    EXPECT_EQ(f.status() & (I8042::kStatusOutputFull | I8042::kStatusAuxData), 0);
    f.command(0xd2);
    f.data(0x33);
    EXPECT_EQ(f.status() & (I8042::kStatusOutputFull | I8042::kStatusAuxData), I8042::kStatusOutputFull);
    EXPECT_EQ(f.read_data(), 0x33);
}

TEST(I8042Model, InterruptsFollowTheOutputBuffer) {
    // Linux's aux IRQ test: enable aux interrupts, loop a byte, expect IRQ 12.
    Fixture f;
    f.command(0x60);
    f.data(I8042::kCtrKeyboardInterrupt | I8042::kCtrAuxInterrupt | I8042::kCtrSystemFlag);
    f.command(0xd3);
    f.data(0xa5);
    EXPECT_TRUE(f.lines.level[I8042::kAuxIrq]);
    EXPECT_FALSE(f.lines.level[I8042::kKeyboardIrq]);
    EXPECT_EQ(f.read_data(), 0xa5);
    EXPECT_FALSE(f.lines.level[I8042::kAuxIrq]);
    f.command(0xaa);
    EXPECT_TRUE(f.lines.level[I8042::kKeyboardIrq]);
    f.read_data();
    EXPECT_FALSE(f.lines.level[I8042::kKeyboardIrq]);
    // With the interrupt bits clear nothing is signalled.
    f.command(0x60);
    f.data(0);
    f.command(0xaa);
    EXPECT_FALSE(f.lines.level[I8042::kKeyboardIrq]);
}

TEST(I8042Model, AbsentDevicesAnswerWithTimeout) {
    Fixture f;
    f.data(0xf2);  // keyboard GET ID
    EXPECT_EQ(f.status() & (I8042::kStatusOutputFull | I8042::kStatusTimeout | I8042::kStatusAuxData),
              I8042::kStatusOutputFull | I8042::kStatusTimeout);
    EXPECT_EQ(f.read_data(), 0xfe);
    EXPECT_EQ(f.status() & I8042::kStatusTimeout, 0);
    f.command(0xd4);
    f.data(0xff);  // mouse reset
    EXPECT_EQ(f.status() & (I8042::kStatusOutputFull | I8042::kStatusTimeout | I8042::kStatusAuxData),
              I8042::kStatusOutputFull | I8042::kStatusTimeout | I8042::kStatusAuxData);
    EXPECT_EQ(f.read_data(), 0xfe);
}

TEST(I8042Model, UnknownCommandsAreHarmless) {
    Fixture f;
    for (u32 cmd = 0; cmd < 0xf0; ++cmd) {
        if (cmd >= 0x20 && cmd < 0x80) continue;  // RAM accesses, tested above
        f.command(u8(cmd));
        f.read_data();
    }
    EXPECT_EQ(f.platform.resets, 0);
    EXPECT_EQ(f.status() & I8042::kStatusOutputFull, 0);
}

TEST(I8042Model, ReadingAnEmptyBufferRepeatsTheLastByte) {
    Fixture f;
    EXPECT_EQ(f.command_reply(0xaa), 0x55);
    EXPECT_EQ(f.read_data(), 0x55);
    EXPECT_EQ(f.status() & I8042::kStatusOutputFull, 0);
}

TEST(I8042Model, ControllerRam) {
    Fixture f;
    f.command(0x65);
    f.data(0x99);
    EXPECT_EQ(f.command_reply(0x25), 0x99);
    f.kbc.reset();
    EXPECT_EQ(f.command_reply(0x25), 0x00);
    EXPECT_EQ(f.command_reply(0x20), I8042::kCtrDefault);
}

TEST(I8042Model, WideAccessesAndOtherPorts) {
    Fixture f;
    EXPECT_EQ(f.kbc.port_read(kCmd, 2) & 0xff00u, 0xff00u);
    EXPECT_EQ(f.kbc.port_read(0x61, 1), 0xffu);
    f.kbc.port_write(0x61, 1, 0xfe);
    EXPECT_EQ(f.platform.resets, 0);
    f.kbc.port_write(kCmd, 4, 0xfffffffe);  // the low byte is the command
    EXPECT_EQ(f.platform.resets, 1);
}

}  // namespace
