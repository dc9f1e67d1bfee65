#include "dom0/xm/xl_config.hpp"

#include <gtest/gtest.h>

namespace {

using xm::CpuidMode;
using xm::EndAction;
using xm::XlConfig;

bool parse(const std::string& text, XlConfig& c, std::string& error) {
    return xm::parse_xl_config(text, "domu.cfg", c, error);
}

TEST(XlConfig, ReadsXlsKeys) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(
        parse("# a domU\n"
              "name = \"web\"\n"
              "memory = 256\n"
              "maxmem = 512\n"
              "vcpus = 2 ; cpus = \"0-1\"\n"
              "kernel = '/boot/vmlinuz'\n"
              "ramdisk = \"/boot/initrd.img\"  # its initrd\n"
              "cmdline = \"console=ttyS0 quiet\"\n"
              "on_poweroff = \"destroy\"\n"
              "on_reboot = 'restart'\n"
              "on_crash = \"preserve\"\n",
              c, error))
        << error;
    EXPECT_EQ(c.name, "web");
    EXPECT_EQ(c.memory_mib, 256u);
    EXPECT_EQ(c.maxmem_mib, 512u);
    EXPECT_EQ(c.vcpus, 2u);
    EXPECT_EQ(c.cpus, "0-1");
    EXPECT_EQ(c.cpu_mask, 0x3u);
    EXPECT_EQ(c.kernel, "/boot/vmlinuz");
    EXPECT_EQ(c.ramdisk, "/boot/initrd.img");
    EXPECT_EQ(c.cmdline, "console=ttyS0 quiet");
    EXPECT_EQ(c.on_poweroff, EndAction::Destroy);
    EXPECT_EQ(c.on_reboot, EndAction::Restart);
    EXPECT_EQ(c.on_crash, EndAction::Preserve);
}

// xl.cfg(5)'s scheduling keys: cpus (hard affinity), cpus_soft, cpu_weight and cap.
TEST(XlConfig, ReadsTheCreditSchedulersKeys) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\nvcpus=2\ncpus='1'\ncpus_soft='0,1'\ncpu_weight=512\ncap=150\n",
                      c, error))
        << error;
    EXPECT_EQ(c.cpu_mask, 0x2u);
    EXPECT_EQ(c.cpus_soft, "0,1");
    EXPECT_EQ(c.soft_cpu_mask, 0x3u);
    EXPECT_EQ(c.cpu_weight, 512u);
    EXPECT_EQ(c.cap_percent, 150u);
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\n", c, error));
    EXPECT_EQ(c.cpu_weight, 0u) << "not given: the hypervisor's default";
    EXPECT_EQ(c.cap_percent, 0u);
    EXPECT_EQ(c.soft_cpu_mask, 0u);
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\ncpu_weight=0\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: cpu_weight: 0 is out of range (1 to 65535)");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\ncap=101\n", c, error));
    EXPECT_EQ(error, "domu.cfg: cap (101) is more than 100 per vCPU (vcpus = 1)");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\ncpus_soft='9-x'\n", c, error));
    EXPECT_EQ(error.rfind("domu.cfg:4: cpus_soft: ", 0), 0u) << error;
}

TEST(XlConfig, RootAndExtraMakeTheCommandLineAsXlDoes) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\nroot='/dev/xvda1 ro'\nextra='console=ttyS0'\n", c, error));
    EXPECT_EQ(c.cmdline, "root=/dev/xvda1 ro console=ttyS0");
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\nextra='console=ttyS0'\n", c, error));
    EXPECT_EQ(c.cmdline, "console=ttyS0");
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\ncmdline='x'\nextra='y'\n", c, error));
    EXPECT_EQ(c.cmdline, "x") << "cmdline wins over root and extra";
}

