// xm's commands on one domain's life: shutdown, reboot, destroy, pause, unpause, rename,
// mem-set, and the id/name look-ups.
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dom0/common/device_model_holdings.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

using namespace hypercall;

namespace {

int simple_call(ControlClient& control, const Args& args, const char* command, uint64_t number) {
    DomainStatus d;
    if (const int r = one_domain(control, args, command, d)) return r;
    if (d.id == 0) return fail(std::string(command) + ": not Domain-0 itself");
    const int64_t result = control.call(number, d.id);
    if (result < 0) return fail(std::string(command) + " " + domain_name(d) + ": " + error_text(result));
    return 0;
}

}  // namespace

int cmd_pause(ControlClient& c, const Args& a) { return simple_call(c, a, "pause", kDomainPause); }
int cmd_unpause(ControlClient& c, const Args& a) { return simple_call(c, a, "unpause", kDomainUnpause); }
// destroy DOMAIN: and xm's record of its config goes (its monitor, if it has one, would
// forget it too; a preserved domain's has ended). What a device model killed outright
// left behind is let go of, and said (dom0/common/device_model_holdings.hpp).
int cmd_destroy(ControlClient& c, const Args& a) {
    DomainStatus d;
    if (const int r = one_domain(c, a, "destroy", d)) return r;
    const int result = simple_call(c, a, "destroy", kDomainDestroy);
    if (result != 0) return result;
    forget_domain_config(d.id);
    for (const std::string& line : dom0::release_orphaned_holdings(d.id)) printf("xm: destroy: %s\n", line.c_str());
    return 0;
}

// reboot DOMAIN: the reset button (as `xl reboot -F` / `xl trigger reset` for a guest
// without PV drivers): the guest does not see it coming. A domain xm built ends with the
// reason "reboot", and its on_reboot (restart, by default) follows.
int cmd_reboot(ControlClient& c, const Args& a) { return simple_call(c, a, "reboot", kDomainReset); }

// shutdown [-w] [-a | DOMAIN]: the ACPI power button; -a: every domain but Domain-0; -w
// waits until each has shut down (or is gone: its on_poweroff destroyed it), saying so
// every 10 s. What follows the shutdown is the domain's on_poweroff (xm create's monitor).
int cmd_shutdown(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "shutdown", {{"-w", "wait"}, {"--wait", "wait"}, {"-a", "all"}, {"--all", "all"}}, options,
                       error))
        return fail(error);
    const bool wait = options.has("wait"), all = options.has("all");
    const Args& rest = options.rest;
    std::vector<DomainStatus> targets;
    if (all) {
        if (!rest.empty()) return fail("shutdown -a takes no domain");
        std::vector<DomainStatus> every;
        if (!select_domains(control, {}, every, error)) return fail(error);
        for (const DomainStatus& d : every)
            if (d.id != 0 && d.state != kStateShutdown && d.state != kStateCrashed && d.state != kStateDying)
                targets.push_back(d);
    } else {
        DomainStatus d;
        if (const int r = one_domain(control, rest, "shutdown", d)) return r;
        if (d.id == 0) return fail("shutdown: not Domain-0 itself (power it off from its own shell)");
        targets.push_back(d);
    }
    // Watching first, so that no state change between the request and the wait is missed.
    DeviceStream events;
    if (wait && !events.attach_events(error)) return fail(error);
    int status = 0;
    std::vector<DomainStatus> asked;
    for (const DomainStatus& d : targets) {
        const int64_t result = control.call(kDomainShutdown, d.id);
        if (result == kErrorNotSupported)
            status = fail("shutdown " + domain_name(d) + ": it has no power button to press (xm destroy ends it)");
        else if (result < 0)
            status = fail("shutdown " + domain_name(d) + ": " + error_text(result));
        else
            asked.push_back(d);
    }
    if (!wait) return status;
    if (asked.size() > 1) printf("Waiting for %zu domains\n", asked.size());
    const double start = monotonic_seconds();
    double next_note = 10;
    while (!asked.empty()) {
        for (size_t i = 0; i < asked.size();) {
            DomainStatus now;
            int64_t result;
            const bool present = control.status(asked[i].id, now, result);
            if (present && now.state != kStateShutdown && now.state != kStateCrashed && now.state != kStateDying) {
                ++i;
                continue;
            }
            printf("Domain %s (%u) has shut down.\n", domain_name(asked[i]).c_str(), asked[i].id);
            fflush(stdout);
            asked.erase(asked.begin() + long(i));
        }
        if (asked.empty()) break;
        if (!events.wait_event(1000) && monotonic_seconds() - start >= next_note) {
            fprintf(stderr, "xm: waiting for %s to shut down (%.0f s)\n", domain_name(asked[0]).c_str(),
                    monotonic_seconds() - start);
            next_note += 10;
        }
    }
    return status;
}

int cmd_rename(ControlClient& control, const Args& args) {
    if (args.size() != 2) return fail("rename takes a domain and its new name");
    DomainStatus d;
    std::string error;
    if (!find_domain(control, args[0], d, error)) return fail(error);
    if (d.id == 0) return fail("rename: not Domain-0");
    const int64_t result = rename_domain(control, d.id, args[1]);
    if (result == kErrorExists) return fail("rename: a domain named '" + args[1] + "' exists already");
    if (result == kErrorInvalid)
        return fail("rename: '" + args[1] + "' is not a domain name (1-31 of letters, digits, - _ .)");
    if (result < 0) return fail("rename " + domain_name(d) + ": " + error_text(result));
    return 0;
}

// mem-set DOMAIN SIZE: the target its balloon works towards (xl mem-set): SIZE in MiB,
// or with a suffix k, m or g. The domain's device model (vireo-dm) moves its virtio
// balloon there; the pages it gives back are the host's free memory meanwhile.
int cmd_mem_set(ControlClient& control, const Args& args) {
    if (args.size() != 2) return fail("mem-set takes a domain and a size (MiB, or with k, m or g)");
    DomainStatus d;
    std::string error;
    if (!find_domain(control, args[0], d, error)) return fail(error);
    if (d.id == 0) return fail("mem-set: not Domain-0 (its memory is the machine's)");
    const std::string& text = args[1];
    size_t digits = 0;
    while (digits < text.size() && isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
    const std::string suffix = text.substr(digits);
    uint64_t shift = 20;
    if (suffix == "k" || suffix == "K")
        shift = 10;
    else if (suffix == "g" || suffix == "G")
        shift = 30;
    else if (!suffix.empty() && suffix != "m" && suffix != "M")
        digits = 0;
    if (digits == 0 || digits > 12) return fail("mem-set: '" + text + "' is not a size (MiB, or with k, m or g)");
    const uint64_t bytes = std::stoull(text.substr(0, digits)) << shift;
    const int64_t result = control.call(kDomainMemoryTarget, d.id, kMemoryTargetSet, bytes);
    if (result == kErrorInvalid)
        return fail("mem-set " + domain_name(d) + ": " + std::to_string(bytes >> 20) +
                    " MiB is outside what it may have (16 MiB up to the memory it was created with)");
    if (result < 0) return fail("mem-set " + domain_name(d) + ": " + error_text(result));
    return 0;
}

int cmd_domid(ControlClient& control, const Args& args) {
    DomainStatus d;
    if (const int r = one_domain(control, args, "domid", d)) return r;
    printf("%u\n", d.id);
    return 0;
}

int cmd_domname(ControlClient& control, const Args& args) {
    DomainStatus d;
    if (const int r = one_domain(control, args, "domname", d)) return r;
    printf("%s\n", domain_name(d).c_str());
    return 0;
}

}  // namespace xm
