// What xm's commands share: naming domains as xl does (by name or id), errors in a user's
// words on stderr, and reading a file whole.
#pragma once

#include <stdint.h>

#include <string>
#include <vector>

#include "dom0/xm/control_client.hpp"

namespace xm {

using Args = std::vector<std::string>;

// "xm: MESSAGE" on stderr; the exit status of a failed command (1).
int fail(const std::string& message);

// A domain named by id or name.
bool find_domain(ControlClient& control, const std::string& spec, hypercall::DomainStatus& out, std::string& error);
// The domains named (by name or id), in that order, or every domain when none is.
bool select_domains(ControlClient& control, const Args& specs, std::vector<hypercall::DomainStatus>& out,
                    std::string& error);
// Exactly one domain argument: 0 with `d` found, or the exit status of the failure.
int one_domain(ControlClient& control, const Args& args, const char* command, hypercall::DomainStatus& d);

bool read_file(const std::string& path, std::vector<uint8_t>& out, std::string& error);
// Writes all `length` bytes (retrying short writes and EINTR); false on an error.
bool write_all(int fd, const void* data, size_t length);
// domain_rename: the domain's new name (1-31 characters; longer is -22, as the call's),
// which its device model, if it has one, is told (its console link follows).
int64_t rename_domain(ControlClient& control, uint32_t id, const std::string& name);
// Seconds on CLOCK_MONOTONIC, for durations.
double monotonic_seconds();

// The commands (xm help lists them), each in the file of its kind.
int cmd_create(ControlClient& control, const Args& args);           // command_create.cpp
int cmd_console(ControlClient& control, const Args& args);          // console_session.cpp
int cmd_list(ControlClient& control, const Args& args);             // commands_host.cpp
int cmd_info(ControlClient& control, const Args& args);             //
int cmd_vcpu_list(ControlClient& control, const Args& args);        //
int cmd_vcpu_pin(ControlClient& control, const Args& args);         //
int cmd_sched_credit(ControlClient& control, const Args& args);     //
int cmd_uptime(ControlClient& control, const Args& args);           //
int cmd_dmesg(ControlClient& control, const Args& args);            //
int cmd_top(ControlClient& control, const Args& args);              //
int cmd_shutdown(ControlClient& control, const Args& args);         // commands_domain.cpp
int cmd_reboot(ControlClient& control, const Args& args);           //
int cmd_destroy(ControlClient& control, const Args& args);          //
int cmd_pause(ControlClient& control, const Args& args);            //
int cmd_unpause(ControlClient& control, const Args& args);          //
int cmd_rename(ControlClient& control, const Args& args);           //
int cmd_domid(ControlClient& control, const Args& args);            //
int cmd_domname(ControlClient& control, const Args& args);          //
int cmd_mem_set(ControlClient& control, const Args& args);          //
int cmd_dump_core(ControlClient& control, const Args& args);        // command_dump_core.cpp
int cmd_save(ControlClient& control, const Args& args);             // command_save.cpp
int cmd_restore(ControlClient& control, const Args& args);          // command_restore.cpp
int cmd_migrate(ControlClient& control, const Args& args);          // command_migrate.cpp
int cmd_migrate_receive(ControlClient& control, const Args& args);  // command_migrate_receive.cpp

}  // namespace xm
