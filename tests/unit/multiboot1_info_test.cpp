#include "kernel/vm/multiboot1_info.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Reads the structure the way a Multiboot 0.6.96 kernel does (spec section 3.3): fixed
// offsets in the information block, and every address guest-physical.
constexpr u32 kFlagMem = 1u << 0, kFlagBootDevice = 1u << 1, kFlagCmdline = 1u << 2, kFlagMods = 1u << 3,
              kFlagAout = 1u << 4, kFlagElf = 1u << 5, kFlagMmap = 1u << 6, kFlagDrives = 1u << 7,
              kFlagConfig = 1u << 8, kFlagLoaderName = 1u << 9, kFlagApm = 1u << 10, kFlagVbe = 1u << 11;

constexpr u32 kTypeAvailable = 1;

struct MmapRegion {
    u64 base, length;
    u32 type;
};

struct Module {
    u32 start, end;
    std::string cmdline;
    u32 reserved;
};

class GuestView {
public:
    GuestView(const std::vector<u8>& bytes, u32 base, usize used) : bytes_(bytes), base_(base), used_(used) {}

    u32 u32_at(u32 guest_physical) const {
        const usize off = offset(guest_physical, 4);
        u32 v;
        memcpy(&v, bytes_.data() + off, 4);
        return v;
    }
    u64 u64_at(u32 guest_physical) const {
        const usize off = offset(guest_physical, 8);
        u64 v;
        memcpy(&v, bytes_.data() + off, 8);
        return v;
    }
    std::string string_at(u32 guest_physical) const {
        const usize off = offset(guest_physical, 1);
        const u8* end = static_cast<const u8*>(memchr(bytes_.data() + off, 0, used_ - off));
        EXPECT_NE(end, nullptr) << "string at " << std::hex << guest_physical << " not terminated inside the block";
        if (!end) return {};
        return std::string(reinterpret_cast<const char*>(bytes_.data() + off), usize(end - (bytes_.data() + off)));
    }
    u32 field(u32 offset_in_info) const { return u32_at(base_ + offset_in_info); }

private:
    // Every pointer must land inside the bytes the builder said it used.
    usize offset(u32 guest_physical, usize size) const {
        EXPECT_GE(guest_physical, base_);
        const usize off = guest_physical - base_;
        EXPECT_LE(off + size, used_) << "address " << std::hex << guest_physical << " outside the block";
        return off + size <= used_ ? off : 0;
    }
    const std::vector<u8>& bytes_;
    u32 base_;
    usize used_;
};

std::vector<MmapRegion> read_mmap(const GuestView& v) {
    const u32 length = v.field(44);
    const u32 addr = v.field(48);
    std::vector<MmapRegion> regions;
    u32 at = addr;
    while (at < addr + length) {
        const u32 size = v.u32_at(at);  // excludes the size field itself
        EXPECT_GE(size, 20u);
        regions.push_back({v.u64_at(at + 4), v.u64_at(at + 12), v.u32_at(at + 20)});
        at += size + 4;
        if (regions.size() > 64) break;
    }
    EXPECT_EQ(at, addr + length) << "entries must tile mmap_length exactly";
    return regions;
}

std::vector<Module> read_modules(const GuestView& v) {
    std::vector<Module> modules;
    const u32 count = v.field(20);
    const u32 addr = v.field(24);
    for (u32 i = 0; i < count && i < 64; ++i) {
        const u32 e = addr + 16 * i;
        modules.push_back({v.u32_at(e), v.u32_at(e + 4), v.string_at(v.u32_at(e + 8)), v.u32_at(e + 12)});
    }
    return modules;
}

// True when [base, base + length) is covered by available regions.
bool available(const std::vector<MmapRegion>& regions, u64 base, u64 length) {
    u64 at = base;
    bool progress = true;
    while (at < base + length && progress) {
        progress = false;
        for (const MmapRegion& r : regions)
            if (r.type == kTypeAvailable && r.base <= at && at < r.base + r.length) {
                at = r.base + r.length;
                progress = true;
            }
    }
    return at >= base + length;
}

