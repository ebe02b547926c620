import Foundation

/// The second heartbeat (vSphere's datastore heartbeat): each host rewrites
/// a small file of its own on every shared storage directory each second.
/// A host whose etcd lease expired but whose file still changes is cut off
/// from the network, not dead: its VMs may still run and write their disks,
/// so nobody may start them elsewhere until it says here that it fenced
/// them. Readers judge a beat by when *they* saw its sequence number move,
/// on their own monotonic clock, never by the writer's clock.
struct StorageHeartbeat: Sendable {
    struct Beat: Codable, Sendable, Equatable {
        var host: String
        var seq: UInt64
        /// The host stopped its HA VMs because it lost its lease (and which).
        var fenced: Bool
        var fencedVMs: [String]
        /// vigild stopped cleanly and left its VMs running: nobody may start them elsewhere.
        var agentStopped = false
        /// The host reached etcd's leader in the last 1.5 s (false for all: etcd has no quorum anyone reaches).
        var reachesLeader = true
    }

    let directories: [String]
    let cluster: String

    func directory(_ shared: String) -> String { shared + "/.vigil-ha/" + cluster }

    /// Writes `beat` on every directory; the directories it could not write.
    @discardableResult
    func write(_ beat: Beat) -> [String] {
        guard let data = try? JSONEncoder.cluster.encode(beat) else { return directories }
        var failed: [String] = []
        for shared in directories {
            let dir = directory(shared)
            let path = dir + "/" + beat.host
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                // A whole file or the old one, never half of one: written beside it, then renamed.
                try data.write(to: URL(fileURLWithPath: path + ".new"))
                if rename(path + ".new", path) != 0 { throw POSIXError(.EIO) }
            } catch {
                failed.append(shared)
            }
        }
        return failed
    }

    /// Seconds since each host's file last changed, by its modification time
    /// (for display only: decisions use `StorageBeatWatch`).
    func ages() -> [String: Double] {
        var ages: [String: Double] = [:]
        for shared in directories {
            let dir = directory(shared)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasSuffix(".new") {
                guard let m = (try? FileManager.default.attributesOfItem(atPath: dir + "/" + name))?[.modificationDate] as? Date else { continue }
                let age = max(0, Date().timeIntervalSince(m))
                ages[name] = min(ages[name] ?? age, age)
            }
        }
        return ages
    }

    /// Every host's latest beat, from whichever directory holds the newest.
    func readAll() -> [String: Beat] {
        var beats: [String: Beat] = [:]
        for shared in directories {
            let dir = directory(shared)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasSuffix(".new") {
                guard let data = FileManager.default.contents(atPath: dir + "/" + name),
                      let beat = try? JSONDecoder.cluster.decode(Beat.self, from: data), beat.host == name else { continue }
                if (beats[name]?.seq ?? 0) <= beat.seq { beats[name] = beat }
            }
        }
        return beats
    }
}

/// When each host's storage heartbeat last moved, on this reader's clock.
struct StorageBeatWatch: Sendable {
    private(set) var seen: [String: (seq: UInt64, at: ContinuousClock.Instant, beat: StorageHeartbeat.Beat)] = [:]

    mutating func observe(_ beats: [String: StorageHeartbeat.Beat], now: ContinuousClock.Instant) {
        for (host, beat) in beats {
            if let old = seen[host], old.seq == beat.seq { continue }
            seen[host] = (beat.seq, now, beat)
        }
    }

    /// When `host`'s beat last moved (nil: never seen, which counts as stopped).
    func lastMoved(_ host: String) -> ContinuousClock.Instant? { seen[host]?.at }
    func beat(_ host: String) -> StorageHeartbeat.Beat? { seen[host]?.beat }
}
