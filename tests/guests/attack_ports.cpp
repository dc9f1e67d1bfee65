// Host ports (attack=ports): a guest of the test machine owns its COM1 and nothing else
// (kernel/platform/test_platform.cpp), so every other port reads as a floating bus (all
// ones) and writes go nowhere. Writes that would reach the host's hardware if they
// passed: PCI configuration (0xCF8/0xCFC), the keyboard controller's reset (0x64 <- 0xFE),
// the reset control register (0xCF9), fast A20/reset (0x92), the PICs, the PIT, CMOS,
// and the COM1 of Vireo's own console (0x3F8), which is the guest's own virtual UART:
// its bytes come out prefixed with the domain's name. The host must keep running.
#include "tests/guests/attack.hpp"

namespace {

struct PortWrite {
    uint16_t port;
    uint8_t size;
    uint32_t value;
    const char* what;
};

const PortWrite kWrites[] = {
    {0xcf8, 4, 0x80000000u, "PCI CONFIG_ADDRESS: bus 0, device 0"},
    {0xcfc, 4, 0xffffffffu, "PCI CONFIG_DATA"},
    {0xcf8, 4, 0x80000004u, "PCI CONFIG_ADDRESS: the command register"},
    {0xcfc, 2, 0, "PCI command: decoding off"},
    {0x64, 1, 0xfe, "keyboard controller: pulse the reset line"},
    {0x64, 1, 0xd1, "keyboard controller: write the output port"},
    {0x60, 1, 0x00, "keyboard controller: output port with reset asserted"},
    {0xcf9, 1, 0x06, "reset control: hard reset"},
    {0xcf9, 1, 0x0e, "reset control: full reset"},
    {0x92, 1, 0x01, "system control port A: fast reset"},
    {0x20, 1, 0x11, "master PIC: ICW1"},
    {0x21, 1, 0xff, "master PIC: mask all"},
    {0xa0, 1, 0x11, "slave PIC: ICW1"},
    {0xa1, 1, 0xff, "slave PIC: mask all"},
    {0x43, 1, 0x30, "PIT: channel 0 one-shot"},
    {0x40, 1, 0x00, "PIT: channel 0 count"},
    {0x61, 1, 0x03, "port B: speaker"},
    {0x70, 1, 0x8f, "CMOS: NMI off, shutdown status"},
    {0x71, 1, 0x0a, "CMOS: shutdown status, jump"},
    {0x4d0, 1, 0xff, "ELCR"},
    {0x80, 1, 0x42, "POST code"},
    {0x402, 1, 0x41, "the firmware debug port"},
    {0xb2, 1, 0x00, "APM control: an SMI"},
    {0x604, 2, 0x2000, "the ACPI PM1 control: sleep"},
    {0xb004, 2, 0x2000, "the ACPI PM1 control of older machines: sleep"},
};

void out(uint16_t port, uint8_t size, uint32_t value) {
    if (size == 1)
        outb(port, uint8_t(value));
    else if (size == 2)
        outw(port, uint16_t(value));
    else
        outl(port, value);
}

bool guest_owned(uint32_t port) {
    return (port >= 0x3f8 && port <= 0x3ff) || (port >= 0xf4 && port <= 0xf7);  // COM1, the exit port
}

}  // namespace

int attack_ports() {
    // Every port but the guest's own reads all ones, before and after the writes.
    uint32_t floating = 0, other = 0;
    for (uint32_t port = 0; port <= 0xffff; ++port) {
        if (guest_owned(port)) continue;
        const uint8_t v = inb(uint16_t(port));
        if (v == 0xff) {
            ++floating;
        } else if (other++ < 8) {
            print("port %#x reads %#x\n", port, v);
        }
    }
    CHECK(other == 0, "every port but COM1 and the exit port reads 0xff (%u do, %u do not)", floating, other);
    for (const PortWrite& w : kWrites) out(w.port, w.size, w.value);
    print("wrote the host's PCI configuration, reset, PIC, PIT and CMOS ports: nothing happened to the host\n");
    outl(0xcf8, 0x80000000u);
    CHECK(inl(0xcfc) == 0xffffffffu, "PCI configuration space reads all ones (no device: %#x)", inl(0xcfc));
    CHECK(inb(0x64) == 0xff && inb(0x61) == 0xff && inb(0x21) == 0xff, "no keyboard controller, port B or PIC");
    // Vireo's console is COM1 of the host, but the guest's 0x3F8 is its own UART.
    static const char line[] = "this line went to port 0x3f8: the guest's own COM1\n";
    for (const char* p = line; *p; ++p) outb(0x3f8, uint8_t(*p));
    CHECK(true, "the line above came out under this domain's name, not as Vireo's own");
    return finish("attack-ports");
}
