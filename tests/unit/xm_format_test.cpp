#include "dom0/xm/xm_format.hpp"

#include <gtest/gtest.h>
#include <string.h>

namespace {

using namespace hypercall;

DomainStatus status(const char* name, uint32_t id, uint32_t state, uint64_t mib, uint32_t vcpus, uint64_t ns) {
    DomainStatus s{};
    strncpy(s.name, name, sizeof(s.name));
    s.id = id;
    s.state = state;
    s.memory_bytes = mib << 20;
    s.vcpus = vcpus;
    s.cpu_time_ns = ns;
    return s;
}

TEST(XmFormat, ListHasXlsColumns) {
    EXPECT_EQ(xm::list_header(), "Name                                        ID   Mem VCPUs\tState\tTime(s)");
    // xl's row: "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f"
    EXPECT_EQ(xm::list_row(status("Domain-0", 0, kStateRunning, 512, 2, 12'345'000'000)),
              "Domain-0                                     0   512     2     r-----      12.3");
    EXPECT_EQ(xm::list_row(status("web", 7, kStateBlocked, 64, 1, 0)),
              "web                                          7    64     1     -b----       0.0");
}

TEST(XmFormat, StateLettersFollowXl) {
    EXPECT_EQ(xm::state_flags(status("a", 1, kStateRunning, 1, 1, 0)), "r-----");
    EXPECT_EQ(xm::state_flags(status("a", 1, kStateBlocked, 1, 1, 0)), "-b----");
    EXPECT_EQ(xm::state_flags(status("a", 1, kStatePaused, 1, 1, 0)), "--p---");
    EXPECT_EQ(xm::state_flags(status("a", 1, kStateShutdown, 1, 1, 0)), "---s--");
    EXPECT_EQ(xm::state_flags(status("a", 1, kStateCrashed, 1, 1, 0)), "---sc-");
    EXPECT_EQ(xm::state_flags(status("a", 1, kStateDying, 1, 1, 0)), "-----d");
    EXPECT_EQ(xm::state_flags(status("a", 1, 99, 1, 1, 0)), "??????");
    DomainStatus rebooted = status("a", 1, kStateShutdown, 1, 1, 0);
    rebooted.shutdown_reason = kReasonReboot;
    EXPECT_EQ(xm::state_flags(rebooted), "---sr-") << "xl's reason letter";
}

TEST(XmFormat, CpuListsAsXlWritesThem) {
    EXPECT_EQ(xm::cpu_list_text(~0ull, 2), "all");
    EXPECT_EQ(xm::cpu_list_text(0x3, 2), "all");
    EXPECT_EQ(xm::cpu_list_text(0x1, 2), "0");
    EXPECT_EQ(xm::cpu_list_text(0x2f, 8), "0-3,5");
    EXPECT_EQ(xm::cpu_list_text(0, 8), "none");
}

TEST(XmFormat, UptimeAsXlShowsIt) {
    EXPECT_EQ(xm::uptime_text(0), " 0:00:00");
    EXPECT_EQ(xm::uptime_text(3725), " 1:02:05");
    EXPECT_EQ(xm::uptime_text(86400 + 61), "1 day,  0:01:01");
    EXPECT_EQ(xm::uptime_text(3 * 86400), "3 days,  0:00:00");
    EXPECT_EQ(xm::uptime_header(), "Name                                ID Uptime");
    DomainStatus web = status("web", 2, kStateRunning, 64, 1, 0);
    web.uptime_us = 61'500'000;
    EXPECT_EQ(xm::uptime_row(web), "web                                  2  0:01:01");
}

TEST(XmFormat, VcpuListShowsHardAndSoftAffinity) {
    EXPECT_EQ(xm::vcpu_list_header(false),
              "Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)");
    VcpuInfo info{};
    info.cpu = 1;
    info.state = kVcpuRunnable;
    info.cpu_time_ns = 12'340'000'000;
    info.exits = 77;
    info.affinity = 0x2;
    info.soft_affinity = ~0ull;
    const DomainStatus web = status("web", 2, kStateRunning, 64, 2, 0);
    EXPECT_EQ(xm::vcpu_list_row(web, 1, info, 2, false),
              "web                                  2     1     1   r--      12.3 1 / all");
    info.state = kVcpuBlocked;
    info.affinity = ~0ull;
    info.soft_affinity = 0x1;
    EXPECT_EQ(xm::vcpu_list_row(web, 0, info, 2, true),
              "web                                  2     0     1   -b-      12.3           77 all / 0");
}

TEST(XmFormat, SchedCreditAsXlShowsIt) {
    EXPECT_EQ(xm::sched_credit_header(), "Name                                ID Weight  Cap");
    EXPECT_EQ(xm::sched_credit_row(status("Domain-0", 0, kStateRunning, 512, 2, 0), SchedCredit{256, 0}),
              "Domain-0                             0    256    0");
    EXPECT_EQ(xm::sched_credit_row(status("web", 12, kStateRunning, 64, 1, 0), SchedCredit{65535, 100}),
              "web                                 12  65535  100");
}

TEST(XmFormat, TopRowsShowCpuAndMemoryShares) {
    EXPECT_EQ(xm::top_header(), "      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%) VCPUS");
    EXPECT_EQ(xm::top_row(status("web", 2, kStateRunning, 64, 1, 5'000'000'000), 12.5, 256ull << 20),
              "       web r-----          5   12.5      65536   25.0     1");
}

TEST(XmFormat, AFullNameFieldIsNotReadPastItsEnd) {
    DomainStatus s = status("", 3, kStateRunning, 1, 1, 0);
    memset(s.name, 'x', sizeof(s.name));  // 32 bytes, no NUL
    EXPECT_EQ(xm::domain_name(s), std::string(32, 'x'));
}

TEST(XmFormat, JsonListEscapesAndParsesAsOneArray) {
    EXPECT_EQ(xm::list_json({}), "[]");
    const std::string json = xm::list_json({status("Domain-0", 0, kStateRunning, 512, 2, 1'500'000'000)});
    EXPECT_EQ(json,
              "[\n  {\"name\": \"Domain-0\", \"domid\": 0, \"memory_mib\": 512, \"vcpus\": 2, \"state\": \"r-----\", "
              "\"cpu_time\": 1.500, \"privileged\": false, \"charged_kib\": 0}\n]");
    EXPECT_EQ(xm::json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(XmFormat, InfoSaysWhenTheCommandLineIsLongerThanShown) {
    HostInfo info{};
    info.cpus = 2;
    info.total_memory_bytes = 2048ull << 20;
    info.free_memory_bytes = 1024ull << 20;
    info.tsc_hz = 2'099'600'000;
    info.version = kVersionValue;
    strcpy(info.cpu_model, "AMD EPYC-Milan Processor");
    strcpy(info.command_line, "console=com1");
    info.command_line_length = 12;
    const std::string text = xm::info_text(info, "dom0", "6.1.0");
    EXPECT_NE(text.find("nr_cpus                : 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("total_memory           : 2048\n"), std::string::npos) << text;
    EXPECT_NE(text.find("free_memory            : 1024\n"), std::string::npos) << text;
    EXPECT_NE(text.find("free_memory_kib        : 1048576\n"), std::string::npos) << text;
    EXPECT_NE(text.find("cpu_mhz                : 2100\n"), std::string::npos) << text;
    EXPECT_NE(text.find("virt_caps              : hvm (AMD-V, NPT)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("vireo_commandline      : console=com1\n"), std::string::npos) << text;
    info.command_line_length = 400;
    EXPECT_NE(xm::info_text(info, "dom0", "6.1.0").find("vireo_commandline      : console=com1 [...]\n"),
              std::string::npos);
}

TEST(XmFormat, ErrorsInAUsersWords) {
    EXPECT_EQ(xm::error_text(kErrorNoSuchDomain), "no such domain");
    EXPECT_EQ(xm::error_text(kErrorPermission), "permission denied");
    EXPECT_EQ(xm::error_text(-9999), "error -9999");
}

}  // namespace
