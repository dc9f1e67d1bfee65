// A CPU-bound domain for the scheduler tests (label sched, tests/guests/sched_judge.cpp):
// it spins until it is destroyed, leaving the guest only when an interrupt or its CPU's
// scheduler takes it out.
#include "tests/guests/lib/guest.hpp"

int guest_main(uint32_t, uint32_t) {
    print("spinning\n");
    for (volatile uint32_t i = 0;; i = i + 1) {
    }
}
