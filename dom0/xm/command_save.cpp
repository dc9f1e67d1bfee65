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
#include <time.h>
#include <unistd.h>

#include "dom0/xm/device_model_control.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/foreign_memory.hpp"
#include "dom0/xm/guest_ram_blocks.hpp"
#include "dom0/xm/save_file.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

using namespace hypercall;
namespace image = save_image;

namespace {

double seconds_now() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

void put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

// What a save writes, section by section; false with `error` at the first that fails.
class ImageWriter {
public:
    ImageWriter(ControlClient& control, const DomainStatus& d, FdSink& out) : control_(control), d_(d), out_(out) {}

    bool config(const std::string& text) { return section(image::kConfig, text.data(), text.size()); }

    // `flags`: domain_create's, as the domain was made (a restore makes it so again).
    bool domain(uint32_t flags) {
        image::DomainRecord r{};
        r.memory_bytes = d_.memory_bytes;
        r.vcpus = d_.vcpus;
        r.flags = flags;
        memcpy(r.name, d_.name, sizeof(r.name));
        r.name[sizeof(r.name) - 1] = 0;
        return section(image::kDomain, &r, sizeof(r));
    }

    // The CPU features the domain was given (cpuid_features.hpp), for a restore to check
    // its host against.
    bool cpuid() {
        CpuidSnapshot snapshot;
        std::string why;
        if (!read_domain_cpuid(control_, d_.id, snapshot, why)) return fail_with(why);
        const std::vector<uint8_t> payload = encode_cpuid_snapshot(snapshot);
        return section(image::kCpuid, payload.data(), payload.size());
    }

    bool vcpus() {
        std::vector<uint8_t> payload(8 + kVcpuStateSize);
        for (uint32_t v = 0; v < d_.vcpus; ++v) {
            put32(payload.data(), v);
            const int64_t n = control_.call_with_buffer(kVcpuGetState, 2, payload.data() + 8, kVcpuStateSize, d_.id, v,
                                                        0, kVcpuStateSize);
            if (n < 0) return fail_with("reading vCPU " + std::to_string(v) + "'s state failed: " + error_text(n));
            if (!section(image::kVcpu, payload.data(), 8 + uint64_t(n))) return false;
        }
        return true;
    }

    // The virtual PC's devices' state, read before the domain section, which says whether
    // it has them (`present` false: it has none).
    bool read_platform(std::vector<uint8_t>& blob, bool& present) {
        blob.resize(kPlatformStateMax);
        const int64_t n = control_.call_with_buffer(kDomainPlatformStateGet, 1, blob.data(), kPlatformStateMax, d_.id,
                                                    0, kPlatformStateMax);
        present = n != kErrorNotSupported;
        if (!present) return true;
        if (n < 0) return fail_with("reading its devices' state failed: " + error_text(n));
        blob.resize(size_t(n));
        return true;
    }

    bool platform(const std::vector<uint8_t>& blob) { return section(image::kPlatform, blob.data(), blob.size()); }

    bool devices(const std::vector<uint8_t>& blob) { return section(image::kDevices, blob.data(), blob.size()); }

    // Its RAM in chunks of 2 MiB, each read through a foreign mapping; progress on a
    // terminal every 64 MiB.
    bool memory() {
        ForeignGuestMemory ram(control_.device_fd(), d_.id, d_.memory_bytes);
        std::vector<uint8_t> chunk(size_t(image::kMaxChunkPages) * image::kPageBytes);
        const bool progress = isatty(STDERR_FILENO);
        uint64_t done = 0;
        for (const RamBlock& b : guest_ram_blocks(d_.memory_bytes)) {
            for (uint64_t at = 0; at < b.bytes; at += chunk.size()) {
                const uint64_t n = b.bytes - at < chunk.size() ? b.bytes - at : chunk.size();
                if (!ram.read(b.gpa + at, chunk.data(), size_t(n))) return fail_with(ram.failure());
                const std::vector<uint8_t> payload =
                    image::encode_memory(b.gpa + at, chunk.data(), uint32_t(n / image::kPageBytes));
                if (!section(image::kMemory, payload.data(), payload.size())) return false;
                pages_ += n / image::kPageBytes;
                done += n;
                if (progress && done % (uint64_t(64) << 20) == 0)
                    fprintf(stderr, "\rxm: save %s: %llu of %llu MiB", domain_name(d_).c_str(),
                            (unsigned long long)(done >> 20), (unsigned long long)(d_.memory_bytes >> 20));
            }
        }
        if (progress) fprintf(stderr, "\n");
        return true;
    }

    bool end() {
        uint8_t payload[8];
        for (int i = 0; i < 8; ++i) payload[i] = uint8_t(pages_ >> (8 * i));
        return section(image::kEnd, payload, sizeof(payload)) && flush();
    }

