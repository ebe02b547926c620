#ifndef VIGIL_GUEST_SYS_H
#define VIGIL_GUEST_SYS_H
#include <poll.h>
#include <signal.h>
#include <time.h>

/// ppoll(2), which glibc only declares with _GNU_SOURCE (not visible to Swift's Glibc module).
int vigil_ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask);

/// The agent's version, from a fixed-size marker in the binary's data
/// ("VIGIL-AGENT-VERSION:" + version). Release tooling (and the tests' second
/// build) can set it in a built binary without recompiling.
const char *vigil_agent_version(void);

/// A non-blocking socket on the kernel's uevent netlink group (what udevd
/// itself listens to), so the agent needs neither udevd nor libudev; -1 with
/// errno set on failure.
int vigil_uevent_socket(void);
#endif
