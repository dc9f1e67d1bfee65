// xm create: a Linux domain from an xl config file, built here in Domain-0
// (dom0/xm/domain_builder.hpp), watched for its on_poweroff / on_reboot / on_crash
// (dom0/xm/domain_monitor.hpp), and with -c its console at once.
#include <stdio.h>

#include <string>
#include <vector>

#include "dom0/xm/console_session.hpp"
#include "dom0/xm/device_model_launch.hpp"
#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_monitor.hpp"
#include "dom0/xm/xl_config.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

// create CONFIG [-c] [-p] [KEY=VALUE ...]: settings after the file override it; -c
// attaches to its console, -p leaves it paused (xm unpause starts it).
int cmd_create(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string parse_error;
    if (!split_options(args, "create", {{"-c", "console"}, {"-p", "paused"}}, options, parse_error))
        return fail(parse_error);
    const bool console = options.has("console"), paused = options.has("paused");
    std::string path;
    std::vector<std::string> overrides;
    for (const std::string& a : options.rest) {
        if (path.empty()) {
            path = a;
        } else if (a.find('=') != std::string::npos) {
            overrides.push_back(a);
        } else {
            return fail("create: '" + a + "' is neither the config file nor a KEY=VALUE setting");
        }
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
    XlConfig config;
    if (!parse_xl_config_with_overrides(std::string(text.begin(), text.end()), path, int(override_pointers.size()),
                                        override_pointers.data(), config, error))
        return fail(error);
    config.start_paused = paused;
    std::vector<uint8_t> kernel, initrd;
    if (!read_file(config.kernel, kernel, error)) return fail("kernel: " + error);
    if (!config.ramdisk.empty() && !read_file(config.ramdisk, initrd, error)) return fail("ramdisk: " + error);
    BuiltDomain built;
    if (!create_domain_with_devices(control, config, kernel, initrd, built, error)) return fail(error);
    // A restart builds it unpaused: -p is for this start only.
    XlConfig restart = config;
    restart.start_paused = false;
    if (!start_domain_monitor(built.id, restart, kernel, initrd))
        fprintf(stderr, "xm: note: no monitor for %s: its on_poweroff, on_reboot and on_crash are not carried out\n",
                config.name.c_str());
    printf("Started domain %s (id=%u)%s\n", config.name.c_str(), built.id, paused ? ", paused" : "");
    fflush(stdout);
    if (!console) return 0;
    return run_console(built.id, config.name, 0);  // from its first line
}

}  // namespace xm
