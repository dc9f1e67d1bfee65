// dump-core DOMAIN FILE (xl dump-core): the domain's RAM, read through foreign mappings
// (dom0/xm/foreign_memory.hpp), written as an ELF core file (System V gABI, ch. 4 and
// 5): one PT_LOAD segment per block of guest RAM, its guest-physical address in p_paddr.
// The domain is paused while it is read, so the dump is one moment of it, and runs on
// afterwards if it ran before. A domain destroyed meanwhile ends the dump with an error.
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dom0/xm/foreign_memory.hpp"
#include "dom0/xm/guest_ram_blocks.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;

namespace {

// The ELF header and program headers, padded to a page: the segments follow, each at
// its own page-aligned offset.
std::vector<uint8_t> core_headers(const std::vector<RamBlock>& blocks) {
    const size_t headers = sizeof(Elf64_Ehdr) + blocks.size() * sizeof(Elf64_Phdr);
    std::vector<uint8_t> out((headers + kPageSize - 1) / kPageSize * kPageSize, 0);
    Elf64_Ehdr eh{};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = uint16_t(blocks.size());
    memcpy(out.data(), &eh, sizeof(eh));
    uint64_t offset = out.size();
    for (size_t i = 0; i < blocks.size(); ++i) {
        Elf64_Phdr ph{};
        ph.p_type = PT_LOAD;
        ph.p_flags = PF_R | PF_W | PF_X;
        ph.p_offset = offset;
        ph.p_vaddr = blocks[i].gpa;
        ph.p_paddr = blocks[i].gpa;
        ph.p_filesz = ph.p_memsz = blocks[i].bytes;
        ph.p_align = kPageSize;
        memcpy(out.data() + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
        offset += blocks[i].bytes;
    }
    return out;
}

}  // namespace

int cmd_dump_core(ControlClient& control, const Args& args) {
    if (args.size() != 2) return fail("usage: xm dump-core DOMAIN FILE");
    DomainStatus d;
    if (const int r = one_domain(control, Args{args[0]}, "dump-core", d)) return r;
    if (d.id == 0) return fail("dump-core: not Domain-0 itself");
    if (d.memory_bytes == 0) return fail("dump-core " + domain_name(d) + ": its memory is gone (it has ended)");
    const int fd = open(args[1].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail("dump-core: cannot write " + args[1] + ": " + strerror(errno));
    // Paused here (a shut-down or crashed domain runs no more anyway), unpaused after.
    const bool paused_here =
        (d.state == kStateRunning || d.state == kStateBlocked) && control.call(kDomainPause, d.id) == 0;
    const std::vector<RamBlock> blocks = guest_ram_blocks(d.memory_bytes);
    const std::vector<uint8_t> headers = core_headers(blocks);
    std::string error;
    if (!write_all(fd, headers.data(), headers.size())) error = std::string("writing failed: ") + strerror(errno);
    ForeignGuestMemory memory(control.device_fd(), d.id, d.memory_bytes);
    std::vector<uint8_t> buffer(1 << 20);
    const bool progress = isatty(STDERR_FILENO);
    uint64_t done = 0;
    for (const RamBlock& b : blocks) {
        for (uint64_t at = 0; error.empty() && at < b.bytes; at += buffer.size()) {
            const size_t n = size_t(b.bytes - at < buffer.size() ? b.bytes - at : buffer.size());
            if (!memory.read(b.gpa + at, buffer.data(), n))
                error = memory.failure();
            else if (!write_all(fd, buffer.data(), n))
                error = std::string("writing failed: ") + strerror(errno);
            done += n;
            if (progress && done % (16 << 20) == 0)
                fprintf(stderr, "\rxm: dump-core %s: %llu of %llu MiB", domain_name(d).c_str(),
                        (unsigned long long)(done >> 20), (unsigned long long)(d.memory_bytes >> 20));
        }
    }
    memory.unmap();
    if (progress) fprintf(stderr, "\n");
    if (close(fd) != 0 && error.empty()) error = std::string("writing failed: ") + strerror(errno);
    // A domain destroyed meanwhile is not there to unpause: that is what the error says.
    DomainStatus now;
    int64_t result = 0;
    const bool still_there = control.status(d.id, now, result);
    if (paused_here && still_there) control.call(kDomainUnpause, d.id);
    // Gone before the status came: its last window may have been revoked while it was read
    // (revoked pages read as zeros), so the file cannot be trusted even without an error.
    if (!still_there)
        error = "the domain was destroyed during the dump" + (error.empty() ? std::string() : " (" + error + ")");
    if (!error.empty()) return fail("dump-core " + domain_name(d) + ": " + error);
    printf("Dumped %llu MiB of %s's memory to %s\n", (unsigned long long)(d.memory_bytes >> 20), domain_name(d).c_str(),
           args[1].c_str());
    return 0;
}

}  // namespace xm
