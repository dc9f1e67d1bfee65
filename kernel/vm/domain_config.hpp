// The command line of a GRUB module that starts a domain:
//   domain name=t1 mem=64M vcpus=1 platform=pc -- text passed to the guest kernel as its command line
// role=control makes it a control domain, which may create, inspect and destroy other
// domains through the control hypercalls (docs/hypercalls.md); until dom0 exists, the
// test kernels that drive the control interface use it.
// dom0 makes it Domain-0 (Xen's word): the privileged domain with id 0 that owns the
// machine's devices (a Linux bzImage; one at most), e.g.
//   domain name=Domain-0 dom0 mem=1G vcpus=2 -- console=ttyS0
// platform=pc gives a Multiboot kernel the virtual PC a Linux kernel gets (the test
// kernels that drive the PC's devices use it); a bzImage always gets it.
// weight=N (1-65535, default 256), cap=N (percent of one CPU, 0-100 per vCPU, 0: none)
// and cpus=LIST (the CPUs its vCPUs may run on, as xl's cpus=: "0", "0-3,6", "all") are
// its credit scheduler settings (kernel/sched/credit_policy.hpp).
// Modules that follow without "domain" belong to that domain (its multiboot modules).
// Pure logic: every accepted and rejected form is unit-tested.
#pragma once

#include "kernel/types.hpp"

struct DomainModuleLine {
    static constexpr usize kNameLength = 32;
    static constexpr usize kGuestCmdlineLength = 256;
    char name[kNameLength];
    u64 memory_bytes;
    u32 vcpus;
    bool pc_platform;
    bool privileged;  // role=control
    bool dom0;        // the word dom0
    u32 weight;       // kCreditDefaultWeight unless weight=
    u32 cap_percent;  // 0 (none) unless cap=
    u64 cpus;         // bit n: CPU n; all unless cpus=
    char guest_cmdline[kGuestCmdlineLength];
};

inline constexpr u64 kDefaultDomainMemory = 32 * MiB;
inline constexpr u64 kMinDomainMemory = 2 * MiB;
inline constexpr u64 kMaxDomainMemory = 64 * GiB;

// True when `cmdline` starts a domain (its first word is "domain").
bool is_domain_line(const char* cmdline);

// Parses a domain line; false with a sentence in `error_buffer`.
bool parse_domain_line(const char* cmdline, u32 default_index, DomainModuleLine& out, char* error_buffer,
                       usize error_buffer_size);

// A domain name: 1-31 of letters, digits, '-', '_' and '.'.
bool valid_domain_name(const char* s, usize len);

// xl's CPU list: "all", or N and N-M (CPUs 0-63) joined by commas; false on junk or an
// empty set.
bool parse_cpu_list(const char* text, usize length, u64& mask);

// "64M", "1G", "512K", "1048576": bytes; false on junk, zero or overflow.
bool parse_memory_size(const char* text, usize length, u64& bytes);
