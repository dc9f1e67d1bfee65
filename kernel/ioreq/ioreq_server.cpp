#include "kernel/ioreq/ioreq_server.hpp"

#include "kernel/alloc.hpp"
#include "kernel/domain/domain.hpp"
#include "kernel/hot_path.hpp"
#include "kernel/ioreq/doorbell_table.hpp"
#include "kernel/ioreq/vcpu_ioreq.hpp"
#include "kernel/log.hpp"
#include "kernel/memory_layout.hpp"
#include "kernel/passthrough/host_interrupts.hpp"
#include "kernel/platform/platform.hpp"
#include "kernel/sched/scheduler.hpp"
#include "kernel/spinlock.hpp"
#include "kernel/vm/exit_handlers.hpp"
#include "kernel/vm/firmware/guest_pc_layout.hpp"
#include "kernel/vm/hypercall_abi.hpp"
#include "kernel/x86/instructions.hpp"
#include "mm/p2m.hpp"

using namespace hypercall;

namespace {

constexpr usize kMaxWindows = 8;

}  // namespace

// One forwarded MMIO range on the domain's bus.
class ForwardedRange final : public MmioDevice {
public:
    u64 mmio_read(Vcpu& vcpu, u64 offset, u8 size) override {
        return ioreq_forward(vcpu, kIoreqMmio, base + offset, size, false, 0);
    }
    void mmio_write(Vcpu& vcpu, u64 offset, u8 size, u64 value) override;

    IoreqServer* server = nullptr;
    u64 base = 0;
    u64 size = 0;  // 0: unused
};

class IoreqServer {
public:
    explicit IoreqServer(Domain& target) : target_(target) {
        for (ForwardedRange& r : windows_) r.server = this;
    }

    Domain& target_;
    SpinLock lock_;
    VcpuIoreq* vcpu_states_ = nullptr;  // one per vCPU, freed with the server
    IoreqPage* page_ = nullptr;         // Domain-0's page (direct map); null while detached
    ForwardedRange windows_[kMaxWindows];
    u32 pci_devices_ = 0;      // bit n: device n of bus 0
    DoorbellTable doorbells_;  // read without the lock; changed under it

    bool attached() const { return __atomic_load_n(&page_, __ATOMIC_ACQUIRE) != nullptr; }
};

namespace {

IoreqServer* server_of(const Domain& d) { return __atomic_load_n(&d.ioreq, __ATOMIC_ACQUIRE); }

// Something waits in a device model's page: Domain-0's event line says so.
void notify_device_model() { dom0_event_raise(); }

// Answers a waiting vCPU and lets it run (under the server's lock).
void answer_locked(Vcpu& v, u64 data) {
    v.ioreq->answer = data;
    v.ioreq->store_wait(IoreqWait::Answered);
    scheduler_notify_vcpu(v);
}

// A doorbell rang: its bit is set in the device model's page, which looks at the queue;
// the vCPU goes on at once. No lock, as the lookup before it (doorbell_table.hpp).
//
// The page is Domain-0's: once ioreq_detach returns, Domain-0's module frees it, so no
// bit may be set in it after that. The vCPU says it is posting (`posting`, in its own
// VcpuIoreq, which no other CPU writes on this path) before it reads page_, and detach
// clears page_ before it waits for every vCPU's `posting` to drop. Both are sequentially
// consistent (the store-load order of Dekker's algorithm; on x86 the flag's store is an
// XCHG, a full barrier), so either the vCPU reads the cleared page_ and sets nothing, or
// detach sees it posting and waits the few instructions until its bit is set. Posting
// into a page that is then detached and freed is what the lock used to prevent; the
// wait is its price, paid by detach.
//
// A bit looked up just before a concurrent clear (kind 3) may land after it, where the
// registrations that follow may give it to another queue: the device model then looks
// at that queue once for nothing (its available ring holds no new buffers). It copes
// with that already: a clear never took back the bits set in the page before it.
void post_doorbell(Vcpu& vcpu, IoreqServer& server, u32 bit) {
    VcpuIoreq* state = vcpu.ioreq;
    if (!state) return;
    __atomic_store_n(&state->posting, 1u, __ATOMIC_SEQ_CST);
    IoreqPage* page = __atomic_load_n(&server.page_, __ATOMIC_SEQ_CST);
    if (page) __atomic_fetch_or(&page->doorbells, 1ull << bit, __ATOMIC_SEQ_CST);
    __atomic_store_n(&state->posting, 0u, __ATOMIC_RELEASE);
    if (page) notify_device_model();  // after: a raise for a page gone meanwhile is only spurious
}

}  // namespace