bool any_available_in(const std::vector<MmapRegion>& regions, u64 base, u64 length) {
    for (const MmapRegion& r : regions)
        if (r.type == kTypeAvailable && r.length && r.base < base + length && base < r.base + r.length) return true;
    return false;
}

struct Built {
    std::vector<u8> bytes;
    usize used;
};

Built build(const Multiboot1Layout& layout, u32 base, usize buffer_size = 4096) {
    Built b{std::vector<u8>(buffer_size, 0xcc), 0};
    b.used = build_multiboot1_info(layout, base, b.bytes.data(), b.bytes.size());
    return b;
}

const Multiboot1Module kModules[] = {
    {0x400000, 0x401000, "initrd.img"},
    {0x500000, 0x500801, "second module with args"},
    {0x600000, 0x600000, ""},
};

Multiboot1Layout typical_layout() { return {64 * MiB, "console=ttyS0 root=/dev/ram0", kModules, 3}; }

TEST(Multiboot1Info, FlagsSayWhichFieldsAreValid) {
    const Built b = build(typical_layout(), 0x9000);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, 0x9000, b.used);
    const u32 flags = v.field(0);
    EXPECT_TRUE(flags & kFlagMem);
    EXPECT_TRUE(flags & kFlagCmdline);
    EXPECT_TRUE(flags & kFlagMods);
    EXPECT_TRUE(flags & kFlagMmap);
    EXPECT_TRUE(flags & kFlagLoaderName);
    // Nothing Vireo does not fill in; bits 4 and 5 are mutually exclusive anyway.
    EXPECT_FALSE(flags & (kFlagBootDevice | kFlagAout | kFlagElf | kFlagDrives | kFlagConfig | kFlagApm | kFlagVbe));
    EXPECT_EQ(flags >> 12, 0u);
    // The fixed part runs through the VBE fields: 88 bytes.
    EXPECT_GE(b.used, 88u);
}

TEST(Multiboot1Info, MemorySizesMatchTheMemoryMap) {
    const Built b = build(typical_layout(), 0x9000);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, 0x9000, b.used);
    const u32 mem_lower = v.field(4), mem_upper = v.field(8);
    // Lower memory starts at 0 and is at most 640 KiB; upper memory starts at 1 MiB and
    // runs to the end of the domain's RAM.
    EXPECT_GT(mem_lower, 0u);
    EXPECT_LE(mem_lower, 640u);
    EXPECT_EQ(mem_upper, (64u * 1024) - 1024);

    const std::vector<MmapRegion> mmap = read_mmap(v);
    EXPECT_TRUE(available(mmap, 0, u64(mem_lower) * 1024));
    EXPECT_TRUE(available(mmap, 1 * MiB, u64(mem_upper) * 1024));
    EXPECT_TRUE(available(mmap, 1 * MiB, 63 * MiB));
    // The VGA hole and the BIOS area are not RAM, nor is anything past the domain's memory.
    EXPECT_FALSE(any_available_in(mmap, 0xa0000, 0x60000));
    EXPECT_FALSE(any_available_in(mmap, 64 * MiB, ~0ull - 64 * MiB));
    EXPECT_FALSE(any_available_in(mmap, u64(mem_lower) * 1024, 0xa0000 - u64(mem_lower) * 1024));
}

TEST(Multiboot1Info, MemoryMapEntriesAreWellFormed) {
    const Built b = build(typical_layout(), 0x9000);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, 0x9000, b.used);
    const std::vector<MmapRegion> mmap = read_mmap(v);
    ASSERT_FALSE(mmap.empty());
    EXPECT_EQ(v.field(44) % 4, 0u);
    for (usize i = 0; i < mmap.size(); ++i) {
        EXPECT_NE(mmap[i].type, 0u) << i;
        EXPECT_GT(mmap[i].length, 0u) << i;
        if (i > 0) EXPECT_GE(mmap[i].base, mmap[i - 1].base + mmap[i - 1].length) << "sorted, no overlap at " << i;
    }
    // The first entry's size field: 20 for base, length and type.
    EXPECT_EQ(v.u32_at(v.field(48)), 20u);
}

