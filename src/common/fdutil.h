/* fdutil: small, careful fd helpers shared by the launcher and its clients.
 *
 * Every fd these helpers create is O_CLOEXEC; received fds arrive CLOEXEC
 * (MSG_CMSG_CLOEXEC). A truncated message or control block is an error and any fds
 * that did arrive are closed, so a peer cannot leak fds into us by overrunning.
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#define FD_PASS_MAX 4

/* One datagram (SOCK_SEQPACKET) with up to FD_PASS_MAX fds. Returns 0 or -errno. */
int fd_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
/* The same, never blocking: -EAGAIN when the peer's queue is full. */
int fd_send_nowait(int sock, const void *buf, size_t len);

/* Receive one datagram. Returns its length (0 = peer closed) or -errno; *nfds is set to
 * the number of fds received into fds[] (at most max_fds). */
ssize_t fd_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds, size_t max_fds);

int write_all(int fd, const void *buf, size_t len);

/* Read a whole small file (at most cap-1 bytes) and NUL-terminate. Returns length or -errno. */
ssize_t read_small_file(const char *path, char *buf, size_t cap);

/* A sealed-size memfd holding data; CLOEXEC, offset rewound to 0. Returns fd or -errno. */
int memfd_with_data(const char *name, const void *data, size_t len);

/* Parse a non-negative decimal integer that spans the whole string. */
int parse_u64(const char *s, unsigned long long *ret);

/* Close every fd >= from except those listed (which must be sorted ascending). */
int close_fds_except(int from, const int *keep, size_t nkeep);

/* Path of one of Airlock's own programs: beside our executable, or in the installed
 * layout's ../libexec/airlock/. Never from the environment or PATH. `mode` is checked with
 * access(2) (X_OK for a program we exec, R_OK for one we copy). */
int airlock_program_path(const char *name, int mode, char *out, size_t cap);
