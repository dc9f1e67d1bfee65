// An XlConfig written back as an xl config file (xl.cfg(5)) that parse_xl_config reads
// into the same settings: what xm records for each domain it builds, and what a save
// image carries, so that xm restore and a restart rebuild the domain as it was, without
// the file it was created from (which may have changed or gone since).
#include <stdio.h>

#include "dom0/xm/xl_config.hpp"

namespace xm {

namespace {

// A quoted string as the parser reads it (xl_config.cpp: a backslash takes the next
// character as it is).
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string mac_text(const uint8_t* mac) {
    char text[24];
    snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return text;
}

}  // namespace

bool format_xl_config(const XlConfig& c, std::string& out, std::string& error) {
    std::string text;
    auto line = [&](const char* key, const std::string& value) { text += std::string(key) + " = " + value + "\n"; };
    // A newline would end the setting: no value here has one that a config could have held.
    auto string_line = [&](const char* key, const std::string& value) {
        if (value.find('\n') != std::string::npos) {
            error = std::string(key) + " holds a newline: it cannot be written back";
            return false;
        }
        line(key, quoted(value));
        return true;
    };
    if (!string_line("name", c.name)) return false;
    line("memory", std::to_string(c.memory_mib));
    if (c.maxmem_mib) line("maxmem", std::to_string(c.maxmem_mib));
    line("vcpus", std::to_string(c.vcpus));
    if (!c.cpus.empty() && !string_line("cpus", c.cpus)) return false;
    if (!c.cpus_soft.empty() && !string_line("cpus_soft", c.cpus_soft)) return false;
    if (c.cpu_weight) line("cpu_weight", std::to_string(c.cpu_weight));
    if (c.cap_percent) line("cap", std::to_string(c.cap_percent));
    if (!string_line("kernel", c.kernel)) return false;
    if (!c.ramdisk.empty() && !string_line("ramdisk", c.ramdisk)) return false;
    if (!c.cmdline.empty() && !string_line("cmdline", c.cmdline)) return false;
    if (!string_line("on_poweroff", end_action_name(c.on_poweroff)) ||
        !string_line("on_reboot", end_action_name(c.on_reboot)) ||
        !string_line("on_crash", end_action_name(c.on_crash)))
        return false;
    // Only when it is not the default (migratable).
    if (c.cpuid != CpuidMode::Migratable && !string_line("cpuid", cpuid_mode_name(c.cpuid))) return false;
    std::string list;
    for (const DiskSpec& d : c.disks) {
        std::string spec = "format=" + d.format + ",access=" + (d.read_only ? "ro" : "rw");
        if (!d.vdev.empty()) spec += ",vdev=" + d.vdev;
        spec += ",target=" + d.target;
        if (d.target.find(',') != std::string::npos || spec.find('\n') != std::string::npos) {
            error = "disk '" + d.target + "' cannot be written back";
            return false;
        }
        list += (list.empty() ? "" : ", ") + quoted(spec);
    }
    if (!c.disks.empty()) line("disk", "[" + list + "]");
    list.clear();
    for (const VifSpec& v : c.vifs) {
        std::string spec = "bridge=" + v.bridge;
        if (v.has_mac) spec += ",mac=" + mac_text(v.mac);
        list += (list.empty() ? "" : ", ") + quoted(spec);
    }
    if (!c.vifs.empty()) line("vif", "[" + list + "]");
    out = text;
    return true;
}

}  // namespace xm
