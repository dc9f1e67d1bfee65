#include "dom0/devmodel/disk_backends.hpp"

#include "dom0/devmodel/file_block_backend.hpp"
#include "dom0/devmodel/qemu_nbd_disk.hpp"

namespace devmodel {
namespace {

// The NBD device's block backend, which owns the connection: the device's file is
// closed (members go in reverse order) before qemu-nbd is told to disconnect.
class QemuNbdBackend final : public BlockBackend {
public:
    QemuNbdBackend(std::unique_ptr<QemuNbdDisk> nbd, std::unique_ptr<FileBlockBackend> file)
        : nbd_(std::move(nbd)), file_(std::move(file)) {}

    uint64_t size_bytes() const override { return file_->size_bytes(); }
    bool read_only() const override { return file_->read_only(); }
    bool read(uint64_t offset, void* dst, size_t len) override { return file_->read(offset, dst, len); }
    bool write(uint64_t offset, const void* src, size_t len) override { return file_->write(offset, src, len); }
    bool read_vector(uint64_t offset, const struct iovec* buffers, size_t count) override {
        return file_->read_vector(offset, buffers, count);
    }
    bool write_vector(uint64_t offset, const struct iovec* buffers, size_t count) override {
        return file_->write_vector(offset, buffers, count);
    }
    bool flush() override { return file_->flush(); }

private:
    std::unique_ptr<QemuNbdDisk> nbd_;
    std::unique_ptr<FileBlockBackend> file_;
};

}  // namespace

std::unique_ptr<BlockBackend> open_disk_backend(const std::string& path, const std::string& format, bool read_only,
                                                const std::function<void(const std::string&)>& log,
                                                std::string& error) {
    if (format == "raw") return FileBlockBackend::open(path, read_only, error);
    if (format != "qcow2") {
        error = "disk " + path + ": format " + format + " is not served (raw or qcow2)";
        return nullptr;
    }
    std::unique_ptr<QemuNbdDisk> nbd = QemuNbdDisk::connect(path, format, read_only, error);
    if (!nbd) {
        error = "disk " + path + ": " + error;
        return nullptr;
    }
    std::unique_ptr<FileBlockBackend> file = FileBlockBackend::open(nbd->device(), read_only, error);
    if (!file) return nullptr;  // nbd's destructor disconnects it again
    log("disk " + path + ": " + format + " image served by qemu-nbd on " + nbd->device());
    return std::make_unique<QemuNbdBackend>(std::move(nbd), std::move(file));
}

}  // namespace devmodel
