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
    // String I/O: REP OUTSB from DS:ESI to COM1, REP INSW from an unclaimed port to ES:EDI.
    static const char line[] = "written with rep outsb\n";
    const char* src = line;
    uint32_t count = sizeof(line) - 1;
    asm volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(uint16_t(0x3f8)) : "memory");
    CHECK(count == 0 && src == line + sizeof(line) - 1, "REP OUTSB consumed the string and ECX");
    uint16_t words[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint16_t* dst = words;
    count = 6;
    asm volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(uint16_t(0x1234)) : "memory");
    bool floated = true;
    for (int i = 0; i < 6; ++i) floated &= words[i] == 0xffff;
    CHECK(floated && words[6] == 7 && count == 0 && dst == words + 6, "REP INSW filled exactly 6 words with 0xffff");
    // Backwards with DF=1, one element.
    uint8_t byte_buffer[2] = {0, 0};
    uint8_t* backwards = &byte_buffer[1];
    asm volatile("std; insb; cld" : "+D"(backwards) : "d"(uint16_t(0x3f8 + 7)) : "memory");
    CHECK(byte_buffer[1] == 0x5a && backwards == &byte_buffer[0],
          "INSB with DF=1 stored the scratch byte and stepped down");
    return finish("portio");
}
