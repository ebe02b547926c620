import Core
import Foundation
@testable import HostMonitor
import Logging
import Testing
import TestSupport

/// The operation journal: rollback on failure and cancel, and at start for
/// operations a killed vigild left running.
@Suite struct OperationTests {
    struct Fixture {
        let dir: TemporaryDirectory
        let store: StateStore
        let center: OperationCenter

        init() throws {
            dir = try TemporaryDirectory("op")
            store = try StateStore(directory: dir.path + "/state")
            let logger = Logger(label: "test")
            center = OperationCenter(store: store, events: EventLog(store: store, logger: logger), logger: logger,
                                     undo: UndoRunner(executor: BlockingExecutor(threads: 1)).perform)
        }

        func file(_ name: String) -> String {
            let path = dir.path + "/" + name
            _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
            return path
        }
    }

    @Test func succeededOperationKeepsWhatItMadeAndDropsItsUndoJournal() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let path = f.dir.path + "/made"
        let started = try await f.center.start(kind: "test", target: "a") { ctx in
            try ctx.willCreate(file: path)
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            ctx.progress(0.5, "half")
            return "made"
        }
        let done = try #require(try await f.center.wait(id: started.id, seconds: 10))
        #expect(done.state == .succeeded && done.progress == 1 && done.result == "made")
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try f.store.operation(id: started.id)?.undoSteps == [])
    }

    @Test func aTimedOutWaitLeavesTheOtherWaitersWaiting() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let started = try await f.center.start(kind: "test", target: "w") { _ in
            try await Task.sleep(for: .milliseconds(1500))
            return "done"
        }
        async let patient = f.center.wait(id: started.id, seconds: 20)
        let hasty = try await f.center.wait(id: started.id, seconds: 0.2)
        #expect(hasty?.state == .running)
        let end = try await patient
        #expect(end?.state == .succeeded, "a long-poll must not end when another one times out")
    }

    /// A source VM's new overlay is removed on rollback only while the VM
    /// does not use it: once the source was repointed at it, it stays.
    @Test func overlaysTheirVMUsesSurviveRollback() async throws {
        let rig = try RecycleBinTests.rig([("src", nil)])
        defer { rig.remove() }
        let used = rig.disks + "/src.img", unused = rig.dir.path + "/unused.qcow2"
        _ = FileManager.default.createFile(atPath: unused, contents: Data("x".utf8))
        let runner = UndoRunner(executor: BlockingExecutor(threads: 1))
        let uri = "test://\(rig.node)", uuid = "7f1c0000-0000-4000-8000-000000000100"
        try await runner.perform(.removeFileUnlessUsed(path: used, domainUUID: uuid, uri: uri))
        #expect(FileManager.default.fileExists(atPath: used), "the VM's own disk must stay")
        try await runner.perform(.removeFileUnlessUsed(path: unused, domainUUID: uuid, uri: uri))
        #expect(!FileManager.default.fileExists(atPath: unused))
        // Gone already, or the VM itself is gone: nothing to keep, nothing fails.
        try await runner.perform(.removeFileUnlessUsed(path: unused, domainUUID: uuid, uri: uri))
        _ = FileManager.default.createFile(atPath: unused, contents: Data("x".utf8))
        try await runner.perform(.removeFileUnlessUsed(path: unused, domainUUID: "7f1c0000-0000-4000-8000-0000000009ff", uri: uri))
        #expect(!FileManager.default.fileExists(atPath: unused))
    }

    @Test func failedOperationRemovesWhatItMadeNewestFirst() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let a = f.dir.path + "/a", moved = f.dir.path + "/moved", original = f.dir.path + "/original"
        _ = f.file("moved")
        let started = try await f.center.start(kind: "test", target: "b") { ctx in
            try ctx.willCreate(file: a)
            _ = FileManager.default.createFile(atPath: a, contents: nil)
            try ctx.willDo(.moveBack(from: moved, to: original))
            throw DiskImage.Failure(description: "disk full")
        }
        let done = try #require(try await f.center.wait(id: started.id, seconds: 10))
        #expect(done.state == .failed)
        #expect(done.error?.contains("disk full") == true && done.error?.contains("rolled back") == true, "\(done.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: a))
        #expect(FileManager.default.fileExists(atPath: original) && !FileManager.default.fileExists(atPath: moved))
    }

    @Test func cancelStopsTheBodyAndRollsBack() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let path = f.dir.path + "/partial"
        let started = try await f.center.start(kind: "test", target: "c") { ctx in
            try ctx.willCreate(file: path)
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            while true {
                try ctx.checkCancelled()
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(try await f.center.wait(id: started.id, seconds: 0.2)?.state == .running)
        _ = try await f.center.cancel(id: started.id)
        let done = try #require(try await f.center.wait(id: started.id, seconds: 10))
        #expect(done.state == .cancelled)
        #expect(!FileManager.default.fileExists(atPath: path))
        // A second cancel says why it cannot.
        await #expect(throws: APIError.self) { try await f.center.cancel(id: started.id) }
    }

    @Test func operationsLeftRunningByAKilledDaemonAreRolledBackAtStart() async throws {
        let f = try Fixture()
        defer { f.dir.remove() }
        let orphan = f.file("orphan.qcow2")
        // What a vigild killed mid-copy leaves in its journal.
        let info = OperationInfo(id: "dead1", kind: "clone", target: "a -> b", state: .running, progress: 0.4, started: 1)
        try f.store.saveOperation(OperationRecord(info, undo: [.removeFile(path: orphan),
                                                               .killProcess(pid: 999_999, marker: orphan)]))
        await f.center.recover()
        let after = try #require(try f.store.operation(id: "dead1")?.info)
        #expect(after.state == .rolledBack)
        #expect(after.error?.contains("vigild stopped") == true)
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(try await f.center.list().map(\.id) == ["dead1"])
    }

    @Test func qemuImgProgressIsParsedAcrossChunks() {
        var p = DiskImage.ProgressParser()
        #expect(p.feed("    (0.00/100%)\r") == 0)
        #expect(p.feed("    (12.5") == nil)
        #expect(p.feed("0/100%)\r") == 0.125)
        #expect(p.feed("garbage") == nil)
    }
}

