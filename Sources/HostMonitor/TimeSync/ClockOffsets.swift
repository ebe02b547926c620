import Synchronization

/// The last clock offset measured per VM (guest − host, seconds), for
/// `/metrics`; a VM whose agent was never asked has none.
final class ClockOffsets: Sendable {
    private let offsets = Mutex<[String: Double]>([:])

    func record(_ uuid: String, seconds: Double) { offsets.withLock { $0[uuid] = seconds } }

    var all: [String: Double] { offsets.withLock { $0 } }
}
