// The file-backed disk of virtio-blk (dom0/devmodel/file_block_backend.cpp), on a
// temporary file, and the choice of backend by a disk's format (disk_backends.cpp).
#include "dom0/devmodel/disk_backends.hpp"
#include "dom0/devmodel/file_block_backend.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace {

using devmodel::FileBlockBackend;

class VirtioFileBlockBackendTest : public ::testing::Test {
protected:
    void SetUp() override {
        char name[] = "/tmp/vireo-disk-XXXXXX";
        const int fd = mkstemp(name);
        ASSERT_GE(fd, 0);
        path = name;
        std::vector<uint8_t> bytes(8192);
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
        ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), 8192);
        close(fd);
    }
    void TearDown() override { unlink(path.c_str()); }
    std::string path;
};

TEST_F(VirtioFileBlockBackendTest, ReadsWritesAndFlushes) {
    std::string error;
    auto disk = FileBlockBackend::open(path, false, error);
    ASSERT_NE(disk, nullptr) << error;
    EXPECT_EQ(disk->size_bytes(), 8192u);
    EXPECT_FALSE(disk->read_only());
    uint8_t buf[512];
    ASSERT_TRUE(disk->read(1024, buf, sizeof(buf)));
    EXPECT_EQ(buf[0], 0u);
    EXPECT_EQ(buf[5], 5u);
    std::fill(buf, buf + sizeof(buf), 0xab);
    ASSERT_TRUE(disk->write(4096, buf, sizeof(buf)));
    EXPECT_TRUE(disk->flush());
    uint8_t back[512] = {};
    ASSERT_TRUE(disk->read(4096, back, sizeof(back)));
    EXPECT_EQ(back[511], 0xab);
    EXPECT_FALSE(disk->read(8192 - 256, buf, sizeof(buf))) << "past the end";
    EXPECT_FALSE(disk->write(~0ull - 10, buf, sizeof(buf)));
    disk.reset();

    auto again = FileBlockBackend::open(path, true, error);
    ASSERT_NE(again, nullptr) << error;
    EXPECT_TRUE(again->read_only());
    ASSERT_TRUE(again->read(4096, back, sizeof(back)));
    EXPECT_EQ(back[0], 0xab) << "the write reached the file";
    EXPECT_FALSE(again->write(0, buf, sizeof(buf)));
    EXPECT_TRUE(again->flush());
}

// A request's buffers in one system call (preadv, pwritev), laid end to end.
TEST_F(VirtioFileBlockBackendTest, VectorsReadAndWriteBuffersEndToEnd) {
    std::string error;
    auto disk = FileBlockBackend::open(path, false, error);
    ASSERT_NE(disk, nullptr) << error;
    uint8_t a[100], b[1], c[412];
    std::fill(a, a + sizeof(a), 0x11);
    std::fill(c, c + sizeof(c), 0x33);
    const struct iovec out[] = {{a, sizeof(a)}, {b, 0}, {c, sizeof(c)}};
    ASSERT_TRUE(disk->write_vector(2048, out, 3));
    uint8_t back[512];
    ASSERT_TRUE(disk->read(2048, back, sizeof(back)));
    EXPECT_EQ(back[0], 0x11);
    EXPECT_EQ(back[99], 0x11);
    EXPECT_EQ(back[100], 0x33);
    EXPECT_EQ(back[511], 0x33);

    uint8_t x[1], y[511];
    const struct iovec in[] = {{x, sizeof(x)}, {y, sizeof(y)}};
    ASSERT_TRUE(disk->read_vector(2047, in, 2));
    EXPECT_EQ(x[0], uint8_t(2047));
    EXPECT_EQ(y[0], 0x11);
    EXPECT_EQ(y[510], 0x33);
    EXPECT_TRUE(disk->read_vector(0, in, 0)) << "nothing to move";
    EXPECT_FALSE(disk->read_vector(8192 - 256, in, 2)) << "past the end";
    disk.reset();

    auto read_only = FileBlockBackend::open(path, true, error);
    ASSERT_NE(read_only, nullptr) << error;
    EXPECT_FALSE(read_only->write_vector(0, out, 3));
}

TEST_F(VirtioFileBlockBackendTest, OpenErrorsSayWhy) {
    std::string error;
    EXPECT_EQ(FileBlockBackend::open(path + ".missing", true, error), nullptr);
    EXPECT_EQ(error, path + ".missing: No such file or directory");
    EXPECT_EQ(FileBlockBackend::open("/tmp", true, error), nullptr);
    EXPECT_EQ(error, "/tmp: not a regular file or a block device");
}

}  // namespace

TEST_F(VirtioFileBlockBackendTest, FormatPicksTheBackend) {
    std::vector<std::string> log;
    auto note = [&log](const std::string& line) { log.push_back(line); };
    std::string error;
    auto raw = devmodel::open_disk_backend(path, "raw", true, note, error);
    ASSERT_NE(raw, nullptr) << error;
    EXPECT_EQ(raw->size_bytes(), 8192u);
    EXPECT_TRUE(raw->read_only());

    EXPECT_EQ(devmodel::open_disk_backend(path, "vmdk", false, note, error), nullptr);
    EXPECT_EQ(error, "disk " + path + ": format vmdk is not served (raw or qcow2)");
    // qcow2 goes to qemu-nbd, which cannot serve a missing image (or there is no NBD
    // device on this machine): either way the error names the disk and nothing is logged.
    error.clear();
    EXPECT_EQ(devmodel::open_disk_backend("/nonexistent/vireo.qcow2", "qcow2", false, note, error), nullptr);
    EXPECT_EQ(error.rfind("disk /nonexistent/vireo.qcow2: ", 0), 0u) << error;
    EXPECT_TRUE(log.empty());
}
