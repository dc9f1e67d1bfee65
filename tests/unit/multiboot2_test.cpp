// Multiboot2 boot information parser: well-formed structures as GRUB builds them, and
// every kind of malformed one, built byte by byte.
#include "boot/multiboot2.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr u32 kTagCmdline = 1;
constexpr u32 kTagBootloaderName = 2;
constexpr u32 kTagModule = 3;
constexpr u32 kTagBasicMeminfo = 4;
constexpr u32 kTagMemoryMap = 6;
constexpr u32 kTagFramebuffer = 8;
constexpr u32 kTagAcpiOld = 14;
constexpr u32 kTagAcpiNew = 15;
constexpr u64 kInfoPhys = 0x10000;

struct MmapEntry {
    u64 base;
    u64 length;
    u32 type;
};

// Assembles a boot information structure the way the spec lays it out: total_size,
// reserved, then tags padded to 8 bytes.
class InfoBuilder {
public:
    InfoBuilder() {
        put32(0);  // total_size, patched by bytes()
        put32(0);  // reserved
    }

    InfoBuilder& tag(u32 type, const std::vector<u8>& payload) {
        put32(type);
        put32(u32(8 + payload.size()));
        bytes_.insert(bytes_.end(), payload.begin(), payload.end());
        pad();
        return *this;
    }
    InfoBuilder& string_tag(u32 type, const std::string& s) {
        std::vector<u8> payload(s.begin(), s.end());
        payload.push_back(0);
        return tag(type, payload);
    }
    InfoBuilder& module(u32 start, u32 end, const std::string& cmdline) {
        std::vector<u8> payload;
        append32(payload, start);
        append32(payload, end);
        payload.insert(payload.end(), cmdline.begin(), cmdline.end());
        payload.push_back(0);
        return tag(kTagModule, payload);
    }
    InfoBuilder& memory_map(const std::vector<MmapEntry>& entries, u32 entry_size = 24, u32 version = 0) {
        std::vector<u8> payload;
        append32(payload, entry_size);
        append32(payload, version);
        for (const MmapEntry& e : entries) {
            // Bytes beyond the 24 defined ones are filled with junk the parser must skip;
            // a too-small entry_size cuts the entry short.
            std::vector<u8> entry(entry_size > 24 ? entry_size : 24, 0xaa);
            std::memcpy(entry.data(), &e.base, 8);
            std::memcpy(entry.data() + 8, &e.length, 8);
            std::memcpy(entry.data() + 16, &e.type, 4);
            std::memset(entry.data() + 20, 0, 4);
            payload.insert(payload.end(), entry.begin(), entry.begin() + entry_size);
        }
        return tag(kTagMemoryMap, payload);
    }
    InfoBuilder& rsdp(u32 type, usize length, u8 fill) { return tag(type, std::vector<u8>(length, fill)); }
    InfoBuilder& end() {
        put32(0);
        put32(8);
        return *this;
    }
    std::vector<u8> bytes() const {
        std::vector<u8> b = bytes_;
        const u32 total = u32(b.size());
        std::memcpy(b.data(), &total, 4);
        return b;
    }

private:
    static void append32(std::vector<u8>& v, u32 x) {
        const u8* p = reinterpret_cast<const u8*>(&x);
        v.insert(v.end(), p, p + 4);
    }
    void put32(u32 x) { append32(bytes_, x); }
    void pad() {
        while (bytes_.size() % 8) bytes_.push_back(0);
    }
    std::vector<u8> bytes_;
};

void set32(std::vector<u8>& b, usize offset, u32 value) { std::memcpy(b.data() + offset, &value, 4); }

// Parses from an exactly sized heap copy, so that ASan reports any read beyond it.
struct ParseResult {
    bool ok;
    std::string error;
    std::unique_ptr<Multiboot2Info> info;
};

ParseResult parse(const std::vector<u8>& bytes, u64 phys = kInfoPhys) {
    std::unique_ptr<u8[]> copy(new u8[bytes.size()]);
    std::memcpy(copy.get(), bytes.data(), bytes.size());
    ParseResult r{false, "", std::make_unique<Multiboot2Info>()};
    const char* error = nullptr;
    r.ok = parse_multiboot2(copy.get(), phys, *r.info, &error);
    if (!r.ok) {
        EXPECT_NE(error, nullptr);
        if (error) r.error = error;
    }
    return r;
}

