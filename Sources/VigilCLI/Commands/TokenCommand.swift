import ArgumentParser
import Core
import FoundationEssentials

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Bearer tokens of vigild's TCP API (--api-address); the unix socket needs none.",
        discussion: "vigild keeps only each token's SHA-256: the secret is printed once, by 'create'.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create", abstract: "Make a token and print it (only this once).",
            discussion: "Save it to a file for 'vigil --url https://HOST:PORT --token-file FILE': vigil token create grafana --role read > grafana.token")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "A name for who uses it (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "read (GET requests only) or admin (everything).") var role: APIRole
        @Option(help: "When it stops working: a duration from now (12h, 30d) or an ISO 8601 time (default: never).")
        var expires: String?

        func validate() throws {
            if let expires, Self.expiry(expires) == nil {
                throw ValidationError("--expires must be a duration like 12h or 30d, or an ISO 8601 time such as 2027-01-31T00:00:00Z, got '\(expires)'")
            }
        }

        static func expiry(_ text: String, now: Date = Date()) -> Date? {
            if let seconds = TextFormat.durationSeconds(text) { return now.addingTimeInterval(seconds) }
            return try? Date(text, strategy: .iso8601)
        }

        func run() async throws {
            let request = TokenCreateRequest(name: name, role: role,
                                             expiresAt: expires.flatMap { Self.expiry($0) }?.timeIntervalSince1970)
            let response = try await global.client.send(method: .POST, path: "/v1/tokens", body: Array(try JSONEncoder().encode(request)))
            if global.json { return print(response.text) }
            let created = try response.decode(TokenCreated.self)
            print(created.token)
            TextFormat.stderrLine("token '\(created.info.name)' (role \(created.info.role.rawValue)"
                                  + (created.info.expiresAt.map { ", expires \(TextFormat.localTime($0))" } ?? "")
                                  + "): keep it secret, it is not shown again")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the tokens (names and roles, never secrets).")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/tokens")
            if global.json { return print(response.text) }
            let list = try response.decode(TokenList.self)
            func date(_ t: Double?, _ none: String) -> String { t.map { TextFormat.localTime($0) } ?? none }
            print(Table.render(header: ["NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED"], rows: list.tokens.map {
                [$0.name, $0.role.rawValue, date($0.createdAt, "?"), date($0.expiresAt, "never"), date($0.lastUsedAt, "never")]
            }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Delete a token: requests with it are refused from now on.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The token's name.") var name: String

        func run() async throws {
            let response = try await global.client.send(method: .DELETE, path: "/v1/tokens/\(name.percentEscaped)", body: nil)
            if global.json { return print(response.text) }
            print("revoked token '\(try response.decode(APITokenInfo.self).name)'")
        }
    }
}

extension APIRole: ExpressibleByArgument {}
