#include "dom0/xm/xm_common.hpp"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dom0/xm/device_model_control.hpp"
#include "dom0/xm/xm_format.hpp"

namespace xm {

using namespace hypercall;

int fail(const std::string& message) {
    fprintf(stderr, "xm: %s\n", message.c_str());
    return 1;
}

namespace {

bool all_digits(const std::string& s) {
    if (s.empty() || s.size() > 9) return false;
    for (const char c : s)
        if (!isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

}  // namespace

bool find_domain(ControlClient& control, const std::string& spec, DomainStatus& out, std::string& error) {
    if (all_digits(spec)) {
        int64_t result;
        if (control.status(uint32_t(std::stoul(spec)), out, result)) return true;
        error = result == kErrorNoSuchDomain ? "domain '" + spec + "' not found" : error_text(result);
        return false;
    }
    std::vector<DomainStatus> all;
    if (!control.domains(all)) {
        error = control.error();
        return false;
    }
    for (const DomainStatus& d : all)
        if (domain_name(d) == spec) {
            out = d;
            return true;
        }
    error = "domain '" + spec + "' not found";
    return false;
}

bool select_domains(ControlClient& control, const Args& specs, std::vector<DomainStatus>& out, std::string& error) {
    out.clear();
    if (specs.empty()) {
        if (control.domains(out)) return true;
        error = control.error();
        return false;
    }
    for (const std::string& spec : specs) {
        DomainStatus d;
        if (!find_domain(control, spec, d, error)) return false;
        out.push_back(d);
    }
    return true;
}

int one_domain(ControlClient& control, const Args& args, const char* command, DomainStatus& d) {
    if (args.size() != 1) return fail(std::string(command) + " takes one domain (a name or an id)");
    std::string error;
    if (!find_domain(control, args[0], d, error)) return fail(error);
    return 0;
}

bool read_file(const std::string& path, std::vector<uint8_t>& out, std::string& error) {
    FILE* f = fopen(path.c_str(), "rb");
    if (!f) {
        error = "cannot read '" + path + "': " + strerror(errno);
        return false;
    }
    out.clear();
    uint8_t buffer[65536];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), f)) > 0) out.insert(out.end(), buffer, buffer + n);
    const bool failed = ferror(f);
    fclose(f);
    if (failed) error = "cannot read '" + path + "': " + strerror(errno);
    return !failed;
}

bool write_all(int fd, const void* data, size_t length) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    while (length > 0) {
        const ssize_t n = write(fd, bytes, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        bytes += n;
        length -= size_t(n);
    }
    return true;
}

int64_t rename_domain(ControlClient& control, uint32_t id, const std::string& name) {
    char buffer[32] = {};
    if (name.empty() || name.size() >= sizeof(buffer)) return hypercall::kErrorInvalid;
    name.copy(buffer, sizeof(buffer) - 1);
    const int64_t result = control.call_with_buffer(hypercall::kDomainRename, 1, buffer, sizeof(buffer), id);
    // Its device model's console link follows the name (`xm console -t pv NAME`).
    std::string error;
    if (result == 0 && device_model_present(id) && !device_model_rename(id, name, error))
        fprintf(stderr,
                "xm: warning: domain %u is %s now, but its device model was not told (%s): its PV console "
                "keeps the old name\n",
                id, name.c_str(), error.c_str());
    return result;
}

double monotonic_seconds() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

}  // namespace xm
