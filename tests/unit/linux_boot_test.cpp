// The Linux bzImage loader (kernel/vm/firmware/linux_boot.hpp): synthetic bzImages with a
// minimal valid setup header, every rejection, the zero page read back at the offsets
// bootparam.h documents, the entry state checked with Vireo's own guest page walker, and
// (when one is on this machine) a real distribution kernel.
#include "kernel/vm/firmware/linux_boot.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kernel/vm/firmware/e820_map.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "kernel/vm/firmware/linux_boot_params.hpp"
#include "kernel/vm/firmware/linux_bzimage.hpp"
#include "kernel/vm/firmware/linux_domain_builder.hpp"
#include "mm/guest_page_walk.hpp"
#include "tests/unit/guest_firmware_fakes.hpp"

namespace {

using guest_firmware_test::SparseGuestRam;
using Bytes = std::vector<u8>;

template <typename T>
void put(Bytes& b, usize offset, T value) {
    std::memcpy(&b[offset], &value, sizeof value);
}
template <typename T>
T get(const Bytes& b, usize offset) {
    T v{};
    std::memcpy(&v, &b[offset], sizeof v);
    return v;
}

// What a synthetic kernel declares; the defaults are those of a current x86_64 kernel.
struct KernelSpec {
    u8 setup_sects = 4;
    usize protected_mode_size = 64 * KiB;
    u16 version = 0x020F;
    u8 header_length_byte = 0x6A;  // header ends at 0x26C (kernel_info_offset, 2.15)
    u8 loadflags = kLinuxLoadedHigh;
    u16 xloadflags = kLinuxXlfKernel64 | kLinuxXlfCanBeLoadedAbove4g;
    u8 relocatable = 1;
    u32 kernel_alignment = 2 * MiB;
    u64 pref_address = 16 * MiB;
    u32 init_size = 8 * MiB;
    u32 cmdline_size = 2047;
    u32 initrd_addr_max = 0x7FFFFFFF;
};

// The real-mode part is filled with 0xCC and the protected-mode part with a counting
// pattern, so a copy from the wrong offset shows.
Bytes make_bzimage(const KernelSpec& s = {}) {
    const usize setup_size = (usize(s.setup_sects ? s.setup_sects : 4) + 1) * 512;
    Bytes b(setup_size + s.protected_mode_size, 0xCC);
    for (usize i = 0; i < s.protected_mode_size; ++i) b[setup_size + i] = u8(i * 7 + 1);
    std::memset(&b[0x1F1], 0, 0x290 - 0x1F1);
    b[0x1F1] = s.setup_sects;
    put<u32>(b, 0x1F4, u32(s.protected_mode_size / 16));  // syssize
    put<u16>(b, 0x1FA, 0xFFFF);                           // vid_mode: normal
    put<u16>(b, 0x1FE, 0xAA55);
    b[0x200] = 0xEB;  // jmp short
    b[0x201] = s.header_length_byte;
    std::memcpy(&b[0x202], "HdrS", 4);
    put<u16>(b, 0x206, s.version);
    b[0x211] = s.loadflags;
    put<u32>(b, 0x214, 0x100000);  // code32_start default
    put<u32>(b, 0x22C, s.initrd_addr_max);
    put<u32>(b, 0x230, s.kernel_alignment);
    b[0x234] = s.relocatable;
    b[0x235] = 21;  // min_alignment
    put<u16>(b, 0x236, s.xloadflags);
    put<u32>(b, 0x238, s.cmdline_size);
    put<u64>(b, 0x258, s.pref_address);
    put<u32>(b, 0x260, s.init_size);
    return b;
}

struct Loaded {
    bool ok = false;
    std::string error;
    LinuxEntryState entry{};
};

Loaded load(SparseGuestRam& ram, const Bytes& kernel, u64 ram_bytes, const Bytes* initrd = nullptr,
            const char* cmdline = "console=ttyS0", u64 rsdp = kGuestAcpiTablesGpa) {
    LinuxBootInputs in{};
    in.kernel = kernel.data();
    in.kernel_size = kernel.size();
    in.initrd = initrd ? initrd->data() : nullptr;
    in.initrd_size = initrd ? initrd->size() : 0;
    in.cmdline = cmdline;
    in.ram_bytes = ram_bytes;
    in.rsdp_gpa = rsdp;
    Loaded l;
    const char* error = "not set";
    l.ok = load_linux_kernel(ram, in, l.entry, &error);
    if (l.ok) EXPECT_EQ(error, nullptr);
    if (!l.ok) {
        EXPECT_NE(error, nullptr);
        l.error = error ? error : "";
    }
    return l;
}

// Loads and expects an error mentioning `expected`, with guest memory untouched.
void expect_rejected(const Bytes& kernel, const char* expected, u64 ram_bytes = 256 * MiB,
                     const Bytes* initrd = nullptr, const char* cmdline = "console=ttyS0") {
    SparseGuestRam ram(ram_bytes);
    const Loaded l = load(ram, kernel, ram_bytes, initrd, cmdline);
    EXPECT_FALSE(l.ok) << "expected: " << expected;
    EXPECT_NE(l.error.find(expected), std::string::npos) << "error was: " << l.error;
    EXPECT_EQ(ram.writes, 0u) << "nothing may be written before everything is validated";
}

// The builder the GRUB loader and xm create share: the virtual PC's ACPI tables first
// (their RSDP handed to the kernel), then the kernel, and vCPU 0 at its 64-bit entry.
TEST(LinuxDomainBuilder, WritesTheTablesAndTheKernelAndStartsVcpu0AtItsEntry) {
    SparseGuestRam ram(128 * MiB);
    const Bytes kernel = make_bzimage();
    const LinuxDomainImage image{kernel.data(), kernel.size(), nullptr, 0, "console=ttyS0", 128 * MiB, 2};
    GuestEntryState entry{};
    LinuxEntryState placed{};
    const char* error = nullptr;
    ASSERT_TRUE(build_linux_domain(ram, image, entry, placed, &error)) << error;
    EXPECT_EQ(entry.mode, GuestCpuMode::Long64);
    EXPECT_EQ(entry.rip, placed.rip);
    EXPECT_EQ(entry.rip, 16 * MiB + 0x200);
    EXPECT_EQ(entry.rsi, kGuestBootParamsGpa);
    EXPECT_EQ(entry.cr3, placed.cpu.cr3);
    EXPECT_EQ(entry.cs_selector, placed.cpu.cs.selector);
    const std::vector<u8> bios = ram.bytes(kGuestAcpiTablesGpa, kGuestAcpiTablesMaxSize);
    const std::string area(bios.begin(), bios.end());
    EXPECT_NE(area.find("RSD PTR "), std::string::npos) << "the RSDP is in the BIOS area";
    EXPECT_NE(area.find("APIC"), std::string::npos) << "with a MADT";
}

TEST(LinuxDomainBuilder, RefusesNoVcpusBeforeWritingAnything) {
    SparseGuestRam ram(128 * MiB);
    const Bytes kernel = make_bzimage();
    const LinuxDomainImage image{kernel.data(), kernel.size(), nullptr, 0, nullptr, 128 * MiB, 0};
    GuestEntryState entry{};
    LinuxEntryState placed{};
    const char* error = nullptr;
    EXPECT_FALSE(build_linux_domain(ram, image, entry, placed, &error));
    EXPECT_STREQ(error, "a domain needs at least one vCPU");
    EXPECT_EQ(ram.writes, 0u);
}

TEST(LinuxBoot, LoadsTheProtectedModeKernelAtPrefAddress) {
    SparseGuestRam ram(256 * MiB);
    const Bytes kernel = make_bzimage();
    const Loaded l = load(ram, kernel, 256 * MiB);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.entry.kernel_gpa, 16 * MiB);
    EXPECT_EQ(l.entry.kernel_end, 16 * MiB + 8 * MiB);  // init_size
    EXPECT_EQ(l.entry.rip, 16 * MiB + 0x200);
    EXPECT_EQ(l.entry.rsi, kGuestBootParamsGpa);
    EXPECT_EQ(l.entry.boot_params_gpa, kGuestBootParamsGpa);
    EXPECT_EQ(l.entry.protocol_version, 0x020F);
    const usize setup = 5 * 512;
    EXPECT_EQ(ram.bytes(16 * MiB, kernel.size() - setup), Bytes(kernel.begin() + setup, kernel.end()));
}

