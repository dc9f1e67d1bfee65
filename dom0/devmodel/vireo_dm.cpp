// vireo-dm: the device model of one domU, in Domain-0 (xm create starts it:
// dom0/xm/device_model_launch.cpp). It attaches to the domain before the domain first
// runs, puts a virtio PCI function on the domain's bus 0 for each disk, and serves the
// accesses the hypervisor forwards (kernel/ioreq/ioreq_server.hpp) until the domain is
// destroyed. Its log lines go to stderr as "vireo-dm NAME: ...".
//
//   vireo-dm --domain ID --name NAME [--disk rw|ro,FORMAT,PATH ...] [--nic BRIDGE,MAC ...]
//
// It says "ready" on file descriptor 3 once it serves the domain (xm then starts it).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "dom0/devmodel/balloon_backend.hpp"
#include "dom0/devmodel/device_machine.hpp"
#include "dom0/devmodel/disk_backends.hpp"
#include "dom0/devmodel/foreign_mapcache.hpp"
#include "dom0/devmodel/ioreq_channel.hpp"
#include "dom0/devmodel/tap_port.hpp"
#include "dom0/devmodel/virtio_balloon.hpp"
#include "dom0/devmodel/virtio_blk.hpp"
#include "dom0/devmodel/virtio_net.hpp"
#include "dom0/devmodel/virtio_pci_function.hpp"
#include "dom0/include/vireo_control.h"
#include "kernel/vm/firmware/guest_pc_layout.hpp"

namespace {

using namespace devmodel;

// Where the functions' BAR0s are, inside the domU's PCI hole ([3 GiB, 0xFEC00000) in its
// DSDT), and the slot of the first one (device 0 is the host bridge).
constexpr uint64_t kBarBase = 0xf0000000;
constexpr unsigned kFirstSlot = 2;
// How often it looks whether its domain still exists while nothing happens.
constexpr int kIdleCheckMs = 1000;

std::string g_name = "?";

void note(const char* format, ...) __attribute__((format(printf, 1, 2)));
void note(const char* format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    fprintf(stderr, "vireo-dm %s: %s\n", g_name.c_str(), line);
}

struct DiskArg {
    bool read_only = false;
    std::string format, path;
};

bool parse_disk(const std::string& text, DiskArg& out) {
    const size_t a = text.find(','), b = a == std::string::npos ? a : text.find(',', a + 1);
    if (b == std::string::npos) return false;
    const std::string access = text.substr(0, a);
    out.format = text.substr(a + 1, b - a - 1);
    out.path = text.substr(b + 1);
    out.read_only = access == "ro";
    return (access == "ro" || access == "rw") && !out.path.empty();
}

struct NicArg {
    std::string bridge;
    MacAddress mac;
};

bool parse_nic(const std::string& text, NicArg& out) {
    const size_t comma = text.find(',');
    if (comma == std::string::npos || comma == 0) return false;
    out.bridge = text.substr(0, comma);
    const std::optional<MacAddress> mac = parse_mac(text.substr(comma + 1));
    if (!mac) return false;
    out.mac = *mac;
    return true;
}

// MSIs go to the hypervisor.
class HypervisorMsi final : public MsiSink {
public:
    explicit HypervisorMsi(IoreqChannel& channel) : channel_(channel) {}
    void send_msi(uint64_t address, uint32_t data) override {
        const int64_t result = channel_.inject_msi(address, data);
        if (result < 0 && !reported_) {
            note("an interrupt (MSI %#llx/%#x) was refused: error %lld", (unsigned long long)address, data,
                 (long long)result);
            reported_ = true;
        }
    }

private:
    IoreqChannel& channel_;
    bool reported_ = false;
};

// The doorbells the hypervisor posts: bit n is queue `queue` of the function in `slot`.
struct Doorbell {
    unsigned slot;
    uint16_t queue;
};

class DeviceModel {
public:
    DeviceModel(uint32_t domain, IoreqChannel& channel, ForeignMapcache& memory, uint64_t ram_bytes)
        : domain_(domain),
          channel_(channel),
          memory_(memory),
          msi_(channel),
          machine_(kBarBase),
          balloon_(channel, domain, memory, ram_bytes, [](const std::string& line) { note("%s", line.c_str()); }) {}

    // The memory balloon every domU with a device model has (xm mem-set).
    bool add_balloon(std::string& error) {
        const unsigned slot = kFirstSlot + unsigned(slots_.size());
        auto device = std::make_unique<VirtioBalloon>(balloon_);
        balloon_.set_device(device.get());
        auto function = std::make_unique<VirtioPciFunction>(std::move(device), memory_, msi_,
                                                            [](const std::string& line) { note("%s", line.c_str()); });
        char label[48];
        snprintf(label, sizeof(label), "00:%02x.0 virtio-balloon", slot);
        function->set_label(label);
        if (!machine_.add(slot, std::move(function), error)) return false;
        const int64_t mapped = channel_.map(hypercall::kIoreqMapPciDevice, slot, 0);
        if (mapped < 0) {
            error = "the hypervisor refused PCI device " + std::to_string(slot) + ": error " + std::to_string(mapped);
            return false;
        }
        slots_.push_back(slot);
        return true;
    }

