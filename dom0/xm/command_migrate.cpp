// migrate [-l|--live] DOMAIN HOST[:PORT] (xm migrate): the domain moves to another Vireo
// host, where `xm migrate-receive` waits: its save image (docs/save-format.md) over TCP,
// then the handshake of migration_protocol.hpp. Without --live the domain is paused for
// the whole of it, as for xm save. With --live its RAM goes while it runs, under the
// dirty log, round after round (pre-copy), each round sending the pages written since the
// one before; once few are left it is paused, its devices stopped, and the rest goes with
// its vCPUs and devices (stop-and-copy). Progress is a line a round; the end says the
// downtime (from the pause to the moment it runs on the other host) and the total time.
// Whatever fails before the other host runs it, the domain runs on here as it was.
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dom0/xm/domain_builder.hpp"
#include "dom0/xm/domain_config_store.hpp"
#include "dom0/xm/domain_hold.hpp"
#include "dom0/xm/image_writer.hpp"
#include "dom0/xm/migration_link.hpp"
#include "dom0/xm/migration_protocol.hpp"
#include "dom0/xm/save_file.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

using namespace hypercall;

namespace {

double mib(uint64_t pages) { return double(pages) * 4096 / (1024 * 1024); }

class Migration {
public:
    Migration(ControlClient& control, SaveableDomain& s, int fd, const std::string& who, const std::string& where)
        : control_(control),
          s_(s),
          d_(s.status),
          fd_(fd),
          who_(who),
          where_(where),
          out_(fd),
          writer_(control, s.status, out_),
          hold_(control, s.status) {}

    int run(bool live) {
        started_ = monotonic_seconds();
        // A receiver that cannot take the domain says so at once (then reads on until this
        // side closes): stop there, rather than send all of it first, paused at the end.
        writer_.set_stop_check([this] {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 0) <= 0) return std::string();
            std::string line;
            if (read_line(fd_, line)) return where_ + " refused it: " + migration::error_reason(line);
            return where_ + " closed the connection";
        });
        const uint64_t ram_pages = d_.memory_bytes / 4096;
        std::vector<uint8_t> devices;
        std::vector<uint64_t> pending;
        uint64_t sent = 0, at_stop = 0;
        bool ok = writer_.header() && writer_.config(s_.config_text) && writer_.domain(s_.config) && writer_.cpuid();
        if (ok && live) {
            ok = hold_.start_dirty_log(error_) && round(
                                                      1, [&] { return writer_.memory(who_); }, ram_pages);
            sent = ram_pages;
            migration::Precopy precopy(ram_pages);
            for (uint32_t n = 2; ok; ++n) {
                uint64_t dirty = 0;
                ok = hold_.take_dirty(pending, false, dirty, error_);
                if (ok) stop_reason_ = precopy.stop_after(n - 1, dirty, sent);
                if (!ok || stop_reason_) break;
                uint64_t pages = 0;
                ok = round(
                    n, [&] { return writer_.memory_pages(pending, pages); }, dirty);
                sent += pages;
                pending.clear();
            }
        }
        paused_at_ = monotonic_seconds();
        ok = ok && hold_.pause(error_) && (!s_.has_device_model || hold_.stop_devices(devices, error_));
        if (ok && live) {
            // What was written since the last round, and what its device model wrote
            // through mappings (the final take counts those pages).
            std::vector<uint64_t> last;
            uint64_t dirty = 0;
            ok = hold_.take_dirty(last, true, dirty, error_);
            for (size_t i = 0; ok && i < last.size(); ++i) last[i] |= i < pending.size() ? pending[i] : 0;
            ok = ok && writer_.memory_pages(last, at_stop);
        } else if (ok) {
            ok = writer_.memory(who_);
        }
        ok = ok && writer_.platform() && writer_.vcpus() && (!s_.has_device_model || writer_.devices(devices)) &&
             writer_.end();
        if (!ok) return failed_sending();
        if (live)
            fprintf(stderr, "xm: %s: paused (%s); the last %llu pages went with its state\n", who_.c_str(),
                    stop_reason_, (unsigned long long)at_stop);
        if (!handover()) return 1;
        const double now = monotonic_seconds();
        printf("Migrated domain %s (id %u) to %s: %llu MiB of RAM in %.1f s, downtime %.2f s, %.1f MiB sent", d_.name,
               d_.id, where_.c_str(), (unsigned long long)(d_.memory_bytes >> 20), now - started_, now - paused_at_,
               double(writer_.bytes()) / (1024 * 1024));
        if (live) {
            printf("; pages per round:");
            for (uint64_t p : rounds_) printf(" %llu", (unsigned long long)p);
            printf(", %llu at the stop", (unsigned long long)at_stop);
        }
        printf("\n");
        return 0;
    }

