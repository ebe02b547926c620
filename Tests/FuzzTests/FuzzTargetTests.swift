import Foundation
import Synchronization
import Testing
import TestSupport

/// The fuzz targets (fuzz/targets), so none can silently stop building or
/// start crashing. Names as in fuzz/targets; binaries as SwiftPM builds them.
enum FuzzTargets {
    static let root = BuiltProducts.repositoryRoot

    static let names: [String] = {
        let text = (try? String(contentsOfFile: root + "/fuzz/targets", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }()

    /// The target's corpus and, when it has any, its regression inputs (crashes once found, now fixed).
    static func inputs(_ target: String) -> [String] {
        [root + "/fuzz/corpus/" + target, root + "/fuzz/regressions/" + target]
            .filter { FileManager.default.fileExists(atPath: $0) }
    }
}

/// Every corpus and regression input through the plain build of its target
/// (no sanitizer; built by `swift build --build-tests` with everything else): fast.
@Suite struct FuzzRegressionTests {
    @Test func everyTargetIsListed() {
        #expect(FuzzTargets.names.count == 9, "fuzz/targets: \(FuzzTargets.names)")
    }

    /// A route that decodes a new body type must bring it under FuzzRequestBody.
    @Test func everyRequestBodyTypeIsFuzzed() throws {
        let fuzzed = try String(contentsOfFile: FuzzTargets.root + "/Sources/FuzzRequestBody/FuzzRequestBody.swift", encoding: .utf8)
        let sources = FuzzTargets.root + "/Sources/HostMonitor"
        let files = try #require(FileManager.default.subpathsOfDirectory(atPath: sources).filter { $0.hasSuffix(".swift") }, "no sources")
        let pattern = try Regex(#"RequestBody\.decode(?:Optional)?\((\w+)\.self"#)
        var decoded: Set<String> = []
        for file in files {
            let text = try String(contentsOfFile: sources + "/" + file, encoding: .utf8)
            for match in text.matches(of: pattern) { if let name = match.output[1].substring { decoded.insert(String(name)) } }
        }
        #expect(decoded.count >= 30, "found only \(decoded.sorted())")
        for type in decoded.sorted() {
            #expect(fuzzed.contains("roundTrip(\(type).self"), "\(type) is decoded from request bodies but not fuzzed: add it to FuzzRequestBody.bodies")
        }
    }

    @Test(arguments: FuzzTargets.names)
    func corpusAndRegressionsReplay(_ target: String) throws {
        let r = try ProcessRunner.run([BuiltProducts.path(target)] + FuzzTargets.inputs(target),
                                      environment: ["SWIFT_BACKTRACE": "enable=no"], timeout: 120)
        #expect(r.status == 0, "\(target): \(r.stdout)\(r.stderr.suffix(2000))")
        #expect(r.stdout.hasPrefix("replayed ") && !r.stdout.hasPrefix("replayed 0 "), "\(target): \(r.stdout)")
    }
}

/// Builds every target for libFuzzer with ASan (fuzz/build, into .build-fuzz:
/// this test builds them itself, `swift build --build-tests` does not), then
/// fuzzes each for VIGIL_FUZZ_SECONDS (default 20) from its corpus and
/// regression inputs. A build failure or any crash, hang or sanitizer report fails.
@Suite(.serialized) struct FuzzTargetTests {
    static let seconds = ProcessInfo.processInfo.environment["VIGIL_FUZZ_SECONDS"].flatMap(Int.init) ?? 20

    /// One sanitizer build for all targets, the first time a test needs it: nil, or why it failed.
    static let buildFailure: String? = {
        do {
            let r = try ProcessRunner.run([FuzzTargets.root + "/fuzz/build"], timeout: 1800)
            return r.status == 0 ? nil : "fuzz/build failed:\n\(r.stderr.suffix(4000))"
        } catch {
            return "fuzz/build: \(error)"
        }
    }()

    @Test func everyTargetBuildsWithTheFuzzer() throws {
        try #require(Self.buildFailure == nil, "\(Self.buildFailure ?? "")")
        for target in FuzzTargets.names {
            #expect(FileManager.default.isExecutableFile(atPath: FuzzTargets.root + "/.build-fuzz/release/" + target), "\(target)")
        }
    }

    /// Every target fuzzed for `seconds`, two at a time (each libFuzzer run
    /// is one thread; the machines have two cores), so the suite's fuzzing
    /// costs half the wall time it used to, at the same time per target.
    @Test func everyTargetFuzzesWithoutACrash() throws {
        try #require(Self.buildFailure == nil, "\(Self.buildFailure ?? "")")
        let targets = FuzzTargets.names
        let results = Mutex<[String: Result<CommandResult, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: 2) { lane in
            for target in stride(from: lane, to: targets.count, by: 2).map({ targets[$0] }) {
                let r = Result {
                    try ProcessRunner.run([FuzzTargets.root + "/fuzz/run", target, String(Self.seconds)],
                                          environment: ["FUZZ_NO_BUILD": "1"], timeout: TimeInterval(Self.seconds + 120))
                }
                results.withLock { $0[target] = r }
            }
        }
        for target in targets {
            let r = try #require(try results.withLock { $0[target] }?.get(), "\(target) did not run")
            let report = r.stderr.split(separator: "\n").filter {
                $0.contains("ERROR") || $0.contains("SUMMARY") || $0.contains("Precondition") || $0.contains("Test unit written")
            }.joined(separator: "\n")
            #expect(r.status == 0, "\(target) found something (fuzz/artifacts/\(target)/):\n\(report)\n\(r.stderr.suffix(3000))")
            #expect(r.stderr.contains("stat::number_of_executed_units"), "\(target) did not run: \(r.stderr.suffix(2000))")
        }
    }
}
