#pragma once

enum class LogLevel : int { Error = 0, Warn = 1, Info = 2, Debug = 3 };
