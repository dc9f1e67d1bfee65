#include "drivers/hardware_port_io.hpp"

HardwarePortIo& HardwarePortIo::instance() {
    static HardwarePortIo io;
    return io;
}
