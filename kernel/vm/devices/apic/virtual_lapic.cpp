#include "kernel/vm/devices/apic/virtual_lapic.hpp"

#include "kernel/hot_path.hpp"
#include "kernel/vm/devices/platform_state_codec.hpp"

namespace {

using namespace lapic;

constexpr u32 kDeliveryFixed = 0, kDeliveryNmi = 4, kDeliveryInit = 5, kDeliveryExtInt = 7;

// Per LVT entry (timer, thermal, performance, LINT0, LINT1, error; SDM Figure 11-8): the
// bits software writes, and the read-only bits it may write back without a #GP in x2APIC
// mode (a value read, modified and written keeps them).
constexpr u32 kLvtWritable[] = {
    kLvtVectorMask | kLvtMasked | kLvtTimerModeMask,
    kLvtVectorMask | kLvtDeliveryModeMask | kLvtMasked,
    kLvtVectorMask | kLvtDeliveryModeMask | kLvtMasked,
    kLvtVectorMask | kLvtDeliveryModeMask | kLvtActiveLow | kLvtLevelTriggered | kLvtMasked,
    kLvtVectorMask | kLvtDeliveryModeMask | kLvtActiveLow | kLvtLevelTriggered | kLvtMasked,
    kLvtVectorMask | kLvtMasked,
};
constexpr u32 kLvtReadOnly[] = {
    kLvtDeliveryStatus,
    kLvtDeliveryStatus,
    kLvtDeliveryStatus,
    kLvtDeliveryStatus | kLvtRemoteIrr,
    kLvtDeliveryStatus | kLvtRemoteIrr,
    kLvtDeliveryStatus,
};

constexpr u32 kLdrWritable = 0xff000000;  // xAPIC logical APIC ID (SDM 11.6.2.2)
constexpr u32 kDfrWritable = 0xf0000000;  // model; bits 27:0 read as 1 (SDM Figure 11-14)
constexpr u32 kIcrHighWritable = 0xff000000;
constexpr u32 kTimerDivideDefined = 0xb;

// Registers of the xAPIC page that have no x2APIC MSR (SDM Table 11-6): APR, RRD, DFR and
// ICR high (the ICR is one 64-bit MSR).
bool missing_in_x2apic(u32 offset) { return offset == kApr || offset == kRrd || offset == kDfr || offset == kIcrHigh; }

u32 delivery_mode(u32 lvt) { return (lvt & kLvtDeliveryModeMask) >> kLvtDeliveryModeShift; }

// x2APIC logical ID (SDM 11.12.10.2): cluster = ID[31:4] in bits 31:16, and one bit for
// ID[3:0] in bits 15:0.
u32 x2apic_ldr(u32 id) { return ((id >> 4) << 16) | (1u << (id & 0xf)); }

u64 apic_base_reserved_bits(u8 phys_addr_bits) {
    // Bits 7:0 and 9, and the address bits the guest's MAXPHYADDR does not have (SDM
    // 11.4.4). The APIC base must still fit below 4 GiB's default, hence at least 32.
    const u32 bits = phys_addr_bits < 32 ? 32 : phys_addr_bits > 52 ? 52 : phys_addr_bits;
    return 0x2ffull | ~((1ull << bits) - 1);
}

}  // namespace

VirtualLapic::VirtualLapic(const LapicConfig& config, const GuestClock& clock, const GuestTsc& tsc)
    : clock_(clock),
      tsc_(tsc),
      apic_id_(config.apic_id),
      bsp_(config.bsp),
      eoi_broadcast_suppression_(config.eoi_broadcast_suppression),
      apic_base_reserved_(apic_base_reserved_bits(config.phys_addr_bits)),
      apic_base_(0),
      timer_(config.timer_hz) {
    reset();
}

void VirtualLapic::reset() {
    apic_base_ = kDefaultApicBase | kApicBaseEnable | (bsp_ ? kApicBaseBsp : 0);
    reset_registers();
    lint_level_[0] = lint_level_[1] = false;
    init_pending_ = sipi_pending_ = false;
    // After power-up the APs wait for INIT/SIPI; only the BSP runs (SDM 9.4).
    wait_for_sipi_ = !bsp_;
}

void VirtualLapic::connect(ApicMessageSink* bus, ApicWakeup* wakeup, u32 index) {
    bus_ = bus;
    wakeup_ = wakeup;
    index_ = index;
}

