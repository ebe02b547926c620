import AgentWire
import Glibc

/// guest-get-users: users with a login session in utmp, each once, with
/// their earliest login time (seconds since the epoch, as a float).
enum GuestUsers {
    static func loggedIn() -> JSONValue {
        var earliest: [String: Double] = [:]
        var order: [String] = []
        // getutxent keeps hidden state: the agent is single-threaded.
        setutxent()
        defer { endutxent() }
        while let entry = getutxent() {
            guard Int32(entry.pointee.ut_type) == USER_PROCESS else { continue }
            let user = SysFiles.string(fromCArray: entry.pointee.ut_user)
            guard !user.isEmpty else { continue }
            let time = Double(entry.pointee.ut_tv.tv_sec) + Double(entry.pointee.ut_tv.tv_usec) / 1_000_000
            if let seen = earliest[user] {
                earliest[user] = min(seen, time)
            } else {
                earliest[user] = time
                order.append(user)
            }
        }
        return .array(order.map { ["user": .string($0), "login-time": .double(earliest[$0] ?? 0)] })
    }
}