void ForwardedRange::mmio_write(Vcpu& vcpu, u64 offset, u8 access_size, u64 value) {
    const u64 gpa = base + offset;
    const i32 bit = server->doorbells_.bit_of(gpa);
    if (bit >= 0) {
        post_doorbell(vcpu, *server, u32(bit));
        return;
    }
    ioreq_forward(vcpu, kIoreqMmio, gpa, access_size, true, value);
}

u64 ioreq_forward(Vcpu& vcpu, u8 type, u64 address, u8 size, bool write, u64 value) {
    const u64 ones = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
    IoreqServer* s = server_of(*vcpu.domain);
    if (!s || !s->attached() || !vcpu.ioreq) return write ? 0 : ones;  // no device model: nothing answers
    ForwardedAccess a;
    a.type = type;
    a.size = size;
    a.write = write;
    a.address = address;
    a.data = write ? value & ones : 0;
    u64 answer = ones;
    switch (vcpu.ioreq->log.access(a, answer)) {
        case ForwardedAccessLog::Outcome::Replayed: return write ? 0 : answer & ones;
        case ForwardedAccessLog::Outcome::Request:
        case ForwardedAccessLog::Outcome::Waiting: return ones;
        case ForwardedAccessLog::Outcome::TooMany:
            domain_crash(*vcpu.domain, "vcpu%u: one instruction at rip %#llx made over %u accesses to its device model",
                         vcpu.index, (unsigned long long)vcpu.regs.rip, unsigned(ForwardedAccessLog::kMaxAccesses));
            return ones;
    }
    return ones;
}

VIREO_HOT_PATH bool ioreq_waiting(const Vcpu& vcpu) { return vcpu.ioreq && vcpu.ioreq->log.requested(); }

void ioreq_begin_handling(Vcpu& v) {
    if (v.ioreq) v.ioreq->log.begin_handling();
}

bool ioreq_pci_device_forwarded(const Domain& d, u8 device) {
    const IoreqServer* s = server_of(d);
    return s && device < 32 && (__atomic_load_n(&s->pci_devices_, __ATOMIC_ACQUIRE) & (1u << device));
}

void ioreq_after_exit(Vcpu& v, const VmExit& exit) {
    if (!v.ioreq) return;
    ForwardedAccessLog& log = v.ioreq->log;
    if (!log.requested()) {
        log.instruction_done();
        return;
    }
    if (v.domain->ended()) return;  // it stops at its next scheduling anyway
    IoreqServer* s = server_of(*v.domain);
    {
        LockGuard<SpinLock> guard(s->lock_);
        v.ioreq->exit = exit;
        if (!s->page_) {
            answer_locked(v, ~0ull);  // detached meanwhile: the device is gone
            return;
        }
        const ForwardedAccess& a = log.request();
        IoreqSlot& slot = s->page_->slots[v.index];
        slot.type = a.type;
        slot.size = a.size;
        slot.write = a.write;
        slot.address = a.address;
        slot.data = a.data;
        slot.sequence = ++v.ioreq->sequence;
        v.ioreq->store_wait(IoreqWait::Waiting);
        __atomic_store_n(&slot.state, u32(kIoreqReady), __ATOMIC_RELEASE);
    }
    notify_device_model();
    // Blocks unless the answer came already: the completion sets Answered before it wakes
    // a blocked vCPU, so one of the two sees the other.
    vcpu_set_state(v, VcpuState::Blocked);
    if (v.ioreq->load_wait() != IoreqWait::Waiting) vcpu_change_state(v, VcpuState::Blocked, VcpuState::Runnable);
}

