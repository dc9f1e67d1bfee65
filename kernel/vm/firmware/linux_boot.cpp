#include "kernel/vm/firmware/linux_boot.hpp"

#include "kernel/vm/firmware/e820_map.hpp"
#include "kernel/vm/firmware/guest_memory_writer.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "kernel/vm/firmware/linux_boot_params.hpp"
#include "kernel/vm/firmware/linux_bzimage.hpp"
#include "kernel/vm/firmware/protected_mode_boot.hpp"

namespace {

struct Placement {
    u64 kernel = 0, kernel_end = 0;
    u64 initrd = 0;
    usize cmdline_length = 0;
};

bool fail(const char** error, const char* message) {
    *error = message;
    return false;
}

// The highest address below 4 GiB: code32_start and the initrd fields the loader fills
// are 32 bits (the ext_ fields are not used for the kernel itself).
constexpr u64 k4GiB = 4 * GiB;

// boot.rst: a relocatable kernel runs at its load address aligned up to kernel_alignment,
// a non-relocatable one at pref_address. Either way the kernel then needs init_size bytes
// from there (and never less than the file it was loaded from) before it reads e820. The
// first RAM entry of the map with room at or above that address takes it (a relocatable
// kernel never decompresses below LOAD_PHYSICAL_ADDR, which pref_address is).
bool place_kernel(const LinuxBzImage& k, const E820Map& e820, Placement& p, const char** error) {
    const bool pref_usable =
        k.pref_address >= kGuestHighRamStart && (!k.relocatable || is_aligned(k.pref_address, k.kernel_alignment));
    u64 want;
    if (pref_usable) {
        want = k.pref_address;
    } else if (k.relocatable) {
        want = align_up(kLinuxDefaultLoadAddress, k.kernel_alignment);
    } else {
        return fail(error, "non-relocatable kernel without a pref_address at or above 1 MiB");
    }
    const u64 footprint = k.init_size > k.protected_mode_size ? k.init_size : k.protected_mode_size;
    for (usize i = 0; i < e820.count; ++i) {
        const E820Entry& e = e820.entries[i];
        if (e.type != kE820Ram) continue;
        const u64 end = e.address + e.size < k4GiB ? e.address + e.size : k4GiB;
        u64 at = e.address > want ? e.address : want;
        if (k.relocatable) at = align_up(at, k.kernel_alignment);
        if (!k.relocatable && at != want) break;
        if (at < end && footprint <= end - at) {
            p.kernel = at;
            p.kernel_end = at + footprint;
            return true;
        }
    }
    return fail(error, "guest RAM too small: the kernel's load address + init_size lies past RAM below 3 GiB");
}

// As high as possible (boot.rst initrd_addr_max: the highest byte it may occupy), page
// aligned, in RAM above everything the kernel needs while it decompresses.
bool place_initrd(const LinuxBzImage& k, const LinuxBootInputs& in, const E820Map& e820, Placement& p,
                  const char** error) {
    if (in.initrd_size == 0) return true;
    if (in.initrd == nullptr) return fail(error, "initrd size given without initrd data");
    const u64 limit = u64(k.initrd_addr_max) + 1;
    for (usize i = e820.count; i-- > 0;) {
        const E820Entry& e = e820.entries[i];
        if (e.type != kE820Ram) continue;
        const u64 bottom = e.address > p.kernel_end ? e.address : p.kernel_end;
        const u64 top = e.address + e.size < limit ? e.address + e.size : limit;
        if (top <= bottom || top - bottom < in.initrd_size) continue;
        const u64 at = align_down(top - in.initrd_size, kPageSize);
        if (at < bottom) continue;
        p.initrd = at;
        return true;
    }
    return fail(error, "initrd too big: it does not fit between the kernel and min(RAM, initrd_addr_max)");
}

// boot.rst cmdline_size: the longest command line without the NUL. A longer one is an
// error here rather than a silent truncation by the kernel.
bool check_cmdline(const LinuxBzImage& k, const char* cmdline, Placement& p, const char** error) {
    if (cmdline == nullptr) cmdline = "";
    const u64 buffer_limit = kGuestCmdlineMaxBytes - 1;
    const u64 limit = k.cmdline_size < buffer_limit ? k.cmdline_size : buffer_limit;
    usize length = 0;
    while (length <= limit && cmdline[length] != '\0') ++length;
    if (length > limit) {
        return fail(error, limit == k.cmdline_size ? "command line longer than the kernel's cmdline_size"
                                                   : "command line longer than the guest's command line buffer");
    }
    p.cmdline_length = length;
    return true;
}

bool put(GuestPhysicalMemory& memory, u64 gpa, const void* value, usize size) { return memory.write(gpa, value, size); }
template <typename T>
bool put(GuestPhysicalMemory& memory, u64 gpa, T value) {
    return put(memory, gpa, &value, sizeof value);
}

// The zero page (boot.rst "64-bit Boot Protocol", zero-page.rst): all zero, the image's
// setup header copied in, then the fields a boot loader writes.
bool write_boot_params(GuestPhysicalMemory& memory, const LinuxBootInputs& in, const LinuxBzImage& k,
                       const Placement& p, const E820Map& e820) {
    const u64 bp = kGuestBootParamsGpa;
    GuestMemoryWriter zero(memory, bp);
    zero.zeros(kLinuxBootParamsSize);
    if (!zero.ok()) return false;
    bool ok = put(memory, bp + kLinuxSetupHeaderOffset, in.kernel + kLinuxSetupHeaderOffset,
                  k.header_end - kLinuxSetupHeaderOffset);
    ok = ok && put<u8>(memory, bp + kLinuxHdrTypeOfLoader, kLinuxLoaderUndefined);
    // LOADED_HIGH is already set (parse_linux_bzimage insists); CAN_USE_HEAP and
    // heap_end_ptr only matter to the real-mode setup code, which both the 64-bit and the
    // 32-bit entry skip.
    ok = ok && put<u8>(memory, bp + kLinuxHdrLoadflags, u8(in.kernel[kLinuxHdrLoadflags] | kLinuxLoadedHigh));
    ok = ok && put<u32>(memory, bp + kLinuxHdrCode32Start, u32(p.kernel));
    ok = ok && put<u32>(memory, bp + kLinuxHdrRamdiskImage, u32(p.initrd));
    ok = ok && put<u32>(memory, bp + kLinuxHdrRamdiskSize, u32(in.initrd_size));
    ok = ok && put<u32>(memory, bp + kLinuxBpExtRamdiskImage, u32(p.initrd >> 32));
    ok = ok && put<u32>(memory, bp + kLinuxBpExtRamdiskSize, u32(u64(in.initrd_size) >> 32));
    ok = ok && put<u32>(memory, bp + kLinuxHdrCmdLinePtr, u32(kGuestCmdlineGpa));
    ok = ok && put<u32>(memory, bp + kLinuxBpExtCmdLinePtr, u32(kGuestCmdlineGpa >> 32));
    ok = ok && put<u64>(memory, bp + kLinuxBpAcpiRsdpAddr, in.rsdp_gpa);
    ok = ok && put<u8>(memory, bp + kLinuxBpE820Entries, u8(e820.count));
    for (usize i = 0; ok && i < e820.count; ++i) {
        const LinuxE820Entry entry{e820.entries[i].address, e820.entries[i].size, e820.entries[i].type};
        ok = put(memory, bp + kLinuxBpE820Table + i * sizeof entry, &entry, sizeof entry);
    }
    return ok;
}

static_assert(E820Map::kMaxEntries <= kLinuxE820TableEntries);

}  // namespace

