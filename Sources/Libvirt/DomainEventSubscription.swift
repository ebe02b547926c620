import CLibvirt
import Synchronization

/// One subscriber's view of a connection's domain events, as an
/// `AsyncSequence`. The stream ends when `cancel()` is called or the
/// connection closes (libvirtd restart): subscribe again after
/// `Connection.reconnect()`.
public final class DomainEventSubscription: Sendable {
    public let events: AsyncStream<DomainEvent>
    private let id: UInt64
    private let connection: Connection

    init(connection: Connection) throws(LibvirtError) {
        let (stream, continuation) = AsyncStream.makeStream(of: DomainEvent.self,
                                                            bufferingPolicy: .bufferingNewest(10_000))
        self.events = stream
        self.connection = connection
        self.id = try connection.eventDispatcher.add(continuation, on: connection)
        let (id, connection) = (self.id, self.connection)
        continuation.onTermination = { _ in connection.eventDispatcher.remove(id, on: connection) }
    }

    deinit { connection.eventDispatcher.remove(id, on: connection) }

    /// Ends the stream; the last subscriber leaving deregisters libvirt's callbacks.
    public func cancel() { connection.eventDispatcher.remove(id, on: connection) }
}

extension Connection {
    /// Event callbacks libvirt still holds for this connection. Zero once
    /// every subscription is cancelled and libvirt has run the free callbacks.
    public var liveEventCallbacks: Int { eventDispatcher.liveCallbacks }

    /// Subscribes to all domain events on this connection.
    public func subscribeDomainEvents() throws(LibvirtError) -> DomainEventSubscription {
        try DomainEventSubscription(connection: self)
    }
}
