// Host-side AcpiMemory for unit tests: serves ACPI tables by physical address, either
// built in the test or read back from an "acpidump" capture (drivers/acpi/acpi_dump.hpp),
// such as the QEMU fixtures that tools/capture-acpi-fixtures records.
#pragma once

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/acpi/acpi_dump.hpp"
#include "drivers/acpi/acpi_tables.hpp"

class FixtureMemory final : public AcpiMemory {
public:
    struct Table {
        std::string signature;
        PhysAddr address;
        std::vector<u8> storage;  // the table's bytes start at storage.data() + 1 (see add())
        const u8* data() const { return storage.data() + 1; }
        usize size() const { return storage.size() - 1; }
    };
    struct Missing {
        std::string signature;
        PhysAddr address;
        u64 length;
    };

    // Places `bytes` at physical `address`, replacing a table already there. Each table is
    // stored one byte past the start of its allocation, so that every multi-byte field is
    // misaligned and UBSan reports any read that does not go through memcpy.
    void add(PhysAddr address, const std::vector<u8>& bytes, std::string signature = "") {
        if (signature.empty() && bytes.size() >= 4) signature.assign(reinterpret_cast<const char*>(bytes.data()), 4);
        Table table{
            signature,
            address,
            std::vector<u8>(bytes.size() + 1),
        };
        if (!bytes.empty()) std::memcpy(table.storage.data() + 1, bytes.data(), bytes.size());
        for (Table& t : tables_) {
            if (t.address == address) {
                t = std::move(table);
                return;
            }
        }
        tables_.push_back(std::move(table));
    }

    // Serves a range only when it lies entirely inside one table: anything else is memory
    // the firmware did not describe, which the parser must not need.
    const u8* map(PhysAddr phys, u64 length) override {
        ++map_calls;
        for (const Table& t : tables_) {
            if (phys >= t.address && length <= t.size() && phys - t.address <= t.size() - length) {
                return t.data() + (phys - t.address);
            }
        }
        return nullptr;
    }

    // Reads an acpidump capture. Lines without "acpidump: " are ignored (other console
    // output), as are a log prefix before it and carriage returns. Everything is checked:
    // the byte count against len=, offsets for gaps, hex digits, and the final "done".
    bool load_dump_text(const std::string& text, std::string* error) {
        std::istringstream in(text);
        std::string raw;
        usize line_number = 0;
        bool in_table = false;
        std::string signature;
        PhysAddr address = 0;
        u64 length = 0;
        std::vector<u8> bytes;
        auto fail = [&](const std::string& why) {
            if (error) *error = "line " + std::to_string(line_number) + ": " + why;
            return false;
        };
        while (std::getline(in, raw)) {
            ++line_number;
            std::string line;
            for (char c : raw) {
                if (c != '\r') line += c;
            }
            const usize at = line.find(kAcpiDumpPrefix);
            if (at == std::string::npos) continue;
            std::istringstream words(line.substr(at + std::strlen(kAcpiDumpPrefix)));
            std::vector<std::string> w;
            for (std::string word; words >> word;) w.push_back(word);
            if (w.empty()) return fail("empty acpidump line");
            if (done_) return fail("content after 'acpidump: done'");

            if (!in_table && w[0] == "done" && w.size() == 1) {
                done_ = true;
            } else if (!in_table && w[0] == "table") {
                if (w.size() != 4 || w[2].rfind("addr=0x", 0) != 0 || w[3].rfind("len=", 0) != 0) {
                    return fail("malformed table header");
                }
                signature = w[1];
                if (!parse_number(w[2].substr(7), 16, address) || !parse_number(w[3].substr(4), 10, length)) {
                    return fail("bad address or length in table header");
                }
                bytes.clear();
                in_table = true;
            } else if (!in_table && w[0] == "missing") {
                PhysAddr a = 0;
                u64 l = 0;
                if (w.size() != 4 || w[2].rfind("addr=0x", 0) != 0 || w[3].rfind("len=", 0) != 0 ||
                    !parse_number(w[2].substr(7), 16, a) || !parse_number(w[3].substr(4), 10, l)) {
                    return fail("malformed 'missing' line");
                }
                missing_.push_back({w[1], a, l});
            } else if (in_table && w[0] == "end") {
                if (w.size() != 2 || w[1] != signature) return fail("'end' does not match table " + signature);
                if (bytes.size() != length) {
                    return fail(signature + ": " + std::to_string(bytes.size()) + " bytes, header said " +
                                std::to_string(length));
                }
                if (signature == "RSDP")
                    rsdp_ = bytes;
                else
                    add(address, bytes, signature);
                in_table = false;
            } else if (in_table && w[0] == signature) {
                u64 offset = 0;
                if (w.size() != 3 || w[1].empty() || w[1].back() != ':' ||
                    !parse_number(w[1].substr(0, w[1].size() - 1), 16, offset)) {
                    return fail("malformed data line for " + signature);
                }
                if (offset != bytes.size()) return fail(signature + ": offset " + w[1] + " leaves a gap");
                const std::string& hex = w[2];
                if (hex.size() % 2 != 0 || hex.size() > 2 * kAcpiDumpBytesPerLine || hex.empty()) {
                    return fail(signature + ": bad hex length");
                }
                for (usize i = 0; i < hex.size(); i += 2) {
                    const int hi = hex_digit(hex[i]);
                    const int lo = hex_digit(hex[i + 1]);
                    if (hi < 0 || lo < 0) return fail(signature + ": bad hex digit");
                    bytes.push_back(u8(hi << 4 | lo));
                }
                if (bytes.size() > length) return fail(signature + ": more bytes than len=");
            } else {
                return fail("unexpected line: " + line.substr(at));
            }
        }
        if (in_table) return fail("file ends inside table " + signature);
        if (!done_) return fail("no 'acpidump: done' line (capture incomplete?)");
        if (rsdp_.empty()) return fail("no RSDP in the dump");
        return true;
    }

    bool load_dump_file(const std::string& path, std::string* error) {
        std::ifstream file(path, std::ios::binary);
        if (!file) {
            if (error) *error = "cannot open " + path;
            return false;
        }
        std::ostringstream text;
        text << file.rdbuf();
        return load_dump_text(text.str(), error);
    }

    const std::vector<u8>& rsdp() const { return rsdp_; }
    const std::vector<Table>& tables() const { return tables_; }
    const std::vector<Missing>& missing() const { return missing_; }
    const Table* find(PhysAddr address) const {
        for (const Table& t : tables_) {
            if (t.address == address) return &t;
        }
        return nullptr;
    }

    usize map_calls = 0;

private:
    static int hex_digit(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;  // the dump format is lowercase only
    }

    static bool parse_number(const std::string& s, int base, u64& out) {
        if (s.empty() || s.size() > 16) return false;
        u64 value = 0;
        for (char c : s) {
            int digit = base == 16 ? hex_digit(c) : (c >= '0' && c <= '9' ? c - '0' : -1);
            if (digit < 0) return false;
            value = value * u64(base) + u64(digit);
        }
        out = value;
        return true;
    }

    std::vector<Table> tables_;
    std::vector<Missing> missing_;
    std::vector<u8> rsdp_;
    bool done_ = false;
};