bool ioreq_vcpu_hold(Vcpu& v) {
    if (!v.ioreq) return false;
    switch (v.ioreq->load_wait()) {
        case IoreqWait::Idle: return false;
        case IoreqWait::Waiting:
            // Woken by something else (an interrupt): it still waits.
            vcpu_set_state(v, VcpuState::Blocked);
            if (v.ioreq->load_wait() != IoreqWait::Waiting)
                vcpu_change_state(v, VcpuState::Blocked, VcpuState::Runnable);
            return true;
        case IoreqWait::Answered: break;
    }
    v.ioreq->store_wait(IoreqWait::Idle);
    v.ioreq->log.answered(v.ioreq->answer);
    v.ioreq->log.begin_handling();
    const VmExit exit = v.ioreq->exit;
    handle_vm_exit(v, exit);
    ioreq_after_exit(v, exit);
    return v.ioreq->load_wait() != IoreqWait::Idle;
}

void ioreq_vcpu_reset(Vcpu& v) {
    if (!v.ioreq) return;
    v.ioreq->log.instruction_done();
    v.ioreq->store_wait(IoreqWait::Idle);
}

i64 ioreq_attach(Domain& caller, Domain& target, u64 page_gfn) {
    if (!caller.hardware_domain) return kErrorNotSupported;  // only Domain-0 has the event line
    if (!target.platform || !target.platform->has_local_apics()) return kErrorNotSupported;  // no virtual PC
    P2mEntry e;
    if (page_gfn >= GuestMemory::kMaxGuestPhysical / kPageSize || !caller.memory.lookup(page_gfn * kPageSize, e) ||
        e.type != P2mType::Ram)
        return kErrorInvalid;
    const PhysAddr frame = (e.frame & ~(e.page_size - 1)) + (page_gfn * kPageSize & (e.page_size - 1));
    IoreqServer* s = server_of(target);
    if (!s) {
        LockGuard<SpinLock> guard(target.lock);
        if (target.resources_released || target.ended()) return kErrorWrongState;
        if (!target.ioreq) {
            const u64 bytes = sizeof(IoreqServer) + target.vcpu_count * sizeof(VcpuIoreq);
            if (!target.quota.charge(bytes)) return kErrorNoMemory;
            IoreqServer* fresh = new (kNoThrow) IoreqServer(target);
            VcpuIoreq* states = fresh ? new (kNoThrow) VcpuIoreq[target.vcpu_count] : nullptr;
            if (!states) {
                delete fresh;
                target.quota.uncharge(bytes);
                return kErrorNoMemory;
            }
            // Before the server is published: every vCPU that can reach a forwarded
            // device has its state.
            fresh->vcpu_states_ = states;
            for (u32 i = 0; i < target.vcpu_count; ++i) target.vcpus[i].ioreq = &states[i];
            target.charged_structures += bytes;
            __atomic_store_n(&target.ioreq, fresh, __ATOMIC_RELEASE);
        }
        s = target.ioreq;
    }
    LockGuard<SpinLock> guard(s->lock_);
    if (s->page_) return kErrorExists;  // one device model per domain
    auto* page = phys_to_virt<IoreqPage>(frame);
    *page = IoreqPage{};
    page->vcpus = target.vcpu_count;
    page->memory_target = __atomic_load_n(&target.memory_target, __ATOMIC_RELAXED);
    __atomic_store_n(&s->page_, page, __ATOMIC_RELEASE);
    log_info("domain %u (%s): device model of domain %u attached", target.id, target.name, caller.id);
    return 0;
}

void ioreq_memory_target_changed(Domain& domain) {
    IoreqServer* s = server_of(domain);
    if (!s) return;
    // Under the lock that detach takes: the page is Domain-0's again once detach returns.
    LockGuard<SpinLock> guard(s->lock_);
    if (s->page_)
        __atomic_store_n(&s->page_->memory_target, __atomic_load_n(&domain.memory_target, __ATOMIC_RELAXED),
                         __ATOMIC_RELEASE);
}

