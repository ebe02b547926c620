import Foundation
import Testing
import TestSupport

/// The short form of `bench/chaos` (issue 13): three random injections (host
/// kill, freeze, partition, storage-heartbeat cut or manager kill, no kind
/// twice) over three `testbed/cluster` hosts with the rig's etcd and two HA
/// guests, with this build's vigild. After each, every HA VM must run on
/// exactly one host with its agent heartbeating, one boot id per VM, and a
/// storage cut alone must move nothing.
@Suite(.serialized, .enabled(if: Testbed.enabled, Testbed.skipReason))
struct ClusterChaosTests {
    @Test func threeRandomInjectionsNeverRunAVMTwiceNorLoseOne() throws {
        let bindir = URL(fileURLWithPath: BuiltProducts.path("vigild")).deletingLastPathComponent().path
        let r = try ProcessRunner.run([BuiltProducts.repositoryRoot + "/bench/chaos", "--injections", "3", "--guests", "2",
                                       "--bindir", bindir], timeout: 1500)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        struct Result: Decodable {
            let injections: Int
            let double_runs: Int
            let lost_vms: Int
            let moved_by_storage_cut: Int
        }
        let result = try #require(try? JSONDecoder().decode(Result.self, from: Data(last.utf8)),
                                  "bench/chaos failed (\(r.status)):\n\(r.stdout.suffix(3000))\n\(r.stderr.suffix(3000))")
        print(r.stdout)
        #expect(result.injections == 3)
        #expect(result.double_runs == 0, "\(r.stdout)")
        #expect(result.lost_vms == 0, "\(r.stdout)")
        #expect(result.moved_by_storage_cut == 0, "\(r.stdout)")
    }
}
