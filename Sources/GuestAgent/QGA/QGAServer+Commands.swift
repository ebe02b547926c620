import AgentWire

/// One handler per command. Read-only commands gather facts on each call;
/// the ones that change the machine go through `system`.
extension QGAServer {
    func execute(_ command: QGACommand, arguments: JSONValue) throws(QGAError) -> JSONValue {
        switch command {
        case .sync, .syncDelimited:
            // libvirt matches this echo against the id it sent before each command.
            guard let id = arguments["id"]?.intValue else { throw .invalidParameter("id") }
            return .int(id)
        case .ping:
            return .object([:])
        case .info:
            return info
        case .getTime:
            return .int(GuestTime.nowNanoseconds())
        case .setTime:
            try system.setTime(try Self.optionalTime(arguments))
            return .object([:])
        case .getOSInfo:
            return GuestOSInfo.osInfo()
        case .getHostName:
            return ["host-name": .string(GuestFacts.hostname)]
        case .getTimezone:
            return GuestTime.timezone()
        case .getUsers:
            return GuestUsers.loggedIn()
        case .networkGetInterfaces:
            return try GuestNetwork.interfaces()
        case .getFSInfo:
            return GuestFilesystems.fsinfo()
        case .getDisks:
            return GuestDisks.list()
        case .fsfreezeStatus:
            return .string(frozen ? "frozen" : "thawed")
        case .fsfreezeFreeze, .fsfreezeFreezeList:
            guard !frozen else { throw QGAError("Filesystems are already frozen") }
            let count = try system.freeze(try Self.optionalMountpoints(arguments))
            frozen = true
            return .int(Int64(count))
        case .fsfreezeThaw:
            let count = try system.thaw()
            frozen = false
            return .int(Int64(count))
        case .shutdown:
            // Handled by the caller: it answers with an action, not a response.
            throw QGAError("guest-shutdown has no response")
        }
    }

    private var info: JSONValue {
        let commands = QGACommand.allCases.map { command -> JSONValue in
            ["name": .string(command.rawValue), "enabled": true, "success-response": .bool(command.successResponse)]
        }
        return ["version": .string(version), "supported_commands": .array(commands)]
    }

    private static func optionalTime(_ arguments: JSONValue) throws(QGAError) -> Int64? {
        guard let value = arguments["time"], value != .null else { return nil }
        guard let ns = value.intValue, ns >= 0 else { throw .invalidParameter("time") }
        return ns
    }

    private static func optionalMountpoints(_ arguments: JSONValue) throws(QGAError) -> [String]? {
        guard let value = arguments["mountpoints"], value != .null else { return nil }
        guard let list = value.arrayValue else { throw .invalidParameter("mountpoints") }
        var paths: [String] = []
        for item in list {
            guard let path = item.stringValue else { throw .invalidParameter("mountpoints") }
            paths.append(path)
        }
        return paths
    }
}
