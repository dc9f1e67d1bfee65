// The guest page-table walker over a fake guest-physical memory, with page tables written
// entry by entry in every paging mode. Expected addresses and error codes are worked out
// by hand from the Intel SDM vol. 3A chapter 4 (entry formats in tables 4-4 to 4-20,
// access rights in 4.6, error codes in 4.7, A/D flags in 4.8), never from the walker.
#include "mm/guest_page_walk.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

// Entry bits, spelled out here rather than taken from the walker.
constexpr u64 P = 1ull << 0;
constexpr u64 RW = 1ull << 1;
constexpr u64 US = 1ull << 2;
constexpr u64 A = 1ull << 5;
constexpr u64 D = 1ull << 6;
constexpr u64 PS = 1ull << 7;
constexpr u64 XD = 1ull << 63;
constexpr u64 kAll = P | RW | US;

constexpr u64 kCr0Paging = 0x80000001ull;  // PG | PE
constexpr u64 kCr0Wp = 1ull << 16;
constexpr u64 kCr4Pse = 1ull << 4;
constexpr u64 kCr4Pae = 1ull << 5;
constexpr u64 kCr4La57 = 1ull << 12;
constexpr u64 kCr4Smep = 1ull << 20;
constexpr u64 kCr4Smap = 1ull << 21;
constexpr u64 kEferLong = (1ull << 8) | (1ull << 10);  // LME | LMA
constexpr u64 kEferNxe = 1ull << 11;

constexpr GuestAccess kRead{};
constexpr GuestAccess kWrite{.write = true};
constexpr GuestAccess kFetch{.fetch = true};
constexpr GuestAccess kUserRead{.user = true};
constexpr GuestAccess kImplicitRead{.implicit_supervisor = true};
constexpr GuestAccess kImplicitWrite{.write = true, .implicit_supervisor = true};

using Pages = std::map<u64, std::array<u8, 4096>>;

// Guest RAM in 4 KiB pages; everything else is unbacked. ROM pages can be read but not
// written. before_exchange plays another vCPU: it runs inside compare_exchange, before the
// comparison.
class FakeGuestMemory final : public GuestPhysicalMemory {
public:
    void add_ram(u64 base, u64 size) {
        for (u64 p = base; p < base + size; p += 4096) pages_[p].fill(0);
    }
    void make_rom(u64 base, u64 size) {
        for (u64 p = base; p < base + size; p += 4096) rom_.insert(p);
    }

    bool read(u64 gpa, void* dst, usize len) override {
        ++reads;
        if (!backed(gpa, len)) return false;
        for (usize i = 0; i < len; ++i) static_cast<u8*>(dst)[i] = byte(gpa + i);
        return true;
    }
    bool write(u64 gpa, const void* src, usize len) override {
        if (!backed(gpa, len) || read_only(gpa, len)) return false;
        ++writes;
        for (usize i = 0; i < len; ++i) byte(gpa + i) = static_cast<const u8*>(src)[i];
        return true;
    }
    bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) override {
        EXPECT_TRUE(size == 4 || size == 8) << size;
        EXPECT_EQ(gpa % size, 0u) << "misaligned entry " << std::hex << gpa;
        ++exchanges;
        if (!backed(gpa, size) || read_only(gpa, size)) return false;
        if (before_exchange) before_exchange(gpa);
        const u64 current = size == 4 ? get32(gpa) : get64(gpa);
        exchanged = current == expected;
        if (exchanged) {
            if (size == 4) {
                set32(gpa, static_cast<u32>(desired));
            } else {
                set64(gpa, desired);
            }
        }
        return true;
    }

    u64 get64(u64 gpa) {
        u64 v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | byte(gpa + i);
        return v;
    }
    void set64(u64 gpa, u64 v) {
        for (int i = 0; i < 8; ++i) byte(gpa + i) = static_cast<u8>(v >> (8 * i));
    }
    u32 get32(u64 gpa) { return static_cast<u32>(get64(gpa) & 0xffffffffu); }
    void set32(u64 gpa, u32 v) {
        for (int i = 0; i < 4; ++i) byte(gpa + i) = static_cast<u8>(v >> (8 * i));
    }
    u8& byte(u64 gpa) {
        auto it = pages_.find(gpa & ~0xfffull);
        if (it == pages_.end()) ADD_FAILURE() << "test touches unbacked " << std::hex << gpa;
        return it == pages_.end() ? scratch_ : it->second[gpa & 0xfff];
    }
    const Pages& pages() const { return pages_; }

    std::function<void(u64 gpa)> before_exchange;
    int reads = 0;
    int writes = 0;
    int exchanges = 0;

private:
    bool backed(u64 gpa, usize len) const {
        if (len == 0) return true;
        for (u64 p = gpa & ~0xfffull; p <= ((gpa + len - 1) & ~0xfffull); p += 4096)
            if (pages_.count(p) == 0) return false;
        return true;
    }
    bool read_only(u64 gpa, usize len) const {
        for (u64 p = gpa & ~0xfffull; p <= ((gpa + len - 1) & ~0xfffull); p += 4096)
            if (rom_.count(p) != 0) return true;
        return false;
    }

    Pages pages_;
    std::set<u64> rom_;
    u8 scratch_ = 0;
};

GuestPagingState paging32(u64 cr3, u64 cr4 = 0) {
    GuestPagingState s;
    s.cr0 = kCr0Paging | kCr0Wp;
    s.cr3 = cr3;
    s.cr4 = cr4;
    return s;
}

GuestPagingState pae(u64 cr3, bool nxe = true) {
    GuestPagingState s;
    s.cr0 = kCr0Paging | kCr0Wp;
    s.cr3 = cr3;
    s.cr4 = kCr4Pae;
    s.efer = nxe ? kEferNxe : 0;
    return s;
}

GuestPagingState level4(u64 cr3 = 0x1000, bool nxe = true) {
    GuestPagingState s;
    s.cr0 = kCr0Paging | kCr0Wp;
    s.cr3 = cr3;
    s.cr4 = kCr4Pae;
    s.efer = kEferLong | (nxe ? kEferNxe : 0);
    return s;
}

GuestPagingState level5(u64 cr3) {
    GuestPagingState s = level4(cr3);
    s.cr4 |= kCr4La57;
    return s;
}

// Expected outcome: a page fault with this error code.
void expect_fault(const WalkResult& r, u32 error_code, u64 cr2) {
    EXPECT_EQ(r.kind, WalkResult::PageFault) << walk_result_name(r);
    EXPECT_EQ(r.error_code, error_code) << std::hex << "error code 0x" << r.error_code;
    EXPECT_EQ(r.address, cr2) << std::hex << "cr2 0x" << r.address;
}

void expect_ok(const WalkResult& r) {
    EXPECT_EQ(r.kind, WalkResult::Ok) << walk_result_name(r) << std::hex << " error code 0x" << r.error_code;
}

// ---------------------------------------------------------------------------------------
// Mode selection and no paging

TEST(GuestPageWalkMode, FollowsCr0PgCr4PaeEferLmaAndCr4La57) {
    GuestPagingState s;
    EXPECT_EQ(guest_paging_mode(s), GuestPagingMode::None);
    s.cr0 = 1;  // PE only
    s.cr4 = kCr4Pae | kCr4La57;
    EXPECT_EQ(guest_paging_mode(s), GuestPagingMode::None);
    EXPECT_EQ(guest_paging_mode(paging32(0)), GuestPagingMode::Bits32);
    EXPECT_EQ(guest_paging_mode(paging32(0, kCr4Pse)), GuestPagingMode::Bits32);
    EXPECT_EQ(guest_paging_mode(pae(0)), GuestPagingMode::Pae);
    GuestPagingState lme_only = pae(0);
    lme_only.efer |= 1ull << 8;  // LME without LMA: paging not yet active in IA-32e mode
    EXPECT_EQ(guest_paging_mode(lme_only), GuestPagingMode::Pae);
    EXPECT_EQ(guest_paging_mode(level4()), GuestPagingMode::Level4);
    EXPECT_EQ(guest_paging_mode(level5(0)), GuestPagingMode::Level5);
}

TEST(GuestPageWalkNoPaging, LinearIsPhysicalWithAllRightsAndNoMemoryAccess) {
    FakeGuestMemory mem;  // no RAM at all: nothing may be read
    GuestPagingState s;
    s.cr0 = 1;
    s.cpl = 3;
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, s, 0x12345678, GuestAccess{.write = true, .user = true}, t));
    EXPECT_EQ(t.gpa, 0x12345678u);
    EXPECT_EQ(t.page_size, 4096u);
    EXPECT_TRUE(t.writable);
    EXPECT_TRUE(t.user);
    EXPECT_TRUE(t.executable);
    EXPECT_EQ(mem.reads, 0);
    EXPECT_EQ(mem.exchanges, 0);
}

