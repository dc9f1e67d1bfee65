#include "kernel/passthrough/host_interrupts.hpp"

#include "drivers/ioapic.hpp"
#include "drivers/lapic.hpp"
#include "kernel/idt.hpp"
#include "kernel/log.hpp"
#include "kernel/passthrough/dma_protection.hpp"
#include "kernel/percpu.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/trap_frame.hpp"

namespace {

u64 g_pending = 0;         // atomic: bit n = GSI n fired
u64 g_level = 0;           // atomic: bit n = GSI n is level-triggered (masked in the handler)
Vcpu* g_target = nullptr;  // atomic

void gsi_interrupt(TrapFrame& frame) {
    const u32 gsi = u32(frame.vector) - kHostGsiVectorBase;
    const u64 bit = 1ull << gsi;
    // A level line stays asserted until the device is served: masked here, unmasked at
    // dom0's EOI, or it would interrupt again at once (82093AA datasheet 3.2.4).
    if (__atomic_load_n(&g_level, __ATOMIC_RELAXED) & bit) ioapic_set_masked(gsi, true);
    __atomic_fetch_or(&g_pending, bit, __ATOMIC_SEQ_CST);
    lapic_eoi();
    if (Vcpu* v = __atomic_load_n(&g_target, __ATOMIC_ACQUIRE)) scheduler_notify_vcpu(*v);
}

u64 g_msi_pending[2] = {};    // atomic
u64 g_msi_allocated[2] = {};  // under g_msi_lock
SpinLock g_msi_lock;

void msi_interrupt(TrapFrame& frame) {
    const u32 index = u32(frame.vector) - kHostMsiVectorBase;
    __atomic_fetch_or(&g_msi_pending[index / 64], 1ull << (index % 64), __ATOMIC_SEQ_CST);
    lapic_eoi();
    if (Vcpu* v = __atomic_load_n(&g_target, __ATOMIC_ACQUIRE)) scheduler_notify_vcpu(*v);
}

// A device dom0 programmed behind the mediator's back (it cannot, but a device may
// misbehave) must not stop the machine: a vector nobody owns is logged and dropped.
void stray_interrupt(TrapFrame& frame) {
    static u32 reported = 0;
    if (__atomic_fetch_add(&reported, 1, __ATOMIC_RELAXED) < 4)
        log_warn("interrupt on vector %#llx, which nothing owns; ignored", (unsigned long long)frame.vector);
    lapic_eoi();
}

}  // namespace

void host_interrupts_init() {
    for (u32 v = 0x30; v < kVectorLapicTimer; ++v)
        if (!interrupt_handler(u8(v))) register_interrupt_handler(u8(v), stray_interrupt);
    static_assert(kHostGsiVectorBase + kHostGsiCount <= kHostMsiVectorBase);
    static_assert(kHostMsiVectorBase + kHostMsiVectorCount <= kVectorLapicTimer);
    for (u32 gsi = 0; gsi < kHostGsiCount; ++gsi)
        register_interrupt_handler(u8(kHostGsiVectorBase + gsi), gsi_interrupt);
    for (u32 i = 0; i < kHostMsiVectorCount; ++i) register_interrupt_handler(u8(kHostMsiVectorBase + i), msi_interrupt);
}

i32 host_msi_allocate() {
    IrqLockGuard guard(g_msi_lock);
    for (u32 i = 0; i < kHostMsiVectorCount; ++i) {
        if (g_msi_allocated[i / 64] & (1ull << (i % 64))) continue;
        g_msi_allocated[i / 64] |= 1ull << (i % 64);
        __atomic_fetch_and(&g_msi_pending[i / 64], ~(1ull << (i % 64)), __ATOMIC_SEQ_CST);
        return i32(i);
    }
    return -1;
}

void host_msi_free(u32 index) {
    if (index >= kHostMsiVectorCount) return;
    IrqLockGuard guard(g_msi_lock);
    g_msi_allocated[index / 64] &= ~(1ull << (index % 64));
}

void host_msi_message(u32 index, u64& address, u32& data) {
    if (dma_protection_msi_message(index, address, data)) return;
    address = 0xfee00000ull | (u64(percpu(0).apic_id & 0xff) << 12);
    data = kHostMsiVectorBase + index;
}

void host_msi_take_pending(u64 out[2]) {
    out[0] = __atomic_exchange_n(&g_msi_pending[0], 0, __ATOMIC_SEQ_CST);
    out[1] = __atomic_exchange_n(&g_msi_pending[1], 0, __ATOMIC_SEQ_CST);
}

bool host_gsi_forwardable(u32 gsi) { return gsi < kHostGsiCount && ioapic_serves(gsi); }

void host_gsi_program(u32 gsi, bool level, bool active_low, bool masked) {
    if (!host_gsi_forwardable(gsi)) return;
    const u64 bit = 1ull << gsi;
    if (level)
        __atomic_fetch_or(&g_level, bit, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_and(&g_level, ~bit, __ATOMIC_SEQ_CST);
    // Every line goes to the boot CPU, whose APIC ID percpu(0) knows.
    const u8 vector = u8(kHostGsiVectorBase + gsi);
    u16 handle = 0;
    if (dma_protection_ioapic_entry(gsi, vector, level, handle))
        ioapic_program_remapped(gsi, handle, vector, level, active_low, masked);
    else
        ioapic_program(gsi, vector, u8(percpu(0).apic_id), level, active_low, masked);
}

void host_gsi_unmask(u32 gsi) {
    if (host_gsi_forwardable(gsi)) ioapic_set_masked(gsi, false);
}

namespace {
bool g_event_pending = false;  // atomic
}  // namespace

void dom0_event_raise() {
    __atomic_store_n(&g_event_pending, true, __ATOMIC_SEQ_CST);
    if (Vcpu* v = __atomic_load_n(&g_target, __ATOMIC_ACQUIRE)) scheduler_notify_vcpu(*v);
}

bool dom0_event_take() { return __atomic_exchange_n(&g_event_pending, false, __ATOMIC_SEQ_CST); }

u64 host_gsi_take_pending() { return __atomic_exchange_n(&g_pending, 0, __ATOMIC_SEQ_CST); }

void host_interrupts_set_target(Vcpu* vcpu) { __atomic_store_n(&g_target, vcpu, __ATOMIC_RELEASE); }
