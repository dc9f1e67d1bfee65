// The config of each domain xm built, kept in Domain-0 as xl keeps its domains' configs
// (Xen: in xenstore and /var/lib/xen): /run/vireo/domains/ID.cfg, written back by
// format_xl_config with every setting made final (a NIC's made-up MAC included), so that
// xm save can put the domain's config into its image and xm restore rebuild its devices.
// /run is a tmpfs: the records go with the machine's domains at a reboot.
#pragma once

#include <stdint.h>

#include <string>

#include "dom0/xm/xl_config.hpp"

namespace xm {

// Records `config` for domain `id`; false with `error` when it cannot be written.
bool record_domain_config(uint32_t id, const XlConfig& config, std::string& error);
// The recorded config of domain `id` and its text; false with `error` (in a user's
// words) when there is none, as for a domain GRUB's config declared.
bool load_domain_config(uint32_t id, XlConfig& config, std::string& text, std::string& error);
void forget_domain_config(uint32_t id);

// A NIC without a MAC in the config gets one from Xen's OUI 00:16:3e, the domain's id
// and the NIC's index, as unique on the bridge as the ids are; this makes it final.
void assign_vif_macs(XlConfig& config, uint32_t id);

}  // namespace xm
