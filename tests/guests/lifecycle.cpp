// The control interface from a control domain (role=control): domains created and
// destroyed at run time while others run, with every kind of end (the guest's own
// shutdown, destroy while its vCPUs run on other CPUs, destroy while paused, the running
// ones with their set_timer timer armed or fired: a destroyed domain's timer
// must never fire, its device memory being gone); afterwards
// the hypervisor's free memory, heap, domain ids and VPIDs are exactly as before. Then a
// preview of save/restore: a counting domain is paused, its vCPU state and memory taken,
// a fresh domain built from them, the first destroyed, and the copy counts on to the end
// with its registers (general, control, SSE, debug) intact; the debug registers are
// changed in the saved state on the way, so the copy can only have them from the state. Also the refusals: bad
// arguments, states and encodings get their documented errors.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

extern "C" const char child_exit_start[], child_exit_end[];
extern "C" const char child_timer_start[], child_timer_end[];
extern "C" const char child_counter_start[], child_counter_end[];
extern "C" const char child_counter_dr_check[], child_counter_dr_check_end[];
extern "C" const char child_touch_start[], child_touch_end[];
extern "C" const char child_scan_start[], child_scan_end[];

namespace {

constexpr uint32_t kIterations = 200;
constexpr uint32_t kChildMemory = 2 * 1024 * 1024;
constexpr uint32_t kCodeGpa = 0x1000, kDataGpa = 0x2000, kStackTop = 0x8000;
constexpr uint64_t kMaxPolls = 200000000;  // only a broken hypervisor gets near this

alignas(16) uint8_t g_state[kVcpuStateSize];
alignas(4096) uint8_t g_saved_memory[kChildMemory];
uint32_t g_self = 0;

int32_t call(uint32_t number, uint32_t a1 = 0, uint32_t a2 = 0, uint32_t a3 = 0, uint32_t a4 = 0) {
    return call_hypervisor4(number, a1, a2, a3, a4);
}
uint32_t addr(const void* p) { return uint32_t(reinterpret_cast<uintptr_t>(p)); }

int32_t create(const char* name, uint32_t vcpus, uint32_t memory = kChildMemory) {
    DomainCreateArgs args{};
    for (int i = 0; name[i] && i < 31; ++i) args.name[i] = name[i];
    args.memory_bytes = memory;
    args.vcpus = vcpus;
    return call(kDomainCreate, addr(&args));
}

bool status(int32_t id, DomainStatus& s) { return call(kDomainGetStatus, uint32_t(id), addr(&s)) == 0; }

uint64_t& state_gpr(int reg) { return *reinterpret_cast<uint64_t*>(g_state + kVcpuStateGprOffset + 8 * reg); }
uint64_t& state_rip() { return *reinterpret_cast<uint64_t*>(g_state + kVcpuStateRipOffset); }
uint64_t& state_dr(int n) { return *reinterpret_cast<uint64_t*>(g_state + kVcpuStateDebugOffset + 8 * n); }
enum { kEax = 0, kEcx = 1, kEdx = 2, kEbx = 3, kEsp = 4, kEbp = 5, kEsi = 6, kEdi = 7 };

// Loads `code` at kCodeGpa of domain `id` and points vCPU `vcpu` at it, with EBX = `ebx`.
bool load_child(int32_t id, uint32_t vcpu, const char* start, const char* end, uint32_t ebx, uint32_t edi = 0,
                uint32_t ebp = 0) {
    if (vcpu == 0 && call(kDomainMemoryWrite, uint32_t(id), kCodeGpa, addr(start), uint32_t(end - start)) != 0)
        return false;
    if (call(kVcpuGetState, uint32_t(id), vcpu, addr(g_state), sizeof(g_state)) != int32_t(kVcpuStateSize))
        return false;
    state_rip() = kCodeGpa;
    state_gpr(kEsp) = kStackTop - 0x100 * vcpu;
    state_gpr(kEbx) = ebx;
    state_gpr(kEdi) = edi;
    state_gpr(kEbp) = ebp;
    g_state[kVcpuStateActivityOffset] = 0;  // active
    vcpu_state_seal(g_state);
    return call(kVcpuSetState, uint32_t(id), vcpu, addr(g_state), sizeof(g_state)) == 0;
}

bool wait_for_state(int32_t id, uint32_t want, DomainStatus& s) {
    for (uint64_t i = 0; i < kMaxPolls; ++i) {
        if (!status(id, s)) return false;
        if (s.state == want) return true;
        call(kYield);
    }
    return false;
}

uint32_t read_child_word(int32_t id, uint32_t gpa) {
    uint32_t value = 0;
    call(kDomainMemoryRead, uint32_t(id), gpa, addr(&value), 4);
    return value;
}

bool wait_for_word(int32_t id, uint32_t gpa, uint32_t at_least) {
    for (uint64_t i = 0; i < kMaxPolls; ++i) {
        if (read_child_word(id, gpa) >= at_least) return true;
        call(kYield);
    }
    return false;
}

bool same_stats(const HypervisorStats& a, const HypervisorStats& b) {
    return a.free_memory_bytes == b.free_memory_bytes && a.heap_bytes_in_use == b.heap_bytes_in_use &&
           a.domains == b.domains && a.free_domain_ids == b.free_domain_ids && a.free_vpids == b.free_vpids;
}

void print_stats(const char* when, const HypervisorStats& s) {
    print("%s: %u KiB free, heap %u bytes, %u domains, %u free ids, %u free VPIDs, %u CPUs\n", when,
          uint32_t(s.free_memory_bytes / 1024), uint32_t(s.heap_bytes_in_use), s.domains, s.free_domain_ids,
          s.free_vpids, s.cpus);
}

// One create/destroy cycle; the way it ends depends on the iteration. False (with the
// reason printed) when anything is not as a user would expect.
bool cycle(uint32_t i) {
    const uint32_t kind = i % 4;
    const int32_t id = create("child", kind == 3 ? 2 : 1);
    if (id <= 0) {
        print("iteration %u: domain_create returned %d\n", i, id);
        return false;
    }
    DomainStatus s;
    if (!status(id, s) || s.state != kStatePaused || s.vcpus != (kind == 3 ? 2u : 1u)) {
        print("iteration %u: a new domain is paused with its vCPUs (state %u)\n", i, s.state);
        return false;
    }
    // The running ones arm a timer first: mostly one still pending when the domain is
    // destroyed (2 s), sometimes one that fires while it runs (kind 1, and the second
    // vCPU of kind 3).
    const bool spin = kind != 0;
    const char* start = spin ? child_timer_start : child_exit_start;
    const char* end = spin ? child_timer_end : child_exit_end;
    const uint32_t timer_us = kind == 1 && i % 8 < 4 ? 100 + i % 50 : 2000000;
    const uint32_t ebx = spin ? timer_us : 100 + i % 50;
    if (!load_child(id, 0, start, end, ebx, g_intel) || (kind == 3 && !load_child(id, 1, start, end, 50, g_intel))) {
        print("iteration %u: cannot load the child\n", i);
        return false;
    }
    if (call(kDomainUnpause, uint32_t(id)) != 0) return false;
    if (kind == 0) {
        // It ends itself: shut down, its exit code kept, its memory kept until destroyed.
        if (!wait_for_state(id, kStateShutdown, s) || s.exit_code != 100 + i % 50 || s.memory_bytes != kChildMemory) {
            print("iteration %u: shutdown state %u exit code %d\n", i, s.state, int(s.exit_code));
            return false;
        }
    } else {
        // It runs on some other CPU: destroyed while running, or paused first.
        if (!wait_for_word(id, kDataGpa, 1)) {
            print("iteration %u: the child never ran\n", i);
            return false;
        }
        if (kind == 2) {
            if (call(kDomainPause, uint32_t(id)) != 0) return false;
            const uint32_t a = read_child_word(id, kDataGpa + 4);
            call(kYield);
            const uint32_t b = read_child_word(id, kDataGpa + 4);
            if (a != b || !status(id, s) || s.state != kStatePaused) {
                print("iteration %u: a paused domain still runs (%u then %u)\n", i, a, b);
                return false;
            }
        }
    }
    const int32_t destroyed = call(kDomainDestroy, uint32_t(id));
    if (destroyed != 0 || call(kDomainGetStatus, uint32_t(id), addr(&s)) != kErrorNoSuchDomain) {
        print("iteration %u: destroy returned %d and the domain is %s\n", i, destroyed, "still there");
        return false;
    }
    return true;
}

void test_create_destroy_cycles() {
    HypervisorStats before, after;
    CHECK(call(kHypervisorStats, addr(&before)) == 0, "hypervisor_stats");
    print_stats("before", before);
    uint32_t done = 0;
    while (done < kIterations && cycle(done)) {
        ++done;
        if (done % 50 == 0) print("%u of %u create/destroy cycles done\n", done, kIterations);
    }
    CHECK(done == kIterations, "%u create/destroy cycles (exit, destroy while running, destroy while paused, 2 vCPUs)",
          done);
    CHECK(call(kHypervisorStats, addr(&after)) == 0, "hypervisor_stats again");
    print_stats("after", after);
    CHECK(same_stats(before, after), "free memory, heap, domains, domain ids and VPIDs exactly as before");
}

// A domain's RAM is zeroed on first touch (mm/guest_memory.hpp, RamZeroing), so its
// frames hold what their last owner wrote until then: a domain written all over and
// destroyed leaves them dirty, and the next one (which gets the same frames: the allocator
// hands out the lowest free ones) must read zero wherever it touches first, whether the
// guest itself touches it (a nested page fault) or the hypervisor does (a control call).
void test_fresh_memory_after_reuse() {
    constexpr uint32_t kMemory = 10 * 1024 * 1024, kPiece = 1024 * 1024;
    uint32_t* words = reinterpret_cast<uint32_t*>(g_saved_memory);
    for (uint32_t i = 0; i < kPiece / 4; ++i) words[i] = 0xa5a5a5a5 ^ i;
    const int32_t dirty = create("scribbler", 1, kMemory);
    bool written = dirty > 0;
    for (uint32_t gpa = 0; written && gpa < kMemory; gpa += kPiece)
        written = call(kDomainMemoryWrite, uint32_t(dirty), gpa, addr(g_saved_memory), kPiece) == 0;
    CHECK(written && call(kDomainDestroy, uint32_t(dirty)) == 0, "a domain of 10 MiB written all over, destroyed");

    const int32_t fresh = create("fresh", 1, kMemory);
    DomainStatus s{};
    CHECK(
        fresh > 0 && load_child(fresh, 0, child_scan_start, child_scan_end, 0x200000, 0x800000) &&
            call(kDomainUnpause, uint32_t(fresh)) == 0 && wait_for_state(fresh, kStateShutdown, s) && s.exit_code == 0,
        "the next domain of 10 MiB reads 2-8 MiB as zeros, touching it first itself (exit code %d)", int(s.exit_code));
    // 8-10 MiB: nothing touched it yet; the control call's read is its first touch.
    bool zero = true;
    for (uint32_t gpa = 8 * 1024 * 1024; zero && gpa < kMemory; gpa += kPiece) {
        zero = call(kDomainMemoryRead, uint32_t(fresh), gpa, addr(g_saved_memory), kPiece) == 0;
        for (uint32_t i = 0; zero && i < kPiece / 4; ++i) zero = words[i] == 0;
    }
    CHECK(zero, "and 8-10 MiB as zeros through domain_memory_read, its first touch there");
    // 0-2 MiB: first touched by the control call that wrote the child's code at 0x1000.
    const uint32_t code_end = kCodeGpa + uint32_t(child_scan_end - child_scan_start);
    zero = call(kDomainMemoryRead, uint32_t(fresh), 0, addr(g_saved_memory), kPiece) == 0;
    for (uint32_t i = 0; zero && i < kPiece / 4; ++i) zero = words[i] == 0 || (i * 4 >= kCodeGpa && i * 4 < code_end);
    CHECK(zero, "and its first MiB, where domain_memory_write put the child's code, as zeros around it");
    CHECK(call(kDomainDestroy, uint32_t(fresh)) == 0, "destroyed");
}

void test_save_restore_preview() {
    const int32_t a = create("counter-a", 1);
    constexpr uint32_t kDrA = 0x00a0'0000, kDrB = 0x00b0'0000;  // DRn = base + n * 100h
    CHECK(a > 0 && load_child(a, 0, child_counter_start, child_counter_end, 0x1000, 0x7fffffff, kDrA),
          "counter-a built");
    CHECK(call(kDomainUnpause, uint32_t(a)) == 0, "counter-a unpaused");
    CHECK(wait_for_word(a, kDataGpa, 20000), "counter-a counts");
    // The copy's debug registers will differ from counter-a's: a state taken while it
    // compares them (old values in EAX/ECX) is not a fair one to edit, so it runs on a
    // little and is paused again.
    const uint32_t check_from = kCodeGpa + uint32_t(child_counter_dr_check - child_counter_start);
    const uint32_t check_to = kCodeGpa + uint32_t(child_counter_dr_check_end - child_counter_start);
    uint32_t saved_count = 0;
    bool taken = false;
    for (int attempt = 0; attempt < 100 && !taken; ++attempt) {
        if (attempt > 0) {
            call(kDomainUnpause, uint32_t(a));
            for (int i = 0; i < 10; ++i) call(kYield);
        }
        if (call(kDomainPause, uint32_t(a)) != 0) break;
        saved_count = read_child_word(a, kDataGpa);
        if (call(kVcpuGetState, uint32_t(a), 0, addr(g_state), sizeof(g_state)) != int32_t(kVcpuStateSize)) break;
        taken = state_rip() < check_from || state_rip() >= check_to;
    }
    CHECK(taken, "counter-a paused and its vCPU state taken (%u bytes) outside its DR check", kVcpuStateSize);
    CHECK(uint32_t(state_gpr(kEsi)) == saved_count, "ESI %u equals the count in memory %u", uint32_t(state_gpr(kEsi)),
          saved_count);
    CHECK(state_dr(0) == kDrA && state_dr(1) == kDrA + 0x100 && state_dr(2) == kDrA + 0x200 &&
              state_dr(3) == kDrA + 0x300,
          "the state carries the DR0-DR3 counter-a wrote (%x %x %x %x)", uint32_t(state_dr(0)), uint32_t(state_dr(1)),
          uint32_t(state_dr(2)), uint32_t(state_dr(3)));
    CHECK(g_state[kVcpuStatePartsOffset] == 0xff, "all parts");
    bool copied = true;
    for (uint32_t off = 0; off < kChildMemory; off += uint32_t(kMemoryCopyMax))
        copied = copied && call(kDomainMemoryRead, uint32_t(a), off, addr(g_saved_memory + off), kMemoryCopyMax) == 0;
    CHECK(copied, "its %u KiB of memory read", kChildMemory / 1024);

    const int32_t b = create("counter-b", 1);
    CHECK(b > 0 && b != a, "counter-b created (id %d)", b);
    copied = true;
    for (uint32_t off = 0; off < kChildMemory; off += uint32_t(kMemoryCopyMax))
        copied = copied && call(kDomainMemoryWrite, uint32_t(b), off, addr(g_saved_memory + off), kMemoryCopyMax) == 0;
    CHECK(copied, "the memory written into counter-b");
    const uint32_t target = saved_count + 30000;
    state_gpr(kEdi) = target;  // the copy counts on to here, then exits with 0
    // Other debug registers, which the copy checks (EBP is their base): it has them only if
    // set_state gives them to it, and sees them only if its CPU switches them in.
    state_gpr(kEbp) = kDrB;
    for (int n = 0; n < 4; ++n) state_dr(n) = kDrB + 0x100 * n;
    CHECK(call(kVcpuSetState, uint32_t(b), 0, addr(g_state), sizeof(g_state)) == kErrorBadState,
          "an edited state not sealed again: bad state (the checksum)");
    vcpu_state_seal(g_state);
    CHECK(call(kVcpuSetState, uint32_t(b), 0, addr(g_state), sizeof(g_state)) == 0, "the state loaded into counter-b");
    CHECK(call(kDomainDestroy, uint32_t(a)) == 0, "counter-a destroyed");
    CHECK(call(kDomainUnpause, uint32_t(b)) == 0, "counter-b unpaused");
    DomainStatus s;
    CHECK(wait_for_state(b, kStateShutdown, s) && s.exit_code == 0,
          "counter-b counted on with its registers, CR0/CR4, XMM0-7 and DR0-3 intact (exit code %d)", int(s.exit_code));
    CHECK(read_child_word(b, kDataGpa) == target, "counter-b's count went from %u to %u", saved_count, target);
    CHECK(call(kDomainDestroy, uint32_t(b)) == 0, "counter-b destroyed");
}

// Bits set in a dirty bitmap, as page numbers (at most `max`); returns how many.
uint32_t dirty_pages(const uint8_t* bitmap, uint32_t pages, uint32_t* out, uint32_t max) {
    uint32_t n = 0;
    for (uint32_t p = 0; p < pages; ++p)
        if (bitmap[p / 8] & (1u << (p % 8))) {
            if (n < max) out[n] = p;
            ++n;
        }
    return n;
}

uint8_t g_dirty[kChildMemory / 4096 / 8];
alignas(4096) uint8_t g_window[4096];  // where other domains' pages are mapped

bool page_dirty(uint32_t page) { return (g_dirty[page / 8] & (1u << (page % 8))) != 0; }

// The dirty log, as live migration uses it: writes from the time it is enabled are
// logged page by page, a take hands them over and starts afresh, and pages written by the
// hypervisor for the guest (its memory written by a control call) count too.
void test_dirty_log() {
    constexpr uint32_t kPages = kChildMemory / 4096;
    const int32_t id = create("dirty", 1);
    CHECK(id > 0 && load_child(id, 0, child_touch_start, child_touch_end, 0), "a domain that writes three pages");
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages) == kErrorWrongState,
          "take before enable: wrong state");
    DomainStatus before, enabled, written, disabled;
    CHECK(status(id, before) && before.charged_bytes > kChildMemory && before.charged_bytes <= before.quota_bytes,
          "its RAM and its structures are charged to its quota (%u of %u KiB)", uint32_t(before.charged_bytes / 1024),
          uint32_t(before.quota_bytes / 1024));
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogEnable, 0, 0) == 0, "dirty log enabled");
    CHECK(status(id, enabled) && enabled.charged_bytes == before.charged_bytes + kPages / 8,
          "the log's bitmap is charged (%u bytes more)", uint32_t(enabled.charged_bytes - before.charged_bytes));
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogEnable, 0, 0) == kErrorWrongState, "enabled twice: wrong state");
    CHECK(call(kDomainUnpause, uint32_t(id)) == 0 && wait_for_word(id, kDataGpa, 1), "it ran its writes");
    CHECK(status(id, written) && written.charged_bytes >= enabled.charged_bytes + 4096,
          "the page table its writes split the 2 MiB page into is charged (%u bytes more)",
          uint32_t(written.charged_bytes - enabled.charged_bytes));
    uint32_t pages[8];
    const int32_t first = call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages);
    const uint32_t n = dirty_pages(g_dirty, kPages, pages, 8);
    CHECK(first == 4 && n == 4 && pages[0] == 2 && pages[1] == 0x10 && pages[2] == 0x30 && pages[3] == 0x50,
          "the first take names exactly pages 2, 0x10, 0x30, 0x50 (%d pages: %x %x %x %x)", first, pages[0], pages[1],
          pages[2], pages[3]);
    const uint32_t count = read_child_word(id, kDataGpa + 4);
    while (read_child_word(id, kDataGpa + 4) == count) call(kYield);
    const int32_t second = call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages);
    CHECK(second == 1 && dirty_pages(g_dirty, kPages, pages, 8) == 1 && pages[0] == 2,
          "the second take names only page 2, where it still counts (%d pages)", second);
    static const uint32_t kWord = 0x12345678;
    CHECK(call(kDomainMemoryWrite, uint32_t(id), 0x70000, addr(&kWord), 4) == 0, "a control call writes page 0x70");
    call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages);
    CHECK(dirty_pages(g_dirty, kPages, pages, 8) == 2 && pages[1] == 0x70, "the hypervisor's own write is logged");
    // Page 0x60 mapped here while the log runs, as a device model serving the domain during
    // a live migration maps its pages: a write through the mapping escapes the log, so the
    // page counts as written at a final take while it is mapped, and when it is unmapped.
    const uint64_t window = addr(g_window) / 4096;
    const int32_t handle = call(kDomainMapForeign, uint32_t(id), 0x60, 1, addr(&window));
    CHECK(handle >= 0, "page 0x60 mapped here while the log runs (handle %d)", handle);
    *reinterpret_cast<volatile uint32_t*>(g_window) = kWord;
    call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages);
    CHECK(!page_dirty(0x60), "a take does not see the write through the mapping");
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogTakeFinal, addr(g_dirty), kPages) >= 1 && page_dirty(0x60),
          "a final take counts the mapped page as written");
    call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages);
    CHECK(!page_dirty(0x60), "the next take does not, until it is written again");
    CHECK(call(kDomainUnmapForeign, uint32_t(handle)) == 0, "page 0x60 unmapped");
    call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), kPages);
    CHECK(page_dirty(0x60), "its unmapping counted it as written");
    uint32_t word = 0;
    CHECK(call(kDomainMemoryRead, uint32_t(id), 0x60000, addr(&word), 4) == 0 && word == kWord,
          "the word written through the mapping is in the domain's page (%x)", word);
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogTake, addr(g_dirty), 5) == kErrorInvalid,
          "a bitmap of the wrong size: invalid");
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogDisable, 0, 0) == 0, "dirty log disabled");
    CHECK(status(id, disabled) && disabled.charged_bytes == before.charged_bytes,
          "the bitmap and the split page's table are given back: the 4 KiB pages merged into a 2 MiB one again "
          "(%u bytes more than before the log)",
          uint32_t(disabled.charged_bytes - before.charged_bytes));
    const uint32_t after = read_child_word(id, kDataGpa + 4);
    while (read_child_word(id, kDataGpa + 4) == after) call(kYield);
    CHECK(true, "it runs on without the log");
    CHECK(call(kDomainDirtyLog, uint32_t(id), 7, 0, 0) == kErrorInvalid, "an unknown operation: invalid");
    CHECK(call(kDomainDestroy, uint32_t(id)) == 0, "destroyed");
}

