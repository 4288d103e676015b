/* seccomp_profile: the sandbox's syscall allowlist, compiled with libseccomp to cBPF.
 *
 * Owns: the policy (which syscalls, which arguments) and its compilation for the native
 * architecture. The launcher compiles once at start and hands the bytes to each sandbox,
 * where the exec shim loads them as the very last step before the payload runs.
 * Never: loads a filter into the calling process (tests do that in a forked child).
 *
 * Policy (docs/security.md has the table):
 *  - default action for any syscall not listed: ERRNO(ENOSYS), so newer syscalls make
 *    runtimes fall back instead of crashing;
 *  - foreign ABIs (i386, x32 on x86_64): KILL_PROCESS (bad-arch action);
 *  - an allowlist derived from Docker's default profile;
 *  - explicitly refused with EPERM: ptrace, process_vm_readv/writev, mount family and the
 *    new mount API, pivot_root, chroot, unshare, setns, keyctl/add_key/request_key, bpf,
 *    userfaultfd, perf_event_open, io_uring_*, kexec_*, *_module, iopl/ioperm, acct,
 *    swapon/swapoff, reboot, syslog, open_by_handle_at, name_to_handle_at, quotactl...;
 *  - clone with any CLONE_NEW* flag: EPERM; clone3: ENOSYS (libc falls back to clone);
 *  - ioctl TIOCSTI and TIOCLINUX compared on the low 32 bits only (CVE-2019-10063): EPERM;
 *  - socket(): AF_UNIX; AF_INET/AF_INET6 stream and datagram only (SOCK_RAW, SOCK_PACKET,
 *    SCTP and DCCP EPERM); AF_NETLINK with NETLINK_ROUTE only (interface listing; the
 *    netns has just `lo` and changes need CAP_NET_ADMIN); every other family EAFNOSUPPORT;
 *  - personality(): only PER_LINUX (0) and the query value 0xffffffff.
 */
#pragma once
#include <stddef.h>

#include "common/diag.h"

/* Compile the filter. On success *ret_bpf is malloc'd struct sock_filter[] bytes and
 * *ret_len its size in bytes (a multiple of 8). */
int seccomp_profile_compile(void **ret_bpf, size_t *ret_len, struct diag *reterr);