TEST(LinuxBoot, ZeroPageHoldsTheSetupHeaderAndTheLoaderFields) {
    SparseGuestRam ram(256 * MiB);
    const Bytes kernel = make_bzimage();
    const Bytes initrd(3 * MiB + 123, 0x5A);
    const Loaded l = load(ram, kernel, 256 * MiB, &initrd, "console=ttyS0 root=/dev/ram0");
    ASSERT_TRUE(l.ok) << l.error;
    const Bytes bp = ram.bytes(kGuestBootParamsGpa, 4096);

    // Header bytes come from the image, [0x1F1, 0x26C), except those the loader writes.
    for (usize off = 0x1F1; off < 0x26C; ++off) {
        const bool written =
            off == 0x210 || off == 0x211 || (off >= 0x214 && off < 0x220) || (off >= 0x228 && off < 0x22C);
        if (!written) EXPECT_EQ(bp[off], kernel[off]) << std::hex << off;
    }
    EXPECT_EQ(bp[0x210], 0xFF);                           // type_of_loader: undefined
    EXPECT_TRUE(bp[0x211] & kLinuxLoadedHigh);            // loadflags
    EXPECT_EQ(get<u32>(bp, 0x214), 16 * MiB);             // code32_start = load address
    EXPECT_EQ(get<u32>(bp, 0x218), l.entry.initrd_gpa);   // ramdisk_image
    EXPECT_EQ(get<u32>(bp, 0x21C), initrd.size());        // ramdisk_size
    EXPECT_EQ(get<u32>(bp, 0x228), kGuestCmdlineGpa);     // cmd_line_ptr
    EXPECT_EQ(get<u32>(bp, 0x0C0), 0u);                   // ext_ramdisk_image
    EXPECT_EQ(get<u32>(bp, 0x0C4), 0u);                   // ext_ramdisk_size
    EXPECT_EQ(get<u32>(bp, 0x0C8), 0u);                   // ext_cmd_line_ptr
    EXPECT_EQ(get<u64>(bp, 0x070), kGuestAcpiTablesGpa);  // acpi_rsdp_addr
    EXPECT_EQ(bp[0x1EF], 0);                              // sentinel: the loader copied only the header

    // The e820 table is the one build_guest_e820 makes.
    E820Map e820{};
    const char* error = nullptr;
    ASSERT_TRUE(build_guest_e820(256 * MiB, e820, &error));
    ASSERT_EQ(bp[0x1E8], e820.count);
    for (usize i = 0; i < e820.count; ++i) {
        EXPECT_EQ(get<u64>(bp, 0x2D0 + 20 * i), e820.entries[i].address);
        EXPECT_EQ(get<u64>(bp, 0x2D0 + 20 * i + 8), e820.entries[i].size);
        EXPECT_EQ(get<u32>(bp, 0x2D0 + 20 * i + 16), e820.entries[i].type);
    }
    // Everything else stays zero: screen_info .. acpi_rsdp_addr, and past the e820 table.
    for (usize off = 0; off < 0x070; ++off) EXPECT_EQ(bp[off], 0) << std::hex << off;
    for (usize off = 0x078; off < 0x0C0; ++off) EXPECT_EQ(bp[off], 0) << std::hex << off;
    for (usize off = 0x0CC; off < 0x1E8; ++off) EXPECT_EQ(bp[off], 0) << std::hex << off;
    for (usize off = 0x26C; off < 0x2D0; ++off) EXPECT_EQ(bp[off], 0) << std::hex << off;
    for (usize off = 0x2D0 + 20 * e820.count; off < 4096; ++off) EXPECT_EQ(bp[off], 0) << std::hex << off;

    EXPECT_EQ(ram.string_at(kGuestCmdlineGpa, 64), "console=ttyS0 root=/dev/ram0");
}

