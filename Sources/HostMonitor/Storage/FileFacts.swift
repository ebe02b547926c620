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

    /// Bytes the file really takes on disk (sparse images take less than their size).
    static func allocated(_ path: String) -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return Int64(st.st_blocks) * 512
    }

    /// Free bytes for unprivileged writers on the filesystem holding `path`; nil when unknown.
    static func freeBytes(_ path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    /// Percent of the filesystem holding `path` that is free; nil when unknown.
    static func freePercent(_ path: String) -> Double? {
        var st = statvfs()
        guard statvfs(path, &st) == 0, st.f_blocks > 0 else { return nil }
        return Double(st.f_bavail) / Double(st.f_blocks) * 100
    }
}
