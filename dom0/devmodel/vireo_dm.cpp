// vireo-dm: the device model of one domU, in Domain-0 (xm create starts it:
// dom0/xm/device_model_launch.cpp). It attaches to the domain before the domain first
// runs, puts a virtio PCI function on the domain's bus 0 for each disk and NIC, a
// console (on a pty, linked as /run/vireo/NAME.hvc0) and a balloon, and serves the
// accesses the hypervisor forwards (kernel/ioreq/ioreq_server.hpp) until the domain is
// destroyed (device_model.hpp). This file is its command line. Its log lines go to
// stderr as "vireo-dm NAME: ...".
//
//   vireo-dm --domain ID --name NAME [--disk rw|ro,FORMAT,PATH ...] [--nic BRIDGE,MAC ...]
//            [--restore-state FILE]
//
// --restore-state (xm restore): once every device is added, the devices take the state
// in FILE, a DeviceMachine::save blob (the save image's devices section,
// docs/save-format.md), and serve on from it; a state they refuse ends vireo-dm with the
// reason as its last log line. It says "ready" on file descriptor 3 once it serves the
// domain (xm then starts it), and serves xm's commands (save, continue) on
// /run/vireo/dm-ID.sock (control_protocol.hpp) from then on.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "dom0/common/device_model_holdings.hpp"
#include "dom0/devmodel/control_protocol.hpp"
#include "dom0/devmodel/device_model.hpp"
#include "dom0/devmodel/foreign_mapcache.hpp"
#include "dom0/devmodel/ioreq_channel.hpp"
#include "dom0/devmodel/virtio_net.hpp"

namespace {

using namespace devmodel;

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

constexpr const char* kUsage =
    "usage: vireo-dm --domain ID --name NAME [--disk rw|ro,FORMAT,PATH ...] [--nic BRIDGE,MAC ...] "
    "[--restore-state FILE]\n";

// The whole of a state file, up to the largest state there is.
bool read_state(const std::string& path, std::vector<uint8_t>& out, std::string& error) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = path + ": " + strerror(errno);
        return false;
    }
    out.clear();
    uint8_t buffer[65536];
    ssize_t n = 0;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0 && out.size() <= control::kMaxState)
        out.insert(out.end(), buffer, buffer + n);
    const int read_errno = errno;
    close(fd);
    if (n < 0) {
        error = path + ": " + strerror(read_errno);
        return false;
    }
    if (out.size() > control::kMaxState) {
        error = path + ": more than " + std::to_string(control::kMaxState) + " bytes: not a device state";
        return false;
    }
    return true;
}

bool parse_disk(const std::string& text, DiskArg& out) {
    const size_t a = text.find(','), b = a == std::string::npos ? a : text.find(',', a + 1);
    if (b == std::string::npos) return false;
    const std::string access = text.substr(0, a);
    out.format = text.substr(a + 1, b - a - 1);
    out.path = text.substr(b + 1);
    out.read_only = access == "ro";
    return (access == "ro" || access == "rw") && !out.path.empty();
}

bool parse_nic(const std::string& text, NicArg& out) {
    const size_t comma = text.find(',');
    if (comma == std::string::npos || comma == 0) return false;
    out.bridge = text.substr(0, comma);
    const std::optional<MacAddress> mac = parse_mac(text.substr(comma + 1));
    if (!mac) return false;
    out.mac = *mac;
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    uint32_t domain = 0;
    bool have_domain = false;
    std::vector<DiskArg> disks;
    std::vector<NicArg> nics;
    std::string restore_state;
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
        } else if (a == "--restore-state" && i + 1 < argc) {
            restore_state = argv[++i];
        } else {
            fputs(kUsage, stderr);
            return 2;
        }
    }
    if (!have_domain) {
        fputs(kUsage, stderr);
        return 2;
    }
    IoreqChannel channel;
    std::string error;
    if (!channel.attach(domain, error)) {
        note("%s", error.c_str());
        return 1;
    }
    // What it takes outside itself is written down (/run/vireo/dm-ID.holds), for xm to
    // let go of should it be killed outright; the record goes at its clean end, after
    // everything below (declared later) has let go of its part.
    if (!dom0::holdings_begin(domain, error)) note("cannot record what it holds: %s", error.c_str());
    struct HoldingsEnd {
        ~HoldingsEnd() { dom0::holdings_end(); }
    } holdings_end;
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
    ForeignMapcache memory(map_fd, domain, status.memory_bytes,
                           [](const std::string& line) { note("%s", line.c_str()); });
    DeviceModel model(domain, channel, memory, status.memory_bytes,
                      [](const std::string& line) { note("%s", line.c_str()); });
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
    if (!model.add_console(g_name, error)) {
        note("%s", error.c_str());
        return 1;
    }
    if (!model.add_balloon(error)) {
        note("%s", error.c_str());
        return 1;
    }
    if (!restore_state.empty()) {
        std::vector<uint8_t> blob;
        if (!read_state(restore_state, blob, error) || !model.restore_state(blob, error)) {
            note("the devices' saved state: %s", error.c_str());
            return 1;
        }
    }
    // Before "ready": a domain with a device model always has its control socket, so
    // that xm never takes a device model it cannot reach for one without devices.
    if (!model.listen_for_control(control::socket_path(domain), error)) {
        note("%s", error.c_str());
        return 1;
    }
    if (write(3, "ready\n", 6) == 6) close(3);
    note("serving domain %u", domain);
    model.serve_forever();
    note("domain %u is gone; exiting", domain);
    return 0;
}
