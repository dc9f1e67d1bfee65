// Guest memory as the emulator sees it: the page walk, then RAM or the MMIO sink, with
// page-crossing accesses translated as a whole before anything moves.
#include "kernel/vm/emulator_guest_memory.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel/vcpu/vcpu.hpp"
#include "kernel/vm/devices/test_mmio_device.hpp"
#include "kernel/vm/mmio_bus.hpp"

namespace {

constexpr u64 kRamSize = 8 * 1024 * 1024;

class FlatRam final : public GuestPhysicalMemory {
public:
    FlatRam() : bytes(kRamSize) {}
    bool read(u64 gpa, void* dst, usize len) override {
        if (gpa >= kRamSize || len > kRamSize - gpa) return false;
        memcpy(dst, &bytes[gpa], len);
        return true;
    }
    bool write(u64 gpa, const void* src, usize len) override {
        if (gpa >= kRamSize || len > kRamSize - gpa) return false;
        memcpy(&bytes[gpa], src, len);
        return true;
    }
    bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) override {
        u64 current = 0;
        if (!read(gpa, &current, size)) return false;
        exchanged = current == expected;
        if (exchanged) write(gpa, &desired, size);
        return true;
    }
    std::vector<u8> bytes;
};

struct Access {
    u64 gpa;
    u8 size;
    bool write;
    u64 value;
};

// Device space from 0xfe000000: records every access; reads return a pattern.
class RecordingMmio final : public GuestMmioSink {
public:
    bool mmio_read(u64 gpa, u8 size, u64& value) override {
        if (gpa < kBase) return false;
        value = 0x1122334455667788ull;
        accesses.push_back({gpa, size, false, 0});
        return true;
    }
    bool mmio_write(u64 gpa, u8 size, u64 value) override {
        if (gpa < kBase) return false;
        accesses.push_back({gpa, size, true, value});
        return true;
    }
    static constexpr u64 kBase = 0xfe000000;
    std::vector<Access> accesses;
};

GuestPagingState no_paging() {
    GuestPagingState s;
    s.cr0 = 1;  // PE
    return s;
}

// 32-bit paging with 4 MiB pages (CR4.PSE): linear 0 .. 8 MiB identity, linear
// 0x00800000 maps the MMIO page (read-only), 0x00c00000 is not present.
GuestPagingState paging_with_pse(FlatRam& ram) {
    constexpr u64 kDirectory = 0x1000;
    const u32 pdes[4] = {0x00000000u | 0x87, 0x00400000u | 0x87, 0xfe000000u | 0x85, 0};
    memcpy(&ram.bytes[kDirectory], pdes, sizeof(pdes));
    GuestPagingState s;
    s.cr0 = 0x80010001ull;  // PG | WP | PE
    s.cr3 = kDirectory;
    s.cr4 = 1ull << 4;  // PSE
    return s;
}

TEST(EmulatorGuestMemory, RamReadAndWriteWithoutPaging) {
    FlatRam ram;
    RecordingMmio mmio;
    const u32 value = 0xdeadbeef;
    ASSERT_EQ(emulator_write_linear(ram, no_paging(), mmio, 0x2000, &value, 4, {}).status, MemoryStatus::Ok);
    u32 back = 0;
    ASSERT_EQ(emulator_read_linear(ram, no_paging(), mmio, 0x2000, &back, 4, {}).status, MemoryStatus::Ok);
    EXPECT_EQ(back, value);
    EXPECT_TRUE(mmio.accesses.empty());
}

TEST(EmulatorGuestMemory, MmioAccessesAreSplitIntoAlignedPiecesOfAtMostEightBytes) {
    FlatRam ram;
    RecordingMmio mmio;
    u8 data[16];
    for (u8 i = 0; i < 16; ++i) data[i] = u8(i + 1);
    ASSERT_EQ(emulator_write_linear(ram, no_paging(), mmio, 0xfe000010, data, 16, {}).status, MemoryStatus::Ok);
    ASSERT_EQ(mmio.accesses.size(), 2u);
    EXPECT_EQ(mmio.accesses[0].gpa, 0xfe000010u);
    EXPECT_EQ(mmio.accesses[0].size, 8);
    EXPECT_EQ(mmio.accesses[0].value, 0x0807060504030201ull);
    EXPECT_EQ(mmio.accesses[1].gpa, 0xfe000018u);
    EXPECT_EQ(mmio.accesses[1].size, 8);

    mmio.accesses.clear();
    u32 value = 0;
    ASSERT_EQ(emulator_read_linear(ram, no_paging(), mmio, 0xfe000004, &value, 4, {}).status, MemoryStatus::Ok);
    ASSERT_EQ(mmio.accesses.size(), 1u);
    EXPECT_EQ(mmio.accesses[0].size, 4);
    EXPECT_EQ(value, 0x55667788u);

    // Misaligned: 4 bytes at offset 2 become two naturally aligned 2-byte accesses.
    mmio.accesses.clear();
    ASSERT_EQ(emulator_read_linear(ram, no_paging(), mmio, 0xfe000002, &value, 4, {}).status, MemoryStatus::Ok);
    ASSERT_EQ(mmio.accesses.size(), 2u);
    EXPECT_EQ(mmio.accesses[0].gpa, 0xfe000002u);
    EXPECT_EQ(mmio.accesses[0].size, 2);
    EXPECT_EQ(mmio.accesses[1].gpa, 0xfe000004u);
    EXPECT_EQ(mmio.accesses[1].size, 2);
}

TEST(EmulatorGuestMemory, NeitherRamNorDeviceIsUnhandlable) {
    FlatRam ram;
    RecordingMmio mmio;
    u32 value = 0;
    const MemoryOutcome out = emulator_read_linear(ram, no_paging(), mmio, 0x40000000, &value, 4, {});
    EXPECT_EQ(out.status, MemoryStatus::Unhandlable);
    EXPECT_NE(out.reason, nullptr);
}