TEST(LinuxBoot, InitrdGoesHighPageAlignedAndClearOfTheKernel) {
    SparseGuestRam ram(256 * MiB);
    const Bytes initrd(5 * MiB + 1, 0xA5);
    const Loaded l = load(ram, make_bzimage(), 256 * MiB, &initrd);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.entry.initrd_gpa % kPageSize, 0u);
    EXPECT_GE(l.entry.initrd_gpa, l.entry.kernel_end);
    EXPECT_LE(l.entry.initrd_gpa + initrd.size(), 256 * MiB);
    EXPECT_GT(l.entry.initrd_gpa + initrd.size(), 256 * MiB - kPageSize);  // as high as it goes
    EXPECT_EQ(l.entry.initrd_size, initrd.size());
    EXPECT_EQ(ram.bytes(l.entry.initrd_gpa, initrd.size()), initrd);
}

TEST(LinuxBoot, InitrdRespectsInitrdAddrMax) {
    KernelSpec s;
    s.initrd_addr_max = 0x37FFFFFF;  // the pre-2.03 default
    SparseGuestRam ram(2 * GiB);
    const Bytes initrd(1 * MiB, 1);
    const Loaded l = load(ram, make_bzimage(s), 2 * GiB, &initrd);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_LE(l.entry.initrd_gpa + initrd.size() - 1, 0x37FFFFFFu);
    EXPECT_EQ(l.entry.initrd_gpa, 0x38000000u - 1 * MiB);
}

TEST(LinuxBoot, LargeGuestsKeepEverythingBelowTheHole) {
    SparseGuestRam ram(6 * GiB);
    KernelSpec s;
    s.initrd_addr_max = 0xFFFFFFFF;
    const Bytes initrd(2 * MiB, 3);
    const Loaded l = load(ram, make_bzimage(s), 6 * GiB, &initrd);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.entry.initrd_gpa + initrd.size(), kGuestMmioHoleStart);
    const Bytes bp = ram.bytes(kGuestBootParamsGpa, 4096);
    EXPECT_EQ(bp[0x1E8], 4);  // the e820 map includes RAM above 4 GiB
    EXPECT_EQ(get<u64>(bp, 0x2D0 + 3 * 20), 4 * GiB);
    EXPECT_EQ(get<u64>(bp, 0x2D0 + 3 * 20 + 8), 3 * GiB);
}

