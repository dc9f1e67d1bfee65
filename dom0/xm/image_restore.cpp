#include "dom0/xm/image_restore.hpp"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dom0/xm/cpuid_features.hpp"
#include "dom0/xm/device_model_launch.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/domain_monitor.hpp"
#include "dom0/xm/migration_protocol.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;
namespace image = save_image;

namespace {

constexpr uint32_t kMaxVcpus = kIoreqSlots;  // a domain has at most 8

std::string hex(uint64_t v) {
    char text[24];
    snprintf(text, sizeof(text), "%#llx", (unsigned long long)v);
    return text;
}

}  // namespace

ImageRestore::ImageRestore(ControlClient& control, const std::string& source, const std::string& name_suffix)
    : control_(control), source_(source), name_suffix_(name_suffix), progress_(isatty(STDERR_FILENO) != 0) {}

void ImageRestore::discard() {
    if (id_ == 0) return;
    control_.call(kDomainDestroy, id_);
    forget_domain_config(id_);
    id_ = 0;
}

bool ImageRestore::refuse(const std::string& why) {
    error_ = why;
    return false;
}

bool ImageRestore::read(image::ByteSource& in, bool to_eof) {
    const char* what = to_eof ? "file" : "stream";
    if (!image::read_header(in, error_)) return false;
    image::Section s;
    for (;;) {
        if (!image::read_section(in, s, error_, what)) return false;
        if (s.type == image::kEnd) {
            uint8_t more;
            if (to_eof && in.read(&more, 1)) return refuse("it has bytes after its end section: the file is damaged");
            return end(s.payload);
        }
        if (!section(s)) return false;
    }
}

bool ImageRestore::finish(bool paused) {
    for (uint32_t v = 0; v < record_.vcpus; ++v) {
        std::vector<uint8_t>& state = vcpus_[v];
        const int64_t set =
            control_.call_with_buffer(kVcpuSetState, 2, state.data(), uint32_t(state.size()), id_, v, 0, state.size());
        if (set < 0) return refuse("vCPU " + std::to_string(v) + "'s state was refused: " + error_text(set));
    }
    if (!platform_.empty()) {
        const int64_t set = control_.call_with_buffer(kDomainPlatformStateSet, 1, platform_.data(),
                                                      uint32_t(platform_.size()), id_, 0, platform_.size());
        if (set < 0) return refuse("its devices' state was refused: " + error_text(set));
    }
    HostInfo host{};
    control_.call_with_buffer(kHostInfo, 0, &host, sizeof(host));
    if (!apply_domain_settings(control_, config_, id_, host.cpus, error_)) return false;
    if (!record_domain_config(id_, config_, error_)) return false;
    if (!start_devices()) return false;
    // Its on_poweroff, on_reboot and on_crash, as after xm create; a restart builds it
    // from the kernel its config names, if Domain-0 still has it.
    std::vector<uint8_t> kernel, initrd;
    std::string unread;
    if (!read_file(config_.kernel, kernel, unread) ||
        (!config_.ramdisk.empty() && !read_file(config_.ramdisk, initrd, unread)))
        fprintf(stderr, "xm: note: %s: a restart of %s will fail\n", unread.c_str(), config_.name.c_str());
    if (!start_domain_monitor(id_, config_, kernel, initrd))
        fprintf(stderr, "xm: note: no monitor for %s: its on_poweroff, on_reboot and on_crash are not carried out\n",
                config_.name.c_str());
    if (!paused) {
        const int64_t run = control_.call(kDomainUnpause, id_);
        if (run < 0) return refuse("it could not be started: " + error_text(run));
    }
    kept_ = true;
    return true;
}

bool ImageRestore::section(const image::Section& s) {
    const char* name = image::section_name(s.type);
    if (s.type != image::kConfig && !have_config_)
        return refuse(std::string("its ") + name + " section comes before its config");
    if (s.type != image::kConfig && s.type != image::kDomain && !have_domain_)
        return refuse(std::string("its ") + name + " section comes before its domain section");
    if (have_domain_ && id_ == 0 && s.type != image::kConfig && s.type != image::kDomain && s.type != image::kCpuid &&
        !create_domain(nullptr))
        return false;
    switch (s.type) {
        case image::kConfig: return config_section(s.payload);
        case image::kDomain: return domain_section(s.payload);
        case image::kVcpu: return vcpu_section(s.payload);
        case image::kPlatform:
            if (!platform_.empty()) return refuse("it has two platform sections");
            platform_ = s.payload;
            return true;
        case image::kDevices:
            if (have_devices_) return refuse("it has two devices sections");
            devices_ = s.payload;
            have_devices_ = true;
            return true;
        case image::kMemory: return memory_section(s.payload);
        case image::kMemoryUpdate: return memory_update_section(s.payload);
        case image::kCpuid: return cpuid_section(s.payload);
        default: return refuse(std::string("a ") + name + " section where none belongs");
    }
}

