import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// etcd v3 through its JSON gateway (`/v3/kv/…`, `/v3/lease/…`), which every
/// member serves beside gRPC, with AsyncHTTPClient. Why the gateway rather
/// than grpc-swift: every call vigild makes is a short unary POST (no watch
/// streams: the manager re-reads its small key space each second), and a
/// gRPC stack with generated protos would add minutes to every fresh build
/// (docs/ARCHITECTURE.md). Not Foundation's URLSession: on Linux it crashed
/// vigild (a trap in `_NativeProtocol.transferCompleted`) while etcd members
/// came back.
///
/// Each call has a short timeout and moves on to the next member when one
/// does not answer, so a dead member costs one timeout, never a stall.
final class EtcdClient: Sendable {
    let endpoints: [URL]
    /// One call's timeout on one member (Patroni's "retry" in loop + 2 × retry ≤ TTL).
    let timeout: TimeInterval
    private let http: HTTPClient
    /// The member that answered last: tried first, so a dead member costs one timeout once, not on every call.
    private let preferred = Mutex(0)

    init(endpoints: [String], timeout: TimeInterval = 1.0) throws {
        let urls = try endpoints.map { text -> URL in
            guard let url = URL(string: text), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw EtcdError.badEndpoint(text)
            }
            return url
        }
        guard !urls.isEmpty else { throw EtcdError.badEndpoint("(none)") }
        self.endpoints = urls
        self.timeout = timeout
        // The process-wide client (never shut down; each call's deadline bounds it).
        http = HTTPClient.shared
    }

    struct KeyValue: Sendable, Equatable {
        var key: String
        var value: Data
        var createRevision: Int64
        var modRevision: Int64
        var lease: Int64
    }

    /// A condition of a transaction: the fencing tokens.
    enum Compare: Sendable {
        case modRevision(String, equals: Int64)
        /// The key does not exist.
        case absent(String)
        /// The key exists (for a key bound to a lease: the lease holds).
        case present(String)
        case value(String, equals: Data)
    }

    enum Operation: Sendable {
        case put(String, Data, lease: Int64 = 0)
        case delete(String)
    }

    // MARK: keys

    func get(_ key: String) async throws -> KeyValue? {
        try await range(["key": Self.b64(key)]).first
    }

    /// Every key under `prefix`, with the revision the read saw.
    func list(prefix: String) async throws -> [KeyValue] {
        try await range(["key": Self.b64(prefix), "range_end": Self.b64(Self.prefixEnd(prefix))])
    }

    func put(_ key: String, _ value: Data, lease: Int64 = 0) async throws {
        var body: [String: Any] = ["key": Self.b64(key), "value": value.base64EncodedString()]
        if lease != 0 { body["lease"] = String(lease) }
        _ = try await call("/v3/kv/put", body)
    }

    func delete(_ key: String) async throws {
        _ = try await call("/v3/kv/deleterange", ["key": Self.b64(key)])
    }

    func delete(prefix: String) async throws {
        _ = try await call("/v3/kv/deleterange", ["key": Self.b64(prefix), "range_end": Self.b64(Self.prefixEnd(prefix))])
    }

    /// Applies `then` only if every comparison holds; whether it did.
    @discardableResult
    func transaction(_ compare: [Compare], then operations: [Operation]) async throws -> Bool {
        let reply = try await call("/v3/kv/txn", [
            "compare": compare.map(Self.json),
            "success": operations.map(Self.json),
        ])
        return reply["succeeded"] as? Bool ?? false
    }

    // MARK: leases

    /// A new lease; its id.
    func grantLease(ttlSeconds: Int) async throws -> Int64 {
        let reply = try await call("/v3/lease/grant", ["TTL": String(ttlSeconds)])
        guard let id = Self.int(reply["ID"]), id != 0 else { throw EtcdError.protocolError("lease grant without an ID: \(reply)") }
        return id
    }

    /// Renews `lease`; the TTL it now has, 0 when etcd no longer knows it (expired).
    func keepAlive(_ lease: Int64) async throws -> Int64 {
        let reply = try await call("/v3/lease/keepalive", ["ID": String(lease)])
        let result = reply["result"] as? [String: Any] ?? reply
        return Self.int(result["TTL"]) ?? 0
    }

    func revoke(_ lease: Int64) async throws {
        _ = try await call("/v3/lease/revoke", ["ID": String(lease)])
    }

    // MARK: quorum

    /// Whether a majority of the members answer and none of them knows a
    /// leader: then the cluster has no quorum anywhere (a leader needs the
    /// votes of a majority, and this majority would know it), so no lease
    /// can expire and no key can change. A minority without a leader proves
    /// nothing: the others may have one.
    func quorumLostEverywhere() async -> Bool {
        let answers = await withTaskGroup(of: Int64?.self) { group in
            for url in endpoints {
                group.addTask { try? await self.leader(at: url) }
            }
            var all: [Int64?] = []
            for await a in group { all.append(a) }
            return all
        }
        let leaderless = answers.filter { $0 == 0 }.count
        return leaderless * 2 > endpoints.count && !answers.contains { ($0 ?? 0) != 0 }
    }

    /// The leader member one endpoint knows (0: none).
    private func leader(at url: URL) async throws -> Int64 {
        let reply = try await post(url, "/v3/maintenance/status", [:])
        return Self.int(reply["leader"]) ?? 0
    }

    // MARK: the wire

    private func range(_ body: [String: Any]) async throws -> [KeyValue] {
        let reply = try await call("/v3/kv/range", body)
        let kvs = reply["kvs"] as? [[String: Any]] ?? []
        return kvs.compactMap { kv in
            guard let k = (kv["key"] as? String).flatMap({ Data(base64Encoded: $0) }).flatMap({ String(data: $0, encoding: .utf8) }) else { return nil }
            return KeyValue(key: k, value: (kv["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data(),
                            createRevision: Self.int(kv["create_revision"]) ?? 0, modRevision: Self.int(kv["mod_revision"]) ?? 0,
                            lease: Self.int(kv["lease"]) ?? 0)
        }
    }

    /// `path` on the first member that answers.
    private func call(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var last: any Error = EtcdError.unreachable([])
        var tried: [String] = []
        let first = preferred.withLock { $0 }
        for k in 0..<endpoints.count {
            let index = (first + k) % endpoints.count, url = endpoints[index]
            do {
                let reply = try await post(url, path, body)
                if k != 0 { preferred.withLock { $0 = index } }
                return reply
            } catch let e as EtcdError where e.isFromEtcd {
                throw e
            } catch {
                last = error
                tried.append(url.absoluteString)
            }
        }
        if case EtcdError.unreachable = last { throw EtcdError.unreachable(tried) }
        throw EtcdError.unreachable(tried + ["(\(last.localizedDescription))"])
    }

    private func post(_ base: URL, _ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: base.absoluteString.trimmingCharacters(in: ["/"]) + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeout * 1000))
        let response = try await http.execute(request, deadline: deadline)
        let buffer = try await response.body.collect(upTo: 4 << 20)
        let data = Data(buffer.readableBytesView)
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let status = Int(response.status.code)
        guard status == 200 else {
            let message = object["error"] as? String ?? object["message"] as? String ?? String(decoding: data.prefix(200), as: UTF8.self)
            // No leader (quorum lost) or a timed-out proposal: another member may do better.
            if message.contains("no leader") || message.contains("timed out") || status >= 502 {
                throw EtcdError.memberUnavailable(base.absoluteString, message)
            }
            throw EtcdError.refused(status, message)
        }
        return object
    }

    // MARK: JSON shapes

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    /// The first key after every key that starts with `prefix`.
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF { bytes[bytes.count - 1] = last + 1; return String(decoding: bytes, as: UTF8.self) }
            bytes.removeLast()
        }
        return "\0"
    }

    static func int(_ any: Any?) -> Int64? {
        if let s = any as? String { return Int64(s) }
        if let n = any as? NSNumber { return n.int64Value }
        return nil
    }

    private static func json(_ c: Compare) -> [String: Any] {
        switch c {
        case .modRevision(let k, let rev): ["key": b64(k), "target": "MOD", "result": "EQUAL", "mod_revision": String(rev)]
        case .absent(let k): ["key": b64(k), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]
        case .present(let k): ["key": b64(k), "target": "CREATE", "result": "GREATER", "create_revision": "0"]
        case .value(let k, let v): ["key": b64(k), "target": "VALUE", "result": "EQUAL", "value": v.base64EncodedString()]
        }
    }

    private static func json(_ o: Operation) -> [String: Any] {
        switch o {
        case .put(let k, let v, let lease):
            var p: [String: Any] = ["key": b64(k), "value": v.base64EncodedString()]
            if lease != 0 { p["lease"] = String(lease) }
            return ["request_put": p]
        case .delete(let k): return ["request_delete_range": ["key": b64(k)]]
        }
    }
}

enum EtcdError: Error, CustomStringConvertible {
    case badEndpoint(String)
    case unreachable([String])
    case memberUnavailable(String, String)
    case refused(Int, String)
    case protocolError(String)

    /// etcd itself answered no: asking another member gives the same answer.
    var isFromEtcd: Bool {
        if case .refused = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .badEndpoint(let e): "'\(e)' is not an etcd client URL (http://HOST:2379)"
        case .unreachable(let tried): "no etcd member answered (tried \(tried.joined(separator: ", ")))"
        case .memberUnavailable(let m, let why): "etcd member \(m) cannot serve: \(why)"
        case .refused(let status, let why): "etcd refused the request (HTTP \(status)): \(why)"
        case .protocolError(let why): "unexpected answer from etcd: \(why)"
        }
    }
}
