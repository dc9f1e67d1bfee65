// MMIO in hostile forms (attack=mmio), on the test MMIO device's scratch area
// (kernel/vm/devices/test_mmio_device.hpp; tests/guests/mmio.cpp has the ordinary
// forms): LOCK-prefixed read-modify-writes, XCHG, a string move from MMIO to
// MMIO, PUSH and POP of MMIO operands, a stack in MMIO, BT with a bit offset past the
// operand, and a segment override. Each must do what it does on RAM. CMPXCHG8B is not
// emulated: it ends its domain (attack=end-mmio-cmpxchg8b in attack_end.cpp).
#include "tests/guests/attack.hpp"

namespace {

constexpr uint32_t kScratch = 0xfe000000;

volatile uint32_t* mmio32(uint32_t offset) { return reinterpret_cast<volatile uint32_t*>(kScratch + offset); }

}  // namespace

int attack_mmio() {
    *mmio32(0) = 40;
    uint32_t add = 2;
    int vector = PROBE("lock xaddl %0, (%1)", : "+r"(add) : "r"(mmio32(0)) : "memory");
    CHECK(vector == -1 && add == 40 && *mmio32(0) == 42, "LOCK XADD on MMIO (%d, old %u, new %u)", vector, add,
          *mmio32(0));
    uint32_t swap = 7;
    vector = PROBE("xchgl %0, (%1)", : "+r"(swap) : "r"(mmio32(0)) : "memory");
    CHECK(vector == -1 && swap == 42 && *mmio32(0) == 7, "XCHG with MMIO (%d, %u, %u)", vector, swap, *mmio32(0));
    vector = PROBE("lock orl $0x100, (%0)", : : "r"(mmio32(0)) : "memory", "cc");
    CHECK(vector == -1 && *mmio32(0) == 0x107, "LOCK OR on MMIO (%d, %#x)", vector, *mmio32(0));

    for (uint32_t i = 0; i < 8; ++i) *mmio32(0x200 + 4 * i) = 0xa0 + i;
    const volatile uint32_t* src = mmio32(0x200);
    volatile uint32_t* dst = mmio32(0x300);
    uint32_t count = 8;
    vector = PROBE("cld\n\trep movsl", : "+S"(src), "+D"(dst), "+c"(count) : : "memory");
    bool same = true;
    for (uint32_t i = 0; i < 8; ++i) same &= *mmio32(0x300 + 4 * i) == 0xa0 + i;
    CHECK(vector == -1 && count == 0 && same, "REP MOVSD from MMIO to MMIO (%d, ECX %u)", vector, count);

    *mmio32(0x40) = 0xfeedf00d;
    uint32_t popped = 0;
    vector = PROBE("pushl (%1)\n\tpopl %0", : "=r"(popped) : "r"(mmio32(0x40)) : "memory");
    CHECK(vector == -1 && popped == 0xfeedf00d, "PUSH of an MMIO operand (%d, %#x)", vector, popped);
    vector = PROBE("pushl $0xc0ffee\n\tpopl (%0)", : : "r"(mmio32(0x44)) : "memory");
    CHECK(vector == -1 && *mmio32(0x44) == 0xc0ffee, "POP into MMIO (%d, %#x)", vector, *mmio32(0x44));

    // The stack in MMIO: ESP points into the device for a PUSH and a POP (interrupts off).
    uint32_t value = 0;
    vector = PROBE("movl %%esp, %%ecx\n\tmovl %1, %%esp\n\tpushl $0x5151\n\tpopl %0\n\tmovl %%ecx, %%esp",
                   : "=r"(value)
                   : "r"(kScratch + 0x80)
                   : "ecx", "memory");
    CHECK(vector == -1 && value == 0x5151 && *mmio32(0x7c) == 0x5151, "a stack in MMIO (%d, %#x)", vector, value);

    *mmio32(0x108) = 0;
    uint32_t bit = 64 + 3;  // BT's register offset reaches past the dword: 0x100 + 8 bytes, bit 3
    vector = PROBE("btsl %0, (%1)", : : "r"(bit), "r"(mmio32(0x100)) : "memory", "cc");
    CHECK(vector == -1 && *mmio32(0x108) == 0x8, "BTS with a bit offset past the operand (%d, %#x)", vector,
          *mmio32(0x108));

    vector = PROBE("movl $0x10, %%eax\n\tmovw %%ax, %%fs\n\tmovl $0x600d, %%fs:(%0)",
                   :
                   : "r"(mmio32(0x50))
                   : "eax", "memory");
    CHECK(vector == -1 && *mmio32(0x50) == 0x600d, "a write with an FS override (%d, %#x)", vector, *mmio32(0x50));
    return finish("attack-mmio");
}
