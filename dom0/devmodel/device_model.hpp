// What vireo-dm (vireo_dm.cpp) does for one domU: the virtio PCI functions it puts on
// the domU's bus 0 (disks, NICs, a console, the balloon), each forwarded to it by the hypervisor
// (kernel/ioreq/ioreq_server.hpp), and the loop that serves the forwarded accesses, the
// posted doorbells, the devices' Linux ends and the control socket xm saves the devices'
// state through (control_socket.hpp) until the domain is destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dom0/devmodel/balloon_backend.hpp"
#include "dom0/devmodel/console_link.hpp"
#include "dom0/devmodel/control_commands.hpp"
#include "dom0/devmodel/control_socket.hpp"
#include "dom0/devmodel/device_machine.hpp"
#include "dom0/devmodel/foreign_mapcache.hpp"
#include "dom0/devmodel/hypervisor_msi.hpp"
#include "dom0/devmodel/ioreq_channel.hpp"
#include "dom0/devmodel/log_sink.hpp"
#include "dom0/devmodel/pty_port.hpp"
#include "dom0/devmodel/tap_port.hpp"
#include "dom0/devmodel/virtio_console.hpp"
#include "dom0/devmodel/virtio_device.hpp"
#include "dom0/devmodel/virtio_net.hpp"
#include "dom0/devmodel/virtio_pci_function.hpp"

namespace devmodel {

// --disk rw|ro,FORMAT,PATH
struct DiskArg {
    bool read_only = false;
    std::string format, path;
};

// --nic BRIDGE,MAC
struct NicArg {
    std::string bridge;
    MacAddress mac{};
};

class DeviceModel {
public:
    DeviceModel(uint32_t domain, IoreqChannel& channel, ForeignMapcache& memory, uint64_t ram_bytes, LogSink log);

    // The whole PCI hole below the I/O APIC is forwarded, wherever the guest puts the BARs.
    bool map_hole(std::string& error);
    // Each puts one virtio function on the next free slot; false with `error` when the
    // device's Linux end cannot be had or the hypervisor refuses the function.
    bool add_disk(const DiskArg& disk, unsigned index, std::string& error);
    // A virtio NIC whose frames go through tap vif<domid>.<index> on the bridge.
    bool add_nic(const NicArg& nic, unsigned index, std::string& error);
    // The virtio console every domU with a device model has: its port 0 (hvc0 in the
    // domU) on a pty here, linked as /run/vireo/NAME.hvc0 (`xm console -t pv NAME`).
    // Without a pty to be had, the domU has none (logged), and it is no error.
    bool add_console(const std::string& name, std::string& error);
    // The domain is called `name` now (xm rename, a migration's handover): the console's
    // link follows. False with `error`.
    bool rename(const std::string& name, std::string& error);
    // The memory balloon every domU with a device model has (xm mem-set).
    bool add_balloon(std::string& error);

    // Every device added: the devices take a state a save wrote (DeviceMachine::restore;
    // false with `error`, nothing changed), their doorbells follow the restored BARs, and
    // they serve what the driver made available before the save (DeviceMachine::resume).
    // With the domain's memory in place, before it runs (device_model_state.cpp).
    bool restore_state(const std::vector<uint8_t>& blob, std::string& error);
    // Serves the control socket at `path` (control_protocol.hpp) from now on.
    bool listen_for_control(const std::string& path, std::string& error);

    // Until the domain is gone.
    void serve_forever();

private:
    // /run/vireo/NAME.hvc0.
    static std::string console_link_path(const std::string& name);
    struct Nic {
        VirtioNet* device;
        std::unique_ptr<TapPort> tap;
        bool readable = false;
    };
    // The doorbells the hypervisor posts: bit n is queue `queue` of the function in `slot`.
    struct Doorbell {
        unsigned slot;
        uint16_t queue;
    };

    // Puts `device` behind a virtio PCI function on the next free slot, labelled "00:SS.0
    // LABEL" in the log, and has the hypervisor forward that PCI device here. The full
    // label, or "" with `error`.
    std::string plug(std::unique_ptr<VirtioDevice> device, const std::string& label, std::string& error);
    void note(const char* format, ...) __attribute__((format(printf, 2, 3)));
    void wait_for_work();
    void ring(uint64_t doorbells);
    void serve(hypercall::IoreqSlot& s);
    bool is_notification(uint64_t gpa) const;
    void serve_control();
    bool save_state(std::vector<uint8_t>& blob, std::string& error);
    void update_doorbells();
    bool domain_alive();

    uint32_t domain_;
    IoreqChannel& channel_;
    ForeignMapcache& memory_;
    LogSink log_;
    HypervisorMsi msi_;
    // Before machine_, whose console device uses it: destroyed after it.
    std::unique_ptr<PtyPort> console_pty_;
    ConsoleLink console_link_;
    VirtioConsole* console_ = nullptr;
    bool console_readable_ = false;
    DeviceMachine machine_;
    std::vector<unsigned> slots_;
    std::vector<Nic> nics_;
    BalloonBackend balloon_;
    std::vector<Doorbell> doorbells_;
    std::vector<std::pair<unsigned, VirtioPciFunction::NotifyRegion>> registered_;
    control::ControlSocket control_;
    bool control_readable_ = false;
    // While stopped (after a save), the devices take nothing from their queues and Linux
    // ends: only forwarded register accesses are answered, so that no vCPU waits.
    control::ControlCommands commands_;
};

}  // namespace devmodel
