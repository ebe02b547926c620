import Foundation
import Testing
import TestSupport

/// `/metrics` scraped by a real Prometheus server (Debian's `prometheus`,
/// installed by testbed/host-up), started here on its own loopback address
/// with its own config and data directory, and asked through its HTTP API.
@Suite struct MetricsPrometheusTests {
    /// A loopback address of this test's own, so parallel runs do not collide.
    static func loopback() -> String { "127.0.\(Int.random(in: 100...250)).\(Int.random(in: 2...250))" }

    func get(_ url: String) throws -> String {
        let r = try ProcessRunner.run(["curl", "-sS", "--max-time", "5", url], timeout: 10)
        guard r.status == 0 else { throw TestbedError("curl \(url): \(r.stderr)") }
        return r.stdout
    }

    @Test func prometheusScrapesVigild() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw TestbedError("/usr/bin/prometheus missing: run testbed/host-up (it installs Debian's prometheus)")
        }
        let dir = try TemporaryDirectory("pm")
        defer { dir.remove() }
        let host = Self.loopback()
        let metrics = "\(host):9477", web = "\(host):9090"
        let daemon = try DaemonProcess(connect: "test:///default", directory: dir,
                                       configYAML: "metrics-address: \(metrics)\n")
        defer { daemon.stop() }
        #expect(try daemon.vigil(["vm", "list"]).status == 0)

        // The exposition itself: names, units and labels as Prometheus wants them.
        let text = try get("http://\(metrics)/metrics")
        for line in ["# TYPE vigil_vm_state gauge", "# TYPE vigil_vm_recoveries_total counter",
                     "# TYPE vigil_event_log_writes_total counter", "# TYPE vigil_protected_vms gauge",
                     "# TYPE vigil_api_request_duration_seconds histogram",
                     "# TYPE vigil_vm_heartbeat_interval_seconds gauge", "# TYPE vigil_operations_running gauge"] {
            #expect(text.contains(line), "missing '\(line)' in:\n\(text)")
        }
        #expect(text.contains(#"vigil_api_request_duration_seconds_count{method="GET",route="/v1/vms",status="200"} 1"#), "\(text)")

        try """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: vigild
                static_configs:
                  - targets: ['\(metrics)']
            """.write(toFile: dir.path + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try ChildProcess(["/usr/bin/prometheus", "--config.file=\(dir.path)/prometheus.yml",
                                           "--storage.tsdb.path=\(dir.path)/tsdb", "--web.listen-address=\(web)"],
                                          logPath: dir.path + "/prometheus.log")
        defer { _ = prometheus.stop(SIGTERM) }

        let query = "http://\(web)/api/v1/query?query="
        let running = query + #"vigil_vm_state%7Bvm%3D%22test%22%2Cstate%3D%22running%22%7D"#
        try await daemon.waitUntil("Prometheus to have scraped vigild", timeout: 60) {
            let answer = try get(running)
            return answer.contains(#""status":"success""#) && answer.contains(#""job":"vigild""#) && answer.contains(#""1"]"#)
        }
        let answer = try get(running)
        #expect(answer.contains(#""uuid":"6695eb01-f6a4-8304-79aa-97f2502e193f""#), "\(answer)")
        let up = try get(query + "up%7Bjob%3D%22vigild%22%7D")
        #expect(up.contains(#""1"]"#), "\(up)")
        let latency = try get(query + "vigil_api_request_duration_seconds_count%7Broute%3D%22%2Fv1%2Fvms%22%7D")
        #expect(latency.contains(#""method":"GET""#), "\(latency)")
        #expect(prometheus.stop(SIGTERM) == 0)
    }

    /// Per-VM series of guests with an agent (fake guests on the test
    /// driver): alive and heartbeating, then a hang and its recovery.
    @Test func agentHeartbeatAndRecoveriesReachTheMetrics() async throws {
        let metrics = "\(Self.loopback()):9477"
        let rig = try FakeGuestTests.rig(["alive", "hang"], arguments: ["--metrics-address", metrics])
        defer { rig.dir.remove() }
        let alive = try #require(rig.channels["alive"]), hang = try #require(rig.channels["hang"])
        alive.send(FakeGuestTests.hello("alive"))
        let beats = FakeGuestTests.heartbeating(alive)
        defer { beats.cancel() }
        hang.send(FakeGuestTests.hello("hang"))
        hang.send(FakeGuestTests.beat(1))
        let uuid = "7f1c0000-0000-4000-8000-000000000001"
        try await rig.daemon.waitUntil("the hang's recovery in /metrics", timeout: 30) {
            try get("http://\(metrics)/metrics").contains(
                #"vigil_vm_recoveries_total{vm="hang",uuid="\#(uuid)",outcome="succeeded"} 1"#)
        }
        let text = try get("http://\(metrics)/metrics")
        #expect(text.contains(#"vigil_vm_agent_state{vm="alive",uuid="7f1c0000-0000-4000-8000-000000000000",state="alive"} 1.0"#), "\(text)")
        #expect(text.contains(#"vigil_vm_heartbeat_age_seconds{vm="alive""#))
        #expect(text.contains("vigil_protected_vms 1.0") || text.contains("vigil_protected_vms 2.0"))
        #expect(text.contains(#"vigil_vm_heartbeat_interval_seconds{vm="alive",uuid="7f1c0000-0000-4000-8000-000000000000"} 0.2"#))
    }
}
