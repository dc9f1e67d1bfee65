// What xm prints, as pure functions of what the hypervisor reports (host-tested in
// tests/unit/xm_format_test.cpp): `xm list` in xl's columns and state letters
// (`xl list`, tools/xl/xl_info.c in Xen), `xm list --json`, and `xm info`'s lines.
#pragma once

#include <string>
#include <vector>

#include "kernel/vm/hypercall_abi.hpp"

namespace xm {

// The six state letters of `xl list`: r(unning) b(locked) p(aused) s(hut down), the
// shutdown reason (c for a crash, - otherwise) and d(ying).
std::string state_flags(const hypercall::DomainStatus& status);

// The header and one row of `xm list`.
std::string list_header();
std::string list_row(const hypercall::DomainStatus& status);

// `xm list --json`: an array with one object per domain.
std::string list_json(const std::vector<hypercall::DomainStatus>& domains);

// `xm info`: "key : value" lines, keys padded as xl pads them. `release` is Domain-0's
// kernel release (uname -r), `hostname` its host name.
std::string info_text(const hypercall::HostInfo& info, const std::string& hostname, const std::string& release);

// A CPU mask as a list ("0-1,3"), "all" when it covers the host's CPUs.
std::string cpu_list_text(uint64_t mask, uint32_t host_cpus);

// `xm vcpu-list` (xl's columns): one row per vCPU, with its count of exits after its
// CPU time when `exits` (vcpu-list --exits), and its affinity as "HARD / SOFT" lists.
std::string vcpu_list_header(bool exits);
std::string vcpu_list_row(const hypercall::DomainStatus& status, uint32_t vcpu, const hypercall::VcpuInfo& info,
                          uint32_t host_cpus, bool exits);

// `xm sched-credit` (xl's format, tools/xl/xl_sched.c): a domain's weight and cap.
std::string sched_credit_header();
std::string sched_credit_row(const hypercall::DomainStatus& status, const hypercall::SchedCredit& share);

// `xm uptime` (xl's format): "H:MM:SS", with "N days, " in front after a day.
std::string uptime_text(uint64_t seconds);
std::string uptime_header();
std::string uptime_row(const hypercall::DomainStatus& status);

// `xm top`'s frame (xentop's first columns): one row per domain, its CPU use over the
// last interval in percent of one CPU.
std::string top_header();
std::string top_row(const hypercall::DomainStatus& status, double cpu_percent, uint64_t host_memory_bytes);

// A domain's name from its fixed-size field (NUL-terminated, or all 32 bytes used).
std::string domain_name(const hypercall::DomainStatus& status);

// What an error from the hypervisor means, in a user's words ("no such domain").
std::string error_text(int64_t error);

// JSON's string escaping (RFC 8259, section 7).
std::string json_string(const std::string& text);

}  // namespace xm
