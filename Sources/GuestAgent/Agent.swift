import AgentWire
import CGuestSys
import Glibc

/// Set from signal handlers; read by the main loop.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0
nonisolated(unsafe) var portChanged: sig_atomic_t = 0

/// The agent's single-threaded main loop: find the port, speak the protocol,
/// and reopen when the port goes away. Sleeps in poll()/ppoll() between
/// heartbeats, so an idle agent uses no CPU.
final class Agent {
    let options: AgentOptions
    var heartbeatIntervalMs: Int64 = 1000
    var seq: UInt64 = 0
    var framer = LineFramer()
    /// The qemu-guest-agent protocol port, when enabled (--qga).
    let qga: QGAPort?
    let upgrades: UpgradeReceiver
    let hotplug = HotplugWatcher()
    /// A verified build waiting for the port to close before its trial.
    private var pendingInstall: UpgradeReceiver.Ready?
    /// A rollback to tell vigild about after the next welcome.
    private var pendingReport: AgentMessage.UpgradeStatus?
    /// When the unanswered hello went out. A host that drops and retakes the
    /// channel between two polls never shows as hung up, so the hello may have
    /// gone to the connection before; it is said again until a welcome comes.
    private var helloSentAtMs: Int64?
    static let helloRetryMs: Int64 = 3_000

    init(options: AgentOptions) {
        self.options = options
        qga = options.qga ? QGAPort() : nil
        var keyFiles = options.trustKeyFiles
        if keyFiles.isEmpty && access(AgentOptions.defaultTrustKey, R_OK) == 0 { keyFiles = [AgentOptions.defaultTrustKey] }
        let keys = keyFiles.compactMap { path -> UpgradeReceiver.TrustedKey? in
            guard let text = GuestFacts.readFile(path), let raw = PackageKeys.read(text) else {
                log("ignoring trust key \(path): not a base64 Ed25519 public key")
                return nil
            }
            return .init(path: path, id: PackageKeys.keyID(raw: raw))
        }
        upgrades = UpgradeReceiver(stagingDirectory: options.stateDirectory, trustedKeys: keys,
                                   verifier: options.verifier ?? AgentOptions.defaultVerifier())
    }

