// Attacks that must end their domain (attack=end-NAME, one domain each): Vireo ends it
// with a "crashed: ..." line naming what it did, and nothing else happens. The domains
// have 4 MiB of RAM (8 MiB for the paging ones: tests/guests/grub.cfg).
#include "tests/guests/attack_paging.hpp"

namespace {

constexpr uint32_t kPastRam = 0x1000000;  // 16 MiB

uint32_t g_far_table_pd_index = 5;

[[noreturn]] void survived(const char* what) {
    print("FAIL: still alive after %s\n", what);
    print("RESULT: FAIL attack-end\n");
    guest_exit(3);
}

// The second task, where a CPU that does not intercept task switches goes: QEMU's TCG
// ignores AMD-V's task-switch intercept and switches itself (Bochs's VT-x exits, as
// the SDM says it must).
[[noreturn]] void task_switched() {
    print("the CPU model switched tasks itself: no intercept\n");
    guest_exit(4);
}

uint32_t read32(uint32_t address) { return *reinterpret_cast<volatile uint32_t*>(address); }

}  // namespace

int attack_end(const char* name) {
    if (string_equal(name, "read")) {
        print("reading guest-physical %#x, past this domain's RAM\n", kPastRam);
        read32(kPastRam);
    } else if (string_equal(name, "write")) {
        print("writing guest-physical %#x, past this domain's RAM\n", kPastRam + 0x10);
        *reinterpret_cast<volatile uint32_t*>(kPastRam + 0x10) = 1;
    } else if (string_equal(name, "exec")) {
        print("jumping to guest-physical %#x, past this domain's RAM\n", kPastRam + 0x20);
        reinterpret_cast<void (*)()>(kPastRam + 0x20)();
    } else if (string_equal(name, "lapic")) {
        print("reading the local APIC's page, which this machine does not have\n");
        read32(0xfee00020);
    } else if (string_equal(name, "ioapic")) {
        print("writing the I/O APIC's page, which this machine does not have\n");
        *reinterpret_cast<volatile uint32_t*>(0xfec00000) = 1;
    } else if (string_equal(name, "hpet")) {
        print("reading an HPET's page, which no Vireo machine has\n");
        read32(0xfed00000);
    } else if (string_equal(name, "mmio-exec")) {
        print("jumping into the test MMIO device\n");
        reinterpret_cast<void (*)()>(0xfe000100)();
    } else if (string_equal(name, "mmio-cmpxchg8b")) {
        print("LOCK CMPXCHG8B on the test MMIO device\n");
        uint32_t eax = 0, edx = 0;
        asm volatile("lock cmpxchg8b (%2)" : "+a"(eax), "+d"(edx) : "r"(0xfe000008), "b"(1), "c"(2) : "memory", "cc");
    } else if (string_equal(name, "task-switch")) {
        print("jumping to a TSS: a hardware task switch\n");
        load_attack_gdt();
        prepare_second_task(task_switched);
        asm volatile("ljmp $0x38, $0" ::: "memory");  // kAttackSecondTss, available
    } else if (string_equal(name, "high") || string_equal(name, "walk") || string_equal(name, "mmio-tables")) {
        PaeTables& t = pae_tables();
        pae_identity_map(t);
        const uint32_t linear = 0x40000000u + (g_far_table_pd_index << 21);
        if (string_equal(name, "high")) {
            // A 2 MiB page at 4 GiB, above the 32-bit space: PAE reaches it (4.4.2).
            t.pd[1][g_far_table_pd_index] = 0x100000000ull | 0x83;
            print("reading through a PAE entry for guest-physical 0x100000000\n");
        } else if (string_equal(name, "walk")) {
            t.pd[1][g_far_table_pd_index] = 0x40000000ull | 0x3;  // a page table at 1 GiB
            print("reading through a page table at guest-physical 0x40000000\n");
        } else {
            t.pd[1][g_far_table_pd_index] = 0xfe000000ull | 0x3;  // a page table in the MMIO device
            print("reading through a page table in the test MMIO device\n");
        }
        pae_enable(t);
        read32(linear + 0x123 * 4);
    } else {
        print("no such attack 'end-%s'\n", name);
        return 2;
    }
    survived(name);
}