private:
    // One pre-copy round and its progress line; `pages` it sends.
    template <typename Send>
    bool round(uint32_t n, Send send, uint64_t pages) {
        const double start = monotonic_seconds();
        const uint64_t before = writer_.bytes();
        if (!send()) return false;
        const double took = monotonic_seconds() - start;
        const double sent_mib = double(writer_.bytes() - before) / (1024 * 1024);
        fprintf(stderr, "xm: %s: round %u: %llu pages (%.1f MiB) in %.1f s, %.1f MiB/s\n", who_.c_str(), n,
                (unsigned long long)pages, mib(pages), took, took > 0 ? sent_mib / took : 0.0);
        rounds_.push_back(pages);
        return true;
    }

    // The stream broke off. If writing to it failed, the receiver may have said why (it
    // answers an error line, and reads on until this end closes).
    int failed_sending() {
        if (error_.empty()) error_ = writer_.error();
        const bool link_failed = error_.rfind("writing failed", 0) == 0;
        std::string line;
        shutdown(fd_, SHUT_WR);
        if (link_failed && read_line(fd_, line) && line.rfind(migration::kErrorPrefix, 0) == 0)
            error_ = where_ + " refused it: " + migration::error_reason(line);
        return fail(who_ + ": " + error_ + "; it runs on here");
    }

    // The handshake (migration_protocol.hpp): false once said why.
    bool handover() {
        std::string line;
        if (!read_line(fd_, line)) return fail(who_ + ": " + where_ + " did not answer; it runs on here"), false;
        if (line != migration::kReady) return refused(line), false;
        std::string why;
        if (!hold_.rename(migration::suffixed_name(d_.name, migration::kAwaySuffix), why)) {
            send_line(fd_, migration::kErrorPrefix + why);  // the receiver destroys its copy
            return fail(who_ + ": " + why + "; it runs on here"), false;
        }
        if (!send_line(fd_, migration::kGo) || !read_line(fd_, line)) {
            // Told to start: it may run there now. Never two of it: this one stays paused.
            hold_.keep_paused();
            fail(who_ + ": the link to " + where_ + " broke after it was told to start the domain; " + d_.name +
                 " is left paused here: see whether it runs there, then xm destroy or xm unpause it here");
            return false;
        }
        if (line != migration::kDone) return refused(line), false;
        const int64_t destroyed = control_.call(kDomainDestroy, d_.id);
        if (destroyed < 0 && destroyed != kErrorNoSuchDomain) {
            hold_.keep_paused();
            fail(who_ + ": it runs on " + where_ +
                 ", but destroying it here failed (it is paused): " + error_text(destroyed));
            return false;
        }
        hold_.gone();
        forget_domain_config(d_.id);
        return true;
    }

    void refused(const std::string& line) {
        fail(who_ + ": " + where_ + " refused it: " + migration::error_reason(line) + "; it runs on here");
    }

    ControlClient& control_;
    SaveableDomain& s_;
    const DomainStatus& d_;
    int fd_;
    std::string who_, where_;
    FdSink out_;
    ImageWriter writer_;
    DomainHold hold_;
    std::string error_;
    std::vector<uint64_t> rounds_;
    const char* stop_reason_ = "";  // why pre-copy ended (migration::Precopy)
    double started_ = 0, paused_at_ = 0;
};

}  // namespace

int cmd_migrate(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "migrate", {{"-l", "live"}, {"--live", "live"}}, options, error)) return fail(error);
    if (options.rest.size() != 2) return fail("usage: xm migrate [-l|--live] DOMAIN HOST[:PORT]");
    std::string host;
    uint16_t port;
    if (!migration::parse_destination(options.rest[1], host, port, error)) return fail("migrate: " + error);
    SaveableDomain s;
    if (const int r = load_saveable_domain(control, options.rest[0], "migrate", s)) return r;
    const std::string who = "migrate " + domain_name(s.status);
    const int fd = connect_tcp(host, port, error);
    if (fd < 0) return fail(who + ": " + error);
    // From here to the end, an interrupt waits: the domain is never left paused by a Ctrl-C.
    const HeldSignals held;
    const std::string where =
        (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
    int status;
    {
        Migration m(control, s, fd, who, where);
        status = m.run(options.has("live"));
    }
    close(fd);
    return status;
}

}  // namespace xm
