/* launcher: the privileged, single-threaded process that builds sandboxes.
 *
 * It talks to exactly one client over a SOCK_SEQPACKET socket (fd 3 at exec), never to
 * the network, and never parses anything but launch_proto frames. It owns every
 * privileged act: cgroups, uid slots, forking the backend (bwrap or runsc) as the right
 * uid, interrupting and killing, and cleaning up. When the client goes away, every
 * sandbox it asked for is killed and removed.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "proto/launch_proto.h"
#include "sandbox/cgroup.h"
#include "sandbox/uid_pool.h"

#define LAUNCHER_MAX_SANDBOXES 4096
#define LAUNCHER_STATE_DIR "/run/airlock"
#define LAUNCHER_TICK_MS 50
#define LAUNCHER_SETUP_TEXT_MAX 4096
/* `airlock serve` (this process and the daemon) runs in a cpu group of its own of four
 * times the default weight, next to the sandboxes' parent (v1: the cpu hierarchy's top;
 * v2: the parent's own directory, cg_host_join_cpu_group()): the sandboxes' parent is one
 * group of the default weight, so under contention the service's requests are served
 * first, while the sandboxes keep the weight of any other group on the host
 * (docs/reliability.md, "Noisy neighbours"). A weight, not a limit: the service uses what
 * it needs, a fraction of a CPU. */
#define LAUNCHER_SERVICE_CPU_GROUP "airlock-service"
#define LAUNCHER_SERVICE_CPU_WEIGHT 400u

enum sb_state { SB_STARTING, SB_RUNNING, SB_DONE };

struct sandbox {
        uint64_t id;
        uint64_t create_req_id;
        uint64_t client_gen; /* the launcher's client_gen when it was asked for */
        enum sb_state state;
        struct lp_create spec;
        pid_t pid; /* bwrap or runsc, our direct child; its exit is the sandbox's */
        int stdout_r, stderr_r; /* held until CREATED hands them to the client */
        int control;            /* our end of the control socket, -1 without one */
        int workspace_fd;       /* O_PATH fd of the sandbox's /workspace, -1 if unreachable */
        int keep[3];            /* supervisor: copies of stdout, stderr, control for a restarted daemon */
        struct lp_isolation isolation;
        int json_r;             /* bwrap --json-status-fd, for the pid-namespace init */
        int pids_events;        /* cgroup v2 pids.events (EPOLLPRI at a refused fork), -1 on v1 */
        pid_t init_pid;
        struct cg *cg;
        struct uid_slot slot;
        uint32_t host_uid;
        int landlock_abi;
        struct buf setup_text; /* what the backend printed before the ready marker */
        char line[256];
        size_t line_len;
        uint8_t reason;
        uint64_t limit_value;
        uint64_t started_ms, deadline_ms, kill_at_ms;
        bool interrupted;
        bool kill_sent; /* a kill round went to its cgroup; each tick sends another until it exits */
        char run_dir[160]; /* gVisor bundle directory, "" for bwrap */
        char gv_name[64];  /* gVisor container id */
        /* Network mode public (net.c): slirp4netns, our child, and what ties it to the
         * sandbox. -1 when unused. */
        pid_t net_pid;
        int net_block;  /* write end of bwrap's --block-fd: the program waits until it goes */
        int net_ready;  /* read end of slirp's --ready-fd */
        int net_exit;   /* write end of slirp's --exit-fd: closing it stops slirp */
        int net_log;    /* read end of slirp's stderr */
        int net_ns;     /* the sandbox's network namespace, held until the rules are in */
        bool net_up, net_failed;
        char net_text[512]; /* what slirp4netns or the proxy said, for a setup error */
        size_t net_text_len;
        /* Network mode allowlist (net.c): the proxy is net_pid, with net_ready, net_exit,
         * net_log as for slirp; its connection events arrive on net_events. */
        char *allow;      /* the CREATE's allow blob ("host:port\0" each), validated */
        size_t allow_len;
        int net_events;
        unsigned char ev_buf[2 * sizeof(struct lp_egress)];
        size_t ev_len;
        uint64_t ev_dropped; /* records not passed on yet (no HELLO yet, or the client's queue full) */
        /* Network mode public (net.c): the NFLOG socket bound in the sandbox's network
         * namespace, on which the kernel reports every new flow and refusal (flowlog.h),
         * and the budget of events made from them. */
        int net_flows;
        int net_cfg;      /* the set-up child's socket: its one message (net.c configured()) */
        pid_t net_cfg_pid; /* that child, until it said its word */
        double flow_tokens;
        int64_t flow_ms;
        struct sandbox *next;
};

/* A cgroup still emptying after its sandbox ended, with the sandbox's uid slot: the uid
 * is not handed out again while a process of it may still run. The event loop never waits
 * for a cgroup to empty (hundreds of exits take tens of milliseconds, and every other
 * sandbox's requests would wait with them): each tick tries again (sandbox.c). */
