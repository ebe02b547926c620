import AgentWire

/// What the caller does with the server's answer, in order.
enum QGAOutput: Equatable {
    /// Bytes to write to the port.
    case write([UInt8])
    /// Shut the guest down ("powerdown", "halt" or "reboot") after flushing
    /// everything written before it.
    case shutdown(mode: String)
}

/// A qemu-guest-agent protocol server for the org.qemu.guest_agent.0 port,
/// so libvirt's agent commands (domtime, guestinfo, domifaddr --source agent,
/// shutdown --mode=agent, domfsfreeze) work against vigil-agent. Pure apart
/// from the commands' own system calls: the caller owns the port and the loop.
final class QGAServer {
    let version: String
    let system: QGASystem
    /// Whether guest-fsfreeze-freeze succeeded and no thaw came since.
    var frozen = false
    private var framer = QGAFramer()

    init(version: String, system: QGASystem = .live) {
        self.version = version
        self.system = system
    }

    /// Feed it bytes read from the port; it returns what to write back.
    func feed(_ bytes: ArraySlice<UInt8>) -> [QGAOutput] {
        framer.feed(bytes).flatMap { event -> [QGAOutput] in
            switch event {
            case .value(let bytes):
                return handle(bytes)
            case .oversized:
                return [.write(Self.response(id: nil, error: QGAError("Request larger than \(framer.maxSize) bytes")))]
            case .garbage:
                return [.write(Self.response(id: nil, error: QGAError("JSON parse error: expected an object")))]
            }
        }
    }

    private func handle(_ bytes: [UInt8]) -> [QGAOutput] {
        guard let request = try? JSONParser.parse(bytes) else {
            return [.write(Self.response(id: nil, error: QGAError("JSON parse error")))]
        }
        let id = request["id"]
        guard case .object = request, let name = request["execute"]?.stringValue else {
            return [.write(Self.response(id: id, error: QGAError("Expected an object with member 'execute'")))]
        }
        guard let command = QGACommand(rawValue: name) else {
            return [.write(Self.response(id: id, error: QGAError("The command \(name) has not been found", class: .commandNotFound)))]
        }
        if frozen && !command.allowedWhileFrozen {
            let error = QGAError("Command \(name) has been disabled: the agent is in frozen state", class: .commandNotFound)
            return [.write(Self.response(id: id, error: error))]
        }
        let arguments = request["arguments"] ?? .object([:])
        guard case .object = arguments else {
            return [.write(Self.response(id: id, error: QGAError("QMP input member 'arguments' must be an object")))]
        }
        do throws(QGAError) {
            if command == .shutdown {
                return [.shutdown(mode: try Self.shutdownMode(arguments))]
            }
            let bytes = Self.response(id: id, result: try execute(command, arguments: arguments))
            // The delimiter lets a client skip whatever stale output precedes the answer.
            return [.write(command == .syncDelimited ? [QGAFramer.resetByte] + bytes : bytes)]
        } catch {
            return [.write(Self.response(id: id, error: error))]
        }
    }

    static func shutdownMode(_ arguments: JSONValue) throws(QGAError) -> String {
        guard let mode = arguments["mode"] else { return "powerdown" }
        guard let text = mode.stringValue, ["powerdown", "halt", "reboot"].contains(text) else {
            throw .invalidParameter("mode")
        }
        return text
    }

    // MARK: Encoding

    static func response(id: JSONValue?, result: JSONValue) -> [UInt8] {
        encode(["return": result], id: id)
    }

    static func response(id: JSONValue?, error: QGAError) -> [UInt8] {
        encode(["error": error.json], id: id)
    }

    /// One JSON object and "\n": libvirt reads the agent line by line.
    private static func encode(_ members: [String: JSONValue], id: JSONValue?) -> [UInt8] {
        var members = members
        if let id { members["id"] = id }
        // Non-finite doubles are written as 0.
        return JSONValue.object(members).jsonBytes + [UInt8(ascii: "\n")]
    }
}