TEST(Multiboot1Info, LargeDomainsUse64BitLengths) {
    Multiboot1Layout layout = typical_layout();
    layout.memory_bytes = 8 * GiB;
    const Built b = build(layout, 0x9000);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, 0x9000, b.used);
    EXPECT_EQ(v.field(8), u32((8 * GiB - MiB) / KiB));
    const std::vector<MmapRegion> mmap = read_mmap(v);
    EXPECT_TRUE(available(mmap, 1 * MiB, 8 * GiB - MiB));
    EXPECT_FALSE(any_available_in(mmap, 8 * GiB, 1 * GiB));

    // The smallest domain (2 MiB) has 1 MiB of upper memory.
    layout.memory_bytes = 2 * MiB;
    const Built small = build(layout, 0x9000);
    ASSERT_NE(small.used, 0u);
    const GuestView sv(small.bytes, 0x9000, small.used);
    EXPECT_EQ(sv.field(8), 1024u);
    const std::vector<MmapRegion> small_mmap = read_mmap(sv);
    EXPECT_TRUE(available(small_mmap, 1 * MiB, 1 * MiB));
    EXPECT_FALSE(any_available_in(small_mmap, 2 * MiB, 1 * GiB));
}

TEST(Multiboot1Info, CommandLineAndBootLoaderName) {
    const u32 base = 0x7000;
    const Built b = build(typical_layout(), base);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, base, b.used);
    EXPECT_EQ(v.string_at(v.field(16)), "console=ttyS0 root=/dev/ram0");
    EXPECT_EQ(v.string_at(v.field(64)), "Vireo");
    // Guest-physical: the pointers include the base.
    EXPECT_GE(v.field(16), base + 88);
    EXPECT_GE(v.field(64), base + 88);
}

TEST(Multiboot1Info, MissingCommandLineIsEmpty) {
    Multiboot1Layout layout = typical_layout();
    layout.cmdline = nullptr;
    const Built b = build(layout, 0x9000);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, 0x9000, b.used);
    if (v.field(0) & kFlagCmdline) EXPECT_EQ(v.string_at(v.field(16)), "");
}

TEST(Multiboot1Info, ModulesAreSixteenByteEntries) {
    const u32 base = 0x9000;
    const Built b = build(typical_layout(), base);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, base, b.used);
    EXPECT_EQ(v.field(20), 3u);
    EXPECT_GE(v.field(24), base + 88);
    EXPECT_EQ(v.field(24) % 4, 0u);
    const std::vector<Module> modules = read_modules(v);
    ASSERT_EQ(modules.size(), 3u);
    EXPECT_EQ(modules[0].start, 0x400000u);
    EXPECT_EQ(modules[0].end, 0x401000u);
    EXPECT_EQ(modules[0].cmdline, "initrd.img");
    EXPECT_EQ(modules[1].start, 0x500000u);
    EXPECT_EQ(modules[1].end, 0x500801u);
    EXPECT_EQ(modules[1].cmdline, "second module with args");
    EXPECT_EQ(modules[2].start, 0x600000u);
    EXPECT_EQ(modules[2].end, 0x600000u);
    EXPECT_EQ(modules[2].cmdline, "");
    for (const Module& m : modules) EXPECT_EQ(m.reserved, 0u);
}

TEST(Multiboot1Info, NoModules) {
    const Multiboot1Layout layout{16 * MiB, "x", nullptr, 0};
    const Built b = build(layout, 0x9000);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, 0x9000, b.used);
    EXPECT_EQ(v.field(20), 0u);
    EXPECT_TRUE(read_modules(v).empty());
    EXPECT_EQ(v.string_at(v.field(16)), "x");
    EXPECT_EQ(v.field(8), 15u * 1024);
}

