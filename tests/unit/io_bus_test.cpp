#include "kernel/vm/io_bus.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace {

// Device models are only compared by identity here; the bus never calls them.
class InertDevice final : public IoDevice {
public:
    u32 io_read(Vcpu&, u16, u8) override {
        ADD_FAILURE() << "the bus itself called a device";
        return 0;
    }
    void io_write(Vcpu&, u16, u8, u32) override { ADD_FAILURE() << "the bus itself called a device"; }
};

TEST(IoBus, EmptyBusHasNoDevices) {
    auto bus = std::make_unique<IoBus>();
    EXPECT_EQ(bus->device_at(0), nullptr);
    EXPECT_EQ(bus->device_at(0x3f8), nullptr);
    EXPECT_EQ(bus->device_at(0xffff), nullptr);
}

TEST(IoBus, LookupsAtRangeEnds) {
    auto bus = std::make_unique<IoBus>();
    InertDevice uart, exit_port;
    ASSERT_TRUE(bus->claim(0x3f8, 0x3ff, &uart));
    ASSERT_TRUE(bus->claim(0xf4, 0xf4, &exit_port));
    EXPECT_EQ(bus->device_at(0x3f7), nullptr);
    EXPECT_EQ(bus->device_at(0x3f8), &uart);
    EXPECT_EQ(bus->device_at(0x3fc), &uart);
    EXPECT_EQ(bus->device_at(0x3ff), &uart);
    EXPECT_EQ(bus->device_at(0x400), nullptr);
    EXPECT_EQ(bus->device_at(0xf3), nullptr);
    EXPECT_EQ(bus->device_at(0xf4), &exit_port);
    EXPECT_EQ(bus->device_at(0xf5), nullptr);
}

// The bus looks at the range of its last hit first: runs to one device, switches between
// devices, misses and ranges claimed after a lookup all still find the right device.
TEST(IoBus, LastHitNeverAnswersForAnotherPort) {
    auto bus = std::make_unique<IoBus>();
    InertDevice uart, pic, late;
    ASSERT_TRUE(bus->claim(0x20, 0x21, &pic));
    ASSERT_TRUE(bus->claim(0x3f8, 0x3ff, &uart));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(bus->device_at(0x3f8), &uart);
        EXPECT_EQ(bus->device_at(0x3fd), &uart);
    }
    EXPECT_EQ(bus->device_at(0x21), &pic);
    EXPECT_EQ(bus->device_at(0x3fd), &uart);
    EXPECT_EQ(bus->device_at(0x3f7), nullptr);
    EXPECT_EQ(bus->device_at(0x80), nullptr);
    ASSERT_TRUE(bus->claim(0x80, 0x80, &late));
    EXPECT_EQ(bus->device_at(0x80), &late);
    EXPECT_EQ(bus->device_at(0x20), &pic);
}

TEST(IoBus, PortSpaceEnds) {
    auto bus = std::make_unique<IoBus>();
    InertDevice low, high;
    ASSERT_TRUE(bus->claim(0, 0, &low));
    ASSERT_TRUE(bus->claim(0xfff0, 0xffff, &high));
    EXPECT_EQ(bus->device_at(0), &low);
    EXPECT_EQ(bus->device_at(1), nullptr);
    EXPECT_EQ(bus->device_at(0xffef), nullptr);
    EXPECT_EQ(bus->device_at(0xfff0), &high);
    EXPECT_EQ(bus->device_at(0xffff), &high);

    auto whole = std::make_unique<IoBus>();
    InertDevice everything;
    ASSERT_TRUE(whole->claim(0, 0xffff, &everything));
    EXPECT_EQ(whole->device_at(0), &everything);
    EXPECT_EQ(whole->device_at(0x8000), &everything);
    EXPECT_EQ(whole->device_at(0xffff), &everything);
    EXPECT_FALSE(whole->claim(0x80, 0x80, &low));
}

TEST(IoBus, OverlapsAreRejected) {
    auto bus = std::make_unique<IoBus>();
    InertDevice uart, other;
    ASSERT_TRUE(bus->claim(0x3f8, 0x3ff, &uart));
    EXPECT_FALSE(bus->claim(0x3f8, 0x3ff, &other));  // the same range
    EXPECT_FALSE(bus->claim(0x3f0, 0x3f8, &other));  // touches the first port
    EXPECT_FALSE(bus->claim(0x3ff, 0x407, &other));  // touches the last port
    EXPECT_FALSE(bus->claim(0x3fa, 0x3fb, &other));  // inside
    EXPECT_FALSE(bus->claim(0x3f0, 0x40f, &other));  // around
    EXPECT_FALSE(bus->claim(0x3fc, 0x3fc, &other));
    EXPECT_FALSE(bus->claim(0, 0xffff, &other));
    // A rejected claim changes nothing.
    for (u16 port = 0x3f0; port < 0x410; ++port)
        EXPECT_EQ(bus->device_at(port), port >= 0x3f8 && port <= 0x3ff ? &uart : nullptr) << std::hex << port;
    // Adjacent ranges are fine.
    EXPECT_TRUE(bus->claim(0x3f0, 0x3f7, &other));
    EXPECT_TRUE(bus->claim(0x400, 0x400, &other));
    EXPECT_EQ(bus->device_at(0x3f7), &other);
    EXPECT_EQ(bus->device_at(0x3f8), &uart);
    EXPECT_EQ(bus->device_at(0x3ff), &uart);
    EXPECT_EQ(bus->device_at(0x400), &other);
}