uint64_t g_gfns[kBalloonMaxPages];

int32_t balloon(int32_t id, uint32_t op, uint32_t first, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) g_gfns[i] = first + i;
    return call(kDomainBalloon, uint32_t(id), op, addr(g_gfns), count);
}

uint64_t free_memory() {
    HypervisorStats s{};
    call(kHypervisorStats, addr(&s));
    return s.free_memory_bytes;
}

// Ballooning, as virtio-balloon's device model in Domain-0 asks for it: pages of a running
// domain go back to the host and come back zeroed, the host's free memory and the domain's
// memory and charge follow page by page, the documented refusals (a page another domain
// maps, a dirty log), a guest that touches a page it gave up crashes, and a destroy with
// pages released and populated again frees exactly what the domain still had.
void test_balloon() {
    constexpr uint32_t kMemory = 32 * 1024 * 1024, kPage = 4096;
    // Whatever the calls below take from the host for good the first time is taken once
    // beforehand, so that the host's free memory can be compared exactly: the heap keeps a
    // page for each size class it served (the call's buffers, the bookkeeping), and this
    // domain's own page that a foreign mapping replaces is split out of its large page.
    const int32_t warm = create("balloon-warm-up", 1, kMemory);
    const uint64_t window = addr(g_window) / kPage;
    const int32_t warm_handle = call(kDomainMapForeign, uint32_t(warm), 0x150, 1, addr(&window));
    CHECK(warm > 0 && balloon(warm, kBalloonRelease, 0x100, 32) == 32 && warm_handle >= 0 &&
              call(kDomainUnmapForeign, uint32_t(warm_handle)) == 0 &&
              balloon(warm, kBalloonPopulate, 0x100, 32) == 32 && call(kDomainDestroy, uint32_t(warm)) == 0,
          "a first domain's balloon, mapped and destroyed (the heap's size classes warmed up)");
    HypervisorStats before, after;
    CHECK(call(kHypervisorStats, addr(&before)) == 0, "hypervisor_stats before the balloon domain");
    const int32_t id = create("balloon", 1, kMemory);
    CHECK(id > 0 && load_child(id, 0, child_touch_start, child_touch_end, 0), "a domain of 32 MiB that counts");
    CHECK(call(kDomainUnpause, uint32_t(id)) == 0 && wait_for_word(id, kDataGpa, 1), "it runs");

    CHECK(call(kDomainMemoryTarget, uint32_t(id), kMemoryTargetGet) == int32_t(kMemory),
          "its memory target at first: its RAM");
    CHECK(call(kDomainMemoryTarget, uint32_t(id), kMemoryTargetSet, 24 * 1024 * 1024) == 0 &&
              call(kDomainMemoryTarget, uint32_t(id), kMemoryTargetGet) == 24 * 1024 * 1024,
          "target set to 24 MiB");
    CHECK(call(kDomainMemoryTarget, uint32_t(id), kMemoryTargetSet, 8 * 1024 * 1024) == kErrorInvalid,
          "a target below 16 MiB: invalid");
    CHECK(call(kDomainMemoryTarget, uint32_t(id), kMemoryTargetSet, kMemory + kPage) == kErrorInvalid,
          "a target above its RAM: invalid");
    CHECK(call(kDomainMemoryTarget, uint32_t(id), 2, 0) == kErrorInvalid, "an unknown target operation: invalid");

    DomainStatus s0, s1, s2;
    CHECK(status(id, s0) && s0.memory_bytes == kMemory, "memory_bytes %u KiB", uint32_t(s0.memory_bytes / 1024));
    // The first release splits the 2 MiB page around it (a table page) and makes the
    // bookkeeping: a bit per page, 1 KiB for 32 MiB.
    CHECK(balloon(id, kBalloonRelease, 0x100, 1) == 1, "page 0x100 released");
    CHECK(status(id, s1) && s1.memory_bytes == kMemory - kPage &&
              s1.charged_bytes == s0.charged_bytes - kPage + kPage + 1024,
          "its memory is 4 KiB less, its charge 4 KiB less plus the split's table and the bookkeeping (%d bytes)",
          int32_t(s1.charged_bytes - s0.charged_bytes));
    static const uint32_t kWord = 0x12345678;
    CHECK(call(kDomainMemoryWrite, uint32_t(id), 0x105000, addr(&kWord), 4) == 0, "a word written into page 0x105");
    const uint64_t free_before = free_memory();
    CHECK(balloon(id, kBalloonRelease, 0x101, 32) == 32, "pages 0x101-0x120 released in one call");
    const uint64_t free_released = free_memory();
    CHECK(free_released == free_before + 32 * kPage, "the host's free memory grew by exactly 32 pages (%d KiB)",
          int32_t((free_released - free_before) / 1024));
    CHECK(
        status(id, s2) && s2.memory_bytes == kMemory - 33 * kPage && s2.charged_bytes == s1.charged_bytes - 32 * kPage,
        "its memory and its charge 33 pages less");
    uint32_t word = 0;
    CHECK(call(kDomainMemoryRead, uint32_t(id), 0x105000, addr(&word), 4) == kErrorInvalid,
          "a released page is outside its memory for the hypervisor's reads too");
    CHECK(balloon(id, kBalloonRelease, 0x101, 1) == kErrorInvalid, "released twice: invalid");
    CHECK(balloon(id, kBalloonPopulate, 0x140, 1) == kErrorInvalid, "populate a page never released: invalid");
    CHECK(balloon(id, kBalloonRelease, kMemory / kPage, 1) == kErrorInvalid, "release past its RAM: invalid");
    CHECK(balloon(id, 2, 0x140, 1) == kErrorInvalid, "an unknown balloon operation: invalid");
    CHECK(call(kDomainBalloon, uint32_t(id), kBalloonRelease, addr(g_gfns), 0) == kErrorInvalid, "0 pages: invalid");
    CHECK(call(kDomainBalloon, uint32_t(id), kBalloonRelease, addr(g_gfns), kBalloonMaxPages + 1) == kErrorTooBig,
          "513 pages: too big");
    CHECK(call(kDomainBalloon, uint32_t(id), kBalloonRelease, 0xfffff000u, 1) == kErrorFault,
          "frame numbers from the caller's unmapped memory: fault");
    CHECK(call(kDomainBalloon, g_self, kBalloonRelease, addr(g_gfns), 1) == kErrorInvalid, "its own pages: invalid");

    CHECK(balloon(id, kBalloonPopulate, 0x101, 32) == 32, "pages 0x101-0x120 populated again");
    CHECK(free_memory() == free_before, "the host's free memory exactly as before the release");
    CHECK(status(id, s2) && s2.memory_bytes == kMemory - kPage && s2.charged_bytes == s1.charged_bytes,
          "its memory and charge back (page 0x100 still released)");
    word = 1;
    CHECK(call(kDomainMemoryRead, uint32_t(id), 0x105000, addr(&word), 4) == 0 && word == 0,
          "a populated page reads zero (%x)", word);

    // Another domain's mapping of a page keeps it (the device model unmaps its own first).
    CHECK(call(kDomainMemoryWrite, uint32_t(id), 0x150000, addr(&kWord), 4) == 0, "a word written into page 0x150");
    const int32_t handle = call(kDomainMapForeign, uint32_t(id), 0x150, 1, addr(&window));
    CHECK(handle >= 0 && *reinterpret_cast<volatile uint32_t*>(g_window) == kWord,
          "page 0x150 mapped into this domain (handle %d)", handle);
    CHECK(balloon(id, kBalloonRelease, 0x150, 1) == kErrorBusy, "a page another domain maps: busy");
    g_gfns[0] = 0x151;
    g_gfns[1] = 0x150;
    CHECK(call(kDomainBalloon, uint32_t(id), kBalloonRelease, addr(g_gfns), 2) == 1,
          "a batch stops at the mapped page: 1 done");
    CHECK(call(kDomainUnmapForeign, uint32_t(handle)) == 0, "unmapped");
    CHECK(balloon(id, kBalloonRelease, 0x150, 1) == 1, "then it goes");
    CHECK(call(kDomainMapForeign, uint32_t(id), 0x150, 1, addr(&window)) == kErrorInvalid,
          "a released page cannot be mapped by another domain");
    CHECK(balloon(id, kBalloonPopulate, 0x150, 1) == 1, "page 0x150 populated again");

    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogEnable, 0, 0) == 0, "dirty log enabled");
    CHECK(balloon(id, kBalloonRelease, 0x160, 1) == kErrorWrongState, "no balloon while the dirty log runs");
    CHECK(call(kDomainDirtyLog, uint32_t(id), kDirtyLogDisable, 0, 0) == 0, "dirty log disabled");

    bool counts = false;
    DomainStatus s;
    const uint32_t count = read_child_word(id, kDataGpa + 4);
    for (uint64_t i = 0; i < kMaxPolls && !counts && status(id, s) && s.state != kStateCrashed; ++i) {
        counts = read_child_word(id, kDataGpa + 4) != count;
        call(kYield);
    }
    CHECK(counts, "it counts on with pages gone and back (state %u)", s.state);
    // Page 2 is where it counts: a guest that touches a page it gave up breaks the
    // balloon protocol, and meets memory outside its RAM.
    CHECK(balloon(id, kBalloonRelease, 2, 1) == 1, "page 2 released under its feet");
    CHECK(wait_for_state(id, kStateCrashed, s), "it crashed (state %u)", s.state);
    CHECK(call(kDomainDestroy, uint32_t(id)) == 0, "destroyed with pages released and populated again");
    CHECK(call(kHypervisorStats, addr(&after)) == 0, "hypervisor_stats after");
    print_stats("before the balloon domain", before);
    print_stats("after", after);
    CHECK(same_stats(before, after), "free memory, heap, domains, domain ids and VPIDs exactly as before the balloon");
}

