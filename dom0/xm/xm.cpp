// xm: Domain-0's tool to manage the machine's domains, with Xen's commands and output
// (`xl list`'s columns, `xl info`'s lines). It talks to the hypervisor through
// /dev/vireo (dom0/module), one control hypercall at a time (docs/hypercalls.md).
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dom0/xm/control_client.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/xl_config.hpp"
#include "dom0/xm/xm_format.hpp"

namespace {

using namespace hypercall;
using xm::ControlClient;

struct Command {
    const char* name;
    const char* usage;
    const char* summary;
    int (*run)(ControlClient&, const std::vector<std::string>&);
};

int fail(const std::string& message) {
    fprintf(stderr, "xm: %s\n", message.c_str());
    return 1;
}

bool all_digits(const std::string& s) {
    if (s.empty() || s.size() > 9) return false;
    for (const char c : s)
        if (!isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// A domain named by id or name, as xl takes them.
bool find_domain(ControlClient& control, const std::string& spec, DomainStatus& out, std::string& error) {
    if (all_digits(spec)) {
        int64_t result;
        if (control.status(uint32_t(std::stoul(spec)), out, result)) return true;
        error = result == kErrorNoSuchDomain ? "domain '" + spec + "' not found" : xm::error_text(result);
        return false;
    }
    std::vector<DomainStatus> all;
    if (!control.domains(all)) {
        error = control.error();
        return false;
    }
    for (const DomainStatus& d : all)
        if (xm::domain_name(d) == spec) {
            out = d;
            return true;
        }
    error = "domain '" + spec + "' not found";
    return false;
}

// The domains named (by name or id), in that order, or every domain when none is.
bool select_domains(ControlClient& control, const std::vector<std::string>& specs, std::vector<DomainStatus>& out,
                    std::string& error) {
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

int cmd_info(ControlClient& control, const std::vector<std::string>& args) {
    if (!args.empty()) return fail("info takes no arguments");
    HostInfo info;
    const int64_t result = control.call_with_buffer(kHostInfo, 0, &info, sizeof(info));
    if (result < 0) return fail("cannot get the host's information: " + xm::error_text(result));
    utsname names{};
    uname(&names);
    fputs(xm::info_text(info, names.nodename, names.release).c_str(), stdout);
    return 0;
}

int cmd_list(ControlClient& control, const std::vector<std::string>& args) {
    bool json = false;
    std::vector<std::string> wanted;
    for (const std::string& a : args) {
        if (a == "--json" || a == "-l" || a == "--long")
            json = true;
        else if (!a.empty() && a[0] == '-')
            return fail("list: unknown option '" + a + "'");
        else
            wanted.push_back(a);
    }
    std::vector<DomainStatus> shown;
    std::string error;
    if (!select_domains(control, wanted, shown, error)) return fail(error);
    if (json) {
        printf("%s\n", xm::list_json(shown).c_str());
        return 0;
    }
    printf("%s\n", xm::list_header().c_str());
    for (const DomainStatus& d : shown) printf("%s\n", xm::list_row(d).c_str());
    return 0;
}

int one_domain(ControlClient& control, const std::vector<std::string>& args, const char* command, DomainStatus& d) {
    if (args.size() != 1) return fail(std::string(command) + " takes one domain (a name or an id)");
    std::string error;
    if (!find_domain(control, args[0], d, error)) return fail(error);
    return 0;
}

int simple_call(ControlClient& control, const std::vector<std::string>& args, const char* command, uint64_t number) {
    DomainStatus d;
    if (const int r = one_domain(control, args, command, d)) return r;
    if (d.id == 0) return fail(std::string(command) + ": not Domain-0 itself");
    const int64_t result = control.call(number, d.id);
    if (result < 0) return fail(std::string(command) + " " + xm::domain_name(d) + ": " + xm::error_text(result));
    return 0;
}

int cmd_pause(ControlClient& c, const std::vector<std::string>& a) { return simple_call(c, a, "pause", kDomainPause); }
int cmd_unpause(ControlClient& c, const std::vector<std::string>& a) {
    return simple_call(c, a, "unpause", kDomainUnpause);
}
int cmd_destroy(ControlClient& c, const std::vector<std::string>& a) {
    return simple_call(c, a, "destroy", kDomainDestroy);
}

// shutdown [-w] DOMAIN: the ACPI power button; with -w, waits until it has shut down and
// then destroys it (what on_poweroff=destroy does on Xen), saying so every 10 s.
int cmd_shutdown(ControlClient& control, const std::vector<std::string>& args) {
    std::vector<std::string> rest;
    bool wait = false;
    for (const std::string& a : args) {
        if (a == "-w" || a == "--wait")
            wait = true;
        else
            rest.push_back(a);
    }
    DomainStatus d;
    if (const int r = one_domain(control, rest, "shutdown", d)) return r;
    if (d.id == 0) return fail("shutdown: not Domain-0 itself (power it off from its own shell)");
    const int64_t result = control.call(kDomainShutdown, d.id);
    if (result == kErrorNotSupported)
        return fail("shutdown " + xm::domain_name(d) + ": it has no power button to press (xm destroy ends it)");
    if (result < 0) return fail("shutdown " + xm::domain_name(d) + ": " + xm::error_text(result));
    if (!wait) return 0;
    const std::string name = xm::domain_name(d);
    for (unsigned tenths = 1;; ++tenths) {
        int64_t status_result;
        DomainStatus now;
        if (!control.status(d.id, now, status_result)) return 0;  // gone already
        if (now.state == kStateShutdown || now.state == kStateCrashed) break;
        if (tenths % 100 == 0) fprintf(stderr, "xm: waiting for %s to shut down (%u s)\n", name.c_str(), tenths / 10);
        timespec tenth{0, 100000000};
        nanosleep(&tenth, nullptr);
    }
    const int64_t destroyed = control.call(kDomainDestroy, d.id);
    if (destroyed < 0 && destroyed != kErrorNoSuchDomain)
        return fail("shutdown " + name + ": it shut down, but destroying it failed: " + xm::error_text(destroyed));
    printf("Domain %s (%u) has shut down.\n", name.c_str(), d.id);
    return 0;
}

int cmd_domid(ControlClient& control, const std::vector<std::string>& args) {
    DomainStatus d;
    if (const int r = one_domain(control, args, "domid", d)) return r;
    printf("%u\n", d.id);
    return 0;
}

int cmd_domname(ControlClient& control, const std::vector<std::string>& args) {
    DomainStatus d;
    if (const int r = one_domain(control, args, "domname", d)) return r;
    printf("%s\n", xm::domain_name(d).c_str());
    return 0;
}

int cmd_vcpu_list(ControlClient& control, const std::vector<std::string>& args) {
    std::vector<DomainStatus> shown;
    std::string error;
    if (!select_domains(control, args, shown, error)) return fail(error);
    printf("Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n");
    for (const DomainStatus& d : shown) {
        for (uint32_t v = 0; v < d.vcpus; ++v) {
            VcpuInfo info{};
            const int64_t result = control.call_with_buffer(kVcpuGetInfo, 2, &info, sizeof(info), d.id, v);
            if (result < 0) continue;  // gone meanwhile
            const char* state = info.state == kVcpuRunnable ? "r--" : info.state == kVcpuBlocked ? "-b-" : "--p";
            printf("%-32s %5u %5u %5u   %-3s %9.1f all / all\n", xm::domain_name(d).c_str(), d.id, v, info.cpu, state,
                   double(info.cpu_time_ns) / 1e9);
        }
    }
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

// create CONFIG [KEY=VALUE ...]: a Linux domain from an xl config file (settings after
// the file override it), built here in Domain-0 (dom0/xm/domain_builder.hpp).
int cmd_create(ControlClient& control, const std::vector<std::string>& args) {
    std::string path;
    std::vector<std::string> overrides;
    for (const std::string& a : args) {
        if (a == "-c") return fail("create -c: xm console is not there yet (create, then watch Vireo's console)");
        if (!a.empty() && a[0] == '-') return fail("create: unknown option '" + a + "'");
        if (path.empty())
            path = a;
        else if (a.find('=') != std::string::npos)
            overrides.push_back(a);
        else
            return fail("create: '" + a + "' is neither the config file nor a KEY=VALUE setting");
    }
    if (path.empty()) return fail("create takes a config file (xm help create)");
    std::vector<uint8_t> text;
    std::string error;
    if (!read_file(path, text, error)) return fail(error);
    printf("Parsing config from %s\n", path.c_str());
    fflush(stdout);  // before any error on stderr
    std::vector<char*> override_pointers;
    override_pointers.reserve(overrides.size());
    for (std::string& o : overrides) override_pointers.push_back(o.data());
    xm::XlConfig config;
    if (!xm::parse_xl_config_with_overrides(std::string(text.begin(), text.end()), path, int(override_pointers.size()),
                                            override_pointers.data(), config, error))
        return fail(error);
    if (config.on_reboot == xm::EndAction::Restart || config.on_poweroff != xm::EndAction::Preserve ||
        config.on_crash != xm::EndAction::Preserve)
        fprintf(stderr,
                "xm: note: on_poweroff, on_reboot and on_crash are not carried out yet: the domain stays as it "
                "ended until xm destroy (as 'preserve')\n");
    if (!config.cpus.empty() && config.cpus != "all")
        fprintf(stderr, "xm: note: cpus='%s' is not applied yet: its vCPUs may run on every CPU\n",
                config.cpus.c_str());
    std::vector<uint8_t> kernel, initrd;
    if (!read_file(config.kernel, kernel, error)) return fail("kernel: " + error);
    if (!config.ramdisk.empty() && !read_file(config.ramdisk, initrd, error)) return fail("ramdisk: " + error);
    xm::BuiltDomain built;
    if (!xm::create_linux_domain(control, config, kernel, initrd, built, error)) return fail(error);
    printf("Started domain %s (id=%u)\n", config.name.c_str(), built.id);
    return 0;
}

int help(const std::vector<std::string>& args);

const Command kCommands[] = {
    {"create", "create CONFIG [KEY=VALUE ...]", "Create a Linux domain from an xl config file", cmd_create},
    {"list", "list [--json] [DOMAIN ...]", "List domains, as xl list does", cmd_list},
    {"info", "info", "Show the host: CPUs, memory, Vireo's version and command line", cmd_info},
    {"shutdown", "shutdown [-w] DOMAIN", "Ask a domain to shut down (its power button); -w waits", cmd_shutdown},
    {"destroy", "destroy DOMAIN", "End a domain at once", cmd_destroy},
    {"pause", "pause DOMAIN", "Stop a domain's vCPUs", cmd_pause},
    {"unpause", "unpause DOMAIN", "Let a paused domain run", cmd_unpause},
    {"domid", "domid NAME", "A domain's id", cmd_domid},
    {"domname", "domname ID", "A domain's name", cmd_domname},
    {"vcpu-list", "vcpu-list [DOMAIN ...]", "List vCPUs: CPU, state and CPU time", cmd_vcpu_list},
    {"help", "help [COMMAND]", "This list, or one command's usage", nullptr},
};

int help(const std::vector<std::string>& args) {
    if (args.size() == 1) {
        for (const Command& c : kCommands)
            if (args[0] == c.name) {
                printf("Usage: xm %s\n\n%s.\n", c.usage, c.summary);
                return 0;
            }
        return fail("no command '" + args[0] + "' (xm help lists them)");
    }
    printf("Usage: xm COMMAND [ARGS]\n\n");
    for (const Command& c : kCommands) printf("  %-28s %s\n", c.usage, c.summary);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string name = argc >= 2 ? argv[1] : "help";
    const std::vector<std::string> args(argv + (argc >= 2 ? 2 : 1), argv + argc);
    for (const Command& c : kCommands) {
        if (name != c.name) continue;
        if (!c.run) return help(args);
        ControlClient control;
        if (!control.ok()) return fail(control.error());
        return c.run(control, args);
    }
    return fail("unknown command '" + name + "' (xm help lists them)");
}