// QEMU's e820 map for -m 4G: the 3 GiB below the PCI hole, then 1 GiB above 4 GiB.
const std::vector<MmapEntry> kQemu4GMap = {
    {0x0, 0x9fc00, 1},        {0x9fc00, 0x400, 2},     {0xf0000, 0x10000, 2},    {0x100000, 0xbfee0000, 1},
    {0xbffe0000, 0x20000, 2}, {0xfeffc000, 0x4000, 2}, {0xfffc0000, 0x40000, 2}, {0x100000000, 0x40000000, 1},
};

std::vector<u8> grub_like_info() {
    return InfoBuilder()
        .string_tag(kTagCmdline, "console=com1 loglevel=debug")
        .string_tag(kTagBootloaderName, "GRUB 2.06-13")
        .tag(kTagBasicMeminfo, {0x7f, 0x02, 0, 0, 0x00, 0xfc, 0x2f, 0})
        .module(0x800000, 0x801234, "/boot/guest.bin role=guest")
        .module(0x802000, 0x802000, "")
        .memory_map(kQemu4GMap)
        .tag(kTagFramebuffer, std::vector<u8>(24, 0x55))
        .rsdp(kTagAcpiOld, 20, 0x11)
        .rsdp(kTagAcpiNew, 36, 0x22)
        .end()
        .bytes();
}

TEST(Multiboot2, ParsesGrubLikeInformation) {
    const std::vector<u8> bytes = grub_like_info();
    const ParseResult r = parse(bytes);
    ASSERT_TRUE(r.ok) << r.error;
    const Multiboot2Info& info = *r.info;
    EXPECT_EQ(info.info_start, kInfoPhys);
    EXPECT_EQ(info.info_size, bytes.size());
    EXPECT_TRUE(info.has_cmdline);
    EXPECT_STREQ(info.cmdline, "console=com1 loglevel=debug");
    EXPECT_TRUE(info.has_bootloader_name);
    EXPECT_STREQ(info.bootloader_name, "GRUB 2.06-13");

    ASSERT_EQ(info.module_count, 2u);
    EXPECT_EQ(info.modules[0].start, 0x800000u);
    EXPECT_EQ(info.modules[0].end, 0x801234u);
    EXPECT_STREQ(info.modules[0].cmdline, "/boot/guest.bin role=guest");
    EXPECT_EQ(info.modules[1].start, 0x802000u);
    EXPECT_EQ(info.modules[1].end, 0x802000u);
    EXPECT_STREQ(info.modules[1].cmdline, "");

    ASSERT_TRUE(info.has_memory_map);
    ASSERT_EQ(info.memory_region_count, kQemu4GMap.size());
    for (usize i = 0; i < kQemu4GMap.size(); ++i) {
        EXPECT_EQ(info.memory_regions[i].base, kQemu4GMap[i].base) << i;
        EXPECT_EQ(info.memory_regions[i].length, kQemu4GMap[i].length) << i;
        EXPECT_EQ(info.memory_regions[i].type, kQemu4GMap[i].type) << i;
    }

    EXPECT_TRUE(info.rsdp_is_xsdp);
    ASSERT_EQ(info.rsdp_length, 36u);
    for (usize i = 0; i < 36; ++i) EXPECT_EQ(info.rsdp[i], 0x22) << i;
}

TEST(Multiboot2, CopiesEverythingOutOfTheInformation) {
    std::vector<u8> bytes = grub_like_info();
    auto info = std::make_unique<Multiboot2Info>();
    const char* error = nullptr;
    ASSERT_TRUE(parse_multiboot2(bytes.data(), kInfoPhys, *info, &error)) << error;
    std::memset(bytes.data(), 0xee, bytes.size());  // the identity mapping goes away
    EXPECT_STREQ(info->cmdline, "console=com1 loglevel=debug");
    EXPECT_STREQ(info->modules[0].cmdline, "/boot/guest.bin role=guest");
    EXPECT_EQ(info->memory_regions[3].base, 0x100000u);
}

