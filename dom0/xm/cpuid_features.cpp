#include "dom0/xm/cpuid_features.hpp"

namespace xm {

namespace {

using R = CpuidRegister;

// Bits as Intel's SDM vol. 2A (CPUID, tables 3-8, 3-10, 3-11) and AMD's APM vol. 3
// (appendix E.3.2, E.3.6, E.4.2) define them; names as Linux's cpufeatures.h gives them
// (SSE3 is "pni", LZCNT "abm", PREFETCHW "3dnowprefetch", SHA "sha_ni"). OSXSAVE and the
// hypervisor bit are not features a guest was given, and are left out.
const std::vector<CpuidFeature> kFeatures = {
    {1, 0, R::Edx, 0, "fpu"},
    {1, 0, R::Edx, 1, "vme"},
    {1, 0, R::Edx, 2, "de"},
    {1, 0, R::Edx, 3, "pse"},
    {1, 0, R::Edx, 4, "tsc"},
    {1, 0, R::Edx, 5, "msr"},
    {1, 0, R::Edx, 6, "pae"},
    {1, 0, R::Edx, 8, "cx8"},
    {1, 0, R::Edx, 9, "apic"},
    {1, 0, R::Edx, 11, "sep"},
    {1, 0, R::Edx, 13, "pge"},
    {1, 0, R::Edx, 15, "cmov"},
    {1, 0, R::Edx, 16, "pat"},
    {1, 0, R::Edx, 17, "pse36"},
    {1, 0, R::Edx, 19, "clflush"},
    {1, 0, R::Edx, 23, "mmx"},
    {1, 0, R::Edx, 24, "fxsr"},
    {1, 0, R::Edx, 25, "sse"},
    {1, 0, R::Edx, 26, "sse2"},
    {1, 0, R::Ecx, 0, "pni"},
    {1, 0, R::Ecx, 1, "pclmulqdq"},
    {1, 0, R::Ecx, 9, "ssse3"},
    {1, 0, R::Ecx, 12, "fma"},
    {1, 0, R::Ecx, 13, "cx16"},
    {1, 0, R::Ecx, 17, "pcid"},
    {1, 0, R::Ecx, 19, "sse4_1"},
    {1, 0, R::Ecx, 20, "sse4_2"},
    {1, 0, R::Ecx, 21, "x2apic"},
    {1, 0, R::Ecx, 22, "movbe"},
    {1, 0, R::Ecx, 23, "popcnt"},
    {1, 0, R::Ecx, 24, "tsc_deadline_timer"},
    {1, 0, R::Ecx, 25, "aes"},
    {1, 0, R::Ecx, 26, "xsave"},
    {1, 0, R::Ecx, 28, "avx"},
    {1, 0, R::Ecx, 29, "f16c"},
    {1, 0, R::Ecx, 30, "rdrand"},
    {7, 0, R::Ebx, 0, "fsgsbase"},
    {7, 0, R::Ebx, 3, "bmi1"},
    {7, 0, R::Ebx, 5, "avx2"},
    {7, 0, R::Ebx, 7, "smep"},
    {7, 0, R::Ebx, 8, "bmi2"},
    {7, 0, R::Ebx, 9, "erms"},
    {7, 0, R::Ebx, 10, "invpcid"},
    {7, 0, R::Ebx, 18, "rdseed"},
    {7, 0, R::Ebx, 19, "adx"},
    {7, 0, R::Ebx, 20, "smap"},
    {7, 0, R::Ebx, 23, "clflushopt"},
    {7, 0, R::Ebx, 24, "clwb"},
    {7, 0, R::Ebx, 29, "sha_ni"},
    {0x80000001, 0, R::Edx, 11, "syscall"},
    {0x80000001, 0, R::Edx, 20, "nx"},
    {0x80000001, 0, R::Edx, 22, "mmxext"},  // AMD's only
    {0x80000001, 0, R::Edx, 26, "pdpe1gb"},
    {0x80000001, 0, R::Edx, 27, "rdtscp"},
    {0x80000001, 0, R::Edx, 29, "lm"},
    {0x80000001, 0, R::Ecx, 0, "lahf_lm"},
    {0x80000001, 0, R::Ecx, 5, "abm"},
    {0x80000001, 0, R::Ecx, 6, "sse4a"},        // AMD's only
    {0x80000001, 0, R::Ecx, 7, "misalignsse"},  // AMD's only
    {0x80000001, 0, R::Ecx, 8, "3dnowprefetch"},
};

const CpuidRegisters* leaf_of(const CpuidSnapshot& s, uint32_t leaf) {
    switch (leaf) {
        case 1: return &s.leaf1;
        case 7: return &s.leaf7;
        case 0x80000001: return &s.ext1;
        default: return nullptr;
    }
}

uint32_t register_of(const CpuidRegisters& r, CpuidRegister reg) {
    switch (reg) {
        case R::Eax: return r.eax;
        case R::Ebx: return r.ebx;
        case R::Ecx: return r.ecx;
        case R::Edx: return r.edx;
    }
    return 0;
}

bool has(const CpuidSnapshot& s, const CpuidFeature& f) {
    const CpuidRegisters* leaf = leaf_of(s, f.leaf);
    return leaf && ((register_of(*leaf, f.reg) >> f.bit) & 1) != 0;
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

uint32_t get32(const uint8_t* p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
    return v;
}

}  // namespace

const std::vector<CpuidFeature>& cpuid_features() { return kFeatures; }

std::vector<std::string> missing_features(const CpuidSnapshot& saved, const CpuidSnapshot& now) {
    std::vector<std::string> missing;
    for (const CpuidFeature& f : kFeatures)
        if (has(saved, f) && !has(now, f)) missing.emplace_back(f.name);
    return missing;
}

std::vector<uint8_t> encode_cpuid_snapshot(const CpuidSnapshot& s) {
    std::vector<uint8_t> out;
    out.reserve(kCpuidSnapshotBytes);
    for (const CpuidRegisters* r : {&s.leaf1, &s.leaf7, &s.ext1}) {
        put32(out, r->eax);
        put32(out, r->ebx);
        put32(out, r->ecx);
        put32(out, r->edx);
    }
    return out;
}

bool decode_cpuid_snapshot(const std::vector<uint8_t>& payload, CpuidSnapshot& out) {
    if (payload.size() != kCpuidSnapshotBytes) return false;
    const uint8_t* p = payload.data();
    for (CpuidRegisters* r : {&out.leaf1, &out.leaf7, &out.ext1}) {
        r->eax = get32(p);
        r->ebx = get32(p + 4);
        r->ecx = get32(p + 8);
        r->edx = get32(p + 12);
        p += 16;
    }
    return true;
}

}  // namespace xm