TEST(XlConfig, ErrorsNameTheLineAndTheReason) {
    XlConfig c;
    std::string error;
    EXPECT_FALSE(parse("name='a'\nmemory=12x\nkernel='k'\n", c, error));
    EXPECT_EQ(error, "domu.cfg:2: memory: '12x' is not a number");
    EXPECT_FALSE(parse("name='a'\nmemory=1\nkernel='k'\n", c, error));
    EXPECT_EQ(error, "domu.cfg:2: memory: 1 is out of range (2 to 65536)");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\ncolour='blue'\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: unknown key 'colour'");
    EXPECT_FALSE(parse("name='a b'\n", c, error));
    EXPECT_EQ(error, "domu.cfg:1: name: 'a b' is not a domain name (1-31 of letters, digits, - _ .)");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel=k\n", c, error));
    EXPECT_EQ(error, "domu.cfg:3: kernel: a quoted string is expected");
    EXPECT_FALSE(parse("name='a\nmemory=64\n", c, error));
    EXPECT_EQ(error, "domu.cfg:1: name: a string without its closing quote");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\non_crash='reboot'\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: on_crash: 'reboot' is not one of destroy, restart, preserve");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\nvcpus=9\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: vcpus: 9 is out of range (1 to 8)");
    EXPECT_FALSE(parse("memory 64\n", c, error));
    EXPECT_EQ(error, "domu.cfg:1: not a 'key = value' setting");
}

TEST(XlConfig, RequiredKeysAndMaxmem) {
    XlConfig c;
    std::string error;
    EXPECT_FALSE(parse("memory=64\nkernel='k'\n", c, error));
    EXPECT_EQ(error, "domu.cfg: 'name' is missing");
    EXPECT_FALSE(parse("name='a'\nkernel='k'\n", c, error));
    EXPECT_EQ(error, "domu.cfg: 'memory' is missing");
    EXPECT_FALSE(parse("name='a'\nmemory=64\n", c, error));
    EXPECT_EQ(error, "domu.cfg: 'kernel' is missing");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nmaxmem=32\nkernel='k'\n", c, error));
    EXPECT_EQ(error, "domu.cfg: maxmem (32) is below memory (64)");
}

TEST(XlConfig, CommandLineSettingsOverrideTheFile) {
    XlConfig c;
    std::string error;
    char memory[] = "memory=96";
    char name[] = "name=\"b\"";
    char* overrides[] = {memory, name};
    ASSERT_TRUE(
        xm::parse_xl_config_with_overrides("name='a'\nmemory=64\nkernel='k'\n", "domu.cfg", 2, overrides, c, error))
        << error;
    EXPECT_EQ(c.memory_mib, 96u);
    EXPECT_EQ(c.name, "b");
    char bad[] = "vcpus=zero";
    char* bad_overrides[] = {bad};
    EXPECT_FALSE(xm::parse_xl_config_with_overrides("name='a'\nmemory=64\nkernel='k'\n", "domu.cfg", 1, bad_overrides,
                                                    c, error));
    EXPECT_EQ(error, "command line 'vcpus=zero': vcpus: 'zero' is not a number");
    char plain_name[] = "name=web2";
    char plain_kernel[] = "kernel=/boot/vmlinuz";
    char* plain[] = {plain_name, plain_kernel};
    ASSERT_TRUE(xm::parse_xl_config_with_overrides("name='a'\nmemory=64\nkernel='k'\n", "domu.cfg", 2, plain, c, error))
        << error;
    EXPECT_EQ(c.name, "web2") << "a plain word on the command line is a string";
    EXPECT_EQ(c.kernel, "/boot/vmlinuz");
}

TEST(XlConfig, ListsAndSemicolonsInsideQuotes) {
    XlConfig c;
    std::string error;
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\nusb=['x']\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: unknown key 'usb'");
    ASSERT_TRUE(parse("name='a';memory=64;kernel='k;#x'\n", c, error)) << error;
    EXPECT_EQ(c.kernel, "k;#x");
}

