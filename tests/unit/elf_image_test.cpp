#include "kernel/vm/elf_image.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Builds ELF images field by field at the offsets of the System V gABI ("ELF Header",
// "Program Header"), independent of the parser's own tables.
constexpr u32 kPtNull = 0, kPtLoad = 1, kPtNote = 4;
constexpr u16 kEtRel = 1, kEtExec = 2, kEtDyn = 3;
constexpr u16 kEm386 = 3, kEmX86_64 = 62, kEmArm = 40;

struct Phdr {
    u32 type;
    u64 offset, vaddr, paddr, filesz, memsz;
};

void put16(std::vector<u8>& b, usize at, u16 v) {
    for (int i = 0; i < 2; ++i) b.at(at + i) = u8(v >> (8 * i));
}
void put32(std::vector<u8>& b, usize at, u32 v) {
    for (int i = 0; i < 4; ++i) b.at(at + i) = u8(v >> (8 * i));
}
void put64(std::vector<u8>& b, usize at, u64 v) {
    for (int i = 0; i < 8; ++i) b.at(at + i) = u8(v >> (8 * i));
}

class ElfBuilder {
public:
    explicit ElfBuilder(bool is64) : is64_(is64) {}

    bool is64_;
    u16 type = kEtExec;
    int machine = -1;  // -1: i386 for ELF-32, x86-64 for ELF-64
    u64 entry = 0;
    u16 phentsize = 0;  // 0: the gABI size
    std::vector<Phdr> phdrs;
    usize file_size = 0x1000;  // at least the headers

    usize header_size() const { return is64_ ? 64 : 52; }
    usize entry_size() const { return phentsize ? phentsize : (is64_ ? 56 : 32); }
    usize phoff() const { return header_size(); }

    std::vector<u8> build() const {
        std::vector<u8> b(std::max(file_size, phoff() + entry_size() * phdrs.size()), 0);
        // e_ident: magic, EI_CLASS, EI_DATA (1 = little-endian), EI_VERSION.
        b[0] = 0x7f, b[1] = 'E', b[2] = 'L', b[3] = 'F';
        b[4] = is64_ ? 2 : 1;
        b[5] = 1;
        b[6] = 1;
        put16(b, 16, type);
        put16(b, 18, machine >= 0 ? u16(machine) : (is64_ ? kEmX86_64 : kEm386));
        put32(b, 20, 1);  // e_version
        const u16 phnum = u16(phdrs.size());
        if (is64_) {
            put64(b, 24, entry);
            put64(b, 32, phoff());
            put16(b, 52, 64);  // e_ehsize
            put16(b, 54, u16(entry_size()));
            put16(b, 56, phnum);
        } else {
            put32(b, 24, u32(entry));
            put32(b, 28, u32(phoff()));
            put16(b, 40, 52);
            put16(b, 42, u16(entry_size()));
            put16(b, 44, phnum);
        }
        for (usize i = 0; i < phdrs.size(); ++i) {
            const usize at = phoff() + i * entry_size();
            const Phdr& p = phdrs[i];
            if (is64_) {
                put32(b, at + 0, p.type);
                put32(b, at + 4, 5);  // p_flags R+X
                put64(b, at + 8, p.offset);
                put64(b, at + 16, p.vaddr);
                put64(b, at + 24, p.paddr);
                put64(b, at + 32, p.filesz);
                put64(b, at + 40, p.memsz);
                put64(b, at + 48, 0x1000);
            } else {
                put32(b, at + 0, p.type);
                put32(b, at + 4, u32(p.offset));
                put32(b, at + 8, u32(p.vaddr));
                put32(b, at + 12, u32(p.paddr));
                put32(b, at + 16, u32(p.filesz));
                put32(b, at + 20, u32(p.memsz));
                put32(b, at + 24, 5);
                put32(b, at + 28, 0x1000);
            }
        }
        return b;
    }
};

