#include "kernel/vm/devices/test_exit_port.hpp"

#include "kernel/domain/domain.hpp"

u32 TestExitPort::io_read(Vcpu&, u16, u8) { return 0xffffffffu; }

void TestExitPort::io_write(Vcpu&, u16, u8 size, u32 value) {
    const u32 mask = size == 4 ? 0xffffffffu : size == 2 ? 0xffffu : 0xffu;
    domain_shutdown(domain_, i64(value & mask));
}
