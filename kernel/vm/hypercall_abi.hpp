// The hypercall ABI (docs/hypercalls.md), shared by the hypervisor and the guests that
// call it (tests/guests/). Plain constants and layouts (and the vCPU state's checksum)
// only: it is compiled into 32-bit guest code too.
#pragma once

#include <stdint.h>

namespace hypercall {

// VMMCALL (AMD) or VMCALL (Intel) with the call number in RAX and arguments in RBX,
// RCX, RDX, RSI, RDI (EBX.. in 32-bit guests); the result comes back in RAX: >= 0 on
// success, a negative error below otherwise. Only CPL 0 may call.
enum Number : uint32_t {
    kVersion = 0,       // -> (major << 16) | minor
    kConsoleWrite = 1,  // (linear address, length <= kConsoleWriteMax) -> bytes written
    kSetTimer = 2,      // (microseconds, vector 32..255) -> 0; 0 us cancels
    kYield = 3,         // () -> 0
    kShutdown = 4,      // (exit code) -> does not return
    kDomainInfo = 5,    // (linear address of a DomainInfo) -> 0
    kVcpuStart = 6,     // (vCPU index, entry EIP, ESP) -> 0: starts a stopped vCPU, flat 32-bit
    kDomainsAlive = 7,  // () -> how many domains have not ended, the caller's included
    // KVM's KVM_HC_SEND_IPI, for Linux in a domain with the virtual PC (which shows KVM's
    // CPUID leaves): (APIC-ID bitmap low, high, lowest APIC ID, ICR low) -> IPIs delivered
    // (kernel/vm/devices/apic/kvm_pv_ipi.hpp). KVM's other numbers below 16 are not
    // offered: 1-5 are Vireo's own.
    kKvmSendIpi = 10,