TEST(CpuList, RangesListsExclusionsAndAll) {
    uint64_t mask = 0;
    std::string error;
    ASSERT_TRUE(xm::parse_cpu_list("0-3,5", mask, error)) << error;
    EXPECT_EQ(mask, 0x2fu);
    ASSERT_TRUE(xm::parse_cpu_list("0-7,^2-3", mask, error)) << error;
    EXPECT_EQ(mask, 0xf3u);
    ASSERT_TRUE(xm::parse_cpu_list("1", mask, error)) << error;
    EXPECT_EQ(mask, 0x2u);
    ASSERT_TRUE(xm::parse_cpu_list("63", mask, error)) << error;
    EXPECT_EQ(mask, 1ull << 63);
    ASSERT_TRUE(xm::parse_cpu_list("all", mask, error)) << error;
    EXPECT_EQ(mask, ~0ull);
}

TEST(CpuList, BadListsSayWhy) {
    uint64_t mask = 0;
    std::string error;
    EXPECT_FALSE(xm::parse_cpu_list("64", mask, error));
    EXPECT_EQ(error, "'64' is not a CPU list such as \"0-3,5\": '64' is not a CPU (0-63) or a range of them");
    EXPECT_FALSE(xm::parse_cpu_list("3-1", mask, error));
    EXPECT_EQ(error, "'3-1' is not a CPU list such as \"0-3,5\": the range '3-1' runs backwards");
    EXPECT_FALSE(xm::parse_cpu_list("1,,2", mask, error));
    EXPECT_FALSE(xm::parse_cpu_list("x", mask, error));
    EXPECT_FALSE(xm::parse_cpu_list("", mask, error));
    EXPECT_FALSE(xm::parse_cpu_list("1,^1", mask, error));
    EXPECT_EQ(error, "'1,^1' is not a CPU list such as \"0-3,5\": it names no CPU");
}

}  // namespace

namespace {

TEST(XlConfig, DisksInXlsAndXmsSyntax) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(
        parse("name = 'd'\nmemory = 64\nkernel = '/k'\n"
              "disk = [ 'format=raw, vdev=xvda, access=rw, target=/images/a.img', "
              "'file:/images/b.img,xvdb,r', 'qcow2:/images/c.qcow2,xvdc,w' ]\n",
              c, error))
        << error;
    ASSERT_EQ(c.disks.size(), 3u);
    EXPECT_EQ(c.disks[0].target, "/images/a.img");
    EXPECT_EQ(c.disks[0].vdev, "xvda");
    EXPECT_EQ(c.disks[0].format, "raw");
    EXPECT_FALSE(c.disks[0].read_only);
    EXPECT_EQ(c.disks[1].target, "/images/b.img");
    EXPECT_TRUE(c.disks[1].read_only);
    EXPECT_EQ(c.disks[2].format, "qcow2");
    EXPECT_EQ(c.disks[2].target, "/images/c.qcow2");
}

TEST(XlConfig, BadDisksSayWhy) {
    XlConfig c;
    std::string error;
    const std::string head = "name = 'd'\nmemory = 64\nkernel = '/k'\n";
    EXPECT_FALSE(parse(head + "disk = 'target=/a'\n", c, error));
    EXPECT_NE(error.find("a list of disks"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "disk = ['target=/a,access=maybe']\n", c, error));
    EXPECT_NE(error.find("access 'maybe' is not one of rw, ro"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "disk = ['target=relative.img']\n", c, error));
    EXPECT_NE(error.find("absolute path"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "disk = ['target=/a,format=vmdk']\n", c, error));
    EXPECT_NE(error.find("format 'vmdk' is not raw or qcow2"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "disk = ['nbd:/a,xvda,w']\n", c, error));
    EXPECT_NE(error.find("'nbd:' is not a disk type"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "disk = ['target=/a,colour=red']\n", c, error));
    EXPECT_NE(error.find("unknown key 'colour'"), std::string::npos) << error;
}

}  // namespace

