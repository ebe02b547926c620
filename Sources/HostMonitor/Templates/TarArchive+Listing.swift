/// Reading GNU tar's verbose listing of an archive that came from outside,
/// and the checks made on its members before anything is extracted. Pure, so
/// the fuzz target FuzzTarListing compiles this file on its own.
extension TarArchive {
    struct Member: Sendable, Equatable {
        var name: String
        var isDirectory: Bool
        var size: Int64
    }

    /// The members in `tar --list --verbose --numeric-owner --quoting-style=escape` output.
    static func members(listing out: String) throws -> [Member] {
        try out.split(separator: "\n").map { line in
            // "-rw-r--r-- 0/0 1048576 2026-11-25 21:30 dir/name"
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, let size = Int64(fields[2]), let kind = fields[0].first else {
                throw DiskImage.Failure(description: "unexpected tar listing line '\\(line)'")
            }
            guard kind == "-" || kind == "d" else {
                throw DiskImage.Failure(description: "the archive holds '\\(fields[5])', which is not a plain file or directory")
            }
            return Member(name: String(fields[5]), isDirectory: kind == "d", size: size)
        }
    }

    /// Refuses names that could land outside the extraction directory.
    static func check(_ members: [Member], allowDirectories: Bool) throws {
        for m in members {
            let parts = m.name.split(separator: "/", omittingEmptySubsequences: false)
            if m.name.hasPrefix("/") || parts.contains("..") || m.name.contains("\\") || (m.isDirectory && !allowDirectories) {
                throw DiskImage.Failure(description: "the archive member '\\(m.name)' is not allowed (absolute, '..', or a directory)")
            }
        }
    }
}
