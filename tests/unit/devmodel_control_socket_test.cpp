// vireo-dm's control socket (dom0/devmodel/control_socket.cpp) on a real unix socket of
// the machine the tests run on, with xm's end (dom0/xm/device_model_control.cpp) as the
// client: the state crosses whole, refusals and silence come out in a user's words, and
// the socket file is private, replaces a stale one and goes when vireo-dm does.
#include "dom0/devmodel/control_socket.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dom0/devmodel/control_commands.hpp"
#include "dom0/xm/device_model_control.hpp"

namespace {

using devmodel::control::ControlCommands;
using devmodel::control::ControlSocket;

// Bounds a wait for a reply the server is about to send: a guard against a hang, not a
// timing assumption.
constexpr int kHangGuardMs = 10000;

bool exists(const std::string& path) {
    struct stat s {};
    return lstat(path.c_str(), &s) == 0;
}

// A socket file nobody listens on, as a vireo-dm killed outright leaves it.
void make_dead_socket(const std::string& path) {
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path.data(), path.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    close(fd);
}

class ControlSocketTest : public ::testing::Test {
protected:
    void SetUp() override {
        char name[] = "/tmp/vireo-dmctl-XXXXXX";
        ASSERT_NE(mkdtemp(name), nullptr);
        directory = name;
        path = directory + "/run/dm-3.sock";
    }
    void TearDown() override {
        stop_server();
        unlink(path.c_str());
        rmdir((directory + "/run").c_str());
        rmdir(directory.c_str());
    }

    // vireo-dm's loop, reduced to its control socket, on a thread of its own.
    void start_server() {
        std::string error;
        ASSERT_TRUE(server.listen(path, error)) << error;
        thread = std::thread([this] {
            while (!stop) {
                pollfd p{server.fd(), POLLIN, 0};
                if (poll(&p, 1, 20) <= 0) continue;
                for (const std::string& line : server.take_commands()) server.reply(commands.handle(line));
            }
        });
    }
    void stop_server() {
        stop = true;
        if (thread.joinable()) thread.join();
    }

    std::string directory, path;
    std::vector<uint8_t> blob{1, 2, 3};
    std::string refusal;
    std::atomic<int> resumes{0};
    ControlCommands commands{{[this](std::vector<uint8_t>& out, std::string& error) {
                                  if (!refusal.empty()) error = refusal;
                                  out = blob;
                                  return refusal.empty();
                              },
                              [this] { ++resumes; }, [](const std::string&, std::string&) { return true; }}};
    ControlSocket server;
    std::atomic<bool> stop{false};
    std::thread thread;
};

TEST_F(ControlSocketTest, SaveThenContinue) {
    blob.resize(devmodel::control::kMaxState);
    for (size_t i = 0; i < blob.size(); ++i) blob[i] = uint8_t(i * 7 + (i >> 12));
    start_server();
    std::vector<uint8_t> got;
    std::string error;
    ASSERT_TRUE(xm::device_model_request(path, "save", &got, kHangGuardMs, error)) << error;
    EXPECT_EQ(got, blob);
    EXPECT_EQ(resumes, 0);
    ASSERT_TRUE(xm::device_model_request(path, "continue", nullptr, kHangGuardMs, error)) << error;
    EXPECT_EQ(resumes, 1);
}

TEST_F(ControlSocketTest, RefusalsAreTheDeviceModelsWords) {
    refusal = "slot 2: virtio-blk: busy";
    start_server();
    std::vector<uint8_t> got;
    std::string error;
    EXPECT_FALSE(xm::device_model_request(path, "save", &got, kHangGuardMs, error));
    EXPECT_EQ(error, "its device model refused: slot 2: virtio-blk: busy");
    EXPECT_FALSE(xm::device_model_request(path, "frob", nullptr, kHangGuardMs, error));
    EXPECT_EQ(error, "its device model refused: unknown command 'frob'");
    // "ok" where a state was wanted is not a state.
    EXPECT_FALSE(xm::device_model_request(path, "continue", &got, kHangGuardMs, error));
    EXPECT_EQ(error, "its device model's reply is not one xm understands");
}

TEST_F(ControlSocketTest, SilenceAndAbsenceAreNoAnswer) {
    std::string error;
    EXPECT_FALSE(xm::device_model_request(path, "continue", nullptr, kHangGuardMs, error));
    EXPECT_EQ(error.rfind("its device model did not answer (" + path + ": ", 0), 0u) << error;
    // Listening, but its loop never gets to the client.
    ASSERT_TRUE(server.listen(path, error)) << error;
    EXPECT_FALSE(xm::device_model_request(path, "continue", nullptr, 100, error));
    EXPECT_EQ(error.rfind("its device model did not answer within", 0), 0u) << error;
}

TEST_F(ControlSocketTest, ATooLongLineIsRefused) {
    start_server();
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, path.data(), path.size());
    ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
    const std::string sent(devmodel::control::kMaxCommandLine + 1, 'a');
    ASSERT_EQ(send(fd, sent.data(), sent.size(), MSG_NOSIGNAL), ssize_t(sent.size()));
    std::string got;
    char buffer[256];
    pollfd p{fd, POLLIN, 0};
    while (poll(&p, 1, kHangGuardMs) == 1) {
        const ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n <= 0) break;
        got.append(buffer, size_t(n));
    }
    close(fd);
    EXPECT_EQ(got, "error command too long\n");
}

TEST_F(ControlSocketTest, TheSocketIsPrivateReplacesAStaleOneAndGoesAtExit) {
    std::string error;
    {
        ControlSocket first;
        ASSERT_TRUE(first.listen(path, error)) << error;
        struct stat s {};
        ASSERT_EQ(lstat(path.c_str(), &s), 0);
        EXPECT_TRUE(S_ISSOCK(s.st_mode));
        EXPECT_EQ(s.st_mode & 0777, 0600u);
        ASSERT_EQ(lstat((directory + "/run").c_str(), &s), 0);
        EXPECT_EQ(s.st_mode & 0777, 0755u);
    }
    EXPECT_FALSE(exists(path));
    make_dead_socket(path);
    {
        ControlSocket second;
        ASSERT_TRUE(second.listen(path, error)) << error;
        EXPECT_TRUE(exists(path));
    }
    EXPECT_FALSE(exists(path));
}

TEST_F(ControlSocketTest, ANewerSocketAtThePathStays) {
    std::string error;
    {
        ControlSocket old;
        ASSERT_TRUE(old.listen(path, error)) << error;
        unlink(path.c_str());
        make_dead_socket(path);
    }
    EXPECT_TRUE(exists(path));
}

TEST_F(ControlSocketTest, AFileThatIsNoSocketIsLeftAlone) {
    std::string error;
    ControlSocket first;
    ASSERT_TRUE(first.listen(path, error)) << error;
    unlink(path.c_str());
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
    ControlSocket second;
    EXPECT_FALSE(second.listen(path, error));
    EXPECT_EQ(error, path + ": exists and is not a socket");
}

}  // namespace
