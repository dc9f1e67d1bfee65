#include "dom0/xm/xm_format.hpp"

#include <stdarg.h>
#include <stdio.h>

namespace xm {

using namespace hypercall;

namespace {

std::string printf_string(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* format, ...) {
    char buffer[512];
    va_list args;
    va_start(args, format);
    const int n = vsnprintf(buffer, sizeof(buffer), format, args);
    va_end(args);
    if (n < 0) return {};
    if (size_t(n) < sizeof(buffer)) return std::string(buffer, size_t(n));
    std::string big(size_t(n) + 1, '\0');
    va_start(args, format);
    vsnprintf(big.data(), big.size(), format, args);
    va_end(args);
    big.resize(size_t(n));
    return big;
}

double seconds(uint64_t ns) { return double(ns) / 1e9; }

uint64_t mib(uint64_t bytes) { return bytes >> 20; }

}  // namespace

std::string domain_name(const DomainStatus& status) {
    size_t length = 0;
    while (length < sizeof(status.name) && status.name[length]) ++length;
    return std::string(status.name, length);
}

std::string state_flags(const DomainStatus& status) {
    std::string flags = "------";
    switch (status.state) {
        case kStateRunning: flags[0] = 'r'; break;
        case kStateBlocked: flags[1] = 'b'; break;
        case kStatePaused: flags[2] = 'p'; break;
        case kStateShutdown:
            flags[3] = 's';
            // xl's reason letter ("-rscwS"): '-' for a power-off, 'r' reboot, 'c' crash.
            if (status.shutdown_reason == kReasonReboot) flags[4] = 'r';
            if (status.shutdown_reason == kReasonCrash) flags[4] = 'c';
            break;
        case kStateCrashed:
            flags[3] = 's';
            flags[4] = 'c';
            break;
        case kStateDying: flags[5] = 'd'; break;
        default: flags = "??????"; break;
    }
    return flags;
}

std::string list_header() { return "Name                                        ID   Mem VCPUs\tState\tTime(s)"; }

std::string list_row(const DomainStatus& status) {
    return printf_string("%-40s %5u %5llu %5u     %s  %8.1f", domain_name(status).c_str(), status.id,
                         (unsigned long long)mib(status.memory_bytes), status.vcpus, state_flags(status).c_str(),
                         seconds(status.cpu_time_ns));
}

std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20)
                    out += printf_string("\\u%04x", static_cast<unsigned char>(c));
                else
                    out += c;
        }
    }
    return out + "\"";
}

std::string list_json(const std::vector<DomainStatus>& domains) {
    std::string out = "[";
    for (size_t i = 0; i < domains.size(); ++i) {
        const DomainStatus& d = domains[i];
        out += i ? ",\n  " : "\n  ";
        out += printf_string(
            "{\"name\": %s, \"domid\": %u, \"memory_mib\": %llu, \"vcpus\": %u, \"state\": \"%s\", "
            "\"cpu_time\": %.3f, \"privileged\": %s, \"charged_kib\": %llu}",
            json_string(domain_name(d)).c_str(), d.id, (unsigned long long)mib(d.memory_bytes), d.vcpus,
            state_flags(d).c_str(), seconds(d.cpu_time_ns), d.privileged ? "true" : "false",
            (unsigned long long)(d.charged_bytes >> 10));
    }
    return out + (domains.empty() ? "]" : "\n]");
}

std::string info_text(const HostInfo& info, const std::string& hostname, const std::string& release) {
    auto line = [](const char* key, const std::string& value) {
        return printf_string("%-23s: %s\n", key, value.c_str());
    };
    size_t length = 0;
    while (length < sizeof(info.command_line) && info.command_line[length]) ++length;
    std::string command_line(info.command_line, length);
    if (info.command_line_length > length) command_line += " [...]";  // said, not silently cut
    length = 0;
    while (length < sizeof(info.cpu_model) && info.cpu_model[length]) ++length;
    std::string out;
    out += line("host", hostname);
    out += line("release", release);
    out += line("nr_cpus", std::to_string(info.cpus));
    out += line("cpu_model", std::string(info.cpu_model, length));
    out += line("cpu_mhz", std::to_string((info.tsc_hz + 500000) / 1000000));
    out += line("virt_caps", info.virtualization == kHostIntelVmx ? "hvm (Intel VT-x, EPT)" : "hvm (AMD-V, NPT)");
    out += line("total_memory", std::to_string(mib(info.total_memory_bytes)));
    out += line("free_memory", std::to_string(mib(info.free_memory_bytes)));
    // Exact, where free_memory is in whole MiB as xl's: what a leak check compares.
    out += line("free_memory_kib", std::to_string(info.free_memory_bytes >> 10));
    out += line("vireo_version", printf_string("%u.%u", info.version >> 16, info.version & 0xffff));
    out += line("vireo_commandline", command_line);
    out += line("vireo_uptime", printf_string("%.1f s", double(info.uptime_us) / 1e6));
    return out;
}