// Power-up values (SDM 11.4.7.1): everything 0 except DFR all ones, SVR 0xFF (software
// disabled) and every LVT entry masked.
void VirtualLapic::reset_registers() {
    tpr_ = 0;
    ldr_ = 0;
    dfr_ = ~0u;
    svr_ = 0xff;
    for (u32 i = 0; i < 8; ++i) isr_[i] = tmr_[i] = irr_[i] = 0;
    in_flight_ = -1;
    arrived_again_ = false;
    esr_ = esr_pending_ = 0;
    icr_low_ = icr_high_ = 0;
    for (u32& lvt : lvt_) lvt = kLvtMasked;
    timer_.reset();
    nmi_pending_ = false;
    extint_message_ = false;
}

// Two registers at a time: this runs at every entry of a vCPU with a local APIC
// (PcPlatform::before_entry), mostly over an empty IRR.
i32 VirtualLapic::highest(const u32 (&bits)[8]) {
    for (usize i = 4; i-- > 0;) {
        const u64 pair = (u64(bits[2 * i + 1]) << 32) | bits[2 * i];
        if (pair) return i32(i * 64) + 63 - __builtin_clzll(pair);
    }
    return kNoVector;
}

u32 VirtualLapic::ldr() const { return x2apic_mode() ? x2apic_ldr(apic_id_) : ldr_; }
u32 VirtualLapic::dfr() const { return dfr_; }

// SDM 11.8.3.1: PPR is TPR when TPR's class is at least the in-service class, else the
// in-service class.
u8 VirtualLapic::ppr() const {
    const i32 in_service = highest(isr_);
    const u8 isrv = in_service < 0 ? 0 : u8(in_service);
    return (tpr_ & 0xf0) >= (isrv & 0xf0) ? tpr_ : u8(isrv & 0xf0);
}

// SDM 11.6.2.4 (Figure 11-15's APR): TPR when it outranks both the highest request and
// the highest in-service class, else max(TPR[7:4] AND ISRV[7:4], IRRV[7:4]) << 4.
u8 VirtualLapic::apr() const {
    const i32 in_service = highest(isr_), requested = highest(irr_);
    const u32 isrv = in_service < 0 ? 0 : u32(in_service) >> 4;
    const u32 irrv = requested < 0 ? 0 : u32(requested) >> 4;
    const u32 tpr_class = tpr_ >> 4;
    if (tpr_class >= irrv && tpr_class > isrv) return tpr_;
    const u32 masked = tpr_class & isrv;
    return u8((masked > irrv ? masked : irrv) << 4);
}

// --- Register access -------------------------------------------------------------------

bool VirtualLapic::read_register(u32 offset, u64& value) {
    switch (offset) {
        case kId: value = x2apic_mode() ? apic_id_ : apic_id_ << 24; return true;
        case kVersion: value = kVersionValue | (eoi_broadcast_suppression_ ? kVersionEoiSuppression : 0); return true;
        case kTpr: value = tpr_; return true;
        case kApr: value = apr(); return true;
        case kPpr: value = ppr(); return true;
        case kEoi:  // write-only; the xAPIC reads 0
        case kRrd: value = 0; return true;
        case kLdr: value = ldr(); return true;
        case kDfr: value = dfr_; return true;
        case kSvr: value = svr_; return true;
        case kEsr: value = esr_; return true;
        case kIcrLow: value = icr_low_; return true;  // delivery status: always idle
        case kIcrHigh: value = icr_high_; return true;
        case kLvtTimer:
        case kLvtThermal:
        case kLvtPerformance:
        case kLvtLint0:
        case kLvtLint1:
        case kLvtError: value = lvt_[(offset - kLvtTimer) >> 4]; return true;
        case kTimerInitialCount: value = timer_.initial_count(); return true;
        case kTimerCurrentCount: value = timer_.current_count(clock_.now_ns()); return true;
        case kTimerDivide: value = timer_.divide_config(); return true;
        default: break;
    }
    const u32 index = (offset >> 4) & 7;
    if (offset >= kIsr && offset < kIsr + 0x80) return value = isr_[index], true;
    if (offset >= kTmr && offset < kTmr + 0x80) return value = tmr_[index], true;
    if (offset >= kIrr && offset < kIrr + 0x80) return value = irr_[index], true;
    return false;
}