    const std::string& error() const { return error_; }

private:
    bool section(uint32_t type, const void* payload, uint64_t length) {
        if (image::write_section(out_, type, payload, length)) return true;
        return fail_with("writing failed: " + out_.error());
    }
    bool flush() { return out_.flush() || fail_with("writing failed: " + out_.error()); }
    bool fail_with(const std::string& why) {
        error_ = why;
        return false;
    }

    ControlClient& control_;
    const DomainStatus& d_;
    FdSink& out_;
    uint64_t pages_ = 0;
    std::string error_;
};

}  // namespace

int cmd_save(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "save", {{"-c", "checkpoint"}}, options, error)) return fail(error);
    if (options.rest.size() != 2) return fail("usage: xm save [-c] DOMAIN FILE");
    const bool keep = options.has("checkpoint");
    const std::string& path = options.rest[1];
    DomainStatus d;
    if (const int r = one_domain(control, Args{options.rest[0]}, "save", d)) return r;
    const std::string who = "save " + domain_name(d);
    if (d.id == 0) return fail("save: not Domain-0 itself");
    if (d.state != kStateRunning && d.state != kStateBlocked && d.state != kStatePaused)
        return fail(who + ": it has ended; there is nothing to save");
    XlConfig config;
    std::string config_text;
    if (!load_domain_config(d.id, config, config_text, error)) return fail(who + ": " + error);
    config.name = d.name;  // it may have been renamed since
    if (!format_xl_config(config, config_text, error)) return fail(who + ": " + error);
    // Pages its balloon gave back are no RAM of it now (docs/hypercalls.md, domain_balloon):
    // they can be neither read nor left out of an image that must lay out its memory whole.
    if (d.memory_bytes != config.memory_mib << 20)
        return fail(who + ": its balloon holds " + std::to_string(((config.memory_mib << 20) - d.memory_bytes) >> 20) +
                    " MiB; give them back first (xm mem-set " + domain_name(d) + " " +
                    std::to_string(config.memory_mib) + ")");
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
    const double started = seconds_now();
    bool paused_here = false;
    if (d.state != kStatePaused) {
        const int64_t paused = control.call(kDomainPause, d.id);
        if (paused < 0) {
            close(fd);
            if (regular) unlink(partial.c_str());
            return fail(who + ": it could not be paused: " + error_text(paused));
        }
        paused_here = true;
    }
    const bool has_device_model = !config.disks.empty() || !config.vifs.empty();
    std::vector<uint8_t> devices;
    FdSink out(fd);
    ImageWriter writer(control, d, out);
    bool pc = false;
    std::vector<uint8_t> platform;
    bool ok = image::write_header(out) || (error = "writing failed: " + out.error(), false);
    // Its virtio queues stop with the save and stay stopped: the image holds them as they
    // are now. Told to go on whatever the answer was: a reply cut off after it stopped
    // them would otherwise leave them stopped under a running domain.
    if (ok && has_device_model) ok = device_model_save(d.id, devices, error);
    ok = ok && writer.read_platform(platform, pc) && writer.config(config_text) &&
         writer.domain((pc ? kCreatePcPlatform : 0) | config_create_flags(config)) && writer.cpuid() &&
         writer.vcpus() && (!pc || writer.platform(platform)) && (!has_device_model || writer.devices(devices)) &&
         writer.memory() && writer.end();
    if (!ok && error.empty()) error = writer.error();
    if (ok && regular && fsync(fd) != 0) ok = false, error = std::string("writing failed: ") + strerror(errno);
    if (close(fd) != 0 && ok) ok = false, error = std::string("writing failed: ") + strerror(errno);
    if (ok && regular && rename(partial.c_str(), path.c_str()) != 0)
        ok = false, error = "cannot put the image at " + path + ": " + strerror(errno);
    const double took = seconds_now() - started;

    auto as_it_was = [&] {
        std::string why_not;
        if (has_device_model && !device_model_continue(d.id, why_not))
            fprintf(stderr, "xm: %s: its devices did not go on: %s\n", who.c_str(), why_not.c_str());
        if (paused_here) control.call(kDomainUnpause, d.id);
    };
    if (!ok) {
        if (regular) unlink(partial.c_str());
        as_it_was();
        return fail(who + ": " + error);
    }
    if (keep) {
        as_it_was();
    } else {
        const int64_t destroyed = control.call(kDomainDestroy, d.id);
        if (destroyed < 0 && destroyed != kErrorNoSuchDomain) {
            as_it_was();
            return fail(who + ": saved to " + path +
                        ", but destroying it failed (it runs on): " + error_text(destroyed));
        }
        forget_domain_config(d.id);
    }
    printf("Saved domain %s (id %u) to %s: %llu MiB of RAM in %.1f s, %llu MiB written%s\n", d.name, d.id, path.c_str(),
           (unsigned long long)(d.memory_bytes >> 20), took, (unsigned long long)(out.bytes() >> 20),
           keep ? "; it runs on" : "");
    return 0;
}

}  // namespace xm