/// Clone definitions: what must change for two VMs to coexist.
@Suite struct DomainDefinitionTests {
    static let source = """
    <domain type='qemu'>
      <name>web1</name>
      <uuid>11111111-2222-3333-4444-555555555555</uuid>
      <os><type arch='x86_64'>hvm</type><cmdline>console=ttyS0 vigil.hostname=web1</cmdline></os>
      <devices>
        <disk type='file' device='disk'>
          <driver name='qemu' type='raw'/>
          <source file='/srv/web1.img'/>
          <backingStore/>
          <target dev='vda' bus='virtio'/>
        </disk>
        <disk type='file' device='cdrom'>
          <source file='/srv/debian.iso'/>
          <target dev='sda' bus='sata'/>
          <readonly/>
        </disk>
        <disk type='block' device='disk'>
          <source dev='/dev/vg0/data'/>
          <target dev='vdb' bus='virtio'/>
        </disk>
        <interface type='network'><mac address='52:54:00:01:02:03'/><source network='default'/><model type='virtio'/></interface>
        <serial type='file'><source path='/var/log/vms/web1-console.log'/><target port='0'/></serial>
        <serial type='unix'><source mode='bind' path='/run/vms/ctl.sock'/><target port='1'/></serial>
        <channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-1-web1/org.vigil.agent.0'/>
          <target type='virtio' name='org.vigil.agent.0'/></channel>
      </devices>
    </domain>
    """

    @Test func readsDisks() throws {
        let d = try DomainDefinition(xml: Self.source)
        #expect(d.name == "web1")
        #expect(d.disks.map(\.target) == ["vda", "sda", "vdb"])
        #expect(d.disks[0].path == "/srv/web1.img" && d.disks[0].format == "raw" && d.disks[0].bus == "virtio")
        #expect(d.disks[1].readOnly && d.disks[1].device == "cdrom")
        #expect(d.disks[2].path == nil)
        #expect(d.nonFileDisks == ["vdb"])
    }

    @Test func copyGetsNewIdentityDisksAndHostPaths() throws {
        var d = try DomainDefinition(xml: Self.source)
        d.makeCopy(name: "web2", uuid: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", disks: ["vda": "/srv/web2-vda.qcow2"])
        let copy = try DomainDefinition(xml: d.xml)
        #expect(copy.name == "web2")
        let xml = d.xml
        #expect(xml.contains("<uuid>aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee</uuid>") && !xml.contains("11111111-"))
        #expect(!xml.contains("52:54:00:01:02:03") && xml.contains("network=\"default\""), "\(xml)")
        #expect(!xml.contains("<mac"))
        #expect(copy.disks[0].path == "/srv/web2-vda.qcow2" && copy.disks[0].format == "qcow2")
        #expect(!xml.contains("backingStore"))
        #expect(copy.disks[1].path == "/srv/debian.iso", "the CD-ROM stays shared")
        #expect(xml.contains("/var/log/vms/web2-console.log"))
        #expect(xml.contains("/run/vms/web2-ctl.sock"))
        #expect(!xml.contains("domain-1-web1"), "libvirt picks the agent socket path")
        #expect(xml.contains("vigil.hostname=web2"))
    }

    @Test func rejectsWhatIsNotADomain() {
        #expect(throws: DomainDefinition.Invalid.self) { try DomainDefinition(xml: "<network/>") }
        #expect(throws: DomainDefinition.Invalid.self) { try DomainDefinition(xml: "no xml at all") }
    }
}
