import TerminalText
import CommandText
import ArgumentParser
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import CaseWorkflow

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conflicts",
        abstract: L10n.pick("Review concurrent edits (冲突) kept from every replica.", "查看和处理冲突：多个副本同时修改同一字段时保留下来的各个版本。"),
        subcommands: [List.self, Show.self, Resolve.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("Every open conflict.", "列出全部未解决的冲突。"))
        @OptionGroup var home: HomeOptions
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() throws {
            try reporting {
                let replica = try home.open()
                let all = try replica.conflicts()
                let directory = deviceDirectory(replica)
                if json {
                    print(JSON.array(all.map { conflictJSON($0, directory) }).text)
                    return
                }
                if all.isEmpty {
                    print(L10n.t(.noConflicts))
                    return
                }
                var t = TextTable(header: [L10n.t(.colID), L10n.t(.colTable), L10n.t(.colRow), L10n.t(.colField),
                                           L10n.t(.colKind), L10n.t(.colVersions)])
                for c in all {
                    let values = c.versions.map { v in
                        clip(v.value.displayText, width: 16) + " (" + (v.author.isEmpty ? v.writer.short : v.author) + ")"
                    }
                        + (c.deletion == nil ? [] : [L10n.t(.deletionVersion)])
                    t.rows.append([c.id, c.table, c.key, c.field, c.kind, values.joined(separator: " | ")])
                }
                print(t.render())
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: L10n.pick("Every version of one conflict.", "查看一个冲突的全部版本。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Conflict id (or a unique prefix).", "冲突编号（或能唯一确定的开头部分）。")) var id: String
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() throws {
            try reporting {
                let replica = try home.open()
                let c = try replica.conflict(id: id)
                let directory = deviceDirectory(replica)
                if json {
                    print(conflictJSON(c, directory).text)
                    return
                }
                print("\(c.id)  \(c.table) \(c.key) \(c.field)  [\(c.kind)]")
                let zone = Workflow.countyZone(replica)
                var t = TextTable(header: [L10n.t(.colValue), L10n.t(.colAuthor), L10n.t(.colDevice),
                                           L10n.t(.colReplica), L10n.t(.colTime, Workflow.zoneName(zone)), ""])
                func device(_ r: ReplicaID) -> String {
                    directory[r.description].map { "\($0.name) #\($0.id) (\($0.user))" } ?? ""
                }
                for v in c.versions {
                    t.rows.append([v.value.displayText, v.author, device(v.writer), v.writer.short, countyTime(v.hlc, zone),
                                   v == c.winner && c.deletion == nil ? L10n.t(.winnerMark) : ""])
                }
                if let d = c.deletion {
                    t.rows.append([L10n.t(.deletionVersion), d.author, device(d.writer), d.writer.short, countyTime(d.hlc, zone),
                                   L10n.t(.winnerMark)])
                }
                print(t.render())
            }
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "resolve",
            abstract: L10n.pick("Write the agreed value; it supersedes every version on every replica once synced.", "写入商定的值；同步后在各副本上取代所有版本。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Conflict id (or a unique prefix).", "冲突编号（或能唯一确定的开头部分）。")) var id: String
        @Option(help: .l("The value to keep (typed by the schema); restores a deleted row.", "要保留的值（按字段类型填写）；可恢复已删除的记录。")) var value: String?
        @Flag(help: .l("Confirm the deletion instead.", "改为确认删除。")) var delete = false

        func run() throws {
            try reporting {
                guard (value != nil) != delete else {
                    throw CLIError(L10n.t(.resolveNeedsOne))
                }
                let replica = try home.open()
                let c = try replica.conflict(id: id)
                var typed: FieldValue? = nil
                if let value {
                    if c.field == Schema.deletedField {
                        typed = try FieldSchema(c.field, .bool, nullable: false).parse(value)
                    } else if let f = replica.schema.tables[c.table]?.field(c.field) {
                        typed = try f.parse(value)
                    } else {
                        typed = .text(value)
                    }
                }
                try replica.resolve(c, value: typed)
                print(L10n.t(.resolved, c.id))
            }
        }
    }
}

func conflictJSON(_ c: Conflict, _ directory: [String: DirectoryEntry] = [:]) -> JSON {
    func version(_ value: JSON, _ v: FieldVersion, deleted: Bool) -> JSON {
        let d = directory[v.writer.description]
        return .object([("value", value), ("replica", .string(v.writer.description)),
                        ("hlc", .string(v.hlc.description)), ("time", .string(utcTime(v.hlc))),
                        ("author", .string(v.author)), ("deleted", .bool(deleted)),
                        ("device", d.map { .int($0.id) } ?? .null), ("device_name", d.map { .string($0.name) } ?? .null),
                        ("device_user", d.map { .string($0.user) } ?? .null)])
    }
    var versions: [JSON] = c.versions.map { version(JSON($0.value), $0, deleted: false) }
    if let d = c.deletion { versions.append(version(.null, d, deleted: true)) }
    return .object([
        ("id", .string(c.id)), ("table", .string(c.table)), ("row", .string(c.key)), ("field", .string(c.field)),
        ("kind", .string(c.kind)), ("winner", JSON(c.winner.value)), ("versions", .array(versions)),
    ])
}