bool ImageRestore::config_section(const std::vector<uint8_t>& payload) {
    if (have_config_) return refuse("it has two config sections");
    const std::string text(payload.begin(), payload.end());
    if (!parse_xl_config(text, source_ + " (its config)", config_, error_)) return false;
    config_.start_paused = false;
    have_config_ = true;
    return true;
}

bool ImageRestore::domain_section(const std::vector<uint8_t>& payload) {
    if (have_domain_) return refuse("it has two domain sections");
    if (payload.size() != sizeof(record_)) return refuse("its domain section is not 48 bytes");
    memcpy(&record_, payload.data(), sizeof(record_));
    if (memchr(record_.name, 0, sizeof(record_.name)) == nullptr || config_.name != record_.name)
        return refuse("its domain section names another domain than its config");
    if (record_.vcpus == 0 || record_.vcpus > kMaxVcpus || record_.vcpus != config_.vcpus)
        return refuse("its domain section's vCPU count does not match its config");
    if (record_.memory_bytes != config_.memory_mib << 20)
        return refuse("its domain section's memory size does not match its config");
    if ((record_.flags & ~uint32_t(kCreatePcPlatform | kCreateMigratableCpuid)) != 0)
        return refuse("its domain section has creation flags this xm does not know");
    if ((record_.flags & kCreateMigratableCpuid) != config_create_flags(config_))
        return refuse(std::string("its domain section's CPUID does not match its config's cpuid = '") +
                      cpuid_mode_name(config_.cpuid) + "'");
    have_domain_ = true;
    return true;
}

bool ImageRestore::create_domain(const CpuidSnapshot* limit) {
    const std::string name = name_suffix_.empty() ? config_.name : migration::suffixed_name(config_.name, name_suffix_);
    DomainCreateArgs args{};
    if (name.size() >= sizeof(args.name)) return refuse("the name '" + name + "' is too long");
    memcpy(args.name, name.data(), name.size());
    args.memory_bytes = record_.memory_bytes;
    args.vcpus = record_.vcpus;
    args.flags = record_.flags;
    if (limit) {
        args.flags |= kCreateCpuidLimit;
        args.cpuid_limit = {limit->leaf1.ecx, limit->leaf1.edx, limit->leaf7.ebx, limit->leaf7.ecx,
                            limit->leaf7.edx, limit->ext1.ecx,  limit->ext1.edx,  0};
    }
    const int64_t id = control_.call_with_buffer(kDomainCreate, 0, &args, sizeof(args));
    if (id == kErrorExists) return refuse("a domain named '" + name + "' exists already");
    if (id == kErrorNoMemory)
        return refuse("the hypervisor has no memory for a domain of " + std::to_string(record_.memory_bytes >> 20) +
                      " MiB");
    if (id < 0) return refuse("cannot create the domain: " + error_text(id));
    id_ = uint32_t(id);
    blocks_ = guest_ram_blocks(record_.memory_bytes);
    ram_ = std::make_unique<ForeignGuestMemory>(control_.device_fd(), id_, record_.memory_bytes);
    return true;
}

// The domain is made here with no feature beyond those it was given where it started
// (kCreateCpuidLimit): it keeps its CPUID wherever it moves, and can move back. Those
// features against what it gets here: a guest may use any of them at any moment, so one
// that this CPU lacks refuses the restore. An image without the section (an older xm's)
// is not checked, and its domain gets this host's features.
bool ImageRestore::cpuid_section(const std::vector<uint8_t>& payload) {
    if (have_cpuid_) return refuse("it has two cpuid sections");
    if (id_ != 0) return refuse("its cpuid section comes after its memory or state");
    have_cpuid_ = true;
    CpuidSnapshot saved, now;
    if (!decode_cpuid_snapshot(payload, saved))
        return refuse("its cpuid section is not " + std::to_string(kCpuidSnapshotBytes) + " bytes");
    if (!create_domain(&saved)) return false;
    if (!read_domain_cpuid(control_, id_, now, error_)) return false;
    const std::vector<std::string> missing = missing_features(saved, now);
    if (missing.empty()) return true;
    std::string names;
    for (const std::string& feature : missing) names += (names.empty() ? "" : ", ") + feature;
    return refuse("this host lacks CPU features the domain was given: " + names);
}

bool ImageRestore::vcpu_section(const std::vector<uint8_t>& payload) {
    if (payload.size() < 8 || image::get32(payload.data() + 4) != 0) return refuse("a vcpu section is malformed");
    const uint32_t v = image::get32(payload.data());
    if (v >= record_.vcpus) return refuse("a vcpu section for vCPU " + std::to_string(v) + ", which it has not");
    if (vcpus_.count(v)) return refuse("two vcpu sections for vCPU " + std::to_string(v));
    vcpus_[v].assign(payload.begin() + 8, payload.end());
    return true;
}