VirtualLapic::WriteResult VirtualLapic::write_register(u32 offset, u64 value, bool x2apic) {
    const u32 low = u32(value);
    switch (offset) {
        case kTpr:
            if (x2apic && (low & ~0xffu)) return WriteResult::ReservedBits;
            tpr_ = u8(low);
            return WriteResult::Done;
        case kEoi:
            // The xAPIC ignores the value; x2APIC requires 0 (SDM 11.12.1.2).
            if (x2apic && low != 0) return WriteResult::ReservedBits;
            eoi();
            return WriteResult::Done;
        case kLdr:
            if (x2apic) return WriteResult::ReadOnly;  // derived from the x2APIC ID
            ldr_ = low & kLdrWritable;
            return WriteResult::Done;
        case kDfr: dfr_ = (low & kDfrWritable) | ~kDfrWritable; return WriteResult::Done;
        case kSvr: {
            const u32 defined = kSvrVectorMask | kSvrEnable | kSvrFocusDisable |
                                (eoi_broadcast_suppression_ ? kSvrSuppressEoiBroadcast : 0);
            if (x2apic && (low & ~defined)) return WriteResult::ReservedBits;
            write_svr(low & defined);
            return WriteResult::Done;
        }
        case kEsr:
            // Latches the errors seen since the previous write (SDM 11.5.3); x2APIC
            // requires writing 0.
            if (x2apic && low != 0) return WriteResult::ReservedBits;
            esr_ = esr_pending_;
            esr_pending_ = 0;
            return WriteResult::Done;
        case kIcrLow: {
            u32 destination = icr_high_ >> 24;
            if (x2apic) {
                // One 64-bit register; the delivery-status bit is tolerated (as KVM does),
                // the other undefined low bits are reserved (SDM 11.12.9).
                if (low & ~(icr_bits::kWritableLow | icr_bits::kDeliveryStatus)) return WriteResult::ReservedBits;
                icr_high_ = destination = u32(value >> 32);
            }
            icr_low_ = low & icr_bits::kWritableLow;
            send_ipi(message_from_icr(icr_low_, destination, x2apic, index_));
            return WriteResult::Done;
        }
        case kIcrHigh: icr_high_ = low & kIcrHighWritable; return WriteResult::Done;
        case kLvtTimer:
        case kLvtThermal:
        case kLvtPerformance:
        case kLvtLint0:
        case kLvtLint1:
        case kLvtError: {
            const u8 lvt = u8((offset - kLvtTimer) >> 4);
            if (x2apic && (low & ~(kLvtWritable[lvt] | kLvtReadOnly[lvt]))) return WriteResult::ReservedBits;
            write_lvt(lvt, low);
            return WriteResult::Done;
        }
        case kTimerInitialCount:
            advance_to(clock_.now_ns());  // an expiry already due is delivered first
            timer_.set_initial_count(low, clock_.now_ns());
            return WriteResult::Done;
        case kTimerDivide:
            if (x2apic && (low & ~kTimerDivideDefined)) return WriteResult::ReservedBits;
            advance_to(clock_.now_ns());
            timer_.set_divide_config(low, clock_.now_ns());
            return WriteResult::Done;
        case kSelfIpi: {
            if (!x2apic) return WriteResult::Reserved;
            if (low & ~0xffu) return WriteResult::ReservedBits;
            ApicMessage message;
            message.vector = u8(low);
            message.shorthand = ApicShorthand::Self;
            message.x2apic_destination = true;
            message.source_index = index_;
            send_ipi(message);
            return WriteResult::Done;
        }
        case kId:
        case kVersion:
        case kApr:
        case kPpr:
        case kRrd:
        case kTimerCurrentCount: return WriteResult::ReadOnly;
        default: break;
    }
    if (offset >= kIsr && offset < kIrr + 0x80) return WriteResult::ReadOnly;  // ISR, TMR, IRR
    return WriteResult::Reserved;
}

void VirtualLapic::write_lvt(u8 lvt, u32 value) {
    // Deliver a timer expiry that is due under the old entry before the entry changes
    // (next_deadline_ns hides the deadline while masked).
    if (lvt == kTimerLvt) advance_to(clock_.now_ns());
    u32 entry = (lvt_[lvt] & kLvtReadOnly[lvt] & ~kLvtDeliveryStatus) | (value & kLvtWritable[lvt]);
    // A software-disabled APIC keeps every LVT entry masked (SDM 11.4.7.2).
    if (!sw_enabled()) entry |= kLvtMasked;
    lvt_[lvt] = entry;
    if (lvt == kTimerLvt) sync_timer_mode();
    if (lvt == kLint0Lvt || lvt == kLint1Lvt) reevaluate_lint(u8(lvt - kLint0Lvt));
}

