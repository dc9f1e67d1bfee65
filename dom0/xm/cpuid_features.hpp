// The CPU features a domain was given, as its CPUID shows them, by the names Linux gives
// them in /proc/cpuinfo: what xm save records of a domain (the save image's cpuid
// section, docs/save-format.md) and xm restore checks against the domain it makes on this
// host, so that a domain never wakes on a CPU without an instruction it may be using.
// Pure; host-tested (tests/unit/cpuid_features_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace xm {

struct CpuidRegisters {
    uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// The leaves that hold the feature flags: 1, 7 (subleaf 0) and 8000_0001h.
struct CpuidSnapshot {
    CpuidRegisters leaf1;
    CpuidRegisters leaf7;
    CpuidRegisters ext1;
};

enum class CpuidRegister : uint8_t { Eax, Ebx, Ecx, Edx };

struct CpuidFeature {
    uint32_t leaf;
    uint32_t subleaf;
    CpuidRegister reg;
    uint8_t bit;
    const char* name;  // Linux's /proc/cpuinfo flag
};

// Every feature Vireo may offer a domain in those leaves: those AMD and Intel both define
// (what a migratable domain may get, kernel/vm/cpuid_policy.cpp) and the few AMD's only
// that a domain of the host's CPUID gets on AMD (sse4a, misalignsse, mmxext).
const std::vector<CpuidFeature>& cpuid_features();

// The features set in `saved` and clear in `now`, in the table's order.
std::vector<std::string> missing_features(const CpuidSnapshot& saved, const CpuidSnapshot& now);

// The cpuid section's payload: leaf 1's EAX, EBX, ECX, EDX, then leaf 7.0's, then
// 8000_0001h's, each a u32, little-endian: 48 bytes.
inline constexpr size_t kCpuidSnapshotBytes = 48;
std::vector<uint8_t> encode_cpuid_snapshot(const CpuidSnapshot& snapshot);
// False for a payload of another length.
bool decode_cpuid_snapshot(const std::vector<uint8_t>& payload, CpuidSnapshot& out);

}  // namespace xm
