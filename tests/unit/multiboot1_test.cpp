// The Multiboot (version 1) boot information parser: the structure as QEMU's -kernel
// loader lays it out (scattered over low memory, strings beginning with the file's path),
// and malformed ones: pointers outside memory, strings without their end, lists that
// end inside an entry.
#include "boot/multiboot1.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr u32 kFlagCmdline = 1u << 2;
constexpr u32 kFlagModules = 1u << 3;
constexpr u32 kFlagMemoryMap = 1u << 6;
constexpr u32 kFlagBootloaderName = 1u << 9;
constexpr PhysAddr kInfo = 0x9500;  // QEMU 7.2's ADDR_MBI; its memory map is at 0x9000

// Physical memory [0, size): what lies beyond is unreadable.
class LowMemory final : public BootMemory {
public:
    explicit LowMemory(usize size = 2 * MiB) : bytes_(size, 0) {}
    const u8* map(PhysAddr phys, u64 length) override {
        if (phys > bytes_.size() || length > bytes_.size() - phys) return nullptr;
        return bytes_.data() + phys;
    }
    void put32(PhysAddr at, u32 v) { std::memcpy(&bytes_.at(at), &v, 4); }
    void put64(PhysAddr at, u64 v) { std::memcpy(&bytes_.at(at), &v, 8); }
    void put_string(PhysAddr at, const std::string& s) { std::memcpy(&bytes_.at(at), s.c_str(), s.size() + 1); }
    void fill(PhysAddr at, usize n, char c) { std::memset(&bytes_.at(at), c, n); }
    usize size() const { return bytes_.size(); }

private:
    std::vector<u8> bytes_;
};

// The information QEMU 7.2 builds (hw/i386/multiboot.c): the memory map at 0x9000, the
// fixed part at 0x9500, the module list and the strings elsewhere (after the kernel).
struct QemuLikeInfo {
    LowMemory memory;
    u32 flags = kFlagCmdline | kFlagModules | kFlagMemoryMap | kFlagBootloaderName;

    QemuLikeInfo() {
        memory.put_string(0x10000, "/build/vireo-boot.bin console=com1 loglevel=info");
        memory.put_string(0x10100, "qemu");
        // Two modules: a kernel with its domain's line, an initramfs with none.
        memory.put32(0x11000, 0x2e2000);
        memory.put32(0x11004, 0xabf7c0);
        memory.put32(0x11008, 0x10200);
        memory.put32(0x11010, 0xac0000);
        memory.put32(0x11014, 0xbea880);
        memory.put32(0x11018, 0x10300);
        memory.put_string(0x10200, "build/linux/vmlinuz domain name=linux mem=256M -- console=ttyS0");
        memory.put_string(0x10300, "build/linux/initramfs.cpio.gz");
        // Two memory map entries of 24 bytes (size field 20).
        entry(0x9000, 0, 0x9fc00, 1);
        entry(0x9018, 0x100000, 0x3fee0000, 1);
        write_fixed(2, 0x11000, 48, 0x9000);
    }
    void entry(PhysAddr at, u64 base, u64 length, u32 type, u32 size = 20) {
        memory.put32(at, size);
        memory.put64(at + 4, base);
        memory.put64(at + 12, length);
        memory.put32(at + 20, type);
    }
    void write_fixed(u32 mods_count, u32 mods_addr, u32 mmap_length, u32 mmap_addr) {
        memory.put32(kInfo, flags);
        memory.put32(kInfo + 16, 0x10000);
        memory.put32(kInfo + 20, mods_count);
        memory.put32(kInfo + 24, mods_addr);
        memory.put32(kInfo + 44, mmap_length);
        memory.put32(kInfo + 48, mmap_addr);
        memory.put32(kInfo + 64, 0x10100);
    }
    bool parse(Multiboot2Info& out, const char** error) { return parse_multiboot1(memory, kInfo, out, error); }
};

std::string failure(QemuLikeInfo& info) {
    static Multiboot2Info out;
    const char* error = nullptr;
    EXPECT_FALSE(info.parse(out, &error));
    return error ? error : "";
}