// The virtual PC's device state (calls 49 and 50, docs/hypercalls.md "Platform state"):
// taken from one paused virtual PC and given to another as it is; a blob cut short, of
// another magic or for another vCPU count is refused; only while the domain cannot run,
// and only for a domain with the virtual PC. Every structure comes back after.
alignas(16) uint8_t g_platform[kPlatformStateMax];
alignas(16) uint8_t g_platform_again[kPlatformStateMax];

int32_t create_pc(const char* name, uint32_t vcpus) {
    DomainCreateArgs args{};
    for (int i = 0; name[i] && i < 31; ++i) args.name[i] = name[i];
    args.memory_bytes = 4u << 20;
    args.vcpus = vcpus;
    args.flags = kCreatePcPlatform;
    return call(kDomainCreate, addr(&args));
}

void test_platform_state() {
    // A first virtual PC, its state taken and given back, before the count: the heap keeps
    // one empty page per size class for the next allocation (mm/heap.hpp), and this may be
    // the first use of some class. Three more PCs after it must leave nothing at all.
    const int32_t warm = create_pc("pc-warm", 2);
    const int32_t warm_bytes = call(kDomainPlatformStateGet, uint32_t(warm), addr(g_platform), sizeof(g_platform));
    CHECK(warm > 0 && warm_bytes > 0 &&
              call(kDomainPlatformStateSet, uint32_t(warm), addr(g_platform), uint32_t(warm_bytes)) == 0 &&
              call(kDomainDestroy, uint32_t(warm)) == 0,
          "a first virtual PC's state taken and given back");
    HypervisorStats before, after;
    CHECK(call(kHypervisorStats, addr(&before)) == 0, "hypervisor_stats before the virtual PCs");
    const int32_t a = create_pc("pc-a", 1), b = create_pc("pc-b", 1), two = create_pc("pc-two", 2);
    const int32_t plain = create("plain", 1);
    CHECK(a > 0 && b > 0 && two > 0 && plain > 0, "virtual PCs of 1, 1 and 2 vCPUs, and a domain without one");
    const int32_t n = call(kDomainPlatformStateGet, uint32_t(a), addr(g_platform), sizeof(g_platform));
    CHECK(n > 16 && g_platform[0] == 'V' && g_platform[1] == 'P' && g_platform[2] == 'S' && g_platform[3] == 'T',
          "pc-a's platform state: %d bytes, 'VPST'", n);
    CHECK(call(kDomainPlatformStateGet, uint32_t(a), addr(g_platform_again), 16) == kErrorTooBig,
          "into 16 bytes: too big");
    CHECK(call(kDomainPlatformStateGet, uint32_t(plain), addr(g_platform_again), sizeof(g_platform_again)) ==
              kErrorNotSupported,
          "of a domain without the virtual PC: not supported");
    CHECK(call(kDomainPlatformStateSet, uint32_t(b), addr(g_platform), uint32_t(n)) == 0, "given to pc-b as it is");
    CHECK(call(kDomainPlatformStateGet, uint32_t(b), addr(g_platform_again), sizeof(g_platform_again)) == n,
          "pc-b's state taken again: as long");
    CHECK(call(kDomainPlatformStateSet, uint32_t(b), addr(g_platform), uint32_t(n - 1)) == kErrorBadState,
          "a state cut by a byte: bad state");
    g_platform[0] ^= 0xff;
    CHECK(call(kDomainPlatformStateSet, uint32_t(b), addr(g_platform), uint32_t(n)) == kErrorBadState,
          "a state of another magic: bad state");
    g_platform[0] ^= 0xff;
    CHECK(call(kDomainPlatformStateSet, uint32_t(two), addr(g_platform), uint32_t(n)) == kErrorBadState,
          "a 1-vCPU state for 2 vCPUs: bad state");
    CHECK(call(kDomainPlatformStateSet, uint32_t(b), addr(g_platform), kPlatformStateMax + 1) == kErrorTooBig,
          "a state over 16 KiB: too big");
    CHECK(call(kDomainPlatformStateSet, uint32_t(b), 0xfffff000u, uint32_t(n)) == kErrorFault,
          "a state from the caller's unmapped memory: fault");
    static const uint8_t kSpin[2] = {0xeb, 0xfe};  // jmp . at its entry, 0
    CHECK(call(kDomainMemoryWrite, uint32_t(a), 0, addr(kSpin), sizeof(kSpin)) == 0 &&
              call(kDomainUnpause, uint32_t(a)) == 0,
          "pc-a runs a loop");
    CHECK(call(kDomainPlatformStateGet, uint32_t(a), addr(g_platform_again), sizeof(g_platform_again)) ==
              kErrorWrongState,
          "the state of a running virtual PC: wrong state");
    CHECK(call(kDomainPlatformStateSet, uint32_t(a), addr(g_platform), uint32_t(n)) == kErrorWrongState,
          "a state for a running virtual PC: wrong state");
    const int32_t ids[] = {a, b, two, plain};
    for (int32_t id : ids) CHECK(call(kDomainDestroy, uint32_t(id)) == 0, "domain %d destroyed", id);
    CHECK(call(kDomainPlatformStateGet, uint32_t(a), addr(g_platform_again), sizeof(g_platform_again)) ==
              kErrorNoSuchDomain,
          "the state of a destroyed domain: no such domain");
    CHECK(call(kHypervisorStats, addr(&after)) == 0, "hypervisor_stats after");
    print_stats("before the virtual PCs", before);
    print_stats("after", after);
    CHECK(same_stats(before, after), "free memory, heap, domains, domain ids and VPIDs exactly as before the PCs");
}