i64 ioreq_detach(Domain& caller, Domain& target) {
    IoreqServer* s = server_of(target);
    if (!caller.hardware_domain) return kErrorNotSupported;
    if (!s) return kErrorWrongState;
    LockGuard<SpinLock> guard(s->lock_);
    if (!s->page_) return kErrorWrongState;
    __atomic_store_n(&s->page_, static_cast<IoreqPage*>(nullptr), __ATOMIC_SEQ_CST);
    // No vCPU still sets a doorbell bit in the page Domain-0 frees next (post_doorbell).
    for (u32 i = 0; i < target.vcpu_count; ++i)
        while (__atomic_load_n(&s->vcpu_states_[i].posting, __ATOMIC_SEQ_CST)) x86::pause();
    for (u32 i = 0; i < target.vcpu_count; ++i)
        if (target.vcpus[i].ioreq->load_wait() == IoreqWait::Waiting) answer_locked(target.vcpus[i], ~0ull);
    log_info("domain %u (%s): device model detached; its devices answer all ones", target.id, target.name);
    return 0;
}

i64 ioreq_map(Domain& caller, Domain& target, u64 kind, u64 base, u64 size, u64 stride) {
    IoreqServer* s = server_of(target);
    if (!caller.hardware_domain) return kErrorNotSupported;
    if (!s) return kErrorWrongState;
    LockGuard<SpinLock> guard(s->lock_);
    if (!s->page_) return kErrorWrongState;
    switch (kind) {
        case kIoreqMapMmio: {
            // Only the PCI hole below the I/O APIC (the guest's DSDT gives it to bus 0).
            if (size == 0 || size % kPageSize || base % kPageSize || base < kGuestMmioHoleStart ||
                base >= kGuestIoApicBase || size > kGuestIoApicBase - base)
                return kErrorInvalid;
            for (ForwardedRange& r : s->windows_) {
                if (r.size) continue;
                if (!target.mmio.claim(base, size, &r)) return kErrorInvalid;  // overlaps a claim
                r.base = base;
                r.size = size;
                return 0;
            }
            return kErrorTooBig;
        }
        case kIoreqMapPciDevice:
            if (base == 0 || base > 31) return kErrorInvalid;  // device 0 is the host bridge
            __atomic_fetch_or(&s->pci_devices_, 1u << base, __ATOMIC_RELEASE);
            return 0;
        case kIoreqMapDoorbell: {
            if (stride == 0 || size == 0 || size % stride) return kErrorInvalid;
            if (!s->doorbells_.room_for(size / stride)) return kErrorTooBig;
            bool inside = false;
            for (const ForwardedRange& r : s->windows_)
                inside = inside || (r.size && base >= r.base && base - r.base + size <= r.size);
            if (!inside) return kErrorInvalid;
            return i64(s->doorbells_.add(base, size, stride));
        }
        case kIoreqMapClearDoorbells: s->doorbells_.clear(); return 0;
        default: return kErrorInvalid;
    }
}

i64 ioreq_complete(Domain& caller, Domain& target, u64 index) {
    IoreqServer* s = server_of(target);
    if (!caller.hardware_domain) return kErrorNotSupported;
    if (!s || index >= target.vcpu_count) return s ? kErrorInvalid : kErrorWrongState;
    LockGuard<SpinLock> guard(s->lock_);
    if (!s->page_) return kErrorWrongState;
    Vcpu& v = target.vcpus[index];
    if (v.ioreq->load_wait() != IoreqWait::Waiting) return kErrorWrongState;  // nothing asked
    IoreqSlot& slot = s->page_->slots[index];
    // The page is Domain-0's to write at any time: each field is read once.
    if (__atomic_load_n(&slot.state, __ATOMIC_ACQUIRE) != kIoreqAnswered) return kErrorInvalid;
    const u64 data = __atomic_load_n(&slot.data, __ATOMIC_RELAXED);
    __atomic_store_n(&slot.state, u32(kIoreqIdle), __ATOMIC_RELEASE);
    answer_locked(v, data);
    return 0;
}

void ioreq_release(Domain& d) {
    IoreqServer* s = server_of(d);
    if (!s) return;
    for (ForwardedRange& r : s->windows_)
        if (r.size) d.mmio.release(r.base, r.size, &r);
    __atomic_store_n(&d.ioreq, static_cast<IoreqServer*>(nullptr), __ATOMIC_RELEASE);
    for (u32 i = 0; i < d.vcpu_count; ++i) d.vcpus[i].ioreq = nullptr;
    delete[] s->vcpu_states_;
    delete s;  // its charge is in charged_structures, which the caller gives back
}