struct grave {
        struct cg *cg;
        struct uid_slot slot;
        uint64_t since_ms;
        struct grave *next;
};
/* Past this, a cgroup that will not empty (a task stuck in the kernel) is given up on as
 * cg_destroy() gives up: its directory stays for the next launcher's sweep. */
#define GRAVE_GIVE_UP_MS 30000

#define SUPERVISE_MAX_RESTARTS 5
#define SUPERVISE_RESTART_WINDOW_MS 60000

struct launcher {
        /* supervisor mode (`airlock serve`): the daemon is our child and sandboxes outlive it */
        bool supervise, stopping;
        int exit_status;
        pid_t daemon_pid;
        char **daemon_args; /* the user's arguments for the daemon */
        int ndaemon_args;
        char daemon_path[512];
        char data_dir[384]; /* the daemon's, for built runtimes (runtime.c); supervisor only */
        char *daemon_env[16]; /* the daemon's settings (config_from_env's variables), captured
                               * before the environment is cleared; NULL-terminated */
        uint64_t restarts[SUPERVISE_MAX_RESTARTS];
        uint64_t stop_deadline_ms;
        int client_fd;
        uint64_t client_gen; /* counts dropped clients: a reply is for the client that asked */
        int epoll_fd;
        int timer_fd;
        int signal_fd;
        char init_path[512]; /* the exec shim, next to our own executable */
        int egress_fd;       /* airlock-egress (the allowlist proxy), opened once: exec'd by fd
                              * after the uid drop, whatever the permissions of its directory */
        bool hello_done;
        unsigned protocol_errors;
        uint64_t next_id;
        unsigned nsandboxes;
        struct sandbox *sandboxes;
        struct grave *graves;
        struct lp_host_report host;
        struct cg_host cg;
        void *seccomp_bpf;
        size_t seccomp_len;
};

uint64_t now_ms(void);

/* sandbox.c */
int sandbox_start(struct launcher *L, uint64_t req_id, const struct lp_create *c, const char *env, size_t env_len,
                  int code_fd, struct sandbox **ret, struct diag *reterr);
void sandbox_on_readable(struct launcher *L, struct sandbox *sb, int fd);
void sandbox_on_exit(struct launcher *L, struct sandbox *sb, int status);
void sandbox_tick(struct launcher *L, struct sandbox *sb);
void sandbox_interrupt(struct launcher *L, struct sandbox *sb, uint8_t reason);
void sandbox_interrupt_only(struct sandbox *sb);
void sandbox_kill(struct launcher *L, struct sandbox *sb, uint8_t reason);
void sandbox_free(struct launcher *L, struct sandbox *sb);
/* The graves: another attempt at each (every tick), or, at exit, a bounded wait for all. */
void graves_tick(struct launcher *L);
void graves_flush(struct launcher *L);
void remove_tree(const char *path);
/* Shared with net.c: an fd of the sandbox in the launcher's epoll set; the fixed fd
 * layout 0..n-1 of a forked child (closing everything else). */
int sandbox_watch(struct launcher *L, struct sandbox *sb, int fd);
int sandbox_unwatch_close(struct launcher *L, int fd);
int sandbox_layout_fds(const int *src, int n);

/* net.c: network modes public (docs/adr/0013) and allowlist (docs/adr/0015) */
/* Once bwrap has reported pid 1; a failure, now or later while starting, kills the sandbox
 * with its reason in the setup text ("network: ..."). */
void net_start(struct launcher *L, struct sandbox *sb);
bool net_on_readable(struct launcher *L, struct sandbox *sb, int fd);
void net_on_exit(struct launcher *L, struct sandbox *sb, int status);
void net_free(struct launcher *L, struct sandbox *sb);
/* Mode public: the flow log's last records (the kernel batches them) as EGRESS frames, now:
 * before the sandbox's EXITED. */
void net_drain(struct launcher *L, struct sandbox *sb);

/* runtime.c: built runtimes (docs/runtimes.md) */
void runtime_find_data_dir(struct launcher *L);
/* An O_PATH fd of NAME@vN's checked root; dest gets its in-sandbox path, src its host path
 * (for gVisor's bundle). -ENOENT (missing or unfinished), -EPERM (not root's, writable). */
int runtime_open(const struct launcher *L, const char *spec, char *dest, size_t dest_cap, char *src, size_t src_cap,
                 struct diag *reterr);

/* files.c */
int sandbox_open_workspace(struct sandbox *sb);
void files_handle(struct launcher *L, uint64_t req_id, const struct lp_file *f);

/* main.c */
void launcher_reply_error(struct launcher *L, uint64_t req_id, const struct diag *d);
void launcher_send(struct launcher *L, uint16_t type, uint64_t req_id, const void *body, size_t len, const int *fds,
                   size_t nfds);
void launcher_unlink(struct launcher *L, struct sandbox *sb);
