// What xl's per-domain daemon does on Xen: after xm create, a process of its own watches
// the domain and carries out the config's on_poweroff, on_reboot and on_crash when it
// ends (xl.cfg(5)): destroy it, restart it (destroy it and build it again from the same
// config: a new id, the same name) or preserve it (leave it as it ended, for xm list and
// a later xm destroy). It ends when the domain is destroyed (by it or anyone) or
// preserved, and logs what it did to /var/log/vireo/xm-NAME.log.
#pragma once

#include <stdint.h>

#include <vector>

#include "dom0/xm/xl_config.hpp"

namespace xm {

// Starts the monitor of domain `id`, detached from this process (it outlives it), with
// the kernel and initrd bytes a restart builds from. False when it could not start.
bool start_domain_monitor(uint32_t id, const XlConfig& config, const std::vector<uint8_t>& kernel,
                          const std::vector<uint8_t>& initrd);

}  // namespace xm
