/* plan: turn a validated CREATE request into the exact command lines that build the
 * sandbox. Pure (no I/O), so every line of the sandbox's shape is unit-tested without
 * root, and one function shows the whole layout in order.
 *
 * The layout inside every sandbox (under gVisor, /dev and /sys are gVisor's own
 * synthetic ones, served by its Sentry rather than the host):
 *   /usr (read-only, the runtime), /bin /sbin /lib /lib64 -> usr/..., /etc (a few
 *   read-only files from the runtime plus generated passwd/group/hosts, and resolv.conf
 *   in network mode public), /proc (fresh),
 *   /dev (minimal), /tmp and /dev/shm and /workspace (size-limited tmpfs, writable),
 *   /run/airlock (read-only: the exec shim `init`, the seccomp filter, the code file,
 *   and matplotlib's font cache where the host has one),
 *   and with a built runtime /opt/airlock/runtimes/NAME/vN (read-only: its venv and
 *   node_modules, docs/runtimes.md).
 *   Everything else does not exist. The root itself is read-only.
 */
#pragma once
#include <stddef.h>

#include "common/buf.h"
#include "common/diag.h"
#include "proto/launch_proto.h"

#define SANDBOX_UID 1000
#define SANDBOX_GID 1000
#define SANDBOX_HOSTNAME "airlock"
#define SANDBOX_RUN_DIR "/run/airlock"
#define SANDBOX_INIT SANDBOX_RUN_DIR "/init"
#define SANDBOX_SECCOMP SANDBOX_RUN_DIR "/seccomp.bpf"
#define SANDBOX_WORKSPACE "/workspace"
/* matplotlib's font cache, built once on the host (scripts/build-font-cache.sh) and seen
 * read-only by every sandbox, where the runner copies it into the session's own
 * MPLCONFIGDIR (airlock_runner.py): the first `import matplotlib.pyplot` reads it instead
 * of building one. Under /run/airlock, where the shim's Landlock rules allow reading. */
#define PLAN_FONT_CACHE "/var/cache/airlock/matplotlib"
#define SANDBOX_FONT_CACHE SANDBOX_RUN_DIR "/matplotlib"
/* The control socket: this fd in bwrap's fd table; the shim moves it to fd 3. */
#define PLAN_CONTROL_FD 11

/* Marker the shim prints on its stderr right before it execs the payload. Everything a
 * backend prints before it is a setup error; everything after belongs to the program. */
#define SANDBOX_READY_MARKER "\036AIRLOCK-READY"

struct plan_input {
        const struct lp_create *c;
        const char *env; /* the CREATE env blob */
        size_t env_len;
        int landlock_required; /* the shim fails closed without Landlock */
        /* A built runtime (NULL for default): where it appears in the sandbox
         * (LP_RUNTIME_MOUNT_BASE/NAME/vN; the namespace backend finds it at the same path,
         * staged by the launcher), and for gVisor the host directory the launcher checked. */
        const char *runtime_dest;
        const char *runtime_src;
};

/* fd numbers inside the bwrap process for the data it copies into the sandbox */
struct plan_fds {
        int init;
        int seccomp;
        int code;
        int passwd;
        int group;
        int hosts;
        int json_status;
        /* network public only (-1 otherwise): the generated /etc/resolv.conf, and bwrap's
         * --block-fd, which holds the sandbox before the program until the launcher has its
         * network up (launcher/net.c) */
        int resolv;
        int block;
};

/* Files the launcher generates for /etc. */
extern const char plan_etc_passwd[];
extern const char plan_etc_group[];
extern const char plan_etc_hosts[];

/* The argv run inside the sandbox: the shim, its options, "--", then the interpreter
 * and the code file. NUL-separated into out. */
int plan_payload_argv(const struct plan_input *in, struct buf *out, struct diag *reterr);

/* bubblewrap's options (NUL-separated, for `bwrap --args FD`). The payload argv goes on
 * bwrap's command line after "--": bwrap does not read a command from --args. */
int plan_bwrap_args(const struct plan_input *in, const struct plan_fds *fds, struct buf *out, struct diag *reterr);

/* An OCI runtime config.json for gVisor's runsc. run_dir is the host directory the
 * launcher filled with init, seccomp.bpf, the code file and etc/{passwd,group,hosts}. */
int plan_oci_config(const struct plan_input *in, const char *run_dir, struct buf *out, struct diag *reterr);

/* Files under the runtime's /etc that sandboxes see (read-only, when they exist). */
extern const char *const plan_etc_files[];
