// xm console: a domain's console on this terminal, as `xl console` gives it. Its output
// is copied to stdout as it comes; what is typed goes to its COM1 (or, with -t pv, to its
// hvc0); Ctrl-] detaches. On a terminal, the terminal is raw meanwhile (every key, Ctrl-C
// included, goes to the domain) and restored afterwards.
#pragma once

#include <stdint.h>

#include <string>

namespace xm {

// Ctrl-], xl's escape character.
inline constexpr char kConsoleEscape = 0x1d;

// Attached from `position` (DeviceStream: 0 for all the hypervisor kept, kFromEnd for
// what comes next) until Ctrl-] (0), or the domain is destroyed (0, said on stderr), or
// an error (1).
int run_console(uint32_t id, const std::string& name, uint64_t position);

// Where a device model links each domU's virtio console pty, as NAME.hvc0
// (dom0/devmodel/console_link.hpp).
inline constexpr const char* kPvConsoleDirectory = "/run/vireo";

// The same on domain `name`'s hvc0: the pty its device model serves its virtio console
// on. What the domU wrote while nobody was attached (as much as the pty kept) comes
// first.
int run_pv_console(const std::string& name);

}  // namespace xm
