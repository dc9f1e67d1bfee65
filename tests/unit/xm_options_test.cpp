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

}  // namespace