constexpr u64 kGuestMemory = 32 * MiB;

// Text at 1 MiB, data with bss at 1 MiB + 64 KiB, and a note that is not loaded.
ElfBuilder good_elf32() {
    ElfBuilder e(false);
    e.entry = 0x100010;
    e.file_size = 0x3000;
    e.phdrs = {
        {kPtLoad, 0x1000, 0x100000, 0x100000, 0x800, 0x800},
        {kPtNote, 0x2f00, 0, 0, 0x20, 0x20},
        {kPtLoad, 0x2000, 0x110000, 0x110000, 0x400, 0x5000},
    };
    return e;
}

// A higher-half kernel: virtual addresses differ from the physical load addresses.
ElfBuilder good_elf64() {
    ElfBuilder e(true);
    e.entry = 0x200000;
    e.file_size = 0x4000;
    e.phdrs = {
        {kPtLoad, 0x1000, 0xffffffff80200000ull, 0x200000, 0x1800, 0x1800},
        {kPtLoad, 0x3000, 0xffffffff80400000ull, 0x400000, 0x100, 0x2000},
    };
    return e;
}

struct Result {
    bool ok;
    ElfImage image;
    std::string error;
};

Result parse(const std::vector<u8>& bytes, u64 guest_memory = kGuestMemory) {
    Result r;
    const char* error = nullptr;
    // An exact-size heap copy, so ASan sees any read past the image.
    std::vector<u8> exact(bytes);
    r.ok = parse_elf_image(exact.data(), exact.size(), guest_memory, r.image, &error);
    if (!r.ok) {
        EXPECT_NE(error, nullptr);
        r.error = error ? error : "";
    }
    return r;
}

Result parse(const ElfBuilder& e, u64 guest_memory = kGuestMemory) { return parse(e.build(), guest_memory); }

const char* const kOutsideFile = "a loadable segment lies outside the file";
const char* const kOutsideMemory = "a loadable segment does not fit in the domain's memory";
const char* const kBadEntry = "the entry point is not inside a loaded segment below 4 GiB";
const char* const kBadPhdrs = "program headers missing or outside the file";

TEST(ElfImage, GoodElf32WithBss) {
    const Result r = parse(good_elf32());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_FALSE(r.image.is_64bit);
    EXPECT_EQ(r.image.entry, 0x100010u);
    ASSERT_EQ(r.image.segment_count, 2u);
    EXPECT_EQ(r.image.segments[0].guest_physical, 0x100000u);
    EXPECT_EQ(r.image.segments[0].file_offset, 0x1000u);
    EXPECT_EQ(r.image.segments[0].file_size, 0x800u);
    EXPECT_EQ(r.image.segments[0].memory_size, 0x800u);
    EXPECT_EQ(r.image.segments[1].guest_physical, 0x110000u);
    EXPECT_EQ(r.image.segments[1].file_offset, 0x2000u);
    EXPECT_EQ(r.image.segments[1].file_size, 0x400u);
    EXPECT_EQ(r.image.segments[1].memory_size, 0x5000u);
    EXPECT_EQ(r.image.highest_address, 0x115000u);
}

TEST(ElfImage, GoodElf64LoadsAtPhysicalAddresses) {
    const Result r = parse(good_elf64());
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_TRUE(r.image.is_64bit);
    EXPECT_EQ(r.image.entry, 0x200000u);
    ASSERT_EQ(r.image.segment_count, 2u);
    EXPECT_EQ(r.image.segments[0].guest_physical, 0x200000u);
    EXPECT_EQ(r.image.segments[0].file_offset, 0x1000u);
    EXPECT_EQ(r.image.segments[0].file_size, 0x1800u);
    EXPECT_EQ(r.image.segments[0].memory_size, 0x1800u);
    EXPECT_EQ(r.image.segments[1].guest_physical, 0x400000u);
    EXPECT_EQ(r.image.segments[1].file_size, 0x100u);
    EXPECT_EQ(r.image.segments[1].memory_size, 0x2000u);
    EXPECT_EQ(r.image.highest_address, 0x402000u);
}

