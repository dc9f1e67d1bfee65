// Reads "<mode> <hex bytes>" lines (mode: real16, prot16, prot32, long64) and prints, per
// line, "<result> <length> <kind>" as decode_instruction sees the bytes: the decoder's
// side of the length cross-check against the toolchain's disassembler.
#include <cstdio>
#include <cstring>

#include "kernel/emulator/decoder.hpp"

namespace {

bool parse_mode(const char* name, CpuMode& mode) {
    static const struct {
        const char* name;
        CpuMode mode;
    } kModes[] = {{"real16", CpuMode::Real16},
                  {"prot16", CpuMode::Protected16},
                  {"prot32", CpuMode::Protected32},
                  {"long64", CpuMode::Long64}};
    for (const auto& m : kModes) {
        if (std::strcmp(name, m.name) == 0) {
            mode = m.mode;
            return true;
        }
    }
    return false;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

int main() {
    char line[512];
    unsigned long number = 0;
    while (std::fgets(line, sizeof line, stdin) != nullptr) {
        ++number;
        char mode_name[16] = {};
        int consumed = 0;
        CpuMode mode{};
        if (std::sscanf(line, "%15s %n", mode_name, &consumed) != 1 || !parse_mode(mode_name, mode)) {
            std::fprintf(stderr, "line %lu: bad mode\n", number);
            return 2;
        }
        unsigned char bytes[64];
        size_t count = 0;
        for (const char* p = line + consumed; *p != '\0' && *p != '\n';) {
            if (*p == ' ') {
                ++p;
                continue;
            }
            const int hi = hex_digit(p[0]);
            const int lo = hi < 0 ? -1 : hex_digit(p[1]);
            if (lo < 0 || count == sizeof bytes) {
                std::fprintf(stderr, "line %lu: bad hex\n", number);
                return 2;
            }
            bytes[count++] = static_cast<unsigned char>(hi * 16 + lo);
            p += 2;
        }
        DecodedInstruction insn;
        const DecodeResult result = decode_instruction(bytes, count, mode, insn);
        std::printf("%s %u %s\n", decode_result_name(result), unsigned(insn.length), instruction_kind_name(insn.kind));
    }
    return 0;
}
