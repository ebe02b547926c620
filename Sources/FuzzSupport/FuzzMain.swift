#if canImport(Glibc)
import Glibc
#endif

/// The one entry point of every fuzz target. Built by `fuzz/build` (with
/// `-D FUZZING`, ASan and coverage, linked with libFuzzer's no-main runtime)
/// it hands the command line to libFuzzer; built plainly it replays the files
/// given as arguments (directories: every file in them), so a corpus or a
/// crash input can be checked without the sanitizer:
///
///     .build/debug/FuzzQCOW2 fuzz/corpus/FuzzQCOW2 fuzz/regressions/FuzzQCOW2
///
/// A target's `check` must trap (precondition) on anything wrong; returning
/// is a pass.
public enum FuzzMain {
    public static func run(_ check: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
        #if FUZZING
        Self.check = check
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            // Sound: libFuzzer passes `size` readable bytes at `data` for the call's duration.
            FuzzMain.check?(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
        #else
        var inputs = 0
        for path in CommandLine.arguments.dropFirst() {
            for file in files(path) {
                guard let bytes = readAll(file) else {
                    print("cannot read \(file)")
                    exit(2)
                }
                bytes.withUnsafeBytes(check)
                inputs += 1
            }
        }
        print("replayed \(inputs) inputs")
        exit(0)
        #endif
    }

    #if FUZZING
    /// Set once, before libFuzzer starts calling back on this thread.
    nonisolated(unsafe) private static var check: ((UnsafeRawBufferPointer) -> Void)?
    #endif

    /// `path` itself, or the regular files directly in it (sorted).
    static func files(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    public static func readAll(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}

#if FUZZING
/// libFuzzer's entry for programs with their own main (libclang_rt.fuzzer_no_main).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
