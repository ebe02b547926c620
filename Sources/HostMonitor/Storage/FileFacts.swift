import Foundation

/// Plain questions about host paths that API checks and progress reports ask.
enum FileFacts {
    /// An absolute path to an existing directory.
    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return path.hasPrefix("/") && FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// `name` in directory `dir` (with or without a trailing '/').
    static func path(_ name: String, in dir: String) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(name).path
    }

    /// The file's size in bytes (0 when it cannot be read).
    static func size(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
    }
}