TEST(LinuxBoot, NoInitrdLeavesTheRamdiskFieldsZero) {
    SparseGuestRam ram(64 * MiB);
    const Loaded l = load(ram, make_bzimage(), 64 * MiB, nullptr, nullptr, 0);
    ASSERT_TRUE(l.ok) << l.error;
    const Bytes bp = ram.bytes(kGuestBootParamsGpa, 4096);
    EXPECT_EQ(get<u32>(bp, 0x218), 0u);
    EXPECT_EQ(get<u32>(bp, 0x21C), 0u);
    EXPECT_EQ(get<u64>(bp, 0x070), 0u);
    EXPECT_EQ(l.entry.initrd_gpa, 0u);
    EXPECT_EQ(ram.string_at(kGuestCmdlineGpa, 16), "");  // a null command line is an empty one
}

TEST(LinuxBoot, SetupSectsZeroMeansFour) {
    KernelSpec s;
    s.setup_sects = 0;
    SparseGuestRam ram(64 * MiB);
    const Bytes kernel = make_bzimage(s);
    const Loaded l = load(ram, kernel, 64 * MiB);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(ram.bytes(16 * MiB, 16), Bytes(kernel.begin() + 5 * 512, kernel.begin() + 5 * 512 + 16));
}

TEST(LinuxBoot, PlacementFollowsRelocatableAlignmentAndPrefAddress) {
    {
        KernelSpec s;  // relocatable, no preference: the 16 MiB default, aligned up
        s.pref_address = 0;
        s.kernel_alignment = 32 * MiB;
        SparseGuestRam ram(256 * MiB);
        const Loaded l = load(ram, make_bzimage(s), 256 * MiB);
        ASSERT_TRUE(l.ok) << l.error;
        EXPECT_EQ(l.entry.kernel_gpa, 32 * MiB);
    }
    {
        KernelSpec s;  // a preference not on the alignment is ignored
        s.pref_address = 17 * MiB;
        SparseGuestRam ram(256 * MiB);
        const Loaded l = load(ram, make_bzimage(s), 256 * MiB);
        ASSERT_TRUE(l.ok) << l.error;
        EXPECT_EQ(l.entry.kernel_gpa, 16 * MiB);
    }
    {
        KernelSpec s;  // non-relocatable: exactly pref_address, aligned or not
        s.relocatable = 0;
        s.pref_address = 17 * MiB;
        SparseGuestRam ram(256 * MiB);
        const Loaded l = load(ram, make_bzimage(s), 256 * MiB);
        ASSERT_TRUE(l.ok) << l.error;
        EXPECT_EQ(l.entry.kernel_gpa, 17 * MiB);
        EXPECT_EQ(l.entry.rip, 17 * MiB + 0x200);
    }
    {
        KernelSpec s;  // a file larger than init_size claims still gets its whole size
        s.init_size = 4096;
        SparseGuestRam ram(64 * MiB);
        const Loaded l = load(ram, make_bzimage(s), 64 * MiB);
        ASSERT_TRUE(l.ok) << l.error;
        EXPECT_EQ(l.entry.kernel_end, 16 * MiB + s.protected_mode_size);
    }
}

