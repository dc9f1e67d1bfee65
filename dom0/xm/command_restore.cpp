// restore [-p] FILE (xl restore): a domain from a save image (docs/save-format.md),
// created paused, given its RAM, vCPUs, virtual PC devices and device model state, and
// then let run (-p: left paused); not on a CPU that lacks a feature the domain was given.
// A damaged, truncated or newer file creates nothing (dom0/xm/image_restore.hpp).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dom0/xm/image_restore.hpp"
#include "dom0/xm/save_file.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

int cmd_restore(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "restore", {{"-p", "paused"}}, options, error)) return fail(error);
    if (options.rest.size() != 1) return fail("usage: xm restore [-p] FILE");
    const std::string& path = options.rest[0];
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("restore: cannot read " + path + ": " + strerror(errno));
    const double started = monotonic_seconds();
    FdSource in(fd);
    // An interrupt waits until a half-made domain is destroyed (ImageRestore's destructor,
    // which runs first).
    const HeldSignals held;
    ImageRestore restore(control, path);
    bool ok = restore.read(in, true);
    close(fd);
    if (!ok) {
        const std::string why = in.error().empty() ? restore.error() : "reading failed: " + in.error();
        return fail("restore " + path + ": " + why);
    }
    if (!restore.finish(options.has("paused"))) return fail("restore " + path + ": " + restore.error());
    printf("Restored domain %s (id=%u) from %s: %llu MiB of RAM in %.1f s%s\n", restore.config().name.c_str(),
           restore.id(), path.c_str(), (unsigned long long)(restore.memory_bytes() >> 20),
           monotonic_seconds() - started, options.has("paused") ? ", paused" : "");
    return 0;
}

}  // namespace xm