void test_refusals() {
    DomainStatus s;
    DomainCreateArgs args{};
    args.memory_bytes = kChildMemory;
    args.vcpus = 1;
    CHECK(call(kDomainCreate, addr(&args)) == kErrorInvalid, "create without a name: invalid");
    args.name[0] = 'b';
    args.name[1] = '!';
    CHECK(call(kDomainCreate, addr(&args)) == kErrorInvalid, "create named 'b!': invalid");
    args.name[1] = 0;
    args.vcpus = 9;
    CHECK(call(kDomainCreate, addr(&args)) == kErrorInvalid, "create with 9 vCPUs: invalid");
    args.vcpus = 1;
    args.memory_bytes = 64ull << 30;
    CHECK(call(kDomainCreate, addr(&args)) == kErrorNoMemory, "create with 64 GiB: out of memory");
    CHECK(call(kDomainCreate, 0xfffff000u) == kErrorFault, "create with its arguments unmapped: fault");
    CHECK(call(kDomainDestroy, g_self) == kErrorInvalid, "destroy itself: invalid");
    CHECK(call(kDomainPause, g_self) == kErrorInvalid, "pause itself: invalid");
    CHECK(call(kDomainDestroy, 30000) == kErrorNoSuchDomain, "destroy id 30000: no such domain");
    CHECK(call(kDomainGetStatus, g_self, addr(&s)) == 0 && s.privileged == 1 && s.id == g_self,
          "its own status: the control domain (id %u)", g_self);

    const int32_t id = create("refusals", 1);
    CHECK(id > 0, "a domain to refuse things on");
    CHECK(create("refusals", 1) == kErrorExists, "a second domain of the same name: exists");
    CHECK(create("bystander", 1) == kErrorExists, "nor one named as a boot domain");
    static const uint8_t kSpin[2] = {0xeb, 0xfe};  // jmp . at its entry, 0
    CHECK(call(kDomainMemoryWrite, uint32_t(id), 0, addr(kSpin), sizeof(kSpin)) == 0, "a loop written at its entry");
    CHECK(call(kDomainUnpause, uint32_t(id)) == 0, "unpaused: it spins");
    CHECK(call(kVcpuGetState, uint32_t(id), 0, addr(g_state), sizeof(g_state)) == kErrorWrongState,
          "vCPU state of a running domain: wrong state");
    CHECK(call(kDomainUnpause, uint32_t(id)) == kErrorWrongState, "unpause a running domain: wrong state");
    CHECK(call(kDomainPause, uint32_t(id)) == 0, "paused");
    CHECK(call(kDomainPause, uint32_t(id)) == kErrorWrongState, "paused twice: wrong state");
    CHECK(call(kVcpuGetState, uint32_t(id), 1, addr(g_state), sizeof(g_state)) == kErrorInvalid,
          "vCPU 1 of a 1-vCPU domain: invalid");
    CHECK(call(kVcpuGetState, uint32_t(id), 0, addr(g_state), 100) == kErrorTooBig,
          "a state buffer of 100 bytes: too small");
    CHECK(call(kVcpuGetState, uint32_t(id), 0, addr(g_state), sizeof(g_state)) == int32_t(kVcpuStateSize),
          "vCPU state of the paused domain");
    g_state[0] ^= 0xff;
    CHECK(call(kVcpuSetState, uint32_t(id), 0, addr(g_state), sizeof(g_state)) == kErrorBadState,
          "a state with a bad magic: bad state");
    g_state[0] ^= 0xff;
    g_state[4] = 1;
    vcpu_state_seal(g_state);
    CHECK(call(kVcpuSetState, uint32_t(id), 0, addr(g_state), sizeof(g_state)) == kErrorBadState,
          "a state of format version 1: bad state");
    g_state[4] = uint8_t(kVcpuStateVersion);
    vcpu_state_seal(g_state);
    CHECK(call(kVcpuSetState, uint32_t(id), 0, addr(g_state), 100) == kErrorInvalid, "a state of 100 bytes: invalid");
    CHECK(call(kVcpuSetState, uint32_t(id), 0, addr(g_state), sizeof(g_state)) == 0, "the state put back as it was");
    uint32_t word = 0;
    CHECK(call(kDomainMemoryRead, uint32_t(id), kChildMemory - 2, addr(&word), 4) == kErrorInvalid,
          "a read across the end of its memory: invalid");
    CHECK(call(kDomainMemoryWrite, uint32_t(id), 0, addr(g_saved_memory), uint32_t(kMemoryCopyMax) + 1) == kErrorTooBig,
          "a write over 64 KiB: too big");
    CHECK(call(kDomainMemoryWrite, uint32_t(id), 0, 0xfffff000u, 16) == kErrorFault,
          "a write from the caller's unmapped memory: fault");
    CHECK(call(kDomainDestroy, uint32_t(id)) == 0, "destroyed");
    CHECK(call(kDomainUnpause, uint32_t(id)) == kErrorNoSuchDomain, "unpause after destroy: no such domain");
}

