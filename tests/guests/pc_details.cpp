// Details of the virtual PC that guests rely on (domain option platform=pc), each as a
// real machine has it: ACPI tables found by the legacy RSDP scan (ACPI 6.5 5.2.5.1) in a
// Multiboot domain too; the machine-check and legacy performance-counter MSRs guests touch
// unconditionally (Intel SDM vol. 3B 16.3.1, vol. 4; AMD APM vol. 2 13.2.1); the writable
// bits of IA32_MISC_ENABLE; the local APIC timer keeping its count across a switch
// between one-shot and periodic (SDM vol. 3A 11.5.4.1); and a globally disabled local
// APIC: its page reads all ones and CPUID no longer reports it (SDM vol. 3A 11.4.3).
#include "tests/guests/lib/reference.hpp"

namespace {

constexpr uint32_t kLapic = 0xfee00000;
constexpr uint32_t kVersion = 0x30, kSvr = 0xf0, kLvtTimer = 0x320, kTimerInitial = 0x380, kTimerCurrent = 0x390,
                   kTimerDivide = 0x3e0;
constexpr uint32_t kMasked = 1u << 16, kPeriodic = 1u << 17;
constexpr uint32_t kApicBaseMsr = 0x1b, kMiscEnable = 0x1a0, kMcgCap = 0x179, kMcgStatus = 0x17a;
constexpr uint64_t kApicBaseEnable = 1u << 11;
constexpr int kGp = 13;

volatile uint32_t& lapic(uint32_t offset) { return *reinterpret_cast<volatile uint32_t*>(kLapic + offset); }

bool signature_is(const uint8_t* p, const char* s) {
    for (int i = 0; s[i]; ++i)
        if (p[i] != uint8_t(s[i])) return false;
    return true;
}

uint8_t checksum(const uint8_t* p, uint32_t length) {
    uint8_t sum = 0;
    for (uint32_t i = 0; i < length; ++i) sum = uint8_t(sum + p[i]);
    return sum;
}

uint32_t read32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }

// The RSDT's tables by signature, after the legacy scan of 0xE0000-0xFFFFF on 16-byte
// boundaries found an RSDP with a valid checksum.
bool acpi_has(const uint8_t* rsdt, const char* signature) {
    const uint32_t length = read32(rsdt + 4);
    for (uint32_t at = 36; at + 4 <= length; at += 4)
        if (signature_is(reinterpret_cast<const uint8_t*>(read32(rsdt + at)), signature)) return true;
    return false;
}

}  // namespace

