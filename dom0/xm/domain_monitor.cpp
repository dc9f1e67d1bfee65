#include "dom0/xm/domain_monitor.hpp"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "dom0/common/device_model_holdings.hpp"
#include "dom0/xm/control_client.hpp"
#include "dom0/xm/device_model_launch.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;

namespace {

constexpr const char* kLogDirectory = "/var/log/vireo";

void note(const char* format, ...) __attribute__((format(printf, 1, 2)));
void note(const char* format, ...) {
    const time_t now = time(nullptr);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
    fprintf(stderr, "%s ", stamp);
    va_list args;
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

const char* reason_name(const DomainStatus& s) {
    if (s.state == kStateCrashed || s.shutdown_reason == kReasonCrash) return "crash";
    if (s.shutdown_reason == kReasonReboot) return "reboot";
    return "poweroff";
}

EndAction action_for(const DomainStatus& s, const XlConfig& config) {
    if (s.state == kStateCrashed || s.shutdown_reason == kReasonCrash) return config.on_crash;
    if (s.shutdown_reason == kReasonReboot) return config.on_reboot;
    return config.on_poweroff;
}

// What a device model killed outright left of domain ID (its own runs on, or ended
// cleanly: nothing).
void release_holdings(uint32_t id) {
    for (const std::string& line : dom0::release_orphaned_holdings(id)) note("%s", line.c_str());
}

// The monitor's loop; returns when there is nothing left to watch.
void watch(uint32_t id, const XlConfig& config, const std::vector<uint8_t>& kernel,
           const std::vector<uint8_t>& initrd) {
    ControlClient control;
    DeviceStream events;
    std::string error;
    if (!control.ok() || !events.attach_events(error)) {
        note("cannot watch domain %u: %s", id, control.ok() ? error.c_str() : control.error().c_str());
        return;
    }
    note("watching %s (%u): on_poweroff=%s on_reboot=%s on_crash=%s", config.name.c_str(), id,
         end_action_name(config.on_poweroff), end_action_name(config.on_reboot), end_action_name(config.on_crash));
    for (;;) {
        events.wait_event(-1);
        DomainStatus s;
        int64_t result;
        if (!control.status(id, s, result)) {
            note("%s (%u) was destroyed", config.name.c_str(), id);
            // Whoever destroyed it lets go of what a killed device model left (xm destroy
            // does, and says so).
            forget_domain_config(id);
            return;
        }
        if (s.state != kStateShutdown && s.state != kStateCrashed) continue;
        const EndAction action = action_for(s, config);
        note("%s (%u) ended: %s (exit code %lld); %s", config.name.c_str(), id, reason_name(s), (long long)s.exit_code,
             end_action_name(action));
        if (action == EndAction::Preserve) return;
        forget_domain_config(id);
        const int64_t destroyed = control.call(kDomainDestroy, id);
        if (destroyed < 0 && destroyed != kErrorNoSuchDomain) {
            note("destroying %s (%u) failed: %s", config.name.c_str(), id, error_text(destroyed).c_str());
            return;
        }
        release_holdings(id);
        if (action == EndAction::Destroy) return;
        BuiltDomain built;
        if (!create_domain_with_devices(control, config, kernel, initrd, built, error)) {
            note("restarting %s failed: %s", config.name.c_str(), error.c_str());
            return;
        }
        note("restarted %s as domain %u", config.name.c_str(), built.id);
        id = built.id;
    }
}

// Where the monitor writes: its log file, or nowhere.
int open_log(const std::string& name) {
    mkdir("/var", 0755);  // a fresh root file system (an initramfs) may have none of them
    mkdir("/var/log", 0755);
    mkdir(kLogDirectory, 0755);
    const std::string path = std::string(kLogDirectory) + "/xm-" + name + ".log";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    return fd >= 0 ? fd : open("/dev/null", O_WRONLY | O_CLOEXEC);
}

}  // namespace

bool start_domain_monitor(uint32_t id, const XlConfig& config, const std::vector<uint8_t>& kernel,
                          const std::vector<uint8_t>& initrd) {
    fflush(nullptr);
    // Twice, as a daemon does: the first child starts a session and leaves at once, so
    // that the monitor belongs to init, not to this shell (nor is a zombie of ours).
    const pid_t child = fork();
    if (child < 0) return false;
    if (child > 0) {
        int status = 0;
        pid_t waited;
        do waited = waitpid(child, &status, 0);
        while (waited < 0 && errno == EINTR);
        return waited == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    setsid();
    const pid_t monitor = fork();
    if (monitor != 0) _exit(monitor < 0 ? 1 : 0);
    const int log = open_log(config.name);
    const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) dup2(null, STDIN_FILENO);
    if (log >= 0) {
        dup2(log, STDOUT_FILENO);
        dup2(log, STDERR_FILENO);
    }
    // Nothing else of the xm that started it: a fork keeps every file open (close-on-exec
    // acts at an exec only), and a monitor outlives its xm by far. A migration's
    // connection, or the writing end of a shell's FIFO, held on in it would not end when
    // their owners close them.
    close_range(3, ~0u, 0);
    [[maybe_unused]] const int in_root = chdir("/");  // holds no mount point busy
    watch(id, config, kernel, initrd);
    fflush(nullptr);
    _exit(0);
}

}  // namespace xm