TEST(ElfImage, HighestAddressIsTheEndOfTheHighestSegmentWhateverTheOrder) {
    ElfBuilder e = good_elf32();
    std::swap(e.phdrs[0], e.phdrs[2]);
    const Result r = parse(e);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.highest_address, 0x115000u);
    EXPECT_EQ(r.image.segments[0].guest_physical, 0x110000u);
}

TEST(ElfImage, LooksLikeElf) {
    const std::vector<u8> image = good_elf32().build();
    EXPECT_TRUE(looks_like_elf(image.data(), image.size()));
    EXPECT_TRUE(looks_like_elf(image.data(), 4));
    EXPECT_FALSE(looks_like_elf(image.data(), 3));
    const u8 multiboot_blob[] = {0x02, 0xb0, 0xad, 0x1b, 0, 0, 0, 0};
    EXPECT_FALSE(looks_like_elf(multiboot_blob, sizeof(multiboot_blob)));
    const u8 almost[] = {0x7f, 'E', 'L', 'G'};
    EXPECT_FALSE(looks_like_elf(almost, sizeof(almost)));
}

TEST(ElfImage, RejectsBadMagicAndShortFiles) {
    std::vector<u8> image = good_elf32().build();
    for (usize i = 0; i < 4; ++i) {
        std::vector<u8> bad = image;
        bad[i] ^= 0x20;
        const Result r = parse(bad);
        EXPECT_FALSE(r.ok) << "magic byte " << i;
        EXPECT_EQ(r.error, "not an ELF file (too short or no ELF magic)");
    }
    EXPECT_FALSE(parse(std::vector<u8>(image.begin(), image.begin() + 51)).ok);  // shorter than an ELF-32 header
    EXPECT_FALSE(parse(std::vector<u8>(image.begin(), image.begin() + 4)).ok);
    EXPECT_FALSE(parse(std::vector<u8>(image.begin(), image.begin() + 3)).ok);
    EXPECT_FALSE(parse(std::vector<u8>{}).ok);

    // An ELF-64 header is 64 bytes.
    std::vector<u8> image64 = good_elf64().build();
    const Result r = parse(std::vector<u8>(image64.begin(), image64.begin() + 60));
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "ELF-64 header truncated");
}

TEST(ElfImage, RejectsBigEndianAndUnknownClass) {
    for (bool is64 : {false, true}) {
        std::vector<u8> image = (is64 ? good_elf64() : good_elf32()).build();
        std::vector<u8> big = image;
        big[5] = 2;  // ELFDATA2MSB
        Result r = parse(big);
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.error, "not a little-endian ELF-32 or ELF-64 file");
        for (u8 data : {u8(0), u8(3)}) {
            std::vector<u8> bad = image;
            bad[5] = data;
            EXPECT_FALSE(parse(bad).ok) << int(data);
        }
        for (u8 elf_class : {u8(0), u8(3), u8(0xff)}) {
            std::vector<u8> bad = image;
            bad[4] = elf_class;
            r = parse(bad);
            EXPECT_FALSE(r.ok) << int(elf_class);
            EXPECT_EQ(r.error, "not a little-endian ELF-32 or ELF-64 file");
        }
    }
}

TEST(ElfImage, RejectsOtherMachines) {
    for (bool is64 : {false, true}) {
        for (u16 machine : {u16(0), kEmArm, u16(183) /* AArch64 */, u16(6) /* i486, unused */}) {
            ElfBuilder e = is64 ? good_elf64() : good_elf32();
            e.machine = machine;
            const Result r = parse(e);
            EXPECT_FALSE(r.ok) << machine;
            EXPECT_EQ(r.error, "not an x86 ELF (machine is neither i386 nor x86-64)");
        }
    }
}

