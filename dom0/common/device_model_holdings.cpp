#include "dom0/common/device_model_holdings.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/nbd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dom0 {

namespace {

constexpr const char* kDirectory = "/run/vireo";

// vireo-dm's record, open for appending (-1: none begun).
int g_record = -1;
std::string g_record_path;

bool parse_pid(const std::string& text, pid_t& out) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
    out = pid_t(strtol(text.c_str(), nullptr, 10));
    return out > 0;
}

std::vector<std::string> words_of(const std::string& line) {
    std::vector<std::string> words;
    for (size_t at = 0; at < line.size();) {
        const size_t space = line.find(' ', at) == std::string::npos ? line.size() : line.find(' ', at);
        if (space > at) words.push_back(line.substr(at, space - at));
        at = space + 1;
    }
    return words;
}

bool write_all(int fd, const std::string& text) {
    for (size_t done = 0; done < text.size();) {
        const ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += size_t(n);
    }
    return true;
}

class LinuxHoldingsSystem final : public HoldingsSystem {
public:
    bool alive(pid_t pid) override { return kill(pid, 0) == 0 || errno == EPERM; }

    bool read_file(const std::string& path, std::string& text) override {
        const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return false;
        text.clear();
        char buffer[4096];
        ssize_t n;
        // A record is a few lines; one far longer is not one, and is read no further.
        while ((n = read(fd, buffer, sizeof(buffer))) > 0 && text.size() < 65536) text.append(buffer, size_t(n));
        close(fd);
        return n >= 0 || !text.empty();
    }

    void remove_file(const std::string& path) override { unlink(path.c_str()); }

    pid_t nbd_server(const std::string& device) override { return nbd_device_server(device); }

    bool nbd_disconnect(const std::string& device, std::string& error) override {
        // What `qemu-nbd --disconnect` does (Linux's Documentation/admin-guide/blockdev/
        // nbd.rst; include/uapi/linux/nbd.h): the driver tells the server, which flushes
        // the image and exits.
        const int fd = open(device.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            error = device + ": " + strerror(errno);
            return false;
        }
        ioctl(fd, NBD_CLEAR_QUE);
        const bool ok = ioctl(fd, NBD_DISCONNECT) == 0;
        if (!ok) error = device + ": " + strerror(errno);
        ioctl(fd, NBD_CLEAR_SOCK);
        close(fd);
        return ok;
    }

    bool link_target(const std::string& path, std::string& target) override {
        char buffer[512];
        const ssize_t n = readlink(path.c_str(), buffer, sizeof(buffer) - 1);
        if (n < 0) return false;
        target.assign(buffer, size_t(n));
        return true;
    }

    bool is_socket(const std::string& path) override {
        struct stat s {};
        return lstat(path.c_str(), &s) == 0 && S_ISSOCK(s.st_mode);
    }
};

}  // namespace

HoldingsRecord parse_holdings(const std::string& text) {
    HoldingsRecord record;
    for (size_t at = 0; at < text.size();) {
        const size_t end = text.find('\n', at) == std::string::npos ? text.size() : text.find('\n', at);
        const std::string line = text.substr(at, end - at);
        at = end + 1;
        const std::vector<std::string> w = words_of(line);
        if (w.empty()) continue;
        Holding h{};
        if (w[0] == "pid" && w.size() == 2 && parse_pid(w[1], record.owner)) continue;
        if (w[0] == "nbd" && w.size() == 3 && w[1].rfind("/dev/nbd", 0) == 0 && parse_pid(w[2], h.server)) {
            h.kind = Holding::Kind::Nbd;
            h.path = w[1];
        } else if (w[0] == "link" && w.size() == 3 && w[1][0] == '/') {
            h.kind = Holding::Kind::Link;
            h.path = w[1];
            h.target = w[2];
        } else if (w[0] == "socket" && w.size() == 2 && w[1][0] == '/') {
            h.kind = Holding::Kind::Socket;
            h.path = w[1];
        } else {
            record.bad_lines.push_back(line);
            continue;
        }
        record.holdings.push_back(h);
    }
    return record;
}

std::string holding_line(const Holding& h) {
    switch (h.kind) {
        case Holding::Kind::Nbd: return "nbd " + h.path + " " + std::to_string(h.server);
        case Holding::Kind::Link: return "link " + h.path + " " + h.target;
        case Holding::Kind::Socket: return "socket " + h.path;
    }
    return "";
}

std::string holdings_path(uint32_t domain) {
    return std::string(kDirectory) + "/dm-" + std::to_string(domain) + ".holds";
}

bool holdings_begin(uint32_t domain, std::string& error) {
    mkdir(kDirectory, 0755);
    g_record_path = holdings_path(domain);
    g_record = open(g_record_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (g_record < 0 || !write_all(g_record, "pid " + std::to_string(getpid()) + "\n")) {
        error = g_record_path + ": " + strerror(errno);
        if (g_record >= 0) close(g_record);
        g_record = -1;
        return false;
    }
    return true;
}

void holdings_note(const Holding& h) {
    if (g_record < 0) return;
    // One write per line (O_APPEND): a reader sees whole lines. Paths here are device,
    // pty and /run/vireo names, never with a space or a newline.
    write_all(g_record, holding_line(h) + "\n");
}

void holdings_end() {
    if (g_record < 0) return;
    close(g_record);
    g_record = -1;
    unlink(g_record_path.c_str());
}

pid_t nbd_device_server(const std::string& device) {
    // /dev/nbdN -> /sys/block/nbdN/pid, which the nbd driver shows while a server serves it.
    const std::string name = device.substr(device.rfind('/') + 1);
    std::string text;
    pid_t pid = 0;
    if (!host_holdings_system().read_file("/sys/block/" + name + "/pid", text)) return 0;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return parse_pid(text, pid) ? pid : 0;
}

HoldingsSystem& host_holdings_system() {
    static LinuxHoldingsSystem system;
    return system;
}

std::vector<std::string> release_orphaned_holdings(uint32_t domain, HoldingsSystem& system) {
    std::vector<std::string> said;
    const std::string path = holdings_path(domain);
    std::string text;
    if (!system.read_file(path, text)) return said;
    const HoldingsRecord record = parse_holdings(text);
    if (record.owner != 0 && system.alive(record.owner)) return said;
    const std::string whose = "the device model of domain " + std::to_string(domain);
    for (const std::string& line : record.bad_lines) {
        std::string sentence = path;
        sentence += ": a line not understood: ";
        sentence += line;
        said.push_back(sentence);
    }
    for (const Holding& h : record.holdings) {
        std::string error, target;
        switch (h.kind) {
            case Holding::Kind::Nbd:
                // Only while the server it started still serves it: another device model
                // may have connected the device since.
                if (system.nbd_server(h.path) != h.server) break;
                if (system.nbd_disconnect(h.path, error))
                    said.push_back(h.path + " disconnected (" + whose + " ended without letting go of it)");
                else
                    said.push_back("cannot disconnect " + h.path + ": " + error);
                break;
            case Holding::Kind::Link:
                if (!system.link_target(h.path, target) || target != h.target) break;
                system.remove_file(h.path);
                said.push_back(h.path + " removed (" + whose + "'s console link)");
                break;
            case Holding::Kind::Socket:
                if (!system.is_socket(h.path)) break;
                system.remove_file(h.path);
                said.push_back(h.path + " removed (" + whose + "'s control socket)");
                break;
        }
    }
    system.remove_file(path);
    return said;
}

}  // namespace dom0
