// The pty behind a domU's virtio console (dom0/devmodel/pty_port.cpp), on a real
// pseudo-terminal of the machine the tests run on: raw bytes both ways, output that
// nobody reads dropped instead of blocking, and no hangup when a reader leaves.
#include "dom0/devmodel/pty_port.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

using devmodel::PtyPort;

// Bounds a wait for data the kernel already has or is about to hand over: a guard against
// a hang, not a timing assumption.
constexpr int kHangGuardMs = 10000;

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

class PtyPortTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string error;
        port = PtyPort::open(
            "hvc0", [this](const std::string& line) { log.push_back(line); }, error);
        if (!port) GTEST_SKIP() << "this machine gives no pseudo-terminal: " << error;
    }
    void TearDown() override {
        if (reader >= 0) close(reader);
    }
    void open_reader() {
        reader = open(port->slave_path().c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        ASSERT_GE(reader, 0) << port->slave_path();
    }
    // Reads the reader until `want` bytes came.
    std::string read_reader(size_t want) {
        std::string got;
        char buf[4096];
        while (got.size() < want && readable(reader, kHangGuardMs)) {
            const ssize_t n = read(reader, buf, std::min(sizeof(buf), want - got.size()));
            if (n <= 0) break;
            got.append(buf, size_t(n));
        }
        return got;
    }
    bool logged(const std::string& part) const {
        for (const std::string& l : log)
            if (l.find(part) != std::string::npos) return true;
        return false;
    }

    std::unique_ptr<PtyPort> port;
    std::vector<std::string> log;
    int reader = -1;
};

TEST_F(PtyPortTest, OutputReachesTheSlaveUnchanged) {
    EXPECT_EQ(port->slave_path().rfind("/dev/pts/", 0), 0u) << port->slave_path();
    open_reader();
    const std::string text = "hello\nfrom\tthe domU\r\n\x01";
    port->write_bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    EXPECT_EQ(read_reader(text.size()), text) << "raw: no newline translation, no line editing";
    EXPECT_EQ(port->dropped(), 0u);
}

TEST_F(PtyPortTest, WhatIsTypedIntoTheSlaveIsInput) {
    open_reader();
    uint8_t buf[64];
    EXPECT_EQ(port->read_bytes(buf, sizeof(buf)), 0u) << "nothing typed: no wait";
    ASSERT_EQ(write(reader, "abc\x1d", 4), 4);
    ASSERT_TRUE(readable(port->fd(), kHangGuardMs));
    EXPECT_EQ(port->read_bytes(buf, sizeof(buf)), 4u);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 4), "abc\x1d");
    std::string echoed;
    char c;
    while (read(reader, &c, 1) == 1) echoed += c;
    EXPECT_EQ(echoed, "") << "no echo";
}

TEST_F(PtyPortTest, OutputNobodyReadsIsDroppedWithoutBlocking) {
    // Far more than any kernel keeps in a pty; each call returns at once.
    std::vector<uint8_t> chunk(65536);
    for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = uint8_t('a' + i % 26);
    constexpr int kChunks = 64;
    for (int i = 0; i < kChunks; ++i) port->write_bytes(chunk.data(), chunk.size());
    EXPECT_GT(port->dropped(), 0u);
    EXPECT_LT(port->dropped(), uint64_t(kChunks) * chunk.size()) << "what fitted was kept";
    EXPECT_TRUE(logged("hvc0: " + port->slave_path() + " is full (nobody reads it, or too slowly): output is dropped"));
    EXPECT_EQ(log.size(), 1u) << "said once, not for every write";

    // A reader that comes later finds the oldest output; once it has read, output goes
    // through again and the drops are counted in the log.
    open_reader();
    EXPECT_EQ(read_reader(26), "abcdefghijklmnopqrstuvwxyz");
    char buf[4096];
    for (int i = 0; i < 100000 && !logged("bytes of output were dropped"); ++i) {
        while (read(reader, buf, sizeof(buf)) > 0) {
        }
        port->write_bytes(reinterpret_cast<const uint8_t*>("x"), 1);
        if (!logged("bytes of output were dropped")) readable(reader, 10);
    }
    EXPECT_TRUE(logged("hvc0: " + std::to_string(port->dropped()) + " bytes of output were dropped while " +
                       port->slave_path() + " was full"));
}

TEST_F(PtyPortTest, AReaderThatLeavesLeavesNoHangup) {
    open_reader();
    close(reader);
    reader = -1;
    pollfd p{port->fd(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 0) << "revents " << p.revents << ": the port keeps the slave open itself";
    uint8_t buf[16];
    EXPECT_EQ(port->read_bytes(buf, sizeof(buf)), 0u);
    open_reader();  // the next one is served as the first was
    port->write_bytes(reinterpret_cast<const uint8_t*>("again"), 5);
    EXPECT_EQ(read_reader(5), "again");
}

}  // namespace
