#pragma once

inline constexpr const char* kVireoVersion = "0.1.0";
