/* airlock doctor: what this host supports, and what a sandbox here really gets. It asks
 * a launcher (the component that would build sandboxes) rather than guessing, then
 * builds one real sandbox per backend and reports the isolation each one got. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/launcher_client.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "runtime/default_stack.h"
#include "sandbox/cgroup.h"

static const char doctor_usage[] = "usage: airlock doctor\n"
                                   "\n"
                                   "Report what isolation this host can give a sandbox, then start one sandbox per\n"
                                   "backend and report what it really got. Exit 0 when the default (namespace)\n"
                                   "sandbox has every mandatory layer, 1 otherwise.\n";

static const char *yes_no(int v) { return v ? "yes" : "NO"; }

static void controllers(uint32_t c, char *out, size_t cap) {
        static const struct {
                uint32_t bit;
                const char *name;
        } names[] = {{CG_C_MEMORY, "memory"}, {CG_C_MEMSW, "memsw"},     {CG_C_CPU, "cpu"}, {CG_C_CPUACCT, "cpuacct"},
                     {CG_C_PIDS, "pids"},     {CG_C_FREEZER, "freezer"}, {CG_C_KILL, "cgroup.kill"}};
        out[0] = '\0';
        size_t used = 0;
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (c & names[i].bit) {
                        int n = snprintf(out + used, cap - used, "%s%s", used ? " " : "", names[i].name);
                        if (n < 0 || (size_t)n >= cap - used)
                                return;
                        used += (size_t)n;
                }
}

/* Build a sandbox that runs `true` in bash and wait for it; describe what it got. */
static int trial(struct launcher_client *lc, uint8_t backend, uint8_t network) {
        struct lp_create c;
        memset(&c, 0, sizeof(c));
        c.backend = backend;
        c.language = LP_LANG_BASH;
        c.network = network;
        snprintf(c.runtime, sizeof(c.runtime), "default");
        snprintf(c.entry_name, sizeof(c.entry_name), "doctor.sh");
        c.limits = (struct lp_limits){.memory_bytes = 128ull << 20, .workspace_bytes = 16ull << 20,
                                      .tmp_bytes = 16ull << 20, .cpu_millis = 1000, .pids = 64,
                                      .timeout_ms = 30000, .interrupt_grace_ms = 0, .nofile = 256};
        struct diag d = {0};
        _cleanup_close_ int code = memfd_with_data("doctor", "exit 0\n", 7);
        struct lp_created cr;
        int out = -1, err = -1;
        const char *label = network == LP_NET_PUBLIC      ? "network public"
                            : network == LP_NET_ALLOWLIST ? "network allowlist"
                                                          : lp_backend_name(backend);
        if (code < 0 || lc_create(lc, &c, "", 0, code, &cr, &out, &err, &d) < 0) {
                printf("  %-17s FAILED: %s\n", label, d.msg);
                return -1;
        }
        safe_close(out);
        safe_close(err);
        char buf[LP_FRAME_MAX];
        struct lp_frame f;
        int t = lc_recv(lc, &f, buf, sizeof(buf), &d);
        struct lp_exited ex;
        if (t != LP_EXITED) {
                printf("  %-17s FAILED: %s\n", label, t < 0 ? d.msg : "unexpected reply");
                return -1;
        }
        memcpy(&ex, f.body, sizeof(ex));
        const struct lp_isolation *i = &cr.isolation;
        printf("  %-17s %s: cgroup %s, landlock %s, seccomp %s, %s, network %s, %llu ms\n", label,
               ex.exit_code == 0 ? "ok" : "FAILED", i->cgroup_mode == 2 ? "v2" : i->cgroup_mode == 1 ? "v1" : "none",
               i->landlock_abi ? (char[8]){'A', 'B', 'I', ' ', (char)('0' + (i->landlock_abi % 10)), 0} :
                                 (backend == LP_BACKEND_GVISOR ? "n/a (gVisor)" : "none"),
               i->seccomp ? "on" : "off",
               backend == LP_BACKEND_GVISOR ? "gVisor user-space kernel"
                                            : (i->uid_private ? "private host uid" : "shared host uid"),
               lp_network_name(i->network), (unsigned long long)ex.wall_ms);
        return ex.exit_code == 0 ? 0 : -1;
}