// LVT timer bits 18:17 (SDM Table 11-2): 00 one-shot, 01 periodic, 10 TSC-deadline; the
// reserved 11 counts as one-shot, as KVM treats it.
void VirtualLapic::sync_timer_mode() {
    const u32 mode = (lvt_[kTimerLvt] & kLvtTimerModeMask) >> kLvtTimerModeShift;
    timer_.set_mode(mode == 1   ? LapicTimer::Mode::Periodic
                    : mode == 2 ? LapicTimer::Mode::TscDeadline
                                : LapicTimer::Mode::OneShot,
                    clock_.now_ns());
}

void VirtualLapic::write_svr(u32 value) {
    advance_to(clock_.now_ns());
    svr_ = value;
    // Software disable masks every LVT entry; enabling leaves them masked (SDM 11.4.7.2).
    if (!sw_enabled()) {
        for (u32& lvt : lvt_) lvt |= kLvtMasked;
    }
}

u32 VirtualLapic::mmio_read(u32 offset) {
    // With the APIC globally disabled (or in x2APIC mode) nothing decodes the page: the
    // bus floats high (SDM vol. 3A 11.4.3, 11.12.1).
    if (!mmio_enabled()) return ~0u;
    if (offset >= kMmioSize || (offset & 0xf)) return 0;
    u64 value = 0;
    if (!read_register(offset, value)) {
        signal_error(kEsrIllegalRegister);
        return 0;
    }
    return u32(value);
}

void VirtualLapic::mmio_write(u32 offset, u32 value) {
    if (!mmio_enabled() || offset >= kMmioSize || (offset & 0xf)) return;
    if (write_register(offset, value, false) == WriteResult::Reserved) signal_error(kEsrIllegalRegister);
}

u64 VirtualLapic::mmio_read_sized(u64 offset, u8 size) {
    if (offset >= kMmioSize || size == 0) return 0;
    const u32 in_slot = u32(offset & 0xf);
    if (in_slot + size > 4) return 0;
    const u32 value = mmio_read(u32(offset & ~0xfull)) >> (in_slot * 8);
    return size == 4 ? value : value & ((1u << (size * 8)) - 1);
}

void VirtualLapic::mmio_write_sized(u64 offset, u8 size, u64 value) {
    if (offset >= kMmioSize || size != 4 || (offset & 0xf)) return;
    mmio_write(u32(offset), u32(value));
}

bool VirtualLapic::mmio_enabled() const { return hw_enabled() && !x2apic_mode(); }
u64 VirtualLapic::mmio_base() const { return apic_base_ & ~0xfffull; }

bool VirtualLapic::handles_msr(u32 msr) {
    return msr == kApicBaseMsr || msr == kTscDeadlineMsr || (msr >= kX2apicMsrFirst && msr <= kX2apicMsrLast);
}

bool VirtualLapic::msr_read(u32 msr, u64& value) {
    if (msr == kApicBaseMsr) return value = apic_base_, true;
    if (msr == kTscDeadlineMsr) return value = read_tsc_deadline(), true;
    if (msr < kX2apicMsrFirst || msr > kX2apicMsrLast || !x2apic_mode()) return false;
    const u32 offset = (msr - kX2apicMsrFirst) << 4;
    if (missing_in_x2apic(offset) || offset == kEoi || offset == kSelfIpi) return false;  // write-only: #GP
    if (offset == kIcrLow) return value = (u64(icr_high_) << 32) | icr_low_, true;
    return read_register(offset, value);
}

bool VirtualLapic::msr_write(u32 msr, u64 value) {
    if (msr == kApicBaseMsr) return write_apic_base(value);
    if (msr == kTscDeadlineMsr) {
        write_tsc_deadline(value);
        return true;
    }
    if (msr < kX2apicMsrFirst || msr > kX2apicMsrLast || !x2apic_mode()) return false;
    const u32 offset = (msr - kX2apicMsrFirst) << 4;
    if (missing_in_x2apic(offset)) return false;
    if (offset != kIcrLow && (value >> 32)) return false;  // 32-bit registers: bits 63:32 reserved
    return write_register(offset, value, true) == WriteResult::Done;
}

