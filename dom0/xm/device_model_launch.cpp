#include "dom0/xm/device_model_launch.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

namespace {

constexpr const char* kDeviceModelName = "vireo-dm";
constexpr const char* kLogDirectory = "/var/log/vireo";
constexpr int kReadyTimeoutMs = 60000;

std::string log_path(const std::string& name) { return std::string(kLogDirectory) + "/dm-" + name + ".log"; }

// The last line of its log: why it did not start.
std::string last_log_line(const std::string& name) {
    const int fd = open(log_path(name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) text.append(buffer, size_t(n));
    close(fd);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    const size_t newline = text.rfind('\n');
    return newline == std::string::npos ? text : text.substr(newline + 1);
}

// vireo-dm is installed beside xm (/bin in the initramfs, /usr/local/bin on Domain-0's
// Debian root filesystem), as xl finds its helpers in its own installation.
std::string device_model_path() {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return std::string("/bin/") + kDeviceModelName;
    std::string path(self, size_t(n));
    return path.substr(0, path.rfind('/') + 1) + kDeviceModelName;
}

}  // namespace

bool start_device_model(uint32_t id, const XlConfig& config, std::string& error,
                        const std::string& restore_state_path) {
    if (config.disks.empty() && config.vifs.empty()) return true;
    const std::string device_model = device_model_path();
    std::vector<std::string> args = {device_model, "--domain", std::to_string(id), "--name", config.name};
    for (const DiskSpec& d : config.disks) {
        args.push_back("--disk");
        args.push_back(std::string(d.read_only ? "ro" : "rw") + "," + d.format + "," + d.target);
    }
    XlConfig with_macs = config;
    assign_vif_macs(with_macs, id);
    for (const VifSpec& v : with_macs.vifs) {
        const uint8_t* mac = v.mac;
        char text[64];
        snprintf(text, sizeof(text), "%s,%02x:%02x:%02x:%02x:%02x:%02x", v.bridge.c_str(), mac[0], mac[1], mac[2],
                 mac[3], mac[4], mac[5]);
        args.push_back("--nic");
        args.push_back(text);
    }
    if (!restore_state_path.empty()) {
        args.push_back("--restore-state");
        args.push_back(restore_state_path);
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        error = std::string("device model: pipe: ") + strerror(errno);
        return false;
    }
    const pid_t child = fork();
    if (child < 0) {
        error = std::string("device model: fork: ") + strerror(errno);
        close(ready[0]);
        close(ready[1]);
        return false;
    }
    if (child == 0) {
        // It outlives xm, as a daemon: the first child starts a session and leaves at
        // once, so that the device model belongs to init. Its readiness goes to fd 3, its
        // log to /var/log/vireo/dm-NAME.log.
        setsid();
        if (fork() != 0) _exit(0);
        mkdir("/var", 0755);
        mkdir("/var/log", 0755);
        mkdir(kLogDirectory, 0755);
        const int null = open("/dev/null", O_RDWR);
        const int log = open(log_path(config.name).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null >= 0) dup2(null, 0), dup2(null, 1);
        if (log >= 0) dup2(log, 2);
        dup2(ready[1], 3);
        // Nothing else of xm's: files it inherited without close-on-exec (a shell's FIFO,
        // say) would stay open for as long as the device model runs.
        close_range(4, ~0u, 0);
        std::vector<char*> argv;
        argv.reserve(args.size() + 1);
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(device_model.c_str(), argv.data());
        dprintf(2, "xm: %s: %s\n", device_model.c_str(), strerror(errno));
        _exit(127);
    }
    close(ready[1]);
    int status = 0;
    waitpid(child, &status, 0);
    // It writes "ready" once it serves the domain, or exits with its reason on stderr.
    std::string said;
    pollfd p{ready[0], POLLIN, 0};
    while (said.find('\n') == std::string::npos) {
        const int n = poll(&p, 1, kReadyTimeoutMs);
        if (n <= 0) break;
        char buffer[64];
        const ssize_t got = read(ready[0], buffer, sizeof(buffer));
        if (got <= 0) break;
        said.append(buffer, size_t(got));
    }
    close(ready[0]);
    if (said.rfind("ready\n", 0) == 0) return true;
    const std::string why = last_log_line(config.name);
    error = "its device model did not start" + (why.empty() ? std::string() : ": " + why);
    return false;
}

bool create_domain_with_devices(ControlClient& control, const XlConfig& config, const std::vector<uint8_t>& kernel,
                                const std::vector<uint8_t>& initrd, BuiltDomain& built, std::string& error) {
    XlConfig build = config;
    build.start_paused = true;
    if (!create_linux_domain(control, build, kernel, initrd, built, error)) return false;
    // Its config as xm save will find it, the NICs' MACs made final.
    XlConfig recorded = config;
    assign_vif_macs(recorded, built.id);
    recorded.start_paused = false;
    if (!record_domain_config(built.id, recorded, error) || !start_device_model(built.id, config, error)) {
        control.call(hypercall::kDomainDestroy, built.id);
        forget_domain_config(built.id);
        return false;
    }
    if (config.start_paused) return true;
    const int64_t run = control.call(hypercall::kDomainUnpause, built.id);
    if (run < 0) {
        control.call(hypercall::kDomainDestroy, built.id);
        forget_domain_config(built.id);
        error = "it could not be started: " + error_text(run);
        return false;
    }
    return true;
}

}  // namespace xm
