// save [-c] DOMAIN FILE (xl save): the domain as a save image (dom0/xm/save_image.hpp,
// docs/save-format.md): its config as xm recorded it, the CPU features it was given,
// every vCPU's state, the virtual PC's devices, its device model's virtio state and its
// RAM, all vendor-neutral. The domain is paused for the whole of it, so the image is one
// moment of it; then it is destroyed, or with -c runs on. A save that fails leaves no file
// and the domain as it was.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dom0/xm/device_model_control.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/domain_hold.hpp"
#include "dom0/xm/image_writer.hpp"
#include "dom0/xm/save_file.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

using namespace hypercall;

int cmd_save(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "save", {{"-c", "checkpoint"}}, options, error)) return fail(error);
    if (options.rest.size() != 2) return fail("usage: xm save [-c] DOMAIN FILE");
    const bool keep = options.has("checkpoint");
    const std::string& path = options.rest[1];
    SaveableDomain s;
    if (const int r = load_saveable_domain(control, options.rest[0], "save", s)) return r;
    const DomainStatus& d = s.status;
    const std::string who = "save " + domain_name(d);
    // To a regular file through one of its own, renamed over the file at the end: a save
    // that fails leaves an earlier image at that path as it was. A pipe or a device (xm
    // save DOMAIN /dev/stdout) is written as it is.
    struct stat target {};
    const bool regular = stat(path.c_str(), &target) != 0 || S_ISREG(target.st_mode);
    const std::string partial = regular ? path + ".partial" : path;
    const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(who + ": cannot write " + partial + ": " + strerror(errno));

    // From the pause to the end, an interrupt waits: the domain is never left paused, nor
    // its devices stopped, by a Ctrl-C.
    const HeldSignals held;
    const double started = monotonic_seconds();
    DomainHold paused(control, d);
    std::vector<uint8_t> devices;
    FdSink out(fd);
    ImageWriter writer(control, d, out);
    bool ok = paused.pause(error) && writer.header();
    // Its virtio queues stop with the save and stay stopped: the image holds them as they
    // are now.
    if (ok && s.has_device_model) ok = paused.stop_devices(devices, error);
    ok = ok && writer.config(s.config_text) && writer.domain(s.config) && writer.cpuid() && writer.vcpus() &&
         writer.platform() && (!s.has_device_model || writer.devices(devices)) && writer.memory(who) && writer.end();
    if (!ok && error.empty()) error = writer.error();
    if (ok && regular && fsync(fd) != 0) ok = false, error = std::string("writing failed: ") + strerror(errno);
    if (close(fd) != 0 && ok) ok = false, error = std::string("writing failed: ") + strerror(errno);
    if (ok && regular && rename(partial.c_str(), path.c_str()) != 0)
        ok = false, error = "cannot put the image at " + path + ": " + strerror(errno);
    const double took = monotonic_seconds() - started;
    if (!ok) {
        if (regular) unlink(partial.c_str());
        return fail(who + ": " + error);  // `paused` lets it go on as it was
    }
    if (!keep) {
        const int64_t destroyed = control.call(kDomainDestroy, d.id);
        if (destroyed < 0 && destroyed != kErrorNoSuchDomain)
            return fail(who + ": saved to " + path +
                        ", but destroying it failed (it runs on): " + error_text(destroyed));
        paused.gone();
        forget_domain_config(d.id);
    }
    printf("Saved domain %s (id %u) to %s: %llu MiB of RAM in %.1f s, %llu MiB written%s\n", d.name, d.id, path.c_str(),
           (unsigned long long)(d.memory_bytes >> 20), took, (unsigned long long)(writer.bytes() >> 20),
           keep ? "; it runs on" : "");
    return 0;
}

}  // namespace xm
