// The block backend of a domU's disk, by its format (xl's disk `format=`): raw files and
// block devices are read and written directly (FileBlockBackend); a qcow2 image is served
// by QEMU's own block layer, never by a parser of ours: qemu-nbd (Debian's qemu-utils)
// connects it to a free /dev/nbdN, which is then served as a block device.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "dom0/devmodel/block_backend.hpp"

namespace devmodel {

// Opens `path` in `format` ("raw" or "qcow2"). nullptr with a sentence in `error`;
// `log` gets a line on what serves the disk (which /dev/nbdN, for qcow2).
std::unique_ptr<BlockBackend> open_disk_backend(const std::string& path, const std::string& format, bool read_only,
                                                const std::function<void(const std::string&)>& log, std::string& error);

}  // namespace devmodel
