import ArgumentParser
import Core
import FoundationEssentials

struct BackupPolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Scheduled backups and verifies: set, list, delete policies.",
        subcommands: [Set.self, List.self, Delete.self])

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Create or replace a backup policy.",
            discussion: """
                Each run backs up every VM of the policy at --level (auto: incremental, or a full when \
                the chain needs one); a run due by --full-schedule is a full instead. --keep applies \
                retention after each backup; --verify-schedule recomputes the checksums of the VMs' \
                backups (damage goes to the event log).
                Example: vigil backup policy set nightly --vm web1 --schedule 'daily 01:00' --full-schedule 'weekly sun 01:00' --keep 14
                """)
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The policy's name.") var name: String
        @Option(name: .customLong("vm"), help: "A VM it covers (repeat for more).") var vms: [String] = []
        @Option(help: "When backups run: 'every 30s|15m|6h|1d', 'daily HH:MM' or 'weekly mon,thu HH:MM' (host's local time).") var schedule: String
        @Option(help: "Level of a regular run: auto, incremental, differential or full.") var level: BackupLevel = .auto
        @Option(help: "When a run is a full backup instead (same forms as --schedule).") var fullSchedule: String?
        @Option(help: "A directory or ssh:// URL (default: vigild's --backup-destination).") var destination: String?
        @Option(help: "How many backups to keep per VM (and what they need).") var keep: Int?
        @Flag(help: "Store the images zstd-compressed.") var compress = false
        @Option(help: "Cap on the rate data is written to the destination, MiB/s.") var rateLimit: Int?
        @Option(help: "When to verify the VMs' backups (same forms as --schedule).") var verifySchedule: String?

        func run() async throws {
            func parse(_ text: String) throws -> Schedule {
                do { return try Schedule(parsing: text) } catch { throw ValidationError("\(error)") }
            }
            let policy = BackupPolicy(name: name, vms: vms, schedule: try parse(schedule), level: level,
                                      fullSchedule: try fullSchedule.map(parse), destination: destination, keep: keep,
                                      compress: compress, rateLimitMiBs: rateLimit, verifySchedule: try verifySchedule.map(parse))
            let response = try await global.client.send(method: .PUT, path: "/v1/backup-policies/\(name.percentEscaped)",
                                                         body: Array(try JSONEncoder().encode(policy)))
            if global.json { return print(response.text) }
            let saved = try response.decode(BackupPolicy.self)
            print("policy \(saved.name): \(saved.vms.joined(separator: ", ")), \(saved.schedule) \(saved.level.rawValue)"
                  + (saved.fullSchedule.map { ", full \($0)" } ?? "") + (saved.keep.map { ", keep \($0)" } ?? ""))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The backup policies.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let response = try await global.client.get("/v1/backup-policies")
            if global.json { return print(response.text) }
            let list = try response.decode(BackupPolicyList.self).policies
            print(Table.render(header: ["POLICY", "VMS", "SCHEDULE", "LEVEL", "FULL", "KEEP", "DESTINATION", "LAST RUN"], rows: list.map {
                [$0.name, $0.vms.joined(separator: ","), "\($0.schedule)", $0.level.rawValue, $0.fullSchedule.map { "\($0)" } ?? "-",
                 $0.keep.map { "\($0)" } ?? "all", $0.destination ?? "(default)", $0.lastRun.map { TextFormat.localTime($0) } ?? "never"]
            }))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a policy (its backups stay).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The policy's name.") var name: String

        func run() async throws {
            _ = try await global.client.send(method: .DELETE, path: "/v1/backup-policies/\(name.percentEscaped)", body: nil)
            if !global.json { print("policy \(name) deleted") }
        }
    }
}