    bool add_disk(const DiskArg& disk, unsigned index, std::string& error) {
        std::unique_ptr<BlockBackend> backend = open_disk_backend(
            disk.path, disk.format, disk.read_only, [](const std::string& line) { note("%s", line.c_str()); }, error);
        if (!backend) return false;
        const unsigned slot = kFirstSlot + unsigned(slots_.size());
        auto blk = std::make_unique<VirtioBlk>(std::move(backend), "vireo-" + std::to_string(index));
        auto function = std::make_unique<VirtioPciFunction>(std::move(blk), memory_, msi_,
                                                            [](const std::string& line) { note("%s", line.c_str()); });
        char label[48];
        snprintf(label, sizeof(label), "00:%02x.0 virtio-blk (%s)", slot, disk.path.c_str());
        function->set_label(label);
        if (!machine_.add(slot, std::move(function), error)) return false;
        const int64_t mapped = channel_.map(hypercall::kIoreqMapPciDevice, slot, 0);
        if (mapped < 0) {
            error = "the hypervisor refused PCI device " + std::to_string(slot) + ": error " + std::to_string(mapped);
            return false;
        }
        slots_.push_back(slot);
        note("%s: %s, %s", label, disk.read_only ? "read-only" : "read-write", disk.format.c_str());
        return true;
    }

    // A virtio NIC whose frames go through tap vif<domid>.<index> on the bridge.
    bool add_nic(const NicArg& nic, unsigned index, std::string& error) {
        const std::string name = "vif" + std::to_string(domain_) + "." + std::to_string(index);
        std::unique_ptr<TapPort> tap = TapPort::open(name, error);
        if (!tap) return false;
        if (!attach_to_bridge(tap->name(), nic.bridge, error)) return false;
        const unsigned slot = kFirstSlot + unsigned(slots_.size());
        auto net = std::make_unique<VirtioNet>(*tap, nic.mac);
        VirtioNet* device = net.get();
        auto function = std::make_unique<VirtioPciFunction>(std::move(net), memory_, msi_,
                                                            [](const std::string& line) { note("%s", line.c_str()); });
        char label[64];
        snprintf(label, sizeof(label), "00:%02x.0 virtio-net (%s)", slot, tap->name().c_str());
        function->set_label(label);
        if (!machine_.add(slot, std::move(function), error)) return false;
        const int64_t mapped = channel_.map(hypercall::kIoreqMapPciDevice, slot, 0);
        if (mapped < 0) {
            error = "the hypervisor refused PCI device " + std::to_string(slot) + ": error " + std::to_string(mapped);
            return false;
        }
        slots_.push_back(slot);
        note("%s: mac %s on bridge %s", label, format_mac(nic.mac).c_str(), nic.bridge.c_str());
        nics_.push_back({device, std::move(tap)});
        return true;
    }

    // The whole PCI hole below the I/O APIC is forwarded, wherever the guest puts the BARs.
    bool map_hole(std::string& error) {
        const int64_t mapped =
            channel_.map(hypercall::kIoreqMapMmio, kGuestMmioHoleStart, kGuestIoApicBase - kGuestMmioHoleStart);
        if (mapped < 0) error = "the hypervisor refused the PCI hole: error " + std::to_string(mapped);
        return mapped >= 0;
    }

    void serve_forever() {
        for (;;) {
            wait_for_work();
            const uint64_t rung = channel_.take_doorbells();
            for (uint64_t bits = rung; bits; bits &= bits - 1) {
                const unsigned bit = unsigned(__builtin_ctzll(bits));
                if (bit < doorbells_.size())
                    if (VirtioPciFunction* f = machine_.function(doorbells_[bit].slot))
                        f->ring_doorbell(doorbells_[bit].queue);
            }
            const unsigned served = channel_.serve([&](hypercall::IoreqSlot& s) { serve(s); });
            bool received = false;
            for (Nic& n : nics_)
                if (n.readable) {
                    n.device->frames_ready();
                    received = true;
                }
            balloon_.follow_target();
            if (!rung && !served && !received && !domain_alive()) return;
        }
    }

private:
    struct Nic {
        VirtioNet* device;
        std::unique_ptr<TapPort> tap;
        bool readable = false;
    };