TEST(LinuxBoot, EntryStateIsLongModeWithIdentityMappedLowFourGiB) {
    SparseGuestRam ram(256 * MiB);
    const Loaded l = load(ram, make_bzimage(), 256 * MiB);
    ASSERT_TRUE(l.ok) << l.error;
    const LongModeState& cpu = l.entry.cpu;
    EXPECT_EQ(cpu.cr0 & (kCr0Pe | kCr0Pg), kCr0Pe | kCr0Pg);
    EXPECT_EQ(cpu.cr4 & kCr4Pae, kCr4Pae);
    EXPECT_EQ(cpu.efer & (kEferLme | kEferLma), kEferLme | kEferLma);
    EXPECT_EQ(cpu.rflags & (1u << 9), 0u);  // IF clear
    EXPECT_EQ(cpu.rflags & 2u, 2u);
    EXPECT_EQ(cpu.cr3, kGuestBootPml4Gpa);
    EXPECT_EQ(l.entry.rsp, kGuestBootStackTop);

    // Vireo's guest page walker (mm/guest_page_walk) agrees that [0, 4 GiB) is mapped
    // onto itself, writable and executable, and nothing above.
    GuestPagingState paging;
    paging.cr0 = cpu.cr0;
    paging.cr3 = cpu.cr3;
    paging.cr4 = cpu.cr4;
    paging.efer = cpu.efer;
    for (u64 linear : {u64(0), kGuestBootParamsGpa, kGuestCmdlineGpa, l.entry.rip, 256 * MiB - 1, kGuestIoApicBase,
                       kGuestLocalApicBase + 0x300, 4 * GiB - 1}) {
        GuestTranslation t;
        const WalkResult w = walk_guest_page_tables(ram, paging, linear, GuestAccess{.fetch = true}, t);
        ASSERT_TRUE(w.ok()) << std::hex << linear << " " << walk_result_name(w);
        EXPECT_EQ(t.gpa, linear);
        EXPECT_EQ(t.page_size, 2 * MiB);
        EXPECT_TRUE(t.writable);
        EXPECT_TRUE(t.executable);
    }
    GuestTranslation t;
    EXPECT_EQ(walk_guest_page_tables(ram, paging, 4 * GiB, GuestAccess{}, t).kind, WalkResult::PageFault);
    // The hole is mapped uncached (PCD | PWT in the 2 MiB entry).
    const u64 pde = ram.at<u64>(kGuestBootPageDirectoriesGpa + (kGuestLocalApicBase / (2 * MiB)) * 8);
    EXPECT_EQ(pde & 0x18, 0x18u);
    const u64 low_pde = ram.at<u64>(kGuestBootPageDirectoriesGpa + 8 * 8);
    EXPECT_EQ(low_pde & 0x18, 0u);
}

TEST(LinuxBoot, GdtHasA64BitBootCsAndFlatBootDs) {
    SparseGuestRam ram(64 * MiB);
    const Loaded l = load(ram, make_bzimage(), 64 * MiB);
    ASSERT_TRUE(l.ok) << l.error;
    const LongModeState& cpu = l.entry.cpu;
    EXPECT_EQ(cpu.gdt_base, kGuestBootGdtGpa);
    EXPECT_EQ(cpu.gdt_limit, 31);
    EXPECT_EQ(cpu.cs.selector, 0x10);
    for (const GuestSegment* s : {&cpu.ds, &cpu.es, &cpu.ss, &cpu.fs, &cpu.gs}) EXPECT_EQ(s->selector, 0x18);

    // Decode the descriptors in guest memory (SDM vol. 3A 3.4.5).
    auto decode = [&](u16 selector) {
        const u64 d = ram.at<u64>(cpu.gdt_base + selector);
        struct {
            u32 base, limit;
            u8 type;
            bool s, p, l, db, g;
            u8 dpl;
        } r{};
        r.limit = u32((d & 0xFFFF) | ((d >> 32) & 0xF0000));
        r.base = u32(((d >> 16) & 0xFFFFFF) | ((d >> 32) & 0xFF000000));
        r.type = u8((d >> 40) & 0xF);
        r.s = (d >> 44) & 1;
        r.dpl = u8((d >> 45) & 3);
        r.p = (d >> 47) & 1;
        r.l = (d >> 53) & 1;
        r.db = (d >> 54) & 1;
        r.g = (d >> 55) & 1;
        return r;
    };
    const auto cs = decode(0x10);
    EXPECT_TRUE(cs.p && cs.s && cs.g && cs.l);
    EXPECT_FALSE(cs.db);            // L = 1 requires D = 0
    EXPECT_EQ(cs.type & 0xA, 0xA);  // code, readable
    EXPECT_EQ(cs.dpl, 0);
    EXPECT_EQ(cs.base, 0u);
    EXPECT_EQ(cs.limit, 0xFFFFFu);
    const auto ds = decode(0x18);
    EXPECT_TRUE(ds.p && ds.s && ds.g && ds.db);
    EXPECT_EQ(ds.type & 0xA, 0x2);  // data, writable
    EXPECT_EQ(ds.base, 0u);
    EXPECT_EQ(ds.limit, 0xFFFFFu);
    // The VMCS-layout access rights match the descriptors.
    EXPECT_EQ(cpu.cs.access_rights, u32((ram.at<u64>(cpu.gdt_base + 0x10) >> 40) & 0xF0FF));
    EXPECT_EQ(cpu.ds.access_rights, u32((ram.at<u64>(cpu.gdt_base + 0x18) >> 40) & 0xF0FF));
}

