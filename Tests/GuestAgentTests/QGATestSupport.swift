import FoundationEssentials
import Synchronization
import AgentWire
@testable import GuestAgent

/// Helpers to drive a QGAServer and read its answers as JSON.
extension QGAServer {
    func send(_ text: String) -> [QGAOutput] { feed(ArraySlice(text.utf8)) }

    /// Sends one request and returns its single JSON response.
    func call(_ execute: String, _ arguments: String? = nil, id: String? = nil) -> JSONValue? {
        var request = #"{"execute":"\#(execute)""#
        if let arguments { request += #","arguments":\#(arguments)"# }
        if let id { request += #","id":\#(id)"# }
        let responses = QGATest.responses(send(request + "}\n"))
        return responses.count == 1 ? responses[0] : nil
    }
}

enum QGATest {
    /// Decodes each written response; a leading 0xFF delimiter is dropped.
    static func responses(_ outputs: [QGAOutput]) -> [JSONValue] {
        outputs.compactMap { output -> JSONValue? in
            guard case .write(let bytes) = output else { return nil }
            let json = bytes.first == 0xFF ? Array(bytes.dropFirst()) : bytes
            return try? JSONDecoder().decode(JSONValue.self, from: Data(json))
        }
    }

    static func errorClass(_ response: JSONValue?) -> String? {
        response?["error"]?["class"]?.stringValue
    }
}

/// Shared, lockable log for the fake system's closures.
final class CallLog: Sendable {
    let calls = Mutex<[String]>([])
    var system: QGASystem {
        QGASystem(
            freeze: { mountpoints in self.calls.withLock { $0.append("freeze \(mountpoints ?? ["all"])") }; return 2 },
            thaw: { self.calls.withLock { $0.append("thaw") }; return 2 },
            setTime: { ns in self.calls.withLock { $0.append("settime \(ns.map(String.init) ?? "rtc")") } }
        )
    }
    var all: [String] { calls.withLock { $0 } }
}
