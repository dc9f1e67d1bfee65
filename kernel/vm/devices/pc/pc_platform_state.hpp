// The virtual PC's device state as one blob (platform_state_codec.hpp), for
// domain_platform_state_get/set (docs/hypercalls.md, "Platform state"): which records it
// has, and the restore in two steps, so that a blob with anything wrong leaves the
// devices exactly as they were:
//   1. pc_state_load reads every record into a PcPlatformState, checking the framing,
//      that each record comes exactly once (one local APIC record per vCPU), that each
//      record's fields are in range and that nothing follows them, and touches no device;
//   2. pc_state_restore makes that state the devices'; it cannot fail.
// Pure code over the device models (the platform holds their lock around both), shared
// with the host tests.
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/virtual_ioapic.hpp"
#include "kernel/vm/devices/apic/virtual_lapic.hpp"
#include "kernel/vm/devices/pc/acpi_pm_block.hpp"
#include "kernel/vm/devices/pc/cmos_rtc.hpp"
#include "kernel/vm/devices/pc/i8042_model.hpp"
#include "kernel/vm/devices/pc/kvm_clock.hpp"
#include "kernel/vm/devices/pc/pci_host_bridge.hpp"
#include "kernel/vm/devices/pc/pic8259_model.hpp"
#include "kernel/vm/devices/pc/pit8254_model.hpp"
#include "kernel/vm/devices/pc/pv_eoi.hpp"
#include "kernel/vm/devices/pc/reset_control.hpp"
#include "kernel/vm/devices/pc/steal_time.hpp"
#include "kernel/vm/devices/pc/system_control_port_b.hpp"
#include "kernel/vm/devices/pc/uart16550_model.hpp"

namespace pc_state {

// Record types; each payload is described with its model's save().
enum RecordType : u32 {
    kPlatform = 1,  // u32 vCPUs (local APICs), u32 guest TSC kHz, u64 device time (ns), u64 guest TSC
    kPic = 2,       // both 8259As, master first
    kPit = 3,       // the 8254's three counters
    kPortB = 4,     // port 0x61
    kRtc = 5,       // the CMOS RTC and its RAM
    kUart = 6,      // COM1
    kPmBlock = 7,   // the ACPI PM1 block and PM timer
    kI8042 = 8,     // the keyboard controller
    kPciHost = 9,   // 0xCF8 and the host bridge's configuration space
    kResetControl = 10,
    kIoapic = 11,
    kLapic = 12,      // u32 vCPU index, then that vCPU's local APIC
    kKvmClock = 13,   // kvmclock's MSRs (KvmClock::save)
    kPvEoi = 14,      // MSR_KVM_PV_EOI_EN of each vCPU (PvEoi::save); optional: PV EOI off
    kStealTime = 15,  // MSR_KVM_STEAL_TIME of each vCPU (StealTime::save); optional: steal time off
};
inline constexpr u32 kFirstRecord = kPlatform;
inline constexpr u32 kLastRecord = kStealTime;
// Records a blob may leave out (a state saved before they existed): bit n for type n.
inline constexpr u32 kOptionalRecords = (1u << kPvEoi) | (1u << kStealTime);
// As many vCPUs as a domain has at most (Domain::kMaxVcpus).
inline constexpr u32 kMaxVcpus = 8;

}  // namespace pc_state

// The models of one virtual PC.
struct PcDevices {
    Pic8259Pair& pic;
    Pit8254& pit;
    SystemControlPortB& port61;
    CmosRtc& rtc;
    Uart16550& com1;
    AcpiPmBlock& pm;
    ResetControl& reset_control;
    PciHostBridge& pci;
    I8042& kbc;
    VirtualIoapic& ioapic;
    KvmClock& kvm_clock;
    PvEoi& pv_eoi;
    StealTime& steal_time;
    VirtualLapic* const* lapics;  // one per vCPU
    u32 vcpus;
};

// The platform's time at the save: its device time (the guest's time since the platform
// started) and the guest's TSC then, and the rate that TSC runs at (kHz; 0 in a state
// saved before the rate was kept: unknown). A restore continues both from these values,
// at that rate where the CPU can scale the guest's TSC (kernel/vm/tsc_rate.hpp).
struct PcClock {
    u64 device_ns;
    u64 guest_tsc;
    u32 guest_tsc_khz = 0;
};

// Everything a blob holds, checked.
struct PcPlatformState {
    PcClock clock;
    Pic8259Pair::State pic;
    Pit8254::State pit;
    SystemControlPortB::State port61;
    CmosRtc::State rtc;
    Uart16550::State com1;
    AcpiPmBlock::State pm;
    u8 reset_control;
    PciHostBridge::State pci;
    I8042::State kbc;
    VirtualIoapic::State ioapic;
    KvmClock::State kvm_clock;
    PvEoi::State pv_eoi;          // all off when the blob has no kPvEoi record
    StealTime::State steal_time;  // all off when the blob has no kStealTime record
    VirtualLapic::State lapics[pc_state::kMaxVcpus];
};

// Writes the blob into `out` when it fits in `capacity`; the blob's size either way.
usize pc_state_save(const PcDevices& devices, const PcClock& clock, u8* out, usize capacity);

enum class PcStateError : u8 {
    None,
    Framing,          // the header or the records' lengths (platform_state_codec.hpp)
    UnknownRecord,    // a record type this format does not have
    DuplicateRecord,  // a record twice (or a local APIC twice)
    MissingRecord,    // a record the virtual PC needs is not there
    VcpuCount,        // another number of local APICs than the domain has vCPUs
    BadRecord,        // a field out of range, a payload too short or too long
};
const char* pc_state_error_name(PcStateError error);

// Reads and checks a blob against `devices` without changing them. On an error,
// `record` (when given) is the type of the record concerned, 0 for none.
PcStateError pc_state_load(const PcDevices& devices, const u8* in, usize length, PcPlatformState& out,
                           u32* record = nullptr);

// Makes a loaded state the devices'. The caller has continued its device time and guest
// TSC from state.clock first (local APIC TSC deadlines are computed from the TSC), and
// afterwards re-reads every model's deadline and rebases kvmclock on this host
// (KvmClock::rebase). No interrupt line moves: the interrupt
// controllers' input levels are part of the state.
void pc_state_restore(const PcDevices& devices, const PcPlatformState& state);
