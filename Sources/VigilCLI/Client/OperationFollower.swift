import ArgumentParser
import Core
import FoundationEssentials

/// Follows a long operation until it ends, showing progress on standard
/// error; the final state goes to standard output (JSON with `--json`).
enum OperationFollower {
    static func follow(_ start: APIClient.Response, global: GlobalOptions, wait: Bool) async throws {
        var info = try start.decode(OperationInfo.self)
        guard wait else {
            if global.json { return print(start.text) }
            return print("operation \(info.id) started: \(info.kind) \(info.target); follow it with 'vigil op show \(info.id) --wait'")
        }
        var text = start.text
        var lastLine = ""
        while info.state == .running {
            let r = try await global.client.get("/v1/operations/\(info.id)?wait=1")
            text = r.text
            info = try r.decode(OperationInfo.self)
            let line = "\(info.kind) \(info.target): \(Int(info.progress * 100))% \(info.detail ?? "")"
            if line != lastLine && info.state == .running {
                TextFormat.stderrLine(line)
                lastLine = line
            }
        }
        if global.json {
            print(text)
        } else {
            print(describe(info))
        }
        guard info.state == .succeeded else { throw ExitCode(1) }
    }

    static func describe(_ info: OperationInfo) -> String {
        var lines = ["\(info.kind) \(info.target): \(info.state.rawValue)" + (info.result.map { " (\($0))" } ?? "")]
        if let e = info.error { lines.append("  why: \(e)") }
        for n in info.notes { lines.append("  note: \(n)") }
        return lines.joined(separator: "\n")
    }
}
