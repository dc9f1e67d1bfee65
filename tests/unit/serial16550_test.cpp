#include "drivers/serial16550.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

// A 16550 seen from its ports: records writes; the scratch register holds what is
// written (or not, to model a missing UART); the transmitter is always empty.
class FakeUart final : public PortIo {
public:
    explicit FakeUart(bool present) : present_(present) {}
    struct Access {
        u16 port;
        u8 value;
    };
    std::vector<Access> writes;
    std::string transmitted;
    u8 scratch = 0;
    bool dlab = false;

    u8 in8(u16 port) override {
        if (!present_) return 0xff;
        if (port == 0x3f8 + Serial16550::kScratch) return scratch;
        if (port == 0x3f8 + Serial16550::kLineStatus) return Serial16550::kLineStatusTransmitEmpty;
        return 0;
    }
    void out8(u16 port, u8 value) override {
        writes.push_back({port, value});
        if (port == 0x3f8 + Serial16550::kScratch) scratch = value;
        if (port == 0x3f8 + Serial16550::kLineControl) dlab = value & Serial16550::kLineControlDlab;
        if (port == 0x3f8 + Serial16550::kData && !dlab) transmitted.push_back(char(value));
    }
    u16 in16(u16) override { return 0; }
    void out16(u16, u16) override {}
    u32 in32(u16) override { return 0; }
    void out32(u16, u32) override {}

private:
    bool present_;
};

TEST(Serial16550, ProgramsDivisorAnd8N1) {
    FakeUart uart(true);
    Serial16550 serial(uart, 0x3f8);
    ASSERT_TRUE(serial.init(115200));
    // Divisor latch 1 (115200 baud) written with DLAB set, then 8N1 with DLAB clear.
    bool saw_divisor = false;
    for (size_t i = 0; i + 2 < uart.writes.size(); ++i) {
        if (uart.writes[i].port == 0x3fb && uart.writes[i].value == 0x80 && uart.writes[i + 1].port == 0x3f8 &&
            uart.writes[i + 1].value == 1 && uart.writes[i + 2].port == 0x3f9 && uart.writes[i + 2].value == 0)
            saw_divisor = true;
    }
    EXPECT_TRUE(saw_divisor);
    EXPECT_FALSE(uart.dlab);
    EXPECT_TRUE(uart.transmitted.empty());
}

TEST(Serial16550, MissingUartIsDetected) {
    FakeUart uart(false);
    Serial16550 serial(uart, 0x3f8);
    EXPECT_FALSE(serial.init());
}

TEST(Serial16550, NewlinesBecomeCrLf) {
    FakeUart uart(true);
    Serial16550 serial(uart, 0x3f8);
    ASSERT_TRUE(serial.init());
    serial.write("a\nb", 3);
    EXPECT_EQ(uart.transmitted, "a\r\nb");
}

}  // namespace