TEST(GuestPageWalkNoPaging, PathIsEmpty) {
    FakeGuestMemory mem;
    GuestTranslation t;
    t.path.count = 3;
    expect_ok(walk_guest_page_tables(mem, GuestPagingState{}, 0x1234, kFetch, t));
    EXPECT_EQ(t.path.count, 0u);
}

TEST(GuestPageWalkNoPaging, LinearAddressesAre32BitsWide) {
    FakeGuestMemory mem;
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, GuestPagingState{}, 0x100001234ull, kRead, t));
    EXPECT_EQ(t.gpa, 0x1234u);
}

// ---------------------------------------------------------------------------------------
// 32-bit paging (SDM 4.3). CR3 = 0x1000; linear 0x80481234: PDE index 0x201 at 0x1804,
// PTE index 0x081 at 0x2000 + 0x204 = 0x2204, offset 0x234.

class GuestPageWalk32 : public ::testing::Test {
protected:
    static constexpr u64 kLinear = 0x80481234;
    static constexpr u64 kPde = 0x1804;
    static constexpr u64 kPte = 0x2204;

    void SetUp() override {
        mem.add_ram(0, 0x100000);
        // Neighbours with every bit set: reading 8 bytes instead of 4, or a cmpxchg of the
        // wrong size, would pick them up or change them.
        mem.set32(kPde + 4, 0xffffffff);
        mem.set32(kPte + 4, 0xffffffff);
    }

    FakeGuestMemory mem;
};

TEST_F(GuestPageWalk32, Translates4KPageAndSetsAccessedAndDirtyIn32BitEntries) {
    mem.set32(kPde, 0x2000 | P | RW | US);
    mem.set32(kPte, 0x30000 | P | RW | US);
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x30234u);
    EXPECT_EQ(t.page_size, 0x1000u);
    EXPECT_TRUE(t.writable);
    EXPECT_TRUE(t.user);
    EXPECT_TRUE(t.executable);  // no XD bit in 32-bit paging
    EXPECT_EQ(mem.get32(kPde), 0x2000 | P | RW | US | A);
    EXPECT_EQ(mem.get32(kPte), 0x30000 | P | RW | US | A);

    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kWrite, t));
    EXPECT_EQ(mem.get32(kPde), 0x2000 | P | RW | US | A);  // D only in the last entry
    EXPECT_EQ(mem.get32(kPte), 0x30000 | P | RW | US | A | D);
    EXPECT_EQ(mem.get32(kPde + 4), 0xffffffffu);
    EXPECT_EQ(mem.get32(kPte + 4), 0xffffffffu);
}

TEST_F(GuestPageWalk32, PathHasFourByteEntries) {
    mem.set32(kPde, 0x2000 | P | RW | US);
    mem.set32(kPte, 0x5000 | P | RW | US);
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kRead, t));
    ASSERT_EQ(t.path.count, 2u);
    EXPECT_EQ(t.path.entry_size, 4u);
    EXPECT_EQ(t.path.gpa[0], kPde);
    EXPECT_EQ(t.path.value[1], 0x5000 | P | RW | US);
}

TEST_F(GuestPageWalk32, HighHalfOfA64BitLinearAddressIsIgnored) {
    mem.set32(kPde, 0x2000 | P | RW);
    mem.set32(kPte, 0x30000 | P | RW);
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), 0xabcd000000000000ull | kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x30234u);
}

TEST_F(GuestPageWalk32, FourMegabytePageWithPse) {
    mem.set32(kPde, 0x0bc00000 | P | RW | PS);
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000, kCr4Pse), kLinear, kWrite, t));
    EXPECT_EQ(t.gpa, 0x0bc81234u);
    EXPECT_EQ(t.page_size, 4u * 1024 * 1024);
    EXPECT_FALSE(t.user);
    EXPECT_EQ(mem.get32(kPde), 0x0bc00000 | P | RW | PS | A | D);
    EXPECT_EQ(mem.get32(kPde + 4), 0xffffffffu);
}

TEST_F(GuestPageWalk32, PatBitOfA4MPageIsNotAnAddressBit) {
    mem.set32(kPde, 0x0bc00000 | (1u << 12) | P | PS);
    GuestTranslation t;
    // Bit 12 of this address is 0, so a PAT bit taken as address bit 12 would show.
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000, kCr4Pse), 0x80480234, kRead, t));
    EXPECT_EQ(t.gpa, 0x0bc80234u);
}

TEST_F(GuestPageWalk32, PsIsIgnoredWithoutCr4Pse) {
    mem.set32(kPde, 0x2000 | P | RW | PS);
    mem.set32(kPte, 0x30000 | P | RW);
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x30234u);
    EXPECT_EQ(t.page_size, 0x1000u);
}

TEST_F(GuestPageWalk32, Pse36HighAddressBitsWithMaxphyaddr40) {
    // PDE bits 20:13 = 0x12 are physical-address bits 39:32.
    mem.set32(kPde, 0x0bc00000 | (0x12u << 13) | P | PS);
    GuestPagingState s = paging32(0x1000, kCr4Pse);
    s.maxphyaddr = 40;
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x120bc81234ull);
    // MAXPHYADDR above 40 still gives only 8 high bits (PSE-36 stops at 40).
    s.maxphyaddr = 52;
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x120bc81234ull);
}

TEST_F(GuestPageWalk32, Pse36BitsBeyondMaxphyaddrAreReserved) {
    GuestPagingState s = paging32(0x1000, kCr4Pse);
    s.maxphyaddr = 36;  // bits 16:13 give address bits 35:32; bits 21:17 are reserved
    GuestTranslation t;
    mem.set32(kPde, 0x0bc00000 | (0x2u << 13) | P | PS);
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x20bc81234ull);
    mem.set32(kPde, 0x0bc00000 | (1u << 17) | P | PS);
    expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x9, kLinear);
    EXPECT_EQ(mem.get32(kPde), 0x0bc00000 | (1u << 17) | P | PS);  // no A on a faulting walk
}

TEST_F(GuestPageWalk32, Bit21OfA4MPdeIsReserved) {
    mem.set32(kPde, 0x0bc00000 | (1u << 21) | P | PS);
    GuestPagingState s = paging32(0x1000, kCr4Pse);
    s.maxphyaddr = 40;
    GuestTranslation t;
    expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x9, kLinear);
    s.maxphyaddr = 52;  // PSE-36 stops at 40 bits: bit 21 stays reserved
    expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x9, kLinear);
    // Without PSE the same entry points to a page table at 0x0be00000 (bit 21 is an
    // address bit there); its PTE 0x081 is at 0x0be00204.
    mem.add_ram(0x0be00000, 0x1000);
    mem.set32(0x0be00204, 0x30000 | P);
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x30234u);
}

TEST_F(GuestPageWalk32, NotPresentAndPermissionFaults) {
    GuestTranslation t;
    GuestPagingState user = paging32(0x1000);
    user.cpl = 3;
    expect_fault(walk_guest_page_tables(mem, user, kLinear, kWrite, t), 0x6, kLinear);
    mem.set32(kPde, 0x2000 | P | RW | US);
    mem.set32(kPte, 0x30000 | P | US);
    expect_fault(walk_guest_page_tables(mem, user, kLinear, kWrite, t), 0x7, kLinear);
    mem.set32(kPde, 0x2000 | P | RW);  // U/S clear in the PDE only
    mem.set32(kPte, 0x30000 | P | RW | US);
    expect_fault(walk_guest_page_tables(mem, user, kLinear, kRead, t), 0x5, kLinear);
    // Supervisor write to a read-only page: faults with CR0.WP, allowed without.
    mem.set32(kPte, 0x30000 | P);
    expect_fault(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kWrite, t), 0x3, kLinear);
    GuestPagingState no_wp = paging32(0x1000);
    no_wp.cr0 &= ~kCr0Wp;
    expect_ok(walk_guest_page_tables(mem, no_wp, kLinear, kWrite, t));
    EXPECT_EQ(mem.get32(kPte), 0x30000 | P | A | D);
}

