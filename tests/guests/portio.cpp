// Port I/O: COM1 is a 16550 the guest can program; unclaimed ports float high.
#include "tests/guests/lib/guest.hpp"

int guest_main(uint32_t, uint32_t) {
    CHECK(inb(0x80) == 0xff, "an unclaimed byte port reads 0xff");
    CHECK(inw(0x1234) == 0xffff, "an unclaimed word port reads 0xffff");
    CHECK(inl(0xcf8) == 0xffffffffu, "an unclaimed dword port reads 0xffffffff");
    outb(0x80, 0x42);  // POST code port: dropped, no harm
    outb(0x3f8 + 7, 0x5a);
    CHECK(inb(0x3f8 + 7) == 0x5a, "COM1 scratch register keeps 0x5a");
    CHECK(inb(0x3f8 + 5) & 0x20, "COM1 says its transmitter is empty");
    outb(0x3f8 + 3, 0x80);  // DLAB: divisor latch
    outb(0x3f8 + 0, 0x01);
    outb(0x3f8 + 1, 0x00);
    CHECK(inb(0x3f8 + 0) == 0x01, "the divisor latch reads back");
    outb(0x3f8 + 3, 0x03);  // 8N1
    CHECK(inb(0x3f8 + 3) == 0x03, "the line control register reads back");
    // EAX above the operand: IN AL keeps the rest of EAX (SDM IN).
    uint32_t eax = 0x12345600;
    asm volatile("inb $0x80, %%al" : "+a"(eax));
    CHECK(eax == 0x123456ff, "IN AL leaves the upper bytes of EAX alone (%#x)", eax);
    return finish("portio");
}
