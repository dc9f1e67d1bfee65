#include "kernel/emulator/emulator.hpp"