// Pages that are zeros in the image stay as the new domain's RAM is: zeros.
bool ImageRestore::memory_section(const std::vector<uint8_t>& payload) {
    uint64_t gpa = 0;
    uint32_t count = 0;
    if (!image::decode_memory(payload, gpa, count, pages_, error_)) return false;
    // In the order xm save writes them: block by block, each from its start, every page
    // once (an image that repeats one chunk and lacks another is damaged).
    const uint64_t bytes = uint64_t(count) * image::kPageBytes;
    while (next_block_ < blocks_.size() && next_offset_ == blocks_[next_block_].bytes) {
        ++next_block_;
        next_offset_ = 0;
    }
    if (next_block_ == blocks_.size() || gpa != blocks_[next_block_].gpa + next_offset_ ||
        bytes > blocks_[next_block_].bytes - next_offset_)
        return refuse("a memory section at " + hex(gpa) + " is not the next part of the domain's RAM");
    next_offset_ += bytes;
    for (uint32_t p = 0; p < count; ++p) {
        const uint8_t* page = pages_.data() + size_t(p) * image::kPageBytes;
        if (image::page_is_zero(page)) continue;
        if (!ram_->write(gpa + uint64_t(p) * image::kPageBytes, page, image::kPageBytes))
            return refuse("writing its memory failed: " + ram_->failure());
    }
    pages_seen_ += count;
    const uint64_t done = pages_seen_ * image::kPageBytes;
    if (progress_ && done % (uint64_t(64) << 20) == 0)
        fprintf(stderr, "\rxm: restore %s: %llu of %llu MiB", config_.name.c_str(), (unsigned long long)(done >> 20),
                (unsigned long long)(record_.memory_bytes >> 20));
    return true;
}

// A live migration's later round: pages sent again, anywhere in RAM, after the whole of
// it came once; each is written as it is now, zeros too.
bool ImageRestore::memory_update_section(const std::vector<uint8_t>& payload) {
    uint64_t gpa = 0;
    uint32_t count = 0;
    if (!image::decode_memory(payload, gpa, count, pages_, error_)) return false;
    if (pages_seen_ * image::kPageBytes != record_.memory_bytes)
        return refuse("a memory-update section at " + hex(gpa) + " comes before all of its memory did");
    const uint64_t bytes = uint64_t(count) * image::kPageBytes;
    bool inside = false;
    for (const RamBlock& b : blocks_)
        inside = inside || (gpa >= b.gpa && bytes <= b.bytes && gpa - b.gpa <= b.bytes - bytes);
    if (!inside) return refuse("a memory-update section at " + hex(gpa) + " is outside the domain's RAM");
    if (!ram_->write(gpa, pages_.data(), size_t(bytes))) return refuse("writing its memory failed: " + ram_->failure());
    pages_updated_ += count;
    return true;
}

bool ImageRestore::end(const std::vector<uint8_t>& payload) {
    if (!have_domain_) return refuse("it ends before its domain section");
    if (id_ == 0) return refuse("it ends before its memory sections");
    const uint64_t pages = payload.size() == 8 ? image::get64(payload.data()) : 0;
    if (payload.size() != 8 || pages != pages_seen_)
        return refuse("its end section counts " + std::to_string(pages) + " pages of memory, its memory sections " +
                      std::to_string(pages_seen_));
    if (pages_seen_ * image::kPageBytes != record_.memory_bytes)
        return refuse("its memory sections hold " + std::to_string(pages_seen_) + " pages, not the domain's " +
                      std::to_string(record_.memory_bytes / image::kPageBytes));
    for (uint32_t v = 0; v < record_.vcpus; ++v)
        if (!vcpus_.count(v)) return refuse("it has no state for vCPU " + std::to_string(v));
    if (((record_.flags & kCreatePcPlatform) != 0) != !platform_.empty())
        return refuse(platform_.empty() ? "it has no state for its virtual PC's devices"
                                        : "it holds a virtual PC's state for a domain without one");
    const bool wants_devices = !config_.disks.empty() || !config_.vifs.empty();
    if (wants_devices != have_devices_)
        return refuse(wants_devices ? "its config has devices, but it holds no device state"
                                    : "it holds device state, but its config has no devices");
    ram_->unmap();
    if (progress_) fprintf(stderr, "\n");
    return true;
}

// The device model, given the devices' state through a file of its own.
bool ImageRestore::start_devices() {
    if (!have_devices_) return true;
    const std::string state_path = "/run/vireo/dm-" + std::to_string(id_) + ".restore";
    const int fd = open(state_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return refuse("cannot write " + state_path + ": " + strerror(errno));
    const bool written = write_all(fd, devices_.data(), devices_.size());
    if (close(fd) != 0 || !written) {
        const std::string why = strerror(errno);  // before unlink, which may change errno
        unlink(state_path.c_str());
        return refuse("cannot write " + state_path + ": " + why);
    }
    const bool started = start_device_model(id_, config_, error_, state_path);
    unlink(state_path.c_str());
    return started;
}

}  // namespace xm
