#include "dom0/xm/domain_hold.hpp"

#include <stdio.h>

#include "dom0/xm/device_model_control.hpp"
#include "dom0/xm/guest_ram_blocks.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;

DomainHold::DomainHold(ControlClient& control, const DomainStatus& d) : control_(control), d_(d) {
    // The dirty log's bitmap covers guest-physical pages up to the end of RAM, holes
    // included (docs/hypercalls.md, domain_dirty_log).
    const std::vector<RamBlock> blocks = guest_ram_blocks(d.memory_bytes);
    pages_ = blocks.empty() ? 0 : (blocks.back().gpa + blocks.back().bytes) / 4096;
}

DomainHold::~DomainHold() {
    if (gone_) return;
    const std::string who = domain_name(d_);
    if (logging_) control_.call(kDomainDirtyLog, d_.id, kDirtyLogDisable, 0, 0);
    // Kept paused (it may run on the other host now): under the name it has, so that an
    // `xm unpause NAME` meant for the other host's copy never wakes this one.
    if (keep_paused_) return;
    if (renamed_) {
        const int64_t r = rename_domain(control_, d_.id, d_.name);
        if (r < 0)
            fprintf(stderr, "xm: %s: its name could not be given back: %s\n", who.c_str(), error_text(r).c_str());
    }
    std::string why_not;
    if (devices_stopped_ && !device_model_continue(d_.id, why_not))
        fprintf(stderr, "xm: %s: its devices did not go on: %s\n", who.c_str(), why_not.c_str());
    if (paused_) control_.call(kDomainUnpause, d_.id);
}

bool DomainHold::pause(std::string& error) {
    if (d_.state == kStatePaused || paused_) return true;
    const int64_t r = control_.call(kDomainPause, d_.id);
    if (r < 0) {
        error = "it could not be paused: " + error_text(r);
        return false;
    }
    paused_ = true;
    return true;
}

bool DomainHold::stop_devices(std::vector<uint8_t>& blob, std::string& error) {
    // Told to go on whatever the answer was: a reply cut off after it stopped them would
    // otherwise leave them stopped under a running domain.
    devices_stopped_ = true;
    return device_model_save(d_.id, blob, error);
}

bool DomainHold::start_dirty_log(std::string& error) {
    const int64_t r = control_.call(kDomainDirtyLog, d_.id, kDirtyLogEnable, 0, 0);
    if (r < 0) {
        error = "its dirty log could not start: " + error_text(r);
        return false;
    }
    logging_ = true;
    return true;
}

bool DomainHold::take_dirty(std::vector<uint64_t>& bitmap, bool final, uint64_t& count, std::string& error) {
    bitmap.assign(size_t((pages_ + 63) / 64), 0);
    const int64_t r = control_.call_with_buffer(kDomainDirtyLog, 2, bitmap.data(), uint32_t((pages_ + 7) / 8), d_.id,
                                                final ? kDirtyLogTakeFinal : kDirtyLogTake, 0, pages_);
    if (r < 0) {
        error = "its dirty log could not be read: " + error_text(r);
        return false;
    }
    count = uint64_t(r);
    return true;
}

bool DomainHold::rename(const std::string& name, std::string& error) {
    const int64_t r = rename_domain(control_, d_.id, name);
    if (r < 0) {
        error = "it could not be renamed " + name + ": " + error_text(r);
        return false;
    }
    renamed_ = true;
    return true;
}

}  // namespace xm
