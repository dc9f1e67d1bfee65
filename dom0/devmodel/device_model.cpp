#include "dom0/devmodel/device_model.hpp"

#include <poll.h>

#include <cstdarg>
#include <cstdio>

#include "dom0/devmodel/disk_backends.hpp"
#include "dom0/devmodel/virtio_balloon.hpp"
#include "dom0/devmodel/virtio_blk.hpp"
#include "dom0/include/vireo_control.h"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace devmodel {

namespace {

// Where the functions' BAR0s are, inside the domU's PCI hole ([3 GiB, 0xFEC00000) in its
// DSDT), and the slot of the first one (device 0 is the host bridge).
constexpr uint64_t kBarBase = 0xf0000000;
constexpr unsigned kFirstSlot = 2;
// How often it looks whether its domain still exists while nothing happens.
constexpr int kIdleCheckMs = 1000;

}  // namespace

DeviceModel::DeviceModel(uint32_t domain, IoreqChannel& channel, ForeignMapcache& memory, uint64_t ram_bytes,
                         LogSink log)
    : domain_(domain),
      channel_(channel),
      memory_(memory),
      log_(std::move(log)),
      msi_(channel, log_),
      machine_(kBarBase),
      balloon_(channel, domain, memory, ram_bytes, log_),
      commands_({[this](std::vector<uint8_t>& blob, std::string& error) { return save_state(blob, error); },
                 [this] { machine_.resume(); },
                 [this](const std::string& name, std::string& error) { return rename(name, error); }}) {}

void DeviceModel::note(const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    log_(line);
}

std::string DeviceModel::plug(std::unique_ptr<VirtioDevice> device, const std::string& label, std::string& error) {
    const unsigned slot = kFirstSlot + unsigned(slots_.size());
    auto function = std::make_unique<VirtioPciFunction>(std::move(device), memory_, msi_, log_);
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "00:%02x.0 ", slot);
    std::string full = prefix + label;
    function->set_label(full);
    if (!machine_.add(slot, std::move(function), error)) return "";
    const int64_t mapped = channel_.map(hypercall::kIoreqMapPciDevice, slot, 0);
    if (mapped < 0) {
        error = "the hypervisor refused PCI device " + std::to_string(slot) + ": error " + std::to_string(mapped);
        return "";
    }
    slots_.push_back(slot);
    return full;
}

bool DeviceModel::add_balloon(std::string& error) {
    auto device = std::make_unique<VirtioBalloon>(balloon_);
    balloon_.set_device(device.get());
    return !plug(std::move(device), "virtio-balloon", error).empty();
}

bool DeviceModel::add_console(const std::string& name, std::string& error) {
    console_pty_ = PtyPort::open("hvc0", log_, error);
    if (!console_pty_) {
        // No devpts mounted, say: the domU goes without hvc0, not without its disks.
        note("no virtio console: %s", error.c_str());
        return true;
    }
    auto device = std::make_unique<VirtioConsole>(*console_pty_, *console_pty_);
    VirtioConsole* console = device.get();
    const std::string label = plug(std::move(device), "virtio-console", error);
    if (label.empty()) return false;
    console_ = console;
    if (!console_link_.make(console_link_path(name), console_pty_->slave_path(), error)) return false;
    note("%s: hvc0 on %s", label.c_str(), console_pty_->slave_path().c_str());
    return true;
}

std::string DeviceModel::console_link_path(const std::string& name) {
    return std::string(ConsoleLink::kDirectory) + "/" + name + ".hvc0";
}

bool DeviceModel::rename(const std::string& name, std::string& error) {
    if (!console_) return true;  // no console, so no link to follow the name
    if (!console_link_.move(console_link_path(name), error)) return false;
    note("the domain is %s now: hvc0 linked as %s", name.c_str(), console_link_path(name).c_str());
    return true;
}

bool DeviceModel::add_disk(const DiskArg& disk, unsigned index, std::string& error) {
    std::unique_ptr<BlockBackend> backend = open_disk_backend(
        disk.path, disk.format, disk.read_only, [this](const std::string& line) { note("%s", line.c_str()); }, error);
    if (!backend) return false;
    auto blk = std::make_unique<VirtioBlk>(std::move(backend), "vireo-" + std::to_string(index));
    const std::string label = plug(std::move(blk), "virtio-blk (" + disk.path + ")", error);
    if (label.empty()) return false;
    note("%s: %s, %s", label.c_str(), disk.read_only ? "read-only" : "read-write", disk.format.c_str());
    return true;
}

bool DeviceModel::add_nic(const NicArg& nic, unsigned index, std::string& error) {
    const std::string name = "vif" + std::to_string(domain_) + "." + std::to_string(index);
    std::unique_ptr<TapPort> tap = TapPort::open(name, error);
    if (!tap) return false;
    if (!attach_to_bridge(tap->name(), nic.bridge, error)) return false;
    auto net = std::make_unique<VirtioNet>(*tap, nic.mac);
    VirtioNet* device = net.get();
    const std::string label = plug(std::move(net), "virtio-net (" + tap->name() + ")", error);
    if (label.empty()) return false;
    note("%s: mac %s on bridge %s", label.c_str(), format_mac(nic.mac).c_str(), nic.bridge.c_str());
    nics_.push_back({device, std::move(tap)});
    return true;
}

bool DeviceModel::map_hole(std::string& error) {
    const int64_t mapped =
        channel_.map(hypercall::kIoreqMapMmio, kGuestMmioHoleStart, kGuestIoApicBase - kGuestMmioHoleStart);
    if (mapped < 0) error = "the hypervisor refused the PCI hole: error " + std::to_string(mapped);
    return mapped >= 0;
}

