import Foundation
import Hummingbird

extension Parameters {
    /// A path parameter, percent-decoded: Hummingbird hands path segments
    /// over as sent, and the CLI escapes every name (VMs defined outside
    /// Vigil may have spaces, '/' or '#' in their names).
    func decoded(_ key: String) throws -> String {
        let raw = try require(key)
        guard let value = raw.removingPercentEncoding else {
            throw APIError.badRequest("the \(key) '\(raw)' in the path is not validly percent-escaped",
                                      hint: "escape reserved bytes as %XX (the vigil CLI does this for you)")
        }
        return value
    }
}
