import AgentWire
import Glibc

/// guest-network-get-interfaces: every interface getifaddrs(3) knows, with
/// its MAC, addresses and prefix lengths, and counters from sysfs. libvirt's
/// `domifaddr --source agent` requires "name", and for each address
/// "ip-address-type", "ip-address" and "prefix".
enum GuestNetwork {
    static func interfaces() throws(QGAError) -> JSONValue {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { throw .system("getifaddrs failed", errno: errno) }
        defer { freeifaddrs(head) }

        var names: [String] = []
        var addresses: [String: [JSONValue]] = [:]
        var cursor = head
        while let ifa = cursor?.pointee {
            cursor = ifa.ifa_next
            guard let cName = ifa.ifa_name else { continue }
            let name = String(cString: cName)
            if addresses[name] == nil {
                names.append(name)
                addresses[name] = []
            }
            if let address = address(ifa) { addresses[name, default: []].append(address) }
        }
        return .array(names.map { name in
            var entry: [String: JSONValue] = ["name": .string(name), "ip-addresses": .array(addresses[name] ?? [])]
            // Aliases ("eth0:1") share their parent's sysfs entry.
            let device = String(name.prefix(while: { $0 != ":" }))
            if let mac = SysFiles.attribute("/sys/class/net/\(device)/address"), !mac.isEmpty {
                entry["hardware-address"] = .string(mac)
            }
            if let statistics = statistics(device) { entry["statistics"] = statistics }
            return .object(entry)
        })
    }

    /// An IPv4 or IPv6 address with its prefix length; nil for other families.
    private static func address(_ ifa: ifaddrs) -> JSONValue? {
        guard let addr = ifa.ifa_addr else { return nil }
        let family = Int32(addr.pointee.sa_family)
        let type: String
        let text: String?
        let prefix: Int
        switch family {
        case AF_INET:
            type = "ipv4"
            text = addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ntop(AF_INET, $0.pointer(to: \.sin_addr)) }
            prefix = ifa.ifa_netmask.map { mask in
                mask.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr.nonzeroBitCount }
            } ?? 32
        case AF_INET6:
            type = "ipv6"
            text = addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ntop(AF_INET6, $0.pointer(to: \.sin6_addr)) }
            prefix = ifa.ifa_netmask.map { mask in
                mask.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    withUnsafeBytes(of: sin6.pointee.sin6_addr) { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
                }
            } ?? 128
        default:
            return nil
        }
        guard let text else { return nil }
        return ["ip-address-type": .string(type), "ip-address": .string(text), "prefix": .int(Int64(prefix))]
    }

    private static func ntop(_ family: Int32, _ address: UnsafeRawPointer?) -> String? {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard let address, inet_ntop(family, address, &buf, socklen_t(buf.count)) != nil else { return nil }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// qemu-ga's counter names, from /sys/class/net/IF/statistics.
    private static let counters = [
        ("rx-bytes", "rx_bytes"), ("rx-packets", "rx_packets"), ("rx-errs", "rx_errors"), ("rx-dropped", "rx_dropped"),
        ("tx-bytes", "tx_bytes"), ("tx-packets", "tx_packets"), ("tx-errs", "tx_errors"), ("tx-dropped", "tx_dropped"),
    ]

    private static func statistics(_ device: String) -> JSONValue? {
        var stats: [String: JSONValue] = [:]
        for (key, file) in counters {
            guard let text = SysFiles.attribute("/sys/class/net/\(device)/statistics/\(file)"),
                  let value = Int64(text) else { return nil }
            stats[key] = .int(value)
        }
        return .object(stats)
    }
}
