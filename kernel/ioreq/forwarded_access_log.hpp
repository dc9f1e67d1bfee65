// What one vCPU's current instruction has asked of a device model in Domain-0, so that
// the instruction can be handled again from its start once an answer arrives.
//
// An access forwarded to a device model cannot be answered during the exit: the vCPU
// waits, and when the answer comes its exit is handled again from scratch (the
// instruction decoded and run once more, the port access made again). Every forwarded
// access the instruction made before is then replayed from this log, in order, instead
// of being sent again: a read gets the value the device model gave, a write is not
// repeated. The first access past the log is the next request. So an instruction that
// touches a forwarded device several times (a MOVS between two of its registers, an
// access split in two) costs one round trip per access, and each access reaches the
// device model exactly once, as on hardware. KVM completes such instructions the same
// way (its emulator re-runs with the fragments userspace answered).
//
// Pure: the hypervisor keeps one per vCPU (kernel/ioreq/ioreq_server.cpp); host-tested.
#pragma once

#include "kernel/types.hpp"

struct ForwardedAccess {
    u8 type = 0;  // hypercall::IoreqType
    u8 size = 0;  // 1, 2, 4 or 8
    bool write = false;
    u64 address = 0;
    u64 data = 0;  // the written value, or the answer to a read

    bool same_request(const ForwardedAccess& o) const {
        return type == o.type && size == o.size && write == o.write && address == o.address &&
               (!write || data == o.data);
    }
};

class ForwardedAccessLog {
public:
    // An instruction touching more forwarded accesses than this is not one the emulator
    // runs (the widest, a 16-byte access split at 8-byte boundaries across two device
    // registers, or MOVS between two devices, needs four).
    static constexpr usize kMaxAccesses = 8;

    enum class Outcome : u8 {
        Replayed,  // answered from the log: `value` holds a read's answer
        Request,   // the vCPU must wait for `request()`
        Waiting,   // a request of this handling is out already: the instruction stops here
        TooMany,   // past kMaxAccesses: the instruction cannot be completed
    };

    // The exit is handled (again): replay starts from the first logged access.
    void begin_handling() {
        cursor_ = 0;
        requested_ = false;
    }

    // An access the instruction makes to a device model. `value`: a write's value in, a
    // read's answer out (when Replayed).
    Outcome access(const ForwardedAccess& a, u64& value) {
        if (requested_) return Outcome::Waiting;
        if (cursor_ < count_) {
            if (log_[cursor_].same_request(a)) {
                if (!a.write) value = log_[cursor_].data;
                ++cursor_;
                return Outcome::Replayed;
            }
            // The instruction took another path this time (its memory or another vCPU's
            // write changed what it does): what was logged after here no longer applies.
            count_ = cursor_;
        }
        if (count_ == kMaxAccesses) return Outcome::TooMany;
        request_ = a;
        requested_ = true;
        return Outcome::Request;
    }

    // This handling sent a request and waits for it.
    bool requested() const { return requested_; }
    const ForwardedAccess& request() const { return request_; }

    // The device model answered the request (`data`: a read's value): logged for the
    // handling that follows.
    void answered(u64 data) {
        if (!requested_) return;
        log_[count_] = request_;
        if (!request_.write) log_[count_].data = data;
        ++count_;
        requested_ = false;
    }

    // The instruction completed (or faulted): nothing of it is replayed again.
    void instruction_done() {
        count_ = 0;
        cursor_ = 0;
        requested_ = false;
    }

    usize logged() const { return count_; }

private:
    ForwardedAccess log_[kMaxAccesses] = {};
    usize count_ = 0;
    usize cursor_ = 0;
    ForwardedAccess request_ = {};
    bool requested_ = false;
};
