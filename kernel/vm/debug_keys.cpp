#include "kernel/vm/debug_keys.hpp"

#include "kernel/log.hpp"
#include "kernel/vm/domain.hpp"

void poll_debug_keys() {
    char key;
    while (console_read_key(key)) {
        switch (key) {
            case 'e': domain_print_exit_counters(); break;
            case 'h':
            case '?': console_line("debug keys: 'e' exit counters per domain and vCPU, 'h' this help"); break;
            default: break;
        }
    }
}