TEST(ElfImage, RejectsSharedAndRelocatableObjects) {
    for (u16 type : {kEtDyn, kEtRel, u16(0), u16(4)}) {
        ElfBuilder e = good_elf64();
        e.type = type;
        const Result r = parse(e);
        EXPECT_FALSE(r.ok) << type;
        EXPECT_EQ(r.error, "not an ELF executable (relocatable or shared objects cannot be booted)");
        ElfBuilder e32 = good_elf32();
        e32.type = type;
        EXPECT_FALSE(parse(e32).ok) << type;
    }
}

TEST(ElfImage, RejectsProgramHeadersPastTheFile) {
    // ELF-32: three 32-byte entries from offset 52 end at 148.
    ElfBuilder e = good_elf32();
    std::vector<u8> image = e.build();
    image.resize(147);
    Result r = parse(image);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadPhdrs);

    // A header table ending exactly at the end of the file is fine: an 84-byte file of
    // header and one entry, whose segment is the file itself.
    e.file_size = 0;
    e.entry = 0x100000;
    e.phdrs = {{kPtLoad, 0, 0x100000, 0x100000, 148, 0x1000}};
    image = e.build();
    ASSERT_EQ(image.size(), 52u + 32u);
    r = parse(image);
    EXPECT_FALSE(r.ok) << "the segment's file range ends past the 84-byte file";
    e.phdrs = {{kPtLoad, 0, 0x100000, 0x100000, 84, 0x1000}};
    r = parse(e.build());
    EXPECT_TRUE(r.ok) << r.error;

    // e_phoff past the file.
    image = good_elf32().build();
    put32(image, 28, u32(image.size()));
    r = parse(image);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadPhdrs);
    put32(image, 28, 0xffffffff);
    EXPECT_FALSE(parse(image).ok);

    // ELF-64: e_phoff + e_phnum * e_phentsize wraps around 2^64.
    std::vector<u8> image64 = good_elf64().build();
    put64(image64, 32, ~0ull - 0x40);
    r = parse(image64);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadPhdrs);
    put64(image64, 32, ~0ull);
    EXPECT_FALSE(parse(image64).ok);
    put64(image64, 32, 1ull << 63);
    EXPECT_FALSE(parse(image64).ok);

    // No program headers at all.
    ElfBuilder none = good_elf64();
    none.phdrs.clear();
    r = parse(none);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadPhdrs);
}

TEST(ElfImage, ProgramHeaderEntrySize) {
    ElfBuilder e32 = good_elf32();
    e32.phentsize = 31;
    Result r = parse(e32);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadPhdrs);
    e32.phentsize = 0;
    std::vector<u8> image = e32.build();
    put16(image, 42, 0);
    EXPECT_FALSE(parse(image).ok);

    ElfBuilder e64 = good_elf64();
    e64.phentsize = 55;
    r = parse(e64);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadPhdrs);
    e64.phentsize = 32;  // an ELF-32 entry size in an ELF-64 file
    EXPECT_FALSE(parse(e64).ok);

    // Larger entries are allowed (the gABI gives e_phentsize so that tables can grow).
    e32.phentsize = 40;
    r = parse(e32);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.segment_count, 2u);
    EXPECT_EQ(r.image.highest_address, 0x115000u);
    e64.phentsize = 64;
    r = parse(e64);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.segment_count, 2u);
    EXPECT_EQ(r.image.highest_address, 0x402000u);
}

