// TCP_INFO's acknowledged-bytes counter. Its own file: the kernel's <linux/tcp.h> (which has
// tcpi_bytes_acked) cannot be included beside glibc's <netinet/tcp.h> (which has not).
#include "CGustSystem.h"
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

int cgust_tcp_bytes_acked(int fd, uint64_t *acked) {
    struct tcp_info info;
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
    if (length < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked) return -1;
    *acked = info.tcpi_bytes_acked;
    return 0;
}

#include <sys/ioctl.h>
#include <linux/sockios.h>

int cgust_tcp_send_queue(int fd, uint64_t *queued) {
    int value = 0;
    if (ioctl(fd, SIOCOUTQ, &value) != 0) return -1;
    *queued = value < 0 ? 0 : (uint64_t)value;
    return 0;
}
