#include "kernel/vm/domain_config.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace {

struct Parsed {
    bool ok;
    DomainModuleLine line;
    std::string error;
};

Parsed parse(const char* cmdline, u32 index = 0) {
    Parsed p;
    char error[128];
    error[0] = 0;
    p.ok = parse_domain_line(cmdline, index, p.line, error, sizeof(error));
    p.error = p.ok ? std::string() : std::string(error);
    return p;
}

bool memory_size(const std::string& text, u64& bytes) { return parse_memory_size(text.data(), text.size(), bytes); }

u64 memory_of(const char* cmdline) {
    Parsed p = parse(cmdline);
    EXPECT_TRUE(p.ok) << cmdline << ": " << p.error;
    return p.line.memory_bytes;
}

TEST(DomainConfig, RecognizesDomainLines) {
    EXPECT_TRUE(is_domain_line("domain"));
    EXPECT_TRUE(is_domain_line("domain name=t1"));
    EXPECT_TRUE(is_domain_line("domain\tname=t1"));
    EXPECT_TRUE(is_domain_line("   domain mem=64M"));
    EXPECT_TRUE(is_domain_line("\t domain"));
    EXPECT_FALSE(is_domain_line(nullptr));
    EXPECT_FALSE(is_domain_line(""));
    EXPECT_FALSE(is_domain_line("   "));
    EXPECT_FALSE(is_domain_line("domainx"));
    EXPECT_FALSE(is_domain_line("domainx name=t1"));
    EXPECT_FALSE(is_domain_line("domai"));
    EXPECT_FALSE(is_domain_line("initrd.img"));
    EXPECT_FALSE(is_domain_line("mydomain name=t1"));
    EXPECT_FALSE(is_domain_line("console=ttyS0 domain"));
}

TEST(DomainConfig, DefaultsForABareDomainLine) {
    Parsed p = parse("domain", 0);
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_STREQ(p.line.name, "dom0");
    EXPECT_EQ(p.line.memory_bytes, 32ull * 1024 * 1024);
    EXPECT_EQ(p.line.vcpus, 1u);
    EXPECT_STREQ(p.line.guest_cmdline, "");

    EXPECT_STREQ(parse("domain", 7).line.name, "dom7");
    EXPECT_STREQ(parse("domain   ", 12).line.name, "dom12");
    EXPECT_STREQ(parse("domain", 4294967295u).line.name, "dom4294967295");
}

TEST(DomainConfig, ParsesEveryKey) {
    Parsed p = parse("domain name=t1 mem=64M vcpus=2 -- console=ttyS0 quiet", 5);
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_STREQ(p.line.name, "t1");
    EXPECT_EQ(p.line.memory_bytes, 64ull * 1024 * 1024);
    EXPECT_EQ(p.line.vcpus, 2u);
    EXPECT_STREQ(p.line.guest_cmdline, "console=ttyS0 quiet");
}

TEST(DomainConfig, PlatformPc) {
    EXPECT_FALSE(parse("domain name=t1").line.pc_platform);
    Parsed p = parse("domain name=t1 platform=pc");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_TRUE(p.line.pc_platform);
    Parsed bad = parse("domain platform=amiga");
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("the only platform is 'pc'"), std::string::npos) << bad.error;
    EXPECT_FALSE(parse("domain platform=").ok);
}

TEST(DomainConfig, RoleControl) {
    EXPECT_FALSE(parse("domain name=t1").line.privileged);
    Parsed p = parse("domain name=ctl role=control");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_TRUE(p.line.privileged);
    Parsed bad = parse("domain role=admin");
    EXPECT_FALSE(bad.ok);
    EXPECT_NE(bad.error.find("the only role is 'control'"), std::string::npos) << bad.error;
    EXPECT_FALSE(parse("domain role=").ok);
}

