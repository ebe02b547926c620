import FuzzSupport

// The qcow2 header reader (HostMonitor/Storage/QCOW2.swift, compiled here
// through the symlink beside this file): images on shared storage are not to
// be trusted, so any bytes must give a header or nil, never a trap. The input
// is the image file; reads past its first 4 KiB come from the input too.
@main
enum FuzzQCOW2 {
    static func main() {
        FuzzMain.run { bytes in check(Array(bytes)) }
    }

    static func check(_ file: [UInt8]) {
        func read(_ offset: Int64, _ count: Int) -> [UInt8] {
            guard offset >= 0, offset < file.count, count > 0 else { return [] }
            let start = Int(offset)
            return Array(file[start..<min(file.count, start + min(count, file.count - start))])
        }
        guard let header = QCOW2.header(Array(file.prefix(4096)), read: read) else { return }
        precondition(header.backingFile.map { $0.utf8.count <= 3 * 1023 } ?? true, "backing name longer than the limit")
        _ = QCOW2.isEmpty(header, read: read)
    }
}

/// Stand-in for what QCOW2.swift throws in vigild (Storage/DiskImage.swift).
enum DiskImage {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }
}