int cmd_doctor(int argc, char **argv) {
        if (argc > 1) {
                if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                        fputs(doctor_usage, stdout);
                        return 0;
                }
                fprintf(stderr, "airlock doctor: unexpected argument '%s'\n", argv[1]);
                return 2;
        }
        struct launcher_client lc;
        struct lp_host_report h;
        struct diag d = {0};
        if (lc_start(&lc, &d) < 0 || lc_drop_privileges(&d) < 0 || lc_hello(&lc, LP_HELLO_FULL_PROBE, &h, &d) < 0) {
                fprintf(stderr, "airlock doctor: cannot start the launcher: %s\n", d.msg);
                lc_stop(&lc);
                return 1;
        }
        char ctl[128];
        controllers(h.cgroup_controllers, ctl, sizeof(ctl));
        printf("host\n");
        printf("  %-17s %s\n", "kernel", h.kernel);
        printf("  %-17s %s\n", "launcher as root", yes_no(h.is_root));
        printf("  %-17s %s\n", "user namespaces", yes_no(h.userns));
        printf("  %-17s %s\n", "seccomp", yes_no(h.seccomp));
        if (h.landlock_abi)
                printf("  %-17s ABI %u\n", "landlock", h.landlock_abi);
        else
                printf("  %-17s NO\n", "landlock");
        if (h.cgroup_mode)
                printf("  %-17s %s at %s (%s)\n", "cgroups", h.cgroup_mode == CG_V2 ? "v2" : "v1 (hybrid or legacy)",
                       h.cgroup_root, ctl);
        else
                printf("  %-17s NO\n", "cgroups");
        printf("  %-17s %s\n", "bubblewrap", h.bwrap ? h.bwrap_version : "NO");
        printf("  %-17s %s\n", "gvisor (runsc)", h.runsc ? h.runsc_version : "no (optional)");
        printf("  %-17s %s\n", "slirp4netns",
               h.slirp4netns ? "yes, with nft and /dev/net/tun (network mode public)"
                             : "no (optional: network mode public needs slirp4netns, nft (nftables) and /dev/net/tun)");
        printf("  %-17s %s\n", "egress proxy",
               h.egress ? "yes (network mode allowlist)"
                        : "no (network mode allowlist needs a root launcher and airlock-egress beside it)");
        printf("  %-17s %s\n", "TIOCSTI",
               h.tiocsti_legacy ? "host allows it (dev.tty.legacy_tiocsti=1); sandboxes refuse it by seccomp"
                                : "disabled on the host; sandboxes refuse it by seccomp too");
        /* The default runtime's data stack (docs/runtimes.md): what is missing, and its package. */
        char missing[512] = "";
        size_t mlen = 0, nmissing = 0;
        for (size_t i = 0; i < ARRAY_SIZE(default_stack); i++) {
                char path[128];
                struct stat st;
                snprintf(path, sizeof(path), DEFAULT_STACK_DIR "/%s", default_stack[i].module);
                if (stat(path, &st) == 0)
                        continue;
                nmissing++;
                int n = snprintf(missing + mlen, sizeof(missing) - mlen, " %s", default_stack[i].package);
                if (n > 0 && (size_t)n < sizeof(missing) - mlen)
                        mlen += (size_t)n;
        }
        if (nmissing)
                printf("  %-17s %zu of %zu data-stack modules missing (apt-get install%s)\n", "default runtime",
                       nmissing, ARRAY_SIZE(default_stack), missing);
        else
                printf("  %-17s python3 with its %zu data-stack modules, node\n", "default runtime",
                       ARRAY_SIZE(default_stack));
        if (h.notes[0]) {
                printf("notes\n");
                for (char *line = h.notes, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                        nl = strchr(line, '\n');
                        printf("  - %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
                }
        }
        printf("sandbox check\n");
        int ok = trial(&lc, LP_BACKEND_NAMESPACE, LP_NET_NONE) == 0;
        if (h.runsc && h.is_root)
                trial(&lc, LP_BACKEND_GVISOR, LP_NET_NONE);
        else
                printf("  %-17s skipped (%s)\n", "gvisor", h.runsc ? "needs root" : "runsc not installed");
        if (h.slirp4netns && h.is_root) /* builds the network, runs `exit 0`: no traffic */
                trial(&lc, LP_BACKEND_NAMESPACE, LP_NET_PUBLIC);
        else
                printf("  %-17s skipped (%s)\n", "network public",
                       h.slirp4netns ? "needs root" : "slirp4netns or /dev/net/tun missing");
        if (h.egress) /* builds the proxy with an empty allowlist, runs `exit 0`: no traffic */
                trial(&lc, LP_BACKEND_NAMESPACE, LP_NET_ALLOWLIST);
        else
                printf("  %-17s skipped (%s)\n", "network allowlist", h.is_root ? "airlock-egress missing" : "needs root");
        lc_stop(&lc);
        printf("verdict: %s\n", ok ? "ready: the default sandbox has every mandatory layer"
                                   : "NOT READY: the default sandbox cannot be built with every mandatory layer");
        return ok ? 0 : 1;
}
