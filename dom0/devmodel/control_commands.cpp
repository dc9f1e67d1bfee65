#include "dom0/devmodel/control_commands.hpp"

#include "dom0/devmodel/control_protocol.hpp"

namespace devmodel::control {

namespace {

std::vector<uint8_t> bytes(const std::string& text) { return {text.begin(), text.end()}; }

}  // namespace

std::vector<uint8_t> ControlCommands::handle(std::string_view line) {
    switch (parse_command(line)) {
        case Command::kSave: return save();
        case Command::kContinue:
            if (stopped_) {
                stopped_ = false;
                actions_.resume();
            }
            return bytes(ok_reply());
        case Command::kRename: {
            std::string error = "renaming is not supported here";
            if (!actions_.rename || !actions_.rename(std::string(rename_argument(line)), error))
                return bytes(error_reply(error));
            return bytes(ok_reply());
        }
        case Command::kUnknown: break;
    }
    return bytes(unknown_command_reply(line));
}

std::vector<uint8_t> ControlCommands::save() {
    std::vector<uint8_t> blob;
    std::string error;
    if (!actions_.save(blob, error)) return bytes(error_reply(error));
    if (blob.size() > kMaxState)
        return bytes(error_reply("the devices' state is " + std::to_string(blob.size()) + " bytes, more than " +
                                 std::to_string(kMaxState)));
    stopped_ = true;
    std::vector<uint8_t> reply = bytes(ok_reply(blob.size()));
    reply.insert(reply.end(), blob.begin(), blob.end());
    return reply;
}

}  // namespace devmodel::control