TEST(Multiboot2, MinimalInformationHasOnlyTheEndTag) {
    const ParseResult r = parse(InfoBuilder().end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.info->info_size, 16u);
    EXPECT_FALSE(r.info->has_cmdline);
    EXPECT_STREQ(r.info->cmdline, "");
    EXPECT_FALSE(r.info->has_bootloader_name);
    EXPECT_FALSE(r.info->has_memory_map);
    EXPECT_EQ(r.info->memory_region_count, 0u);
    EXPECT_EQ(r.info->module_count, 0u);
    EXPECT_EQ(r.info->rsdp_length, 0u);
    EXPECT_FALSE(r.info->rsdp_is_xsdp);
}

TEST(Multiboot2, ClearsStaleOutput) {
    auto info = std::make_unique<Multiboot2Info>();
    std::memset(info.get(), 0x5a, sizeof *info);
    const std::vector<u8> bytes = InfoBuilder().end().bytes();
    ASSERT_TRUE(parse_multiboot2(bytes.data(), kInfoPhys, *info, nullptr));
    EXPECT_EQ(info->module_count, 0u);
    EXPECT_EQ(info->memory_region_count, 0u);
    EXPECT_STREQ(info->cmdline, "");
}

TEST(Multiboot2, OldRsdpAlone) {
    const ParseResult r = parse(InfoBuilder().rsdp(kTagAcpiOld, 20, 0x33).end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.info->rsdp_is_xsdp);
    ASSERT_EQ(r.info->rsdp_length, 20u);
    EXPECT_EQ(r.info->rsdp[0], 0x33);
    EXPECT_EQ(r.info->rsdp[19], 0x33);
    EXPECT_EQ(r.info->rsdp[20], 0);
}

TEST(Multiboot2, NewRsdpWinsWhicheverComesFirst) {
    const ParseResult r = parse(InfoBuilder().rsdp(kTagAcpiNew, 36, 0x44).rsdp(kTagAcpiOld, 20, 0x55).end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.info->rsdp_is_xsdp);
    EXPECT_EQ(r.info->rsdp_length, 36u);
    EXPECT_EQ(r.info->rsdp[0], 0x44);
    EXPECT_EQ(r.info->rsdp[35], 0x44);
}

TEST(Multiboot2, UnknownTagsAreSkipped) {
    const ParseResult r =
        parse(InfoBuilder().tag(99, {1, 2, 3}).tag(0x7fffffff, {}).string_tag(kTagCmdline, "x").end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_STREQ(r.info->cmdline, "x");
}

TEST(Multiboot2, StopsAtTheEndTag) {
    // Whatever follows the end tag (within total_size) is not boot information.
    std::vector<u8> bytes = InfoBuilder().end().string_tag(kTagCmdline, "after the end").bytes();
    const ParseResult r = parse(bytes);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.info->has_cmdline);
}

TEST(Multiboot2, LargerMemoryMapEntriesAreRead) {
    const ParseResult r = parse(InfoBuilder().memory_map(kQemu4GMap, 32).end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.info->memory_region_count, kQemu4GMap.size());
    EXPECT_EQ(r.info->memory_regions[7].base, 0x100000000u);
    EXPECT_EQ(r.info->memory_regions[7].length, 0x40000000u);
    EXPECT_EQ(r.info->memory_regions[7].type, 1u);
}

TEST(Multiboot2, EmptyMemoryMapIsAccepted) {
    const ParseResult r = parse(InfoBuilder().memory_map({}).end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.info->has_memory_map);
    EXPECT_EQ(r.info->memory_region_count, 0u);
}

