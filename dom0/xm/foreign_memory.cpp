#include "dom0/xm/foreign_memory.hpp"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "dom0/include/vireo_control.h"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace xm {

void ForeignGuestMemory::unmap() {
    if (window_) munmap(window_, window_bytes_);
    window_ = nullptr;
    window_bytes_ = 0;
}

bool ForeignGuestMemory::map_window(u64 gpa) {
    unmap();
    // The RAM block that holds gpa: [0, below the hole) or [4 GiB, 4 GiB + the rest).
    const u64 below = guest_ram_below_4g(ram_bytes_);
    const u64 above = guest_ram_above_4g(ram_bytes_);
    u64 block_end;
    if (gpa < below) {
        block_end = below;
    } else if (gpa >= kGuestHighMemoryStart && gpa - kGuestHighMemoryStart < above) {
        block_end = kGuestHighMemoryStart + above;
    } else {
        char text[96];
        snprintf(text, sizeof(text), "guest-physical 0x%llx is not the domain's RAM", (unsigned long long)gpa);
        failure_ = text;
        return false;
    }
    const u64 start = gpa & ~(kWindowBytes - 1);
    const u64 bytes = block_end - start < kWindowBytes ? block_end - start : kWindowBytes;
    void* at = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                    off_t(VIREO_FOREIGN_OFFSET(domain_, start / kPageSize)));
    if (at == MAP_FAILED) {
        char text[128];
        snprintf(text, sizeof(text), "mapping its memory at 0x%llx failed: %s", (unsigned long long)start,
                 strerror(errno));
        failure_ = text;
        return false;
    }
    window_ = static_cast<uint8_t*>(at);
    window_gpa_ = start;
    window_bytes_ = bytes;
    return true;
}

template <typename Copy>
bool ForeignGuestMemory::access(u64 gpa, usize len, Copy copy) {
    usize done = 0;
    while (done < len) {
        const u64 at = gpa + done;
        if (!window_ || at < window_gpa_ || at - window_gpa_ >= window_bytes_) {
            if (!map_window(at)) return false;
        }
        const u64 offset = at - window_gpa_;
        const usize n = usize(window_bytes_ - offset < len - done ? window_bytes_ - offset : len - done);
        copy(window_ + offset, done, n);
        done += n;
    }
    return true;
}

bool ForeignGuestMemory::read(u64 gpa, void* dst, usize len) {
    auto* out = static_cast<uint8_t*>(dst);
    return access(gpa, len, [&](const uint8_t* mapped, usize done, usize n) { memcpy(out + done, mapped, n); });
}

bool ForeignGuestMemory::write(u64 gpa, const void* src, usize len) {
    const auto* in = static_cast<const uint8_t*>(src);
    return access(gpa, len, [&](uint8_t* mapped, usize done, usize n) { memcpy(mapped, in + done, n); });
}

}  // namespace xm
