// A domain held for a save or a migration, and let go as it was when the hold ends,
// whatever went wrong on the way (one scope guard for every undo): its name given back,
// its dirty log ended, its device model told to go on, and the domain unpaused, for each
// of them only if this hold changed it. gone() says the domain was destroyed (nothing to
// undo); keep_paused() leaves it paused with its devices stopped and under its new name
// (a migration whose handover broke: the domain may run on the other host).
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "dom0/xm/control_client.hpp"

namespace xm {

class DomainHold {
public:
    DomainHold(ControlClient& control, const hypercall::DomainStatus& d);
    ~DomainHold();
    DomainHold(const DomainHold&) = delete;
    DomainHold& operator=(const DomainHold&) = delete;

    // Pauses it (if it runs); false with `error`.
    bool pause(std::string& error);
    // Its device model stops its virtio queues and hands over their state.
    bool stop_devices(std::vector<uint8_t>& blob, std::string& error);
    // The dirty log (domain_dirty_log), and a take of it: `bitmap` gets a bit per
    // guest-physical page; `final` counts the pages others map (after stop_devices).
    bool start_dirty_log(std::string& error);
    bool take_dirty(std::vector<uint64_t>& bitmap, bool final, uint64_t& count, std::string& error);
    // A new name, the old one given back when the hold ends.
    bool rename(const std::string& name, std::string& error);

    void gone() { gone_ = true; }
    void keep_paused() { keep_paused_ = true; }

private:
    ControlClient& control_;
    const hypercall::DomainStatus& d_;
    uint64_t pages_;
    bool paused_ = false, devices_stopped_ = false, logging_ = false, renamed_ = false;
    bool gone_ = false, keep_paused_ = false;
};

}  // namespace xm