TEST(Multiboot2, AcceptsTheMaximumCounts) {
    InfoBuilder b;
    for (u32 i = 0; i < Multiboot2Info::kMaxModules; ++i) b.module(i * 0x1000, i * 0x1000 + 0x800, std::to_string(i));
    std::vector<MmapEntry> map;
    for (u64 i = 0; i < Multiboot2Info::kMaxMemoryRegions; ++i) map.push_back({i * 0x10000, 0x8000, 1});
    b.memory_map(map);
    b.string_tag(kTagCmdline, std::string(1023, 'c'));
    b.string_tag(kTagBootloaderName, std::string(63, 'n'));
    const ParseResult r = parse(b.end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.info->module_count, 128u);
    EXPECT_STREQ(r.info->modules[127].cmdline, "127");
    EXPECT_EQ(r.info->modules_dropped, 0u);
    EXPECT_EQ(r.info->memory_region_count, 128u);
    EXPECT_EQ(r.info->memory_regions[127].base, 127u * 0x10000);
    EXPECT_EQ(std::strlen(r.info->cmdline), 1023u);
    EXPECT_EQ(std::strlen(r.info->bootloader_name), 63u);
}

TEST(Multiboot2, ModuleCommandLineOfMaximumLength) {
    const ParseResult r = parse(InfoBuilder().module(0, 1, std::string(255, 'm')).end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(std::strlen(r.info->modules[0].cmdline), 255u);
}

// --- malformed input ---------------------------------------------------------------

void expect_error(const std::vector<u8>& bytes, const char* fragment, u64 phys = kInfoPhys) {
    const ParseResult r = parse(bytes, phys);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find(fragment), std::string::npos) << "error was: " << r.error;
}

TEST(Multiboot2, RejectsNullPointer) {
    Multiboot2Info info;
    const char* error = nullptr;
    EXPECT_FALSE(parse_multiboot2(nullptr, kInfoPhys, info, &error));
    EXPECT_STREQ(error, "multiboot2: boot information pointer is null");
}

TEST(Multiboot2, NullErrorPointerIsAllowed) {
    Multiboot2Info info;
    EXPECT_FALSE(parse_multiboot2(nullptr, kInfoPhys, info, nullptr));
}

TEST(Multiboot2, RejectsMisalignedInformation) {
    expect_error(InfoBuilder().end().bytes(), "8-byte aligned", kInfoPhys + 4);
}

TEST(Multiboot2, RejectsTotalSizeBelow16) {
    std::vector<u8> bytes = InfoBuilder().end().bytes();
    set32(bytes, 0, 8);
    expect_error(bytes, "below 16");
    set32(bytes, 0, 0);
    expect_error(bytes, "below 16");
}

TEST(Multiboot2, RejectsTotalSizeAbove1MiB) {
    std::vector<u8> bytes = InfoBuilder().end().bytes();
    set32(bytes, 0, 0x100008);
    expect_error(bytes, "above 1 MiB");
    set32(bytes, 0, 0xffffffff);
    expect_error(bytes, "above 1 MiB");
}

TEST(Multiboot2, RejectsInformationWrappingPast2To64) { expect_error(InfoBuilder().end().bytes(), "wraps", ~0ull - 7); }

TEST(Multiboot2, RejectsMissingEndTag) {
    expect_error(InfoBuilder().string_tag(kTagCmdline, "abc").bytes(), "no end tag");
    // total_size stops short of the end tag that is in memory.
    std::vector<u8> bytes = InfoBuilder().string_tag(kTagCmdline, "abc").end().bytes();
    bytes.resize(bytes.size() - 8);
    set32(bytes, 0, u32(bytes.size()));
    expect_error(bytes, "no end tag");
}

TEST(Multiboot2, RejectsTruncatedTagHeader) {
    // total_size leaves 4 bytes after the last full tag: half a tag header.
    std::vector<u8> bytes = InfoBuilder().string_tag(kTagCmdline, "abc").bytes();
    bytes.resize(bytes.size() + 4, 0);
    set32(bytes, 0, u32(bytes.size()));
    expect_error(bytes, "no end tag");
}

TEST(Multiboot2, RejectsTagPastTotalSize) {
    std::vector<u8> bytes = InfoBuilder().string_tag(kTagCmdline, "abcdefg").end().bytes();
    set32(bytes, 12, 0x100);  // the command line tag claims 256 bytes
    expect_error(bytes, "past total_size");
    // Truncated: total_size cuts the last tag's payload.
    std::vector<u8> cut = InfoBuilder().string_tag(kTagCmdline, "0123456789abcdef").bytes();
    cut.resize(cut.size() - 8);
    set32(cut, 0, u32(cut.size()));
    expect_error(cut, "past total_size");
}