// SDM 11.12.5, Figure 11-28: disabled (EN=0, EXTD=0), xAPIC (1, 0), x2APIC (1, 1); EN=0
// with EXTD=1 is invalid, and x2APIC -> xAPIC and disabled -> x2APIC are illegal.
bool VirtualLapic::write_apic_base(u64 value) {
    if (value & apic_base_reserved_) return false;
    const bool enable = (value & kApicBaseEnable) != 0, x2apic = (value & kApicBaseX2apic) != 0;
    if (x2apic && !enable) return false;
    if (x2apic_mode() && enable && !x2apic) return false;
    if (!hw_enabled() && x2apic) return false;
    const bool disabling = hw_enabled() && !enable;
    // The BSP flag belongs to the platform (set at reset); a guest write cannot change it.
    apic_base_ = (value & ~0xfffull) | (apic_base_ & kApicBaseBsp) | (enable ? kApicBaseEnable : 0) |
                 (x2apic ? kApicBaseX2apic : 0);
    // Leaving the enabled states resets the APIC; re-enabling finds power-up values.
    if (disabling) reset_registers();
    return true;
}

u64 VirtualLapic::read_tsc_deadline() const {
    return timer_.mode() == LapicTimer::Mode::TscDeadline ? timer_.tsc_deadline() : 0;
}

void VirtualLapic::write_tsc_deadline(u64 tsc) {
    if (timer_.mode() != LapicTimer::Mode::TscDeadline) return;
    advance_to(clock_.now_ns());
    timer_.set_tsc_deadline(tsc, tsc ? tsc_.ns_when_tsc_reaches(tsc) : 0);
}

void VirtualLapic::tsc_changed() {
    const u64 deadline = timer_.tsc_deadline();
    if (timer_.mode() == LapicTimer::Mode::TscDeadline && deadline != 0)
        timer_.set_tsc_deadline(deadline, tsc_.ns_when_tsc_reaches(deadline));
}

// --- Time ----------------------------------------------------------------------------------

u64 VirtualLapic::next_deadline_ns() const {
    if (!hw_enabled() || (lvt_[kTimerLvt] & kLvtMasked)) return kNoDeadline;
    return timer_.next_expiry_ns();
}

void VirtualLapic::advance_to(u64 now_ns) {
    if (timer_.advance_to(now_ns)) fire_timer();
}

void VirtualLapic::fire_timer() {
    const u32 lvt = lvt_[kTimerLvt];
    if (!(lvt & kLvtMasked)) accept_fixed(u8(lvt & kLvtVectorMask), false);
}

// --- Interrupt acceptance ----------------------------------------------------------------

bool VirtualLapic::accept_fixed(u8 vector, bool level_triggered) {
    if (!hw_enabled()) return false;
    if (vector < kFirstLegalVector) {
        signal_error(kEsrReceiveIllegalVector);
        return false;
    }
    if (!sw_enabled()) return false;
    set(irr_, vector);
    if (i32(vector) == in_flight_) arrived_again_ = true;
    if (level_triggered)
        set(tmr_, vector);
    else
        clear(tmr_, vector);
    notify();
    return true;
}

bool VirtualLapic::accept_nmi() {
    if (!hw_enabled()) return false;
    nmi_pending_ = true;
    notify();
    return true;
}

bool VirtualLapic::accept_init() {
    if (!hw_enabled()) return false;
    reset_registers();
    sipi_pending_ = false;
    wait_for_sipi_ = true;
    init_pending_ = true;
    notify();
    return true;
}

bool VirtualLapic::accept_sipi(u8 vector) {
    if (!hw_enabled() || !wait_for_sipi_) return false;
    wait_for_sipi_ = false;
    sipi_vector_ = vector;
    sipi_pending_ = true;
    notify();
    return true;
}

bool VirtualLapic::accept_extint() {
    if (!hw_enabled() || !sw_enabled()) return false;
    extint_message_ = true;
    notify();
    return true;
}