std::string cpu_list_text(uint64_t mask, uint32_t host_cpus) {
    const uint64_t host = host_cpus >= 64 ? ~0ull : (1ull << host_cpus) - 1;
    if ((mask & host) == host) return "all";
    std::string out;
    for (uint32_t c = 0; c < 64;) {
        if (!(mask >> c & 1)) {
            ++c;
            continue;
        }
        uint32_t end = c;
        while (end + 1 < 64 && (mask >> (end + 1) & 1)) ++end;
        if (!out.empty()) out += ",";
        out += end == c ? std::to_string(c) : std::to_string(c) + "-" + std::to_string(end);
        c = end + 1;
    }
    return out.empty() ? "none" : out;
}

std::string uptime_text(uint64_t seconds) {
    const uint64_t days = seconds / 86400;
    seconds %= 86400;
    std::string out = days ? printf_string("%llu day%s, ", (unsigned long long)days, days == 1 ? "" : "s") : "";
    return out + printf_string("%2u:%02u:%02u", unsigned(seconds / 3600), unsigned(seconds / 60 % 60),
                               unsigned(seconds % 60));
}

std::string vcpu_list_header(bool exits) {
    return printf_string("Name                                ID  VCPU   CPU State   Time(s) %sAffinity (Hard / Soft)",
                         exits ? "       Exits " : "");
}

std::string vcpu_list_row(const DomainStatus& status, uint32_t vcpu, const VcpuInfo& info, uint32_t host_cpus,
                          bool exits) {
    const char* state = info.state == kVcpuRunnable ? "r--" : info.state == kVcpuBlocked ? "-b-" : "--p";
    const std::string exit_column = exits ? printf_string("%12llu ", (unsigned long long)info.exits) : "";
    return printf_string("%-32s %5u %5u %5u   %-3s %9.1f %s%s / %s", domain_name(status).c_str(), status.id, vcpu,
                         info.cpu, state, double(info.cpu_time_ns) / 1e9, exit_column.c_str(),
                         cpu_list_text(info.affinity, host_cpus).c_str(),
                         cpu_list_text(info.soft_affinity, host_cpus).c_str());
}

std::string sched_credit_header() { return printf_string("%-33s %4s %6s %4s", "Name", "ID", "Weight", "Cap"); }

std::string sched_credit_row(const DomainStatus& status, const SchedCredit& share) {
    return printf_string("%-33s %4u %6u %4u", domain_name(status).c_str(), status.id, share.weight, share.cap_percent);
}

std::string uptime_header() { return printf_string("%-33s %4s %s", "Name", "ID", "Uptime"); }

std::string uptime_row(const DomainStatus& status) {
    return printf_string("%-33s %4u %s", domain_name(status).c_str(), status.id,
                         uptime_text(status.uptime_us / 1000000).c_str());
}

std::string top_header() {
    return printf_string("%10s %6s %10s %6s %10s %6s %5s", "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)",
                         "VCPUS");
}

std::string top_row(const DomainStatus& status, double cpu_percent, uint64_t host_memory_bytes) {
    const double memory_percent =
        host_memory_bytes ? 100.0 * double(status.memory_bytes) / double(host_memory_bytes) : 0.0;
    return printf_string("%10s %6s %10llu %6.1f %10llu %6.1f %5u", domain_name(status).c_str(),
                         state_flags(status).c_str(), (unsigned long long)(status.cpu_time_ns / 1000000000),
                         cpu_percent, (unsigned long long)(status.memory_bytes >> 10), memory_percent, status.vcpus);
}

std::string error_text(int64_t error) {
    switch (error) {
        case kErrorPermission: return "permission denied";
        case kErrorNoSuchDomain: return "no such domain";
        case kErrorTooBig: return "a length over its limit";
        case kErrorNoMemory: return "not enough free memory";
        case kErrorFault: return "a bad buffer address";
        case kErrorBusy: return "the vCPU is running";
        case kErrorExists: return "a domain of that name exists";
        case kErrorInvalid: return "an argument out of range";
        case kErrorNoSuchCall: return "the hypervisor does not know that call (an older Vireo?)";
        case kErrorBadState: return "a state that does not decode";
        case kErrorNotSupported: return "the domain has no such thing";
        case kErrorWrongState: return "not in the domain's present state";
        default: return "error " + std::to_string(error);
    }
}

}  // namespace xm
