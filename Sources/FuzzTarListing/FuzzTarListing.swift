import FuzzSupport

// The archive lister of template and OVA import
// (HostMonitor/Templates/TarArchive+Listing.swift, compiled here through the
// symlink beside this file): GNU tar lists the archive, this reads its
// listing and refuses members that could land outside the extraction
// directory. The input is the listing text, as tar prints it for a hostile
// archive; whatever passes the check must name a place inside the directory.
@main
enum FuzzTarListing {
    static func main() {
        FuzzMain.run { bytes in check(String(decoding: bytes, as: UTF8.self)) }
    }

    static func check(_ listing: String) {
        guard let members = try? TarArchive.members(listing: listing) else { return }
        for allowDirectories in [false, true] {
            guard (try? TarArchive.check(members, allowDirectories: allowDirectories)) != nil else { continue }
            for m in members {
                precondition(allowDirectories || !m.isDirectory, "a directory passed where none are allowed")
                precondition(staysInside(m.name), "member '\(m.name)' passed the check but leaves the directory")
            }
        }
    }

    /// Whether `name`, joined to a directory, stays inside it (no absolute
    /// name, never climbing above the start).
    static func staysInside(_ name: String) -> Bool {
        guard !name.hasPrefix("/") else { return false }
        var depth = 0
        for part in name.split(separator: "/") {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            if depth < 0 { return false }
        }
        return true
    }
}

/// Stand-ins for what the listing code uses of vigild (Templates/TarArchive.swift,
/// Storage/DiskImage.swift).
enum TarArchive {}

enum DiskImage {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}
