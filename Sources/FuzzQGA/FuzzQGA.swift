import AgentWire
import FuzzSupport

// The agent's qemu-guest-agent server (GuestAgent/QGA and the GuestFacts it
// answers host-name from, compiled here through the symlinks beside this
// file): whatever the host side of org.qemu.guest_agent.0 sends goes through
// QGAFramer and QGAServer, which must answer every value with one JSON
// response line (or a shutdown action), never trap. Freeze, thaw and set-time
// go to a stand-in system, so fuzzing never touches the machine.
@main
enum FuzzQGA {
    static let system = QGASystem(freeze: { _ in 1 }, thaw: { 1 }, setTime: { _ in })

    static func main() {
        FuzzMain.run { bytes in check(Array(bytes)) }
    }

    static func check(_ input: [UInt8]) {
        let cut = input.count / 3
        var framer = QGAFramer(maxSize: 4096)
        for part in [input[..<cut], input[cut...]] {
            for case .value(let value) in framer.feed(part) {
                precondition(value.count <= 4096, "framer returned an over-long value")
                precondition(value.first == UInt8(ascii: "{") || value.first == UInt8(ascii: "["), "value starts mid-stream")
            }
        }
        let server = QGAServer(version: "0.0.0-fuzz", system: system)
        for part in [input[..<cut], input[cut...]] {
            for output in server.feed(part) {
                switch output {
                case .write(let bytes):
                    precondition(bytes.last == UInt8(ascii: "\n"), "a response without its newline")
                    let body = bytes.first == QGAFramer.resetByte ? bytes.dropFirst().dropLast() : bytes.dropLast()
                    guard let response = try? JSONParser.parse(body) else { preconditionFailure("a response that is not JSON") }
                    precondition((response["return"] == nil) != (response["error"] == nil), "a response with neither or both of return and error")
                case .shutdown(let mode):
                    precondition(["powerdown", "halt", "reboot"].contains(mode), "shutdown with an unknown mode")
                }
            }
        }
    }
}