TEST(DomainConfig, Dom0Word) {
    EXPECT_FALSE(parse("domain name=t1").line.dom0);
    Parsed p = parse("domain name=Domain-0 dom0 mem=1G vcpus=2 -- console=ttyS0 dom0");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_TRUE(p.line.dom0);
    EXPECT_EQ(p.line.memory_bytes, 1ull << 30);
    EXPECT_STREQ(p.line.guest_cmdline, "console=ttyS0 dom0");
    EXPECT_FALSE(parse("domain dom0=yes").ok);
    EXPECT_FALSE(parse("domain dom00").ok);
}

TEST(DomainConfig, NamesForTheControlInterface) {
    EXPECT_TRUE(valid_domain_name("a", 1));
    EXPECT_TRUE(valid_domain_name("guest-B_2.x", 11));
    EXPECT_FALSE(valid_domain_name("", 0));
    EXPECT_FALSE(valid_domain_name("b!", 2));
    EXPECT_FALSE(valid_domain_name("has space", 9));
    const std::string longest(31, 'x');
    EXPECT_TRUE(valid_domain_name(longest.data(), longest.size()));
    const std::string too_long(32, 'x');
    EXPECT_FALSE(valid_domain_name(too_long.data(), too_long.size()));
}

TEST(DomainConfig, KeysInAnyOrderWithTabsAndLeadingSpaces) {
    Parsed p = parse("  \tdomain\tvcpus=8   mem=1G\tname=guest-B_2.x  ");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_STREQ(p.line.name, "guest-B_2.x");
    EXPECT_EQ(p.line.memory_bytes, 1024ull * 1024 * 1024);
    EXPECT_EQ(p.line.vcpus, 8u);
    EXPECT_STREQ(p.line.guest_cmdline, "");
}

TEST(DomainConfig, MemorySuffixesAndPlainBytes) {
    EXPECT_EQ(memory_of("domain mem=64M"), 64ull << 20);
    EXPECT_EQ(memory_of("domain mem=2M"), 2ull << 20);
    EXPECT_EQ(memory_of("domain mem=1G"), 1ull << 30);
    EXPECT_EQ(memory_of("domain mem=64G"), 64ull << 30);
    EXPECT_EQ(memory_of("domain mem=4096K"), 4ull << 20);
    EXPECT_EQ(memory_of("domain mem=2048K"), 2ull << 20);
    EXPECT_EQ(memory_of("domain mem=65536M"), 64ull << 30);
    EXPECT_EQ(memory_of("domain mem=2097152"), 2ull << 20);
    EXPECT_EQ(memory_of("domain mem=68719476736"), 64ull << 30);
    EXPECT_EQ(memory_of("domain mem=3000000"), 3000000ull);
}

TEST(DomainConfig, MemoryOutsideTwoMegabytesToSixtyFourGigabytesIsRejected) {
    for (const char* line : {"domain mem=1M", "domain mem=2047K", "domain mem=2097151", "domain mem=65537M",
                             "domain mem=65G", "domain mem=68719476737", "domain mem=1K", "domain mem=1"}) {
        Parsed p = parse(line);
        EXPECT_FALSE(p.ok) << line;
        EXPECT_NE(p.error.find("must be between 2M and 64G"), std::string::npos) << line << ": " << p.error;
    }
    EXPECT_EQ(parse("domain mem=1M").error, "mem '1M': must be between 2M and 64G");
    EXPECT_EQ(parse("domain mem=128G").error, "mem '128G': must be between 2M and 64G");
}

TEST(DomainConfig, MalformedMemorySizesAreRejected) {
    for (const char* line :
         {"domain mem=", "domain mem=M", "domain mem=0", "domain mem=0M", "domain mem=64MB", "domain mem=64T",
          "domain mem=-64M", "domain mem=+64M", "domain mem=1.5G", "domain mem=0x4000000", "domain mem=64 M",
          "domain mem=M64", "domain mem=6 4M", "domain mem=64MM"}) {
        Parsed p = parse(line);
        EXPECT_FALSE(p.ok) << line;
        EXPECT_FALSE(p.error.empty()) << line;
    }
    EXPECT_EQ(parse("domain mem=64MB").error, "mem '64MB': expected a size such as 64M or 1G");
    EXPECT_EQ(parse("domain mem=").error, "mem '': expected a size such as 64M or 1G");
}

