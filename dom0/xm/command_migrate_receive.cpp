// migrate-receive [--port PORT]: waits for one domain that `xm migrate` sends from another
// host (default port 8002), makes it as it comes (dom0/xm/image_restore.hpp), paused, as
// NAME--incoming, and starts it as NAME once the sender has handed it over
// (migration_protocol.hpp). A stream that is damaged or cut in the middle creates nothing
// here, and the sender's domain runs on there.
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

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
    if (!split_options(args, "migrate-receive", {}, {{"--port", "port"}, {"-p", "port"}}, options, error))
        return fail(error);
    if (!options.rest.empty()) return fail("usage: xm migrate-receive [--port PORT]");
    uint16_t port = migration::kDefaultPort;
    if (options.has_value("port") && !migration::parse_port(options.values.at("port"), port))
        return fail("migrate-receive: '" + options.values.at("port") + "' is not a port (1-65535)");
    const int listener = listen_tcp(port, error);
    if (listener < 0) return fail("migrate-receive: " + error);
    fprintf(stderr, "xm: migrate-receive: waiting on port %u\n", port);
    std::string peer;
    const int fd = accept_tcp(listener, peer, error);
    close(listener);
    if (fd < 0) return fail("migrate-receive: " + error);
    fprintf(stderr, "xm: migrate-receive: receiving a domain from %s\n", peer.c_str());
    const std::string who = "migrate-receive: from " + peer;
    const double started = monotonic_seconds();
    // An interrupt waits until a half-made domain is destroyed.
    const HeldSignals held;
    FdSource in(fd);
    ImageRestore restore(control, "the stream from " + peer, migration::kIncomingSuffix);
    auto refuse = [&](const std::string& why) {
        answer_error(fd, why);
        restore.discard();
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
                    (line.rfind(migration::kErrorPrefix, 0) == 0
                         ? ": " + line.substr(sizeof(migration::kErrorPrefix) - 1)
                         : std::string()) +
                    "; it runs on there");
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