TEST(Multiboot2, RejectsTagSmallerThanItsHeader) {
    std::vector<u8> bytes = InfoBuilder().tag(99, {1, 2, 3, 4}).end().bytes();
    set32(bytes, 12, 4);
    expect_error(bytes, "below 8");
    set32(bytes, 12, 0);  // a zero size would otherwise loop forever
    expect_error(bytes, "below 8");
}

TEST(Multiboot2, RejectsEndTagWithWrongSize) {
    std::vector<u8> bytes = InfoBuilder().tag(0, {0, 0, 0, 0, 0, 0, 0, 0}).bytes();
    expect_error(bytes, "end tag size");
}

// Modules past the limit are counted, not kept, and the boot goes on: the loader reports
// them and starts no domain they belong to.
TEST(Multiboot2, CountsModulesPastTheLimit) {
    InfoBuilder b;
    for (u32 i = 0; i < Multiboot2Info::kMaxModules + 3; ++i) b.module(i * 0x1000, i * 0x1000 + 1, "m");
    const ParseResult r = parse(b.end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.info->module_count, Multiboot2Info::kMaxModules);
    EXPECT_EQ(r.info->modules_dropped, 3u);
}

// A module command line over 255 characters is kept cut, and flagged for the loader.
TEST(Multiboot2, FlagsAnOverlongModuleCommandLine) {
    const ParseResult r =
        parse(InfoBuilder().module(0, 1, "domain name=" + std::string(300, 'x')).module(2, 3, "ok").end().bytes());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.info->modules[0].cmdline_truncated);
    EXPECT_EQ(std::strlen(r.info->modules[0].cmdline), 255u);
    EXPECT_FALSE(r.info->modules[1].cmdline_truncated);
    EXPECT_STREQ(r.info->modules[1].cmdline, "ok");
}

TEST(Multiboot2, RejectsModuleEndingBeforeItStarts) {
    expect_error(InfoBuilder().module(0x2000, 0x1fff, "m").end().bytes(), "mod_end below mod_start");
}

TEST(Multiboot2, RejectsShortModuleTag) {
    expect_error(InfoBuilder().tag(kTagModule, {0, 0, 0, 0}).end().bytes(), "module tag shorter");
    // mod_start and mod_end but no room for the command line's terminator.
    expect_error(InfoBuilder().tag(kTagModule, {0, 0, 0, 0, 1, 0, 0, 0}).end().bytes(), "not NUL-terminated");
}

TEST(Multiboot2, RejectsOverlongStrings) {
    expect_error(InfoBuilder().string_tag(kTagCmdline, std::string(1024, 'c')).end().bytes(),
                 "command line longer than 1023");
    expect_error(InfoBuilder().string_tag(kTagBootloaderName, std::string(64, 'n')).end().bytes(),
                 "boot loader name longer than 63");
}

