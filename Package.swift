// swift-tools-version:6.1
import PackageDescription

// Strict Swift 6 everywhere; the guest agent stays Foundation-free for size.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "vigil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vigil-agent", targets: ["GuestAgent"]),
        .executable(name: "vigil-agent-verify", targets: ["AgentVerify"]),
        .executable(name: "vigild", targets: ["vigild"]),
        .executable(name: "vigil", targets: ["VigilCLI"]),
        .library(name: "HostMonitor", targets: ["HostMonitor"]),
        .library(name: "Libvirt", targets: ["Libvirt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.10.0", traits: []),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.0"),
        // Ops (issue 17): the config file, /metrics, TLS for the remote API.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // Cluster HA (issue 13): etcd's JSON gateway.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // C libraries through pkg-config.
        .systemLibrary(name: "CLibvirt", pkgConfig: "libvirt", providers: [.apt(["libvirt-dev"])]),

        // Swift wrappers over the C libraries.
        .target(name: "Libvirt", dependencies: ["CLibvirt"], swiftSettings: strict),

        // The agent channel's messages and a JSON coder for them: no Foundation, no
        // swift-crypto (linking either costs the resident agent ~2 MiB RSS).
        .target(name: "AgentWire", swiftSettings: strict),
        // Shared models, policies, vigild's codec, package signing: no libvirt. Re-exports AgentWire.
        .target(name: "Core", dependencies: ["AgentWire", .product(name: "Crypto", package: "swift-crypto")], swiftSettings: strict),

        .target(name: "CGuestSys"),
        .executableTarget(name: "GuestAgent", dependencies: ["AgentWire", "CGuestSys"], swiftSettings: strict),
        // Checks a received agent package (SHA-256, Ed25519) in a short-lived process,
        // so crypto and Foundation never load into the resident agent.
        .executableTarget(name: "AgentVerify", dependencies: ["Core"], swiftSettings: strict),
        // Fuzz targets, one per parser of outside input (fuzz/README.md). A plain build
        // replays inputs; fuzz/build builds them for libFuzzer with ASan (-D FUZZING).
        // Those over vigild's or the agent's parsers compile the parser's own file
        // (a symlink) with a one-line stand-in for what it throws, so a fuzz build
        // needs neither Hummingbird, NIO nor GRDB.
        .target(name: "FuzzSupport", swiftSettings: strict),
        .executableTarget(name: "FuzzAgentChannel", dependencies: ["AgentWire", "FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzCodecAgreement", dependencies: ["AgentWire", "FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzAgentPackage", dependencies: ["AgentWire", "FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzRequestBody", dependencies: ["AgentWire", "FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzQGA", dependencies: ["AgentWire", "FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzQCOW2", dependencies: ["FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzOVF", dependencies: ["FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzTarListing", dependencies: ["FuzzSupport"], swiftSettings: strict),
        .executableTarget(name: "FuzzDomainXML", dependencies: ["FuzzSupport"], swiftSettings: strict),

        .target(
            name: "HostMonitor",
            dependencies: [
                "Core", "Libvirt",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vigild",
            dependencies: [
                "HostMonitor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "VigilCLI",
            dependencies: [
                "Core",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),

        // Helpers shared by the test targets: built products, processes, temp dirs.
        .target(name: "TestSupport", dependencies: ["Libvirt", "Core"], path: "Tests/TestSupport"),
        .testTarget(name: "CoreTests", dependencies: ["Core", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "GuestAgentTests", dependencies: ["GuestAgent", "AgentWire"]),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt"]),
        .testTarget(name: "HostMonitorTests", dependencies: ["HostMonitor", "Core", "Libvirt", "TestSupport",
                                                          .product(name: "Yams", package: "Yams"),
                                                          .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "FuzzTests", dependencies: ["TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["HostMonitor", "Core", "Libvirt", "TestSupport"]),
    ]
)
