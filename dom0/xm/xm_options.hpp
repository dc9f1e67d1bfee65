// Command-line options of xm's commands: flags (options without a value, each with its
// spellings) and options with a value apart from the other arguments, in their order, with the error a user sees
// for an option the command does not know. Pure, host-tested.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace xm {

struct ParsedOptions {
    std::set<std::string> flags;                // the names of the flags given
    std::map<std::string, std::string> values;  // the options given with a value, by name
    std::vector<std::string> rest;              // every other argument, in order
    bool has(const std::string& flag) const { return flags.count(flag) != 0; }
    bool has_value(const std::string& name) const { return values.count(name) != 0; }
};

// `spellings` pairs each accepted spelling with its flag's name ({"-w", "wait"},
// {"--wait", "wait"}). An argument that starts with '-' and is no known spelling is an
// error: false, with "COMMAND: unknown option 'ARG'" in `error`.
bool split_options(const std::vector<std::string>& args, const char* command,
                   const std::vector<std::pair<std::string, std::string>>& spellings, ParsedOptions& out,
                   std::string& error);

// The same, with options that take a value (`value_spellings`, as {"-w", "weight"},
// {"--weight", "weight"}): given as "-w 512", "-w=512" or "--weight=512". An option
// without its value is an error ("COMMAND: option '-w' needs a value"); a later one wins.
bool split_options(const std::vector<std::string>& args, const char* command,
                   const std::vector<std::pair<std::string, std::string>>& spellings,
                   const std::vector<std::pair<std::string, std::string>>& value_spellings, ParsedOptions& out,
                   std::string& error);

}  // namespace xm