TEST_F(GuestPageWalk32, FetchFaultsReportIdOnlyWithSmep) {
    // 32-bit paging has no NXE: I/D is set only when CR4.SMEP = 1 (SDM 4.7).
    GuestTranslation t;
    expect_fault(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kFetch, t), 0x0, kLinear);
    expect_fault(walk_guest_page_tables(mem, paging32(0x1000, kCr4Smep), kLinear, kFetch, t), 0x10, kLinear);
    mem.set32(kPde, 0x2000 | P | RW | US);
    mem.set32(kPte, 0x30000 | P | RW | US);
    expect_fault(walk_guest_page_tables(mem, paging32(0x1000, kCr4Smep), kLinear, kFetch, t), 0x11, kLinear);
    expect_ok(walk_guest_page_tables(mem, paging32(0x1000), kLinear, kFetch, t));
}

TEST_F(GuestPageWalk32, UnbackedPageDirectory) {
    GuestTranslation t;
    const WalkResult r = walk_guest_page_tables(mem, paging32(0x800000), kLinear, kRead, t);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, 0x800804u);
}

// ---------------------------------------------------------------------------------------
// PAE paging (SDM 4.4). CR3 = 0x1020 (32-byte aligned); linear 0x40201234: PDPTE 1 at
// 0x1028, PDE index 1 at 0x3008, PTE index 1 at 0x4008, offset 0x234.

class GuestPageWalkPae : public ::testing::Test {
protected:
    static constexpr u64 kLinear = 0x40201234;
    static constexpr u64 kPdpte = 0x1028;
    static constexpr u64 kPde = 0x3008;
    static constexpr u64 kPte = 0x4008;

    void SetUp() override {
        mem.add_ram(0, 0x100000);
        // What a walker that ignored CR3 bits 11:5 would find: PDPTE 1 of a PDPT at 0x1000.
        mem.set64(0x1008, 0x7000 | P);
    }
    void map_4k(u64 pte = 0x50000 | kAll) {
        mem.set64(kPdpte, 0x3000 | P);
        mem.set64(kPde, 0x4000 | kAll);
        mem.set64(kPte, pte);
    }

    FakeGuestMemory mem;
};

TEST_F(GuestPageWalkPae, Translates4KPageWithoutTouchingThePdpte) {
    map_4k();
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, pae(0x1020), kLinear, kWrite, t));
    EXPECT_EQ(t.gpa, 0x50234u);
    EXPECT_EQ(t.page_size, 0x1000u);
    EXPECT_TRUE(t.writable);
    EXPECT_TRUE(t.user);
    EXPECT_TRUE(t.executable);
    EXPECT_EQ(mem.get64(kPdpte), 0x3000 | P);  // PAE PDPTEs have no accessed flag
    EXPECT_EQ(mem.get64(kPde), 0x4000 | kAll | A);
    EXPECT_EQ(mem.get64(kPte), 0x50000 | kAll | A | D);
}

TEST_F(GuestPageWalkPae, PathStartsWithThePdpteReadFromMemory) {
    map_4k();
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, pae(0x1020), kLinear, kRead, t));
    ASSERT_EQ(t.path.count, 3u);
    EXPECT_EQ(t.path.gpa[0], kPdpte);
    EXPECT_EQ(t.path.value[0], 0x3000 | P);
    EXPECT_EQ(t.path.gpa[1], kPde);
    EXPECT_EQ(t.path.gpa[2], kPte);
    // The PDPTEs a VMCS caches are no memory to look at again.
    GuestPagingState cached = pae(0x1020);
    cached.use_pae_pdptes = true;
    cached.pae_pdptes[1] = 0x3000 | P;
    expect_ok(walk_guest_page_tables(mem, cached, kLinear, kRead, t));
    ASSERT_EQ(t.path.count, 2u);
    EXPECT_EQ(t.path.gpa[0], kPde);
}

TEST_F(GuestPageWalkPae, HighHalfOfA64BitLinearAddressIsIgnored) {
    map_4k();
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, pae(0x1020), 0xffffffff00000000ull | kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x50234u);
}

TEST_F(GuestPageWalkPae, Translates2MPageAlwaysHonouringPs) {
    mem.set64(kPdpte, 0x3000 | P);
    mem.set64(kPde, 0xe00000 | P | RW | PS);  // CR4.PSE = 0: PS still counts in PAE paging
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, pae(0x1020), kLinear, kWrite, t));
    EXPECT_EQ(t.gpa, 0xe01234u);
    EXPECT_EQ(t.page_size, 2u * 1024 * 1024);
    EXPECT_EQ(mem.get64(kPde), 0xe00000 | P | RW | PS | A | D);
}

TEST_F(GuestPageWalkPae, PhysicalAddressesAbove4G) {
    map_4k(0x1234567000ull | P);
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, pae(0x1020), kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x1234567234ull);
}

TEST_F(GuestPageWalkPae, PdpteNotPresentAndReservedBits) {
    GuestTranslation t;
    map_4k();
    mem.set64(kPdpte, 0x3000);  // P clear: the rest of the entry is ignored
    expect_fault(walk_guest_page_tables(mem, pae(0x1020), kLinear, kRead, t), 0x0, kLinear);
    mem.set64(kPdpte, 0xfffffffffffffffeull);
    expect_fault(walk_guest_page_tables(mem, pae(0x1020), kLinear, kWrite, t), 0x2, kLinear);
    GuestPagingState s = pae(0x1020);
    s.maxphyaddr = 36;
    // Bits 2:1, 8:6 and 63:MAXPHYADDR are reserved (SDM table 4-8); 63 even with NXE.
    for (const u64 bit : {1ull << 1, 1ull << 2, 1ull << 6, 1ull << 8, 1ull << 36, 1ull << 63}) {
        SCOPED_TRACE(bit);
        map_4k();
        mem.set64(kPdpte, 0x3000 | P | bit);
        expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x9, kLinear);
        EXPECT_EQ(mem.get64(kPde), 0x4000 | kAll);  // nothing below was used
    }
    // Bits 4:3 (PWT, PCD) and 11:9 (ignored) are not reserved.
    mem.set64(kPdpte, 0x3000 | P | (3ull << 3) | (7ull << 9));
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x50234u);
    // Nor is bit 5, the accessed bit an AMD processor (and QEMU's model of one) sets in
    // a PAE PDPE: a PAE guest's kernel finds it set after its first walks.
    mem.set64(kPdpte, 0x3000 | P | (1ull << 5));
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x50234u);
    EXPECT_EQ(mem.get64(kPdpte), 0x3000 | P | (1ull << 5)) << "the walker itself never sets it";
}

TEST_F(GuestPageWalkPae, XdIsReservedWithoutNxe) {
    map_4k(0x50000 | kAll | XD);
    GuestTranslation t;
    expect_fault(walk_guest_page_tables(mem, pae(0x1020, false), kLinear, kRead, t), 0x9, kLinear);
    EXPECT_EQ(mem.get64(kPde), 0x4000 | kAll);
    // With NXE, data accesses work and a fetch faults with I/D.
    expect_ok(walk_guest_page_tables(mem, pae(0x1020, true), kLinear, kRead, t));
    EXPECT_FALSE(t.executable);
    expect_fault(walk_guest_page_tables(mem, pae(0x1020, true), kLinear, kFetch, t), 0x11, kLinear);
}

TEST_F(GuestPageWalkPae, Bits62ToMaxphyaddrAreReservedUnlike4Level) {
    GuestPagingState s = pae(0x1020);
    s.maxphyaddr = 36;
    GuestTranslation t;
    map_4k(0x50000 | kAll | (1ull << 52));  // ignored in 4-level paging, reserved here
    expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x9, kLinear);
    map_4k(0x50000 | kAll | (1ull << 36));
    expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x9, kLinear);
    map_4k(0x50000 | kAll | (1ull << 35));
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x800050234ull);
}

TEST_F(GuestPageWalkPae, TwoMegabyteReservedBits20To13) {
    mem.set64(kPdpte, 0x3000 | P);
    GuestTranslation t;
    mem.set64(kPde, 0xe00000 | (1ull << 13) | P | PS);
    expect_fault(walk_guest_page_tables(mem, pae(0x1020), kLinear, kRead, t), 0x9, kLinear);
    mem.set64(kPde, 0xe00000 | (1ull << 20) | P | PS);
    expect_fault(walk_guest_page_tables(mem, pae(0x1020), kLinear, kRead, t), 0x9, kLinear);
}