TEST(DomainConfig, ParseMemorySizeDirectly) {
    u64 bytes = 0;
    EXPECT_TRUE(memory_size("512K", bytes));
    EXPECT_EQ(bytes, 512ull * 1024);
    EXPECT_TRUE(memory_size("64M", bytes));
    EXPECT_EQ(bytes, 64ull << 20);
    EXPECT_TRUE(memory_size("1G", bytes));
    EXPECT_EQ(bytes, 1ull << 30);
    EXPECT_TRUE(memory_size("1048576", bytes));
    EXPECT_EQ(bytes, 1048576ull);
    EXPECT_TRUE(memory_size("1", bytes));
    EXPECT_EQ(bytes, 1ull);

    // Only `length` characters count: the rest of the line is not part of the value.
    const char* text = "64M vcpus=2";
    EXPECT_TRUE(parse_memory_size(text, 3, bytes));
    EXPECT_EQ(bytes, 64ull << 20);
    EXPECT_TRUE(parse_memory_size(text, 2, bytes));
    EXPECT_EQ(bytes, 64ull);

    for (const char* junk : {"", "K", "M", "G", "0", "0K", "0G", "x", "12x", "1 2", "-1", "1KB", "0x10"})
        EXPECT_FALSE(memory_size(junk, bytes)) << '"' << junk << '"';
}

TEST(DomainConfig, MemorySizeOverflowIsRejected) {
    u64 bytes = 0;
    // 2^64 - 1 is the largest plain number; one more overflows.
    EXPECT_TRUE(memory_size("18446744073709551615", bytes));
    EXPECT_EQ(bytes, ~0ull);
    EXPECT_FALSE(memory_size("18446744073709551616", bytes));
    EXPECT_FALSE(memory_size("99999999999999999999", bytes));
    EXPECT_FALSE(memory_size("184467440737095516150", bytes));
    // With a suffix, value * multiplier must fit in 64 bits: 2^34 G, 2^44 M and 2^54 K are 2^64.
    EXPECT_TRUE(memory_size("17179869183G", bytes));
    EXPECT_EQ(bytes, 17179869183ull << 30);
    EXPECT_FALSE(memory_size("17179869184G", bytes));
    EXPECT_TRUE(memory_size("17592186044415M", bytes));
    EXPECT_EQ(bytes, 17592186044415ull << 20);
    EXPECT_FALSE(memory_size("17592186044416M", bytes));
    EXPECT_TRUE(memory_size("18014398509481983K", bytes));
    EXPECT_EQ(bytes, 18014398509481983ull << 10);
    EXPECT_FALSE(memory_size("18014398509481984K", bytes));
    EXPECT_FALSE(memory_size("99999999999999999999G", bytes));

    // On the domain line, an overflowing size is malformed, a huge but representable one out of range.
    EXPECT_EQ(parse("domain mem=17179869184G").error, "mem '17179869184G': expected a size such as 64M or 1G");
    EXPECT_EQ(parse("domain mem=17179869183G").error, "mem '17179869183G': must be between 2M and 64G");
    EXPECT_FALSE(parse("domain mem=18446744073709551616").ok);
}

