import TerminalText
import CommandText
import ArgumentParser
import CaseDomain
import ReplicaStore
import SyncCore

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record", abstract: L10n.pick("Read and write replicated rows (记录): township, enterprise, project.", "读写各副本同步的记录：乡镇、企业、项目。"),
        subcommands: [Put.self, Get.self, List.self, Delete.self])

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "put",
            abstract: L10n.pick("Write fields of a row, typed by the schema.",
                                "写入一条记录的字段（按字段类型校验）。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Table.", "表名。")) var table: String
        @Argument(help: .l("Row id (for example a UUIDv7).", "记录 id（例如 UUIDv7）。")) var id: String
        @Argument(help: .l("FIELD=VALUE pairs; an empty value clears a nullable field.",
                           "若干 FIELD=VALUE（字段=值）；值留空则清空可为空的字段。")) var assignments: [String]

        func run() throws {
            try reporting {
                let replica = try home.open()
                var values: [String: FieldValue] = [:]
                for a in assignments {
                    guard let eq = a.firstIndex(of: "="), eq != a.startIndex else {
                        throw CLIError(L10n.t(.badAssignment, a))
                    }
                    let name = String(a[..<eq])
                    values[name] = try replica.schema.field(table: table, name).parse(String(a[a.index(after: eq)...]))
                }
                guard !values.isEmpty else { throw CLIError(L10n.t(.badAssignment, "")) }
                try replica.write { tx in try tx.put(table: table, key: id, values) }
                print(L10n.t(.written, table, id, values.count))
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "get", abstract: L10n.pick("Show one row.", "查看一条记录。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Table.", "表名。")) var table: String
        @Argument(help: .l("Row id.", "记录 id。")) var id: String
        @Flag(help: .l("Print as JSON: {\"table\",\"id\",\"deleted\",\"fields\"}.",
                       "以 JSON 格式输出：{\"table\",\"id\",\"deleted\",\"fields\"}。")) var json = false

        func run() throws {
            try reporting {
                guard let r = try home.open().get(table: table, key: id) else {
                    throw CLIError(L10n.t(.notFound, table, id))
                }
                if json {
                    print(recordJSON(r).text)
                } else {
                    if r.deleted { print(L10n.t(.deletedMark)) }
                    var t = TextTable(header: [L10n.t(.colField), L10n.t(.colValue)])
                    for f in r.fields { t.rows.append([f.name, f.value.displayText]) }
                    print(t.render())
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.pick("List the rows of a table.", "列出一张表的记录。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Table.", "表名。")) var table: String
        @Flag(help: .l("Include deleted rows.", "包括已删除的记录。")) var all = false
        @Flag(help: .l("Print a JSON array of rows.", "以 JSON 数组输出各条记录。")) var json = false

        func run() throws {
            try reporting {
                let replica = try home.open()
                let rows = try replica.list(table: table, includeDeleted: all)
                if json {
                    print(JSON.array(rows.map(recordJSON)).text)
                    return
                }
                let declared = try replica.schema.table(table).fields.map(\.name)
                var t = TextTable(header: [L10n.t(.colID)] + declared)
                for r in rows {
                    let values = Dictionary(r.fields.map { ($0.name, $0.value.displayText) }, uniquingKeysWith: { a, _ in a })
                    t.rows.append([r.key + (r.deleted ? " " + L10n.t(.deletedMark) : "")]
                                  + declared.map { clip(values[$0] ?? "", width: 24) })
                }
                print(t.render())
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "delete",
            abstract: L10n.pick("Delete a row (kept as a tombstone; a later write undeletes it).", "删除一条记录（保留删除标记；之后再写入即恢复）。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Table.", "表名。")) var table: String
        @Argument(help: .l("Row id.", "记录 id。")) var id: String

        func run() throws {
            try reporting {
                try home.open().write { tx in try tx.delete(table: table, key: id) }
                print(L10n.t(.deleted, table, id))
            }
        }
    }
}

func recordJSON(_ r: Record) -> JSON {
    .object([
        ("table", .string(r.table)), ("id", .string(r.key)), ("deleted", .bool(r.deleted)),
        ("fields", .object(r.fields.map { ($0.name, JSON($0.value)) })),
    ])
}
