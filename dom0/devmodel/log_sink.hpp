// One log line from the device model (no newline); the process prints it with the
// domain's name in front. Used for what an administrator should see: a driver error
// that stopped a device, a feature set refused.
#pragma once

#include <functional>
#include <string>

namespace devmodel {

using LogSink = std::function<void(const std::string& line)>;

}  // namespace devmodel
