/* launcher_client: start a private launcher and speak launch_proto to it.
 *
 * `airlock run` and `airlock doctor` need no daemon: they start airlock-launcher
 * (found next to this executable) on one end of a socketpair, and are its only client.
 * When the client exits, the launcher sees EOF and removes every sandbox it made.
 */
#pragma once
#include <stdint.h>
#include <sys/types.h>

#include "common/diag.h"
#include "proto/launch_proto.h"

struct launcher_client {
        int fd;
        pid_t pid;
        int pidfd;
        uint64_t next_req;
};

int lc_start(struct launcher_client *lc, struct diag *reterr);
int lc_hello(struct launcher_client *lc, uint32_t flags, struct lp_host_report *ret, struct diag *reterr);

/* Send CREATE with the code fd and wait for CREATED (fds: stdout, stderr) or ERROR. */
int lc_create(struct launcher_client *lc, const struct lp_create *c, const char *env, size_t env_len, int code_fd,
              struct lp_created *ret, int *ret_stdout, int *ret_stderr, struct diag *reterr);

int lc_signal(struct launcher_client *lc, uint64_t sandbox_id, uint8_t action, uint8_t reason);

/* Receive one frame (EXITED or ERROR) without fds; returns its type or -errno. */
int lc_recv(struct launcher_client *lc, struct lp_frame *f, char *buf, size_t cap, struct diag *reterr);

void lc_stop(struct launcher_client *lc);

/* The uid a root-started client drops to: just below the sandboxes' uid pool
 * (UID_POOL_BASE 2100000000), reserved with it; no host account may use either. */
#define AIRLOCK_CLIENT_UID 2099999999u
/* The uid `airlock runtimes build` runs pip and npm as (inside bubblewrap, docs/runtimes.md):
 * below the daemon's DAEMON_UID 2099999998, reserved with it and with the sandbox pool. */
#define AIRLOCK_BUILDER_UID 2099999997u

/* Drop root in the client once the launcher runs: the client parses local input and
 * copies output; it needs no privilege for either. No-op when not root. */
int lc_drop_privileges(struct diag *reterr);
