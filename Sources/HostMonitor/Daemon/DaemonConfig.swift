/// vigild's settings, from its command line.
public struct DaemonConfig: Sendable {
    public var libvirtURI: String
    public var stateDirectory: String
    public var socketPath: String
    /// How often agents send heartbeats.
    public var heartbeatIntervalMs: Int
    /// How often to re-list domains as a safety net for missed events.
    public var reconcileIntervalMs: Int

    public init(libvirtURI: String = "qemu:///system", stateDirectory: String = "/var/lib/vigil",
                socketPath: String = "/run/vigil/vigild.sock", heartbeatIntervalMs: Int = 1000,
                reconcileIntervalMs: Int = 5000) {
        self.libvirtURI = libvirtURI
        self.stateDirectory = stateDirectory
        self.socketPath = socketPath
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.reconcileIntervalMs = reconcileIntervalMs
    }
}
