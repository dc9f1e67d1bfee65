// migrate-receive [--port PORT] [--from ADDR,...]: waits for one domain that `xm migrate`
// sends from another host (default port 8002), from one of the addresses --from names
// (without it, this host's own: 127.0.0.1 and ::1), as xend's relocation-hosts-allow:
// whoever sends a domain chooses its disks and NICs here. It makes the domain as it comes (dom0/xm/image_restore.hpp),
// paused, as NAME--incoming, and starts it as NAME once the sender has handed it over (migration_protocol.hpp). A
// stream that is damaged or cut in the middle creates nothing here, and the sender's domain runs on there.
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "dom0/xm/image_restore.hpp"
#include "dom0/xm/migration_link.hpp"
#include "dom0/xm/migration_protocol.hpp"
#include "dom0/xm/save_file.hpp"
#include "dom0/xm/xm_common.hpp"
#include "dom0/xm/xm_format.hpp"
#include "dom0/xm/xm_options.hpp"

namespace xm {

using namespace hypercall;

namespace {

// Tells the sender why, then reads what it still sends until it stops (closing with
// unread data would reset the connection and lose the line before the sender reads it).
void answer_error(int fd, const std::string& why) {
    send_line(fd, migration::kErrorPrefix + why);
    shutdown(fd, SHUT_WR);
    char sink[65536];
    while (read(fd, sink, sizeof(sink)) > 0) {
    }
}

}  // namespace

int cmd_migrate_receive(ControlClient& control, const Args& args) {
    ParsedOptions options;
    std::string error;
    if (!split_options(args, "migrate-receive", {}, {{"--port", "port"}, {"-p", "port"}, {"--from", "from"}}, options,
                       error))
        return fail(error);
    if (!options.rest.empty()) return fail("usage: xm migrate-receive [--port PORT] [--from ADDR,...]");
    std::vector<std::string> allowed{"127.0.0.1", "::1"};
    if (options.has_value("from")) {
        allowed.clear();
        const std::string& list = options.values.at("from");
        for (size_t at = 0; at <= list.size();) {
            const size_t comma = list.find(',', at) == std::string::npos ? list.size() : list.find(',', at);
            std::string address;
            if (!canonical_address(list.substr(at, comma - at), address))
                return fail("migrate-receive: '" + list.substr(at, comma - at) + "' is not an IP address");
            allowed.push_back(address);
            at = comma + 1;
        }
    }
    uint16_t port = migration::kDefaultPort;
    if (options.has_value("port") && !migration::parse_port(options.values.at("port"), port))
        return fail("migrate-receive: '" + options.values.at("port") + "' is not a port (1-65535)");
    const int listener = listen_tcp(port, error);
    if (listener < 0) return fail("migrate-receive: " + error);
    fprintf(stderr, "xm: migrate-receive: waiting on port %u\n", port);
    std::string peer;
    int fd;
    for (;;) {
        fd = accept_tcp(listener, peer, error);
        if (fd < 0) break;
        std::string canonical;
        if (canonical_address(peer, canonical) && std::find(allowed.begin(), allowed.end(), canonical) != allowed.end())
            break;
        fprintf(stderr, "xm: migrate-receive: refused a connection from %s (not one that --from names)\n",
                peer.c_str());
        send_line(fd, std::string(migration::kErrorPrefix) + "this host takes no domain from " + peer);
        close(fd);
    }
    close(listener);
    if (fd < 0) return fail("migrate-receive: " + error);
    fprintf(stderr, "xm: migrate-receive: receiving a domain from %s\n", peer.c_str());
    const std::string who = "migrate-receive: from " + peer;
    const double started = monotonic_seconds();
    // An interrupt waits until a half-made domain is destroyed.
    const HeldSignals held;
    FdSource in(fd);
    ImageRestore restore(control, "the stream from " + peer, migration::kIncomingSuffix);
    // What it made goes first: the sender, told, gives its copy its name back at once.
    auto refuse = [&](const std::string& why) {
        restore.discard();
        answer_error(fd, why);
        close(fd);
        return fail(who + ": " + why);
    };
    if (!restore.read(in, false)) return refuse(in.error().empty() ? restore.error() : "reading failed: " + in.error());
    if (!restore.finish(true)) return refuse(restore.error());
    std::string line;
    if (!send_line(fd, migration::kReady) || !read_line(fd, line) || line != migration::kGo) {
        restore.discard();
        close(fd);
        return fail(who + ": the sender did not hand the domain over" +
                    (line.empty() ? std::string() : ": " + migration::error_reason(line)) + "; it runs on there");
    }
    const std::string& name = restore.config().name;
    const int64_t renamed = rename_domain(control, restore.id(), name);
    if (renamed < 0) return refuse("it could not be named " + name + " here: " + error_text(renamed));
    const int64_t run = control.call(kDomainUnpause, restore.id());
    if (run < 0) return refuse("it could not be started here: " + error_text(run));
    if (!send_line(fd, migration::kDone))
        fprintf(stderr, "xm: %s: %s runs here, but the sender was not told: its copy stays paused there\n", who.c_str(),
                name.c_str());
    close(fd);
    printf("Received domain %s (id=%u) from %s: %llu MiB of RAM in %.1f s, %llu pages sent again by later rounds\n",
           name.c_str(), restore.id(), peer.c_str(), (unsigned long long)(restore.memory_bytes() >> 20),
           monotonic_seconds() - started, (unsigned long long)restore.pages_updated());
    return 0;
}

}  // namespace xm
