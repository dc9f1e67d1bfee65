#include "dom0/devmodel/console_link.hpp"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dom0/common/device_model_holdings.hpp"

namespace devmodel {

namespace {

// What the signal handler needs, in static storage (it may call only async-signal-safe
// functions: signal-safety(7) lists readlink and unlink).
char g_path[256];
char g_target[256];

void remove_link() {
    if (g_path[0] == 0) return;
    char now[sizeof(g_target)];
    const ssize_t n = readlink(g_path, now, sizeof(now) - 1);
    if (n >= 0) {
        now[n] = 0;
        if (strcmp(now, g_target) == 0) unlink(g_path);
    }
}

void on_signal(int signal_number) {
    remove_link();
    // Ends as the signal would have ended it.
    ::signal(signal_number, SIG_DFL);
    raise(signal_number);
}

}  // namespace

bool ConsoleLink::make(const std::string& path, const std::string& target, std::string& error) {
    if (path.size() >= sizeof(g_path) - 8 || target.size() >= sizeof(g_target)) {
        error = path + ": name too long";
        return false;
    }
    mkdir("/run", 0755);
    mkdir(kDirectory, 0755);
    const std::string temporary = path + ".new";
    unlink(temporary.c_str());
    if (symlink(target.c_str(), temporary.c_str()) != 0 || rename(temporary.c_str(), path.c_str()) != 0) {
        error = path + ": " + strerror(errno);
        unlink(temporary.c_str());
        return false;
    }
    snprintf(g_path, sizeof(g_path), "%s", path.c_str());
    snprintf(g_target, sizeof(g_target), "%s", target.c_str());
    for (const int s : {SIGTERM, SIGINT, SIGHUP}) ::signal(s, on_signal);
    dom0::holdings_note({dom0::Holding::Kind::Link, path, target, 0});
    return true;
}

bool ConsoleLink::move(const std::string& path, std::string& error) {
    if (g_path[0] == 0) {
        error = "no console link to move";
        return false;
    }
    if (path.size() >= sizeof(g_path) - 8) {
        error = path + ": name too long";
        return false;
    }
    if (path == g_path) return true;
    // A new link first, then the old one goes: `xm console -t pv` finds it under one name
    // or the other all along.
    const std::string temporary = path + ".new";
    unlink(temporary.c_str());
    if (symlink(g_target, temporary.c_str()) != 0 || rename(temporary.c_str(), path.c_str()) != 0) {
        error = path + ": " + strerror(errno);
        unlink(temporary.c_str());
        return false;
    }
    dom0::holdings_note({dom0::Holding::Kind::Link, path, g_target, 0});
    remove_link();
    // Blocking the handlers' signals while the name changes: a handler between the two
    // copies would remove a half-written path.
    sigset_t block, old;
    sigemptyset(&block);
    for (const int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&block, s);
    sigprocmask(SIG_BLOCK, &block, &old);
    snprintf(g_path, sizeof(g_path), "%s", path.c_str());
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return true;
}

ConsoleLink::~ConsoleLink() {
    remove_link();
    g_path[0] = 0;
}

}  // namespace devmodel
