/* host_probe: what this host can give a sandbox (for the launcher's HELLO_OK and
 * `airlock doctor`). Reads /proc and /sys and runs `bwrap --version`/`runsc --version`;
 * changes nothing on the host except creating the cgroup parent via cg_host_detect. */
#pragma once
#include "proto/launch_proto.h"
#include "sandbox/cgroup.h"

#define BWRAP_PATH "/usr/bin/bwrap"
#define RUNSC_PATH "/usr/bin/runsc"
#define SLIRP4NETNS_PATH "/usr/bin/slirp4netns"
/* nftables, for mode public's log of every flow and refusal (docs/adr/0017) */
#define NFT_PATH "/usr/sbin/nft"

int host_probe(struct lp_host_report *ret, struct cg_host *ret_cg);

/* Fill in the runsc version (a process start); host_probe only checks that it exists. */
void host_probe_runsc_version(struct lp_host_report *r);
int landlock_abi_version(void);
