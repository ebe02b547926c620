extension AgentMessage {
    public struct InventoryRequest: Codable, Sendable, Equatable {
        public var id: UInt64
        public init(id: UInt64) { self.id = id }
    }

    /// What the guest kernel sees. Sent by an untrusted guest: the host
    /// bounds it (`bounded()`) before showing it.
    public struct Inventory: Codable, Sendable, Equatable {
        public var id: UInt64
        /// CPUs online (`/sys/devices/system/cpu/online`).
        public var cpusOnline: Int
        /// `MemTotal` of `/proc/meminfo` (a balloon lowers it).
        public var memTotalKiB: UInt64
        public var nics: [NIC]
        public var disks: [Disk]
        /// CPUs and memory blocks the agent brought online for this request
        /// (e.g. `cpu1`, `memory40`).
        public var onlined: [String]

        public struct NIC: Codable, Sendable, Equatable {
            public var name: String
            public var mac: String
            public init(name: String, mac: String) {
                self.name = name
                self.mac = mac
            }
        }

        public struct Disk: Codable, Sendable, Equatable {
            public var name: String
            public var sizeBytes: UInt64
            public init(name: String, sizeBytes: UInt64) {
                self.name = name
                self.sizeBytes = sizeBytes
            }
        }

        public init(id: UInt64, cpusOnline: Int, memTotalKiB: UInt64, nics: [NIC], disks: [Disk], onlined: [String] = []) {
            self.id = id
            self.cpusOnline = cpusOnline
            self.memTotalKiB = memTotalKiB
            self.nics = nics
            self.disks = disks
            self.onlined = onlined
        }

        /// The same hardware seen (request id and what was onlined aside).
        public func sameView(as other: Inventory) -> Bool {
            cpusOnline == other.cpusOnline && memTotalKiB == other.memTotalKiB && nics == other.nics && disks == other.disks
        }

        /// At most this many entries per list, and this many characters per name.
        public static let maxItems = 64
        public static let maxName = 64

        /// The same inventory with counts and strings clipped, so a hostile
        /// guest cannot make the host store or print much.
        public func bounded() -> Inventory {
            func clip(_ s: String) -> String { String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7f }.prefix(Self.maxName).map(Character.init)) }
            return Inventory(id: id, cpusOnline: min(max(cpusOnline, 0), 4096), memTotalKiB: min(memTotalKiB, 1 << 40),
                             nics: nics.prefix(Self.maxItems).map { NIC(name: clip($0.name), mac: clip($0.mac)) },
                             disks: disks.prefix(Self.maxItems).map { Disk(name: clip($0.name), sizeBytes: $0.sizeBytes) },
                             onlined: onlined.prefix(Self.maxItems).map(clip))
        }
    }
}
