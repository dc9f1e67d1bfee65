// Writes to CR0, CR4 and EFER as a CPU judges them (Intel SDM vol. 2B "MOV - Move
// to/from Control Registers", vol. 3A 2.5, 4.1 and 9.8.5; AMD APM vol. 2 3.1): what the
// architecture refuses gets #GP and changes nothing, the rest takes effect. Vireo sees
// every such write (kernel/vm/control_register_writes.cpp); without that, VMRUN or VM
// entry would refuse the state and end the domain, and QEMU's TCG hangs the physical CPU
// on EFER.LME with paging but no PAE. Also: CR4.PKE cannot be set (CPUID hides PKU), so
// PKRU, which Vireo does not switch, stays out of a guest's reach.
#include "tests/guests/lib/reference.hpp"

namespace {

constexpr uint32_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Ts = 1u << 3, kCr0Ne = 1u << 5, kCr0Nw = 1u << 29,
                   kCr0Cd = 1u << 30, kCr0Pg = 1u << 31;
constexpr uint32_t kCr4Pse = 1u << 4, kCr4Pae = 1u << 5, kCr4Pge = 1u << 7;
constexpr uint32_t kEfer = 0xc0000080;
constexpr uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10;
constexpr int kGp = 13, kUd = 6;

uint32_t read_cr0() {
    uint32_t v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
uint32_t read_cr4() {
    uint32_t v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
uint64_t read_efer() {
    uint64_t v = 0;
    try_rdmsr(kEfer, v);
    return v;
}

// try_instruction runs a function without arguments: the value to write comes from here.
// Each writing instruction is the 3-byte 0F 22 /r, 0F 01 /6 or WRPKRU (0F 01 EF).
volatile uint32_t g_value;
void run_write_cr0() { asm volatile("mov %0, %%cr0" ::"r"(g_value) : "memory"); }
void run_write_cr4() { asm volatile("mov %0, %%cr4" ::"r"(g_value) : "memory"); }
void run_wrpkru() { asm volatile(".byte 0x0f, 0x01, 0xef" ::"a"(0), "c"(0), "d"(0) : "memory"); }

int try_cr0(uint32_t value) {
    g_value = value;
    return try_instruction(run_write_cr0, 3);
}
int try_cr4(uint32_t value) {
    g_value = value;
    return try_instruction(run_write_cr4, 3);
}

// Identity maps of the first 16 MiB (the domain's RAM): 32-bit paging with four 4 MiB
// pages, and PAE paging with eight 2 MiB pages under PDPTE 0.
alignas(4096) uint32_t g_pd32[1024];
alignas(4096) uint64_t g_pd_pae[512];
alignas(32) uint64_t g_pdpt[4];
alignas(4096) uint64_t g_pml4[512];
alignas(4096) uint64_t g_pdpt_long[512];

void build_tables() {
    for (uint32_t i = 0; i < 4; ++i) g_pd32[i] = (i << 22) | 0x83;  // present, writable, 4 MiB
    for (uint32_t i = 0; i < 8; ++i) g_pd_pae[i] = (uint64_t(i) << 21) | 0x83;
    g_pdpt[0] = reinterpret_cast<uint32_t>(g_pd_pae) | 1;
    g_pml4[0] = reinterpret_cast<uint32_t>(g_pdpt_long) | 3;
    g_pdpt_long[0] = reinterpret_cast<uint32_t>(g_pd_pae) | 3;
}

void set_cr3(const void* table) { asm volatile("mov %0, %%cr3" ::"r"(table) : "memory"); }

volatile uint32_t g_probe = 0;

// Turns paging on, checks that memory still reads and writes through the identity map,
// and turns it off again; the vector the enabling write raised, or -1.
int paging_round_trip(const char* what) {
    const uint32_t cr0 = read_cr0();
    const int vector = try_cr0(cr0 | kCr0Pg);
    if (vector >= 0) return vector;
    CHECK(read_cr0() & kCr0Pg, "%s: CR0.PG reads 1", what);
    g_probe = 0x1234abcd;
    CHECK(g_probe == 0x1234abcd, "%s: memory works through the guest's page tables", what);
    CHECK(try_cr0(cr0) < 0 && !(read_cr0() & kCr0Pg), "%s: and paging turns off again", what);
    return -1;
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    const uint32_t cr0 = read_cr0(), cr4 = read_cr4();
    CHECK((cr0 & (kCr0Pe | kCr0Pg)) == kCr0Pe, "protected mode without paging (CR0 %#x)", cr0);

    // CR4: the bits of features CPUID does not offer are reserved (SDM vol. 2B, MOV CR:
    // #GP); Vireo hides PKU, VMX and SMX (and PCID, LA57, UMIP, CET), so under it each is #GP.
    const Cpuid leaf1 = cpuid(1), leaf7 = cpuid(7);
    if (under_vireo()) {
        CHECK(!(leaf7.ecx & (1u << 3)), "CPUID hides PKU (leaf 7 ECX %#x)", leaf7.ecx);
        CHECK(!(leaf1.ecx & (1u << 5)) && !(leaf1.ecx & (1u << 6)), "and VMX and SMX (leaf 1 ECX %#x)", leaf1.ecx);
    }
    // PCIDE outside IA-32e mode is #GP even where PCID exists. A feature that is offered
    // (on a plain emulator, the reference run) is not the test's business: left alone.
    const struct {
        uint32_t bit;
        const char* name;
        bool offered;
    } features[] = {{1u << 22, "PKE", (leaf7.ecx & (1u << 3)) != 0},
                    {1u << 13, "VMXE", (leaf1.ecx & (1u << 5)) != 0},
                    {1u << 14, "SMXE", (leaf1.ecx & (1u << 6)) != 0},
                    {1u << 12, "LA57", (leaf7.ecx & (1u << 16)) != 0},
                    {1u << 11, "UMIP", (leaf7.ecx & (1u << 2)) != 0},
                    {1u << 17, "PCIDE", false},
                    {1u << 23, "CET", (leaf7.ecx & (1u << 7)) != 0},
                    {1u << 15, "bit 15", false},
                    {1u << 19, "bit 19", false},
                    {1u << 24, "PKS", false},
                    {1u << 31, "bit 31", false}};
    for (const auto& f : features) {
        if (f.offered) {
            print("     CR4.%s is offered here: not written\n", f.name);
            continue;
        }
        const int vector = try_cr4(cr4 | f.bit);
        CHECK(vector == kGp && read_cr4() == cr4, "CR4.%s: #GP and CR4 unchanged (vector %d, CR4 %#x)", f.name, vector,
              read_cr4());
    }
    int vector = try_instruction(run_wrpkru, 3);
    CHECK(vector == kUd, "WRPKRU: #UD, CR4.PKE being clear (vector %d)", vector);
    vector = try_cr4(cr4 | kCr4Pge | kCr4Pse | (1u << 2) | (1u << 3));  // PGE PSE TSD DE
    CHECK(vector < 0 && read_cr4() == (cr4 | kCr4Pge | kCr4Pse | 0xc), "CR4.PGE, PSE, TSD, DE set (CR4 %#x)",
          read_cr4());
    CHECK(try_cr4(cr4) < 0 && read_cr4() == cr4, "and cleared again (CR4 %#x)", read_cr4());

    // CR0: NW without CD is #GP; NE and CD may change (NE clear is legal, VT-x fixes it to
    // 1 in the real CR0: the guest must read its own value).
    vector = try_cr0(cr0 | kCr0Nw);
    CHECK(vector == kGp && read_cr0() == cr0, "CR0.NW without CD: #GP, CR0 unchanged (vector %d)", vector);
    CHECK(try_cr0(cr0 & ~kCr0Ne) < 0 && read_cr0() == (cr0 & ~kCr0Ne), "CR0.NE cleared: reads 0 (CR0 %#x)", read_cr0());
    CHECK(try_cr0(cr0 | kCr0Cd | kCr0Nw) < 0 && (read_cr0() & (kCr0Cd | kCr0Nw)) == (kCr0Cd | kCr0Nw),
          "CR0.CD and NW set together (CR0 %#x)", read_cr0());
    CHECK(try_cr0(cr0) < 0 && read_cr0() == cr0, "CR0 back to %#x (%#x)", cr0, read_cr0());

    // LMSW and CLTS: bits 3:0 only, PE cannot be cleared (SDM vol. 2A, LMSW, CLTS).
    uint16_t msw = uint16_t(cr0 | kCr0Ts | kCr0Mp);
    asm volatile("lmsw %0" ::"r"(msw) : "memory");
    CHECK((read_cr0() & (kCr0Ts | kCr0Mp)) == (kCr0Ts | kCr0Mp), "LMSW from a register sets TS and MP (CR0 %#x)",
          read_cr0());
    asm volatile("clts" ::: "memory");
    CHECK(!(read_cr0() & kCr0Ts), "CLTS clears TS (CR0 %#x)", read_cr0());
    static volatile uint16_t msw_in_memory;
    msw_in_memory = uint16_t(kCr0Ts);  // PE clear: LMSW cannot clear it
    asm volatile("lmsw %0" ::"m"(msw_in_memory) : "memory");
    CHECK((read_cr0() & (kCr0Pe | kCr0Ts | kCr0Mp)) == (kCr0Pe | kCr0Ts),
          "LMSW from memory: TS set, MP cleared, PE stays (CR0 %#x)", read_cr0());
    asm volatile("clts" ::: "memory");
    CHECK(try_cr0(cr0) < 0 && read_cr0() == cr0, "CR0 back to %#x (%#x)", cr0, read_cr0());

    // EFER: reserved bits and SVME (the extensions are hidden) are #GP.
    const uint64_t efer = read_efer();
    // SVME, FFXSR and TCE exist where CPUID offers SVM, FFXSR and TCE (AMD APM vol. 2
    // 3.1.7); Vireo offers none of them.
    const Cpuid ext1 = cpuid(0x80000001);
    const struct {
        uint32_t bit;
        bool offered;
    } efer_bits[] = {{1, false},
                     {9, false},
                     {12, (ext1.ecx & (1u << 2)) != 0},
                     {13, false},
                     {14, (ext1.edx & (1u << 25)) != 0},
                     {15, (ext1.ecx & (1u << 17)) != 0},
                     {16, false},
                     {31, false}};
    for (const auto& b : efer_bits) {
        if (b.offered) {
            print("     EFER bit %u is offered here: not written\n", b.bit);
            continue;
        }
        vector = try_wrmsr(kEfer, efer | (1ull << b.bit));
        CHECK(vector == kGp && read_efer() == efer, "EFER bit %u: #GP, EFER unchanged (vector %d)", b.bit, vector);
    }
    // LME with paging off is fine, but paging on with LME and without PAE is #GP (and
    // must never reach VMRUN, under which QEMU's TCG would hang the CPU).
    CHECK(try_wrmsr(kEfer, efer | kEferLme) < 0 && read_efer() == (efer | kEferLme), "EFER.LME set, paging off");
    build_tables();
    set_cr3(g_pd32);
    vector = try_cr0(cr0 | kCr0Pg);
    CHECK(vector == kGp && read_cr0() == cr0 && !(read_efer() & kEferLma),
          "CR0.PG with EFER.LME and without CR4.PAE: #GP, nothing changed (vector %d)", vector);
    CHECK(try_wrmsr(kEfer, efer) < 0 && read_efer() == efer, "EFER.LME cleared");
    vector = try_wrmsr(kEfer, efer | kEferLma);
    CHECK(vector < 0 && read_efer() == efer, "EFER.LMA written: ignored, it is the CPU's (vector %d)", vector);

    // 32-bit paging (4 MiB pages); while it is on, EFER.LME cannot change (#GP).
    CHECK(try_cr4(cr4 | kCr4Pse) < 0, "CR4.PSE set");
    vector = try_cr0(read_cr0() | kCr0Pg);
    CHECK(vector < 0 && (read_cr0() & kCr0Pg), "32-bit paging on (vector %d)", vector);
    if (vector < 0) {
        g_probe = 0x600d;
        CHECK(g_probe == 0x600d, "memory works through 4 MiB pages");
        vector = try_wrmsr(kEfer, efer | kEferLme);
        CHECK(vector == kGp && read_efer() == efer, "EFER.LME while paging: #GP (vector %d)", vector);
        CHECK(try_cr0(cr0) < 0 && !(read_cr0() & kCr0Pg), "paging off again");
    }

    // PAE paging; under it a CR4.PGE change reloads the PDPTEs (VT-x takes them from the
    // VMCS), so the tables must still work afterwards.
    set_cr3(g_pdpt);
    CHECK(try_cr4(cr4 | kCr4Pae) < 0 && (read_cr4() & kCr4Pae), "CR4.PAE set");
    vector = try_cr0(cr0 | kCr0Pg);
    CHECK(vector < 0, "PAE paging on (vector %d)", vector);
    if (vector < 0) {
        g_probe = 0xbeef;
        CHECK(g_probe == 0xbeef, "memory works through PAE's 2 MiB pages");
        CHECK(try_cr4(read_cr4() | kCr4Pge) < 0 && g_probe == 0xbeef, "CR4.PGE set under PAE paging");
        CHECK(try_cr4(read_cr4() & ~kCr4Pge) < 0 && g_probe == 0xbeef, "and cleared");
        CHECK(try_cr0(cr0) < 0 && !(read_cr0() & kCr0Pg), "paging off again");
    }
    if (g_intel) {
        // Intel loads the PDPTEs when paging turns on: a reserved bit (2:1) is #GP then
        // (SDM vol. 3A 4.4.1). AMD checks them only on a walk (#PF), so not here.
        g_pdpt[0] |= 2;
        vector = try_cr0(cr0 | kCr0Pg);
        CHECK(vector == kGp && read_cr0() == cr0, "PAE paging with a reserved PDPTE bit: #GP (vector %d)", vector);
        g_pdpt[0] &= ~2ull;
    }
    CHECK(paging_round_trip("PAE paging after all that") < 0, "PAE paging works again");
    CHECK(try_cr4(cr4) < 0 && read_cr4() == cr4, "CR4 back to %#x", cr4);

    // IA-32e mode entered in the order LME, PAE, PG (legal: LME does nothing until paging
    // turns on; under QEMU's TCG Vireo keeps it out of the VMCB meanwhile), in
    // compatibility mode since this code is 32-bit, and left again from there (SDM vol. 3A
    // 9.8.5). No exception may come meanwhile: the IDT holds 32-bit gates.
    set_cr3(g_pml4);
    const bool lme_set = try_wrmsr(kEfer, efer | kEferLme) < 0 && read_efer() == (efer | kEferLme);
    const bool pae_set = try_cr4(cr4 | kCr4Pae) < 0;
    const bool paging_on = try_cr0(cr0 | kCr0Pg) < 0;
    const uint64_t efer_in_long_mode = read_efer();
    g_probe = 0x10a9;
    const bool memory_works = g_probe == 0x10a9;
    const bool paging_off = try_cr0(cr0) < 0;
    const uint64_t efer_after = read_efer();
    CHECK(lme_set && pae_set && paging_on, "EFER.LME, then CR4.PAE, then CR0.PG set");
    CHECK(efer_in_long_mode & kEferLma, "IA-32e mode active: EFER.LMA reads 1 (EFER %#llx)", efer_in_long_mode);
    CHECK(memory_works, "memory works through 4-level page tables in compatibility mode");
    CHECK(paging_off && !(efer_after & kEferLma) && (efer_after & kEferLme),
          "paging off from compatibility mode leaves IA-32e mode: LMA 0, LME 1 (EFER %#llx)", efer_after);
    CHECK(try_wrmsr(kEfer, efer) < 0 && try_cr4(cr4) < 0 && read_efer() == efer && read_cr4() == cr4,
          "EFER and CR4 back to %#llx and %#x", efer, cr4);
    return finish("control_registers");
}
