// A domain made from a save image (docs/save-format.md) as it is read: for xm restore
// from a file, and for xm migrate-receive from a migration's TCP stream. Each section is
// checked as it comes; at the first fault the half-made domain is destroyed, so a damaged,
// truncated or newer image (or a stream cut in the middle) creates nothing, and the error
// names the section and what is wrong.
#pragma once

#include <stdint.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dom0/xm/control_client.hpp"
#include "dom0/xm/cpuid_features.hpp"
#include "dom0/xm/foreign_memory.hpp"
#include "dom0/xm/guest_ram_blocks.hpp"
#include "dom0/xm/save_image.hpp"
#include "dom0/xm/xl_config.hpp"

namespace xm {

class ImageRestore {
public:
    // `source`: what the image is called in errors (its path). `name_suffix`: the domain is
    // made under its name with it (a migration's "NAME--incoming"), if not empty.
    ImageRestore(ControlClient& control, const std::string& source, const std::string& name_suffix = "");
    ~ImageRestore() {
        if (!kept_) discard();
    }
    ImageRestore(const ImageRestore&) = delete;
    ImageRestore& operator=(const ImageRestore&) = delete;

    // Reads the whole image; false with error() at its first fault. `to_eof`: nothing may
    // follow the end section (a file); a stream goes on with the migration's handshake.
    bool read(save_image::ByteSource& in, bool to_eof);
    // The domain takes its vCPUs, devices and settings; its device model and monitor
    // start; it runs unless `paused`. From then on it is kept (unless discarded).
    bool finish(bool paused);
    // Destroys the domain made so far, kept or not (a migration whose handover failed).
    void discard();

    uint32_t id() const { return id_; }
    const XlConfig& config() const { return config_; }
    uint64_t memory_bytes() const { return record_.memory_bytes; }
    // Pages that later rounds of a live migration sent again.
    uint64_t pages_updated() const { return pages_updated_; }
    const std::string& error() const { return error_; }

private:
    bool refuse(const std::string& why);
    bool section(const save_image::Section& s);
    bool config_section(const std::vector<uint8_t>& payload);
    bool domain_section(const std::vector<uint8_t>& payload);
    bool cpuid_section(const std::vector<uint8_t>& payload);
    // Makes the domain its domain section describes, at its cpuid section (with no CPUID
    // feature outside `limit`) or, in an image without one, at the next section.
    bool create_domain(const CpuidSnapshot* limit);
    bool vcpu_section(const std::vector<uint8_t>& payload);
    bool memory_section(const std::vector<uint8_t>& payload);
    bool memory_update_section(const std::vector<uint8_t>& payload);
    bool end(const std::vector<uint8_t>& payload);
    bool start_devices();

    ControlClient& control_;
    std::string source_;
    std::string name_suffix_;
    std::string error_;
    XlConfig config_;
    bool have_config_ = false;
    save_image::DomainRecord record_{};
    bool have_domain_ = false;  // its domain section was read (the domain made once id_ != 0)
    uint32_t id_ = 0;
    bool kept_ = false;
    std::vector<RamBlock> blocks_;
    std::unique_ptr<ForeignGuestMemory> ram_;
    std::vector<uint8_t> pages_;
    uint64_t pages_seen_ = 0;
    uint64_t pages_updated_ = 0;
    size_t next_block_ = 0;
    uint64_t next_offset_ = 0;
    std::map<uint32_t, std::vector<uint8_t>> vcpus_;
    std::vector<uint8_t> platform_;
    std::vector<uint8_t> devices_;
    bool have_devices_ = false;
    bool have_cpuid_ = false;
    const bool progress_;
};

}  // namespace xm