TEST(DomainConfig, VcpusFromOneToEight) {
    for (u32 n = 1; n <= 8; ++n) {
        const std::string line = "domain vcpus=" + std::to_string(n);
        Parsed p = parse(line.c_str());
        ASSERT_TRUE(p.ok) << line << ": " << p.error;
        EXPECT_EQ(p.line.vcpus, n);
    }
    for (const char* line : {"domain vcpus=0", "domain vcpus=9", "domain vcpus=", "domain vcpus=x", "domain vcpus=-1",
                             "domain vcpus=2x", "domain vcpus=0x2", "domain vcpus=4294967297",
                             "domain vcpus=18446744073709551617", "domain vcpus=99999999999999999999999"}) {
        Parsed p = parse(line);
        EXPECT_FALSE(p.ok) << line;
        EXPECT_NE(p.error.find("must be between 1 and 8"), std::string::npos) << line << ": " << p.error;
    }
    EXPECT_EQ(parse("domain vcpus=9").error, "vcpus '9': must be between 1 and 8");
    EXPECT_EQ(parse("domain vcpus=0").error, "vcpus '0': must be between 1 and 8");
}

TEST(DomainConfig, NameCharsetAndLength) {
    const std::string longest(31, 'n');
    Parsed p = parse(("domain name=" + longest).c_str());
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(std::string(p.line.name), longest);

    p = parse("domain name=AZaz09-_.");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_STREQ(p.line.name, "AZaz09-_.");
    EXPECT_STREQ(parse("domain name=x").line.name, "x");

    const std::string too_long(32, 'n');
    p = parse(("domain name=" + too_long).c_str());
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "name '" + too_long + "': use 1-31 letters, digits, '-', '_' or '.'");

    for (const char* line :
         {"domain name=", "domain name=a/b", "domain name=a=b", "domain name=caf\xc3\xa9", "domain name=a,b",
          "domain name=a:b", "domain name=a*", "domain name=\"t1\"", "domain name=a\\b"}) {
        Parsed bad = parse(line);
        EXPECT_FALSE(bad.ok) << line;
        EXPECT_NE(bad.error.find("use 1-31 letters, digits"), std::string::npos) << line << ": " << bad.error;
    }
    EXPECT_EQ(parse("domain name=a/b").error, "name 'a/b': use 1-31 letters, digits, '-', '_' or '.'");
}

TEST(DomainConfig, LongValuesAreShortenedInTheMessage) {
    const std::string name(100, 'q');
    Parsed p = parse(("domain name=" + name).c_str());
    EXPECT_FALSE(p.ok);
    EXPECT_NE(p.error.find("name '" + std::string(40, 'q') + "'"), std::string::npos) << p.error;
    EXPECT_EQ(p.error.find(std::string(41, 'q')), std::string::npos) << p.error;
}

TEST(DomainConfig, ErrorFitsTheCallersBuffer) {
    DomainModuleLine line;
    char error[8];
    memset(error, 'z', sizeof(error));
    EXPECT_FALSE(parse_domain_line("domain vcpus=9", 0, line, error, sizeof(error)));
    EXPECT_EQ(std::string(error), "vcpus '");
}

TEST(DomainConfig, UnknownKeysAndMissingEquals) {
    EXPECT_EQ(parse("domain memory=64M").error, "'memory=64M': unknown option");
    EXPECT_EQ(parse("domain name=t1 cpu=2").error, "'cpu=2': unknown option");
    EXPECT_EQ(parse("domain Name=t1").error, "'Name=t1': unknown option");
    EXPECT_EQ(parse("domain =5").error, "'=5': unknown option");
    EXPECT_EQ(parse("domain name").error, "'name': expected key=value or dom0");
    EXPECT_EQ(parse("domain name=t1 quiet").error, "'quiet': expected key=value or dom0");
    EXPECT_EQ(parse("domain -").error, "'-': expected key=value or dom0");
    EXPECT_EQ(parse("domain --x").error, "'--x': expected key=value or dom0");
    EXPECT_FALSE(parse("domain mem=64M garbage").ok);
}

