// The device-model process of a domU (dom0/devmodel, /bin/vireo-dm), started by xm create
// for a domain with disks, as xl starts QEMU for an HVM guest: it attaches to the domain
// before the domain first runs, serves its virtio devices, and ends with the domain.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/xl_config.hpp"

namespace xm {

// Starts it for domain `id` (paused, built) and waits until it serves the domain's
// devices. True at once when the config has none; false with `error` in a user's words.
// With `restore_state_path` (xm restore: a file holding the save image's devices
// section), the devices take that state before they serve (vireo-dm --restore-state),
// and a state they refuse is the error.
bool start_device_model(uint32_t id, const XlConfig& config, std::string& error,
                        const std::string& restore_state_path = "");
// create_linux_domain with its device model: built paused, the device model started,
// then unpaused unless config.start_paused. On failure nothing is left behind.
bool create_domain_with_devices(ControlClient& control, const XlConfig& config, const std::vector<uint8_t>& kernel,
                                const std::vector<uint8_t>& initrd, BuiltDomain& built, std::string& error);

}  // namespace xm