int guest_main(uint32_t magic, uint32_t) {
    CHECK(magic == 0x2badb002, "a Multiboot domain (magic %#x)", magic);

    // 1. ACPI tables for a Multiboot domain with the virtual PC.
    const uint8_t* rsdp = nullptr;
    for (uint32_t at = 0xe0000; at < 0x100000 && !rsdp; at += 16) {
        const uint8_t* p = reinterpret_cast<const uint8_t*>(at);
        if (signature_is(p, "RSD PTR ") && checksum(p, 20) == 0) rsdp = p;
    }
    CHECK(rsdp != nullptr, "an RSDP in 0xE0000-0xFFFFF (%#x)", uint32_t(reinterpret_cast<uintptr_t>(rsdp)));
    if (rsdp) {
        const uint8_t* rsdt = reinterpret_cast<const uint8_t*>(read32(rsdp + 16));
        CHECK(signature_is(rsdt, "RSDT") && checksum(rsdt, read32(rsdt + 4)) == 0, "its RSDT, checksum valid");
        CHECK(acpi_has(rsdt, "APIC") && acpi_has(rsdt, "FACP"), "listing a MADT and a FADT");
    }

    // 2. MSRs guests touch unconditionally: Vireo's policy (a real CPU has banks, counters
    // and its own IA32_MISC_ENABLE), so checked under Vireo only.
    const bool vireo = under_vireo();
    uint64_t value = 1;
    if (vireo) {
        CHECK(try_rdmsr(kMcgCap, value) < 0 && value == 0, "IA32_MCG_CAP reads 0: no banks (%#llx)", value);
        CHECK(try_wrmsr(kMcgCap, 0) == kGp, "and is read-only (#GP)");
        value = 1;
        CHECK(try_rdmsr(kMcgStatus, value) < 0 && value == 0 && try_wrmsr(kMcgStatus, 0) < 0,
              "IA32_MCG_STATUS reads 0 and takes 0");
        if (!g_intel) {
            bool all_zero = true, writes_taken = true;
            for (uint32_t msr = 0xc0010000; msr <= 0xc0010007; ++msr) {
                writes_taken = writes_taken && try_wrmsr(msr, 0x430076) < 0;  // event 0x76, user+OS, enabled
                all_zero = all_zero && try_rdmsr(msr, value) < 0 && value == 0;
            }
            CHECK(writes_taken && all_zero, "AMD PerfEvtSel0-3 and PerfCtr0-3: writes taken, reads 0 (no counters)");
            CHECK(try_rdmsr(0xc001001f, value) < 0 && value == 0, "AMD NB_CFG reads 0 (%#llx)", value);
            CHECK(try_rdmsr(0xc0011029, value) < 0 && (value & 2) && try_wrmsr(0xc0011029, value) < 0,
                  "AMD DE_CFG: LFENCE is serializing (%#llx), writes taken", value);
        }
        uint64_t misc = 0;
        CHECK(try_rdmsr(kMiscEnable, misc) < 0 && (misc & 1), "IA32_MISC_ENABLE: fast strings on (%#llx)", misc);
        CHECK(try_wrmsr(kMiscEnable, misc & ~1ull) < 0 && try_rdmsr(kMiscEnable, value) < 0 && value == (misc & ~1ull),
              "fast strings turned off reads back off (%#llx)", value);
        CHECK(try_wrmsr(kMiscEnable, misc | (1ull << 22)) == kGp, "limiting CPUID (not offered) is #GP");
        CHECK(try_wrmsr(kMiscEnable, misc) < 0 && try_rdmsr(kMiscEnable, value) < 0 && value == misc,
              "and back to %#llx", misc);
    }

    // 3. The timer between one-shot and periodic: the count goes on.
    lapic(kSvr) = 0x1ff;
    lapic(kTimerDivide) = 0xb;  // divide by 1
    lapic(kLvtTimer) = kMasked | 64;
    lapic(kTimerInitial) = 0xfffffff0u;
    lapic(kLvtTimer) = kMasked | kPeriodic | 64;
    const uint32_t periodic = lapic(kTimerCurrent), initial = lapic(kTimerInitial);
    CHECK(initial == 0xfffffff0u && periodic != 0, "one-shot to periodic: initial %#x, counting at %#x", initial,
          periodic);
    lapic(kLvtTimer) = kMasked | 64;
    const uint32_t one_shot = lapic(kTimerCurrent);
    CHECK(one_shot != 0 && one_shot <= periodic, "periodic to one-shot: still counting (%#x)", one_shot);
    lapic(kTimerInitial) = 0;

    // 4. The local APIC globally disabled, then enabled again.
    uint64_t base = 0;
    CHECK(try_rdmsr(kApicBaseMsr, base) < 0 && (base & kApicBaseEnable), "IA32_APIC_BASE %#llx: enabled", base);
    CHECK(cpuid(1).edx & (1u << 9), "CPUID.1:EDX.APIC set");
    CHECK(try_wrmsr(kApicBaseMsr, base & ~kApicBaseEnable) < 0, "the APIC disabled in IA32_APIC_BASE");
    CHECK(!(cpuid(1).edx & (1u << 9)), "CPUID.1:EDX.APIC clear while it is off");
    // QEMU's own APIC keeps decoding its page while disabled (unlike hardware): not checked there.
    if (vireo) CHECK(lapic(kVersion) == 0xffffffffu, "its page reads all ones (%#x)", lapic(kVersion));
    CHECK(try_wrmsr(kApicBaseMsr, base) < 0, "the APIC enabled again");
    // Re-enabled (possible on system-bus APICs, SDM 11.4.3), the flag is back; QEMU's
    // TCG leaves it clear until a reset: not checked there.
    if (vireo) CHECK(cpuid(1).edx & (1u << 9), "CPUID.1:EDX.APIC set again");
    CHECK((lapic(kVersion) & 0xff) == 0x14, "its page answers again (version %#x)", lapic(kVersion));
    return finish("pc_details");
}