TEST_F(GuestPageWalkPae, FetchFaultsReportIdOnlyWithNxeOrSmep) {
    GuestTranslation t;
    expect_fault(walk_guest_page_tables(mem, pae(0x1020, false), kLinear, kFetch, t), 0x0, kLinear);
    expect_fault(walk_guest_page_tables(mem, pae(0x1020, true), kLinear, kFetch, t), 0x10, kLinear);
    GuestPagingState smep = pae(0x1020, false);
    smep.cr4 |= kCr4Smep;
    expect_fault(walk_guest_page_tables(mem, smep, kLinear, kFetch, t), 0x10, kLinear);
}

TEST_F(GuestPageWalkPae, CachedPdptesReplaceTheOnesInMemory) {
    map_4k();
    mem.set64(kPdpte, 0);  // the guest changed memory after loading CR3
    GuestPagingState s = pae(0x1020);
    s.use_pae_pdptes = true;
    s.pae_pdptes[1] = 0x3000 | P;
    GuestTranslation t;
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    EXPECT_EQ(t.gpa, 0x50234u);
    s.cr3 = 0x900000;  // not even backed: the PDPT is not read
    expect_ok(walk_guest_page_tables(mem, s, kLinear, kRead, t));
    s.pae_pdptes[1] = 0;
    expect_fault(walk_guest_page_tables(mem, s, kLinear, kRead, t), 0x0, kLinear);
}

TEST_F(GuestPageWalkPae, UnbackedPdptAndPageTable) {
    GuestTranslation t;
    WalkResult r = walk_guest_page_tables(mem, pae(0x900020), kLinear, kRead, t);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, 0x900028u);
    mem.set64(kPdpte, 0x3000 | P);
    mem.set64(kPde, 0x904000 | kAll);
    r = walk_guest_page_tables(mem, pae(0x1020), kLinear, kRead, t);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, 0x904008u);
}

// ---------------------------------------------------------------------------------------
// 4-level paging (SDM 4.5). CR3 = 0x1000; linear 0x00007f1234567abc: PML4E index 0xfe at
// 0x17f0, PDPTE index 0x48 at 0x2240, PDE index 0x1a2 at 0x3d10, PTE index 0x167 at
// 0x4b38, offset 0xabc (0x167abc in a 2 MiB page, 0x34567abc in a 1 GiB page).

class GuestPageWalk4Level : public ::testing::Test {
protected:
    static constexpr u64 kLinear = 0x00007f1234567abcull;
    static constexpr u64 kPml4e = 0x17f0;
    static constexpr u64 kPdpte = 0x2240;
    static constexpr u64 kPde = 0x3d10;
    static constexpr u64 kPte = 0x4b38;

    void SetUp() override { mem.add_ram(0, 0x100000); }
    // Flags of each level; the table addresses are fixed.
    void map_4k(u64 pml4e = kAll, u64 pdpte = kAll, u64 pde = kAll, u64 pte = kAll) {
        mem.set64(kPml4e, 0x2000 | pml4e);
        mem.set64(kPdpte, 0x3000 | pdpte);
        mem.set64(kPde, 0x4000 | pde);
        mem.set64(kPte, 0x20000 | pte);
    }
    WalkResult walk(const GuestPagingState& s, GuestAccess a) { return walk_guest_page_tables(mem, s, kLinear, a, t); }

    FakeGuestMemory mem;
    GuestTranslation t;
};

TEST_F(GuestPageWalk4Level, Translates4KPage) {
    map_4k();
    expect_ok(walk(level4(), kRead));
    EXPECT_EQ(t.gpa, 0x20abcu);
    EXPECT_EQ(t.page_size, 0x1000u);
    EXPECT_TRUE(t.writable);
    EXPECT_TRUE(t.user);
    EXPECT_TRUE(t.executable);
}

// The entries the walk used, root first, as read (before its A/D updates): what the exit
// instruction cache revalidates (kernel/vm/exit_instruction_cache.hpp).
TEST_F(GuestPageWalk4Level, PathNamesEachEntryAsRead) {
    map_4k();
    expect_ok(walk(level4(), kFetch));
    ASSERT_EQ(t.path.count, 4u);
    EXPECT_EQ(t.path.entry_size, 8u);
    const u64 gpas[] = {kPml4e, kPdpte, kPde, kPte};
    const u64 values[] = {0x2000 | kAll, 0x3000 | kAll, 0x4000 | kAll, 0x20000 | kAll};
    for (u32 i = 0; i < 4; ++i) {
        EXPECT_EQ(t.path.gpa[i], gpas[i]) << i;
        EXPECT_EQ(t.path.value[i], values[i]) << i;
    }
}

TEST_F(GuestPageWalk4Level, PathOfA2MPageStopsAtThePde) {
    mem.set64(kPml4e, 0x2000 | kAll);
    mem.set64(kPdpte, 0x3000 | kAll);
    mem.set64(kPde, 0x200000 | kAll | PS);
    expect_ok(walk(level4(), kRead));
    ASSERT_EQ(t.path.count, 3u);
    EXPECT_EQ(t.path.gpa[2], kPde);
}

TEST_F(GuestPageWalk4Level, AccessedOnEveryLevelDirtyOnlyOnTheLeafForWrites) {
    map_4k();
    expect_ok(walk(level4(), kRead));
    EXPECT_EQ(mem.get64(kPml4e), 0x2000 | kAll | A);
    EXPECT_EQ(mem.get64(kPdpte), 0x3000 | kAll | A);
    EXPECT_EQ(mem.get64(kPde), 0x4000 | kAll | A);
    EXPECT_EQ(mem.get64(kPte), 0x20000 | kAll | A);
    expect_ok(walk(level4(), kFetch));
    EXPECT_EQ(mem.get64(kPte), 0x20000 | kAll | A);
    expect_ok(walk(level4(), kWrite));
    EXPECT_EQ(mem.get64(kPml4e), 0x2000 | kAll | A);
    EXPECT_EQ(mem.get64(kPdpte), 0x3000 | kAll | A);
    EXPECT_EQ(mem.get64(kPde), 0x4000 | kAll | A);
    EXPECT_EQ(mem.get64(kPte), 0x20000 | kAll | A | D);
}

TEST_F(GuestPageWalk4Level, NoExchangeWhenTheFlagsAreAlreadySet) {
    map_4k(kAll | A, kAll | A, kAll | A, kAll | A | D);
    const Pages before = mem.pages();
    expect_ok(walk(level4(), kWrite));
    EXPECT_EQ(mem.exchanges, 0);
    EXPECT_EQ(mem.pages(), before);
}

TEST_F(GuestPageWalk4Level, Translates2MPage) {
    map_4k();
    mem.set64(kPde, 0x600000 | P | RW | US | PS);
    expect_ok(walk(level4(), kWrite));
    EXPECT_EQ(t.gpa, 0x767abcu);
    EXPECT_EQ(t.page_size, 2u * 1024 * 1024);
    EXPECT_EQ(mem.get64(kPde), 0x600000 | P | RW | US | PS | A | D);
    EXPECT_EQ(mem.get64(kPdpte), 0x3000 | kAll | A);
    EXPECT_EQ(mem.get64(kPte), 0x20000 | kAll);  // not part of this walk
}

TEST_F(GuestPageWalk4Level, Translates1GPage) {
    map_4k();
    mem.set64(kPdpte, 0x40000000 | P | RW | PS);
    expect_ok(walk(level4(), kWrite));
    EXPECT_EQ(t.gpa, 0x74567abcu);
    EXPECT_EQ(t.page_size, 1024u * 1024 * 1024);
    EXPECT_FALSE(t.user);
    EXPECT_EQ(mem.get64(kPdpte), 0x40000000 | P | RW | PS | A | D);
    EXPECT_EQ(mem.get64(kPml4e), 0x2000 | kAll | A);
    EXPECT_EQ(mem.get64(kPde), 0x4000 | kAll);
}

TEST_F(GuestPageWalk4Level, PatBitOfLargePagesIsNotAnAddressBit) {
    // kLinear with bit 12 clear (same PML4E, PDPTE and PDE), so that a PAT bit taken as
    // address bit 12 would show in the result.
    const u64 linear = kLinear & ~0x1000ull;
    map_4k();
    mem.set64(kPde, 0x600000 | (1ull << 12) | P | PS);
    expect_ok(walk_guest_page_tables(mem, level4(), linear, kRead, t));
    EXPECT_EQ(t.gpa, 0x766abcu);
    mem.set64(kPdpte, 0x40000000 | (1ull << 12) | P | PS);
    expect_ok(walk_guest_page_tables(mem, level4(), linear, kRead, t));
    EXPECT_EQ(t.gpa, 0x74566abcu);
}

