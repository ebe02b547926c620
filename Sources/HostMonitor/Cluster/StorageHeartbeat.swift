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

    /// One host's newest beat, and how old its file is by its modification
    /// time (for display only: decisions use `StorageBeatWatch`).
    struct Entry: Sendable {
        var beat: Beat
        var ageSeconds: Double?
    }

    /// Every host's latest beat, from whichever directory holds the newest.
    func scan() -> [String: Entry] {
        var entries: [String: Entry] = [:]
        let now = Date()
        for shared in directories {
            let dir = directory(shared)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasSuffix(".new") {
                let path = dir + "/" + name
                guard let data = FileManager.default.contents(atPath: path),
                      let beat = try? JSONDecoder.cluster.decode(Beat.self, from: data), beat.host == name else { continue }
                let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
                let age = modified.map { max(0, now.timeIntervalSince($0)) }
                if (entries[name]?.beat.seq ?? 0) <= beat.seq { entries[name] = Entry(beat: beat, ageSeconds: age) }
            }
        }
        return entries
    }

    func readAll() -> [String: Beat] { scan().mapValues(\.beat) }
}

/// When each host's storage heartbeat last moved, on this reader's clock.
struct StorageBeatWatch: Sendable {
    private(set) var seen: [String: (seq: UInt64, at: ContinuousClock.Instant, beat: StorageHeartbeat.Beat)] = [:]
    /// When each host's beat was last seen saying it reaches etcd's leader (a running vigild's).
    private(set) var lastReaching: [String: ContinuousClock.Instant] = [:]

    mutating func observe(_ beats: [String: StorageHeartbeat.Beat], now: ContinuousClock.Instant) {
        for (host, beat) in beats {
            if let old = seen[host], old.seq == beat.seq { continue }
            seen[host] = (beat.seq, now, beat)
            if beat.reachesLeader && !beat.agentStopped { lastReaching[host] = now }
        }
    }

    /// When `host`'s beat last moved (nil: never seen, which counts as stopped).
    func lastMoved(_ host: String) -> ContinuousClock.Instant? { seen[host]?.at }
    func beat(_ host: String) -> StorageHeartbeat.Beat? { seen[host]?.beat }
}
