// A new domain's RAM as the firmware code (kernel/vm/firmware) writes it, reached through
// /dev/vireo's foreign mappings (dom0/include/vireo_control.h): one window of up to
// 16 MiB of the domain's memory mapped into this process at a time, moved as the writes
// move, as libxc maps a domain's memory on Xen. RAM is the virtual PC's layout
// (guest_pc_layout.hpp): below the MMIO hole, and above 4 GiB.
#pragma once

#include <stdint.h>

#include <string>

#include "mm/guest_page_walk.hpp"

namespace xm {

class ForeignGuestMemory final : public GuestPhysicalMemory {
public:
    ForeignGuestMemory(int device_fd, uint32_t domain, uint64_t ram_bytes)
        : fd_(device_fd), domain_(domain), ram_bytes_(ram_bytes) {}
    ~ForeignGuestMemory() { unmap(); }
    ForeignGuestMemory(const ForeignGuestMemory&) = delete;
    ForeignGuestMemory& operator=(const ForeignGuestMemory&) = delete;

    bool read(u64 gpa, void* dst, usize len) override;
    bool write(u64 gpa, const void* src, usize len) override;
    // The builder never needs it (only the guest page walker does).
    bool compare_exchange(u64, u64, u64, usize, bool&) override { return false; }

    // Why the last access failed, in a user's words; empty when none did.
    const std::string& failure() const { return failure_; }
    // Ends the window now (the destructor does too).
    void unmap();

private:
    static constexpr uint64_t kWindowBytes = 16ull << 20;  // VIREO_FOREIGN_MAX_PAGES pages
    // Maps the window that holds `gpa`; false (with failure_) outside RAM or when mmap fails.
    bool map_window(u64 gpa);
    template <typename Copy>
    bool access(u64 gpa, usize len, Copy copy);

    int fd_;
    uint32_t domain_;
    uint64_t ram_bytes_;
    uint8_t* window_ = nullptr;
    uint64_t window_gpa_ = 0, window_bytes_ = 0;
    std::string failure_;
};

}  // namespace xm
