#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "guest_sys.h"

int vigil_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask) {
    return ppoll(fds, nfds, timeout, sigmask);
}

/* Not const: the compiler must read it at run time, so a patched binary
   reports the patched version. Keep in step with VigilVersion.current. */
char vigil_agent_version_marker[64] = "VIGIL-AGENT-VERSION:0.1.0";

const char *vigil_agent_version(void) {
    return vigil_agent_version_marker + 20;
}

int vigil_uevent_socket(void) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    if (fd < 0) return -1;
    struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_pid = 0, .nl_groups = 1 /* kernel events */ };
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}
