import Foundation
import Synchronization

/// Plays QEMU's side of a guest's agent channel: a listening unix socket
/// that vigild connects to, with the test writing what the "guest" says.
/// Used to drive vigild with hostile or well-behaved guests without a VM.
public final class FakeChannel: @unchecked Sendable {
    public let path: String
    private let listenFD: Int32
    private let client = Mutex<Int32>(-1)
    private let received = Mutex<[UInt8]>([])

    public init(path: String) throws {
        BrokenPipes.ignore()
        self.path = path
        unlink(path)
        listenFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0, listen(listenFD, 4) == 0 else { throw TestbedError("cannot listen on \(path): errno \(errno)") }
        let fd = listenFD
        Thread.detachNewThread { [weak self] in
            while true {
                let c = accept(fd, nil, nil)
                guard c >= 0 else { return }
                guard let self else { close(c); return }
                let old = self.client.withLock { old in defer { old = c }; return old }
                if old >= 0 { close(old) }
                self.readLoop(c)
            }
        }
    }

    deinit {
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        client.withLock { if $0 >= 0 { close($0) } }
        unlink(path)
    }

    private func readLoop(_ fd: Int32) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buf, buf.count)
            guard n > 0 else { return }
            received.withLock { $0 += buf[0..<n] }
        }
    }

    /// Whether vigild is connected.
    public var isConnected: Bool { client.withLock { $0 >= 0 } }

    public func waitForConnection(timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !isConnected {
            guard Date() < deadline else { throw TestbedError("vigild never connected to \(path)") }
            usleep(20_000)
        }
    }

    /// Writes bytes as the guest; false when vigild is not connected or the write failed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        let fd = client.withLock { $0 }
        guard fd >= 0 else { return false }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Everything vigild sent so far, as text.
    public var receivedText: String { received.withLock { String(decoding: $0, as: UTF8.self) } }
}

/// A libvirt test-driver node file (`test:///path/node.xml`) whose running
/// domains have agent channels pointing at FakeChannels.
public enum FakeNode {
    public static func write(to path: String, domains: [(name: String, uuid: String, channel: String?)]) throws {
        var xml = "<node>\n"
        for d in domains {
            xml += """
            <domain type='test'>
              <name>\(d.name)</name><uuid>\(d.uuid)</uuid>
              <memory unit='MiB'>256</memory><vcpu>1</vcpu>
              <os><type arch='x86_64'>hvm</type></os>
              <on_crash>preserve</on_crash>
              <devices>
            """
            if let channel = d.channel {
                xml += "<channel type='unix'><source mode='bind' path='\(channel)'/><target type='virtio' name='org.vigil.agent.0'/></channel>"
            }
            xml += "</devices></domain>\n"
        }
        xml += "</node>\n"
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
