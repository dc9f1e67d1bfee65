#include "dom0/devmodel/qemu_nbd_disk.hpp"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "dom0/common/device_model_holdings.hpp"

namespace devmodel {
namespace {

// Serialises picking a free NBD device between the device models of several domUs.
constexpr const char* kLockFile = "/run/vireo/nbd.lock";
// How long a disconnected qemu-nbd may take to flush the image and exit.
constexpr int kServerExitSeconds = 60;
// How long a connected device may take to show its server (wait_for_server).
constexpr int kServerStartSeconds = 30;

// Runs `argv` with its output in `output`; its exit status, or -1 when it could not run.
// The output goes to a memory file, not a pipe: `qemu-nbd --connect` leaves a daemon
// behind that keeps the stderr it was given open, so a pipe would never reach its end.
int run_command(const std::vector<std::string>& argv, std::string& output) {
    const int out = memfd_create("vireo-dm-command", MFD_CLOEXEC);
    if (out < 0) return -1;
    const pid_t pid = fork();
    if (pid < 0) {
        close(out);
        return -1;
    }
    if (pid == 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        const int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, STDIN_FILENO);
        std::vector<char*> args;
        args.reserve(argv.size() + 1);
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        dprintf(STDERR_FILENO, "%s: %s", args[0], strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    char buf[1024];
    ssize_t n;
    off_t at = 0;
    while ((n = pread(out, buf, sizeof(buf), at)) > 0 && output.size() < 4096) {
        output.append(buf, size_t(n));
        at += n;
    }
    close(out);
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// The pid the nbd driver shows for a connected device (the thread qemu-nbd serves it
// from), or 0 when the device is free.
pid_t server_of(const std::string& name) { return dom0::nbd_device_server("/dev/" + name); }

// The device's size in 512-byte sectors as the block layer shows it (0 until it is set).
unsigned long long sectors_of(const std::string& name) {
    const int fd = open(("/sys/block/" + name + "/size").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[32] = {};
    const ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 ? strtoull(buf, nullptr, 10) : 0;
}

// `qemu-nbd --connect` reports success from its daemon before that daemon's thread asks
// the kernel to serve the device (NBD_DO_IT), which is when the pid shows: wait for it.
// The kernel sets the device's size only after that (Linux's drivers/block/nbd.c,
// nbd_start_device: the pid first, then nbd_set_size), so wait for a size too: a device
// opened in between reads as 0 sectors, and the domU would get an empty disk. An image
// of 0 bytes stays at 0: after the wait, its server is taken as it is.
pid_t wait_for_server(const std::string& name) {
    pid_t server = 0;
    for (int i = 0; i < kServerStartSeconds * 10; ++i) {
        server = server_of(name);
        if (server && sectors_of(name) != 0) return server;
        const timespec tenth = {0, 100L * 1000 * 1000};
        nanosleep(&tenth, nullptr);
    }
    return server_of(name);
}

}  // namespace

std::unique_ptr<QemuNbdDisk> QemuNbdDisk::connect(const std::string& image, const std::string& format, bool read_only,
                                                  std::string& error) {
    if (!exists("/sys/block/nbd0")) {
        error = "no /dev/nbd devices in Domain-0 (its nbd module is not loaded): a " + format +
                " image needs one for qemu-nbd";
        return nullptr;
    }
    mkdir("/run/vireo", 0755);
    const int lock = open(kLockFile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        error = std::string(kLockFile) + ": " + strerror(errno);
        if (lock >= 0) close(lock);
        return nullptr;
    }
    std::string name;
    for (unsigned i = 0; exists("/sys/block/nbd" + std::to_string(i)); ++i) {
        if (server_of("nbd" + std::to_string(i)) == 0) {
            name = "nbd" + std::to_string(i);
            break;
        }
    }
    std::unique_ptr<QemuNbdDisk> disk;
    if (name.empty()) {
        error = "every /dev/nbd device of Domain-0 is in use";
    } else {
        std::vector<std::string> argv = {"qemu-nbd", "--connect=/dev/" + name, "--format=" + format};
        if (read_only) argv.push_back("--read-only");
        argv.push_back(image);
        std::string output;
        const int status = run_command(argv, output);
        const pid_t server = status == 0 ? wait_for_server(name) : 0;
        if (status == 0 && server == 0) {
            std::string ignored;
            run_command({"qemu-nbd", "--disconnect", "/dev/" + name}, ignored);
            output = "qemu-nbd connected /dev/" + name + " but its server did not show within " +
                     std::to_string(kServerStartSeconds) + " s";
        }
        if (status == 127 || status < 0) {
            error = "qemu-nbd (Debian's qemu-utils) does not run in this Domain-0: " + output;
        } else if (status != 0 || server == 0) {
            error = "qemu-nbd cannot serve " + image + " as " + format + ": " +
                    (output.empty() ? "exit status " + std::to_string(status) : output);
        } else {
            disk.reset(new QemuNbdDisk("/dev/" + name, server));
            dom0::holdings_note({dom0::Holding::Kind::Nbd, "/dev/" + name, "", server});
        }
    }
    flock(lock, LOCK_UN);
    close(lock);
    return disk;
}

QemuNbdDisk::~QemuNbdDisk() {
    std::string output;
    run_command({"qemu-nbd", "--disconnect", device_}, output);
    // The server flushes the image and exits once disconnected; wait for that, polling
    // (it is not our child: qemu-nbd daemonised it).
    const std::string proc = "/proc/" + std::to_string(server_);
    for (int i = 0; i < kServerExitSeconds * 10 && exists(proc); ++i) {
        const timespec tenth = {0, 100L * 1000 * 1000};
        nanosleep(&tenth, nullptr);
    }
}

}  // namespace devmodel
