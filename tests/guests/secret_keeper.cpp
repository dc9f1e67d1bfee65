// The attack suite's bystander (ctest label `attacks`): it holds a secret (64 KiB of its
// memory filled from a seed) and keeps time (naps of set_timer and HLT) while hostile
// domains attack Vireo beside it. It passes once it is the only domain left with its
// secret intact and every nap woken by its own timer, the guest TSC moving on between
// naps. The largest gap between naps is printed as a figure, not judged: a loaded host
// may be slow, but must not stop it.
#include "tests/guests/lib/guest.hpp"

using namespace hypercall;

namespace {

constexpr uint32_t kSecretWords = 64 * 1024 / 4;
constexpr uint32_t kNapMicroseconds = 20000;
constexpr uint32_t kMaxNaps = 30000;  // 10 minutes of naps at most: it never hangs

uint32_t g_secret[kSecretWords] __attribute__((aligned(4096)));

uint32_t secret_word(uint32_t seed, uint32_t i) {
    uint32_t x = seed ^ (i * 0x9e3779b9u);
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    return x;
}

// The index of the first word that differs, or kSecretWords.
uint32_t first_difference(uint32_t seed) {
    for (uint32_t i = 0; i < kSecretWords; ++i)
        if (g_secret[i] != secret_word(seed, i)) return i;
    return kSecretWords;
}

}  // namespace

int guest_main(uint32_t, uint32_t) {
    const uint32_t seed = uint32_t(rdtsc()) | 1;
    for (uint32_t i = 0; i < kSecretWords; ++i) g_secret[i] = secret_word(seed, i);
    CHECK(call_hypervisor(kDomainsAlive) >= 2, "other domains run beside the secret keeper");

    uint32_t naps = 0, broken_at = kSecretWords, stalled = 0;
    uint64_t largest_gap = 0, last = rdtsc();
    const uint32_t wakes_before = interrupt_count[0];
    while (call_hypervisor(kDomainsAlive) > 1 && naps < kMaxNaps) {
        const uint32_t wakes = interrupt_count[0];
        call_hypervisor(kSetTimer, kNapMicroseconds, 64);
        // STI's one-instruction shadow covers HLT: the timer cannot slip in between.
        asm volatile("sti; hlt; cli" ::: "memory");
        // A wake-up without the timer's interrupt is a stall: the timer is armed again
        // (so a lost one cannot hang the keeper) until it comes.
        for (uint32_t spin = 0; interrupt_count[0] == wakes && spin < 100; ++spin) {
            ++stalled;
            call_hypervisor(kSetTimer, kNapMicroseconds, 64);
            asm volatile("sti; hlt; cli" ::: "memory");
        }
        ++naps;
        const uint64_t now = rdtsc();
        if (now <= last) ++stalled;
        if (now - last > largest_gap) largest_gap = now - last;
        last = now;
        if (broken_at == kSecretWords) broken_at = first_difference(seed);
    }
    CHECK(call_hypervisor(kDomainsAlive) == 1, "every other domain ended while the secret keeper ran on");
    CHECK(broken_at == kSecretWords, "the secret (64 KiB) stayed intact through %u naps (first change at word %u)",
          naps, broken_at);
    CHECK(stalled == 0 && interrupt_count[0] - wakes_before == naps,
          "every nap woke by its own timer and the TSC moved on (%u timer interrupts, %u stalls)",
          interrupt_count[0] - wakes_before, stalled);
    print("figure: %u naps of %u us, largest gap between naps %llu TSC ticks\n", naps, kNapMicroseconds, largest_gap);
    return finish("secret_keeper");
}