TEST(Multiboot1Info, StructuresDoNotOverlap) {
    const u32 base = 0x10000;
    const Built b = build(typical_layout(), base);
    ASSERT_NE(b.used, 0u);
    const GuestView v(b.bytes, base, b.used);
    struct Span {
        u32 first, end;
        const char* what;
    };
    std::vector<Span> spans = {{base, base + 88, "info"},
                               {v.field(48), v.field(48) + v.field(44), "mmap"},
                               {v.field(24), v.field(24) + 16 * v.field(20), "modules"}};
    auto add_string = [&](u32 address, const char* what) {
        spans.push_back({address, address + u32(v.string_at(address).size()) + 1, what});
    };
    add_string(v.field(16), "cmdline");
    add_string(v.field(64), "loader name");
    for (u32 i = 0; i < v.field(20); ++i) add_string(v.u32_at(v.field(24) + 16 * i + 8), "module string");
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& c) { return a.first < c.first; });
    for (usize i = 1; i < spans.size(); ++i)
        EXPECT_LE(spans[i - 1].end, spans[i].first) << spans[i - 1].what << " overlaps " << spans[i].what;
    EXPECT_LE(spans.back().end, base + b.used);
}

TEST(Multiboot1Info, BufferTooSmallReturnsZeroAndWritesNothing) {
    const Built fits = build(typical_layout(), 0x9000);
    ASSERT_NE(fits.used, 0u);
    // Exactly the size it reported is enough (a heap buffer of that size, so ASan
    // catches any write past it)...
    std::vector<u8> exact(fits.used, 0xcc);
    EXPECT_EQ(build_multiboot1_info(typical_layout(), 0x9000, exact.data(), exact.size()), fits.used);
    EXPECT_EQ(exact, std::vector<u8>(fits.bytes.begin(), fits.bytes.begin() + fits.used));
    // ...and one byte less is not.
    std::vector<u8> short_buffer(fits.used - 1, 0xcc);
    EXPECT_EQ(build_multiboot1_info(typical_layout(), 0x9000, short_buffer.data(), short_buffer.size()), 0u);
    EXPECT_EQ(short_buffer, std::vector<u8>(fits.used - 1, 0xcc));
    std::vector<u8> tiny(88, 0xcc);
    EXPECT_EQ(build_multiboot1_info(typical_layout(), 0x9000, tiny.data(), tiny.size()), 0u);
    EXPECT_EQ(build_multiboot1_info(typical_layout(), 0x9000, tiny.data(), 0), 0u);
    // Nothing past the reported size was touched.
    for (usize i = fits.used; i < fits.bytes.size(); ++i) ASSERT_EQ(fits.bytes[i], 0xcc) << i;
}

TEST(Multiboot1Info, BlockMustLieBelowFourGigabytes) {
    const Built low = build(typical_layout(), 0x9000);
    ASSERT_NE(low.used, 0u);
    const u64 size = low.used;
    EXPECT_EQ(build(typical_layout(), 0xffffffffu).used, 0u);
    EXPECT_EQ(build(typical_layout(), u32(0x100000000ull - size / 2)).used, 0u);
    EXPECT_EQ(build(typical_layout(), u32(0x100000000ull - size + 1)).used, 0u);

    // High but fitting: every pointer is still right.
    const u32 base = u32(0x100000000ull - 2 * size) & ~15u;
    const Built high = build(typical_layout(), base);
    ASSERT_EQ(high.used, size);
    const GuestView v(high.bytes, base, high.used);
    EXPECT_EQ(v.string_at(v.field(16)), "console=ttyS0 root=/dev/ram0");
    EXPECT_EQ(read_modules(v).at(1).cmdline, "second module with args");
    EXPECT_EQ(read_mmap(v).size(), read_mmap(GuestView(low.bytes, 0x9000, low.used)).size());
}

TEST(Multiboot1Info, SameContentAtAnyBase) {
    const Built a = build(typical_layout(), 0x9000);
    const Built c = build(typical_layout(), 0x200000);
    ASSERT_EQ(a.used, c.used);
    const GuestView va(a.bytes, 0x9000, a.used), vc(c.bytes, 0x200000, c.used);
    for (u32 offset : {16u, 24u, 48u, 64u}) EXPECT_EQ(va.field(offset) - 0x9000, vc.field(offset) - 0x200000);
    for (u32 offset : {0u, 4u, 8u, 20u, 44u}) EXPECT_EQ(va.field(offset), vc.field(offset));
}

}  // namespace
