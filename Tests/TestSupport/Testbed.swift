import Foundation

/// The real-VM test bed (see testbed/ and docs/TESTBED-RIG.md).
public enum Testbed {
    /// Directory holding the guest image built by `testbed/guest-image`.
    public static var guestImage: String? {
        ProcessInfo.processInfo.environment["VIGIL_GUEST_IMAGE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Set by `testbed/test` (and so by CI): real-VM tests must run, and fail
    /// rather than skip when the test bed is missing.
    public static var required: Bool { ProcessInfo.processInfo.environment["VIGIL_REQUIRE_E2E"] == "1" }

    /// Whether real-VM tests should run.
    public static var enabled: Bool { guestImage != nil || required }

    public static let skipReason: Comment =
        "real-VM tests need VIGIL_GUEST_IMAGE (built by testbed/guest-image) and a running libvirtd; `testbed/test` sets both up"

    public static func script(_ name: String) -> String { BuiltProducts.repositoryRoot + "/testbed/" + name }

    public static func requireImage() throws -> String {
        guard let image = guestImage else { throw TestbedError("VIGIL_GUEST_IMAGE is not set: run the tests through testbed/test") }
        guard FileManager.default.fileExists(atPath: image + "/vmlinuz") else {
            throw TestbedError("no guest image in \(image): run testbed/guest-image \(image)")
        }
        return image
    }

    /// Runs a testbed script and returns its stdout, failing loudly.
    @discardableResult
    public static func run(_ name: String, _ arguments: [String], timeout: TimeInterval = 300) throws -> String {
        let r = try ProcessRunner.run([script(name)] + arguments, timeout: timeout)
        guard r.status == 0 else {
            throw TestbedError("testbed/\(name) \(arguments.joined(separator: " ")) failed (\(r.status)): \(r.stderr)")
        }
        return r.stdout
    }
}

public struct TestbedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import Testing
