// DeviceModel's side of save and restore (docs/save-format.md, "Devices (section 7)"):
// the state restored at start (vireo-dm --restore-state) and the control socket's
// commands, through which xm takes the state of a running device model.
#include <string>
#include <vector>

#include "dom0/devmodel/device_model.hpp"

namespace devmodel {

bool DeviceModel::restore_state(const std::vector<uint8_t>& blob, std::string& error) {
    if (!machine_.restore(blob.data(), blob.size(), error)) return false;
    // The restored BARs and command registers decide where the doorbells are, as a
    // configuration write would.
    update_doorbells();
    machine_.resume();
    note("devices restored from a saved state (%zu bytes)", blob.size());
    return true;
}

bool DeviceModel::listen_for_control(const std::string& path, std::string& error) {
    if (!control_.listen(path, error)) return false;
    note("control socket %s", path.c_str());
    return true;
}

void DeviceModel::serve_control() {
    for (const std::string& line : control_.take_commands()) {
        const bool was_stopped = commands_.stopped();
        control_.reply(commands_.handle(line));
        if (commands_.stopped() != was_stopped)
            note("%s", commands_.stopped() ? "devices saved; stopped until continue" : "devices continue");
    }
}

// "Quiescing" in docs/save-format.md: xm paused the domain; every access a vCPU still
// waits on is answered first, so that the state holds its effect and the vCPU's
// instruction completes. Doorbells are left for `continue` or the restored device's
// resume(), which look at every queue.
bool DeviceModel::save_state(std::vector<uint8_t>& blob, std::string& error) {
    channel_.serve([&](hypercall::IoreqSlot& s) { serve(s); });
    StateOut out;
    if (!machine_.save(out, error)) {
        note("devices not saved: %s", error.c_str());
        return false;
    }
    blob = out.data();
    return true;
}

}  // namespace devmodel
