#include "dom0/xm/xm_options.hpp"

namespace xm {

bool split_options(const std::vector<std::string>& args, const char* command,
                   const std::vector<std::pair<std::string, std::string>>& spellings, ParsedOptions& out,
                   std::string& error) {
    out = ParsedOptions{};
    for (const std::string& a : args) {
        bool known = false;
        for (const auto& [spelling, flag] : spellings) {
            if (a != spelling) continue;
            out.flags.insert(flag);
            known = true;
            break;
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
