// A vCPU's side of the forwarding to a device model in Domain-0 (kernel/ioreq/ioreq_server.hpp):
// the accesses its current instruction made, whether it waits for an answer, and the
// exit that is handled again once the answer is there.
#pragma once

#include "kernel/ioreq/forwarded_access_log.hpp"
#include "kernel/types.hpp"
#include "kernel/vm/vm_exit.hpp"

enum class IoreqWait : u32 {
    Idle,      // nothing asked
    Waiting,   // a request is in its slot; the vCPU does not run
    Answered,  // the answer is in `answer`: the exit is handled again before the next entry
};

struct VcpuIoreq {
    ForwardedAccessLog log;           // the vCPU's CPU's, while it handles its exits
    u32 wait = u32(IoreqWait::Idle);  // an IoreqWait, atomic: the completion changes it from any CPU
    u64 answer = 0;                   // written before `wait` becomes Answered
    u64 sequence = 0;                 // of its requests, for the device model's logs
    u32 posting = 0;                  // atomic: 1 while it sets a doorbell bit (ioreq_server.cpp, post_doorbell)
    VmExit exit;                      // the exit that made the request

    IoreqWait load_wait() const { return IoreqWait(__atomic_load_n(&wait, __ATOMIC_SEQ_CST)); }
    void store_wait(IoreqWait w) { __atomic_store_n(&wait, u32(w), __ATOMIC_SEQ_CST); }
};
