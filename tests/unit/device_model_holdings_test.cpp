// The record of what a device model holds outside itself (dom0/common/
// device_model_holdings.cpp): read back as written, and let go of only once its device
// model is gone, and only what is still the one it took (a device another device model
// connected since, or a link that points elsewhere now, stays).
#include "dom0/common/device_model_holdings.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using dom0::Holding;
using dom0::HoldingsSystem;

class FakeSystem final : public HoldingsSystem {
public:
    std::set<pid_t> live;
    std::map<std::string, std::string> files;  // path -> text
    std::map<std::string, std::string> links;  // path -> target
    std::set<std::string> sockets;
    std::map<std::string, pid_t> nbd;  // device -> server
    std::vector<std::string> disconnected;
    std::vector<std::string> removed;

    bool alive(pid_t pid) override { return live.count(pid) != 0; }
    bool read_file(const std::string& path, std::string& text) override {
        if (!files.count(path)) return false;
        text = files[path];
        return true;
    }
    void remove_file(const std::string& path) override {
        removed.push_back(path);
        files.erase(path);
        links.erase(path);
        sockets.erase(path);
    }
    pid_t nbd_server(const std::string& device) override { return nbd.count(device) ? nbd[device] : 0; }
    bool nbd_disconnect(const std::string& device, std::string&) override {
        disconnected.push_back(device);
        nbd.erase(device);
        return true;
    }
    bool link_target(const std::string& path, std::string& target) override {
        if (!links.count(path)) return false;
        target = links[path];
        return true;
    }
    bool is_socket(const std::string& path) override { return sockets.count(path) != 0; }
};

const std::string kRecord = "/run/vireo/dm-7.holds";
const std::string kText =
    "pid 400\n"
    "nbd /dev/nbd0 401\n"
    "link /run/vireo/web.hvc0 /dev/pts/3\n"
    "socket /run/vireo/dm-7.sock\n";

FakeSystem killed_device_model() {
    FakeSystem s;
    s.files[kRecord] = kText;
    s.nbd["/dev/nbd0"] = 401;
    s.links["/run/vireo/web.hvc0"] = "/dev/pts/3";
    s.sockets.insert("/run/vireo/dm-7.sock");
    return s;
}

TEST(DeviceModelHoldings, ReadsBackWhatItWrites) {
    const std::vector<Holding> written = {
        {Holding::Kind::Nbd, "/dev/nbd3", "", 1234},
        {Holding::Kind::Link, "/run/vireo/a.hvc0", "/dev/pts/9", 0},
        {Holding::Kind::Socket, "/run/vireo/dm-2.sock", "", 0},
    };
    std::string text = "pid 99\n";
    for (const Holding& h : written) text += dom0::holding_line(h) + "\n";
    const dom0::HoldingsRecord r = dom0::parse_holdings(text);
    EXPECT_EQ(r.owner, 99);
    ASSERT_EQ(r.holdings.size(), 3u);
    EXPECT_TRUE(r.bad_lines.empty());
    for (size_t i = 0; i < written.size(); ++i) {
        EXPECT_EQ(r.holdings[i].kind, written[i].kind);
        EXPECT_EQ(r.holdings[i].path, written[i].path);
        EXPECT_EQ(r.holdings[i].target, written[i].target);
        EXPECT_EQ(r.holdings[i].server, written[i].server);
    }
    EXPECT_EQ(dom0::holdings_path(7), kRecord);
}

TEST(DeviceModelHoldings, LinesNotUnderstoodAreKeptAside) {
    const dom0::HoldingsRecord r =
        dom0::parse_holdings("pid 5\nnbd /etc/passwd 3\nnbd /dev/nbd1 -4\nlink relative /x\nwhat is this\n\n");
    EXPECT_EQ(r.owner, 5);
    EXPECT_TRUE(r.holdings.empty());
    EXPECT_EQ(r.bad_lines.size(), 4u);
}

TEST(DeviceModelHoldings, NothingIsReleasedWhileItsDeviceModelRuns) {
    FakeSystem s = killed_device_model();
    s.live.insert(400);
    EXPECT_TRUE(dom0::release_orphaned_holdings(7, s).empty());
    EXPECT_TRUE(s.disconnected.empty());
    EXPECT_TRUE(s.removed.empty());
}

TEST(DeviceModelHoldings, NoRecordNothingToDo) {
    FakeSystem s;
    EXPECT_TRUE(dom0::release_orphaned_holdings(7, s).empty());
    EXPECT_TRUE(s.removed.empty());
}

TEST(DeviceModelHoldings, AKilledDeviceModelsHoldingsAreLetGo) {
    FakeSystem s = killed_device_model();
    const std::vector<std::string> said = dom0::release_orphaned_holdings(7, s);
    ASSERT_EQ(said.size(), 3u);
    EXPECT_EQ(said[0], "/dev/nbd0 disconnected (the device model of domain 7 ended without letting go of it)");
    EXPECT_EQ(said[1], "/run/vireo/web.hvc0 removed (the device model of domain 7's console link)");
    EXPECT_EQ(said[2], "/run/vireo/dm-7.sock removed (the device model of domain 7's control socket)");
    EXPECT_EQ(s.disconnected, std::vector<std::string>{"/dev/nbd0"});
    EXPECT_TRUE(s.links.empty());
    EXPECT_TRUE(s.sockets.empty());
    EXPECT_FALSE(s.files.count(kRecord));
}

TEST(DeviceModelHoldings, WhatSomebodyElseHoldsNowStays) {
    FakeSystem s = killed_device_model();
    s.nbd["/dev/nbd0"] = 555;                       // another device model's server now
    s.links["/run/vireo/web.hvc0"] = "/dev/pts/8";  // a new domain of that name
    s.sockets.clear();
    s.files["/run/vireo/dm-7.sock"] = "not a socket";
    EXPECT_TRUE(dom0::release_orphaned_holdings(7, s).empty());
    EXPECT_TRUE(s.disconnected.empty());
    EXPECT_EQ(s.links["/run/vireo/web.hvc0"], "/dev/pts/8");
    EXPECT_TRUE(s.files.count("/run/vireo/dm-7.sock"));
    EXPECT_FALSE(s.files.count(kRecord));  // the record itself goes
}

}  // namespace
