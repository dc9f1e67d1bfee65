#include "dom0/xm/xm_options.hpp"

namespace xm {

bool split_options(const std::vector<std::string>& args, const char* command,
                   const std::vector<std::pair<std::string, std::string>>& spellings, ParsedOptions& out,
                   std::string& error) {
    return split_options(args, command, spellings, {}, out, error);
}

bool split_options(const std::vector<std::string>& args, const char* command,
                   const std::vector<std::pair<std::string, std::string>>& spellings,
                   const std::vector<std::pair<std::string, std::string>>& value_spellings, ParsedOptions& out,
                   std::string& error) {
    out = ParsedOptions{};
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        bool known = false;
        for (const auto& [spelling, flag] : spellings) {
            if (a != spelling) continue;
            out.flags.insert(flag);
            known = true;
            break;
        }
        for (const auto& [spelling, name] : value_spellings) {
            if (known) break;
            if (a == spelling) {
                if (i + 1 == args.size()) {
                    error = std::string(command) + ": option '" + a + "' needs a value";
                    return false;
                }
                out.values[name] = args[++i];
                known = true;
            } else if (a.size() > spelling.size() && a.compare(0, spelling.size(), spelling) == 0 &&
                       a[spelling.size()] == '=') {
                out.values[name] = a.substr(spelling.size() + 1);
                known = true;
            }
        }
        if (known) continue;
        if (!a.empty() && a[0] == '-') {
            error = std::string(command) + ": unknown option '" + a + "'";
            return false;
        }
        out.rest.push_back(a);
    }
    return true;
}

}  // namespace xm
