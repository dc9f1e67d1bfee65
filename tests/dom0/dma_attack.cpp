// dma-attack TARGET: Domain-0's root user programs a device to DMA into memory that is
// not Domain-0's, the attack an IOMMU must stop (tests/dom0, label `iommu`).
//
// The device is QEMU's "edu" (docs/specs/edu.rst in QEMU): a DMA engine in BAR 0 (source
// 0x80, destination 0x88, count 0x90, command 0x98 with bit 0 "start", cleared when done,
// and bit 1 "from the buffer to RAM") that moves bytes between RAM and a 4 KiB buffer of
// the device at DMA address 0x40000, which only DMA reaches. No Linux driver claims it,
// so root reaches it through sysfs. QEMU must give it a 64-bit DMA mask
// (-device edu,dma_mask=0xffffffffffffffff; its default of 28 bits wraps addresses).
// First a control: a page of this process goes into the buffer and back into another
// page, so a blocked attack is the IOMMU's doing, not a broken device. Then TARGET is
// read (the buffer must not get its bytes) and written (the hypervisor's log judges that:
// the fault it logged, and whether its code changed).
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

namespace {

constexpr uint64_t kBuffer = 0x40000;
// Bytes per DMA: less than the buffer, since QEMU 7.2's edu_check_range counts a transfer
// that ends at the buffer's end as out of bounds, and that ends QEMU (hw_error).
constexpr uint64_t kDmaBytes = 2048;
constexpr uint32_t kIdent = 0x00;
constexpr uint32_t kDmaSource = 0x80;
constexpr uint32_t kDmaDestination = 0x88;
constexpr uint32_t kDmaCount = 0x90;
constexpr uint32_t kDmaCommand = 0x98;
constexpr uint64_t kDmaStart = 1;
constexpr uint64_t kDmaToRam = 2;

volatile uint8_t* g_bar = nullptr;

void say(const char* format, const std::string& a = "", const std::string& b = "") {
    printf("dma-attack: ");
    printf(format, a.c_str(), b.c_str());
    printf("\n");
    fflush(stdout);
}

std::string hex(uint64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%#llx", (unsigned long long)v);
    return s;
}

std::string read_file(const std::string& path) {
    FILE* f = fopen(path.c_str(), "r");
    if (!f) return "";
    char line[64] = {};
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    std::string s = line;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// The edu function's sysfs directory, or "".
std::string find_edu() {
    DIR* dir = opendir("/sys/bus/pci/devices");
    if (!dir) return "";
    std::string found;
    while (dirent* e = readdir(dir)) {
        const std::string path = std::string("/sys/bus/pci/devices/") + e->d_name;
        if (read_file(path + "/vendor") == "0x1234" && read_file(path + "/device") == "0x11e8") found = path;
    }
    closedir(dir);
    return found;
}

// Registers below 0x80 take 4-byte accesses only, the DMA registers 4 or 8 (edu.rst).
uint32_t reg32(uint32_t offset) { return *reinterpret_cast<volatile uint32_t*>(g_bar + offset); }
uint64_t reg(uint32_t offset) { return *reinterpret_cast<volatile uint64_t*>(g_bar + offset); }
void set_reg(uint32_t offset, uint64_t value) { *reinterpret_cast<volatile uint64_t*>(g_bar + offset) = value; }

// One DMA of kDmaBytes from the buffer's start; false when the engine never finishes (edu runs it from a
// 100 ms timer of QEMU's virtual clock: 30 s is a bound for a hang, not a timing).
bool dma(uint64_t source, uint64_t destination, bool to_ram) {
    set_reg(kDmaSource, source);
    set_reg(kDmaDestination, destination);
    set_reg(kDmaCount, kDmaBytes);
    set_reg(kDmaCommand, kDmaStart | (to_ram ? kDmaToRam : 0));
    for (int i = 0; i < 3000; ++i) {
        if (!(reg(kDmaCommand) & kDmaStart)) return true;
        usleep(10000);
    }
    return false;
}

// The physical address of the page at `p` (/proc/self/pagemap, bits 54:0 the frame).
uint64_t physical(const void* p) {
    const int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return 0;
    uint64_t entry = 0;
    const off_t at = off_t(reinterpret_cast<uintptr_t>(p) / 4096 * 8);
    const bool ok = pread(fd, &entry, 8, at) == 8;
    close(fd);
    if (!ok || !(entry >> 63)) return 0;
    return (entry & ((1ull << 55) - 1)) * 4096;
}

// A locked page of this process (Domain-0's RAM) and its physical address.
struct Page {
    uint8_t* bytes = nullptr;
    uint64_t physical = 0;
};

Page locked_page() {
    Page p;
    p.bytes = static_cast<uint8_t*>(aligned_alloc(4096, 4096));
    if (!p.bytes) return p;
    memset(p.bytes, 0, 4096);
    if (mlock(p.bytes, 4096) == 0) p.physical = physical(p.bytes);
    return p;
}

bool all_bytes(const Page& p, uint8_t value) {
    for (uint64_t i = 0; i < kDmaBytes; ++i)
        if (p.bytes[i] != value) return false;
    return true;
}

// The buffer's first kDmaBytes bytes become `value` (through `scratch`).
bool fill_buffer(Page& scratch, uint8_t value) {
    memset(scratch.bytes, value, 4096);
    return dma(scratch.physical, kBuffer, false);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: dma-attack TARGET-PHYSICAL-ADDRESS\n");
        return 2;
    }
    const uint64_t target = strtoull(argv[1], nullptr, 0);
    const std::string edu = find_edu();
    if (edu.empty()) {
        say("FAILED: no edu device (QEMU -device edu)");
        return 1;
    }
    // Memory decoding on, then bus mastering (command register bits 1 and 2).
    int fd = open((edu + "/enable").c_str(), O_WRONLY);
    if (fd < 0 || write(fd, "1", 1) != 1) say("FAILED: cannot enable %s", edu);
    if (fd >= 0) close(fd);
    fd = open((edu + "/config").c_str(), O_RDWR);
    uint16_t command = 0;
    if (fd < 0 || pread(fd, &command, 2, 4) != 2) return say("FAILED: cannot read the command register"), 1;
    command |= 0x6;
    if (pwrite(fd, &command, 2, 4) != 2) return say("FAILED: cannot write the command register"), 1;
    close(fd);
    fd = open((edu + "/resource0").c_str(), O_RDWR | O_SYNC);
    void* bar = fd < 0 ? MAP_FAILED : mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (bar == MAP_FAILED) return say("FAILED: cannot map BAR 0 of %s", edu), 1;
    g_bar = static_cast<volatile uint8_t*>(bar);
    if ((reg32(kIdent) & 0xffff) != 0x00ed) return say("FAILED: %s is no edu (ident %s)", edu, hex(reg32(kIdent))), 1;
    say("edu at %s", edu.substr(edu.rfind('/') + 1));

    // The control: a page into the buffer, and the buffer into another page.
    Page source = locked_page();
    Page sink = locked_page();
    if (!source.physical || !sink.physical) return say("FAILED: no locked pages with physical addresses"), 1;
    if (!fill_buffer(source, 0xa5) || !dma(kBuffer, sink.physical, true))
        return say("FAILED: the DMA engine never finished"), 1;
    if (!all_bytes(sink, 0xa5))
        return say("FAILED: DMA between Domain-0's pages %s and %s did not work", hex(source.physical),
                   hex(sink.physical)),
               1;
    say("DMA between Domain-0's own pages %s and %s works", hex(source.physical), hex(sink.physical));

    // The attack, read: the buffer must not get TARGET's bytes.
    memset(sink.bytes, 0, 4096);
    if (!fill_buffer(source, 0x5a) || !dma(target, kBuffer, false) || !dma(kBuffer, sink.physical, true))
        return say("FAILED: the DMA engine never finished"), 1;
    if (all_bytes(sink, 0x5a) || all_bytes(sink, 0) || all_bytes(sink, 0xff))
        say("a DMA read of %s brought the device nothing of it", hex(target));
    else
        say("LEAKED: a DMA read of %s brought the device its bytes", hex(target));

    // The attack, write: int3 instructions over whatever is there.
    if (!fill_buffer(source, 0xcc) || !dma(kBuffer, target, true))
        return say("FAILED: the DMA engine never finished"), 1;
    say("a DMA write to %s was issued", hex(target));
    return 0;
}
