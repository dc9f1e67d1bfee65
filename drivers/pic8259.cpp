#include "drivers/pic8259.hpp"

#include "kernel/idt.hpp"
#include "kernel/x86/instructions.hpp"

void pic8259_remap_and_mask() {
    // ICW1..ICW4 (8259A datasheet): edge triggered, cascaded, 8086 mode. Remapping
    // first means even a spurious IRQ7/IRQ15 arrives on 0x27/0x2f, not on an
    // exception vector.
    constexpr u16 kMasterCommand = 0x20, kMasterData = 0x21, kSlaveCommand = 0xa0, kSlaveData = 0xa1;
    x86::outb(kMasterCommand, 0x11);
    x86::outb(kSlaveCommand, 0x11);
    x86::outb(kMasterData, kVectorLegacyPicBase);
    x86::outb(kSlaveData, kVectorLegacyPicBase + 8);
    x86::outb(kMasterData, 0x04);  // slave on IRQ2
    x86::outb(kSlaveData, 0x02);
    x86::outb(kMasterData, 0x01);
    x86::outb(kSlaveData, 0x01);
    x86::outb(kMasterData, 0xff);
    x86::outb(kSlaveData, 0xff);
}
