#define _GNU_SOURCE
#include <poll.h>
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
