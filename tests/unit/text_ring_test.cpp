#include "kernel/text_ring.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace {

std::string read_all(const TextRing<16>& ring, u64 position, u64& first, usize room = 64) {
    char out[64];
    const usize n = ring.read(position, out, room, first);
    return std::string(out, n);
}

TEST(TextRing, ReadsWhatWasAppendedFromAnyPosition) {
    auto ring = std::make_unique<TextRing<16>>();
    ring->append("hello ", 6);
    ring->append("world", 5);
    u64 first = 99;
    EXPECT_EQ(read_all(*ring, 0, first), "hello world");
    EXPECT_EQ(first, 0u);
    EXPECT_EQ(read_all(*ring, 6, first), "world");
    EXPECT_EQ(first, 6u);
    EXPECT_EQ(ring->end(), 11u);
}

TEST(TextRing, AReaderAtTheEndGetsNothingAndAPositionPastItIsTheEnd) {
    auto ring = std::make_unique<TextRing<16>>();
    ring->append("abc", 3);
    u64 first = 0;
    EXPECT_EQ(read_all(*ring, 3, first), "");
    EXPECT_EQ(first, 3u);
    EXPECT_EQ(read_all(*ring, 1000, first), "");
    EXPECT_EQ(first, 3u);
}

TEST(TextRing, OverwrittenBytesAreSkippedAndTheReaderSeesHowMany) {
    auto ring = std::make_unique<TextRing<16>>();
    for (char c = 'a'; c <= 'z'; ++c) ring->append(&c, 1);  // 26 bytes into 16
    u64 first = 0;
    EXPECT_EQ(read_all(*ring, 2, first), "klmnopqrstuvwxyz");
    EXPECT_EQ(first, 10u) << "the reader asked for 2: bytes 2-9 are lost, and it can tell";
    EXPECT_EQ(ring->oldest(), 10u);
}

TEST(TextRing, ALongAppendKeepsItsEnd) {
    auto ring = std::make_unique<TextRing<16>>();
    const std::string text = "0123456789abcdefghijklmnopqrstuvwxyz";
    ring->append(text.data(), text.size());
    u64 first = 0;
    EXPECT_EQ(read_all(*ring, 0, first), text.substr(text.size() - 16));
    EXPECT_EQ(first, text.size() - 16);
    EXPECT_EQ(ring->end(), text.size());
}

TEST(TextRing, AShortBufferGetsTheStartAndTheRestComesNext) {
    auto ring = std::make_unique<TextRing<16>>();
    ring->append("abcdefgh", 8);
    u64 first = 0;
    EXPECT_EQ(read_all(*ring, 0, first, 3), "abc");
    EXPECT_EQ(read_all(*ring, first + 3, first, 3), "def");
    EXPECT_EQ(first, 3u);
}

TEST(TextRing, ClearHidesWhatCameBeforeIt) {
    auto ring = std::make_unique<TextRing<16>>();
    ring->append("old", 3);
    ring->clear_before(2);
    u64 first = 0;
    EXPECT_EQ(read_all(*ring, 0, first), "d");
    ring->clear_before(100);  // past the end: up to the end
    ring->append("new", 3);
    EXPECT_EQ(read_all(*ring, 0, first), "new");
    EXPECT_EQ(first, 3u);
    ring->clear_before(1);  // never back
    EXPECT_EQ(read_all(*ring, 0, first), "new");
}

}  // namespace
