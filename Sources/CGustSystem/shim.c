#define _GNU_SOURCE
#include "CGustSystem.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <errno.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

_Static_assert(sizeof(cgust_epoll_event) == sizeof(struct epoll_event), "epoll_event layout");
_Static_assert(EPOLLIN == 0x001 && EPOLLOUT == 0x004 && EPOLLERR == 0x008 && EPOLLHUP == 0x010 &&
               EPOLLRDHUP == 0x2000, "epoll flags");
_Static_assert(EPOLL_CTL_ADD == 1 && EPOLL_CTL_DEL == 2 && EPOLL_CTL_MOD == 3, "epoll ops");
_Static_assert(SO_REUSEPORT == 15 && TCP_NODELAY == 1, "socket options");

int cgust_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int cgust_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int cgust_epoll_wait(int epfd, void *events, int max, int timeout_ms) {
    return epoll_wait(epfd, (struct epoll_event *)events, max, timeout_ms);
}

int cgust_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int cgust_accept4(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int cgust_accept4_peer(int fd, void *address, uint32_t *length) {
    socklen_t n = *length;
    int r = accept4(fd, (struct sockaddr *)address, &n, SOCK_NONBLOCK | SOCK_CLOEXEC);
    *length = n;
    return r;
}

int cgust_tcp_socket(int domain) { return socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

int cgust_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }

int cgust_timerfd_set_absolute(int fd, int64_t deadline_ns) {
    struct itimerspec spec = {0};
    if (deadline_ns > 0) {
        spec.it_value.tv_sec = deadline_ns / 1000000000;
        spec.it_value.tv_nsec = deadline_ns % 1000000000;
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int cgust_set_bind_address_no_port(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
}

int cgust_set_linger_zero(int fd) {
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

int cgust_available_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}

static void cgust_termination_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

int cgust_block_termination_signals(void) {
    sigset_t set;
    cgust_termination_set(&set);
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cgust_block_sigpipe(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cgust_wait_for_signal(void) {
    sigset_t set;
    int sig = 0;
    cgust_termination_set(&set);
    while (sigwait(&set, &sig) != 0) { }
    return sig;
}

int cgust_wait_for_signal_ms(int timeout_ms) {
    sigset_t set;
    cgust_termination_set(&set);
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

int cgust_raise_process(int sig) { return kill(getpid(), sig); }

void cgust_set_thread_name(const char *name) {
    char shortened[16];
    size_t n = 0;
    while (n < 15 && name[n]) { shortened[n] = name[n]; n++; }
    shortened[n] = 0;
    pthread_setname_np(pthread_self(), shortened);
}

int cgust_open_beneath(int dirfd, const char *path) {
    struct open_how how = {0};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int cgust_open_directory(const char *path) { return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

long cgust_sendfile(int out_fd, int in_fd, int64_t *offset, size_t count) {
    off_t o = (off_t)*offset;
    ssize_t n = sendfile(out_fd, in_fd, &o, count);
    *offset = (int64_t)o;
    return (long)n;
}

long cgust_send_more(int fd, const void *buffer, size_t count) {
    return (long)send(fd, buffer, count, MSG_NOSIGNAL | MSG_MORE);
}

int cgust_fstat(int fd, int64_t *size, int64_t *mtime_seconds, int *kind) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    *size = (int64_t)st.st_size;
    *mtime_seconds = (int64_t)st.st_mtime;
    *kind = S_ISREG(st.st_mode) ? 1 : (S_ISDIR(st.st_mode) ? 2 : 0);
    return 0;
}

void cgust_release_free_memory(void) { malloc_trim(0); }

#include <semaphore.h>

int cgust_sem_wait_until(sem_t *semaphore, long long deadline_ns) {
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000LL, .tv_nsec = deadline_ns % 1000000000LL};
    return sem_clockwait(semaphore, CLOCK_MONOTONIC, &ts) == 0 ? 0 : errno;
}

static __thread void *cgust_context;
void cgust_set_thread_context(void *context) { cgust_context = context; }
void *cgust_thread_context(void) { return cgust_context; }

// MARK: Processes (reload and prefork)

static void cgust_mask_set(sigset_t *set, uint64_t mask) {
    sigemptyset(set);
    for (int sig = 1; sig < 64; sig++) {
        if (mask & (1ULL << sig)) sigaddset(set, sig);
    }
}

int cgust_block_signals(uint64_t mask) {
    sigset_t set;
    cgust_mask_set(&set, mask);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int cgust_wait_for_signals(uint64_t mask, int timeout_ms) {
    sigset_t set;
    cgust_mask_set(&set, mask);
    if (timeout_ms < 0) {
        int sig = 0;
        while (sigwait(&set, &sig) != 0) { }
        return sig;
    }
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig > 0 ? sig : 0;
}

int cgust_spawn(const char *path, char *const argv[], char *const envp[], int control) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    if (posix_spawn_file_actions_init(&actions) != 0) return -1;
    if (posix_spawnattr_init(&attributes) != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return -1;
    }
    int rc = 0;
    if (control >= 0) rc = posix_spawn_file_actions_adddup2(&actions, control, 3);
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGUSR2);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attributes, &empty);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (rc == 0) rc = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    if (rc == 0) rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return pid;
}

long cgust_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int count) {
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = length};
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 250)];
    if (count > 250) {
        errno = EINVAL;
        return -1;
    }
    if (count > 0) {
        memset(control, 0, sizeof control);
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)count);
    }
    return sendmsg(socket, &message, MSG_NOSIGNAL);
}

long cgust_receive_with_fds(int socket, void *bytes, size_t capacity, int *fds, int max_fds, int *fd_count) {
    struct iovec iov = {.iov_base = bytes, .iov_len = capacity};
    struct msghdr message = {0};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 250)];
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    *fd_count = 0;
    long n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h != NULL; h = CMSG_NXTHDR(&message, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        int received = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *data = (int *)CMSG_DATA(h);
        for (int i = 0; i < received; i++) {
            if (*fd_count < max_fds) fds[(*fd_count)++] = data[i];
            else close(data[i]);  // more than asked for: not leaked
        }
    }
    return n;
}

int cgust_wait_child(int pid, int nohang, int *exit_code, int *signal_number) {
    int status = 0;
    int r;
    do {
        r = waitpid(pid, &status, nohang ? WNOHANG : 0);
    } while (r < 0 && errno == EINTR);
    *exit_code = -1;
    *signal_number = 0;
    if (r > 0) {
        if (WIFEXITED(status)) *exit_code = WEXITSTATUS(status);
        else if (WIFSIGNALED(status)) *signal_number = WTERMSIG(status);
    }
    return r;
}

int cgust_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }

int cgust_signalfd(uint64_t mask) {
    sigset_t set;
    cgust_mask_set(&set, mask);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cgust_read_signalfd(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    return n == (ssize_t)sizeof info ? (int)info.ssi_signo : 0;
}