// The error interrupt (SDM 11.5.3): the LVT error vector, unless masked. An illegal error
// vector only adds "receive illegal vector": no second interrupt, so no recursion.
void VirtualLapic::signal_error(u32 esr_bits) {
    esr_pending_ |= esr_bits;
    const u32 lvt = lvt_[kErrorLvt];
    if (lvt & kLvtMasked) return;
    const u8 vector = u8(lvt & kLvtVectorMask);
    if (vector < kFirstLegalVector) {
        esr_pending_ |= kEsrReceiveIllegalVector;
        return;
    }
    set(irr_, vector);
    clear(tmr_, vector);
    notify();
}

VIREO_HOT_PATH void VirtualLapic::set_lint(u8 pin, bool level) {
    if (pin > 1) return;
    const bool was = lint_level_[pin];
    lint_level_[pin] = level;
    if (!hw_enabled()) {
        // A hardware-disabled APIC passes LINT0 through as INTR and LINT1 as NMI (SDM
        // 11.4.3; the PIC's INTR is then polled through extint_pending).
        if (pin == 1 && level && !was) nmi_pending_ = true;
        if (level) notify();
        return;
    }
    const u32 lvt = lvt_[kLint0Lvt + pin];
    if (lvt & kLvtMasked) return;
    const bool active_low = (lvt & kLvtActiveLow) != 0;
    const bool rising = (level != active_low) && (was == active_low);
    switch (delivery_mode(lvt)) {
        case kDeliveryFixed:
            if (lvt & kLvtLevelTriggered)
                reevaluate_lint(pin);
            else if (rising)
                accept_fixed(u8(lvt & kLvtVectorMask), false);
            break;
        case kDeliveryNmi:
            if (rising) accept_nmi();
            break;
        case kDeliveryInit:
            if (rising) accept_init();
            break;
        case kDeliveryExtInt:
            if (level) notify();  // the PIC's INTR is active high; its vector comes at INTA
            break;
        default: break;  // SMI and reserved modes: dropped
    }
}

// A level-triggered fixed LINT delivers while asserted and its remote IRR is clear (SDM
// 11.5.1: remote IRR set on acceptance, cleared by the EOI); an ExtINT LINT0 wakes the
// vCPU when the PIC already has something.
void VirtualLapic::reevaluate_lint(u8 pin) {
    if (!hw_enabled()) return;
    const u32 lvt = lvt_[kLint0Lvt + pin];
    if (lvt & kLvtMasked) return;
    if (delivery_mode(lvt) == kDeliveryExtInt) {
        if (extint_pending()) notify();
        return;
    }
    if (delivery_mode(lvt) != kDeliveryFixed || !(lvt & kLvtLevelTriggered) || (lvt & kLvtRemoteIrr)) return;
    const bool asserted = lint_level_[pin] != ((lvt & kLvtActiveLow) != 0);
    if (asserted && accept_fixed(u8(lvt & kLvtVectorMask), true)) lvt_[kLint0Lvt + pin] |= kLvtRemoteIrr;
}

// --- EOI and IPIs ------------------------------------------------------------------------

// SDM 11.8.5: the EOI retires the highest in-service vector; a level-triggered one (TMR
// set) is broadcast to the IOAPIC unless SVR suppresses the broadcast. The state is
// final before the listener runs: it may deliver to this APIC again.
void VirtualLapic::eoi() {
    const i32 in_service = highest(isr_);
    if (in_service < 0) return;
    const u8 vector = u8(in_service);
    clear(isr_, vector);
    for (u8 pin = 0; pin < 2; ++pin) {
        u32& lvt = lvt_[kLint0Lvt + pin];
        if ((lvt & kLvtRemoteIrr) && (lvt & kLvtVectorMask) == vector) {
            lvt &= ~kLvtRemoteIrr;
            reevaluate_lint(pin);
        }
    }
    if (test(tmr_, vector) && eoi_listener_ && !(svr_ & kSvrSuppressEoiBroadcast)) eoi_listener_->eoi(vector);
}

// SDM 11.5.3: a fixed or lowest-priority IPI with a vector below 16 is not sent and sets
// "send illegal vector".
void VirtualLapic::send_ipi(const ApicMessage& message) {
    const bool needs_vector =
        message.delivery_mode == ApicDeliveryMode::Fixed || message.delivery_mode == ApicDeliveryMode::LowestPriority;
    if (needs_vector && message.vector < kFirstLegalVector) {
        signal_error(kEsrSendIllegalVector);
        return;
    }
    if (bus_) bus_->send_message(message);
}

// --- Delivery to the vCPU ----------------------------------------------------------------