TEST_F(GuestPageWalk4Level, LargePageReservedBits) {
    map_4k();
    mem.set64(kPde, 0x600000 | (1ull << 13) | P | PS);
    expect_fault(walk(level4(), kRead), 0x9, kLinear);
    mem.set64(kPde, 0x600000 | (1ull << 20) | P | PS);
    expect_fault(walk(level4(), kRead), 0x9, kLinear);
    mem.set64(kPdpte, 0x40000000 | (1ull << 13) | P | PS);
    expect_fault(walk(level4(), kRead), 0x9, kLinear);
    mem.set64(kPdpte, 0x40000000 | (1ull << 29) | P | PS);
    expect_fault(walk(level4(), kRead), 0x9, kLinear);
    // Bit 21, just above them, is the lowest address bit of a 2 MiB page.
    mem.set64(kPdpte, 0x3000 | kAll);
    mem.set64(kPde, (1ull << 21) | P | PS);
    expect_ok(walk(level4(), kRead));
    EXPECT_EQ(t.gpa, 0x367abcu);
}

TEST_F(GuestPageWalk4Level, OneGigabytePagesOnlyWhenSupported) {
    map_4k();
    mem.set64(kPdpte, 0x40000000 | P | PS);
    GuestPagingState s = level4();
    s.page_1gb = false;
    expect_fault(walk(s, kRead), 0x9, kLinear);
    EXPECT_EQ(mem.get64(kPml4e), 0x2000 | kAll);
}

TEST_F(GuestPageWalk4Level, PsInPml4eIsReserved) {
    map_4k(kAll | PS);
    expect_fault(walk(level4(), kRead), 0x9, kLinear);
}

TEST_F(GuestPageWalk4Level, ReservedFaultErrorCodesCarryTheAccess) {
    map_4k(kAll, kAll, kAll, kAll | (1ull << 51));
    GuestPagingState s = level4();
    s.maxphyaddr = 48;
    expect_fault(walk(s, kFetch), 0x19, kLinear);  // P | RSVD | I/D
    s.cpl = 3;
    expect_fault(walk(s, kWrite), 0xf, kLinear);  // P | W | U | RSVD
}

TEST_F(GuestPageWalk4Level, BitsAboveMaxphyaddrAreReservedAtEveryLevel) {
    GuestPagingState s = level4();
    s.maxphyaddr = 40;
    const u64 bit40 = 1ull << 40;
    map_4k(kAll | bit40);
    expect_fault(walk(s, kRead), 0x9, kLinear);
    map_4k(kAll, kAll | bit40);
    expect_fault(walk(s, kRead), 0x9, kLinear);
    map_4k(kAll, kAll, kAll | bit40);
    expect_fault(walk(s, kRead), 0x9, kLinear);
    map_4k(kAll, kAll, kAll, kAll | bit40);
    expect_fault(walk(s, kRead), 0x9, kLinear);
    map_4k(kAll, kAll, kAll, kAll | (1ull << 51));
    expect_fault(walk(s, kRead), 0x9, kLinear);
    // Under MAXPHYADDR = 52 bit 40 is an ordinary address bit.
    expect_ok(walk(level4(), kRead));
    map_4k(kAll, kAll, kAll, kAll | bit40);
    expect_ok(walk(level4(), kRead));
    EXPECT_EQ(t.gpa, 0x10000020abcull);
    map_4k(kAll, kAll, kAll | bit40);
    const WalkResult r = walk(level4(), kRead);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, 0x10000004b38ull);
}

TEST_F(GuestPageWalk4Level, Bits62To52AreIgnored) {
    map_4k(kAll | (1ull << 52), kAll, kAll, kAll | (1ull << 58) | (1ull << 62));
    expect_ok(walk(level4(), kRead));
    EXPECT_EQ(t.gpa, 0x20abcu);
}

TEST_F(GuestPageWalk4Level, XdIsReservedWithoutNxeAtEveryLevel) {
    for (int level = 0; level < 4; ++level) {
        SCOPED_TRACE(level);
        map_4k(kAll | (level == 0 ? XD : 0), kAll | (level == 1 ? XD : 0), kAll | (level == 2 ? XD : 0),
               kAll | (level == 3 ? XD : 0));
        expect_fault(walk(level4(0x1000, false), kRead), 0x9, kLinear);
        expect_fault(walk(level4(0x1000, false), kFetch), 0x9, kLinear);  // no I/D: no NXE, no SMEP
        expect_ok(walk(level4(0x1000, true), kRead));
        EXPECT_FALSE(t.executable);
        expect_fault(walk(level4(0x1000, true), kFetch), 0x11, kLinear);
    }
}

TEST_F(GuestPageWalk4Level, NotPresentAtEachLevel) {
    for (int level = 0; level < 4; ++level) {
        SCOPED_TRACE(level);
        map_4k(level == 0 ? 0 : kAll, level == 1 ? 0 : kAll, level == 2 ? 0 : kAll, level == 3 ? 0 : kAll);
        // A not-present entry's other bits are ignored: make them all reserved-looking.
        const u64 entries[] = {kPml4e, kPdpte, kPde, kPte};
        mem.set64(entries[level], 0xfffffffffffffffeull);
        const Pages before = mem.pages();
        expect_fault(walk(level4(), kRead), 0x0, kLinear);
        expect_fault(walk(level4(), kWrite), 0x2, kLinear);
        expect_fault(walk(level4(), kFetch), 0x10, kLinear);
        GuestPagingState user = level4();
        user.cpl = 3;
        expect_fault(walk(user, kWrite), 0x6, kLinear);
        EXPECT_EQ(mem.get64(kPml4e), level == 0 ? 0xfffffffffffffffeull : 0x2000 | kAll);
        EXPECT_EQ(mem.pages(), before);
    }
}

TEST_F(GuestPageWalk4Level, FetchNotPresentWithoutNxeReportsIdOnlyWithSmep) {
    GuestPagingState s = level4(0x1000, false);
    expect_fault(walk(s, kFetch), 0x0, kLinear);
    s.cr4 |= kCr4Smep;
    expect_fault(walk(s, kFetch), 0x10, kLinear);
}

// The access-rights rules of SDM 4.6.1, one row each.
struct RightsCase {
    const char* what;
    u64 pml4e, pdpte, pde, pte;  // flags
    bool wp, smep, smap, ac;
    u8 cpl;
    GuestAccess access;
    int expected;  // -1: allowed; otherwise the error code
};

constexpr u64 R = P | US;  // read-only user
constexpr u64 S = P | RW;  // writable supervisor
constexpr u64 SR = P;      // read-only supervisor
constexpr u64 X = P | RW | US | XD;