TEST(Multiboot1Test, QemusInformationBecomesWhatGrubsMultiboot2WouldGive) {
    QemuLikeInfo info;
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_STREQ(out.cmdline, "console=com1 loglevel=info");  // the path dropped
    EXPECT_STREQ(out.bootloader_name, "qemu");
    ASSERT_EQ(out.module_count, 2u);
    EXPECT_EQ(out.modules[0].start, 0x2e2000u);
    EXPECT_EQ(out.modules[0].end, 0xabf7c0u);
    EXPECT_STREQ(out.modules[0].cmdline, "domain name=linux mem=256M -- console=ttyS0");
    EXPECT_STREQ(out.modules[1].cmdline, "");
    EXPECT_FALSE(out.modules[0].cmdline_truncated);
    ASSERT_TRUE(out.has_memory_map);
    ASSERT_EQ(out.memory_region_count, 2u);
    EXPECT_EQ(out.memory_regions[1].base, 0x100000u);
    EXPECT_EQ(out.memory_regions[1].length, 0x3fee0000u);
    EXPECT_EQ(out.memory_regions[1].type, 1u);
    EXPECT_EQ(out.info_start, kInfo);
    EXPECT_EQ(out.rsdp_length, 0u);  // version 1 has none: the kernel searches for it
}

TEST(Multiboot1Test, GrubTwoLeavesThePathOutAndItIsNotDropped) {
    QemuLikeInfo info;
    info.memory.put_string(0x10100, "GRUB 2.06-13+deb12u2");
    info.memory.put_string(0x10000, "console=com1 loglevel=info");
    info.memory.put_string(0x10200, "domain name=linux mem=256M");
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_STREQ(out.cmdline, "console=com1 loglevel=info");
    EXPECT_STREQ(out.modules[0].cmdline, "domain name=linux mem=256M");
    // GRUB Legacy puts it first, as QEMU does.
    info.memory.put_string(0x10100, "GNU GRUB 0.97");
    info.memory.put_string(0x10000, "/boot/vireo-boot.bin console=com1");
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_STREQ(out.cmdline, "console=com1");
}

TEST(Multiboot1Test, AnEmptyAppendLeavesThePathAndABlank) {
    QemuLikeInfo info;  // QEMU's "%s %s" of the file and an empty -append
    info.memory.put_string(0x10000, "build/vireo-boot.bin ");
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_TRUE(out.has_cmdline);
    EXPECT_STREQ(out.cmdline, "");
}

TEST(Multiboot1Test, AbsentFieldsStayAbsent) {
    QemuLikeInfo info;
    info.flags = kFlagMemoryMap;
    info.write_fixed(2, 0x11000, 48, 0x9000);
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_FALSE(out.has_cmdline);
    EXPECT_STREQ(out.cmdline, "");
    EXPECT_FALSE(out.has_bootloader_name);
    EXPECT_EQ(out.module_count, 0u);
    EXPECT_EQ(out.memory_region_count, 2u);
}

TEST(Multiboot1Test, ALineWithoutArgumentsIsEmptyAndMemoryMapEntriesMayBeLarger) {
    QemuLikeInfo info;
    info.memory.put_string(0x10000, "vireo-boot.bin");
    // A 28-byte entry (size 24): the next one starts 28 bytes on.
    info.entry(0x9000, 0, 0x9fc00, 1, 24);
    info.entry(0x901c, 0x100000, 0x1000000, 2);
    info.write_fixed(2, 0x11000, 52, 0x9000);
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_STREQ(out.cmdline, "");
    ASSERT_EQ(out.memory_region_count, 2u);
    EXPECT_EQ(out.memory_regions[1].type, 2u);
}

TEST(Multiboot1Test, AModuleLineTooLongIsKeptCutAndMarked) {
    QemuLikeInfo info;
    info.memory.put_string(0x10200, "path " + std::string(300, 'a'));
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_TRUE(out.modules[0].cmdline_truncated);
    EXPECT_EQ(std::strlen(out.modules[0].cmdline), sizeof out.modules[0].cmdline - 1);
    // 255 characters of it after a path of 250: it fits once the path is dropped.
    info.memory.put_string(0x10200, std::string(250, 'p') + " " + std::string(255, 'a'));
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_FALSE(out.modules[0].cmdline_truncated);
    EXPECT_EQ(std::string(out.modules[0].cmdline), std::string(255, 'a'));
}

