// The hypercall ABI (docs/hypercalls.md), bad arguments included: each gets its error
// code and the domain goes on.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

int guest_main(uint32_t, uint32_t info) {
    CHECK(call_hypervisor(kVersion) == int32_t(kVersionValue), "version is %#x", call_hypervisor(kVersion));
    CHECK(call_hypervisor(999) == kErrorNoSuchCall, "call 999 does not exist");
    CHECK(call_hypervisor(kCount) == kErrorNoSuchCall, "the first number past the last call does not exist");

    static const char hello[] = "hello from a hypercall\n";
    CHECK(call_hypervisor(kConsoleWrite, uint32_t(reinterpret_cast<uintptr_t>(hello)), sizeof(hello) - 1) ==
              int32_t(sizeof(hello) - 1),
          "console_write wrote %u bytes", unsigned(sizeof(hello) - 1));
    CHECK(call_hypervisor(kConsoleWrite, uint32_t(reinterpret_cast<uintptr_t>(hello)), 4096) == kErrorTooBig,
          "console_write of 4096 bytes is too big");
    CHECK(call_hypervisor(kConsoleWrite, 0xfffff000u, 16) == kErrorFault, "console_write from outside memory faults");
    CHECK(call_hypervisor(kConsoleWrite, 0, 0) == 0, "an empty console_write is fine");

    DomainInfo di;
    memset(&di, 0xee, sizeof(di));
    CHECK(call_hypervisor(kDomainInfo, uint32_t(reinterpret_cast<uintptr_t>(&di))) == 0, "domain_info answers");
    CHECK(di.vcpu_index == 0 && di.vcpu_count == 1, "vcpu 0 of 1 (%u of %u)", di.vcpu_index, di.vcpu_count);
    CHECK(di.memory_bytes == 16ull * 1024 * 1024, "16 MiB of memory (%llu bytes)", di.memory_bytes);
    CHECK(di.domain_id >= 1, "a domU id (%u)", di.domain_id);
    CHECK(call_hypervisor(kDomainInfo, 0xfffffff0u) == kErrorFault, "domain_info into a bad address faults");

    CHECK(call_hypervisor(kVcpuStart, 1, 0x100000, 0x200000) == kErrorInvalid, "there is no vCPU 1 to start");
    CHECK(call_hypervisor(kVcpuStart, 0, 0x100000, 0x200000) == kErrorBusy, "vCPU 0 is already running");

    // Every control call is refused to a domain that is not the control domain, with
    // arguments that would do something if it were not (a valid create, its own id,
    // every other id there is), and nothing changes: no domain comes.
    const int32_t alive = call_hypervisor(kDomainsAlive);
    static DomainCreateArgs create{};
    memcpy(create.name, "intruder", 9);
    create.memory_bytes = 16ull << 20;
    create.vcpus = 1;
    const uint32_t create_address = uint32_t(reinterpret_cast<uintptr_t>(&create));
    for (uint32_t n = kDomainCreate; n < kCount; ++n) {
        CHECK(call_hypervisor4(n, create_address, 0, create_address, 16) == kErrorPermission,
              "control call %u with a buffer: permission error", n);
        for (uint32_t id = 0; id <= di.domain_id + 1; ++id)
            CHECK(call_hypervisor4(n, id, 0, create_address, 16) == kErrorPermission,
                  "control call %u on domain %u: permission error", n, id);
    }
    // The suite's other domains may end meanwhile, but none can have come.
    const int32_t now_alive = call_hypervisor(kDomainsAlive);
    CHECK(now_alive <= alive, "no domain was created (%d alive before, %d now)", alive, now_alive);

    // The multiboot information (spec 3.3): memory map, command line, bootloader name.
    const uint32_t* mbi = reinterpret_cast<const uint32_t*>(info);
    CHECK((mbi[0] & 0x4d) == 0x4d, "multiboot flags %#x: memory, cmdline, modules, mmap", mbi[0]);
    CHECK(mbi[2] == (16u * 1024 - 1024), "mem_upper is %u KiB", mbi[2]);
    const char* cmdline = reinterpret_cast<const char*>(mbi[4]);
    CHECK(memcmp_equal(cmdline, "hello=world"), "command line '%s'", cmdline);
    CHECK(mbi[5] == 1, "one module (%u)", mbi[5]);
    if (mbi[5] == 1) {
        const uint32_t* mod = reinterpret_cast<const uint32_t*>(mbi[6]);
        const char* text = reinterpret_cast<const char*>(mod[0]);
        CHECK(mod[1] > mod[0] && text[0] == 'A', "module at %#x..%#x starts with '%c'", mod[0], mod[1], text[0]);
    }
    return finish("hypercalls");
}