bool load_linux_kernel(GuestPhysicalMemory& memory, const LinuxBootInputs& in, LinuxEntryState& out,
                       const char** error) {
    LinuxBzImage k;
    if (!parse_linux_bzimage(in.kernel, in.kernel_size, k, error)) return false;
    E820Map built;
    if (!in.e820 && !build_guest_e820(in.ram_bytes, built, error)) return false;
    const E820Map& e820 = in.e820 ? *in.e820 : built;
    Placement p;
    if (!place_kernel(k, e820, p, error) || !place_initrd(k, in, e820, p, error) ||
        !check_cmdline(k, in.cmdline, p, error)) {
        return false;
    }

    const char* cmdline = in.cmdline != nullptr ? in.cmdline : "";
    if (!put(memory, p.kernel, k.protected_mode, k.protected_mode_size) ||
        (in.initrd_size != 0 && !put(memory, p.initrd, in.initrd, in.initrd_size)) ||
        !put(memory, kGuestCmdlineGpa, cmdline, p.cmdline_length + 1) || !write_boot_params(memory, in, k, p, e820) ||
        !(k.kernel_64 ? write_long_mode_boot_structures(memory, out.cpu)
                      : write_protected_mode_boot_structures(memory, out.cpu))) {
        return fail(error, "guest memory refused a write while loading the Linux kernel");
    }

    out.entry_64 = k.kernel_64;
    out.rip = k.kernel_64 ? p.kernel + kLinux64BitEntryOffset : p.kernel;
    out.rsp = kGuestBootStackTop;
    out.rsi = kGuestBootParamsGpa;
    out.kernel_gpa = p.kernel;
    out.kernel_end = p.kernel_end;
    out.initrd_gpa = p.initrd;
    out.initrd_size = in.initrd_size;
    out.boot_params_gpa = kGuestBootParamsGpa;
    out.cmdline_gpa = kGuestCmdlineGpa;
    out.protocol_version = k.protocol_version;
    *error = nullptr;
    return true;
}
