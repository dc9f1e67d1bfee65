// The cache of intercepted instructions (kernel/vm/exit_instruction_cache.hpp) over a fake
// guest memory whose pages the cache may view, with real page tables walked by the guest
// page walker: a hit must give exactly what a fresh fetch and decode would, so every
// input the fetch depended on is changed in turn and must make it miss.
#include "kernel/vm/exit_instruction_cache.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <map>

namespace {

constexpr u64 P = 1ull << 0, RW = 1ull << 1, US = 1ull << 2, A = 1ull << 5, D = 1ull << 6;
constexpr u64 kAll = P | RW | US;
constexpr u64 kCr0 = 0x80010011ull;                               // PG, WP, ET, PE
constexpr u64 kCr4Pae = 1ull << 5;                                // PAE
constexpr u64 kEfer = (1ull << 8) | (1ull << 10) | (1ull << 11);  // LME, LMA, NXE

// 4 KiB pages at stable addresses (std::map nodes never move), which page_view hands out.
class ViewableMemory final : public GuestPhysicalMemory {
public:
    void add_page(u64 gpa) { pages_[gpa].fill(0); }
    bool read(u64 gpa, void* dst, usize len) override {
        for (usize i = 0; i < len; ++i) {
            u8* b = at(gpa + i);
            if (!b) return false;
            static_cast<u8*>(dst)[i] = *b;
        }
        return true;
    }
    bool write(u64 gpa, const void* src, usize len) override {
        for (usize i = 0; i < len; ++i) {
            u8* b = at(gpa + i);
            if (!b) return false;
            *b = static_cast<const u8*>(src)[i];
        }
        return true;
    }
    bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) override {
        u64 now = 0;
        if (!read(gpa, &now, size)) return false;
        exchanged = now == expected;
        return !exchanged || write(gpa, &desired, size);
    }
    const void* page_view(u64 gpa, usize len) override {
        if (!views_ || (gpa & 0xfff) + len > 0x1000) return nullptr;
        return at(gpa);
    }
    const u64* frames_generation() const override { return views_ ? &generation : nullptr; }

    void set64(u64 gpa, u64 v) { write(gpa, &v, 8); }
    u64 get64(u64 gpa) {
        u64 v = 0;
        read(gpa, &v, 8);
        return v;
    }

    u64 generation = 7;
    bool views_ = true;

private:
    u8* at(u64 gpa) {
        auto it = pages_.find(gpa & ~0xfffull);
        return it == pages_.end() ? nullptr : &it->second[gpa & 0xfff];
    }
    std::map<u64, std::array<u8, 4096>> pages_;
};

class ExitInstructionCacheTest : public ::testing::Test {
protected:
    // CPUID at linear kRip, in the 4 KiB page at kCode, through tables at 0x1000-0x4000.
    static constexpr u64 kRip = 0xffffffff81000ab0ull;
    static constexpr u64 kCode = 0x20000;
    static constexpr u8 kCpuid[2] = {0x0f, 0xa2};

    void SetUp() override {
        for (u64 p = 0x1000; p <= 0x4000; p += 0x1000) mem.add_page(p);
        mem.add_page(kCode);
        mem.add_page(kCode + 0x1000);
        pml4e = 0x1000 + ((kRip >> 39) & 511) * 8;
        pdpte = 0x2000 + ((kRip >> 30) & 511) * 8;
        pde = 0x3000 + ((kRip >> 21) & 511) * 8;
        pte = 0x4000 + ((kRip >> 12) & 511) * 8;
        mem.set64(pml4e, 0x2000 | kAll);
        mem.set64(pdpte, 0x3000 | kAll);
        mem.set64(pde, 0x4000 | kAll);
        mem.set64(pte, kCode | kAll);
        mem.write(kCode + (kRip & 0xfff), kCpuid, 2);
    }

    GuestFetchContext at(u64 rip = kRip) const { return {rip, kCr0, 0x1000, kCr4Pae, kEfer, GuestCpuMode::Long64}; }
    GuestPagingState paging(const GuestFetchContext& c) const {
        GuestPagingState s;
        s.cr0 = c.cr0;
        s.cr3 = c.cr3;
        s.cr4 = c.cr4;
        s.efer = c.efer;
        return s;
    }
    // What the exit handlers do at a miss: walk, then remember the decoded bytes.
    void remember(const GuestFetchContext& c, const u8* bytes, u8 length,
                  InterceptedInstruction which = InterceptedInstruction::Cpuid) {
        GuestTranslation t;
        GuestAccess fetch;
        fetch.fetch = true;
        ASSERT_TRUE(walk_guest_page_tables(mem, paging(c), c.linear, fetch, t).ok());
        cache.remember(mem, c, which, t, bytes, length);
    }

    ViewableMemory mem;
    ExitInstructionCache cache;
    u64 pml4e = 0, pdpte = 0, pde = 0, pte = 0;
};

