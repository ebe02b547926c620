import AgentWire
import Glibc

/// What hardware the guest kernel sees, for vigild's `inventory_request`.
/// Before looking, brings hot-added CPUs and memory blocks online, as
/// VMware Tools and similar agents do where no udev rule does it (the kernel
/// leaves hot-added CPUs offline, and memory too unless auto-online is set).
enum GuestInventory {
    static func gather(id: UInt64) -> AgentMessage.Inventory {
        let onlined = bringOnline()
        let cpus = cpuCount(SysFiles.attribute("/sys/devices/system/cpu/online") ?? "")
        let memTotal = memTotalKiB(SysFiles.read("/proc/meminfo", max: 16 * 1024) ?? "")
        let nics = SysFiles.entries("/sys/class/net").filter { $0 != "lo" }.prefix(AgentMessage.Inventory.maxItems).map {
            AgentMessage.Inventory.NIC(name: $0, mac: SysFiles.attribute("/sys/class/net/\($0)/address") ?? "")
        }
        let disks = SysFiles.entries("/sys/block").filter { !$0.hasPrefix("loop") && !$0.hasPrefix("ram") }
            .prefix(AgentMessage.Inventory.maxItems).map {
                // sysfs counts 512-byte sectors whatever the device's block size.
                AgentMessage.Inventory.Disk(name: $0, sizeBytes: (UInt64(SysFiles.attribute("/sys/block/\($0)/size") ?? "") ?? 0) * 512)
            }
        return .init(id: id, cpusOnline: cpus, memTotalKiB: memTotal, nics: Array(nics), disks: Array(disks), onlined: onlined)
    }

    /// Onlines offline CPUs (`cpuN/online` = 0) and memory blocks (`state` =
    /// offline); returns their names. An administrator who offlined a CPU on
    /// purpose gets it back: hot-added hardware is the common case.
    static func bringOnline() -> [String] {
        var done: [String] = []
        let cpuDir = "/sys/devices/system/cpu"
        for cpu in SysFiles.entries(cpuDir) where isNumbered(cpu, prefix: "cpu") {
            let path = "\(cpuDir)/\(cpu)/online"
            if SysFiles.attribute(path) == "0", write("1", to: path) { done.append(cpu) }
        }
        let memDir = "/sys/devices/system/memory"
        for block in SysFiles.entries(memDir) where isNumbered(block, prefix: "memory") {
            let path = "\(memDir)/\(block)/state"
            if SysFiles.attribute(path) == "offline", write("online", to: path) { done.append(block) }
        }
        if !done.isEmpty { log("brought online: \(done.joined(separator: " "))") }
        return done
    }

    /// The number of CPUs in a kernel CPU list such as "0-3,5".
    static func cpuCount(_ list: String) -> Int {
        var n = 0
        for part in list.split(separator: ",") {
            let ends = part.split(separator: "-").compactMap { Int($0.filter { !$0.isWhitespace }) }
            if ends.count == 1 { n += 1 } else if ends.count == 2, ends[1] >= ends[0] { n += ends[1] - ends[0] + 1 }
        }
        return n
    }

    /// `MemTotal:  123456 kB` from /proc/meminfo.
    static func memTotalKiB(_ meminfo: String) -> UInt64 {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            return UInt64(line.dropFirst("MemTotal:".count).filter(\.isNumber)) ?? 0
        }
        return 0
    }

    private static func isNumbered(_ name: String, prefix: String) -> Bool {
        name.hasPrefix(prefix) && name.count > prefix.count && name.dropFirst(prefix.count).allSatisfy(\.isNumber)
    }

    private static func write(_ value: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }
}

/// Kernel uevents for CPUs and memory blocks, so hardware hot-added by
/// anyone (virsh setvcpus too, not only vigild) comes online at once. The
/// agent polls `fd` with its port; idle guests get no wake-ups from it.
final class HotplugWatcher {
    private let monitor = UeventMonitor(subsystems: ["cpu", "memory"])
    var fd: Int32 { monitor?.fd ?? -1 }

    /// A uevent arrived: consume it and online what came.
    func handle() {
        monitor?.drain()
        _ = GuestInventory.bringOnline()
    }
}
