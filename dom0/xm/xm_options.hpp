// Command-line options of xm's commands: flags (options without a value, each with its
// spellings) apart from the other arguments, in their order, with the error a user sees
// for an option the command does not know. Pure, host-tested.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace xm {

struct ParsedOptions {
    std::set<std::string> flags;    // the names of the flags given
    std::vector<std::string> rest;  // every other argument, in order
    bool has(const std::string& flag) const { return flags.count(flag) != 0; }
};

// `spellings` pairs each accepted spelling with its flag's name ({"-w", "wait"},
// {"--wait", "wait"}). An argument that starts with '-' and is no known spelling is an
// error: false, with "COMMAND: unknown option 'ARG'" in `error`.
bool split_options(const std::vector<std::string>& args, const char* command,
                   const std::vector<std::pair<std::string, std::string>>& spellings, ParsedOptions& out,
                   std::string& error);

}  // namespace xm
