#include "dom0/xm/xm_options.hpp"

#include <gtest/gtest.h>

namespace {

using xm::ParsedOptions;

TEST(XmOptions, FlagsInAnyPlaceAndTheRestInOrder) {
    ParsedOptions p;
    std::string error;
    ASSERT_TRUE(xm::split_options({"web", "--wait", "db", "-a"}, "shutdown",
                                  {{"-w", "wait"}, {"--wait", "wait"}, {"-a", "all"}}, p, error));
    EXPECT_TRUE(p.has("wait"));
    EXPECT_TRUE(p.has("all"));
    EXPECT_FALSE(p.has("-w"));
    EXPECT_EQ(p.rest, (std::vector<std::string>{"web", "db"}));
}

TEST(XmOptions, AnUnknownOptionIsNamed) {
    ParsedOptions p;
    std::string error;
    EXPECT_FALSE(xm::split_options({"web", "-x"}, "list", {{"--json", "json"}}, p, error));
    EXPECT_EQ(error, "list: unknown option '-x'");
    EXPECT_TRUE(xm::split_options({}, "list", {}, p, error));
    EXPECT_TRUE(p.flags.empty() && p.rest.empty());
}

TEST(XmOptions, OptionsWithAValueInEveryForm) {
    ParsedOptions p;
    std::string error;
    const std::vector<std::pair<std::string, std::string>> values = {
        {"-d", "domain"}, {"--domain", "domain"}, {"-w", "weight"}, {"--weight", "weight"}};
    ASSERT_TRUE(xm::split_options({"-d", "web", "-w=512", "extra"}, "sched-credit", {}, values, p, error)) << error;
    EXPECT_EQ(p.values.at("domain"), "web");
    EXPECT_EQ(p.values.at("weight"), "512");
    EXPECT_EQ(p.rest, (std::vector<std::string>{"extra"}));
    ASSERT_TRUE(xm::split_options({"--weight=8", "--domain", "db", "-w", "9"}, "sched-credit", {}, values, p, error));
    EXPECT_EQ(p.values.at("weight"), "9") << "the later one wins";
    EXPECT_TRUE(p.has_value("domain"));
    EXPECT_FALSE(xm::split_options({"-d", "web", "-w"}, "sched-credit", {}, values, p, error));
    EXPECT_EQ(error, "sched-credit: option '-w' needs a value");
    EXPECT_FALSE(xm::split_options({"-wx"}, "sched-credit", {}, values, p, error));
    EXPECT_EQ(error, "sched-credit: unknown option '-wx'");
}

}  // namespace
