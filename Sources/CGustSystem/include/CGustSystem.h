// CGustSystem: the few C declarations Swift's Glibc module cannot reach on Linux.
// Tiny by design, no logic: epoll (its event struct is packed on x86_64, so Swift never touches
// it directly), eventfd, accept4 with flags, CPU affinity and signal masks. Called only from
// GustIO's System wrapper.
//
// This header includes no system headers (they would clash with SwiftGlibc's definitions when
// built with _GNU_SOURCE); its constants are the Linux ABI values, checked against the real
// macros by _Static_assert in shim.c.
#ifndef CGUST_SYSTEM_H
#define CGUST_SYSTEM_H

#include <stdint.h>
#include <stddef.h>
#include <semaphore.h>

static const uint32_t CGUST_EPOLLIN = 0x001;
static const uint32_t CGUST_EPOLLOUT = 0x004;
static const uint32_t CGUST_EPOLLERR = 0x008;
static const uint32_t CGUST_EPOLLHUP = 0x010;
static const uint32_t CGUST_EPOLLRDHUP = 0x2000;
static const int CGUST_EPOLL_CTL_ADD = 1;
static const int CGUST_EPOLL_CTL_DEL = 2;
static const int CGUST_EPOLL_CTL_MOD = 3;
static const int CGUST_SO_REUSEPORT = 15;
static const int CGUST_TCP_NODELAY = 1;

/// One epoll event as the kernel lays it out (packed on x86_64).
#if defined(__x86_64__)
typedef struct __attribute__((packed)) { uint32_t events; uint64_t data; } cgust_epoll_event;
#else
typedef struct { uint32_t events; uint64_t data; } cgust_epoll_event;
#endif

static inline size_t cgust_epoll_event_size(void) { return sizeof(cgust_epoll_event); }
static inline uint32_t cgust_epoll_event_flags(const void *events, int i) {
    return ((const cgust_epoll_event *)events)[i].events;
}
static inline uint64_t cgust_epoll_event_data(const void *events, int i) {
    return ((const cgust_epoll_event *)events)[i].data;
}

int cgust_epoll_create(void);
int cgust_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// `events` points at room for `max` events of cgust_epoll_event_size() bytes.
int cgust_epoll_wait(int epfd, void *events, int max, int timeout_ms);
/// A non-blocking, close-on-exec eventfd.
int cgust_eventfd(void);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int cgust_accept4(int fd);
/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC, filling in the peer's address (`*length` bytes of
/// room in, the address's length out).
int cgust_accept4_peer(int fd, void *address, uint32_t *length);
/// A TCP socket, non-blocking and close-on-exec.
int cgust_tcp_socket(int domain);
/// CPUs in this process's affinity mask (0 if it cannot be read).
int cgust_available_cpus(void);
/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it creates
/// afterwards) and ignores SIGPIPE, so that only cgust_wait_for_signal sees termination signals.
int cgust_block_termination_signals(void);
/// Waits for SIGINT, SIGTERM or SIGHUP (blocked beforehand); returns the signal number.
int cgust_wait_for_signal(void);
/// A non-blocking, close-on-exec timerfd on CLOCK_MONOTONIC.
int cgust_timerfd_create(void);
/// Arms `fd` to fire once at `deadline_ns` on CLOCK_MONOTONIC (absolute); 0 disarms it.
int cgust_timerfd_set_absolute(int fd, int64_t deadline_ns);
/// Sets IP_BIND_ADDRESS_NO_PORT: a later bind picks the address only, connect picks the port
/// (so many connections from one source address are not limited to one ephemeral range).
int cgust_set_bind_address_no_port(int fd);
/// SO_LINGER with a zero timeout: close() resets the connection and leaves no TIME_WAIT.
int cgust_set_linger_zero(int fd);
/// Like cgust_wait_for_signal, but gives up after `timeout_ms`: returns the signal, or 0.
int cgust_wait_for_signal_ms(int timeout_ms);
/// Blocks SIGPIPE in the calling thread: writes to a closed peer then fail with EPIPE (the
/// signal stays pending on the thread, never delivered) whatever the process's disposition.
int cgust_block_sigpipe(void);
/// Names the calling thread (at most 15 bytes are kept).
void cgust_set_thread_name(const char *name);
/// Sends `sig` to this process (used to end a signal wait from inside the process).
int cgust_raise_process(int sig);