TEST(EmulatorGuestMemory, TooWideIsUnhandlable) {
    FlatRam ram;
    RecordingMmio mmio;
    u8 data[32] = {};
    EXPECT_EQ(emulator_read_linear(ram, no_paging(), mmio, 0x2000, data, 17, {}).status, MemoryStatus::Unhandlable);
}

TEST(EmulatorGuestMemory, PagedMmioThroughTheGuestTables) {
    FlatRam ram;
    RecordingMmio mmio;
    const GuestPagingState paging = paging_with_pse(ram);
    u16 value = 0;
    ASSERT_EQ(emulator_read_linear(ram, paging, mmio, 0x00800020, &value, 2, {}).status, MemoryStatus::Ok);
    ASSERT_EQ(mmio.accesses.size(), 1u);
    EXPECT_EQ(mmio.accesses[0].gpa, 0xfe000020u);
    EXPECT_EQ(value, 0x7788);
}

TEST(EmulatorGuestMemory, WriteToReadOnlyPageIsAPageFaultWithErrorCodeAndCr2) {
    FlatRam ram;
    RecordingMmio mmio;
    const GuestPagingState paging = paging_with_pse(ram);
    const u32 value = 1;
    const MemoryOutcome out = emulator_write_linear(ram, paging, mmio, 0x00800040, &value, 4, {});
    ASSERT_EQ(out.status, MemoryStatus::Exception);
    EXPECT_EQ(out.exception.vector, kVectorPf);
    EXPECT_TRUE(out.exception.has_error_code);
    EXPECT_EQ(out.exception.error_code, kPfPresent | kPfWrite);
    EXPECT_EQ(out.exception.cr2, 0x00800040u);
    EXPECT_TRUE(mmio.accesses.empty());
}

TEST(EmulatorGuestMemory, PageCrossingFaultMovesNothing) {
    FlatRam ram;
    RecordingMmio mmio;
    const GuestPagingState paging = paging_with_pse(ram);
    // The last 2 bytes of the present 4 MiB page at 0x00800000 and 2 of the absent one.
    u32 value = 0;
    const MemoryOutcome out = emulator_read_linear(ram, paging, mmio, 0x00bffffe, &value, 4, {});
    ASSERT_EQ(out.status, MemoryStatus::Exception);
    EXPECT_EQ(out.exception.vector, kVectorPf);
    EXPECT_EQ(out.exception.error_code, 0u);    // a read of a not-present page
    EXPECT_EQ(out.exception.cr2, 0x00c00000u);  // the first byte in the faulting page
    EXPECT_TRUE(mmio.accesses.empty());
}

TEST(EmulatorGuestMemory, PageCrossingFromRamIntoMmio) {
    FlatRam ram;
    RecordingMmio mmio;
    const GuestPagingState paging = paging_with_pse(ram);
    u32 value = 0;
    ASSERT_EQ(emulator_read_linear(ram, paging, mmio, 0x007ffffe, &value, 4, {}).status, MemoryStatus::Ok);
    // Two bytes of RAM (zero), then one 2-byte device read at the start of the MMIO page.
    ASSERT_EQ(mmio.accesses.size(), 1u);
    EXPECT_EQ(mmio.accesses[0].gpa, 0xfe000000u);
    EXPECT_EQ(mmio.accesses[0].size, 2);
    EXPECT_EQ(value, 0x77880000u);
}

TEST(MmioBus, ClaimsDoNotOverlapAndLookupFindsTheRange) {
    MmioBus bus;
    TestMmioDevice a, b;
    EXPECT_TRUE(bus.claim(0xfe000000, 0x1000, &a));
    EXPECT_FALSE(bus.claim(0xfe000800, 0x1000, &b));
    EXPECT_FALSE(bus.claim(0xfdfff000, 0x1001, &b));
    EXPECT_FALSE(bus.claim(0xfffffffffffff000ull, 0x2000, &b));  // wraps
    EXPECT_FALSE(bus.claim(0x1000, 0, &b));
    EXPECT_TRUE(bus.claim(0xfe001000, 0x1000, &b));
    ASSERT_NE(bus.range_at(0xfe000fff), nullptr);
    EXPECT_EQ(bus.range_at(0xfe000fff)->device, &a);
    EXPECT_EQ(bus.range_at(0xfe001000)->device, &b);
    EXPECT_EQ(bus.range_at(0xfe002000), nullptr);
    EXPECT_TRUE(bus.range_at(0xfe000ffc)->mmio_fits(0xfe000ffc, 4));
    EXPECT_FALSE(bus.range_at(0xfe000ffc)->mmio_fits(0xfe000ffc, 8));
}

TEST(TestMmioDevice, ScratchRemembersBytesAndTheLastAccess) {
    TestMmioDevice device;
    Vcpu vcpu;
    device.mmio_write(vcpu, 0x10, 4, 0xcafef00d);
    EXPECT_EQ(device.mmio_read(vcpu, 0x12, 2), 0xcafeu);
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kAccessCount, 8), 2u);
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kLastAccess, 8), 0x12u | 2u << 16);
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kLastWriteValue, 8), 0xcafef00du);
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kId, 4), TestMmioDevice::kIdValue);
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kReadCounter, 4), 1u);
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kReadCounter, 4), 2u);
    EXPECT_EQ(device.mmio_read(vcpu, 0xff0, 4), ~0ull);
    device.mmio_write(vcpu, 0x7fe, 4, 1);  // crosses the end of the scratch area: ignored
    EXPECT_EQ(device.mmio_read(vcpu, TestMmioDevice::kAccessCount, 8), 2u);
}

}  // namespace
