// The hypercall ABI (docs/hypercalls.md), shared by the hypervisor and the guests that
// call it (tests/guests/). Plain constants and layouts only: it is compiled into
// 32-bit guest code too.
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
    kCount,
};

enum Error : int64_t {
    kErrorPermission = -1,   // called from CPL > 0
    kErrorTooBig = -7,       // a length over its limit
    kErrorFault = -14,       // a buffer the guest cannot access (it would fault)
    kErrorBusy = -16,        // the vCPU is already running
    kErrorInvalid = -22,     // an argument out of range
    kErrorNoSuchCall = -38,  // unknown call number
};

inline constexpr uint32_t kVersionValue = (0u << 16) | 1u;
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

}  // namespace hypercall
