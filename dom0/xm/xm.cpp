// xm: Domain-0's tool to manage the machine's domains, with Xen's commands and output
// (`xl list`'s columns, `xl info`'s lines). It talks to the hypervisor through
// /dev/vireo (dom0/module), one control hypercall at a time (docs/hypercalls.md); each
// command lives in the file of its kind (dom0/xm/xm_common.hpp lists them).
#include <stdio.h>

#include <string>
#include <vector>

#include "dom0/xm/xm_common.hpp"

namespace {

using xm::Args;
using xm::ControlClient;

struct Command {
    const char* name;
    const char* usage;
    const char* summary;
    int (*run)(ControlClient&, const Args&);
};

const Command kCommands[] = {
    {"create", "create CONFIG [-c] [-p] [KEY=VALUE ...]", "Create a Linux domain from an xl config file",
     xm::cmd_create},
    {"list", "list [--json] [DOMAIN ...]", "List domains, as xl list does", xm::cmd_list},
    {"console", "console [-t pv|serial] DOMAIN",
     "Attach to a domain's console: serial (COM1) or pv (hvc0); Ctrl-] detaches", xm::cmd_console},
    {"info", "info", "Show the host: CPUs, memory, Vireo's version and command line", xm::cmd_info},
    {"shutdown", "shutdown [-w] [-a | DOMAIN]", "Ask a domain to shut down (its power button); -w waits",
     xm::cmd_shutdown},
    {"reboot", "reboot DOMAIN", "Reset a domain (its on_reboot follows)", xm::cmd_reboot},
    {"destroy", "destroy DOMAIN", "End a domain at once", xm::cmd_destroy},
    {"pause", "pause DOMAIN", "Stop a domain's vCPUs", xm::cmd_pause},
    {"unpause", "unpause DOMAIN", "Let a paused domain run", xm::cmd_unpause},
    {"rename", "rename DOMAIN NEW-NAME", "Give a domain a new name", xm::cmd_rename},
    {"mem-set", "mem-set DOMAIN SIZE", "Set a domain's memory target (MiB; its balloon moves there)", xm::cmd_mem_set},
    {"dump-core", "dump-core DOMAIN FILE", "Write a domain's memory to an ELF core file (paused meanwhile)",
     xm::cmd_dump_core},
    {"save", "save [-c] DOMAIN FILE", "Save a domain to a file and destroy it (-c: it runs on)", xm::cmd_save},
    {"restore", "restore [-p] FILE", "Restore a domain from a file xm save wrote (-p: paused)", xm::cmd_restore},
    {"migrate", "migrate [-l|--live] DOMAIN HOST[:PORT]",
     "Move a domain to another Vireo host (--live: it runs while its memory goes)", xm::cmd_migrate},
    {"migrate-receive", "migrate-receive [--port PORT] [--from ADDR,...]",
     "Wait for one domain that xm migrate sends (port 8002) from these hosts (default: this one)",
     xm::cmd_migrate_receive},
    {"domid", "domid NAME", "A domain's id", xm::cmd_domid},
    {"domname", "domname ID", "A domain's name", xm::cmd_domname},
    {"vcpu-list", "vcpu-list [--exits] [DOMAIN ...]", "List vCPUs: CPU, state, CPU time (exits) and affinity",
     xm::cmd_vcpu_list},
    {"vcpu-pin", "vcpu-pin DOMAIN VCPU|all HARD|all|- [SOFT|all|-]",
     "Pin vCPUs to physical CPUs (hard), or say which they prefer (soft)", xm::cmd_vcpu_pin},
    {"sched-credit", "sched-credit [-d DOMAIN [-w WEIGHT] [-c CAP]]",
     "Show domains' credit-scheduler weight and cap (percent of one CPU), or set a domain's", xm::cmd_sched_credit},
    {"uptime", "uptime [-s] [DOMAIN ...]", "How long each domain has run", xm::cmd_uptime},
    {"dmesg", "dmesg [-c]", "Show Vireo's log (-c: then clear it)", xm::cmd_dmesg},
    {"top", "top [-d SECONDS] [-i ITERATIONS]", "Domains' CPU and memory use, frame by frame", xm::cmd_top},
    {"help", "help [COMMAND]", "This list, or one command's usage", nullptr},
};

int help(const Args& args) {
    if (args.size() == 1) {
        for (const Command& c : kCommands)
            if (args[0] == c.name) {
                printf("Usage: xm %s\n\n%s.\n", c.usage, c.summary);
                return 0;
            }
        return xm::fail("no command '" + args[0] + "' (xm help lists them)");
    }
    printf("Usage: xm COMMAND [ARGS]\n\n");
    for (const Command& c : kCommands) printf("  %-40s %s\n", c.usage, c.summary);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string name = argc >= 2 ? argv[1] : "help";
    const Args args(argv + (argc >= 2 ? 2 : 1), argv + argc);
    for (const Command& c : kCommands) {
        if (name != c.name) continue;
        if (!c.run) return help(args);
        ControlClient control;
        if (!control.ok()) return xm::fail(control.error());
        return c.run(control, args);
    }
    return xm::fail("unknown command '" + name + "' (xm help lists them)");
}
