// A guest's local APIC, one per vCPU (Intel SDM vol. 3A, chapter 11; AMD APM vol. 2,
// chapter 16): the register file in xAPIC (MMIO) and x2APIC (MSR) form, IA32_APIC_BASE
// with its mode transitions, interrupt acceptance and priority (IRR/ISR/TMR, TPR/PPR),
// EOI with the broadcast to the IOAPIC, the timer (lapic_timer.hpp), LINT0/LINT1, the
// error register, and IPIs sent through the ICR to the ApicBus.
//
// The hypervisor's side:
//  - register access: mmio_* (xAPIC page), msr_read/msr_write (0x1B, 0x6E0, 0x800-0x8FF);
//  - interrupt delivery, polled at each VM entry in this order: take_init, take_sipi,
//    take_nmi, extint_pending/acknowledge_extint, pending_vector/acknowledge (acknowledge
//    when the vector is actually injected);
//  - time: next_deadline_ns/advance_to (device_interfaces.hpp convention);
//  - wake-ups: ApicWakeup::wake_vcpu(index) whenever something new is accepted.
//
// Who calls what (all under the platform's per-domain lock; there is none inside):
//  - the owning vCPU only: mmio_*, msr_*, the polling methods, acknowledge*;
//  - any vCPU or device context: accept_* (through the ApicBus), set_lint (the PIC's
//    owner or the platform), advance_to (whoever handles the platform timer).
#pragma once

#include "kernel/types.hpp"
#include "kernel/vm/devices/apic/apic_interfaces.hpp"
#include "kernel/vm/devices/apic/lapic_registers.hpp"
#include "kernel/vm/devices/apic/lapic_timer.hpp"
#include "kernel/vm/devices/device_interfaces.hpp"

class StateWriter;
class StateReader;

struct LapicConfig {
    u32 apic_id = 0;   // the initial APIC ID, also the x2APIC ID (SDM 11.12.5.1)
    bool bsp = false;  // IA32_APIC_BASE.BSP; the others start in wait-for-SIPI
    // The timer's input clock before the divider; clamped to [1 Hz, 1 GHz].
    u64 timer_hz = 1'000'000'000;
    // The guest's MAXPHYADDR: IA32_APIC_BASE bits at and above it are reserved.
    u8 phys_addr_bits = 36;
    // Advertise EOI-broadcast suppression (version bit 24) and let SVR bit 12 be set; only
    // useful with an IOAPIC that has an EOI register (version 0x20).
    bool eoi_broadcast_suppression = false;
};

class VirtualLapic {
public:
    static constexpr i32 kNoVector = -1;

    VirtualLapic(const LapicConfig& config, const GuestClock& clock, const GuestTsc& tsc);

    // Wiring, once before the guest runs. Without a sink IPIs go nowhere; without an EOI
    // listener EOIs reach no IOAPIC; without an ExtINT source no ExtINT is ever pending.
    // `index` is this vCPU's index, passed back through ApicWakeup and used as the
    // message's source (ApicBus::attach calls connect).
    void connect(ApicMessageSink* bus, ApicWakeup* wakeup, u32 index);
    void set_eoi_listener(EoiListener* listener) { eoi_listener_ = listener; }
    void set_extint_source(ExtIntSource* source) { extint_source_ = source; }

    // Platform reset (RESET#, a guest reboot): power-up state, IA32_APIC_BASE included
    // (xAPIC mode, enabled, default base), pending events dropped; the APs wait for SIPI.
    void reset();

