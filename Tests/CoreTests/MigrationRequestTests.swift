import Core
import Testing

/// The option checks `vigil vm migrate` and the API share: every problem at
/// once, before anything is asked of libvirt.
@Suite struct MigrationRequestTests {
    let to = "qemu+tcp://cvk2/system"

    @Test func sensibleOptionsPass() {
        #expect(MigrationRequest(destination: to).problems.isEmpty)
        #expect(MigrationRequest(destination: to, timeoutSeconds: 60, compress: "xbzrle", bandwidthMiBs: 100,
                                 autoConverge: true, maxDowntimeMs: 500, postcopy: true).problems.isEmpty)
        #expect(MigrationRequest(destination: to, compress: "mt", compressLevel: 3, compressThreads: 4).problems.isEmpty)
        #expect(MigrationRequest(destination: to, live: false, storageDirectory: "/srv/vm", keepOld: true).problems.isEmpty)
    }

    @Test func everyBadOptionIsNamedAtOnce() {
        let p = MigrationRequest(destination: to, timeoutSeconds: 0, compress: "zlib", compressLevel: 12,
                                 bandwidthMiBs: 0, maxDowntimeMs: 0).problems
        #expect(p.contains { $0.contains("timeout must be 1 to 86400") })
        #expect(p.contains { $0.contains("xbzrle or mt") })
        #expect(p.contains { $0.contains("level and threads are for --compress mt") })
        #expect(p.contains { $0.contains("bandwidth must be") })
        #expect(p.contains { $0.contains("maximum downtime must be") })
    }

    @Test func combinationsQEMUOrTheMoveCannotDo() {
        #expect(MigrationRequest(destination: to, live: false, postcopy: true).problems
            .contains { $0.contains("for live migrations") })
        #expect(MigrationRequest(destination: to, compress: "mt", postcopy: true).problems
            .contains { $0.contains("post-copy cannot be combined with mt compression") })
        #expect(MigrationRequest(destination: to, compress: "xbzrle", postcopy: true).problems.isEmpty)
        #expect(MigrationRequest(destination: to, postcopy: true, storageDirectory: "/srv/vm").problems
            .contains { $0.contains("storage move") })
        #expect(MigrationRequest(destination: to, storageDirectory: "/a", storagePool: "p").problems
            .contains { $0.contains("not both") })
        #expect(MigrationRequest(destination: to, storageDirectory: "rel").problems.contains { $0.contains("absolute path") })
        #expect(MigrationRequest(destination: to, keepOld: true).problems.contains { $0.contains("--keep-old") })
    }

    @Test func summaryListsTheOptionsForTheHistory() {
        let s = MigrationRequest(destination: to, timeoutSeconds: 30, compress: "mt", compressLevel: 2,
                                 autoConverge: true, postcopy: false).summary
        #expect(s == "timeout 30 s, compress mt level 2, auto-converge")
    }
}
