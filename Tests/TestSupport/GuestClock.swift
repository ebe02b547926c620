import Foundation
import Libvirt

/// Sets a test guest's clock through qemu-guest-agent (guests made with
/// `--qga`), with nanosecond precision: `virsh qemu-agent-command
/// guest-set-time`. Used to put a guest clock off before Vigil syncs it.
public enum GuestClock {
    public static func set(_ guest: TestGuest, uri: String, offBy seconds: Double) throws {
        // qemu-ga may still be starting: retry for a while.
        var last = ""
        for _ in 0..<60 {
            let target = Int64((Date().timeIntervalSince1970 + seconds) * 1e9)
            let command = #"{"execute":"guest-set-time","arguments":{"time":\#(target)}}"#
            let r = try ProcessRunner.run(["virsh", "-c", uri, "qemu-agent-command", guest.name, command], timeout: 30)
            if r.status == 0 { return }
            last = r.stderr
            usleep(500_000)
        }
        throw TestbedError("guest-set-time through qemu-ga failed: \(last)")
    }
}
