// The name under which Domain-0 finds a domU's console pty: a symbolic link
// /run/vireo/NAME.hvc0 -> /dev/pts/N (`xm console -t pv NAME` opens it), made when the
// device model starts serving and removed when it exits, normally or by SIGTERM, SIGINT
// or SIGHUP. A link left by a device model that was killed outright (SIGKILL) points at
// a pty that is gone, or at another pty: the next device model of that name replaces it.
//
// A link is removed only while it still points at its own pty, so that a device model
// that ends late never removes the link of the next domain of the same name.
#pragma once

#include <string>

namespace devmodel {

class ConsoleLink {
public:
    // Makes `path` point at `target` (replacing whatever was there, atomically) and
    // arranges its removal. False with `error`. One link per process.
    bool make(const std::string& path, const std::string& target, std::string& error);
    // The link made goes to `path` (its domain was renamed). False with `error`, the link
    // where it was.
    bool move(const std::string& path, std::string& error);
    ~ConsoleLink();

    static constexpr const char* kDirectory = "/run/vireo";
};

}  // namespace devmodel