bool VirtualLapic::only_request_and_nothing_in_service(u8 vector) const {
    if (test(tmr_, vector) || highest(isr_) != kNoVector) return false;
    for (u8 i = 0; i < 8; ++i) {
        const u32 expected = (vector >> 5) == i ? 1u << (vector & 31) : 0;
        if (irr_[i] != expected) return false;
    }
    return true;
}

i32 VirtualLapic::pending_vector() const {
    if (!hw_enabled()) return kNoVector;
    const i32 vector = highest(irr_);
    if (vector < 0 || (u32(vector) & 0xf0) <= (ppr() & 0xf0u)) return kNoVector;
    return vector;
}

void VirtualLapic::mark_in_flight(u8 vector) {
    in_flight_ = vector;
    arrived_again_ = false;
}

void VirtualLapic::cancel_in_flight() {
    in_flight_ = -1;
    arrived_again_ = false;
}

void VirtualLapic::acknowledge(u8 vector) {
    const bool again = i32(vector) == in_flight_ && arrived_again_;
    if (i32(vector) == in_flight_) {
        in_flight_ = -1;
        arrived_again_ = false;
    }
    if (!test(irr_, vector)) return;
    if (!again) clear(irr_, vector);
    set(isr_, vector);
}

bool VirtualLapic::take_nmi() {
    const bool pending = nmi_pending_;
    nmi_pending_ = false;
    return pending;
}

bool VirtualLapic::take_init() {
    const bool pending = init_pending_;
    init_pending_ = false;
    return pending;
}

bool VirtualLapic::take_sipi(u8& vector) {
    if (!sipi_pending_) return false;
    sipi_pending_ = false;
    vector = sipi_vector_;
    return true;
}

bool VirtualLapic::has_pending_event() const {
    return init_pending_ || sipi_pending_ || nmi_pending_ || pending_vector() != kNoVector || extint_pending();
}

bool VirtualLapic::extint_pending() const {
    if (!extint_source_ || !extint_source_->extint_pending()) return false;
    if (!hw_enabled()) return true;
    const u32 lint0 = lvt_[kLint0Lvt];
    return extint_message_ || (!(lint0 & kLvtMasked) && delivery_mode(lint0) == kDeliveryExtInt);
}

u8 VirtualLapic::acknowledge_extint() {
    extint_message_ = false;
    return extint_source_ ? extint_source_->extint_acknowledge() : 0;
}

void VirtualLapic::notify() {
    if (wakeup_) wakeup_->wake_vcpu(index_);
}

// --- Save and restore --------------------------------------------------------------------

void VirtualLapic::save(StateWriter& out) const {
    out.put_u32(apic_id_);
    out.put_u64(apic_base_);
    out.put_u8(tpr_);
    out.put_u32(ldr_);
    out.put_u32(dfr_);
    out.put_u32(svr_);
    // A vector in flight is still in IRR (mark_in_flight leaves it there): saved as a
    // plain request, it is offered to the restored vCPU again.
    for (u32 word : isr_) out.put_u32(word);
    for (u32 word : tmr_) out.put_u32(word);
    for (u32 word : irr_) out.put_u32(word);
    out.put_u32(esr_);
    out.put_u32(esr_pending_);
    out.put_u32(icr_low_);
    out.put_u32(icr_high_);
    for (u32 lvt : lvt_) out.put_u32(lvt);
    timer_.save(out);
    out.put_bool(lint_level_[0]);
    out.put_bool(lint_level_[1]);
    out.put_bool(nmi_pending_);
    out.put_bool(init_pending_);
    out.put_bool(sipi_pending_);
    out.put_u8(sipi_vector_);
    out.put_bool(wait_for_sipi_);
    out.put_bool(extint_message_);
}

