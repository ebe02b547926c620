#define _GNU_SOURCE
#include <poll.h>
#include "guest_sys.h"

int vigil_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask) {
    return ppoll(fds, nfds, timeout, sigmask);
}
