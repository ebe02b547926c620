import Foundation
import Libvirt
import Synchronization

/// Collects a subscription's events in the background so tests can wait for
/// one without consuming (and so ending) the stream themselves.
public final class EventRecorder: Sendable {
    private final class Log: Sendable { let entries = Mutex<[(Date, DomainEvent)]>([]) }
    private let log = Log()
    private let task: Task<Void, Never>
    public let subscription: DomainEventSubscription

    public init(_ subscription: DomainEventSubscription) {
        self.subscription = subscription
        let log = self.log
        task = Task {
            for await event in subscription.events {
                log.entries.withLock { $0.append((Date(), event)) }
            }
        }
    }

    deinit {
        subscription.cancel()
        task.cancel()
    }

    public var all: [DomainEvent] { log.entries.withLock { $0.map(\.1) } }

    /// The first recorded event matching `predicate`, waiting up to `timeout`.
    public func wait(timeout: Duration = .seconds(30), for predicate: (DomainEvent) -> Bool) async -> (Date, DomainEvent)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let hit = log.entries.withLock({ $0.first { predicate($0.1) } }) { return hit }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    public static func lifecycle(_ name: String, _ kind: LifecycleEvent.Kind) -> (DomainEvent) -> Bool {
        { event in
            guard event.domainName == name, case .lifecycle(let l) = event.kind else { return false }
            return l.kind == kind
        }
    }
}