const RightsCase kRightsCases[] = {
    {"supervisor read of supervisor page", kAll, kAll, kAll, S, true, false, false, false, 0, kRead, -1},
    {"user read of supervisor page", kAll, kAll, kAll, S, true, false, false, false, 3, kRead, 0x5},
    {"access.user at CPL 0 is a user access", kAll, kAll, kAll, S, true, false, false, false, 0, kUserRead, 0x5},
    {"user read of user page", kAll, kAll, kAll, R, true, false, false, false, 3, kRead, -1},
    {"user write to read-only user page", kAll, kAll, kAll, R, true, false, false, false, 3, kWrite, 0x7},
    {"user write to read-only page even without WP", kAll, kAll, kAll, R, false, false, false, false, 3, kWrite, 0x7},
    {"user write to writable user page", kAll, kAll, kAll, kAll, true, false, false, false, 3, kWrite, -1},
    {"user write, R/W clear in the PDE only", kAll, kAll, P | US, kAll, true, false, false, false, 3, kWrite, 0x7},
    {"user read, U/S clear in the PML4E only", P | RW, kAll, kAll, kAll, true, false, false, false, 3, kRead, 0x5},
    {"user write via access.user", kAll, kAll, kAll, R, true, false, false, false, 0,
     GuestAccess{.write = true, .user = true}, 0x7},
    {"supervisor write to read-only page, WP = 1", kAll, kAll, kAll, SR, true, false, false, false, 0, kWrite, 0x3},
    {"supervisor write to read-only page, WP = 0", kAll, kAll, kAll, SR, false, false, false, false, 0, kWrite, -1},
    {"supervisor write, R/W clear in the PDPTE, WP = 1", kAll, P | US, kAll, kAll, true, false, false, false, 0, kWrite,
     0x3},
    {"supervisor write to read-only user page, WP = 0", kAll, kAll, kAll, R, false, false, false, false, 0, kWrite, -1},
    {"supervisor fetch from XD page", kAll, kAll, kAll, X, true, false, false, false, 0, kFetch, 0x11},
    {"supervisor fetch, XD in the PDPTE", kAll, kAll | XD, kAll, kAll, true, false, false, false, 0, kFetch, 0x11},
    {"user fetch from XD page", kAll, kAll, kAll, X, true, false, false, false, 3, kFetch, 0x15},
    {"read of XD page", kAll, kAll, kAll, X, true, false, false, false, 3, kRead, -1},
    {"supervisor fetch from user page, SMEP = 0", kAll, kAll, kAll, R, true, false, false, false, 0, kFetch, -1},
    {"supervisor fetch from user page, SMEP = 1", kAll, kAll, kAll, R, true, true, false, false, 0, kFetch, 0x11},
    {"user fetch from user page, SMEP = 1", kAll, kAll, kAll, R, true, true, false, false, 3, kFetch, -1},
    {"supervisor fetch from supervisor page, SMEP = 1", kAll, kAll, kAll, SR, true, true, false, false, 0, kFetch, -1},
    {"SMEP leaves data reads alone", kAll, kAll, kAll, R, true, true, false, false, 0, kRead, -1},
    {"user fetch from supervisor page", kAll, kAll, kAll, S, true, false, false, false, 3, kFetch, 0x15},
    {"SMAP: supervisor read of user page, AC = 0", kAll, kAll, kAll, R, true, false, true, false, 0, kRead, 0x1},
    {"SMAP: supervisor read of user page, AC = 1", kAll, kAll, kAll, R, true, false, true, true, 0, kRead, -1},
    {"SMAP: supervisor write to user page, AC = 0", kAll, kAll, kAll, kAll, true, false, true, false, 0, kWrite, 0x3},
    {"SMAP: supervisor write to user page, AC = 1", kAll, kAll, kAll, kAll, true, false, true, true, 0, kWrite, -1},
    {"SMAP: implicit read at CPL 0 ignores AC", kAll, kAll, kAll, R, true, false, true, true, 0, kImplicitRead, 0x1},
    {"SMAP: implicit read at CPL 3 ignores AC", kAll, kAll, kAll, R, true, false, true, true, 3, kImplicitRead, 0x1},
    {"SMAP: implicit write at CPL 3", kAll, kAll, kAll, kAll, true, false, true, false, 3, kImplicitWrite, 0x3},
    {"SMAP: implicit read of supervisor page at CPL 3", kAll, kAll, kAll, S, true, false, true, false, 3, kImplicitRead,
     -1},
    {"implicit read of supervisor page at CPL 3, no SMAP", kAll, kAll, kAll, SR, true, false, false, false, 3,
     kImplicitRead, -1},
    {"implicit read of user page at CPL 3, no SMAP", kAll, kAll, kAll, R, true, false, false, false, 3, kImplicitRead,
     -1},
    {"implicit_supervisor wins over access.user", kAll, kAll, kAll, SR, true, false, false, false, 3,
     GuestAccess{.user = true, .implicit_supervisor = true}, -1},
    {"implicit write to read-only supervisor page, WP = 1", kAll, kAll, kAll, SR, true, false, false, false, 3,
     kImplicitWrite, 0x3},
    {"implicit write to read-only supervisor page, WP = 0", kAll, kAll, kAll, SR, false, false, false, false, 3,
     kImplicitWrite, -1},
    {"SMAP: user access to user page", kAll, kAll, kAll, R, true, false, true, false, 3, kRead, -1},
    {"SMAP: fetches are SMEP's business", kAll, kAll, kAll, R, true, false, true, false, 0, kFetch, -1},
    {"SMAP, WP = 0: write to read-only user page, AC = 1", kAll, kAll, kAll, R, false, false, true, true, 0, kWrite,
     -1},
    {"SMAP, WP = 1: write to read-only user page, AC = 1", kAll, kAll, kAll, R, true, false, true, true, 0, kWrite,
     0x3},
    {"SMAP, WP = 0: write to read-only user page, AC = 0", kAll, kAll, kAll, R, false, false, true, false, 0, kWrite,
     0x3},
    {"SMAP: U/S clear in the PDE makes a supervisor page", kAll, kAll, P | RW, kAll, true, false, true, false, 0, kRead,
     -1},
    {"fetch with write set is checked as a fetch", kAll, kAll, kAll, R, true, false, false, false, 3,
     GuestAccess{.write = true, .fetch = true}, -1},
    {"fetch with write set reports no W/R", kAll, kAll, kAll, R | XD, true, false, false, false, 3,
     GuestAccess{.write = true, .fetch = true}, 0x15},
};

TEST_F(GuestPageWalk4Level, AccessRights) {
    for (const RightsCase& c : kRightsCases) {
        SCOPED_TRACE(c.what);
        mem.add_ram(0, 0x100000);  // clears the A/D flags of the previous row
        map_4k(c.pml4e, c.pdpte, c.pde, c.pte);
        GuestPagingState s = level4();
        if (!c.wp) s.cr0 &= ~kCr0Wp;
        if (c.smep) s.cr4 |= kCr4Smep;
        if (c.smap) s.cr4 |= kCr4Smap;
        s.rflags_ac = c.ac;
        s.cpl = c.cpl;
        const Pages before = mem.pages();
        const WalkResult r = walk(s, c.access);
        if (c.expected < 0) {
            expect_ok(r);
            EXPECT_EQ(t.gpa, 0x20abcu);
        } else {
            expect_fault(r, static_cast<u32>(c.expected), kLinear);
            EXPECT_EQ(mem.pages(), before) << "a faulting walk changed guest memory";
        }
    }
}

TEST_F(GuestPageWalk4Level, TranslationReportsThePagesOwnRights) {
    map_4k(kAll, P | US, kAll, kAll);
    GuestPagingState s = level4();
    s.cr0 &= ~kCr0Wp;
    expect_ok(walk(s, kWrite));  // allowed by WP = 0, but the page is still read-only
    EXPECT_FALSE(t.writable);
    EXPECT_TRUE(t.user);
    EXPECT_TRUE(t.executable);
    EXPECT_EQ(mem.get64(kPte), 0x20000 | kAll | A | D);
}

TEST_F(GuestPageWalk4Level, ConcurrentChangeIsKeptAndTheWalkRetried) {
    map_4k();
    bool changed = false;
    mem.before_exchange = [&](u64 gpa) {
        if (gpa == kPte && !changed) {
            changed = true;
            mem.set64(kPte, mem.get64(kPte) | (1ull << 9));  // another vCPU sets an ignored bit
        }
    };
    expect_ok(walk(level4(), kWrite));
    EXPECT_TRUE(changed);
    EXPECT_EQ(mem.get64(kPte), 0x20000 | kAll | (1ull << 9) | A | D);
    EXPECT_EQ(mem.get64(kPml4e), 0x2000 | kAll | A);
    // 4 exchanges that succeeded or failed on the first pass, 1 on the second.
    EXPECT_EQ(mem.exchanges, 5);
}

TEST_F(GuestPageWalk4Level, ConcurrentUnmapMakesTheRetryFault) {
    map_4k();
    mem.before_exchange = [&](u64 gpa) {
        if (gpa == kPte) mem.set64(kPte, 0);
    };
    expect_fault(walk(level4(), kWrite), 0x2, kLinear);
    EXPECT_EQ(mem.get64(kPte), 0u);
}

TEST_F(GuestPageWalk4Level, EndlessConcurrentChangesGiveUp) {
    map_4k();
    mem.before_exchange = [&](u64 gpa) { mem.set64(gpa, mem.get64(gpa) ^ (1ull << 9)); };
    const WalkResult r = walk(level4(), kRead);
    EXPECT_EQ(r.kind, WalkResult::Contended);
    EXPECT_EQ(r.address, kLinear);
    EXPECT_EQ(mem.exchanges, static_cast<int>(kMaxWalkAttempts));
    EXPECT_STRNE(walk_result_name(r), walk_result_name(WalkResult::PageFault));
}

TEST_F(GuestPageWalk4Level, RecursiveEntryUsedAtEveryLevel) {
    // PML4E 511 points at the PML4 itself: 0xfffffffffffff000 maps the PML4 (the classic
    // self-map), and one entry is used four times in one walk.
    mem.set64(0x1ff8, 0x1000 | P | RW);
    expect_ok(walk_guest_page_tables(mem, level4(), 0xfffffffffffffff8ull, kWrite, t));
    EXPECT_EQ(t.gpa, 0x1ff8u);
    EXPECT_EQ(mem.get64(0x1ff8), 0x1000 | P | RW | A | D);
}

