// A guest that resets its machine as soon as it starts, through the PC's reset control
// register (port 0xCF9, as Linux's reboot=pci does): Vireo restarts it, at most ten
// times within a minute, then ends it as a reset loop instead of restarting it for ever.
#include "tests/guests/lib/guest.hpp"

int guest_main(uint32_t, uint32_t) {
    print("reset loop: started; resetting the machine\n");
    outb(0xcf9, 0x02);  // system reset, then the reset itself (bit 2)
    outb(0xcf9, 0x06);
    print("RESULT: FAIL (the reset did not happen)\n");
    return 1;
}
