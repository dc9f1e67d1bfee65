#include "kernel/emulator/alu.hpp"
