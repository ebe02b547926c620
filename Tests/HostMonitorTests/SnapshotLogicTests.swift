import Core
import Foundation
@testable import HostMonitor
import Libvirt
import Testing

/// The pure parts of snapshots: schedules over a clock, what a policy is
/// due for and prunes, the tree's order, and reading libvirt's records.
@Suite struct SnapshotLogicTests {
    var utc: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }

    func date(_ s: String) -> Date {
        let f = ISO8601DateFormatter()
        return f.date(from: s)!
    }

    @Test func schedulesParseAndPrintAsTyped() throws {
        #expect(try Schedule(parsing: "every 30s") == .every(seconds: 30))
        #expect(try Schedule(parsing: "every 15m") == .every(seconds: 900))
        #expect(try Schedule(parsing: "every 6h").description == "every 6h")
        #expect(try Schedule(parsing: "daily 02:30") == .daily(minute: 150))
        #expect(try Schedule(parsing: "weekly thu,mon 23:05") == .weekly(days: [1, 4], minute: 23 * 60 + 5))
        #expect(try Schedule(parsing: "weekly thu,mon 23:05").description == "weekly mon,thu 23:05")
        for bad in ["", "every", "every 0s", "every 2s", "every 5x", "daily 24:00", "daily 2", "weekly funday 01:00", "hourly", "every -5m"] {
            #expect(throws: Schedule.Invalid.self, "'\(bad)'") { try Schedule(parsing: bad) }
        }
        let json = try JSONEncoder().encode(Schedule.daily(minute: 61))
        #expect(String(decoding: json, as: UTF8.self) == "\"daily 01:01\"")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Schedule.self, from: Data("\"sometimes\"".utf8)) }
    }

    @Test func nextRunOverAClock() throws {
        let now = date("2026-12-02T10:00:00Z")  // a Wednesday
        #expect(Schedule.every(seconds: 60).nextRun(after: nil, now: now, calendar: utc) == now, "never run: at once")
        #expect(Schedule.every(seconds: 60).nextRun(after: now, now: now, calendar: utc) == now.addingTimeInterval(60))
        #expect(Schedule.daily(minute: 9 * 60).nextRun(after: nil, now: now, calendar: utc) == date("2026-12-03T09:00:00Z"))
        #expect(Schedule.daily(minute: 11 * 60).nextRun(after: nil, now: now, calendar: utc) == date("2026-12-02T11:00:00Z"))
        #expect(Schedule.daily(minute: 11 * 60).nextRun(after: date("2026-12-02T11:00:00Z"), now: now, calendar: utc)
                == date("2026-12-03T11:00:00Z"), "strictly after the last run")
        // Monday and Thursday at 02:00, from a Wednesday: Thursday, then the next Monday.
        let weekly = Schedule.weekly(days: [1, 4], minute: 120)
        let thu = weekly.nextRun(after: nil, now: now, calendar: utc)
        #expect(thu == date("2026-12-03T02:00:00Z"))
        #expect(weekly.nextRun(after: thu, now: thu, calendar: utc) == date("2026-12-07T02:00:00Z"))
        // Sunday is day 7.
        #expect(Schedule.weekly(days: [7], minute: 0).nextRun(after: nil, now: now, calendar: utc) == date("2026-12-06T00:00:00Z"))
    }

    @Test func policiesDueAndWhenToLookAgain() {
        let now = date("2026-12-02T10:00:00Z")
        let a = SnapshotPolicy(name: "a", vms: ["x"], schedule: .every(seconds: 60), keep: 2, lastRun: now.timeIntervalSince1970 - 61)
        let b = SnapshotPolicy(name: "b", vms: ["x"], schedule: .every(seconds: 60), keep: 2, lastRun: now.timeIntervalSince1970 - 30)
        let c = SnapshotPolicy(name: "c", vms: ["x"], schedule: .daily(minute: 10 * 60 + 5), keep: 2)
        let (due, next) = SnapshotPolicyPlan.due([a, b, c], now: now, calendar: utc)
        #expect(due == ["a"])
        #expect(next == now.addingTimeInterval(30), "b's next run comes before c's")
        // Simulated over ten minutes: an every-minute policy runs once a minute, never twice.
        var p = SnapshotPolicy(name: "m", vms: ["x"], schedule: .every(seconds: 60), keep: 1)
        var runs = 0
        for t in stride(from: 0.0, to: 600, by: 1) {
            let at = now.addingTimeInterval(t)
            if !SnapshotPolicyPlan.due([p], now: at, calendar: utc).due.isEmpty {
                runs += 1
                p.lastRun = at.timeIntervalSince1970
            }
        }
        #expect(runs == 10)
        // A daily policy set now (anchored as the service sets it) runs once a day,
        // at its time; unanchored, its next occurrence would move on with the clock.
        let schedule = Schedule.daily(minute: 10 * 60 + 5)
        var d = SnapshotPolicy(name: "d", vms: ["x"], schedule: schedule, keep: 1, lastRun: schedule.firstAnchor(now: now))
        var daily: [Date] = []
        for t in stride(from: 0.0, to: 3 * 86_400, by: 60) {
            let at = now.addingTimeInterval(t)
            if !SnapshotPolicyPlan.due([d], now: at, calendar: utc).due.isEmpty {
                daily.append(at)
                d.lastRun = at.timeIntervalSince1970
            }
        }
        #expect(daily == [date("2026-12-02T10:05:00Z"), date("2026-12-03T10:05:00Z"), date("2026-12-04T10:05:00Z")])
    }

    @Test func pruneKeepsTheNewestOfWhatThePolicyMade() {
        let made = [("p-3", 30.0), ("p-1", 10.0), ("p-4", 40.0), ("p-2", 20.0)].map { (name: $0.0, created: $0.1) }
        #expect(SnapshotPolicyPlan.prune(made, keep: 2) == ["p-1", "p-2"])
        #expect(SnapshotPolicyPlan.prune(made, keep: 4).isEmpty)
        #expect(SnapshotPolicyPlan.prune([], keep: 1).isEmpty)
        let name = SnapshotPolicyPlan.snapshotName(policy: "nightly", at: date("2026-12-02T03:04:05Z"))
        #expect(name == "nightly-20261202-030405")
        #expect(SnapshotRequest.nameProblem(name) == nil)
    }

    @Test func snapshotNamesAndRequestsAreChecked() {
        #expect(SnapshotRequest.nameProblem("before-upgrade_1.2") == nil)
        for bad in ["", "-x", ".x", "a/b", "a b", "ü", String(repeating: "a", count: 65), "x'y"] {
            #expect(SnapshotRequest.nameProblem(bad) != nil, "'\(bad)'")
        }
        #expect(SnapshotRequest(name: "s", timeoutSeconds: 5).problems.contains { $0.contains("--memory") })
        #expect(SnapshotRequest(name: "s", memory: true, quiesce: true).problems.contains { $0.contains("quiesce") })
        #expect(SnapshotRequest(name: "s", memory: true, timeoutSeconds: 5).problems.isEmpty)
    }

    @Test func treeOrderAndSubtrees() {
        // a ─┬─ b ── d
        //    └─ c          e (orphan: its parent is unknown)
        let tree = SnapshotTree([
            .init(name: "d", parent: "b", created: 4), .init(name: "c", parent: "a", created: 3),
            .init(name: "b", parent: "a", created: 2), .init(name: "a", parent: nil, created: 1),
            .init(name: "e", parent: "gone", created: 5),
        ])
        #expect(tree.ordered.map(\.name) == ["a", "b", "d", "c", "e"])
        #expect(tree.ordered.map(\.depth) == [0, 1, 2, 1, 0])
        #expect(tree.children(of: "a") == ["b", "c"])
        #expect(tree.parent(of: "e") == nil)
        #expect(tree.subtree("a") == ["d", "b", "c", "a"], "leaves first")
        #expect(tree.subtree("c") == ["c"])
    }

    @Test func readsLibvirtsExternalSnapshotRecord() throws {
        let xml = """
            <domainsnapshot>
              <name>s2</name><description>before &amp; after</description>
              <state>running</state><parent><name>s1</name></parent>
              <creationTime>1796177689</creationTime>
              <memory snapshot='external' file='/vm/web-s2.mem'/>
              <disks>
                <disk name='vda' snapshot='external' type='file'><driver type='qcow2'/><source file='/vm/web-vda-s2.qcow2'/></disk>
                <disk name='hdc' snapshot='no'/>
              </disks>
              <domain type='qemu'><name>web</name><devices>
                <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/vm/web-vda-s1.qcow2'/><target dev='vda' bus='virtio'/></disk>
                <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/iso/x.iso'/><target dev='hdc' bus='ide'/></disk>
              </devices></domain>
            </domainsnapshot>
            """
        let r = try SnapshotRecord(xml: xml)
        #expect(r.name == "s2" && r.parent == "s1" && r.description == "before & after")
        #expect(r.created == 1_796_177_689 && r.state == "running")
        #expect(r.isExternal && r.hasMemory && r.memoryFile == "/vm/web-s2.mem")
        #expect(r.frozen == ["vda": .init(path: "/vm/web-vda-s1.qcow2", format: "qcow2")], "the image the VM ran on, not the new overlay")
        let inside = try SnapshotRecord(xml: "<domainsnapshot><name>i</name><state>running</state><memory snapshot='internal'/><disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>")
        #expect(!inside.isExternal && inside.hasMemory && inside.frozen.isEmpty)
        #expect(throws: SnapshotRecord.Unreadable.self) { try SnapshotRecord(xml: "<domainsnapshot/>") }
        #expect(throws: SnapshotRecord.Unreadable.self) { try SnapshotRecord(xml: "") }
    }

    @Test func takerAsksLibvirtForExternalOverlaysAndLeavesOtherDisks() throws {
        let conn = try Connection(uri: "test:///default")
        let dom = try conn.domain(named: "test")
        let plan = SnapshotTaker.Plan(domain: dom, uri: "test:///default", request: SnapshotRequest(name: "a<b", description: "x&y"),
                                      running: true, overlays: ["vda": "/vm/o'1.qcow2"], untouched: ["hdc"], memoryFile: "/vm/m.mem",
                                      hasGuestAgentChannel: false)
        let xml = SnapshotTaker.definition(plan)
        let back = try SnapshotRecord(xml: xml)
        #expect(back.name == "a<b" && back.description == "x&y" && back.memoryFile == "/vm/m.mem")
        #expect(xml.contains("<disk name='hdc' snapshot='no'/>"))
        #expect(xml.contains("<source file='/vm/o&apos;1.qcow2'/>"))
    }
}