    func run() -> Never {
        signal(SIGTERM) { _ in stopRequested = 1 }
        signal(SIGINT) { _ in stopRequested = 1 }
        // virtio_console raises SIGIO when the host side connects or
        // disconnects (with O_ASYNC); the default action would kill us.
        signal(SIGIO) { _ in portChanged = 1 }
        signal(SIGPIPE, SIG_IGN)
        let monitor = UeventMonitor(subsystem: "virtio-ports")
        var announcedWait = false
        while stopRequested == 0 {
            guard let path = PortLocator.find(channel: options.channel, device: options.device) else {
                if !announcedWait {
                    log("waiting for virtio-serial port \(options.channel)")
                    announcedWait = true
                }
                // Sleep until the kernel reports a new port (or 5 s as a fallback).
                if let monitor { _ = monitor.wait(timeoutMs: 5000) } else { sleep(1) }
                continue
            }
            announcedWait = false
            let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                log("cannot open \(path): errno \(errno)")
                sleep(1)
                continue
            }
            PortIO.enableSIGIO(fd)
            session(fd: fd)
            close(fd)
            upgrades.abandon()
            if let ready = pendingInstall {
                pendingInstall = nil
                // The new build needs the ports to itself for its trial.
                qga?.close()
                let failure = UpgradeInstaller.install(ready)
                pendingReport = .init(id: ready.id, state: .rolledBack, reason: failure.description)
            }
        }
        log("stopping")
        exit(0)
    }

    /// One connection to the port: returns when the port fails or we stop.
    /// One ppoll() covers the Vigil port and, when enabled, the qemu-guest-agent
    /// port; SIGIO (a host connecting or leaving) is only delivered inside
    /// ppoll, so no wake-up is lost between checks.
    private func session(fd: Int32) {
        var hostConnected = false
        var vigilHungUp = false
        var nextBeat = GuestFacts.monotonicMs()
        framer = LineFramer()
        var blocked = sigset_t(), waitMask = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGIO)
        sigprocmask(SIG_BLOCK, &blocked, &waitMask)
        sigdelset(&waitMask, SIGIO)
        defer { sigprocmask(SIG_UNBLOCK, &blocked, nil) }
        while true {
            if stopRequested != 0 {
                if hostConnected { send(fd, .goodbye(.init(reason: "agent stopped"))) }
                return
            }
            if portChanged != 0 {
                portChanged = 0
                vigilHungUp = false
                qga?.hungUp = false
            }
            let now = GuestFacts.monotonicMs()
            qga?.openIfDue(now: now)
            var fds = [pollfd(fd: vigilHungUp ? -1 : fd, events: Int16(POLLIN), revents: 0)]
            if let qga, qga.fd >= 0 { fds.append(pollfd(fd: qga.hungUp ? -1 : qga.fd, events: Int16(POLLIN), revents: 0)) }
            fds.append(pollfd(fd: hotplug.fd, events: Int16(POLLIN), revents: 0))
            // Heartbeats when the host listens; otherwise sleep until SIGIO,
            // with a slow fallback look (and QGA retries) every 2 s.
            let waitMs = hostConnected ? max(0, nextBeat - now) : (vigilHungUp ? 2_000 : 0)
            var timeout = timespec(tv_sec: Int(waitMs / 1000), tv_nsec: Int((waitMs % 1000) * 1_000_000))
            let rc = vigil_ppoll(&fds, nfds_t(fds.count), &timeout, &waitMask)
            if rc < 0 {
                if errno == EINTR { continue }
                return
            }
            if rc == 0 && !hostConnected {
                // The fallback look: poll hung-up ports again.
                vigilHungUp = false
                qga?.hungUp = false
            }
            let vigil = fds[0].revents
            if fds[fds.count - 1].revents & Int16(POLLIN) != 0 { hotplug.handle() }
            if fds.count > 2, fds[1].revents != 0, let qga {
                if fds[1].revents & Int16(POLLIN) != 0 {
                    qga.service()
                } else if fds[1].revents & Int16(POLLHUP) != 0 {
                    qga.hungUp = true
                } else if fds[1].revents & Int16(POLLERR | POLLNVAL) != 0 {
                    qga.close()
                }
            }
            if vigil & Int16(POLLHUP) != 0 {
                // Host side not connected (vigild down or migrating).
                hostConnected = false
                helloSentAtMs = nil
                vigilHungUp = true
                continue
            }
            if vigil & Int16(POLLERR | POLLNVAL) != 0 { return }
            if !vigilHungUp && !hostConnected {
                hostConnected = true
                sendHello(fd)
                nextBeat = GuestFacts.monotonicMs()
            }
            if vigil & Int16(POLLIN) != 0 {
                guard readInput(fd) else { continue }
                if pendingInstall != nil { return }
            }
            if hostConnected, let sent = helloSentAtMs, GuestFacts.monotonicMs() - sent >= Self.helloRetryMs {
                sendHello(fd)
            }
            if hostConnected && GuestFacts.monotonicMs() >= nextBeat {
                seq &+= 1
                writeAll(fd, HotPath.heartbeat(seq: seq, uptimeMs: GuestFacts.uptimeMs))
                nextBeat = GuestFacts.monotonicMs() + heartbeatIntervalMs
            }
        }
    }

    private func sendHello(_ fd: Int32) {
        // A sync byte first: the host drops whatever partial line an earlier
        // session may have left in the channel.
        _ = [LineFramer.syncByte].withUnsafeBytes { write(fd, $0.baseAddress, 1) }
        helloSentAtMs = GuestFacts.monotonicMs()
        send(fd, .hello(.init(agentVersion: AgentBuild.version, os: GuestFacts.osName, kernel: GuestFacts.kernel,
                              bootID: GuestFacts.bootID, hostname: GuestFacts.hostname,
                              capabilities: ["heartbeat", "sync", "time", "upgrade", "inventory"], arch: AgentBuild.arch)))
    }

    /// Reads what is available; false when there was nothing (EOF or EAGAIN).
    private func readInput(_ fd: Int32) -> Bool {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return false }
        // For time probes: when the host's bytes reached us.
        let receivedAtNs = WallClock.nowNs()
        for output in framer.feed(buf[0..<n]) {
            guard case .line(let line) = output else { continue }
            if let id = HotPath.syncID(line) {
                // Pings are answered without the JSON machinery.
                writeAll(fd, [LineFramer.syncByte] + HotPath.sync(id))
                continue
            }
            guard let message = try? WireCodec.decode(line) else { continue }
            handle(message, fd: fd, receivedAtNs: receivedAtNs)
        }
        return true
    }

    private func handle(_ message: AgentMessage, fd: Int32, receivedAtNs: Int64) {
        switch message {
        case .welcome(let w):
            helloSentAtMs = nil
            // Bounded: a host cannot make the agent spin or go silent for long.
            heartbeatIntervalMs = Int64(min(max(w.heartbeatIntervalMs, 100), 60_000))
            // The host is listening now: tell it about any earlier crash.
            if let trial = options.upgradeTrialFD {
                // A new build on trial: the handshake worked. Confirm and make way.
                _ = Array("ok".utf8).withUnsafeBytes { write(trial, $0.baseAddress, 2) }
                exit(0)
            }
            if let pending = CrashReports.pending() {
                send(fd, .crashReport(pending.report))
                pending.paths.forEach(CrashReports.remove)
            }
            if let report = pendingReport {
                send(fd, .upgradeStatus(report))
                pendingReport = nil
            }
        case .sync(let s):
            _ = [LineFramer.syncByte].withUnsafeBytes { write(fd, $0.baseAddress, 1) }
            send(fd, .sync(s))
        case .timeProbe(let p):
            send(fd, .timeReply(.init(id: p.id, t1: p.t1, t2: receivedAtNs, t3: WallClock.nowNs())))
        case .timeAdjust(let a):
            let error = ClockControl.adjust(byNs: a.offsetNs, step: a.mode == .step)
            if let error { log("clock adjustment failed: \(error)") }
            send(fd, .timeAdjusted(.init(id: a.id, error: error)))
        case .upgradeOffer(let offer):
            send(fd, upgrades.offer(offer))
        case .upgradeChunk(let chunk):
            switch upgrades.chunk(chunk) {
            case .reply(let reply):
                send(fd, reply)
            case .install(let ready):
                send(fd, .upgradeStatus(.init(id: ready.id, state: .installing, offset: ready.manifest.size)))
                pendingInstall = ready
            }
        case .inventoryRequest(let r):
            send(fd, .inventory(GuestInventory.gather(id: r.id)))
        case .hello, .heartbeat, .goodbye, .crashReport, .timeReply, .timeAdjusted, .upgradeStatus, .inventory:
            break
        }
    }

    /// Writes one message. A full channel (host not reading) drops it:
    /// heartbeats are only useful when fresh.
    private func send(_ fd: Int32, _ message: AgentMessage) {
        writeAll(fd, WireCodec.encode(message))
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) { PortIO.writeAll(fd, bytes, attempts: 50) }
}

func log(_ message: String) {
    let bytes = Array("vigil-agent: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
