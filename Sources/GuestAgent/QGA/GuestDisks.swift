import AgentWire

/// guest-get-disks: block devices and their partitions from /sys/block.
/// libvirt requires "name" and "partition"; "dependencies" lists what a
/// device sits on (a partition's disk, a device-mapper volume's slaves).
enum GuestDisks {
    static func list() -> JSONValue {
        var disks: [JSONValue] = []
        for name in SysFiles.entries("/sys/block") {
            let slaves = SysFiles.entries("/sys/block/\(name)/slaves").map { JSONValue.string("/dev/\($0)") }
            disks.append(["name": .string("/dev/\(name)"), "partition": false, "dependencies": .array(slaves)])
            for part in SysFiles.entries("/sys/block/\(name)") where SysFiles.exists("/sys/block/\(name)/\(part)/partition") {
                disks.append(["name": .string("/dev/\(part)"), "partition": true, "dependencies": [.string("/dev/\(name)")]])
            }
        }
        return .array(disks)
    }
}