    // --- Guest register access -------------------------------------------------------
    // xAPIC page, 32-bit accesses: `offset` within the 4 KiB page. Registers sit at
    // 16-byte-aligned offsets; the other 12 bytes of each slot read 0 and ignore writes.
    // Reserved slots read 0, ignore writes and set ESR "illegal register address".
    // Read-only registers ignore writes. Outside xAPIC mode (disabled or x2APIC; SDM
    // 11.12.2) the page reads 0 and ignores writes.
    u32 mmio_read(u32 offset);
    void mmio_write(u32 offset, u32 value);
    // Any access size, as MmioDevice passes it (as KVM does): reads of 1, 2 or 4 bytes
    // within the first dword of a slot return those bytes, other reads 0; writes other
    // than 4 bytes at a slot's start are ignored (SDM 11.4.1: only aligned 32-bit
    // accesses are architectural).
    u64 mmio_read_sized(u64 offset, u8 size);
    void mmio_write_sized(u64 offset, u8 size, u64 value);
    // The xAPIC page is decoded (hardware-enabled, not x2APIC) at this guest-physical base.
    bool mmio_enabled() const;
    u64 mmio_base() const;

    // The MSRs this model owns: IA32_APIC_BASE (0x1B), IA32_TSC_DEADLINE (0x6E0) and the
    // x2APIC range 0x800-0x8FF.
    static bool handles_msr(u32 msr);
    // False means #GP(0): any x2APIC MSR outside x2APIC mode, reserved registers, writes
    // to read-only ones, reads of EOI and SELF IPI, non-zero reserved bits (SDM 11.12.1.2,
    // 11.12.1.3), an illegal IA32_APIC_BASE transition (SDM 11.12.5). Also false for MSRs
    // handles_msr rejects.
    bool msr_read(u32 msr, u64& value);
    bool msr_write(u32 msr, u64 value);

    u64 apic_base() const { return apic_base_; }
    bool write_apic_base(u64 value);
    // IA32_TSC_DEADLINE (SDM 11.5.4.1): reads 0 and ignores writes outside TSC-deadline
    // mode; 0 disarms; a deadline in the past fires at the next advance_to.
    u64 read_tsc_deadline() const;
    void write_tsc_deadline(u64 tsc);
    // After the guest's TSC moved relative to GuestClock (IA32_TSC written): recomputes
    // when an armed TSC deadline falls.
    void tsc_changed();

    // --- Time ------------------------------------------------------------------------
    // kNoDeadline when the timer is stopped or its LVT entry masked (an expiry while
    // masked has no effect; any LVT write first catches up with the clock).
    u64 next_deadline_ns() const;
    const LapicTimer& timer() const { return timer_; }
    void advance_to(u64 now_ns);

    // --- Incoming interrupts (the ApicBus, the IOAPIC through it, local sources) -------
    // Fixed delivery (and lowest priority once the bus picked this APIC): sets IRR, and
    // TMR for level-triggered, clears TMR for edge (SDM 11.8.4). Refused (false) when the
    // APIC is disabled (hardware or software, SDM 11.4.7.2) or the vector is below 16
    // (ESR receive illegal vector, SDM 11.5.3).
    bool accept_fixed(u8 vector, bool level_triggered);
    bool accept_nmi();
    // INIT resets the APIC (all but the ID and IA32_APIC_BASE, SDM 11.4.7.3; x2APIC mode
    // is kept, SDM 11.12.5.1) and enters wait-for-SIPI.
    bool accept_init();
    // Only in wait-for-SIPI (the second SIPI Linux sends is ignored).
    bool accept_sipi(u8 vector);
    // An ExtINT message (IOAPIC pin in ExtINT mode): the next interrupt comes from the PIC.
    bool accept_extint();
    // The LINT0/LINT1 input pins: level is the electrical level (polarity per the LVT).
    // The PIC's owner reports its INTR output on LINT0 (so that a vCPU in HLT wakes for
    // an ExtINT); with the APIC hardware-disabled LINT0 is INTR and LINT1 NMI.
    void set_lint(u8 pin, bool level);