TEST(ElfImage, SegmentFileRangeMustLieInTheFile) {
    // Ends exactly at the end of the file: fine.
    ElfBuilder e = good_elf32();
    e.phdrs[2].offset = 0x3000 - 0x400;
    EXPECT_TRUE(parse(e).ok);
    // One byte past: rejected.
    e.phdrs[2].offset = 0x3000 - 0x400 + 1;
    Result r = parse(e);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideFile);
    // Starts past the end.
    e.phdrs[2].offset = 0x3000;
    EXPECT_FALSE(parse(e).ok);
    e.phdrs[2].offset = 0xfffffff0;
    EXPECT_FALSE(parse(e).ok);
    // ELF-32 fields are 32 bits: offset + size past 2^32 must not wrap.
    e.phdrs[2].offset = 0xfffffc00;
    e.phdrs[2].filesz = 0x800;
    e.phdrs[2].memsz = 0x800;
    r = parse(e);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideFile);

    // ELF-64: offset + filesz wraps around 2^64 to a small number.
    ElfBuilder e64 = good_elf64();
    e64.phdrs[1].offset = ~0ull - 0xff;  // + 0x100 = 2^64 = 0
    r = parse(e64);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideFile);
    e64.phdrs[1].offset = 0x10;
    e64.phdrs[1].filesz = ~0ull;
    e64.phdrs[1].memsz = ~0ull;
    EXPECT_FALSE(parse(e64).ok);
}

TEST(ElfImage, FileSizeAboveMemorySizeIsRejected) {
    ElfBuilder e = good_elf32();
    e.phdrs[0].filesz = 0x801;  // memsz 0x800
    EXPECT_FALSE(parse(e).ok);
    EXPECT_EQ(parse(e).error, "a loadable segment has more bytes in the file than in memory");
    ElfBuilder e64 = good_elf64();
    e64.phdrs[1].filesz = 0x2001;  // memsz 0x2000, still inside the file
    e64.file_size = 0x6000;
    EXPECT_FALSE(parse(e64).ok);
    e64.phdrs[1].filesz = 0x2000;
    EXPECT_TRUE(parse(e64).ok);
}

TEST(ElfImage, SegmentsMustFitInGuestMemory) {
    ElfBuilder e = good_elf32();
    // The bss segment ends at 0x115000.
    EXPECT_TRUE(parse(e, 0x115000).ok);
    Result r = parse(e, 0x114fff);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideMemory);
    r = parse(e, 0x100000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideMemory);

    // The memory size counts, not just the file size.
    e.phdrs[2].memsz = kGuestMemory;
    r = parse(e);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideMemory);

    // ELF-64: paddr + memsz wraps around 2^64.
    ElfBuilder e64 = good_elf64();
    e64.phdrs[1].paddr = ~0ull - 0xfff;
    e64.phdrs[1].memsz = 0x2000;
    r = parse(e64, ~0ull);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kOutsideMemory);
    e64.phdrs[1].paddr = 0x400000;
    e64.phdrs[1].memsz = ~0ull - 0x1000;
    EXPECT_FALSE(parse(e64, ~0ull).ok);
    e64.phdrs[1].paddr = 64 * GiB;
    e64.phdrs[1].memsz = 0x2000;
    EXPECT_FALSE(parse(e64).ok);
}

TEST(ElfImage, AtMostSixteenLoadableSegments) {
    ElfBuilder e(false);
    e.entry = 0x100000;
    e.file_size = 0x20000;
    for (u32 i = 0; i < 16; ++i)
        e.phdrs.push_back({kPtLoad, 0x1000 + 0x1000 * i, 0, 0x100000 + 0x1000 * i, 0x1000, 0x1000});
    Result r = parse(e);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.segment_count, 16u);
    EXPECT_EQ(r.image.segments[15].guest_physical, 0x10f000u);
    EXPECT_EQ(r.image.highest_address, 0x110000u);

    // Other program headers do not count.
    e.phdrs.push_back({kPtNote, 0, 0, 0, 0x10, 0x10});
    e.phdrs.push_back({kPtNull, 0, 0, 0, 0, 0});
    EXPECT_TRUE(parse(e).ok);

    e.phdrs.push_back({kPtLoad, 0x11000, 0, 0x110000, 0x1000, 0x1000});
    r = parse(e);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "more than 16 loadable segments");
}