// A CPUID feature limit (domain_create's kCreateCpuidLimit, ABI 0.11): a domain made with
// the features of one made without it, less SSE4.2, sees exactly those; a limit with its
// last word set is refused.
void test_cpuid_limit() {
    uint32_t full[4] = {}, limited[4] = {};
    const int32_t a = create("cpuid-full", 1);
    CHECK(a > 0 && call(kDomainCpuid, uint32_t(a), 1, 0, addr(full)) == 0, "leaf 1 of a domain of the host's CPUID");
    constexpr uint32_t kSse42 = 1u << 20;
    DomainCreateArgs args{};
    const char* name = "cpuid-limited";
    for (int i = 0; name[i]; ++i) args.name[i] = name[i];
    args.memory_bytes = kChildMemory;
    args.vcpus = 1;
    args.flags = kCreateCpuidLimit;
    args.cpuid_limit = {full[2] & ~kSse42, full[3], ~0u, ~0u, ~0u, ~0u, ~0u, 1};
    CHECK(call(kDomainCreate, addr(&args)) == kErrorInvalid, "a limit with its last word set: invalid");
    args.cpuid_limit.reserved = 0;
    const int32_t b = call(kDomainCreate, addr(&args));
    CHECK(b > 0 && call(kDomainCpuid, uint32_t(b), 1, 0, addr(limited)) == 0, "leaf 1 of a domain made with a limit");
    CHECK(limited[2] == (full[2] & ~kSse42) && limited[3] == full[3],
          "it sees the limit's features: ECX %#x (the host's %#x, SSE4.2 off), EDX %#x", limited[2], full[2],
          limited[3]);
    CHECK(call(kDomainDestroy, uint32_t(a)) == 0 && call(kDomainDestroy, uint32_t(b)) == 0, "both destroyed");
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    DomainInfo di;
    call_hypervisor(kDomainInfo, addr(&di));
    g_self = di.domain_id;
    test_refusals();
    test_cpuid_limit();
    test_create_destroy_cycles();
    test_fresh_memory_after_reuse();
    test_save_restore_preview();
    test_platform_state();
    test_dirty_log();
    test_balloon();
    return finish("lifecycle");
}