// An i386 kernel (XLF_KERNEL_64 clear) is entered through the 32-bit boot protocol
// (boot.rst "32-bit Boot Protocol"): at its load address, in flat protected mode with
// paging off, CS = __BOOT_CS (32-bit code) and DS = ES = SS = __BOOT_DS in a loaded GDT.
TEST(LinuxBoot, AnI386KernelStartsAtItsLoadAddressInFlatProtectedMode) {
    SparseGuestRam ram(256 * MiB);
    KernelSpec spec;
    spec.xloadflags = 0;
    const Loaded l = load(ram, make_bzimage(spec), 256 * MiB);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_FALSE(l.entry.entry_64);
    EXPECT_EQ(l.entry.rip, l.entry.kernel_gpa) << "code32_start, not +0x200";
    EXPECT_EQ(l.entry.rsi, kGuestBootParamsGpa);
    const LongModeState& cpu = l.entry.cpu;
    EXPECT_EQ(cpu.cr0 & ((1ull << 31) | 1ull), 1ull) << "PE set, PG clear";
    EXPECT_EQ(cpu.cr4, 0u);
    EXPECT_EQ(cpu.efer, 0u);
    EXPECT_EQ(cpu.cs.selector, 0x10);
    EXPECT_EQ(cpu.ds.selector, 0x18);
    const u64 code = ram.at<u64>(cpu.gdt_base + 0x10);
    EXPECT_EQ((code >> 53) & 1, 0u) << "not a 64-bit segment";
    EXPECT_EQ((code >> 54) & 1, 1u) << "D = 1: 32-bit code";
    EXPECT_EQ((code >> 40) & 0xA, 0xAu) << "code, readable";
    EXPECT_EQ(cpu.cs.access_rights, u32((code >> 40) & 0xF0FF));
    EXPECT_EQ(ram.at<u32>(kGuestBootParamsGpa + 0x214), u32(l.entry.kernel_gpa)) << "code32_start";

    // The builder turns it into vCPU 0's protected-mode start on that GDT.
    const GuestEntryState entry = linux_entry_state(l.entry);
    EXPECT_EQ(entry.mode, GuestCpuMode::Protected32);
    EXPECT_EQ(entry.cs_selector, 0x10);
    EXPECT_EQ(entry.data_selector, 0x18);
    EXPECT_EQ(entry.gdt_base, kGuestBootGdtGpa);
    EXPECT_EQ(entry.gdt_limit, 31);
}

TEST(LinuxBoot, BootStructuresDoNotOverlap) {
    SparseGuestRam ram(64 * MiB);
    const Bytes initrd(1 * MiB, 1);
    const Loaded l = load(ram, make_bzimage(), 64 * MiB, &initrd);
    ASSERT_TRUE(l.ok) << l.error;
    struct Range {
        const char* name;
        u64 start, end;
    };
    const std::vector<Range> ranges = {
        {"page tables", kGuestBootPml4Gpa, kGuestBootPageTablesEnd},
        {"boot_params", kGuestBootParamsGpa, kGuestBootParamsGpa + 4096},
        {"gdt", kGuestBootGdtGpa, kGuestBootGdtGpa + 32},
        {"stack", kGuestBootStackBottom, kGuestBootStackTop},
        {"cmdline", kGuestCmdlineGpa, kGuestCmdlineGpa + 2048},
        {"acpi", kGuestAcpiTablesGpa, kGuestAcpiTablesGpa + kGuestAcpiTablesMaxSize},
        {"kernel", l.entry.kernel_gpa, l.entry.kernel_end},
        {"initrd", l.entry.initrd_gpa, l.entry.initrd_gpa + l.entry.initrd_size},
    };
    for (usize i = 0; i < ranges.size(); ++i) {
        EXPECT_GE(ranges[i].start, kPageSize) << ranges[i].name << " uses the first page";
        for (usize j = i + 1; j < ranges.size(); ++j) {
            EXPECT_TRUE(ranges[i].end <= ranges[j].start || ranges[j].end <= ranges[i].start)
                << ranges[i].name << " overlaps " << ranges[j].name;
        }
    }
}

