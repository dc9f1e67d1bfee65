// What vireo-dm does for each command on its control socket (control_protocol.hpp),
// apart from the socket and the devices themselves: host-tested
// (tests/unit/devmodel_control_commands_test.cpp).
//
// `save` takes the devices' state through Actions::save and, when it succeeds, leaves the
// devices stopped: the domain is paused and its memory is being saved, so no queue may
// change behind the blob (docs/save-format.md, "Quiescing"). They stay stopped, even
// when the client leaves, until `continue`, which runs Actions::resume: xm save destroys
// the domain after a save, and a failed save continues before it unpauses the domain.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace devmodel::control {

class ControlCommands {
public:
    struct Actions {
        // Answers every access still pending, then writes the state to `blob`; false with
        // `error`.
        std::function<bool(std::vector<uint8_t>& blob, std::string& error)> save;
        // Lets stopped devices run again and serve what came while they were stopped.
        std::function<void()> resume;
        // The domain is called `name` now (its console link follows); false with `error`.
        std::function<bool(const std::string& name, std::string& error)> rename;
    };

    explicit ControlCommands(Actions actions) : actions_(std::move(actions)) {}

    // Whether the devices must leave their queues and inputs alone.
    bool stopped() const { return stopped_; }
    // The reply to one command line (without its '\n'): the reply line and any blob.
    std::vector<uint8_t> handle(std::string_view line);

private:
    std::vector<uint8_t> save();

    Actions actions_;
    bool stopped_ = false;
};

}  // namespace devmodel::control