TEST(ElfImage, ZeroMemorySizeSegmentsAreSkipped) {
    ElfBuilder e = good_elf32();
    // Empty PT_LOADs, even with nonsense addresses, neither load nor count.
    e.phdrs.insert(e.phdrs.begin(), {kPtLoad, 0xfffff000, 0, 0xfffff000, 0, 0});
    e.phdrs.push_back({kPtLoad, 0, 0, 0x1f00000, 0, 0});
    Result r = parse(e);
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(r.image.segment_count, 2u);
    EXPECT_EQ(r.image.segments[0].guest_physical, 0x100000u);
    EXPECT_EQ(r.image.segments[1].guest_physical, 0x110000u);
    EXPECT_EQ(r.image.highest_address, 0x115000u);

    // Seventeen PT_LOADs of which one is empty: sixteen segments, accepted.
    ElfBuilder many(true);
    many.entry = 0x100000;
    many.file_size = 0x20000;
    for (u32 i = 0; i < 16; ++i)
        many.phdrs.push_back({kPtLoad, 0x1000 + 0x1000 * i, 0, 0x100000 + 0x1000 * i, 0x1000, 0x1000});
    many.phdrs.insert(many.phdrs.begin() + 8, {kPtLoad, 0, 0, 0, 0, 0});
    r = parse(many);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.segment_count, 16u);
}

TEST(ElfImage, RejectsImagesWithoutLoadableSegments) {
    ElfBuilder e = good_elf32();
    e.phdrs = {{kPtNote, 0x1000, 0, 0, 0x20, 0x20}};
    Result r = parse(e);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "no loadable segments");
    e.phdrs = {{kPtLoad, 0x1000, 0x100000, 0x100000, 0, 0}, {kPtNull, 0, 0, 0, 0, 0}};
    r = parse(e);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "no loadable segments");
}

TEST(ElfImage, EntryMustBeInsideALoadedSegment) {
    ElfBuilder e = good_elf32();
    for (u64 entry : {u64(0x100000), u64(0x1007ff), u64(0x110000), u64(0x110400) /* in the bss */, u64(0x114fff)}) {
        e.entry = entry;
        EXPECT_TRUE(parse(e).ok) << std::hex << entry;
    }
    for (u64 entry : {u64(0), u64(0xfffff), u64(0x100800), u64(0x10ffff), u64(0x115000), u64(0xffffffff)}) {
        e.entry = entry;
        const Result r = parse(e);
        EXPECT_FALSE(r.ok) << std::hex << entry;
        EXPECT_EQ(r.error, kBadEntry);
    }
    // Not inside a PT_NOTE either (the note is not loaded).
    ElfBuilder note = good_elf32();
    note.phdrs[1] = {kPtNote, 0x2f00, 0x200000, 0x200000, 0x20, 0x20};
    note.entry = 0x200000;
    EXPECT_FALSE(parse(note).ok);
}

TEST(ElfImage, EntryMustBeBelowFourGigabytes) {
    // A segment that straddles 4 GiB in a large domain: only its part below 4 GiB may hold the entry.
    ElfBuilder e = good_elf64();
    e.phdrs[1] = {kPtLoad, 0x3000, 0, 0xfffff000, 0x100, 0x2000};
    e.entry = 0xfffffff0;
    Result r = parse(e, 8 * GiB);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.image.highest_address, 0x100001000u);

    e.entry = 0x100000000ull;
    r = parse(e, 8 * GiB);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadEntry);

    // Entirely above 4 GiB.
    e.phdrs[1] = {kPtLoad, 0x3000, 0, 0x100000000ull, 0x100, 0x2000};
    e.entry = 0x100000010ull;
    r = parse(e, 8 * GiB);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, kBadEntry);

    // A 64-bit virtual entry (higher half) is not a physical address inside a segment.
    e = good_elf64();
    e.entry = 0xffffffff80200000ull;
    EXPECT_FALSE(parse(e).ok);
}

}  // namespace