    // Control calls: only a privileged domain (the control domain) may make them, and
    // most never on itself (kernel/control/hypercall_table.cpp). Domains are named by id.
    kDomainCreate = 16,        // (linear address of DomainCreateArgs) -> the new domain's id
    kDomainDestroy = 17,       // (id) -> 0; returns once everything it had is back
    kDomainPause = 18,         // (id) -> 0; returns once none of its vCPUs runs
    kDomainUnpause = 19,       // (id) -> 0
    kDomainGetStatus = 20,     // (id, linear address of DomainStatus) -> 0
    kDomainMemoryWrite = 21,   // (id, guest-physical address, source linear address, length) -> 0
    kDomainMemoryRead = 22,    // (id, guest-physical address, destination linear address, length) -> 0
    kVcpuGetState = 23,        // (id, vCPU, linear address, buffer size) -> bytes of the encoded state
    kVcpuSetState = 24,        // (id, vCPU, linear address, length) -> 0
    kHypervisorStats = 25,     // (linear address of HypervisorStats) -> 0
    kVcpuGetInfo = 26,         // (id, vCPU, linear address of VcpuInfo) -> 0
    kDomainDirtyLog = 27,      // (id, DirtyLogOp, linear address of a bitmap, pages) -> see DirtyLogOp
    kDomainList = 28,          // (linear address of uint32_t ids[], capacity) -> how many domains there are
    kHostInfo = 29,            // (linear address of HostInfo) -> 0
    kDomainShutdown = 30,      // (id) -> 0: the graceful request the guest sees (the ACPI power button)
    kDomainConsoleRead = 31,   // (id, position, linear address, length) -> bytes: RingReadHeader, then text
    kDomainConsoleWrite = 32,  // (id, linear address, length <= kConsoleWriteMax) -> bytes taken as input
    kEventStatus = 33,         // (linear address of EventStatus) -> 0
    kLogRead = 34,             // (position, linear address, length, LogReadFlags) -> bytes, as console_read
    kDomainReset = 35,         // (id) -> 0: the reset button (a domU's on_reboot follows)
    kDomainRename = 36,        // (id, linear address of char[32]) -> 0
    kVcpuSetAffinity = 37,     // (id, vCPU, mask of physical CPUs, AffinityKind) -> 0
    // (id, first guest frame, count <= kForeignMapMaxPages, linear address of count uint64_t
    // frame numbers of the caller's own RAM) -> a handle: those pages show the domain's
    kDomainMapForeign = 38,
    kDomainUnmapForeign = 39,  // (handle) -> 0: the caller's pages are its own again
    // Device models in Domain-0 (docs/hypercalls.md, "Device models"): (id, frame of the
    // caller's RAM for the IoreqPage) -> 0: the domain's forwarded accesses go there
    kIoreqAttach = 40,
    kIoreqDetach = 41,    // (id) -> 0: waiting vCPUs get all ones; forwarded ranges stay, answering all ones
    kIoreqMap = 42,       // (id, IoreqMapKind, base, size, stride) -> 0, or a doorbell's bit
    kIoreqComplete = 43,  // (id, vCPU) -> 0: its slot holds the answer
    kInjectMsi = 44,      // (id, MSI address, MSI data) -> 0
    kEventGsi = 45,       // () -> Domain-0's GSI of Vireo's event line (edge, active high)
    // Ballooning (virtio-balloon's device model, xm mem-set): (id, BalloonOp, linear address
    // of count uint64_t guest frame numbers, count <= kBalloonMaxPages) -> how many were done
    kDomainBalloon = 46,
    kDomainMemoryTarget = 47,  // (id, MemoryTargetOp, bytes) -> get: the target in bytes; set: 0
    kDomainSchedCredit = 48,   // (id, SchedCreditOp, linear address of SchedCredit) -> 0
    // Save and restore of the virtual PC's devices (docs/hypercalls.md, "Platform state"),
    // only while the domain cannot run (created, paused or shut down), as vcpu_get_state:
    kDomainPlatformStateGet = 49,  // (id, linear address, buffer size) -> bytes of the blob written
    kDomainPlatformStateSet = 50,  // (id, linear address, length <= kPlatformStateMax) -> 0
    // (id, leaf, subleaf, linear address of uint32_t[4]) -> 0: EAX, EBX, ECX, EDX as the
    // domain's vCPU 0 sees them right after reset (CR4.OSXSAVE clear, XCR0 = 1)
    kDomainCpuid = 51,
    kCount,
};

enum Error : int64_t {
    kErrorPermission = -1,     // called from CPL > 0, or a control call from an unprivileged domain
    kErrorNoSuchDomain = -3,   // no domain has that id
    kErrorNoMemory = -12,      // the hypervisor is out of memory (or the domain over its quota)
    kErrorTooBig = -7,         // a length over its limit
    kErrorFault = -14,         // a buffer the guest cannot access (it would fault)
    kErrorBusy = -16,          // the vCPU is already running; a page another domain maps
    kErrorExists = -17,        // a domain of that name exists already
    kErrorInvalid = -22,       // an argument out of range
    kErrorNoSuchCall = -38,    // unknown call number
    kErrorBadState = -74,      // a saved state that does not decode, or that the CPU would refuse
    kErrorNotSupported = -95,  // the domain has no such thing (a shutdown request without a power button)
    kErrorWrongState = -125,   // not allowed in the domain's present state (e.g. unpause a dying domain)
};

inline constexpr uint32_t kVersionValue = (0u << 16) | 12u;
// The most pages one domain_map_foreign maps: 16 MiB.
inline constexpr uint32_t kForeignMapMaxPages = 4096;
inline constexpr uint64_t kConsoleWriteMax = 1024;
inline constexpr uint64_t kMaxTimerMicroseconds = 60ull * 1000 * 1000;

struct DomainInfo {
    uint32_t domain_id;
    uint32_t vcpu_index;
    uint32_t vcpu_count;
    uint32_t reserved;
    uint64_t memory_bytes;
};
static_assert(sizeof(DomainInfo) == 24);

// Per kDomainMemoryRead/Write call: a migration reads a running domain's RAM this way
// (a foreign mapping would count its pages as written), 1 MiB a call.
inline constexpr uint64_t kMemoryCopyMax = 1024 * 1024;

// The encoded vCPU state of kVcpuGetState/kVcpuSetState (kernel/vcpu/vcpu_state_codec.hpp):
// a 24-byte header (magic 'VCPS', version 2, total length, parts, checksum, 0), then the
// fields in a fixed little-endian order. A toolstack that only moves a state treats it as
// opaque; one that builds a domain edits these: the 16 general registers (x86 order), RIP,
// RFLAGS and the debug registers (DR0-DR3, DR6, DR7), and then seals it again
// (vcpu_state_seal). `parts` (at kVcpuStatePartsOffset) says which parts the state
// carries (bit 0 GPRs, 1 RIP/RFLAGS, 2 segments, 3 control registers, 4 debug registers,
// 5 MSRs and TSC, 6 FPU, 7 events and activity): vcpu_get_state gives all (0xff);
// vcpu_set_state changes only those named, and the bytes of the others must be 0.
inline constexpr uint32_t kVcpuStateVersion = 2;
inline constexpr uint32_t kVcpuStateSize = 1360;
inline constexpr uint32_t kVcpuStatePartsOffset = 12;
inline constexpr uint32_t kVcpuStateChecksumOffset = 16;
inline constexpr uint32_t kVcpuStateGprOffset = 24;
inline constexpr uint32_t kVcpuStateRipOffset = 152;
inline constexpr uint32_t kVcpuStateRflagsOffset = 160;
inline constexpr uint32_t kVcpuStateDebugOffset = 372;                    // DR0-DR3, DR6, DR7: 8 bytes each
inline constexpr uint32_t kVcpuStateActivityOffset = kVcpuStateSize - 9;  // 0 active, 1 halted, 2 wait for SIPI

// The checksum: CRC-32 as in zlib, PNG and IEEE 802.3 (reflected polynomial EDB88320H,
// initial value and final XOR all ones) over the whole encoding with the checksum field
// read as 0, so it covers the body and the parts mask alike.
inline uint32_t vcpu_state_checksum(const uint8_t* state, uint32_t length) {
    uint32_t crc = 0xffffffffu;
    for (uint32_t i = 0; i < length; ++i) {
        const bool in_field = i >= kVcpuStateChecksumOffset && i < kVcpuStateChecksumOffset + 4;
        crc ^= in_field ? 0u : state[i];
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// Writes the checksum of an edited state of kVcpuStateSize bytes.
inline void vcpu_state_seal(uint8_t* state) {
    const uint32_t crc = vcpu_state_checksum(state, kVcpuStateSize);
    for (uint32_t i = 0; i < 4; ++i) state[kVcpuStateChecksumOffset + i] = uint8_t(crc >> (8 * i));
}

// The platform state of kDomainPlatformStateGet/Set (kernel/vm/devices/platform_state_codec.hpp,
// kernel/vm/devices/pc/pc_platform_state.hpp): a 16-byte header (magic 'VPST', format
// version 1, total length, record count), then records {u32 type, u32 length, payload}.
// Opaque to a toolstack that only moves it; a buffer of kPlatformStateMax always holds one.
inline constexpr uint32_t kPlatformStateVersion = 1;
inline constexpr uint32_t kPlatformStateMax = 16 * 1024;

enum DomainCreateFlags : uint32_t {
    kCreatePcPlatform = 1u << 0,  // the virtual PC (as a Linux domain gets)
    // CPUID leaves 1, 7.0 and 8000_0001h offer only features AMD and Intel both define
    // (kernel/vm/cpuid_policy.cpp): a save restores on either vendor's CPU that has them.
    kCreateMigratableCpuid = 1u << 1,
    // Of leaves 1, 7.0 and 8000_0001h, no feature outside DomainCreateArgs' cpuid_limit:
    // xm restore passes the features the saved domain was given, so that a domain keeps
    // the CPUID it started with wherever it moves (it may use any of them at any time,
    // and may have chosen code paths by them) and can move back.
    kCreateCpuidLimit = 1u << 2,
};

// The feature bits of CPUID leaves 1 (ECX, EDX), 7.0 (EBX, ECX, EDX) and 8000_0001h
// (ECX, EDX) a domain may see at most (kCreateCpuidLimit). Bits that CPUID reports from
// the guest's own state (leaf 1's OSXSAVE) and the hypervisor bit are not limited.
struct CpuidFeatureLimit {
    uint32_t leaf1_ecx, leaf1_edx;
    uint32_t leaf7_ebx, leaf7_ecx, leaf7_edx;
    uint32_t ext1_ecx, ext1_edx;
    uint32_t reserved;  // 0
};
static_assert(sizeof(CpuidFeatureLimit) == 32);

struct DomainCreateArgs {
    char name[32];  // 1-31 of letters, digits, "-_."
    uint64_t memory_bytes;
    uint32_t vcpus;
    uint32_t flags;                 // DomainCreateFlags
    CpuidFeatureLimit cpuid_limit;  // with kCreateCpuidLimit; else ignored
};
static_assert(sizeof(DomainCreateArgs) == 80);

// States as `xm list` shows them.
enum DomainStatusState : uint32_t {
    kStateRunning = 0,
    kStateBlocked = 1,
    kStatePaused = 2,
    kStateShutdown = 3,
    kStateCrashed = 4,
    kStateDying = 5,
};

struct DomainStatus {
    uint32_t id;
    uint32_t state;  // DomainStatusState
    int64_t exit_code;
    uint64_t memory_bytes;
    uint32_t vcpus;
    uint32_t privileged;
    char name[32];
    // Its memory quota, and how much of it is charged now: its RAM and the hypervisor's
    // structures for it (tables, vCPUs, devices, a dirty log); 0 once they went back.
    uint64_t quota_bytes;
    uint64_t charged_bytes;
    uint64_t cpu_time_ns;      // its vCPUs' time on physical CPUs, all added up (xm list's Time)
    uint32_t shutdown_reason;  // ShutdownReason, once it is shut down or crashed
    uint32_t reserved;
    uint64_t uptime_us;  // since it was created (or last restarted by the hypervisor)
};
static_assert(sizeof(DomainStatus) == 104);

// Why a domain ended, for its toolstack's on_poweroff / on_reboot / on_crash.
enum ShutdownReason : uint32_t {
    kReasonNone = 0,      // it has not ended
    kReasonPowerOff = 1,  // ACPI power-off, or the shutdown hypercall
    kReasonReboot = 2,    // it reset its machine (or was reset: domain_reset), and cannot be reloaded in place
    kReasonCrash = 3,     // it broke a rule, or reset after a kernel panic
};

// kDomainConsoleRead and kLogRead write this at the start of the buffer, then the text.
// Positions count every byte the stream ever had; `first` > the position asked for means
// the bytes between were overwritten before they were read (say so to the user).
struct RingReadHeader {
    uint64_t first;  // the position of the first byte that follows
    uint64_t end;    // the stream's end: ask again from first + bytes read
};
static_assert(sizeof(RingReadHeader) == 16);
inline constexpr uint64_t kRingReadMax = 64 * 1024;  // the length a read may ask for, header included

enum LogReadFlags : uint32_t {
    kLogReadClear = 1u << 0,  // then forget the log up to the end of this read (xm dmesg -c)
};

// Generation counters: each grows when such a thing happens. A waiter keeps the values
// it saw and asks what changed when one moves (domain_get_status, console_read).
struct EventStatus {
    uint64_t state_generation;    // a domain was created, paused, unpaused, ended, restarted or destroyed
    uint64_t console_generation;  // some domain wrote to its console
};
static_assert(sizeof(EventStatus) == 16);

// kDomainDirtyLog's operations. The bitmap has one bit per 4 KiB page of the domain's
// RAM (bit n of byte n / 8 for page n); `pages` must be the domain's page count.
enum DirtyLogOp : uint32_t {
    kDirtyLogEnable = 0,   // -> 0: writes from now on are logged
    kDirtyLogTake = 1,     // -> pages dirtied since the last take (or enable), their bits written to the bitmap
    kDirtyLogDisable = 2,  // -> 0
    // -> as take, and every page that another domain maps now counts as written: the last
    // take of a migration, once the device model writing through its mappings has stopped.
    kDirtyLogTakeFinal = 3,
};

enum VcpuInfoState : uint32_t { kVcpuRunnable = 0, kVcpuBlocked = 1, kVcpuStopped = 2 };

struct VcpuInfo {
    uint32_t cpu;         // the physical CPU it runs on
    uint32_t state;       // VcpuInfoState
    uint64_t migrations;  // moves from one physical CPU to another
    uint64_t exits;
    uint64_t cpu_time_ns;    // its time on physical CPUs
    uint64_t affinity;       // the physical CPUs it may run on (bit n: CPU n): hard affinity
    uint64_t soft_affinity;  // the ones it prefers, where it may run
};
static_assert(sizeof(VcpuInfo) == 48);

// kVcpuSetAffinity's fourth argument: which of the vCPU's CPU sets the mask replaces.
enum AffinityKind : uint32_t {
    kAffinityHard = 0,  // it runs only there
    kAffinitySoft = 1,  // it prefers those, where its hard affinity allows
};

struct HypervisorStats {
    uint64_t free_memory_bytes;
    uint64_t heap_bytes_in_use;
    uint32_t domains;
    uint32_t free_domain_ids;
    uint32_t free_vpids;  // VT-x; 0 on AMD-V
    uint32_t cpus;
};
static_assert(sizeof(HypervisorStats) == 32);

inline constexpr uint32_t kMaxDomainListCapacity = 1024;

enum HostVirtualization : uint32_t { kHostAmdSvm = 0, kHostIntelVmx = 1 };

// What `xm info` shows. Text fields are NUL-terminated; command_line_length is the whole
// command line's length, which says whether command_line holds all of it.
struct HostInfo {
    uint32_t cpus;
    uint32_t virtualization;      // HostVirtualization
    uint64_t total_memory_bytes;  // RAM the hypervisor manages (usable, less its own image)
    uint64_t free_memory_bytes;
    uint64_t uptime_us;
    uint64_t tsc_hz;
    uint32_t version;  // kVersionValue
    uint32_t command_line_length;
    char cpu_model[48];  // CPUID's brand string
    char command_line[256];
};
static_assert(sizeof(HostInfo) == 352);

// Device models (kIoreqAttach ...): a domain's accesses to the devices a device model in
// Domain-0 serves are forwarded to it through one page of Domain-0's RAM, as Xen's ioreq
// servers and ACRN's I/O requests do. Each vCPU has a slot; the hypervisor fills it
// (Idle -> Ready), raises Domain-0's event line and holds the vCPU; the device model
// writes `data` for a read, sets Answered and makes kIoreqComplete, which resumes the vCPU.
enum IoreqState : uint32_t { kIoreqIdle = 0, kIoreqReady = 1, kIoreqAnswered = 2 };
enum IoreqType : uint8_t {
    kIoreqMmio = 0,       // address: guest-physical
    kIoreqPciConfig = 1,  // address: bus << 20 | device << 15 | function << 12 | register (ECAM's layout)
};
struct IoreqSlot {
    uint32_t state;  // IoreqState
    uint8_t type;    // IoreqType
    uint8_t size;    // 1, 2, 4 or 8 bytes
    uint8_t write;   // 1: a write of `data`; 0: a read, answered in `data`
    uint8_t reserved;
    uint64_t address;
    uint64_t data;
    uint64_t sequence;  // grows by one with each request of the vCPU
};
static_assert(sizeof(IoreqSlot) == 32);
inline constexpr uint32_t kIoreqSlots = 8;  // one per vCPU (a domain has at most 8)
struct IoreqPage {
    // Bit n: doorbell n (kIoreqMapDoorbell) was written since the device model last took
    // them (an atomic exchange with 0). Posted: the writing vCPU does not wait.
    uint64_t doorbells;
    uint32_t vcpus;  // slots in use
    uint32_t reserved0;
    // The domain's memory target (domain_memory_target), which the hypervisor writes here
    // at the attach and whenever it changes, before it raises the event line: the device
    // model's balloon follows it without a call on each wake-up.
    uint64_t memory_target;
    uint32_t reserved[10];
    IoreqSlot slots[kIoreqSlots];
};
static_assert(sizeof(IoreqPage) == 320);
enum IoreqMapKind : uint32_t {
    kIoreqMapMmio = 0,  // [base, base + size) of the 32-bit PCI hole is forwarded (at most 8 ranges)
    kIoreqMapPciDevice =
        1,  // device `base` (0-31) of bus 0 is the device model's: its configuration space is forwarded
    // Writes to [base, base + size), inside a forwarded range, ring doorbells: the one at
    // base + n * stride is bit (result + n) of IoreqPage::doorbells (at most 64 bits in all)
    kIoreqMapDoorbell = 2,
    kIoreqMapClearDoorbells = 3,  // every doorbell is forgotten (the device model moved a BAR)
};

// kDomainBalloon's operations, on 4 KiB pages of the domain's RAM named by guest frame
// number. Done in order; the call stops at the first page that fails.
enum BalloonOp : uint32_t {
    kBalloonRelease = 0,   // plain RAM goes back to the host (the guest's balloon inflates)
    kBalloonPopulate = 1,  // a released page gets a fresh zeroed frame (it deflates)
};
inline constexpr uint32_t kBalloonMaxPages = 512;  // per call: 2 MiB

// kDomainMemoryTarget's operations: the target the domain's balloon works towards, in
// bytes; at first its RAM at creation (its maxmem, the most it may be set to).
enum MemoryTargetOp : uint32_t {
    kMemoryTargetGet = 0,
    kMemoryTargetSet = 1,  // raises Domain-0's event line: its device model looks again
};
inline constexpr uint64_t kMinMemoryTarget = 16ull * 1024 * 1024;  // or its RAM, when smaller

// kDomainSchedCredit: a domain's share of the CPUs under the credit scheduler
// (kernel/sched/credit_policy.hpp; Xen's `xl sched-credit`).
enum SchedCreditOp : uint32_t {
    kSchedCreditGet = 0,  // fills the SchedCredit
    kSchedCreditSet = 1,  // takes both fields; -22 (nothing changes) when one is out of range
};
struct SchedCredit {
    uint32_t weight;       // kSchedMinWeight..kSchedMaxWeight; kSchedDefaultWeight unless set
    uint32_t cap_percent;  // of one CPU, for the whole domain: 0 (none) to 100 per vCPU
};
static_assert(sizeof(SchedCredit) == 8);
inline constexpr uint32_t kSchedDefaultWeight = 256;
inline constexpr uint32_t kSchedMinWeight = 1;
inline constexpr uint32_t kSchedMaxWeight = 65535;

}  // namespace hypercall