TEST_F(GuestPageWalk4Level, UnbackedTables) {
    WalkResult r = walk(level4(0x900000), kRead);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, 0x9007f0u);
    map_4k();
    mem.set64(kPdpte, 0x903000 | kAll);  // the PD is beyond guest RAM
    r = walk(level4(), kRead);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, 0x903d10u);
    EXPECT_EQ(mem.get64(kPml4e), 0x2000 | kAll);  // no A flags on the way there
}

TEST_F(GuestPageWalk4Level, TablesInReadOnlyMemory) {
    map_4k();
    mem.make_rom(0x1000, 0x4000);
    WalkResult r = walk(level4(), kRead);
    EXPECT_EQ(r.kind, WalkResult::BadTablePhysical);
    EXPECT_EQ(r.address, kPml4e);  // the first entry whose A flag could not be set
    // With every flag already set nothing needs writing.
    map_4k(kAll | A, kAll | A, kAll | A, kAll | A);
    r = walk(level4(), kRead);
    expect_ok(r);
}

TEST(GuestPageWalkCanonical, FortyEightBitAddressesIn4LevelPaging) {
    FakeGuestMemory mem;
    mem.add_ram(0, 0x10000);
    GuestTranslation t;
    for (const u64 bad : {0x0000800000000000ull, 0xffff7fffffffffffull, 0x8000000000000000ull, 0x00ff000000000000ull}) {
        const WalkResult r = walk_guest_page_tables(mem, level4(), bad, kRead, t);
        EXPECT_EQ(r.kind, WalkResult::NonCanonical) << std::hex << bad;
        EXPECT_EQ(r.address, bad);
    }
    EXPECT_EQ(mem.reads, 0);
    for (const u64 good : {0x00007fffffffffffull, 0xffff800000000000ull, 0ull, ~0ull})
        expect_fault(walk_guest_page_tables(mem, level4(), good, kRead, t), 0x0, good);
}

TEST(GuestPageWalkCanonical, FiftySevenBitAddressesIn5LevelPaging) {
    FakeGuestMemory mem;
    mem.add_ram(0, 0x10000);
    GuestTranslation t;
    for (const u64 bad : {0x0100000000000000ull, 0xfeffffffffffffffull, 0x8000000000000000ull}) {
        const WalkResult r = walk_guest_page_tables(mem, level5(0x1000), bad, kRead, t);
        EXPECT_EQ(r.kind, WalkResult::NonCanonical) << std::hex << bad;
    }
    for (const u64 good : {0x0000800000000000ull, 0x00ffffffffffffffull, 0xff00000000000000ull, 0xffff7fffffffffffull})
        expect_fault(walk_guest_page_tables(mem, level5(0x1000), good, kRead, t), 0x0, good);
}

// ---------------------------------------------------------------------------------------
// 5-level paging. CR3 = 0x5000; linear 0xffff7f1234567abc: PML5E index 0x1ff at 0x5ff8,
// then the 4-level path above (PML4E index 0xfe at 0x17f0, ...).

TEST(GuestPageWalk5Level, Translates4KPageThroughThePml5) {
    FakeGuestMemory mem;
    mem.add_ram(0, 0x100000);
    mem.set64(0x5ff8, 0x1000 | kAll);
    mem.set64(0x17f0, 0x2000 | kAll);
    mem.set64(0x2240, 0x3000 | kAll);
    mem.set64(0x3d10, 0x4000 | kAll);
    mem.set64(0x4b38, 0x20000 | kAll);
    GuestTranslation t;
    const u64 linear = 0xffff7f1234567abcull;
    expect_ok(walk_guest_page_tables(mem, level5(0x5000), linear, kWrite, t));
    EXPECT_EQ(t.gpa, 0x20abcu);
    EXPECT_EQ(mem.get64(0x5ff8), 0x1000 | kAll | A);
    EXPECT_EQ(mem.get64(0x17f0), 0x2000 | kAll | A);
    EXPECT_EQ(mem.get64(0x4b38), 0x20000 | kAll | A | D);
    // The same address is not canonical with 4-level paging.
    EXPECT_EQ(walk_guest_page_tables(mem, level4(0x1000), linear, kRead, t).kind, WalkResult::NonCanonical);
    // U/S clear in the PML5E makes the page supervisor-only.
    mem.set64(0x5ff8, 0x1000 | P | RW);
    GuestPagingState user = level5(0x5000);
    user.cpl = 3;
    expect_fault(walk_guest_page_tables(mem, user, linear, kRead, t), 0x5, linear);
}

TEST(GuestPageWalk5Level, PsInPml5eIsReserved) {
    FakeGuestMemory mem;
    mem.add_ram(0, 0x100000);
    mem.set64(0x5ff8, 0x1000 | kAll | PS);
    GuestTranslation t;
    expect_fault(walk_guest_page_tables(mem, level5(0x5000), 0xffff7f1234567abcull, kRead, t), 0x9,
                 0xffff7f1234567abcull);
}

// ---------------------------------------------------------------------------------------
// read_guest_virtual / write_guest_virtual. 4-level tables: linear 0x400000 (PML4E 0,
// PDPTE 0, PDE 2 at 0x3010, PTE 0 at 0x4000) -> 0x20000 and 0x401000 (PTE 1 at 0x4008)
// -> 0x30000, so the two pages are not physically contiguous.

class GuestPageWalkCopy : public ::testing::Test {
protected:
    static constexpr u64 kPte0 = 0x4000;
    static constexpr u64 kPte1 = 0x4008;

    void SetUp() override {
        mem.add_ram(0, 0x100000);
        mem.set64(0x1000, 0x2000 | kAll);
        mem.set64(0x2000, 0x3000 | kAll);
        mem.set64(0x3010, 0x4000 | kAll);
        mem.set64(kPte0, 0x20000 | kAll);
        mem.set64(kPte1, 0x30000 | kAll);
        for (u64 i = 0; i < 0x1000; ++i) {
            mem.byte(0x20000 + i) = static_cast<u8>(i);
            mem.byte(0x30000 + i) = static_cast<u8>(0x80 + i);
        }
        user.cpl = 3;
    }

    FakeGuestMemory mem;
    GuestPagingState user = level4();
    WalkFault fault;
};

TEST_F(GuestPageWalkCopy, ReadAcrossTwoPhysicallyScatteredPages) {
    u8 buf[8] = {};
    ASSERT_TRUE(read_guest_virtual(mem, user, 0x400ffc, buf, sizeof(buf), kRead, fault));
    const u8 expected[8] = {0xfc, 0xfd, 0xfe, 0xff, 0x80, 0x81, 0x82, 0x83};
    EXPECT_EQ(std::memcmp(buf, expected, sizeof(buf)), 0);
    EXPECT_EQ(mem.get64(kPte0), 0x20000 | kAll | A);
    EXPECT_EQ(mem.get64(kPte1), 0x30000 | kAll | A);
}

TEST_F(GuestPageWalkCopy, ReadWithinOnePage) {
    u8 buf[3] = {};
    ASSERT_TRUE(read_guest_virtual(mem, user, 0x401010, buf, sizeof(buf), kRead, fault));
    EXPECT_EQ(buf[0], 0x90);
    EXPECT_EQ(buf[2], 0x92);
    EXPECT_EQ(mem.get64(kPte0), 0x20000 | kAll);  // the other page was not walked
}

TEST_F(GuestPageWalkCopy, ReadFaultOnTheSecondPageChangesNothing) {
    mem.set64(kPte1, 0);
    const Pages before = mem.pages();
    u8 buf[8] = {};
    EXPECT_FALSE(read_guest_virtual(mem, user, 0x400ffc, buf, sizeof(buf), kRead, fault));
    expect_fault(fault, 0x4, 0x401000);  // CR2: the first byte accessed in the faulting page
    EXPECT_EQ(mem.pages(), before);      // not even the first page's A flags
}

TEST_F(GuestPageWalkCopy, ReadIgnoresTheWriteFlagAndFetchesAreChecked) {
    mem.set64(kPte1, 0x30000 | P | US | XD);
    u8 buf[4] = {};
    EXPECT_TRUE(read_guest_virtual(mem, user, 0x401000, buf, sizeof(buf), kWrite, fault));
    EXPECT_EQ(mem.get64(kPte1), 0x30000 | P | US | XD | A);  // no D
    EXPECT_FALSE(read_guest_virtual(mem, user, 0x400ffe, buf, sizeof(buf), kFetch, fault));
    expect_fault(fault, 0x15, 0x401000);
}

