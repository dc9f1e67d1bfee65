// The guest page-table walker: translates a guest linear address to a guest-physical
// address the way the guest's own MMU would, for every hypervisor path that reads or
// writes guest virtual memory (instruction fetch for length decoding on VM exits, the
// MMIO instruction emulator, hypercall argument copies).
//
// Paging modes (Intel SDM vol. 3A 4.1.1, table 4-1; AMD APM vol. 2 5.1):
//   CR0.PG = 0                                   no paging: GPA = linear (32 bits)
//   CR0.PG = 1, CR4.PAE = 0                      32-bit paging (SDM 4.3), 4 MiB pages with
//                                                CR4.PSE, PSE-36 address bits 39:32
//   CR0.PG = 1, CR4.PAE = 1, EFER.LMA = 0        PAE paging (SDM 4.4)
//   CR0.PG = 1, CR4.PAE = 1, EFER.LMA = 1        4-level paging, or 5-level with CR4.LA57
//                                                (SDM 4.5)
// Outside IA-32e mode (LMA = 0) linear addresses are 32 bits wide: only bits 31:0 of the
// given address are used, so an access wraps at 4 GiB as on the processor.
//
// Access rights (SDM 4.6), fault error codes (SDM 4.7) and accessed/dirty flags (SDM 4.8)
// follow the SDM; where AMD and Intel differ the SDM wins (e.g. PML4E bit 8, ignored
// here, must be zero on AMD). Protection keys, shadow stacks, LAM and HLAT are not
// modelled: the PK and SS error-code bits are always 0.
//
// A/D updates happen only after a walk succeeded: a faulting walk changes no guest
// memory. Each update is an atomic compare-exchange of the entry as it was read, so a
// concurrent change by another vCPU is never overwritten; when one happens the walk
// starts again from the root (at most kMaxWalkAttempts times).
#pragma once

#include "kernel/types.hpp"

// Guest-physical memory as the hypervisor sees it. Every call returns false when any part
// of [gpa, gpa + len) is not guest RAM (MMIO, a hole, beyond the guest's memory); nothing
// is read or written then.
class GuestPhysicalMemory {
public:
    virtual bool read(u64 gpa, void* dst, usize len) = 0;
    virtual bool write(u64 gpa, const void* src, usize len) = 0;
    // Atomically: if the naturally aligned `size`-byte (1, 4 or 8) value at gpa equals
    // `expected`, store `desired` (exchanged = true); otherwise leave it (exchanged = false).
    // Used for the A/D flags and KVM's steal-time flags, which the guest may be changing
    // concurrently.
    virtual bool compare_exchange(u64 gpa, u64 expected, u64 desired, usize size, bool& exchanged) = 0;
    // Where [gpa, gpa + len), inside one 4 KiB page of RAM, is in the hypervisor's view,
    // for a reader that keeps the pointer across exits: it stays valid while the counter
    // frames_generation() points to (read atomically) keeps the value it had before the
    // view was taken. Null where that cannot be promised (then so is the counter).
    virtual const void* page_view(u64 gpa, usize len) {
        (void)gpa;
        (void)len;
        return nullptr;
    }
    virtual const u64* frames_generation() const { return nullptr; }

protected:
    ~GuestPhysicalMemory() = default;
};

// Control registers are the guest's (VMCB save area or VMCS guest fields).
struct GuestPagingState {
    u64 cr0 = 0;
    u64 cr3 = 0;
    u64 cr4 = 0;
    u64 efer = 0;
    u8 cpl = 0;
    bool rflags_ac = false;
    // The guest's physical-address width (CPUID.80000008H:EAX[7:0]), 32..52. Entry bits at
    // and above it (up to 51, or 62 in PAE paging) are reserved (SDM 4.1.4).
    u8 maxphyaddr = 52;
    // 1 GiB pages (CPUID.80000001H:EDX.Page1GB[bit 26]); without them PS in a PDPTE is
    // reserved in 4- and 5-level paging.
    bool page_1gb = true;
    // PAE paging only. The processor loads the four PDPTEs when CR3 is written, so on
    // Intel the VMCS guest PDPTE fields, not guest memory, are what it uses (SDM 4.4.1);
    // set this and fill pae_pdptes from them. Otherwise the PDPTEs are read from the guest
    // memory at CR3[31:5] during the walk (as AMD does under nested paging), and a
    // reserved bit in one is reported as a page fault with RSVD.
    bool use_pae_pdptes = false;
    u64 pae_pdptes[4] = {};
};

enum class GuestPagingMode : u8 { None, Bits32, Pae, Level4, Level5 };

GuestPagingMode guest_paging_mode(const GuestPagingState& state);

