// Test doubles for the guest firmware tests (guest ACPI tables, e820, Linux loader): guest
// RAM laid out as kernel/vm/firmware/guest_pc_layout.hpp says, stored sparsely so that a
// multi-GiB guest costs only the pages written, and an AcpiMemory view of it for the
// drivers/acpi parser.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "drivers/acpi/acpi_tables.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "mm/guest_page_walk.hpp"

namespace guest_firmware_test {

// RAM at [0, min(ram, 3 GiB)) and [4 GiB, 4 GiB + ram - 3 GiB); everything else (the MMIO
// hole, past the end, or an explicitly refused range) fails like MMIO would. Unwritten RAM
// reads as zero.
class SparseGuestRam final : public GuestPhysicalMemory {
public:
    explicit SparseGuestRam(u64 ram_bytes) : ram_bytes_(ram_bytes) {}

    // Makes [gpa, gpa + len) fail every access, as if a device were mapped there.
    void refuse(u64 gpa, u64 len) { refused_.push_back({gpa, len}); }

    bool read(u64 gpa, void* dst, usize len) override {
        if (!is_ram(gpa, len)) return false;
        u8* out = static_cast<u8*>(dst);
        for (usize i = 0; i < len;) {
            const u64 at = gpa + i;
            const usize in_page = std::min<usize>(len - i, kPageSize - at % kPageSize);
            auto page = pages_.find(at / kPageSize);
            if (page == pages_.end())
                std::memset(out + i, 0, in_page);
            else
                std::memcpy(out + i, page->second.get() + at % kPageSize, in_page);
            i += in_page;
        }
        return true;
    }

    bool write(u64 gpa, const void* src, usize len) override {
        if (!is_ram(gpa, len)) return false;
        ++writes;
        const u8* in = static_cast<const u8*>(src);
        for (usize i = 0; i < len;) {
            const u64 at = gpa + i;
            const usize in_page = std::min<usize>(len - i, kPageSize - at % kPageSize);
            std::unique_ptr<u8[]>& page = pages_[at / kPageSize];
            if (!page) page = std::make_unique<u8[]>(kPageSize);  // value-initialised: zeros
            std::memcpy(page.get() + at % kPageSize, in + i, in_page);
            i += in_page;
        }
        return true;
    }

    bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) override {
        u64 current = 0;
        if (!read(gpa, &current, size)) return false;
        exchanged = current == expected;
        return !exchanged || write(gpa, &desired, size);
    }

    std::vector<u8> bytes(u64 gpa, usize len) {
        std::vector<u8> v(len);
        EXPECT_TRUE(read(gpa, v.data(), len)) << "read of " << len << " bytes at 0x" << std::hex << gpa;
        return v;
    }
    template <typename T>
    T at(u64 gpa) {
        T v{};
        EXPECT_TRUE(read(gpa, &v, sizeof v)) << "read at 0x" << std::hex << gpa;
        return v;
    }
    std::string string_at(u64 gpa, usize max) {
        std::vector<u8> v = bytes(gpa, max);
        auto nul = std::find(v.begin(), v.end(), 0);
        EXPECT_NE(nul, v.end()) << "no NUL within " << max << " bytes at 0x" << std::hex << gpa;
        return std::string(v.begin(), nul);
    }

    usize pages_touched() const { return pages_.size(); }
    usize writes = 0;

private:
    bool is_ram(u64 gpa, u64 len) const {
        if (gpa + len < gpa) return false;
        for (const auto& r : refused_) {
            if (gpa < r.first + r.second && r.first < gpa + len) return false;
        }
        const u64 low = guest_ram_below_4g(ram_bytes_);
        const u64 high = guest_ram_above_4g(ram_bytes_);
        if (gpa + len <= low) return true;
        return gpa >= kGuestHighMemoryStart && gpa + len <= kGuestHighMemoryStart + high;
    }

    u64 ram_bytes_;
    std::map<u64, std::unique_ptr<u8[]>> pages_;
    std::vector<std::pair<u64, u64>> refused_;
};

// The parser's view of guest memory: each map() copies the range out (the parser never
// holds two mappings at once, so one buffer is enough). The copy sits one byte into its
// allocation so that UBSan flags any misaligned direct load.
class GuestAcpiMemory final : public AcpiMemory {
public:
    explicit GuestAcpiMemory(GuestPhysicalMemory& ram) : ram_(ram) {}
    const u8* map(PhysAddr phys, u64 length) override {
        if (length > 16 * MiB) return nullptr;
        buffer_.assign(length + 1, 0);
        if (!ram_.read(phys, buffer_.data() + 1, length)) return nullptr;
        return buffer_.data() + 1;
    }

private:
    GuestPhysicalMemory& ram_;
    std::vector<u8> buffer_;
};

}  // namespace guest_firmware_test