    // Until a request, a doorbell or (for a NIC whose driver has buffers posted) a frame
    // is there, or the idle check is due.
    void wait_for_work() {
        std::vector<pollfd> fds;
        fds.push_back({channel_.fd(), POLLIN, 0});
        for (Nic& n : nics_) {
            n.readable = false;
            const bool wanted = !n.tap->broken() && n.device->wants_frames();
            fds.push_back({wanted ? n.tap->fd() : -1, POLLIN, 0});
        }
        if (poll(fds.data(), fds.size(), kIdleCheckMs) <= 0) return;
        for (size_t i = 0; i < nics_.size(); ++i) nics_[i].readable = (fds[i + 1].revents & (POLLIN | POLLERR)) != 0;
    }

    void serve(hypercall::IoreqSlot& s) {
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
            machine_.mmio_write(s.address, size, s.data);
        } else {
            s.data = machine_.mmio_read(s.address, size);
        }
    }

    // After a configuration write (a BAR moved, memory decoding switched): the doorbells
    // the hypervisor posts follow the enabled BARs.
    void update_doorbells() {
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
                note("doorbells of 00:%02x.0 at %#llx not posted (error %lld): its notifications make round trips",
                     slot, (unsigned long long)r.gpa, (long long)first);
                continue;
            }
            doorbells_.resize(size_t(first));
            for (uint32_t q = 0; q < r.length / r.multiplier; ++q) doorbells_.push_back({slot, uint16_t(q)});
            registered_.push_back({slot, r});
        }
    }

    bool domain_alive() {
        hypercall::DomainStatus status{};
        return channel_.status(domain_, status) != hypercall::kErrorNoSuchDomain;
    }

    uint32_t domain_;
    IoreqChannel& channel_;
    ForeignMapcache& memory_;
    HypervisorMsi msi_;
    DeviceMachine machine_;
    std::vector<unsigned> slots_;
    std::vector<Nic> nics_;
    BalloonBackend balloon_;
    std::vector<Doorbell> doorbells_;
    std::vector<std::pair<unsigned, VirtioPciFunction::NotifyRegion>> registered_;
};

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    uint32_t domain = 0;
    bool have_domain = false;
    std::vector<DiskArg> disks;
    std::vector<NicArg> nics;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--domain" && i + 1 < argc) {
            domain = uint32_t(strtoul(argv[++i], nullptr, 10));
            have_domain = true;
        } else if (a == "--name" && i + 1 < argc) {
            g_name = argv[++i];
        } else if (a == "--nic" && i + 1 < argc) {
            NicArg n;
            if (!parse_nic(argv[++i], n)) {
                note("--nic '%s' is not BRIDGE,MAC", argv[i]);
                return 2;
            }
            nics.push_back(n);
        } else if (a == "--disk" && i + 1 < argc) {
            DiskArg d;
            if (!parse_disk(argv[++i], d)) {
                note("--disk '%s' is not rw|ro,FORMAT,PATH", argv[i]);
                return 2;
            }
            disks.push_back(d);
        } else {
            fprintf(stderr,
                    "usage: vireo-dm --domain ID --name NAME [--disk rw|ro,FORMAT,PATH ...] [--nic BRIDGE,MAC ...]\n");
            return 2;
        }
    }
    if (!have_domain) {
        fprintf(stderr,
                "usage: vireo-dm --domain ID --name NAME [--disk rw|ro,FORMAT,PATH ...] [--nic BRIDGE,MAC ...]\n");
        return 2;
    }
    IoreqChannel channel;
    std::string error;
    if (!channel.attach(domain, error)) {
        note("%s", error.c_str());
        return 1;
    }
    hypercall::DomainStatus status{};
    if (channel.status(domain, status) != 0) {
        note("the domain's status cannot be read");
        return 1;
    }
    // Its own file for the foreign mappings (the attached one maps the request page).
    const int map_fd = open("/dev/vireo", O_RDWR | O_CLOEXEC);
    if (map_fd < 0) {
        note("/dev/vireo: %s", strerror(errno));
        return 1;
    }
    ForeignMapcache memory(map_fd, domain, status.memory_bytes);
    DeviceModel model(domain, channel, memory, status.memory_bytes);
    if (!model.map_hole(error)) {
        note("%s", error.c_str());
        return 1;
    }
    for (size_t i = 0; i < disks.size(); ++i)
        if (!model.add_disk(disks[i], unsigned(i), error)) {
            note("%s", error.c_str());
            return 1;
        }
    for (size_t i = 0; i < nics.size(); ++i)
        if (!model.add_nic(nics[i], unsigned(i), error)) {
            note("%s", error.c_str());
            return 1;
        }
    if (!model.add_balloon(error)) {
        note("%s", error.c_str());
        return 1;
    }
    if (write(3, "ready\n", 6) == 6) close(3);
    note("serving domain %u", domain);
    model.serve_forever();
    note("domain %u is gone; exiting", domain);
    return 0;
}
