#include "dom0/xm/cpuid_features.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace xm;

using Names = std::vector<std::string>;

// Leaf 1 ECX bit 20 SSE4.2, 28 AVX; leaf 7.0 EBX bit 5 AVX2, 29 SHA; 8000_0001h ECX bit 6
// SSE4A (Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E).
constexpr uint32_t kSse42 = 1u << 20, kAvx = 1u << 28, kAvx2 = 1u << 5, kSha = 1u << 29, kSse4a = 1u << 6;

CpuidSnapshot rich() {
    CpuidSnapshot s;
    s.leaf1 = {0x00a00f11, 0x00020800, 0xffffffff, 0xffffffff};
    s.leaf7 = {0, 0xffffffff, 0, 0};
    s.ext1 = {0x00a00f11, 0, 0xffffffff, 0xffffffff};
    return s;
}

TEST(CpuidFeatures, NothingMissingOnTheSameOrARicherCpu) {
    EXPECT_EQ(missing_features(rich(), rich()), Names{});
    CpuidSnapshot poorer = rich();
    poorer.leaf1.ecx &= ~kSse42;
    EXPECT_EQ(missing_features(poorer, rich()), Names{});
    EXPECT_EQ(missing_features(CpuidSnapshot{}, CpuidSnapshot{}), Names{});
}

TEST(CpuidFeatures, NamesEachFeatureSavedAndNowClearInTableOrder) {
    CpuidSnapshot now = rich();
    now.leaf1.ecx &= ~(kSse42 | kAvx);
    now.leaf7.ebx &= ~(kAvx2 | kSha);
    now.ext1.ecx &= ~kSse4a;
    EXPECT_EQ(missing_features(rich(), now), (Names{"sse4_2", "avx", "avx2", "sha_ni", "sse4a"}));
}

TEST(CpuidFeatures, RegistersAndBitsOutsideTheTableAreIgnored) {
    CpuidSnapshot now = rich();
    now.leaf1.eax = 0x000306c3;    // another family and model
    now.leaf1.ebx = 0;             // APIC ID, CLFLUSH size
    now.leaf1.ecx &= ~(1u << 27);  // OSXSAVE: the guest's CR4, not a feature
    now.leaf1.ecx &= ~(1u << 31);  // the hypervisor bit
    now.leaf1.ecx &= ~(1u << 5);   // VMX, which no guest gets
    now.leaf7.ecx = 0;
    now.ext1.ecx &= ~(1u << 2);  // SVM
    EXPECT_EQ(missing_features(rich(), now), Names{});
}

TEST(CpuidFeatures, TableHasUniqueNamesAndBits) {
    std::set<std::string> names;
    std::set<std::tuple<uint32_t, uint32_t, int, int>> bits;
    for (const CpuidFeature& f : cpuid_features()) {
        EXPECT_TRUE(names.insert(f.name).second) << f.name;
        EXPECT_TRUE(bits.insert({f.leaf, f.subleaf, int(f.reg), f.bit}).second) << f.name;
        EXPECT_LT(f.bit, 32) << f.name;
        EXPECT_TRUE(f.leaf == 1 || f.leaf == 7 || f.leaf == 0x80000001) << f.name;
        EXPECT_EQ(f.subleaf, 0u) << f.name;
    }
    for (const char* name : {"sse2", "pni", "sse4_2", "avx", "avx2", "aes", "nx", "lm", "abm"})
        EXPECT_TRUE(names.count(name)) << name;
    EXPECT_FALSE(names.count("vmx"));
    EXPECT_FALSE(names.count("svm"));
    EXPECT_FALSE(names.count("hypervisor"));
}

TEST(CpuidFeatures, SnapshotEncodingIsFixedLittleEndian) {
    CpuidSnapshot s;
    s.leaf1 = {0x01020304, 0x11121314, 0x21222324, 0x31323334};
    s.leaf7 = {0x41424344, 0x51525354, 0x61626364, 0x71727374};
    s.ext1 = {0x81828384, 0x91929394, 0xa1a2a3a4, 0xb1b2b3b4};
    const std::vector<uint8_t> bytes = encode_cpuid_snapshot(s);
    ASSERT_EQ(bytes.size(), kCpuidSnapshotBytes);
    EXPECT_EQ(bytes[0], 0x04);
    EXPECT_EQ(bytes[3], 0x01);
    EXPECT_EQ(bytes[8], 0x24);   // leaf 1 ECX
    EXPECT_EQ(bytes[20], 0x54);  // leaf 7 EBX
    EXPECT_EQ(bytes[47], 0xb1);  // 8000_0001h EDX
    CpuidSnapshot back;
    ASSERT_TRUE(decode_cpuid_snapshot(bytes, back));
    EXPECT_EQ(encode_cpuid_snapshot(back), bytes);
    EXPECT_EQ(back.ext1.ecx, 0xa1a2a3a4u);
    std::vector<uint8_t> short_payload(bytes.begin(), bytes.end() - 1);
    EXPECT_FALSE(decode_cpuid_snapshot(short_payload, back));
    std::vector<uint8_t> long_payload = bytes;
    long_payload.push_back(0);
    EXPECT_FALSE(decode_cpuid_snapshot(long_payload, back));
}

}  // namespace
