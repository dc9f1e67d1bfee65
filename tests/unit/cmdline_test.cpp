#include "kernel/cmdline.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

struct Parsed {
    HypervisorOptions options;
    CmdlineDiagnostics diagnostics;
};

Parsed parse(const char* line) {
    Parsed p;
    parse_hypervisor_cmdline(line, p.options, p.diagnostics);
    return p;
}

TEST(Cmdline, DefaultsWhenEmptyOrAbsent) {
    for (const char* line : {static_cast<const char*>(nullptr), "", "   "}) {
        Parsed p = parse(line);
        EXPECT_EQ(p.options.console_port, 0x3f8);
        EXPECT_EQ(p.options.log_level, LogLevel::Info);
        EXPECT_EQ(p.options.debug_exit_port, 0);
        EXPECT_EQ(p.options.self_test, SelfTest::None);
        EXPECT_FALSE(p.options.dump_acpi);
        EXPECT_EQ(p.diagnostics.count, 0u);
    }
}

TEST(Cmdline, ParsesEveryOption) {
    Parsed p = parse("console=com2 loglevel=debug\tdebug_exit=0xf4 selftest=pagefault acpidump noreboot");
    EXPECT_EQ(p.options.console_port, 0x2f8);
    EXPECT_EQ(p.options.log_level, LogLevel::Debug);
    EXPECT_EQ(p.options.debug_exit_port, 0xf4);
    EXPECT_EQ(p.options.self_test, SelfTest::PageFault);
    EXPECT_TRUE(p.options.dump_acpi);
    EXPECT_TRUE(p.options.noreboot);
    EXPECT_EQ(p.diagnostics.count, 0u);
}

TEST(Cmdline, ConsoleAcceptsNamedAndNumericPorts) {
    EXPECT_EQ(parse("console=com1").options.console_port, 0x3f8);
    EXPECT_EQ(parse("console=com3").options.console_port, 0x3e8);
    EXPECT_EQ(parse("console=com4").options.console_port, 0x2e8);
    EXPECT_EQ(parse("console=0x2f8").options.console_port, 0x2f8);
    EXPECT_EQ(parse("console=760").options.console_port, 760);
}

TEST(Cmdline, EverySelfTestHasItsName) {
    EXPECT_EQ(parse("selftest=assert").options.self_test, SelfTest::Assert);
    EXPECT_EQ(parse("selftest=stacksmash").options.self_test, SelfTest::StackSmash);
    EXPECT_EQ(parse("selftest=stackoverflow").options.self_test, SelfTest::StackOverflow);
    EXPECT_EQ(parse("selftest=losttimer").options.self_test, SelfTest::LostTimer);
}

TEST(Cmdline, LaterOptionWins) {
    EXPECT_EQ(parse("console=com1 console=com2").options.console_port, 0x2f8);
    EXPECT_EQ(parse("loglevel=error loglevel=warn").options.log_level, LogLevel::Warn);
}

TEST(Cmdline, BadValuesKeepDefaultsAndAreReported) {
    Parsed p = parse("console=com9 loglevel=loud debug_exit=zz selftest=explode console=0x");
    EXPECT_EQ(p.options.console_port, 0x3f8);
    EXPECT_EQ(p.options.log_level, LogLevel::Info);
    EXPECT_EQ(p.options.debug_exit_port, 0);
    EXPECT_EQ(p.options.self_test, SelfTest::None);
    ASSERT_EQ(p.diagnostics.count, 5u);
    EXPECT_EQ(std::string(p.diagnostics.messages[0]),
              "command line: 'console=com9': expected com1..com4 or an I/O port such as 0x3f8; keeping the default");
    EXPECT_EQ(std::string(p.diagnostics.messages[1]),
              "command line: 'loglevel=loud': expected error, warn, info or debug");
}

TEST(Cmdline, RejectsOverflowingAndOutOfRangeNumbers) {
    EXPECT_EQ(parse("debug_exit=0x10000").options.debug_exit_port, 0);
    EXPECT_EQ(parse("debug_exit=99999999999999999999999").options.debug_exit_port, 0);
    EXPECT_EQ(parse("debug_exit=0").options.debug_exit_port, 0);
    EXPECT_EQ(parse("debug_exit=0x1f4x").diagnostics.count, 1u);
}

TEST(Cmdline, SchedulerIsCreditOrRoundRobin) {
    EXPECT_FALSE(parse("").options.round_robin);
    EXPECT_FALSE(parse("sched=credit").options.round_robin);
    EXPECT_TRUE(parse("sched=rr").options.round_robin);
    for (const char* line : {"sched", "sched=", "sched=credit2", "sched=RR"}) {
        Parsed p = parse(line);
        EXPECT_FALSE(p.options.round_robin) << line;
        EXPECT_EQ(p.diagnostics.count, 1u) << line;
    }
}

TEST(Cmdline, FastExitsAreOnUnlessTurnedOff) {
    EXPECT_TRUE(parse("").options.fast_exits);
    EXPECT_TRUE(parse("fastexits=on").options.fast_exits);
    EXPECT_FALSE(parse("fastexits=off").options.fast_exits);
    for (const char* line : {"fastexits", "fastexits=no", "fastexits=0"}) {
        const Parsed p = parse(line);
        EXPECT_TRUE(p.options.fast_exits) << line;
        EXPECT_EQ(p.diagnostics.count, 1u) << line;
    }
}

TEST(Cmdline, UnknownOptionsAreReportedNotFatal) {
    Parsed p = parse("frobnicate=1 acpidump=yes loglevel=debug");
    EXPECT_EQ(p.options.log_level, LogLevel::Debug);
    EXPECT_FALSE(p.options.dump_acpi);
    ASSERT_EQ(p.diagnostics.count, 2u);
    EXPECT_EQ(std::string(p.diagnostics.messages[0]), "command line: 'frobnicate=1': unknown option, ignored");
    EXPECT_EQ(std::string(p.diagnostics.messages[1]), "command line: 'acpidump=yes': takes no value");
}

TEST(Cmdline, TooManyProblemsSetOverflowInsteadOfDroppingSilently) {
    Parsed p = parse("a b c d e f g h i j");
    EXPECT_EQ(p.diagnostics.count, CmdlineDiagnostics::kMax);
    EXPECT_TRUE(p.diagnostics.overflowed);
}

TEST(Cmdline, VeryLongTokenIsReportedShortened) {
    std::string line = "x" + std::string(300, 'y') + "=1";
    Parsed p = parse(line.c_str());
    ASSERT_EQ(p.diagnostics.count, 1u);
    EXPECT_LT(std::string(p.diagnostics.messages[0]).size(), CmdlineDiagnostics::kLength);
}

}  // namespace
