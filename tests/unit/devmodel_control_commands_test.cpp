// What each control command does to the devices' run state
// (dom0/devmodel/control_commands.cpp): a successful save stops them until continue,
// which resumes them once; a refused save leaves them running.
#include "dom0/devmodel/control_commands.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dom0/devmodel/control_protocol.hpp"

namespace {

using devmodel::control::ControlCommands;

std::string text(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

class ControlCommandsTest : public ::testing::Test {
protected:
    ControlCommands commands{{[this](std::vector<uint8_t>& out, std::string& error) {
                                  ++saves;
                                  if (!refusal.empty()) {
                                      error = refusal;
                                      return false;
                                  }
                                  out = blob;
                                  return true;
                              },
                              [this] { ++resumes; },
                              [this](const std::string& name, std::string& error) {
                                  if (name == "taken") {
                                      error = "/run/vireo/taken.hvc0: Permission denied";
                                      return false;
                                  }
                                  renamed = name;
                                  return true;
                              }}};
    std::vector<uint8_t> blob{'V', 'D', 0, 'S'};
    std::string refusal;
    std::string renamed;
    int saves = 0;
    int resumes = 0;
};

TEST_F(ControlCommandsTest, SaveStopsUntilContinue) {
    EXPECT_FALSE(commands.stopped());
    EXPECT_EQ(text(commands.handle("save")), std::string("ok 4\nVD\0S", 9));
    EXPECT_TRUE(commands.stopped());
    EXPECT_EQ(resumes, 0);
    EXPECT_EQ(text(commands.handle("continue")), "ok\n");
    EXPECT_FALSE(commands.stopped());
    EXPECT_EQ(resumes, 1);
    // Running devices have nothing to resume.
    EXPECT_EQ(text(commands.handle("continue")), "ok\n");
    EXPECT_EQ(resumes, 1);
}

TEST_F(ControlCommandsTest, RenameTellsTheDevicesAndAnswers) {
    EXPECT_EQ(text(commands.handle("rename web-2")), "ok\n");
    EXPECT_EQ(renamed, "web-2");
    EXPECT_EQ(text(commands.handle("rename taken")), "error /run/vireo/taken.hvc0: Permission denied\n");
    // Not a domain name: not a command at all.
    EXPECT_EQ(text(commands.handle("rename ../../etc/x")), "error unknown command 'rename ../../etc/x'\n");
    EXPECT_EQ(renamed, "web-2");
}

TEST_F(ControlCommandsTest, ASecondSaveWhileStoppedSavesAgain) {
    commands.handle("save");
    EXPECT_EQ(text(commands.handle("save")), std::string("ok 4\nVD\0S", 9));
    EXPECT_EQ(saves, 2);
    EXPECT_TRUE(commands.stopped());
}

TEST_F(ControlCommandsTest, ARefusedSaveLeavesTheDevicesRunning) {
    refusal = "slot 2: virtio-blk: queue 0: a request in flight";
    EXPECT_EQ(text(commands.handle("save")), "error slot 2: virtio-blk: queue 0: a request in flight\n");
    EXPECT_FALSE(commands.stopped());
    EXPECT_EQ(text(commands.handle("continue")), "ok\n");
    EXPECT_EQ(resumes, 0);
}

TEST_F(ControlCommandsTest, AStateOverTheLimitIsNotSent) {
    blob.assign(devmodel::control::kMaxState + 1, 0);
    const std::string reply = text(commands.handle("save"));
    EXPECT_EQ(reply.rfind("error the devices' state is 1048577 bytes", 0), 0u) << reply;
    EXPECT_FALSE(commands.stopped());
}

TEST_F(ControlCommandsTest, UnknownCommandsAreNamed) {
    EXPECT_EQ(text(commands.handle("restore /tmp/x")), "error unknown command 'restore /tmp/x'\n");
    EXPECT_EQ(text(commands.handle("")), "error unknown command ''\n");
    EXPECT_EQ(saves, 0);
    EXPECT_FALSE(commands.stopped());
}

}  // namespace
