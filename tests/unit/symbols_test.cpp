#include "kernel/symbols.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

const SymbolEntry kTable[] = {{0x1000, "first"}, {0x1040, "second"}, {0x1100, "third"}};

TEST(Symbols, FindsContainingSymbolAndOffset) {
    SymbolMatch m = find_symbol(kTable, 3, 0x1044, 0x2000);
    ASSERT_NE(m.name, nullptr);
    EXPECT_EQ(std::string(m.name), "second");
    EXPECT_EQ(m.offset, 4u);
    m = find_symbol(kTable, 3, 0x1000, 0x2000);
    EXPECT_EQ(std::string(m.name), "first");
    EXPECT_EQ(m.offset, 0u);
    m = find_symbol(kTable, 3, 0x1fff, 0x2000);
    EXPECT_EQ(std::string(m.name), "third");
    EXPECT_EQ(m.offset, 0xeffu);
}

TEST(Symbols, OutsideTheTableHasNoName) {
    EXPECT_EQ(find_symbol(kTable, 3, 0xfff, 0x2000).name, nullptr);
    EXPECT_EQ(find_symbol(kTable, 3, 0x2000, 0x2000).name, nullptr);
    EXPECT_EQ(find_symbol(kTable, 0, 0x1000, 0x2000).name, nullptr);
}

}  // namespace
