// xm's end of a running device model's control socket (dom0/devmodel/control_protocol.hpp,
// docs/save-format.md "Getting the blob from a running vireo-dm"): how xm save and xm
// migrate take the devices' state of a domain they paused. Host-tested against vireo-dm's
// end (tests/unit/devmodel_control_socket_test.cpp).
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

namespace xm {

// How long xm waits for a reply (a save answers the domain's pending accesses, then
// encodes a few KiB per device).
inline constexpr int kDeviceModelReplyTimeoutMs = 60000;

// Domain `id` has a device model serving it: its control socket exists.
bool device_model_present(uint32_t id);
// `save`: with the domain paused, the device model's state (DeviceMachine::save, the save
// image's devices section) in `blob`; its devices then stay stopped until
// device_model_continue. False with `error` in a user's words.
bool device_model_save(uint32_t id, std::vector<uint8_t>& blob, std::string& error);
// `continue`: the devices run again (after a save that is not followed by the domain's
// end). False with `error`.
bool device_model_continue(uint32_t id, std::string& error);
// `rename NAME`: the domain is called `name` now; its console link follows. False with
// `error`.
bool device_model_rename(uint32_t id, const std::string& name, std::string& error);

// The same exchange over the socket at `path`: `command` (a line without '\n') and its
// reply, the blob of an "ok <length>" reply in `blob` (when blob is not null, which
// requires one). False with `error`.
bool device_model_request(const std::string& path, const std::string& command, std::vector<uint8_t>* blob,
                          int timeout_ms, std::string& error);

}  // namespace xm
