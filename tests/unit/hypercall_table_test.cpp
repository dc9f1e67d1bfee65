#include "kernel/control/hypercall_table.hpp"

#include <gtest/gtest.h>

#include <cstddef>

#include "kernel/vm/hypercall_abi.hpp"

namespace {

using namespace hypercall;

constexpr u32 kCaller = 7;

TEST(HypercallTable, EveryNumberBelowCountHasASpecOrIsRefused) {
    for (u64 n = 0; n < 64; ++n) {
        const HypercallSpec* spec = hypercall_spec(n);
        const bool defined = n <= kDomainsAlive || n == kKvmSendIpi || (n >= kDomainCreate && n < kCount);
        EXPECT_EQ(spec != nullptr, defined) << n;
        if (spec) EXPECT_EQ(spec->number, n);
        if (!defined) EXPECT_EQ(hypercall_check(n, 0, true, kCaller, 0), HypercallCheck::NoSuchCall) << n;
    }
    EXPECT_EQ(hypercall_check(~0ull, 0, true, kCaller, 0), HypercallCheck::NoSuchCall);
}

TEST(HypercallTable, GuestCallsAreOpenToEveryDomainAtCpl0) {
    for (u64 n : {u64(kVersion), u64(kConsoleWrite), u64(kSetTimer), u64(kYield), u64(kShutdown), u64(kDomainInfo),
                  u64(kVcpuStart), u64(kDomainsAlive), u64(kKvmSendIpi)}) {
        EXPECT_EQ(hypercall_spec(n)->privilege, HypercallPrivilege::AnyDomain) << n;
        EXPECT_EQ(hypercall_check(n, 0, false, kCaller, kCaller), HypercallCheck::Allowed) << n;
        EXPECT_EQ(hypercall_check(n, 3, false, kCaller, 0), HypercallCheck::NotCpl0) << n;
    }
}

TEST(HypercallTable, ControlCallsNeedThePrivilege) {
    for (u64 n = kDomainCreate; n < kCount; ++n) {
        EXPECT_EQ(hypercall_spec(n)->privilege, HypercallPrivilege::ControlDomain) << n;
        EXPECT_EQ(hypercall_check(n, 0, false, kCaller, 1), HypercallCheck::NotPrivileged) << n;
        EXPECT_EQ(hypercall_check(n, 0, true, kCaller, 1), HypercallCheck::Allowed) << n;
        EXPECT_EQ(hypercall_check(n, 1, true, kCaller, 1), HypercallCheck::NotCpl0) << "CPL first, " << n;
        EXPECT_EQ(hypercall_check_error(hypercall_check(n, 0, false, kCaller, 1)), kErrorPermission);
    }
}

TEST(HypercallTable, ACallOnADomainNeverTargetsTheCaller) {
    for (u64 n : {kDomainDestroy, kDomainPause, kDomainUnpause, kDomainMemoryWrite, kDomainMemoryRead, kVcpuGetState,
                  kVcpuSetState, kDomainDirtyLog, kDomainShutdown, kDomainBalloon, kDomainMemoryTarget,
                  kDomainPlatformStateGet, kDomainPlatformStateSet}) {
        EXPECT_TRUE(hypercall_spec(n)->targets_domain) << n;
        EXPECT_EQ(hypercall_check(n, 0, true, kCaller, kCaller), HypercallCheck::TargetsCaller) << n;
        EXPECT_EQ(hypercall_check_error(HypercallCheck::TargetsCaller), kErrorInvalid);
    }
    EXPECT_EQ(hypercall_check(kDomainGetStatus, 0, true, kCaller, kCaller), HypercallCheck::Allowed);
    EXPECT_EQ(hypercall_check(kDomainCreate, 0, true, kCaller, kCaller), HypercallCheck::Allowed);
    EXPECT_EQ(hypercall_check(kVcpuGetInfo, 0, true, kCaller, kCaller), HypercallCheck::Allowed);
}

// Xen's dom0 pins and weighs itself (xl vcpu-pin 0, xl sched-credit -d 0): nothing there
// can end or stop the caller.
TEST(HypercallTable, TheCallerMayPinAndWeighItself) {
    EXPECT_EQ(hypercall_check(kVcpuSetAffinity, 0, true, kCaller, kCaller), HypercallCheck::Allowed);
    EXPECT_EQ(hypercall_check(kDomainSchedCredit, 0, true, kCaller, kCaller), HypercallCheck::Allowed);
    EXPECT_EQ(hypercall_check(kDomainSchedCredit, 0, false, kCaller, kCaller), HypercallCheck::NotPrivileged);
}

// Save and restore of the virtual PC's devices (ABI 0.8): control calls on another domain.
TEST(HypercallTable, PlatformStateCallsAreControlCallsOnAnotherDomain) {
    EXPECT_EQ(kDomainPlatformStateGet, 49u);
    EXPECT_EQ(kDomainPlatformStateSet, 50u);
    EXPECT_STREQ(hypercall_spec(kDomainPlatformStateGet)->name, "domain_platform_state_get");
    EXPECT_STREQ(hypercall_spec(kDomainPlatformStateSet)->name, "domain_platform_state_set");
    for (u64 n : {kDomainPlatformStateGet, kDomainPlatformStateSet}) {
        EXPECT_EQ(hypercall_spec(n)->privilege, HypercallPrivilege::ControlDomain) << n;
        EXPECT_EQ(hypercall_check(n, 0, false, kCaller, 1), HypercallCheck::NotPrivileged) << n;
        EXPECT_EQ(hypercall_check(n, 3, true, kCaller, 1), HypercallCheck::NotCpl0) << n;
        EXPECT_EQ(hypercall_check(n, 0, true, kCaller, kCaller), HypercallCheck::TargetsCaller) << n;
        EXPECT_EQ(hypercall_check(n, 0, true, kCaller, 1), HypercallCheck::Allowed) << n;
    }
}

// A domain's CPUID for xm save and restore (ABI 0.9): a control call on another domain.
TEST(HypercallTable, DomainCpuidIsAControlCallOnAnotherDomain) {
    EXPECT_EQ(kDomainCpuid, 51u);
    EXPECT_GE(kVersionValue, (0u << 16) | 9u);
    EXPECT_EQ(kCreateMigratableCpuid, 2u);
    EXPECT_STREQ(hypercall_spec(kDomainCpuid)->name, "domain_cpuid");
    EXPECT_EQ(hypercall_spec(kDomainCpuid)->privilege, HypercallPrivilege::ControlDomain);
    EXPECT_TRUE(hypercall_spec(kDomainCpuid)->targets_domain);
    EXPECT_EQ(hypercall_check(kDomainCpuid, 0, false, kCaller, 1), HypercallCheck::NotPrivileged);
    EXPECT_EQ(hypercall_check(kDomainCpuid, 0, true, kCaller, kCaller), HypercallCheck::TargetsCaller);
    EXPECT_EQ(hypercall_check(kDomainCpuid, 0, true, kCaller, 1), HypercallCheck::Allowed);
}

// A saved state is one instant's: the calls that take or give one need the domain
// stopped, as vcpu_get_state always did.
TEST(HypercallTable, StateCallsNeedADomainThatCannotRun) {
    EXPECT_TRUE(hypercall_domain_stopped(LifecycleState::Created));
    EXPECT_TRUE(hypercall_domain_stopped(LifecycleState::Paused));
    EXPECT_TRUE(hypercall_domain_stopped(LifecycleState::Shutdown));
    for (LifecycleState s : {LifecycleState::Running, LifecycleState::Restarting, LifecycleState::ShuttingDown,
                             LifecycleState::Dying, LifecycleState::Dead})
        EXPECT_FALSE(hypercall_domain_stopped(s)) << int(s);
}

TEST(HypercallTable, NamesAreUnique) {
    for (u64 a = 0; a < kCount; ++a)
        for (u64 b = a + 1; b < kCount; ++b)
            if (hypercall_spec(a) && hypercall_spec(b)) EXPECT_STRNE(hypercall_spec(a)->name, hypercall_spec(b)->name);
}

// ABI 0.10: the dirty log's final take (live migration), and 1 MiB memory copies.
TEST(HypercallTable, TheDirtyLogHasAFinalTake) {
    EXPECT_GE(kVersionValue, (0u << 16) | 10u);
    EXPECT_EQ(kDirtyLogTakeFinal, 3u);
    EXPECT_EQ(kMemoryCopyMax, 1024u * 1024u);
    EXPECT_STREQ(hypercall_spec(kDomainDirtyLog)->name, "domain_dirty_log");
    EXPECT_EQ(hypercall_spec(kDomainDirtyLog)->privilege, HypercallPrivilege::ControlDomain);
}

// ABI 0.11: domain_create carries a CPUID feature limit (a restored domain keeps the
// features it was given where it started).
TEST(HypercallTable, DomainCreateTakesACpuidLimit) {
    EXPECT_GE(kVersionValue, (0u << 16) | 11u);
    EXPECT_EQ(kCreateCpuidLimit, 4u);
    EXPECT_EQ(sizeof(DomainCreateArgs), 80u);
    EXPECT_EQ(offsetof(DomainCreateArgs, cpuid_limit), 48u);
}

// ABI 0.12: KVM's PV send-IPI at 10 (KVM_HC_SEND_IPI), open to every domain; the virtual
// PC serves it (kernel/vm/devices/apic/kvm_pv_ipi.hpp), others answer no such call.
TEST(HypercallTable, KvmSendIpiIsKvmsNumber) {
    EXPECT_EQ(kVersionValue, (0u << 16) | 12u);
    EXPECT_EQ(u32(kKvmSendIpi), 10u);
    EXPECT_STREQ(hypercall_spec(kKvmSendIpi)->name, "kvm_send_ipi");
    EXPECT_EQ(hypercall_check(kKvmSendIpi, 0, false, kCaller, 0), HypercallCheck::Allowed);
    EXPECT_EQ(hypercall_check_error(hypercall_check(kKvmSendIpi, 3, false, kCaller, 0)), kErrorPermission)
        << "-KVM_EPERM for CPL > 0, as KVM";
}

}  // namespace
