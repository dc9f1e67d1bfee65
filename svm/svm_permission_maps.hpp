// The I/O and MSR permission maps (AMD APM vol. 2, 15.10.1 and 15.11), shared by every
// SVM vCPU and never written after they are built.
#pragma once

#include "kernel/types.hpp"

namespace svm {

struct PermissionMaps {
    PhysAddr io;   // 12 KiB: one bit per port, all set: every port access exits
    PhysAddr msr;  // 8 KiB: two bits (read, write) per MSR
};

// Built on first use; null when memory ran out.
const PermissionMaps* permission_maps();

}  // namespace svm
