import Core
import Foundation
import GRDB
import Prometheus

/// What `/metrics` shows, gathered afresh at each scrape: one registry per
/// scrape for the per-VM and per-operation series (so VMs that left leave
/// no stale series), then the long-lived API latencies.
struct MetricsCollector: Sendable {
    let vms: VMService
    let operations: OperationCenter
    let store: StateStore
    let offsets: ClockOffsets
    let api: APIMetrics

    static let vmStates = ["running", "paused", "shutoff", "shutdown", "crashed", "pmsuspended", "blocked", "nostate"]

    func scrape() async throws -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        let summaries = try await vms.vmList()
        let agents = try await vms.agentStatus(vm: nil)
        let stateByUUID = Dictionary(summaries.map { ($0.uuid, $0.state) }, uniquingKeysWith: { a, _ in a })
        let recoveries = try await recoveryCounts()
        let offsets = self.offsets.all

        let state = Self.name("vm_state", "", "1 for the VM's libvirt state, 0 for the others.")
        let agentState = Self.name("vm_agent_state", "", "1 for the state of the VM's Vigil agent, 0 for the others.")
        let heartbeat = Self.name("vm_heartbeat_age", "seconds", "Time since the agent's last heartbeat (alive or lost agents).")
        let interval = Self.name("vm_heartbeat_interval", "seconds", "Heartbeat interval of the VM's protection policy.")
        let recovered = Self.name("vm_recoveries", "total", "Recoveries vigild performed for the VM (in the event log), by outcome.")
        let offset = Self.name("vm_clock_offset", "seconds", "Guest clock minus host clock, as last measured over the agent channel.")
        for a in agents {
            let vm = [("vm", a.vm), ("uuid", a.uuid)]
            for s in Self.vmStates {
                registry.makeGauge(descriptor: state, labels: vm + [("state", s)]).set(stateByUUID[a.uuid] == s ? 1.0 : 0.0)
            }
            for s in AgentState.allCases {
                registry.makeGauge(descriptor: agentState, labels: vm + [("state", s.rawValue)]).set(a.state == s ? 1.0 : 0.0)
            }
            if let age = a.lastHeartbeatAgeMs {
                registry.makeGauge(descriptor: heartbeat, labels: vm).set(Double(age) / 1000)
            }
            registry.makeGauge(descriptor: interval, labels: vm).set(Double(a.heartbeatIntervalMs) / 1000)
            for outcome in ["succeeded", "failed"] {
                registry.makeCounter(descriptor: recovered, labels: vm + [("outcome", outcome)])
                    .increment(by: Int64(recoveries[RecoveryKey(uuid: a.uuid, outcome: outcome)] ?? 0))
            }
            if let seconds = offsets[a.uuid] {
                registry.makeGauge(descriptor: offset, labels: vm).set(seconds)
            }
        }
        registry.makeGauge(descriptor: Self.name("vms", "", "VMs defined on this host.")).set(Double(agents.count))
        registry.makeGauge(descriptor: Self.name("protected_vms", "", "VMs whose agent heartbeats (protected)."))
            .set(Double(agents.filter { $0.state == .alive }.count))

        let running = try await operations.list().filter { $0.state == .running }
        let opsRunning = Self.name("operations_running", "", "Long operations running, by kind.")
        for (kind, ops) in Dictionary(grouping: running, by: \.kind) {
            registry.makeGauge(descriptor: opsRunning, labels: [("kind", kind)]).set(Double(ops.count))
        }
        if running.isEmpty { registry.makeGauge(descriptor: opsRunning, labels: [("kind", "any")]).set(0.0) }
        let progress = Self.name("operation_progress", "ratio", "Progress (0-1) of each running long operation.")
        for op in running {
            registry.makeGauge(descriptor: progress, labels: [("id", op.id), ("kind", op.kind), ("target", op.target)])
                .set(op.progress)
        }
        registry.makeCounter(descriptor: Self.name("event_log_writes", "total", "Events written to the event log since it was created."))
            .increment(by: try await eventLogWrites())

        var out = registry.emitToBuffer()
        api.registry.emit(into: &out)
        return out
    }

    static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "vigil", metricName: metric, unitName: unit, helpText: help)
    }

    struct RecoveryKey: Hashable {
        let uuid: String
        let outcome: String
    }

    func recoveryCounts() async throws -> [RecoveryKey: Int] {
        try await store.db.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT vmUUID, outcome, COUNT(*) AS n FROM event
                WHERE kind = 'recovery' AND vmUUID IS NOT NULL GROUP BY vmUUID, outcome
                """)
            var counts: [RecoveryKey: Int] = [:]
            for row in rows {
                let uuid: String = row["vmUUID"], outcome: String? = row["outcome"], n: Int = row["n"]
                counts[RecoveryKey(uuid: uuid, outcome: outcome == "succeeded" ? "succeeded" : "failed"), default: 0] += n
            }
            return counts
        }
    }

    /// Event ids are never reused (AUTOINCREMENT), so the largest one counts
    /// every write, pruned events included.
    func eventLogWrites() async throws -> Int64 {
        try await store.db.read { db in
            try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'event'") ?? 0
        }
    }
}
