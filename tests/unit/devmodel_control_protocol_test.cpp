// The control socket's framing (dom0/devmodel/control_protocol.cpp): command lines,
// replies, and a reply read back as it arrives in pieces, with its blob kept binary.
#include "dom0/devmodel/control_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace devmodel::control;

void feed(ReplyReader& reader, const std::string& bytes) {
    reader.feed(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(ControlProtocol, SocketPathFollowsTheDomainId) {
    EXPECT_EQ(socket_path(7), "/run/vireo/dm-7.sock");
    EXPECT_EQ(socket_path(4294967295u), "/run/vireo/dm-4294967295.sock");
}

TEST(ControlProtocol, CommandsAreWholeLowerCaseWords) {
    EXPECT_EQ(parse_command("save"), Command::kSave);
    EXPECT_EQ(parse_command("continue"), Command::kContinue);
    EXPECT_EQ(parse_command("Save"), Command::kUnknown);
    EXPECT_EQ(parse_command("save "), Command::kUnknown);
    EXPECT_EQ(parse_command(""), Command::kUnknown);
    EXPECT_EQ(parse_command("rename web.2_a-b"), Command::kRename);
    EXPECT_EQ(devmodel::control::rename_argument("rename web.2_a-b"), "web.2_a-b");
    EXPECT_EQ(parse_command("rename "), Command::kUnknown);
    EXPECT_EQ(parse_command("rename a/b"), Command::kUnknown);
    EXPECT_EQ(parse_command("rename a b"), Command::kUnknown);
    EXPECT_EQ(parse_command("rename " + std::string(32, 'x')), Command::kUnknown);
}

TEST(ControlProtocol, RepliesAreOneLine) {
    EXPECT_EQ(ok_reply(), "ok\n");
    EXPECT_EQ(ok_reply(1234), "ok 1234\n");
    EXPECT_EQ(error_reply("slot 3: virtio-blk: busy"), "error slot 3: virtio-blk: busy\n");
    EXPECT_EQ(error_reply("two\nlines\r"), "error two lines \n");
    EXPECT_EQ(unknown_command_reply("frob\x01"), "error unknown command 'frob?'\n");
    const std::string long_reply = error_reply(std::string(10000, 'x'));
    EXPECT_EQ(long_reply.size(), kMaxReplyLine + 1);
    EXPECT_EQ(long_reply.find('\n'), kMaxReplyLine);
}

TEST(ControlProtocol, ReplyLinesParse) {
    Reply r = parse_reply("ok");
    EXPECT_EQ(r.kind, Reply::Kind::kOk);
    EXPECT_FALSE(r.length.has_value());
    r = parse_reply("ok 12");
    EXPECT_EQ(r.kind, Reply::Kind::kOk);
    EXPECT_EQ(r.length, 12u);
    EXPECT_EQ(parse_reply("ok 0").length, 0u);
    EXPECT_EQ(parse_reply(ok_reply(kMaxState).substr(0, ok_reply(kMaxState).size() - 1)).length, kMaxState);
    r = parse_reply("error slot 2: no");
    EXPECT_EQ(r.kind, Reply::Kind::kError);
    EXPECT_EQ(r.why, "slot 2: no");
    EXPECT_EQ(parse_reply("error").kind, Reply::Kind::kError);
    for (const char* bad :
         {"", "okay", "ok ", "ok -1", "ok 1 2", "ok 0x10", "ok 1048577", "ok 99999999999999999999999", "errors", "OK"})
        EXPECT_EQ(parse_reply(bad).kind, Reply::Kind::kMalformed) << bad;
}

TEST(ControlProtocol, LinesCollectAcrossReads) {
    LineBuffer lines(kMaxCommandLine);
    lines.append("sa", 2);
    EXPECT_FALSE(lines.next_line().has_value());
    lines.append("ve\r\ncontinue\nx", 14);
    EXPECT_EQ(lines.next_line(), "save");
    EXPECT_EQ(lines.next_line(), "continue");
    EXPECT_FALSE(lines.next_line().has_value());
    EXPECT_FALSE(lines.overflowed());
    EXPECT_EQ(lines.take_rest(), "x");
}

TEST(ControlProtocol, ALineLongerThanTheLimitOverflows) {
    LineBuffer exact(kMaxCommandLine);
    const std::string longest(kMaxCommandLine, 'a');
    exact.append(longest.data(), longest.size());
    EXPECT_FALSE(exact.overflowed());
    exact.append("\r\n", 2);
    EXPECT_FALSE(exact.overflowed());
    EXPECT_EQ(exact.next_line(), longest);

    LineBuffer over(kMaxCommandLine);
    const std::string too_long(kMaxCommandLine + 1, 'a');
    over.append(too_long.data(), too_long.size());
    EXPECT_TRUE(over.overflowed());
    over.append("\n", 1);
    EXPECT_TRUE(over.overflowed());
    EXPECT_FALSE(over.next_line().has_value());
}

TEST(ControlProtocol, ABlobArrivesWholeInAnyPieces) {
    std::string reply = "ok 5\n";
    reply += std::string(
        "\0\n\xff"
        "ab",
        5);
    for (size_t piece = 1; piece <= reply.size(); ++piece) {
        ReplyReader reader;
        for (size_t at = 0; at < reply.size(); at += piece) {
            EXPECT_FALSE(reader.complete());
            feed(reader, reply.substr(at, piece));
        }
        ASSERT_TRUE(reader.complete()) << piece;
        EXPECT_FALSE(reader.malformed());
        EXPECT_EQ(reader.reply().length, 5u);
        EXPECT_EQ(reader.blob(), (std::vector<uint8_t>{0, '\n', 0xff, 'a', 'b'}));
    }
}

TEST(ControlProtocol, RepliesWithoutBlobsCompleteAtTheirLine) {
    ReplyReader ok;
    feed(ok, "ok\n");
    EXPECT_TRUE(ok.complete());
    EXPECT_TRUE(ok.blob().empty());
    ReplyReader error;
    feed(error, "error unknown command 'x'\n");
    EXPECT_TRUE(error.complete());
    EXPECT_EQ(error.reply().kind, Reply::Kind::kError);
    EXPECT_EQ(error.reply().why, "unknown command 'x'");
}

TEST(ControlProtocol, WhatIsNotAReplyIsMalformed) {
    ReplyReader extra;
    feed(extra, "ok 1\nab");
    EXPECT_TRUE(extra.malformed());
    ReplyReader after;
    feed(after, "ok\n");
    feed(after, "x");
    EXPECT_TRUE(after.malformed());
    ReplyReader garbage;
    feed(garbage, "hello\n");
    EXPECT_TRUE(garbage.malformed());
    ReplyReader endless;
    feed(endless, std::string(kMaxReplyLine + 1, 'e'));
    EXPECT_TRUE(endless.malformed());
    EXPECT_FALSE(endless.complete());
}

}  // namespace