TEST(LinuxBoot, RejectsImagesThatAreNotBzImages) {
    KernelSpec s;
    Bytes k = make_bzimage(s);
    Bytes bad_flag = k;
    put<u16>(bad_flag, 0x1FE, 0x1234);
    expect_rejected(bad_flag, "0xAA55");
    Bytes no_hdrs = k;
    std::memcpy(&no_hdrs[0x202], "HdrX", 4);
    expect_rejected(no_hdrs, "HdrS");
    expect_rejected(Bytes(k.begin(), k.begin() + 0x100), "too small");
    expect_rejected(Bytes(k.begin(), k.begin() + 0x204), "HdrS");

    KernelSpec old = s;
    old.version = 0x020B;
    expect_rejected(make_bzimage(old), "older than 2.12");
    KernelSpec zimage = s;
    zimage.loadflags = 0;
    expect_rejected(make_bzimage(zimage), "zImage");
    KernelSpec short_header = s;
    short_header.header_length_byte = 0x50;  // ends at 0x252, before pref_address/init_size
    expect_rejected(make_bzimage(short_header), "ends before");
    KernelSpec long_header = s;
    long_header.header_length_byte = 0x90;  // 0x292
    expect_rejected(make_bzimage(long_header), "past 0x290");
    KernelSpec no_init_size = s;
    no_init_size.init_size = 0;
    expect_rejected(make_bzimage(no_init_size), "init_size");
    KernelSpec odd_alignment = s;
    odd_alignment.kernel_alignment = 3 * MiB;
    expect_rejected(make_bzimage(odd_alignment), "power of two");
    KernelSpec fixed_nowhere = s;
    fixed_nowhere.relocatable = 0;
    fixed_nowhere.pref_address = 0;
    expect_rejected(make_bzimage(fixed_nowhere), "non-relocatable");

    LinuxBootInputs in{};
    LinuxEntryState out{};
    const char* error = nullptr;
    EXPECT_FALSE(load_linux_kernel(*std::make_unique<SparseGuestRam>(64 * MiB), in, out, &error));
    EXPECT_NE(error, nullptr);
}

TEST(LinuxBoot, RejectsTruncatedImages) {
    const Bytes k = make_bzimage();
    expect_rejected(Bytes(k.begin(), k.begin() + 0x260), "inside its setup header");
    expect_rejected(Bytes(k.begin(), k.begin() + 5 * 512), "setup_sects");  // no protected-mode byte at all
    expect_rejected(Bytes(k.begin(), k.end() - 16), "syssize");
    Bytes sects = make_bzimage();
    sects[0x1F1] = 200;  // 100 KiB of setup in a 66 KiB file
    expect_rejected(sects, "setup_sects");
}

TEST(LinuxBoot, RejectsWhatDoesNotFitInRam) {
    const Bytes k = make_bzimage();
    expect_rejected(k, "RAM too small", 16 * MiB);
    expect_rejected(k, "RAM too small", 24 * MiB - kPageSize);  // init_size ends 4 KiB past RAM
    expect_rejected(k, "2 MiB", 1 * MiB);
    expect_rejected(k, "4 KiB", 64 * MiB + 512);
    SparseGuestRam exact(24 * MiB);
    EXPECT_TRUE(load(exact, k, 24 * MiB).ok);  // init_size ends exactly at the end of RAM

    const Bytes exact_initrd(40 * MiB, 0);  // 16 MiB + 8 MiB init_size + 40 MiB = all of 64 MiB
    SparseGuestRam full(64 * MiB);
    const Loaded l = load(full, k, 64 * MiB, &exact_initrd);
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.entry.initrd_gpa, l.entry.kernel_end);
    const Bytes initrd(40 * MiB + 1, 0);  // one byte more needs one more page
    expect_rejected(k, "initrd too big", 64 * MiB, &initrd);
    SparseGuestRam big(64 * MiB + kPageSize);
    EXPECT_TRUE(load(big, k, 64 * MiB + kPageSize, &initrd).ok);

    KernelSpec low_max;
    low_max.initrd_addr_max = 24 * MiB + 512 * KiB;  // only 512 KiB between init_size and the limit
    const Bytes one_mib(1 * MiB, 0);
    expect_rejected(make_bzimage(low_max), "initrd too big", 256 * MiB, &one_mib);
}

TEST(LinuxBoot, CommandLineLongerThanCmdlineSizeIsAnError) {
    KernelSpec s;
    s.cmdline_size = 16;
    const Bytes k = make_bzimage(s);
    SparseGuestRam ram(64 * MiB);
    const Loaded fits = load(ram, k, 64 * MiB, nullptr, "0123456789abcdef");  // exactly 16
    ASSERT_TRUE(fits.ok) << fits.error;
    EXPECT_EQ(ram.string_at(kGuestCmdlineGpa, 32), "0123456789abcdef");
    expect_rejected(k, "cmdline_size", 256 * MiB, nullptr, "0123456789abcdefg");

    // A kernel accepting more than the buffer in low memory still cannot get more.
    KernelSpec huge = s;
    huge.cmdline_size = 0xFFFFFFFF;
    const std::string too_long(kGuestCmdlineMaxBytes, 'x');
    expect_rejected(make_bzimage(huge), "buffer", 256 * MiB, nullptr, too_long.c_str());
    const std::string longest(kGuestCmdlineMaxBytes - 1, 'x');
    SparseGuestRam ram2(64 * MiB);
    EXPECT_TRUE(load(ram2, make_bzimage(huge), 64 * MiB, nullptr, longest.c_str()).ok);
}