TEST(Multiboot1Test, MalformedInformationIsAnErrorWithItsReason) {
    {
        LowMemory memory(kInfo + 40);  // the fixed part runs past memory's end
        static Multiboot2Info out;
        const char* error = nullptr;
        EXPECT_FALSE(parse_multiboot1(memory, kInfo, out, &error));
        EXPECT_STREQ(error, "multiboot1: the boot information is outside readable memory");
    }
    {
        QemuLikeInfo info;
        info.memory.put32(kInfo + 16, 0x7fffff00);
        EXPECT_EQ(failure(info), "multiboot1: the command line runs outside readable memory");
    }
    {
        QemuLikeInfo info;
        info.memory.fill(0x40000, 3000, 'x');
        info.memory.put32(kInfo + 16, 0x40000);
        EXPECT_EQ(failure(info), "multiboot1: command line longer than 1023 characters");
    }
    {
        QemuLikeInfo info;  // "path" and 1024 characters: too long once the path is gone
        info.memory.put_string(0x40000, "path " + std::string(1024, 'c'));
        info.memory.put32(kInfo + 16, 0x40000);
        EXPECT_EQ(failure(info), "multiboot1: command line longer than 1023 characters");
    }
    {
        QemuLikeInfo info;
        info.memory.fill(0x10100, 100, 'q');
        EXPECT_EQ(failure(info), "multiboot1: boot loader name longer than 63 characters");
    }
    {
        QemuLikeInfo info;
        info.write_fixed(2, 0x1ffff8, 48, 0x9000);
        EXPECT_EQ(failure(info), "multiboot1: the module list is outside readable memory");
    }
    {
        QemuLikeInfo info;
        info.write_fixed(5000, 0x11000, 48, 0x9000);
        EXPECT_EQ(failure(info), "multiboot1: mods_count is beyond any module list (more than 4096 modules)");
    }
    {
        QemuLikeInfo info;
        info.memory.put32(0x11004, 0x1000);
        EXPECT_EQ(failure(info), "multiboot1: module with mod_end below mod_start");
    }
    {
        QemuLikeInfo info;
        info.memory.fill(info.memory.size() - 16, 16, 'm');
        info.memory.put32(0x11008, u32(info.memory.size() - 16));
        EXPECT_EQ(failure(info), "multiboot1: a module string runs outside readable memory");
    }
    {
        QemuLikeInfo info;
        info.write_fixed(2, 0x11000, 40, 0x9000);
        EXPECT_EQ(failure(info), "multiboot1: memory map ends inside an entry");
    }
    {
        QemuLikeInfo info;
        info.entry(0x9018, 0x100000, 0x1000, 1, 40);
        EXPECT_EQ(failure(info), "multiboot1: memory map entry extends past mmap_length");
    }
    {
        QemuLikeInfo info;
        info.entry(0x9018, 0x100000, 0x1000, 1, 8);
        EXPECT_EQ(failure(info), "multiboot1: memory map entry smaller than 20 bytes");
    }
    {
        QemuLikeInfo info;
        info.write_fixed(2, 0x11000, 48, 0x1ffff0);
        EXPECT_EQ(failure(info), "multiboot1: the memory map is outside readable memory");
    }
    {
        QemuLikeInfo info;
        info.write_fixed(2, 0x11000, 0x20000, 0x9000);
        EXPECT_EQ(failure(info), "multiboot1: mmap_length above 64 KiB, refusing to parse");
    }
    {
        QemuLikeInfo info;  // 130 entries of 24 bytes
        for (u32 i = 0; i < 130; ++i) info.entry(0x20000 + i * 24, u64(i) << 20, 1 << 20, 1);
        info.write_fixed(2, 0x11000, 130 * 24, 0x20000);
        EXPECT_EQ(failure(info),
                  "multiboot1: memory map has more than 128 entries (Multiboot2Info::kMaxMemoryRegions)");
    }
}

TEST(Multiboot1Test, ModulesBeyondTheCopyAreCountedNotKept) {
    QemuLikeInfo info;
    const u32 count = Multiboot2Info::kMaxModules + 3;
    for (u32 i = 0; i < count; ++i) {
        info.memory.put32(0x30000 + i * 16, 0x400000 + i * 0x1000);
        info.memory.put32(0x30000 + i * 16 + 4, 0x400000 + i * 0x1000 + 0x800);
        info.memory.put32(0x30000 + i * 16 + 8, 0);
    }
    info.write_fixed(count, 0x30000, 48, 0x9000);
    static Multiboot2Info out;
    const char* error = nullptr;
    ASSERT_TRUE(info.parse(out, &error)) << error;
    EXPECT_EQ(out.module_count, Multiboot2Info::kMaxModules);
    EXPECT_EQ(out.modules_dropped, 3u);
}

}  // namespace
