#include "dom0/xm/domain_config_store.hpp"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "dom0/xm/xm_common.hpp"

namespace xm {

namespace {

constexpr const char* kDirectory = "/run/vireo/domains";

std::string record_path(uint32_t id) { return std::string(kDirectory) + "/" + std::to_string(id) + ".cfg"; }

}  // namespace

bool record_domain_config(uint32_t id, const XlConfig& config, std::string& error) {
    std::string text;
    if (!format_xl_config(config, text, error)) return false;
    mkdir("/run", 0755);  // an initramfs may have none
    mkdir("/run/vireo", 0755);
    mkdir(kDirectory, 0700);
    // Written whole under another name and renamed: a reader sees the old record or the
    // new one, never half of one.
    const std::string path = record_path(id), partial = path + ".new";
    const int fd = open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = "cannot record its config in " + path + ": " + strerror(errno);
        return false;
    }
    const bool written = write_all(fd, text.data(), text.size());
    if (close(fd) != 0 || !written || rename(partial.c_str(), path.c_str()) != 0) {
        error = "cannot record its config in " + path + ": " + strerror(errno);
        unlink(partial.c_str());
        return false;
    }
    return true;
}

bool load_domain_config(uint32_t id, XlConfig& config, std::string& text, std::string& error) {
    const std::string path = record_path(id);
    std::vector<uint8_t> bytes;
    if (access(path.c_str(), F_OK) != 0) {
        error = "xm has no config of it (" + path + "): only a domain xm created or restored can be saved";
        return false;
    }
    if (!read_file(path, bytes, error)) return false;
    text.assign(bytes.begin(), bytes.end());
    return parse_xl_config(text, path, config, error);
}

void forget_domain_config(uint32_t id) { unlink(record_path(id).c_str()); }

void assign_vif_macs(XlConfig& config, uint32_t id) {
    for (size_t i = 0; i < config.vifs.size(); ++i) {
        VifSpec& v = config.vifs[i];
        if (v.has_mac) continue;
        const uint8_t made[6] = {0x00, 0x16, 0x3e, uint8_t((id >> 8) & 0x7f), uint8_t(id), uint8_t(i)};
        memcpy(v.mac, made, sizeof(made));
        v.has_mac = true;
    }
}

}  // namespace xm