void DeviceModel::serve_forever() {
    for (;;) {
        wait_for_work();
        // While stopped, a doorbell is dropped: `continue` looks at every queue.
        const uint64_t rung = channel_.take_doorbells();
        if (!commands_.stopped()) ring(rung);
        const unsigned served = channel_.serve([&](hypercall::IoreqSlot& s) { serve(s); });
        bool received = false;
        if (console_readable_) {
            console_->input_ready();
            received = true;
        }
        for (Nic& n : nics_)
            if (n.readable) {
                n.device->frames_ready();
                received = true;
            }
        if (control_readable_) {
            serve_control();
            received = true;
        }
        if (!commands_.stopped()) balloon_.follow_target();
        if (!rung && !served && !received && !domain_alive()) return;
    }
}

void DeviceModel::ring(uint64_t doorbells) {
    for (uint64_t bits = doorbells; bits; bits &= bits - 1) {
        const unsigned bit = unsigned(__builtin_ctzll(bits));
        if (bit < doorbells_.size())
            if (VirtioPciFunction* f = machine_.function(doorbells_[bit].slot)) f->ring_doorbell(doorbells_[bit].queue);
    }
}

// Until a request, a doorbell, input for the console or a frame for a NIC (while their
// drivers have buffers posted for them: input is pulled, virtio_console.hpp, and not
// while the devices are stopped), a control command is there, or the idle check is due.
// The console's output needs no polling: it is written as the driver posts it, and what
// the pty cannot take is dropped (pty_port.hpp).
void DeviceModel::wait_for_work() {
    std::vector<pollfd> fds;
    fds.push_back({channel_.fd(), POLLIN, 0});
    fds.push_back({control_.fd(), POLLIN, 0});
    const bool running = !commands_.stopped();
    console_readable_ = false;
    const bool console_wanted = running && console_ != nullptr && console_->wants_input();
    fds.push_back({console_wanted ? console_pty_->fd() : -1, POLLIN, 0});
    for (Nic& n : nics_) {
        n.readable = false;
        const bool wanted = running && !n.tap->broken() && n.device->wants_frames();
        fds.push_back({wanted ? n.tap->fd() : -1, POLLIN, 0});
    }
    control_readable_ = false;
    if (poll(fds.data(), fds.size(), kIdleCheckMs) <= 0) return;
    control_readable_ = (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
    console_readable_ = (fds[2].revents & POLLIN) != 0;
    for (size_t i = 0; i < nics_.size(); ++i) nics_[i].readable = (fds[i + 3].revents & (POLLIN | POLLERR)) != 0;
}

void DeviceModel::serve(hypercall::IoreqSlot& s) {
    const unsigned size = s.size;
    if (s.type == hypercall::kIoreqPciConfig) {
        const uint16_t bdf = uint16_t(s.address >> 12);  // bus << 8 | device << 3 | function
        const uint32_t reg = uint32_t(s.address & 0xfff);
        if (s.write) {
            machine_.pci_config_write(bdf, reg, size, uint32_t(s.data));
            update_doorbells();
        } else {
            s.data = machine_.pci_config_read(bdf, reg, size);
        }
    } else if (s.write) {
        // A notification while stopped would have the device take chains behind the saved
        // state: `continue` looks at every queue instead.
        if (!commands_.stopped() || !is_notification(s.address)) machine_.mmio_write(s.address, size, s.data);
    } else {
        s.data = machine_.mmio_read(s.address, size);
    }
}

bool DeviceModel::is_notification(uint64_t gpa) const {
    for (const unsigned slot : slots_)
        if (auto r = machine_.function(slot)->notify_region())
            if (gpa >= r->gpa && gpa - r->gpa < r->length) return true;
    return false;
}

// After a configuration write (a BAR moved, memory decoding switched): the doorbells the
// hypervisor posts follow the enabled BARs.
void DeviceModel::update_doorbells() {
    std::vector<std::pair<unsigned, VirtioPciFunction::NotifyRegion>> regions;
    for (const unsigned slot : slots_)
        if (auto r = machine_.function(slot)->notify_region()) regions.push_back({slot, *r});
    bool same = regions.size() == registered_.size();
    for (size_t i = 0; same && i < regions.size(); ++i)
        same = regions[i].first == registered_[i].first && regions[i].second.gpa == registered_[i].second.gpa &&
               regions[i].second.length == registered_[i].second.length;
    if (same) return;
    channel_.map(hypercall::kIoreqMapClearDoorbells, 0, 0);
    doorbells_.clear();
    registered_.clear();
    for (const auto& [slot, r] : regions) {
        const int64_t first = channel_.map(hypercall::kIoreqMapDoorbell, r.gpa, r.length, r.multiplier);
        if (first < 0) {
            note("doorbells of 00:%02x.0 at %#llx not posted (error %lld): its notifications make round trips", slot,
                 (unsigned long long)r.gpa, (long long)first);
            continue;
        }
        doorbells_.resize(size_t(first));
        for (uint32_t q = 0; q < r.length / r.multiplier; ++q) doorbells_.push_back({slot, uint16_t(q)});
        registered_.push_back({slot, r});
    }
}

bool DeviceModel::domain_alive() {
    hypercall::DomainStatus status{};
    return channel_.status(domain_, status) != hypercall::kErrorNoSuchDomain;
}

}  // namespace devmodel
