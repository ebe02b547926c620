import Core
import Foundation

extension DaemonProcess {
    /// The event log through `vigil events --json`.
    public func events(vm: String? = nil) throws -> [VigilEvent] {
        let r = try vigil(["events", "--json"] + (vm.map { ["--vm", $0] } ?? []))
        return r.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(VigilEvent.self, from: Data($0.utf8)) }
    }

    public func agentStatus(_ vm: String) throws -> AgentStatus? {
        struct Body: Decodable { let agents: [AgentStatus] }
        let r = try vigil(["agent", "status", vm, "--json"])
        return try? JSONDecoder().decode(Body.self, from: Data(r.stdout.utf8)).agents.first
    }

    /// Polls until `check` passes; throws with the daemon's log tail otherwise.
    public func waitUntil(_ what: String, timeout: TimeInterval = 90, interval: Double = 0.2,
                          _ check: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? check()) == true { return }
            try await Task.sleep(for: .seconds(interval))
        }
        throw TestbedError("timed out after \(Int(timeout)) s waiting for \(what)\nvigild log:\n\(log.suffix(4000))")
    }
}

extension AgentStatus {
    /// Alive and heartbeating from a boot other than `boot`. A restarted
    /// vigild reports an agent it knew as alive before its first hello, with
    /// no boot yet: that is not a new boot.
    public func isAlive(onANewBootFrom boot: String?) -> Bool {
        state == .alive && bootID != nil && bootID != boot
    }
}