TEST(DomainConfig, GuestCommandLineFollowsDoubleDash) {
    EXPECT_STREQ(parse("domain -- root=/dev/ram0 console=ttyS0").line.guest_cmdline, "root=/dev/ram0 console=ttyS0");
    EXPECT_STREQ(parse("domain --     spaced out").line.guest_cmdline, "spaced out");
    EXPECT_STREQ(parse("domain --\tx").line.guest_cmdline, "x");
    EXPECT_STREQ(parse("domain --").line.guest_cmdline, "");
    EXPECT_STREQ(parse("domain --   ").line.guest_cmdline, "");

    // Everything after "--" belongs to the guest, even words that look like options.
    Parsed p = parse("domain name=t2 -- vcpus=9 name=!! -- mem=1 junk");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_STREQ(p.line.name, "t2");
    EXPECT_EQ(p.line.vcpus, 1u);
    EXPECT_EQ(p.line.memory_bytes, 32ull << 20);
    EXPECT_STREQ(p.line.guest_cmdline, "vcpus=9 name=!! -- mem=1 junk");
}

TEST(DomainConfig, GuestCommandLineIsAtMost255Bytes) {
    const std::string longest(255, 'c');
    Parsed p = parse(("domain -- " + longest).c_str());
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(std::string(p.line.guest_cmdline), longest);

    p = parse(("domain name=t1 --    " + std::string(256, 'c')).c_str());
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error, "the guest command line is longer than 255 bytes");
    EXPECT_FALSE(parse(("domain -- " + std::string(1000, 'c')).c_str()).ok);
}

TEST(DomainConfig, SchedulerSettingsDefault) {
    Parsed p = parse("domain name=a");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.line.weight, 256u);
    EXPECT_EQ(p.line.cap_percent, 0u);
    EXPECT_EQ(p.line.cpus, ~0ull);
}

TEST(DomainConfig, SchedulerSettingsAreParsed) {
    Parsed p = parse("domain name=a vcpus=2 weight=512 cap=150 cpus=0-2,5 -- x");
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_EQ(p.line.weight, 512u);
    EXPECT_EQ(p.line.cap_percent, 150u);
    EXPECT_EQ(p.line.cpus, 0x27u);
    EXPECT_EQ(parse("domain cpus=all").line.cpus, ~0ull);
    EXPECT_EQ(parse("domain cpus=63").line.cpus, 1ull << 63);
    EXPECT_EQ(parse("domain weight=1").line.weight, 1u);
    EXPECT_EQ(parse("domain weight=65535").line.weight, 65535u);
}

TEST(DomainConfig, BadSchedulerSettingsAreRefused) {
    for (const char* line :
         {"domain weight=0", "domain weight=65536", "domain weight=", "domain weight=x", "domain cap=-1",
          "domain cap=101", "domain vcpus=2 cap=201", "domain cap=50%", "domain cpus=", "domain cpus=64",
          "domain cpus=3-1", "domain cpus=0,,1", "domain cpus=a", "domain cpus=0-", "domain cpus=1,"}) {
        Parsed p = parse(line);
        EXPECT_FALSE(p.ok) << line;
        EXPECT_FALSE(p.error.empty()) << line;
    }
    EXPECT_NE(parse("domain weight=0").error.find("weight"), std::string::npos);
    EXPECT_NE(parse("domain cpus=64").error.find("cpus"), std::string::npos);
    EXPECT_NE(parse("domain cap=101").error.find("cap"), std::string::npos);
    // cap= before vcpus= is judged against the vcpus that follow.
    EXPECT_TRUE(parse("domain cap=200 vcpus=2").ok);
}

TEST(DomainConfig, NotADomainLine) {
    for (const char* line : {"domainx name=t1", "initrd", "", "   ", "name=t1 mem=64M"}) {
        Parsed p = parse(line, 3);
        EXPECT_FALSE(p.ok) << line;
        EXPECT_NE(p.error.find("not a domain line"), std::string::npos) << line << ": " << p.error;
    }
    DomainModuleLine line;
    char error[64] = {};
    EXPECT_FALSE(parse_domain_line(nullptr, 0, line, error, sizeof(error)));
    EXPECT_NE(std::string(error).find("not a domain line"), std::string::npos);
}

}  // namespace