bool VirtualLapic::load(StateReader& in, State& out) const {
    out.apic_id = in.get_u32();
    out.apic_base = in.get_u64();
    out.tpr = in.get_u8();
    out.ldr = in.get_u32();
    out.dfr = in.get_u32();
    out.svr = in.get_u32();
    for (u32& word : out.isr) word = in.get_u32();
    for (u32& word : out.tmr) word = in.get_u32();
    for (u32& word : out.irr) word = in.get_u32();
    out.esr = in.get_u32();
    out.esr_pending = in.get_u32();
    out.icr_low = in.get_u32();
    out.icr_high = in.get_u32();
    for (u32& lvt : out.lvt) lvt = in.get_u32();
    const bool timer_ok = LapicTimer::load(in, out.timer);
    out.lint_level[0] = in.get_bool();
    out.lint_level[1] = in.get_bool();
    out.nmi_pending = in.get_bool();
    out.init_pending = in.get_bool();
    out.sipi_pending = in.get_bool();
    out.sipi_vector = in.get_u8();
    out.wait_for_sipi = in.get_bool();
    out.extint_message = in.get_bool();

    // The same APIC: its ID and BSP flag are the domain's, not the state's.
    in.require(timer_ok && out.apic_id == apic_id_ && ((out.apic_base & kApicBaseBsp) != 0) == bsp_);
    // IA32_APIC_BASE (SDM 11.4.4, 11.12.5): no reserved bits, the base where this
    // platform has it, and x2APIC mode only with the APIC enabled.
    in.require((out.apic_base & apic_base_reserved_) == 0);
    in.require((out.apic_base & ~(kApicBaseBsp | kApicBaseX2apic | kApicBaseEnable | 0xfffull)) == kDefaultApicBase);
    in.require(!(out.apic_base & kApicBaseX2apic) || (out.apic_base & kApicBaseEnable));
    in.require((out.ldr & ~kLdrWritable) == 0 && (out.dfr | kDfrWritable) == ~0u);
    const u32 svr_defined =
        kSvrVectorMask | kSvrEnable | kSvrFocusDisable | (eoi_broadcast_suppression_ ? kSvrSuppressEoiBroadcast : 0);
    in.require((out.svr & ~svr_defined) == 0);
    constexpr u32 kEsrDefined = kEsrSendIllegalVector | kEsrReceiveIllegalVector | kEsrIllegalRegister;
    in.require((out.esr & ~kEsrDefined) == 0 && (out.esr_pending & ~kEsrDefined) == 0);
    in.require((out.icr_low & ~icr_bits::kWritableLow) == 0);
    for (u32 i = 0; i < kLvtCount; ++i) in.require((out.lvt[i] & ~(kLvtWritable[i] | kLvtReadOnly[i])) == 0);
    // Vectors 0-15 never reach IRR or ISR (SDM 11.5.2); a software-disabled APIC has
    // every LVT entry masked (11.4.7.2).
    in.require((out.irr[0] & 0xffff) == 0 && (out.isr[0] & 0xffff) == 0);
    if (!(out.svr & kSvrEnable))
        for (u32 lvt : out.lvt) in.require((lvt & kLvtMasked) != 0);
    // The timer runs in the mode its LVT entry names (sync_timer_mode: reserved 11b is one-shot).
    const u32 lvt_mode = (out.lvt[kTimerLvt] & kLvtTimerModeMask) >> kLvtTimerModeShift;
    in.require((lvt_mode == 1 || lvt_mode == 2 ? lvt_mode : 0) == out.timer.mode);
    return !in.failed();
}

void VirtualLapic::restore(const State& s) {
    apic_base_ = s.apic_base;
    tpr_ = s.tpr;
    ldr_ = s.ldr;
    dfr_ = s.dfr;
    svr_ = s.svr;
    for (u32 i = 0; i < 8; ++i) {
        isr_[i] = s.isr[i];
        tmr_[i] = s.tmr[i];
        irr_[i] = s.irr[i];
    }
    in_flight_ = -1;
    arrived_again_ = false;
    esr_ = s.esr;
    esr_pending_ = s.esr_pending;
    icr_low_ = s.icr_low;
    icr_high_ = s.icr_high;
    for (u32 i = 0; i < kLvtCount; ++i) lvt_[i] = s.lvt[i];
    // A TSC deadline falls where the guest's TSC, continued on this host, reaches it.
    const bool deadline = s.timer.mode == u8(LapicTimer::Mode::TscDeadline) && s.timer.tsc_deadline != 0;
    timer_.restore(s.timer, deadline ? tsc_.ns_when_tsc_reaches(s.timer.tsc_deadline) : 0);
    lint_level_[0] = s.lint_level[0];
    lint_level_[1] = s.lint_level[1];
    nmi_pending_ = s.nmi_pending;
    init_pending_ = s.init_pending;
    sipi_pending_ = s.sipi_pending;
    sipi_vector_ = s.sipi_vector;
    wait_for_sipi_ = s.wait_for_sipi;
    extint_message_ = s.extint_message;
}