namespace {

TEST(XlConfig, VifsWithBridgeAndMac) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(
        parse("name = 'd'\nmemory = 64\nkernel = '/k'\n"
              "vif = [ 'bridge=xenbr1,mac=00:16:3e:0a:0B:0c', 'type=ioemu' ]\n",
              c, error))
        << error;
    ASSERT_EQ(c.vifs.size(), 2u);
    EXPECT_EQ(c.vifs[0].bridge, "xenbr1");
    EXPECT_TRUE(c.vifs[0].has_mac);
    EXPECT_EQ(c.vifs[0].mac[3], 0x0a);
    EXPECT_EQ(c.vifs[0].mac[4], 0x0b);
    EXPECT_EQ(c.vifs[1].bridge, "xenbr0");
    EXPECT_FALSE(c.vifs[1].has_mac);
}

TEST(XlConfig, BadVifsSayWhy) {
    XlConfig c;
    std::string error;
    const std::string head = "name = 'd'\nmemory = 64\nkernel = '/k'\n";
    EXPECT_FALSE(parse(head + "vif = ['mac=00:16:3e:01:02']\n", c, error));
    EXPECT_NE(error.find("is not six hexadecimal bytes"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "vif = ['mac=01:16:3e:01:02:03']\n", c, error));
    EXPECT_NE(error.find("multicast"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "vif = ['rate=10Mb/s']\n", c, error));
    EXPECT_NE(error.find("unknown key 'rate'"), std::string::npos) << error;
    EXPECT_FALSE(parse(head + "vif = ['bridge=a-very-long-bridge-name']\n", c, error));
    EXPECT_NE(error.find("is not a bridge name"), std::string::npos) << error;
}

}  // namespace

namespace {

// What xm records of a domain reads back as the same domain (xm save, restarts).
TEST(XlConfigFormat, ReadsBackAsTheSameSettings) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(
        parse("name = 'db.1'\nmemory = 300\nmaxmem = 400\nvcpus = 2\ncpus = '1'\ncpus_soft = '0-1'\n"
              "cpu_weight = 512\ncap = 150\nkernel = '/boot/vmlinuz'\nramdisk = '/boot/initrd'\n"
              "root = '/dev/vda'\nextra = 'console=hvc0 msg=\"hi\"'\non_poweroff = 'preserve'\n"
              "on_reboot = 'destroy'\non_crash = 'restart'\n"
              "disk = ['file:/images/a.img,xvda,w', 'target=/images/b.qcow2,format=qcow2,access=ro']\n"
              "vif = ['bridge=br1,mac=00:16:3e:0a:0b:0c', 'bridge=xenbr0']\n",
              c, error))
        << error;
    std::string text;
    ASSERT_TRUE(xm::format_xl_config(c, text, error)) << error;
    XlConfig back;
    ASSERT_TRUE(parse(text, back, error)) << error << "\n" << text;
    EXPECT_EQ(back.name, c.name);
    EXPECT_EQ(back.memory_mib, 300u);
    EXPECT_EQ(back.maxmem_mib, 400u);
    EXPECT_EQ(back.vcpus, 2u);
    EXPECT_EQ(back.cpu_mask, c.cpu_mask);
    EXPECT_EQ(back.soft_cpu_mask, c.soft_cpu_mask);
    EXPECT_EQ(back.cpu_weight, 512u);
    EXPECT_EQ(back.cap_percent, 150u);
    EXPECT_EQ(back.kernel, "/boot/vmlinuz");
    EXPECT_EQ(back.ramdisk, "/boot/initrd");
    EXPECT_EQ(back.cmdline, "root=/dev/vda console=hvc0 msg=\"hi\"");
    EXPECT_EQ(back.on_poweroff, EndAction::Preserve);
    EXPECT_EQ(back.on_reboot, EndAction::Destroy);
    EXPECT_EQ(back.on_crash, EndAction::Restart);
    ASSERT_EQ(back.disks.size(), 2u);
    EXPECT_EQ(back.disks[0].target, "/images/a.img");
    EXPECT_EQ(back.disks[0].vdev, "xvda");
    EXPECT_FALSE(back.disks[0].read_only);
    EXPECT_EQ(back.disks[1].format, "qcow2");
    EXPECT_TRUE(back.disks[1].read_only);
    ASSERT_EQ(back.vifs.size(), 2u);
    EXPECT_EQ(back.vifs[0].bridge, "br1");
    ASSERT_TRUE(back.vifs[0].has_mac);
    EXPECT_EQ(back.vifs[0].mac[5], 0x0c);
    EXPECT_FALSE(back.vifs[1].has_mac);
    // And once more: the text is a fixed point.
    std::string again;
    ASSERT_TRUE(xm::format_xl_config(back, again, error));
    EXPECT_EQ(again, text);
}