TEST(IoBus, BackwardsRangeIsRejected) {
    auto bus = std::make_unique<IoBus>();
    InertDevice d;
    EXPECT_FALSE(bus->claim(0x3ff, 0x3f8, &d));
    EXPECT_FALSE(bus->claim(0xffff, 0, &d));
    EXPECT_EQ(bus->device_at(0x3f8), nullptr);
    EXPECT_EQ(bus->device_at(0x3ff), nullptr);
    EXPECT_EQ(bus->device_at(0), nullptr);
    // And does not use up a slot.
    for (usize i = 0; i < IoBus::kMaxRanges; ++i) EXPECT_TRUE(bus->claim(u16(i * 2), u16(i * 2), &d)) << i;
}

TEST(IoBus, TableLimit) {
    auto bus = std::make_unique<IoBus>();
    InertDevice devices[IoBus::kMaxRanges + 1];
    ASSERT_EQ(IoBus::kMaxRanges, 32u);
    for (usize i = 0; i < IoBus::kMaxRanges; ++i)
        ASSERT_TRUE(bus->claim(u16(0x100 + 0x10 * i), u16(0x100 + 0x10 * i + 7), &devices[i])) << i;
    // The 33rd range does not fit, even though it overlaps nothing.
    EXPECT_FALSE(bus->claim(0x8000, 0x8007, &devices[IoBus::kMaxRanges]));
    EXPECT_EQ(bus->device_at(0x8000), nullptr);
    // Every claimed range still answers, at both ends.
    for (usize i = 0; i < IoBus::kMaxRanges; ++i) {
        EXPECT_EQ(bus->device_at(u16(0x100 + 0x10 * i)), &devices[i]) << i;
        EXPECT_EQ(bus->device_at(u16(0x100 + 0x10 * i + 7)), &devices[i]) << i;
        EXPECT_EQ(bus->device_at(u16(0x100 + 0x10 * i + 8)), nullptr) << i;
    }
}

TEST(IoBus, FirstUnclaimedAccessIsReportedOncePerPort) {
    using Note = IoBus::PortNote;
    auto bus = std::make_unique<IoBus>();
    EXPECT_EQ(bus->note_unclaimed_access(0x80), Note::Log);
    EXPECT_EQ(bus->note_unclaimed_access(0x80), Note::Silent);
    EXPECT_EQ(bus->note_unclaimed_access(0x80), Note::Silent);
    // Neighbours, including those that share a word of the bitmap, are separate.
    for (u16 port : {u16(0x7f), u16(0x81), u16(0xc0), u16(0), u16(63), u16(64), u16(0x100), u16(0xffff), u16(0xffc0)}) {
        EXPECT_EQ(bus->note_unclaimed_access(port), Note::Log) << std::hex << port;
        EXPECT_EQ(bus->note_unclaimed_access(port), Note::Silent) << std::hex << port;
    }
}

// A guest sweeping every port gets kMaxLoggedPorts lines and one more saying so: a flood
// of 65,536 would hold the console (and its CPU) for minutes.
TEST(IoBus, AFewPortsAreReportedThenOneLastLine) {
    using Note = IoBus::PortNote;
    auto bus = std::make_unique<IoBus>();
    u32 logged = 0, last = 0;
    for (u32 port = 0; port <= 0xffff; ++port) {
        const Note note = bus->note_unclaimed_access(u16(port));
        logged += note == Note::Log;
        last += note == Note::LogLast;
    }
    for (u32 port = 0; port <= 0xffff; port += 7) EXPECT_EQ(bus->note_unclaimed_access(u16(port)), Note::Silent);
    EXPECT_EQ(logged, IoBus::kMaxLoggedPorts);
    EXPECT_EQ(last, 1u);
    // A separate bus (another domain) keeps its own record.
    auto other = std::make_unique<IoBus>();
    EXPECT_EQ(other->note_unclaimed_access(0x80), Note::Log);
}

}  // namespace