TEST(Multiboot2, RejectsUnterminatedStrings) {
    expect_error(InfoBuilder().tag(kTagCmdline, {'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}).end().bytes(),
                 "command line is not NUL-terminated");
    expect_error(InfoBuilder().tag(kTagBootloaderName, {'G', 'R', 'U', 'B'}).end().bytes(),
                 "boot loader name is not NUL-terminated");
    expect_error(InfoBuilder().tag(kTagCmdline, {}).end().bytes(), "command line is not NUL-terminated");
}

TEST(Multiboot2, TerminatorMustBeInsideTheTagNotItsPadding) {
    // The 3-byte string "abc" without NUL: the padding after it is zero, but it is not
    // part of the tag, so the string is unterminated.
    expect_error(InfoBuilder().tag(kTagCmdline, {'a', 'b', 'c'}).end().bytes(), "not NUL-terminated");
}

TEST(Multiboot2, RejectsDuplicateTags) {
    expect_error(InfoBuilder().string_tag(kTagCmdline, "a").string_tag(kTagCmdline, "b").end().bytes(),
                 "more than one command line");
    expect_error(InfoBuilder().string_tag(kTagBootloaderName, "a").string_tag(kTagBootloaderName, "b").end().bytes(),
                 "more than one boot loader name");
    expect_error(InfoBuilder().memory_map(kQemu4GMap).memory_map(kQemu4GMap).end().bytes(), "more than one memory map");
    expect_error(InfoBuilder().rsdp(kTagAcpiOld, 20, 1).rsdp(kTagAcpiOld, 20, 1).end().bytes(), "more than one old");
    expect_error(InfoBuilder().rsdp(kTagAcpiNew, 36, 1).rsdp(kTagAcpiNew, 36, 1).end().bytes(), "more than one new");
}

TEST(Multiboot2, RejectsTooManyMemoryRegions) {
    std::vector<MmapEntry> map;
    for (u64 i = 0; i <= Multiboot2Info::kMaxMemoryRegions; ++i) map.push_back({i * 0x10000, 0x8000, 1});
    expect_error(InfoBuilder().memory_map(map).end().bytes(), "more than 128 entries");
}

TEST(Multiboot2, RejectsBadMemoryMapLayout) {
    expect_error(InfoBuilder().memory_map(kQemu4GMap, 24, 1).end().bytes(), "entry_version");
    expect_error(InfoBuilder().memory_map(kQemu4GMap, 16).end().bytes(), "entry_size");
    expect_error(InfoBuilder().memory_map({}, 0).end().bytes(), "entry_size");
    expect_error(InfoBuilder().memory_map({}, 28).end().bytes(), "entry_size");
    expect_error(InfoBuilder().tag(kTagMemoryMap, {24, 0, 0, 0}).end().bytes(), "memory map tag shorter");
    // A partial trailing entry.
    std::vector<u8> payload = {24, 0, 0, 0, 0, 0, 0, 0};
    payload.resize(payload.size() + 24 + 12, 0);
    expect_error(InfoBuilder().tag(kTagMemoryMap, payload).end().bytes(), "ends inside an entry");
}

TEST(Multiboot2, RejectsShortRsdpTags) {
    expect_error(InfoBuilder().rsdp(kTagAcpiOld, 19, 1).end().bytes(), "old RSDP tag shorter than 20");
    expect_error(InfoBuilder().rsdp(kTagAcpiNew, 20, 1).end().bytes(), "new RSDP tag shorter than 36");
}

// Random corruption of a valid structure must never make the parser read outside it
// (ASan checks the heap copy's bounds) nor accept garbage silently.
TEST(Multiboot2, SurvivesRandomCorruption) {
    const std::vector<u8> good = grub_like_info();
    std::mt19937 rng(12345);
    int accepted = 0, rejected = 0;
    for (int iteration = 0; iteration < 3000; ++iteration) {
        std::vector<u8> bytes = good;
        const int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            const usize at = rng() % bytes.size();
            switch (rng() % 3) {
                case 0: bytes[at] = u8(rng()); break;
                case 1: bytes[at] ^= u8(1u << (rng() % 8)); break;
                default:
                    if (bytes.size() > 8) bytes.resize(8 + rng() % (bytes.size() - 8));
                    break;
            }
        }
        // Keep total_size within the buffer, as a real boot loader's memory would be.
        u32 total;
        std::memcpy(&total, bytes.data(), 4);
        if (total > bytes.size()) set32(bytes, 0, u32(bytes.size()));
        const ParseResult r = parse(bytes);
        if (r.ok) {
            ++accepted;
            EXPECT_LE(r.info->module_count, Multiboot2Info::kMaxModules);
            EXPECT_LE(r.info->memory_region_count, Multiboot2Info::kMaxMemoryRegions);
            EXPECT_LT(std::strlen(r.info->cmdline), Multiboot2Info::kCmdlineCapacity);
            for (usize i = 0; i < r.info->module_count; ++i)
                EXPECT_LE(r.info->modules[i].start, r.info->modules[i].end);
        } else {
            ++rejected;
            EXPECT_FALSE(r.error.empty());
        }
    }
    EXPECT_GT(accepted, 0);
    EXPECT_GT(rejected, 0);
}

}  // namespace