TEST(XlConfigFormat, QuotesAndBackslashesSurvive) {
    XlConfig c;
    c.name = "a";
    c.memory_mib = 64;
    c.kernel = "/boot/vmlinuz\\";
    c.cmdline = "both ' and \" quotes, and a \\ too";
    std::string text, error;
    ASSERT_TRUE(xm::format_xl_config(c, text, error)) << error;
    XlConfig back;
    ASSERT_TRUE(parse(text, back, error)) << error << "\n" << text;
    EXPECT_EQ(back.kernel, c.kernel);
    EXPECT_EQ(back.cmdline, c.cmdline);
    c.cmdline = "two\nlines";
    EXPECT_FALSE(xm::format_xl_config(c, text, error));
    EXPECT_NE(error.find("cmdline"), std::string::npos) << error;
}

// cpuid = 'host' | 'migratable' (docs/hypercalls.md, "CPUID").
TEST(XlConfig, CpuidIsHostOrMigratable) {
    XlConfig c;
    std::string error;
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\n", c, error)) << error;
    EXPECT_EQ(c.cpuid, CpuidMode::Migratable);  // the default: a domain xm makes may move
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\ncpuid='migratable'\n", c, error)) << error;
    EXPECT_EQ(c.cpuid, CpuidMode::Migratable);
    ASSERT_TRUE(parse("name='a'\nmemory=64\nkernel='k'\ncpuid=\"host\"\n", c, error)) << error;
    EXPECT_EQ(c.cpuid, CpuidMode::Host);
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\ncpuid='intel'\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: cpuid: 'intel' is not one of host, migratable");
    EXPECT_FALSE(parse("name='a'\nmemory=64\nkernel='k'\ncpuid=['host']\n", c, error));
    EXPECT_EQ(error, "domu.cfg:4: cpuid: a quoted string is expected");
    char plain[] = "cpuid=migratable";
    char* overrides[] = {plain};
    ASSERT_TRUE(
        xm::parse_xl_config_with_overrides("name='a'\nmemory=64\nkernel='k'\n", "domu.cfg", 1, overrides, c, error))
        << error;
    EXPECT_EQ(c.cpuid, CpuidMode::Migratable);
    EXPECT_STREQ(xm::cpuid_mode_name(CpuidMode::Host), "host");
    EXPECT_STREQ(xm::cpuid_mode_name(CpuidMode::Migratable), "migratable");
}

// Written back only when not the default (migratable).
TEST(XlConfigFormat, CpuidWrittenBackWhenHost) {
    XlConfig c;
    c.name = "a";
    c.memory_mib = 64;
    c.kernel = "/boot/vmlinuz";
    std::string text, error;
    ASSERT_TRUE(xm::format_xl_config(c, text, error)) << error;
    EXPECT_EQ(text.find("cpuid"), std::string::npos) << text;
    XlConfig back;
    ASSERT_TRUE(parse(text, back, error)) << error << "\n" << text;
    EXPECT_EQ(back.cpuid, CpuidMode::Migratable);
    c.cpuid = CpuidMode::Host;
    ASSERT_TRUE(xm::format_xl_config(c, text, error)) << error;
    EXPECT_NE(text.find("cpuid = \"host\"\n"), std::string::npos) << text;
    ASSERT_TRUE(parse(text, back, error)) << error << "\n" << text;
    EXPECT_EQ(back.cpuid, CpuidMode::Host);
}

}  // namespace
