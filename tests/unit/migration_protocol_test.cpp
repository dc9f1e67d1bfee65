#include "dom0/xm/migration_protocol.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dom0/xm/migration_link.hpp"

namespace {

using namespace xm::migration;

TEST(MigrationProtocol, SuffixedNamesFitADomainsName) {
    EXPECT_EQ(suffixed_name("counter", kIncomingSuffix), "counter--incoming");
    const std::string longest(31, 'x');
    const std::string away = suffixed_name(longest, kAwaySuffix);
    EXPECT_EQ(away.size(), 31u) << "cut short to 31 characters";
    EXPECT_EQ(away, std::string(17, 'x') + "--migratedaway");
}

TEST(MigrationProtocol, DestinationsAreHostsWithAnOptionalPort) {
    std::string host, error;
    uint16_t port = 0;
    ASSERT_TRUE(parse_destination("10.0.0.2", host, port, error)) << error;
    EXPECT_EQ(host, "10.0.0.2");
    EXPECT_EQ(port, kDefaultPort);
    ASSERT_TRUE(parse_destination("127.0.0.1:8003", host, port, error)) << error;
    EXPECT_EQ(host, "127.0.0.1");
    EXPECT_EQ(port, 8003);
    ASSERT_TRUE(parse_destination("[::1]:9000", host, port, error)) << error;
    EXPECT_EQ(host, "::1");
    EXPECT_EQ(port, 9000);
    ASSERT_TRUE(parse_destination("[fe80::1]", host, port, error)) << error;
    EXPECT_EQ(port, kDefaultPort);
}

TEST(MigrationProtocol, BadDestinationsSayWhatIsWrong) {
    std::string host, error;
    uint16_t port;
    EXPECT_FALSE(parse_destination("10.0.0.2:0", host, port, error));
    EXPECT_EQ(error, "'0' is not a port (1-65535)");
    EXPECT_FALSE(parse_destination("10.0.0.2:65536", host, port, error));
    EXPECT_FALSE(parse_destination("10.0.0.2:80x", host, port, error));
    EXPECT_FALSE(parse_destination(":8002", host, port, error));
    EXPECT_EQ(error, "':8002' names no host");
    EXPECT_FALSE(parse_destination("::1", host, port, error));
    EXPECT_EQ(error, "'::1' is not a host: an IPv6 address goes in brackets, as [::1]:8002");
    EXPECT_FALSE(parse_destination("[::1", host, port, error));
    EXPECT_FALSE(parse_destination("[::1]x", host, port, error));
}

TEST(MigrationProtocol, PrecopyStopsWhenLittleIsLeftOrItCannotConverge) {
    constexpr uint64_t kRam = 32768;  // 128 MiB
    EXPECT_EQ(Precopy(kRam).stop_after(1, 5000, kRam), nullptr) << "much written since the first round: another";
    EXPECT_STREQ(Precopy(kRam).stop_after(2, kStopPages, kRam + 5000), "few pages left");
    EXPECT_STREQ(Precopy(kRam).stop_after(kMaxRounds, 5000, kRam * 2), "the last round");
    EXPECT_STREQ(Precopy(kRam).stop_after(5, 20000, kMaxSentFactor * kRam), "it writes faster than the link carries");
}

// Under Bochs a round of 2 MiB takes seconds, and a guest rewrote about as much meanwhile
// (a migration of 30 rounds took six minutes): two rounds in a row with no fewer pages
// than the fewest before stop it. A set that still shrinks goes on.
TEST(MigrationProtocol, PrecopyStopsOnceTheWritesNoLongerShrink) {
    constexpr uint64_t kRam = 32768;
    Precopy bochs(kRam);
    uint64_t sent = kRam;
    uint32_t round = 1;
    const char* why = nullptr;
    for (uint64_t dirty : {508, 432, 424, 453, 455, 455, 463}) {
        why = bochs.stop_after(round, dirty, sent);
        if (why) break;
        sent += dirty;
        ++round;
    }
    EXPECT_STREQ(why, "its writes no longer shrink");
    EXPECT_EQ(round, 5u) << "after 424, the fewest, came 453 and 455";
    Precopy shrinking(kRam);
    for (uint32_t r = 1; r < 20; ++r)
        EXPECT_EQ(shrinking.stop_after(r, 20000 - r * 900, kRam + r * 900), nullptr) << "round " << r;
}

TEST(MigrationLink, LinesGoAcrossAndAnEndIsNoLine) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    ASSERT_TRUE(xm::send_line(fds[0], kReady));
    ASSERT_TRUE(xm::send_line(fds[0], std::string(kErrorPrefix) + "a domain named 'x' exists already"));
    std::string line;
    ASSERT_TRUE(xm::read_line(fds[1], line));
    EXPECT_EQ(line, "ready");
    ASSERT_TRUE(xm::read_line(fds[1], line));
    EXPECT_EQ(line, "error: a domain named 'x' exists already");
    ASSERT_TRUE(xm::send_line(fds[0], "cut"));
    close(fds[0]);
    ASSERT_TRUE(xm::read_line(fds[1], line));
    EXPECT_FALSE(xm::read_line(fds[1], line)) << "the connection ended";
    close(fds[1]);
}

TEST(MigrationProtocol, AnErrorLineGivesItsReason) {
    EXPECT_EQ(error_reason("error: a domain named 'x' exists already"), "a domain named 'x' exists already");
    EXPECT_EQ(error_reason("hello"), "it answered 'hello'");
}

TEST(MigrationLink, AddressesHaveOneSpelling) {
    std::string out;
    ASSERT_TRUE(xm::canonical_address("::ffff:10.0.0.1", out));
    EXPECT_EQ(out, "10.0.0.1") << "an IPv4 peer of an IPv6 socket";
    ASSERT_TRUE(xm::canonical_address("localhost", out));
    EXPECT_EQ(out, "127.0.0.1");
    ASSERT_TRUE(xm::canonical_address("0:0:0:0:0:0:0:1", out));
    EXPECT_EQ(out, "::1");
    EXPECT_FALSE(xm::canonical_address("otherhost", out));
    EXPECT_FALSE(xm::canonical_address("", out));
}

TEST(MigrationLink, HostNamesAreRefusedWithTheReason) {
    std::string error;
    EXPECT_EQ(xm::connect_tcp("otherhost", 8002, error), -1);
    EXPECT_EQ(error, "'otherhost' is not an IP address (xm resolves no host names)");
}

}  // namespace
