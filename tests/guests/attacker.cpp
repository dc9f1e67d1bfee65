// The attack suite's hostile guest (ctest label `attacks`): one ELF for many domains, each
// running the attack its command line names (`-- attack=NAME`) beside the secret keeper
// (tests/guests/secret_keeper.cpp). Malformed boot input (bad domain lines, broken
// kernels, too many modules) is the `bad_config` tests' job, not repeated here.
#include "tests/guests/attack.hpp"

namespace {

struct Attack {
    const char* name;
    int (*run)();
};

const Attack kAttacks[] = {
    {"msrs", attack_msrs},           {"virtualization", attack_virtualization},
    {"faults", attack_faults},       {"ports", attack_ports},
    {"paging", attack_paging},       {"storm", attack_storm},
    {"ipi-storm", attack_ipi_storm}, {"fuzz", attack_fuzz},
    {"mmio", attack_mmio},
};

}  // namespace

uint32_t g_multiboot_info = 0;

int guest_main(uint32_t, uint32_t info) {
    g_multiboot_info = info;
    char name[32];
    command_line_value(info, "attack", name, sizeof(name));
    install_probe_hook();
    for (const Attack& a : kAttacks)
        if (string_equal(name, a.name)) return a.run();
    if (name[0] == 'e' && name[1] == 'n' && name[2] == 'd' && name[3] == '-') return attack_end(name + 4);
    print("no such attack '%s'\n", name);
    print("RESULT: FAIL attacker (no attack named)\n");
    return 2;
}