    // --- Delivery to the vCPU (owning vCPU) -------------------------------------------
    // The highest IRR vector whose priority class is above PPR's (SDM 11.8.3.1), or kNoVector.
    i32 pending_vector() const;
    // The vector was handed to the CPU to inject (it is delivered when the guest can take
    // it). Another arrival of the same vector from now on counts as a new interrupt: on
    // hardware the first leaves IRR for ISR the moment it is delivered, so a second one
    // after that sets IRR again (SDM 11.8.4). When the second came before the delivery,
    // hardware would merge the two; the exit cannot tell which came first, so the choice
    // is the one that never loses an interrupt (a rare duplicate instead).
    void mark_in_flight(u8 vector);
    // The vector handed to the CPU was taken back before the guest took it (a vector of
    // higher priority came, or TPR rose): it stays in IRR, as one interrupt.
    void cancel_in_flight();
    // The vector was injected: IRR -> ISR (SDM 11.8.4). Ignored when not in IRR. If the
    // same vector arrived again while it was in flight, IRR keeps it, pending.
    void acknowledge(u8 vector);
    bool take_nmi();
    bool nmi_pending() const { return nmi_pending_; }
    // True once per INIT received: the vCPU stops and waits for SIPI (its APIC was reset).
    bool take_init();
    // True once per SIPI accepted: the vCPU starts in real mode at vector << 12.
    bool take_sipi(u8& vector);
    bool wait_for_sipi() const { return wait_for_sipi_; }
    // Anything above that a blocked vCPU would wake for (HLT: the hypervisor still checks
    // RFLAGS.IF for pending_vector and ExtINT).
    bool has_pending_event() const;
    // The PIC's INTR reaches this CPU (LINT0 unmasked in ExtINT mode, an ExtINT message, or
    // the APIC hardware-disabled) and is high. Takes precedence over pending_vector (ExtINT
    // bypasses APIC priority, SDM 11.5.1).
    bool extint_pending() const;
    // The INTA cycle to the PIC: its vector (0 when there is no ExtINT source).
    u8 acknowledge_extint();

    // --- State the ApicBus routes by -------------------------------------------------
    u32 index() const { return index_; }
    u32 apic_id() const { return apic_id_; }
    bool hw_enabled() const { return (apic_base_ & lapic::kApicBaseEnable) != 0; }
    bool sw_enabled() const { return (svr_ & lapic::kSvrEnable) != 0; }
    bool x2apic_mode() const { return (apic_base_ & lapic::kApicBaseX2apic) != 0; }
    u32 ldr() const;  // register value (xAPIC: bits 31:24; x2APIC: derived from the ID)
    u32 dfr() const;
    u8 tpr() const { return tpr_; }
    // MOV to CR8 (SDM 11.8.6.5): TPR[7:4] = CR8[3:0], TPR[3:0] = 0, in any APIC mode.
    void write_cr8(u64 cr8) { tpr_ = u8((cr8 & 0xf) << 4); }
    u8 ppr() const;
    u8 apr() const;
    bool in_irr(u8 vector) const { return test(irr_, vector); }
    bool in_isr(u8 vector) const { return test(isr_, vector); }
    bool in_tmr(u8 vector) const { return test(tmr_, vector); }
    // KVM's PV EOI (kernel/vm/devices/pc/pv_eoi.hpp): whether `vector`, handed to the CPU,
    // is all of IRR, ISR is empty and the vector is edge-triggered (TMR clear), so that
    // the guest's next EOI is that vector's and tells no I/O APIC anything.
    bool only_request_and_nothing_in_service(u8 vector) const;
    // The EOI the guest left to the hypervisor through PV EOI: as a write of the EOI
    // register.
    void eoi_left_by_guest() { eoi(); }