TEST_F(GuestPageWalkCopy, WriteAcrossPagesSetsDirtyOnBoth) {
    const u8 data[6] = {1, 2, 3, 4, 5, 6};
    ASSERT_TRUE(write_guest_virtual(mem, user, 0x400ffd, data, sizeof(data), kRead, fault));
    EXPECT_EQ(mem.byte(0x20ffd), 1);
    EXPECT_EQ(mem.byte(0x20fff), 3);
    EXPECT_EQ(mem.byte(0x30000), 4);
    EXPECT_EQ(mem.byte(0x30002), 6);
    EXPECT_EQ(mem.byte(0x30003), 0x83);  // one past the end untouched
    EXPECT_EQ(mem.byte(0x20ffc), 0xfc);
    EXPECT_EQ(mem.get64(kPte0), 0x20000 | kAll | A | D);
    EXPECT_EQ(mem.get64(kPte1), 0x30000 | kAll | A | D);
}

TEST_F(GuestPageWalkCopy, WriteFaultOnTheSecondPageWritesNothing) {
    mem.set64(kPte1, 0x30000 | P | US);  // read-only
    const Pages before = mem.pages();
    const u8 data[6] = {1, 2, 3, 4, 5, 6};
    EXPECT_FALSE(write_guest_virtual(mem, user, 0x400ffd, data, sizeof(data), kRead, fault));
    expect_fault(fault, 0x7, 0x401000);
    EXPECT_EQ(mem.pages(), before);
    EXPECT_EQ(mem.writes, 0);
}

TEST_F(GuestPageWalkCopy, WriteThreePages) {
    mem.set64(0x4010, 0x40000 | kAll);  // 0x402000 -> 0x40000
    std::vector<u8> data(0x1000 + 16, 0x5a);
    ASSERT_TRUE(write_guest_virtual(mem, user, 0x400ff8, data.data(), data.size(), kRead, fault));
    EXPECT_EQ(mem.byte(0x20ff7), 0xf7);
    EXPECT_EQ(mem.byte(0x20ff8), 0x5a);
    EXPECT_EQ(mem.byte(0x30000), 0x5a);
    EXPECT_EQ(mem.byte(0x30fff), 0x5a);
    EXPECT_EQ(mem.byte(0x40007), 0x5a);
    EXPECT_EQ(mem.byte(0x40008), 0);
    EXPECT_EQ(mem.get64(0x4010), 0x40000 | kAll | A | D);
}

TEST_F(GuestPageWalkCopy, UnbackedDataPage) {
    mem.set64(kPte1, 0x900000 | kAll);  // e.g. an MMIO page mapped by the guest
    const Pages before = mem.pages();
    const u8 data[8] = {};
    EXPECT_FALSE(write_guest_virtual(mem, user, 0x400ffc, data, sizeof(data), kRead, fault));
    EXPECT_EQ(fault.kind, WalkResult::BadDataPhysical);
    EXPECT_EQ(fault.address, 0x900000u);
    EXPECT_EQ(mem.pages(), before);
    u8 buf[8] = {};
    EXPECT_FALSE(read_guest_virtual(mem, user, 0x401004, buf, sizeof(buf), kRead, fault));
    EXPECT_EQ(fault.kind, WalkResult::BadDataPhysical);
    EXPECT_EQ(fault.address, 0x900004u);
}

TEST_F(GuestPageWalkCopy, NonCanonicalTail) {
    // 0x00007ffffffff000 (PML4E 0xff at 0x17f8, PDPTE 0x1ff, PDE 0x1ff, PTE 0x1ff) -> 0x20000.
    mem.set64(0x17f8, 0x5000 | kAll);
    mem.set64(0x5ff8, 0x6000 | kAll);
    mem.set64(0x6ff8, 0x7000 | kAll);
    mem.set64(0x7ff8, 0x20000 | kAll);
    u8 buf[8] = {};
    ASSERT_TRUE(read_guest_virtual(mem, user, 0x00007ffffffffff8ull, buf, sizeof(buf), kRead, fault));
    EXPECT_EQ(buf[0], 0xf8);
    EXPECT_FALSE(read_guest_virtual(mem, user, 0x00007ffffffffffcull, buf, sizeof(buf), kRead, fault));
    EXPECT_EQ(fault.kind, WalkResult::NonCanonical);
    EXPECT_EQ(fault.address, 0x0000800000000000ull);
}

TEST_F(GuestPageWalkCopy, EmptyAccessTouchesNothing) {
    EXPECT_TRUE(read_guest_virtual(mem, user, 0x0000800000000000ull, nullptr, 0, kRead, fault));
    EXPECT_TRUE(write_guest_virtual(mem, user, 0x12345000, nullptr, 0, kRead, fault));
    EXPECT_EQ(mem.reads, 0);
    EXPECT_EQ(mem.exchanges, 0);
}

TEST_F(GuestPageWalkCopy, WriteForcesAWriteAccess) {
    mem.set64(kPte0, 0x20000 | P | US);
    const u8 data[1] = {7};
    EXPECT_FALSE(write_guest_virtual(mem, user, 0x400000, data, 1, kFetch, fault));
    expect_fault(fault, 0x7, 0x400000);  // W set, I/D clear
    EXPECT_EQ(mem.byte(0x20000), 0);
}

TEST(GuestPageWalkCopy32, AccessWrapsAt4G) {
    // 32-bit paging, CR3 = 0x1000. 0xfffff000: PDE 0x3ff at 0x1ffc -> PT 0x2000, PTE 0x3ff
    // at 0x2ffc -> 0x20000. 0x00000000: PDE 0 at 0x1000 -> PT 0x3000, PTE 0 -> 0x30000.
    FakeGuestMemory mem;
    mem.add_ram(0, 0x100000);
    mem.set32(0x1ffc, 0x2000 | P | RW);
    mem.set32(0x2ffc, 0x20000 | P | RW);
    mem.set32(0x1000, 0x3000 | P | RW);
    mem.set32(0x3000, 0x30000 | P | RW);
    mem.byte(0x20ffe) = 0x11;
    mem.byte(0x20fff) = 0x22;
    mem.byte(0x30000) = 0x33;
    mem.byte(0x30001) = 0x44;
    u8 buf[4] = {};
    WalkFault fault;
    ASSERT_TRUE(read_guest_virtual(mem, paging32(0x1000), 0xfffffffe, buf, sizeof(buf), kRead, fault));
    EXPECT_EQ(buf[0], 0x11);
    EXPECT_EQ(buf[1], 0x22);
    EXPECT_EQ(buf[2], 0x33);
    EXPECT_EQ(buf[3], 0x44);
    const u8 data[4] = {1, 2, 3, 4};
    ASSERT_TRUE(write_guest_virtual(mem, paging32(0x1000), 0xfffffffe, data, sizeof(data), kRead, fault));
    EXPECT_EQ(mem.byte(0x30001), 4);
    EXPECT_EQ(mem.get32(0x3000), 0x30000 | P | RW | A | D);
    EXPECT_EQ(mem.get32(0x2ffc), 0x20000 | P | RW | A | D);
}

// ---------------------------------------------------------------------------------------

TEST(GuestPageWalkNames, EveryResultHasItsOwnName) {
    const WalkResult::Kind kinds[] = {
        WalkResult::Ok,           WalkResult::PageFault, WalkResult::BadTablePhysical, WalkResult::BadDataPhysical,
        WalkResult::NonCanonical, WalkResult::Contended};
    std::set<std::string> names;
    for (const WalkResult::Kind k : kinds) {
        ASSERT_NE(walk_result_name(k), nullptr);
        names.insert(walk_result_name(k));
    }
    EXPECT_EQ(names.size(), std::size(kinds));
    EXPECT_STREQ(walk_result_name(WalkResult::Ok), "ok");
    EXPECT_STREQ(walk_result_name(WalkResult{WalkResult::PageFault, 2, 0}), "page fault");
}

TEST(GuestPageWalkDeathTest, MaxphyaddrOutOfRange) {
    FakeGuestMemory mem;
    GuestPagingState s = level4();
    s.maxphyaddr = 53;
    GuestTranslation t;
    EXPECT_DEATH(walk_guest_page_tables(mem, s, 0, kRead, t), "maxphyaddr");
}

}  // namespace
