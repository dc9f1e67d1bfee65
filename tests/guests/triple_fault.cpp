// A guest that triple-faults (an exception with an empty IDT) dies alone.
#include "tests/guests/lib/guest.hpp"

int guest_main(uint32_t, uint32_t) {
    print("loading an empty IDT and raising #BP: this domain must crash with a triple fault\n");
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } empty{0, 0};
    asm volatile("lidt %0; int3" ::"m"(empty));
    print("FAIL: survived a triple fault\n");
    return 3;
}