TEST_F(ExitInstructionCacheTest, EmptyMissesThenARememberedInstructionHits) {
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
    remember(at(), kCpuid, 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
    EXPECT_EQ(cache.hits(), 2u);
    EXPECT_EQ(cache.misses(), 1u);
}

TEST_F(ExitInstructionCacheTest, AnotherPlaceModeOrInstructionMisses) {
    remember(at(), kCpuid, 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Rdmsr), 0);
    EXPECT_EQ(cache.lookup(at(kRip + 4), InterceptedInstruction::Cpuid), 0);
    GuestFetchContext c = at();
    c.cr3 = 0x5000;
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 0);
    c = at();
    c.cr0 &= ~(1ull << 16);
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 0);
    c = at();
    c.cr4 |= 1ull << 12;
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 0);
    c = at();
    c.efer &= ~(1ull << 11);
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 0);
    c = at();
    c.mode = GuestCpuMode::Protected32;
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 0);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);  // the entry itself still holds
}

TEST_F(ExitInstructionCacheTest, ChangedCodeMisses) {
    remember(at(), kCpuid, 2);
    const u8 wrmsr[2] = {0x0f, 0x30};
    mem.write(kCode + (kRip & 0xfff), wrmsr, 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
    mem.write(kCode + (kRip & 0xfff), kCpuid, 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
    // A prefix in front, at RIP: the bytes at RIP differ.
    const u8 prefixed[3] = {0x66, 0x0f, 0xa2};
    mem.write(kCode + (kRip & 0xfff), prefixed, 3);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
}

TEST_F(ExitInstructionCacheTest, BytesAfterTheInstructionDoNotMatter) {
    remember(at(), kCpuid, 2);
    const u8 next[6] = {0x90, 0x90, 0xcc, 0xcc, 0xeb, 0xfe};
    mem.write(kCode + (kRip & 0xfff) + 2, next, sizeof(next));
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
}

TEST_F(ExitInstructionCacheTest, AnyTableEntryRemappedMisses) {
    for (const u64 entry : {pml4e, pdpte, pde, pte}) {
        remember(at(), kCpuid, 2);
        ASSERT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
        const u64 was = mem.get64(entry);
        // The same page through another frame: the CPU would fetch elsewhere.
        mem.set64(entry, was + 0x1000);
        EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0) << std::hex << entry;
        mem.set64(entry, was & ~P);
        EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0) << std::hex << entry;
        mem.set64(entry, was);
    }
}

TEST_F(ExitInstructionCacheTest, AccessedAndDirtyFlagsChangeNoTranslation) {
    remember(at(), kCpuid, 2);
    for (const u64 entry : {pml4e, pdpte, pde, pte}) mem.set64(entry, mem.get64(entry) & ~(A | D));
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
    mem.set64(pte, mem.get64(pte) | A | D);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
}

TEST_F(ExitInstructionCacheTest, NewHostFramesMiss) {
    remember(at(), kCpuid, 2);
    ++mem.generation;  // a balloon took or gave a page
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
}

TEST_F(ExitInstructionCacheTest, WhatCannotBeKeptIsNot) {
    // Longer than one compare covers.
    const u8 long_cpuid[9] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x0f, 0xa2};
    mem.write(kCode + (kRip & 0xfff), long_cpuid, 9);
    remember(at(), long_cpuid, 9);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
    // Within 8 bytes of the page's end.
    const u64 near_end = (kRip & ~0xfffull) | 0xffa;
    mem.write(kCode + 0xffa, kCpuid, 2);
    remember(at(near_end), kCpuid, 2);
    EXPECT_EQ(cache.lookup(at(near_end), InterceptedInstruction::Cpuid), 0);
    // Bytes that are not what the handler decoded (the guest changed them meanwhile).
    const u8 other[2] = {0x0f, 0x32};
    remember(at(), other, 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
    // Memory without lasting views.
    mem.views_ = false;
    mem.write(kCode + (kRip & 0xfff), kCpuid, 2);
    remember(at(), kCpuid, 2);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
}

TEST_F(ExitInstructionCacheTest, WithoutPagingTheAddressIsTheCode) {
    GuestFetchContext c{0x20100, 0x11, 0, 0, 0, GuestCpuMode::Protected32};
    mem.write(0x20100, kCpuid, 2);
    GuestTranslation t;
    t.gpa = 0x20100;
    cache.remember(mem, c, InterceptedInstruction::Cpuid, t, kCpuid, 2);
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 2);
    const u8 hlt = 0xf4;
    mem.write(0x20100, &hlt, 1);
    EXPECT_EQ(cache.lookup(c, InterceptedInstruction::Cpuid), 0);
}

TEST_F(ExitInstructionCacheTest, ClearForgetsEverything) {
    remember(at(), kCpuid, 2);
    cache.clear();
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 0);
}

TEST_F(ExitInstructionCacheTest, NeighboursKeepTheirOwnEntries) {
    // Two instructions a byte apart land in different entries and both stay.
    const u8 both[3] = {0xf4, 0x0f, 0xa2};  // HLT at kRip - 1, CPUID at kRip
    mem.write(kCode + (kRip & 0xfff) - 1, both, 3);
    remember(at(), kCpuid, 2);
    remember(at(kRip - 1), both, 1, InterceptedInstruction::Hlt);
    EXPECT_EQ(cache.lookup(at(), InterceptedInstruction::Cpuid), 2);
    EXPECT_EQ(cache.lookup(at(kRip - 1), InterceptedInstruction::Hlt), 1);
}

}  // namespace
