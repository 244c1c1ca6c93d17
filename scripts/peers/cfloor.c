/*
 * The floor for scripts/compare.sh: the least an epoll server can do per HTTP request on this
 * kernel. One thread, level-triggered epoll, no parsing: a request is counted at each blank line
 * ("\r\n\r\n", found with memmem, across reads too) and answered with one fixed response; all the
 * answers to one read go out in one send. Not a server, a measuring stick.
 *
 *   cfloor PORT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char answer[] =
    "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "Date: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\nHello, World!";
enum { MAX_FDS = 65536, BATCH = 256 };
/* Per descriptor: how many bytes of "\r\n\r\n" the previous read ended with (0-3). */
static unsigned char matched[MAX_FDS];

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 18080, on = 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) {
        perror("cfloor: bind/listen");
        return 1;
    }
    int epoll = epoll_create1(0);
    struct epoll_event watch = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &watch);
    static struct epoll_event ready[BATCH];
    static char in[65536];
    static char out[sizeof answer * 4096];
    const size_t answerLength = sizeof answer - 1;
    for (;;) {
        int n = epoll_wait(epoll, ready, BATCH, -1);
        for (int e = 0; e < n; e++) {
            int fd = ready[e].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client >= MAX_FDS) { close(client); continue; }
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    matched[client] = 0;
                    struct epoll_event w = {.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(epoll, EPOLL_CTL_ADD, client, &w);
                }
                continue;
            }
            ssize_t got = read(fd, in, sizeof in);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN) continue;
                close(fd);
                continue;
            }
            /* Count blank lines with memmem, carrying a partial "\r\n\r\n" over reads. */
            static const char end[4] = {'\r', '\n', '\r', '\n'};
            size_t requests = 0, at = 0, length = (size_t)got;
            unsigned m = matched[fd];
            if (m > 0) {
                size_t need = 4 - m;
                if (length >= need && memcmp(in, end + m, need) == 0) { requests++; at = need; }
            }
            const char *hit;
            while (at < length && (hit = memmem(in + at, length - at, end, 4)) != NULL) {
                requests++;
                at = (size_t)(hit - in) + 4;
            }
            /* The longest tail that starts the pattern again. */
            m = 0;
            for (unsigned k = 3; k > 0; k--) {
                if (length - at >= k && memcmp(in + length - k, end, k) == 0) { m = k; break; }
            }
            matched[fd] = (unsigned char)m;
            if (requests == 0) continue;
            size_t outLength = 0;
            for (size_t r = 0; r < requests && outLength + answerLength <= sizeof out; r++) {
                memcpy(out + outLength, answer, answerLength);
                outLength += answerLength;
            }
            if (send(fd, out, outLength, MSG_NOSIGNAL) < 0 && errno != EAGAIN) close(fd);
        }
    }
}
