#include "dom0/xm/image_writer.hpp"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dom0/xm/cpuid_features.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/guest_ram_blocks.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;
namespace image = save_image;

int load_saveable_domain(ControlClient& control, const std::string& spec, const char* command, SaveableDomain& out) {
    DomainStatus& d = out.status;
    if (const int r = one_domain(control, Args{spec}, command, d)) return r;
    const std::string who = std::string(command) + " " + domain_name(d);
    if (d.id == 0) return fail(std::string(command) + ": not Domain-0 itself");
    if (d.state != kStateRunning && d.state != kStateBlocked && d.state != kStatePaused)
        return fail(who + ": it has ended; there is nothing to " + command);
    std::string error;
    if (!load_domain_config(d.id, out.config, out.config_text, error)) return fail(who + ": " + error);
    out.config.name = d.name;  // it may have been renamed since
    if (!format_xl_config(out.config, out.config_text, error)) return fail(who + ": " + error);
    // Pages its balloon gave back are no RAM of it now (docs/hypercalls.md, domain_balloon):
    // they can be neither read nor left out of an image that must lay out its memory whole.
    if (d.memory_bytes != out.config.memory_mib << 20)
        return fail(who + ": its balloon holds " +
                    std::to_string(((out.config.memory_mib << 20) - d.memory_bytes) >> 20) +
                    " MiB; give them back first (xm mem-set " + domain_name(d) + " " +
                    std::to_string(out.config.memory_mib) + ")");
    out.has_device_model = !out.config.disks.empty() || !out.config.vifs.empty();
    return 0;
}

bool CopiedGuestRam::read(uint64_t gpa, void* dst, size_t length) {
    auto* out = static_cast<uint8_t*>(dst);
    for (size_t done = 0; done < length;) {
        const size_t n = length - done < kMemoryCopyMax ? length - done : size_t(kMemoryCopyMax);
        const int64_t r =
            control_.call_with_buffer(kDomainMemoryRead, 2, out + done, uint32_t(n), domain_, gpa + done, 0, n);
        if (r < 0) {
            char at[24];
            const uint64_t where = gpa + done;
            snprintf(at, sizeof(at), "%#llx", static_cast<unsigned long long>(where));
            failure_ = std::string("reading its memory at ") + at + " failed: " + error_text(r);
            return false;
        }
        done += n;
    }
    return true;
}

bool ImageWriter::header() { return image::write_header(out_) || fail_with("writing failed: " + out_.error()); }

bool ImageWriter::config(const std::string& text) { return section(image::kConfig, text.data(), text.size()); }

bool ImageWriter::domain(const XlConfig& config) {
    image::DomainRecord r{};
    r.memory_bytes = d_.memory_bytes;
    r.vcpus = d_.vcpus;
    r.flags = kCreatePcPlatform | config_create_flags(config);
    memcpy(r.name, d_.name, sizeof(r.name));
    r.name[sizeof(r.name) - 1] = 0;
    return section(image::kDomain, &r, sizeof(r));
}

bool ImageWriter::cpuid() {
    CpuidSnapshot snapshot;
    std::string why;
    if (!read_domain_cpuid(control_, d_.id, snapshot, why)) return fail_with(why);
    const std::vector<uint8_t> payload = encode_cpuid_snapshot(snapshot);
    return section(image::kCpuid, payload.data(), payload.size());
}

bool ImageWriter::vcpus() {
    std::vector<uint8_t> payload(8 + kVcpuStateSize);
    for (uint32_t v = 0; v < d_.vcpus; ++v) {
        image::put32(payload.data(), v);
        image::put32(payload.data() + 4, 0);
        const int64_t n = control_.call_with_buffer(kVcpuGetState, 2, payload.data() + 8, kVcpuStateSize, d_.id, v, 0,
                                                    kVcpuStateSize);
        if (n < 0) return fail_with("reading vCPU " + std::to_string(v) + "'s state failed: " + error_text(n));
        if (!section(image::kVcpu, payload.data(), 8 + uint64_t(n))) return false;
    }
    return true;
}

bool ImageWriter::platform() {
    std::vector<uint8_t> blob(kPlatformStateMax);
    const int64_t n = control_.call_with_buffer(kDomainPlatformStateGet, 1, blob.data(), kPlatformStateMax, d_.id, 0,
                                                kPlatformStateMax);
    if (n < 0) return fail_with("reading its virtual PC's state failed: " + error_text(n));
    return section(image::kPlatform, blob.data(), uint64_t(n));
}

bool ImageWriter::devices(const std::vector<uint8_t>& blob) {
    return section(image::kDevices, blob.data(), blob.size());
}

bool ImageWriter::chunk(uint32_t type, uint64_t gpa, uint32_t count) {
    buffer_.resize(size_t(image::kMaxChunkPages) * image::kPageBytes);
    if (!ram_.read(gpa, buffer_.data(), size_t(count) * image::kPageBytes)) return fail_with(ram_.failure());
    const std::vector<uint8_t> payload = image::encode_memory(gpa, buffer_.data(), count);
    if (!section(type, payload.data(), payload.size())) return false;
    const std::string stop = stop_check_ ? stop_check_() : std::string();
    return stop.empty() || fail_with(stop);
}

bool ImageWriter::memory(const std::string& what) {
    const bool progress = isatty(STDERR_FILENO);
    const uint64_t chunk_bytes = uint64_t(image::kMaxChunkPages) * image::kPageBytes;
    uint64_t done = 0;
    for (const RamBlock& b : guest_ram_blocks(d_.memory_bytes)) {
        for (uint64_t at = 0; at < b.bytes; at += chunk_bytes) {
            const uint64_t n = b.bytes - at < chunk_bytes ? b.bytes - at : chunk_bytes;
            if (!chunk(image::kMemory, b.gpa + at, uint32_t(n / image::kPageBytes))) return false;
            pages_ += n / image::kPageBytes;
            done += n;
            if (progress && done % (uint64_t(64) << 20) == 0)
                fprintf(stderr, "\rxm: %s: %llu of %llu MiB", what.c_str(), (unsigned long long)(done >> 20),
                        (unsigned long long)(d_.memory_bytes >> 20));
        }
    }
    if (progress) fprintf(stderr, "\n");
    return true;
}

bool ImageWriter::memory_pages(const std::vector<uint64_t>& bitmap, uint64_t& sent) {
    auto dirty = [&](uint64_t page) {
        return page / 64 < bitmap.size() && (bitmap[size_t(page / 64)] >> (page % 64) & 1) != 0;
    };
    for (const RamBlock& b : guest_ram_blocks(d_.memory_bytes)) {
        const uint64_t first = b.gpa / image::kPageBytes, end = first + b.bytes / image::kPageBytes;
        for (uint64_t page = first; page < end;) {
            if (!dirty(page)) {
                ++page;
                continue;
            }
            uint32_t count = 0;
            while (page + count < end && count < image::kMaxChunkPages && dirty(page + count)) ++count;
            if (!chunk(image::kMemoryUpdate, page * image::kPageBytes, count)) return false;
            sent += count;
            page += count;
        }
    }
    return true;
}

bool ImageWriter::end() {
    uint8_t payload[8];
    image::put64(payload, pages_);
    return section(image::kEnd, payload, sizeof(payload)) &&
           (out_.flush() || fail_with("writing failed: " + out_.error()));
}

bool ImageWriter::section(uint32_t type, const void* payload, uint64_t length) {
    if (image::write_section(out_, type, payload, length)) return true;
    return fail_with("writing failed: " + out_.error());
}

bool ImageWriter::fail_with(const std::string& why) {
    error_ = why;
    return false;
}

}  // namespace xm
