/// The commands that change the machine (freeze, thaw, clock), behind
/// closures so tests can exercise the protocol around them without
/// freezing or re-timing the test host.
struct QGASystem: Sendable {
    /// Freezes the given mountpoints (all freezable ones when nil); returns how many.
    var freeze: @Sendable (_ mountpoints: [String]?) throws(QGAError) -> Int
    /// Thaws every frozen filesystem; returns how many.
    var thaw: @Sendable () throws(QGAError) -> Int
    /// Sets the clock to the given ns since the epoch, or from the RTC when nil.
    var setTime: @Sendable (_ nanoseconds: Int64?) throws(QGAError) -> Void

    static let live = QGASystem(
        freeze: { mountpoints throws(QGAError) in try GuestFreeze.freeze(mountpoints: mountpoints) },
        thaw: { GuestFreeze.thaw() },
        setTime: { nanoseconds throws(QGAError) in try GuestTime.set(nanoseconds: nanoseconds) }
    )
}