// What the access is. An access is a user-mode access when `user` is set or CPL is 3,
// unless it is an implicit supervisor-mode access (descriptor tables, TSS, ...: SDM 4.6),
// which is a supervisor-mode access at any CPL and which RFLAGS.AC never exempts from
// SMAP. `user` lets a caller check a CPL < 3 access with user rights (e.g. a hypercall
// acting for a guest process). An instruction fetch is never a write: `write` is ignored
// when `fetch` is set.
struct GuestAccess {
    bool write = false;
    bool fetch = false;
    bool user = false;
    bool implicit_supervisor = false;
};

// Page-fault error code bits (SDM vol. 3A 4.7).
inline constexpr u32 kPfPresent = 1u << 0;   // P: 0 not-present entry, 1 protection or RSVD
inline constexpr u32 kPfWrite = 1u << 1;     // W/R: the access was a write
inline constexpr u32 kPfUser = 1u << 2;      // U/S: the access was a user-mode access
inline constexpr u32 kPfReserved = 1u << 3;  // RSVD: a reserved bit was set in an entry
inline constexpr u32 kPfFetch = 1u << 4;     // I/D: instruction fetch (with SMEP or PAE+NXE)

struct WalkResult {
    enum Kind : u8 {
        Ok,
        // Inject #PF: error_code is the error code, address the CR2 value (the linear
        // address, truncated to 32 bits outside IA-32e mode).
        PageFault,
        // A paging-structure entry at guest-physical `address` is not guest RAM (or its
        // A/D update was refused): the guest's tables point at MMIO or past its memory.
        BadTablePhysical,
        // read/write_guest_virtual only: the translation succeeded but the data at
        // guest-physical `address` is not guest RAM.
        BadDataPhysical,
        // `address` is not canonical (48-bit, or 57-bit with LA57): #GP, or #SS for
        // stack-segment accesses; the caller knows which.
        NonCanonical,
        // Another vCPU kept changing the entries between our reads and A/D updates
        // kMaxWalkAttempts times: re-enter the guest without completing the instruction
        // so that it is executed again.
        Contended,
    };

    Kind kind = Ok;
    u32 error_code = 0;
    u64 address = 0;

    constexpr bool ok() const { return kind == Ok; }
};

// What the read/write helpers report when they fail.
using WalkFault = WalkResult;

const char* walk_result_name(WalkResult::Kind kind);
inline const char* walk_result_name(const WalkResult& result) { return walk_result_name(result.kind); }

// The paging-structure entries a walk read, root first (PAE's PDPTE too when it came
// from guest memory), as it read them: while each still holds the same value, accessed
// and dirty flags aside (they change no translation, SDM vol. 3A 4.8), the same linear
// address under the same CR0, CR3, CR4 and EFER translates the same way. Entries are 8
// bytes, 4 in 32-bit paging.
struct GuestWalkPath {
    static constexpr u32 kMaxEntries = 6;
    static constexpr u64 kAccessedDirty = (1ull << 5) | (1ull << 6);
    u64 gpa[kMaxEntries] = {};
    u64 value[kMaxEntries] = {};
    u8 count = 0;
    u8 entry_size = 8;
};

// A successful translation. The rights are those of the page itself, combined over every
// level (R/W and U/S set at all levels, XD at none or NXE = 0); CR0.WP, SMEP and SMAP,
// which depend on the access, were already applied to the access that was checked.
struct GuestTranslation {
    u64 gpa = 0;
    u64 page_size = 0;  // 4 KiB, 2 MiB, 4 MiB or 1 GiB; 4 KiB without paging
    bool writable = false;
    bool user = false;
    bool executable = false;
    GuestWalkPath path;  // empty without paging
};

inline constexpr u32 kMaxWalkAttempts = 16;

// Translates `linear` for `access`, setting accessed flags in every entry used and, for a
// write, the dirty flag in the last one. `out` is written only on Ok.
WalkResult walk_guest_page_tables(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear,
                                  GuestAccess access, GuestTranslation& out);

// Copies len bytes between guest linear memory and a hypervisor buffer, walking each page
// separately. Every page is translated (and, for writes, its data checked to be guest
// RAM) before anything is copied or any A/D flag changes, so on failure guest memory is
// unchanged and `fault` describes the lowest failing page (for a page fault CR2 is the
// first byte accessed in that page) — unless another vCPU changes the tables during the
// call, as it could on the processor. The write flag of `access` is ignored (read: false,
// write: true; fetch is cleared for writes). len = 0 succeeds without touching anything.
bool read_guest_virtual(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear, void* dst, usize len,
                        GuestAccess access, WalkFault& fault);
bool write_guest_virtual(GuestPhysicalMemory& memory, const GuestPagingState& state, u64 linear, const void* src,
                         usize len, GuestAccess access, WalkFault& fault);