/// Opens `path` relative to the directory `dirfd` read-only (O_CLOEXEC | O_NOCTTY), refusing
/// to leave that directory by any means: "..", absolute paths, or symbolic links pointing
/// outside it (openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). -1 and errno on failure
/// (EXDEV for an escape, ENOSYS on kernels before 5.6).
int cgust_open_beneath(int dirfd, const char *path);
/// Opens a directory (O_DIRECTORY | O_PATH is not used: the descriptor must support openat2).
int cgust_open_directory(const char *path);
/// sendfile(2) from `offset`, advancing it.
long cgust_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count);
/// send(2) with MSG_NOSIGNAL | MSG_MORE: more data follows at once (a file after its head).
long cgust_send_more(int fd, const void *buffer, size_t count);
/// Size, modification time (seconds since the epoch) and kind of an open file: kind 1 is a
/// regular file, 2 a directory, 0 anything else.
int cgust_fstat(int fd, int64_t *size, int64_t *mtime_seconds, int *kind);

/// malloc_trim(0): hands freed heap memory back to the kernel (glibc keeps it otherwise).
void cgust_release_free_memory(void);

/// sem_clockwait on CLOCK_MONOTONIC until `deadline_ns`: 0 when taken, else errno (ETIMEDOUT, EINTR).
int cgust_sem_wait_until(sem_t *semaphore, long long deadline_ns);

/// One pointer per thread (the pool worker running on it, if any).
void cgust_set_thread_context(void *context);
void *cgust_thread_context(void);

/// The bytes of output the peer has acknowledged on TCP socket `fd` (TCP_INFO's
/// tcpi_bytes_acked, Linux 4.1+): 0 and `*acked` set, or -1 (not TCP, or too old a kernel).
int cgust_tcp_bytes_acked(int fd, uint64_t *acked);
/// SIOCOUTQ: bytes in the send queue, not yet acknowledged (sent or not).
int cgust_tcp_send_queue(int fd, uint64_t *queued);

// Processes (reload and prefork). Signal sets are bit masks: bit N is signal N.

/// Blocks the signals in `mask` in the calling thread (and threads it creates afterwards).
int cgust_block_signals(uint64_t mask);
/// Waits for one of the (blocked) signals in `mask`, up to `timeout_ms` (-1: for ever);
/// returns its number, or 0 when the time ran out.
int cgust_wait_for_signals(uint64_t mask, int timeout_ms);
/// posix_spawn of `path` with `argv` and `envp` (NULL-terminated): `control` (-1: none) becomes
/// the child's descriptor 3; the child starts with no signal blocked and SIGPIPE, SIGCHLD and
/// SIGUSR2 at their default dispositions. The child's pid, or -1 and errno.
int cgust_spawn(const char *path, char *const argv[], char *const envp[], int control);
/// sendmsg of `length` bytes with `count` (at most 250) descriptors attached (SCM_RIGHTS).
long cgust_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int count);
/// recvmsg of up to `capacity` bytes, and up to `max_fds` descriptors (close-on-exec; any
/// beyond are closed) into `fds`, their number in `*fd_count`. Bytes read (0 at the end), -1.
long cgust_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int max_fds, int *fd_count);
/// waitpid (`pid` -1: any child): the pid reaped (0: none yet with `nohang`, -1: error), its
/// exit code (-1 if it did not exit) and the signal that killed it (0 if none).
int cgust_wait_child(int pid, int nohang, int *exit_code, int *signal_number);
/// prctl(PR_SET_PDEATHSIG): `sig` is sent to this process when its parent dies.
int cgust_set_parent_death_signal(int sig);
/// A non-blocking, close-on-exec signalfd for the (blocked) signals in `mask`.
int cgust_signalfd(uint64_t mask);
/// Reads one signal from a signalfd: its number, or 0 if none was pending.
int cgust_read_signalfd(int fd);

#endif /* CGUST_SYSTEM_H */