TEST(LinuxBoot, InitrdSizeWithoutDataIsAnError) {
    LinuxBootInputs in{};
    const Bytes k = make_bzimage();
    in.kernel = k.data();
    in.kernel_size = k.size();
    in.initrd_size = 4096;
    in.ram_bytes = 64 * MiB;
    SparseGuestRam ram(64 * MiB);
    LinuxEntryState out{};
    const char* error = nullptr;
    EXPECT_FALSE(load_linux_kernel(ram, in, out, &error));
    EXPECT_NE(std::string(error ? error : "").find("initrd"), std::string::npos);
    EXPECT_EQ(ram.writes, 0u);
}

TEST(LinuxBoot, RefusedGuestMemoryIsAnError) {
    SparseGuestRam ram(64 * MiB);
    ram.refuse(kGuestBootParamsGpa, 8);
    const Loaded l = load(ram, make_bzimage(), 64 * MiB);
    EXPECT_FALSE(l.ok);
    EXPECT_NE(l.error.find("refused"), std::string::npos) << l.error;
}

// Mangled headers and cut-off files never make the loader read or write out of bounds
// (ASan watches) and either load or fail with a message.
TEST(LinuxBoot, MangledImagesNeverCrash) {
    const Bytes good = make_bzimage();
    std::mt19937 rng(20240607);
    for (int round = 0; round < 400; ++round) {
        Bytes k = good;
        const int flips = 1 + int(rng() % 8);
        for (int i = 0; i < flips; ++i) k[0x1F1 + rng() % (0x290 - 0x1F1)] = u8(rng());
        if (rng() % 2) k.resize(rng() % k.size());
        // Exact-size heap copy so ASan catches any read past the end.
        std::unique_ptr<u8[]> exact(new u8[k.size() ? k.size() : 1]);
        if (!k.empty()) std::memcpy(exact.get(), k.data(), k.size());
        LinuxBootInputs in{};
        in.kernel = exact.get();
        in.kernel_size = k.size();
        in.cmdline = "x";
        in.ram_bytes = 128 * MiB;
        SparseGuestRam ram(128 * MiB);
        LinuxEntryState out{};
        const char* error = nullptr;
        const bool ok = load_linux_kernel(ram, in, out, &error);
        EXPECT_EQ(ok, error == nullptr);
        if (ok) EXPECT_EQ(out.rip, out.kernel_gpa + (out.entry_64 ? 0x200 : 0));
    }
}

// A distribution kernel, when this machine has one: $VIREO_LINUX_BZIMAGE, Debian's kernel
// as tools/linux-guest-assets caches it, or /boot/vmlinuz-*.
std::string find_real_kernel() {
    if (const char* env = std::getenv("VIREO_LINUX_BZIMAGE")) return env;
    std::error_code ec;
    if (const char* home = std::getenv("HOME")) {
        const std::string cached = std::string(home) + "/.cache/vireo/linux/vmlinuz";
        if (std::filesystem::exists(cached, ec)) return cached;
    }
    for (const auto& entry : std::filesystem::directory_iterator("/boot", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("vmlinuz-", 0) == 0) return entry.path().string();
    }
    return {};
}

TEST(LinuxBoot, RealKernelFromThisMachine) {
    const std::string path = find_real_kernel();
    if (path.empty()) GTEST_SKIP() << "no bzImage: set VIREO_LINUX_BZIMAGE or run tools/linux-guest-assets";
    std::ifstream file(path, std::ios::binary);
    if (!file) GTEST_SKIP() << "cannot read " << path;
    const Bytes kernel((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());

    LinuxBzImage image{};
    const char* error = nullptr;
    ASSERT_TRUE(parse_linux_bzimage(kernel.data(), kernel.size(), image, &error)) << path << ": " << error;
    EXPECT_GE(image.protocol_version, 0x020C);
    EXPECT_TRUE(image.relocatable);
    EXPECT_GE(image.init_size, image.protected_mode_size);
    EXPECT_GE(image.cmdline_size, 255u);

    SparseGuestRam ram(1 * GiB);
    const Bytes initrd(16 * MiB, 0);
    const Loaded l = load(ram, kernel, 1 * GiB, &initrd, "console=ttyS0 earlyprintk=serial");
    ASSERT_TRUE(l.ok) << l.error;
    EXPECT_EQ(l.entry.kernel_gpa % image.kernel_alignment, 0u);
    EXPECT_GE(l.entry.initrd_gpa, l.entry.kernel_end);
    // The 64-bit entry point of x86_64 head_64.S starts at +0x200 of the protected-mode
    // image; an i386 kernel (VIREO_LINUX_BZIMAGE may name one) starts at its first byte.
    EXPECT_EQ(l.entry.entry_64, image.kernel_64);
    EXPECT_EQ(l.entry.rip, l.entry.kernel_gpa + (image.kernel_64 ? 0x200 : 0));
}

}  // namespace