    // --- Save and restore (platform_state_codec.hpp) -----------------------------------
    // The APIC ID, IA32_APIC_BASE, every register (TPR, LDR, DFR, SVR, ISR/TMR/IRR, ESR
    // and the errors pending for it, ICR, the six LVT entries), the timer, the LINT input
    // levels and the pending NMI, INIT, SIPI and ExtINT. A vector handed to the CPU but
    // not yet taken (mark_in_flight) is saved as what it still is, a request in IRR: the
    // vCPU's pending injection is not part of its saved state, so the restored APIC
    // offers it again. load() refuses another APIC ID or BSP flag than this APIC's, and
    // reserved bits in any register (SDM 11.4.4, 11.5.1, 11.6.2, 11.9); restore() needs
    // the guest TSC already continued (the TSC deadline's time is computed from it) and
    // wakes no vCPU.
    struct State {
        u32 apic_id;
        u64 apic_base;
        u8 tpr;
        u32 ldr, dfr, svr;
        u32 isr[8], tmr[8], irr[8];
        u32 esr, esr_pending, icr_low, icr_high;
        u32 lvt[6];
        LapicTimer::State timer;
        bool lint_level[2];
        bool nmi_pending, init_pending, sipi_pending;
        u8 sipi_vector;
        bool wait_for_sipi, extint_message;
    };
    void save(StateWriter& out) const;
    bool load(StateReader& in, State& out) const;
    void restore(const State& state);

private:
    // lvt_ indices, in register order (offset 0x320 + 16 * index).
    enum LvtIndex : u8 { kTimerLvt, kThermalLvt, kPerformanceLvt, kLint0Lvt, kLint1Lvt, kErrorLvt, kLvtCount };

    static bool test(const u32 (&bits)[8], u8 vector) { return (bits[vector >> 5] >> (vector & 31)) & 1; }
    static void set(u32 (&bits)[8], u8 vector) { bits[vector >> 5] |= 1u << (vector & 31); }
    static void clear(u32 (&bits)[8], u8 vector) { bits[vector >> 5] &= ~(1u << (vector & 31)); }
    static i32 highest(const u32 (&bits)[8]);

    // Why a register write did not happen: the xAPIC ignores writes to read-only
    // registers and flags reserved ones in ESR; x2APIC raises #GP for all three.
    enum class WriteResult : u8 { Done, ReadOnly, Reserved, ReservedBits };

    void reset_registers();
    bool read_register(u32 offset, u64& value);
    WriteResult write_register(u32 offset, u64 value, bool x2apic);
    void write_lvt(u8 lvt, u32 value);
    void write_svr(u32 value);
    void eoi();
    void send_ipi(const ApicMessage& message);
    void signal_error(u32 esr_bits);
    void fire_timer();
    void reevaluate_lint(u8 pin);
    void sync_timer_mode();
    void notify();

    const GuestClock& clock_;
    const GuestTsc& tsc_;
    ApicMessageSink* bus_ = nullptr;
    ApicWakeup* wakeup_ = nullptr;
    EoiListener* eoi_listener_ = nullptr;
    ExtIntSource* extint_source_ = nullptr;
    u32 index_ = 0;

    const u32 apic_id_;
    const bool bsp_;
    const bool eoi_broadcast_suppression_;
    const u64 apic_base_reserved_;
    u64 apic_base_;

    u8 tpr_ = 0;
    u32 ldr_ = 0;
    u32 dfr_ = ~0u;
    u32 svr_ = 0xff;
    u32 isr_[8] = {};
    u32 tmr_[8] = {};
    u32 irr_[8] = {};
    i32 in_flight_ = -1;  // mark_in_flight's vector until acknowledged, else -1
    bool arrived_again_ = false;
    u32 esr_ = 0;          // what ESR reads: the errors latched by the last ESR write
    u32 esr_pending_ = 0;  // errors since the last ESR write (SDM 11.5.3)
    u32 icr_low_ = 0;
    u32 icr_high_ = 0;  // xAPIC: destination in bits 31:24; x2APIC: the 32-bit destination
    u32 lvt_[kLvtCount] = {};
    LapicTimer timer_;

    bool lint_level_[2] = {};
    bool nmi_pending_ = false;
    bool init_pending_ = false;
    bool sipi_pending_ = false;
    u8 sipi_vector_ = 0;
    bool wait_for_sipi_ = false;
    bool extint_message_ = false;
};
