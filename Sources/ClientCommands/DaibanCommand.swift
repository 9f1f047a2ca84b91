public import ArgumentParser
import TerminalText
import CommandText
import CaseDomain
import CaseWorkflow
import Foundation
import ReplicaStore
import SyncClient
import SyncCore
import SyncContract
import SyncProtocol

/// The `daiban` command line: an offline replica of the 代办 case data.
public struct DaibanCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "daiban",
        abstract: L10n.pick("daiban 代办: offline replica of agency-service case data; syncs with a server or by bundle files.",
                            "daiban 代办：代办服务案件数据的离线副本；通过服务器或数据包文件同步。"),
        version: SyncHTTP.versionText,
        subcommands: [Init.self, Login.self, Sync.self, Status.self, EnterpriseCommand.self, ProjectCommand.self,
                      CaseCommand.self, PlanCommand.self, ItemCommand.self, LogCommand.self, ReportProgress.self,
                      MeetingCommand.self, Escalate.self, EvalCommand.self, TicketCommand.self, ComplaintCommand.self,
                      MaterialCommand.self, ServiceCommand.self, CardCommand.self, FormCommand.self, Due.self, ReportCommand.self, History.self, CatalogueCommand.self,
                      CalendarCommand.self, RosterCommand.self, RuleCommand.self, RecordCommand.self, Export.self,
                      Import.self, PeersCommand.self, Conflicts.self, Rejected.self, KeyCommand.self, Doctor.self,
                      Backup.self])

    public init() {}

    /// Parses `CommandLine.arguments` and runs the command (the executable's whole `main`).
    public static func start() async {
        umask(0o077)  // the replica's SQLite side files (-wal, -shm) hold case data too: owner only
        await ParserText.main(Self.self)
    }
}

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init",
        abstract: L10n.pick("Create a replica (副本) with a random 128-bit id, or attach an existing one to a server.",
                            "创建副本（随机 128 位 id），或把已有副本连接到服务器。"))
    @OptionGroup var home: HomeOptions
    @Option(help: .l("Name recorded as author of your writes until you sign in (default: $USER).", "登录前所填内容记录的作者名（默认：$USER）。"))
    var author: String?
    @Option(help: .l("Sync server URL (http://host:port or https://…).", "同步服务器地址（http://host:port 或 https://…）。")) var server: String?
    @Option(help: .l("PEM file of extra trusted roots for an https server.", "https 服务器额外信任的根证书（PEM 文件）。")) var caFile: String?
    @Option(help: .l("Sign in right away as this user (registers this replica as a device).", "立即以该用户登录（把本副本登记为设备）。")) var user: String?
    @Flag(help: .l("With --user: read the password from stdin.", "与 --user 同用：从标准输入读取密码。")) var passwordStdin = false

    /// The author when none was given: `$USER`, else asked for on a terminal, else an error that says how.
    static func askAuthor() throws -> String {
        if let u = ProcessInfo.processInfo.environment["USER"], !u.trimmingCharacters(in: .whitespaces).isEmpty { return u }
        guard isatty(0) == 1 else { throw CLIError(L10n.t(.needAuthor)) }
        FileHandle.standardError.write(Data(L10n.t(.askAuthor).utf8))
        guard let line = readLine(), !line.trimmingCharacters(in: .whitespaces).isEmpty else { throw CLIError(L10n.t(.needAuthor)) }
        return line
    }

    func validAuthor(_ name: String) throws -> String {
        let n = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !n.isEmpty, n.utf8.count <= 64, !n.contains(where: \.isWhitespace) else { throw CLIError(L10n.t(.badAuthor, name)) }
        return n
    }

    func run() async throws {
        try await reportingAsync(home) {
            let dir = home.directory
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let replica: ReplicaDatabase
            if FileManager.default.fileExists(atPath: home.databasePath) {
                replica = try home.open()
                if let author, server == nil {
                    // Before its first write a replica may still take another author (a laptop set up by
                    // someone else, or with the wrong login); after that its writes are signed with the old one.
                    guard try !replica.hasOwnWrites() else { throw CLIError(L10n.t(.authorFixed, replica.author)) }
                    let name = try validAuthor(author)
                    try replica.setAuthor(name)
                    print(L10n.t(.authorChanged, name))
                    return
                }
                guard let server else { throw CLIError(L10n.t(.alreadyInitialized, dir, replica.id)) }
                _ = try ServerConnection.validate(url: server)
                try home.saveServerSettings(ServerSettings(url: server, caFile: caFile))
                print(L10n.t(.attached, replica.id, dir, server))
            } else {
                if let server { _ = try ServerConnection.validate(url: server) }
                let name: String
                if let given = author ?? user {
                    name = try validAuthor(given)
                } else if server != nil {
                    name = ProcessInfo.processInfo.environment["USER"] ?? ""  // signing in makes the user the author
                } else {
                    name = try validAuthor(Self.askAuthor())
                }
                replica = try ReplicaDatabase.create(at: home.databasePath, schema: DaibanSchema.schema, author: name)
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: home.databasePath)
                _ = try home.deviceKey()  // this device's signing key, made with the replica
                print(L10n.t(.initialized, replica.id, dir))
                if let server {
                    try home.saveServerSettings(ServerSettings(url: server, caFile: caFile))
                    print(L10n.t(.serverSet, server))
                }
            }
            if let user, server != nil {
                let login = try Login.parse(["--home", dir, "--user", user] + (passwordStdin ? ["--password-stdin"] : []))
                try await login.run()
            }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: L10n.pick("Write a bundle (数据包) of what a peer lacks, for a USB stick or e-mail; signed with this device's key.",
                            "把对端缺少的数据写成数据包，用 U 盘或电子邮件传递；以本设备密钥签名。"))
    @OptionGroup var home: HomeOptions
    @Argument(help: .l("Bundle file to write (a large export continues in FILE.2, FILE.3, …).",
                       "要写出的数据包文件（数据量大时续写到 FILE.2、FILE.3 …）。")) var file: String
    @Option(name: .customLong("for"), help: .l("The peer (`centre`, a name from `daiban peers`, its user's login or replica id): send only what it has not acknowledged.",
                                               "对端（`centre`、`daiban peers` 中的名称、对端用户的登录名或副本 id）：只导出对端尚未确认的部分。"))
    var peer: String?
    @Option(help: .l("Largest bundle in bytes; larger exports are split into several files (a server takes 8 MiB per push).",
                     "单个数据包的最大字节数；超过时拆成多个文件（服务器每次上传最多接收 8 MiB）。"))
    var maxBytes = 8 << 20

    func validate() throws {
        guard maxBytes >= 64 << 10 else { throw ValidationError("--max-bytes must be at least 65536") }
    }

    func run() throws {
        try reporting {
            let replica = try home.open()
            var peerID: ReplicaID? = nil
            if let peer { peerID = try PeerDirectory(replica).resolve(peer) }
            note(L10n.t(.collecting))
            // Each bundle is written as it is made (memory holds one, however large the export), as FILE.partial;
            // only a finished export replaces the files, so a failed one leaves no half set behind.
            var names: [String] = []
            var rows = 0, fields = 0, bytes = 0
            let fm = FileManager.default
            do {
                try replica.exportBundles(for: peerID, maxBytes: maxBytes) { part in
                    let name = names.isEmpty ? file : "\(file).\(names.count + 1)"
                    names.append(name)  // before the write, so that a failed write is cleaned up too
                    try Data(part.bytes).write(to: URL(fileURLWithPath: name + ".partial"))
                    rows += part.changeSet.rows.count
                    fields += part.changeSet.fieldCount
                    bytes += part.bytes.count
                }
            } catch {
                for name in names { try? fm.removeItem(atPath: name + ".partial") }
                throw error
            }
            for name in names {
                if fm.fileExists(atPath: name) { try fm.removeItem(atPath: name) }
                try fm.moveItem(atPath: name + ".partial", toPath: name)
            }
            let scope = peerID.map { L10n.t(.exportFor, $0.short) } ?? L10n.t(.exportAll)
            print(L10n.t(.exported, names.joined(separator: ", "), rows, fields, bytes, scope))
            if names.count > 1 { note(L10n.t(.exportedParts, names.count, names.joined(separator: " "))) }
        }
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import",
        abstract: L10n.pick("Apply bundles, each in one transaction; importing one again changes nothing.", "导入数据包，每个数据包在一个事务中完成；重复导入不会改变任何数据。"))
    @OptionGroup var home: HomeOptions
    @Argument(help: .l("Bundle files to read, in order.", "要读取的数据包文件，按顺序给出。")) var files: [String]
    @Flag(help: .l("Print the report as JSON (one object per file).", "以 JSON 格式输出结果（每个文件一个对象）。")) var json = false

    func run() throws {
        try reporting {
            let replica = try home.open()
            let limit = replica.limits.maxCompressedBytes
            for file in files {
                let attrs = try FileManager.default.attributesOfItem(atPath: file)
                let size = (attrs[.size] as? Int) ?? 0
                if size > limit {
                    throw SyncError(.compressedTooLarge, "\(file) is \(size) bytes; the limit is \(limit)")
                }
                note(L10n.t(.reading, file, size))
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
                let header = try ChangeSetReader(bytes: bytes, limits: replica.limits)
                let r = try replica.importBundle(bytes) { note(L10n.t(.applying, $0)) }
                // Another device's bundle: a township or the centre forwards it, as it was signed, on its next sync.
                let relay = header.sender != replica.id
                if relay { try replica.keepForRelay(bytes, sender: header.sender) }
                let signer = header.signature.map { $0.isValid ? fingerprint($0.publicKey) : "invalid" }
                if json {
                    print(JSON.object([
                        ("file", .string(file)), ("sender", .string(r.sender)), ("rows", .int(Int64(r.rows))),
                        ("applied", .int(Int64(r.applied))), ("ignored", .int(Int64(r.ignored))),
                        ("new_rows", .int(Int64(r.newRows))), ("refused", .int(Int64(r.quarantined))),
                        ("conflicts_before", .int(Int64(r.conflictsBefore))),
                        ("conflicts_after", .int(Int64(r.conflictsAfter))),
                        ("skewed_timestamps", .int(Int64(r.skewedTimestamps))), ("contiguous", .bool(r.contiguous)),
                        ("signature", signer.map(JSON.string) ?? .null), ("kept_for_relay", .bool(relay)),
                    ]).text)
                    continue
                }
                print(L10n.t(.imported, String(r.sender.prefix(8)), r.rows, r.applied, r.ignored))
                print(L10n.t(.conflictsNow, r.conflictsBefore, r.conflictsAfter))
                if let signer { note(signer == "invalid" ? L10n.t(.signatureBad) : L10n.t(.signatureNote, signer)) }
                if r.quarantined > 0 {
                    var reasons: [String: Int] = [:]
                    for x in r.rejections { reasons[x.rejection.reason.rawValue, default: 0] += 1 }
                    note(L10n.t(.importRefused, r.quarantined,
                                reasons.sorted { $0.key < $1.key }.map { "\(refusalReason($0.key)) ×\($0.value)" }.joined(separator: ", ")))
                }
                if !r.contiguous { note(L10n.t(.gap, String(r.sender.prefix(8)))) }
                if r.skewedTimestamps > 0 { note(L10n.t(.skew, r.skewedTimestamps)) }
                if relay { note(L10n.t(.relayKept)) }
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status",
        abstract: L10n.pick("Replica id, row and conflict counts, unacknowledged changes.",
                            "查看副本 id、记录数、冲突数和对端尚未确认的变更。"))
    @OptionGroup var home: HomeOptions
    @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

    func run() async throws {
        try reporting {
            let replica = try home.open()
            let s = try replica.status()
            let settings = try? home.serverSettings()
            let session = try? home.session()
            let lastSync = try replica.syncState("sync.last").flatMap(Int64.init)
            let pending = settings == nil ? nil : try pendingChanges(home)
            let refused = try replica.refusals().count
            func opt(_ v: String?) -> JSON { v.map(JSON.string) ?? .null }
            if json {
                print(JSON.object([
                    ("replica", .string(s.replica.description)), ("home", .string(home.directory)),
                    ("server", opt(settings?.url)), ("user", opt(session?.user)), ("role", opt(session?.role)),
                    ("device", session.map { .int($0.deviceID) } ?? .null),
                    ("last_sync", lastSync.map { .string(utcTime(seconds: $0)) } ?? .null),
                    ("pending_changes", pending.map { .int(Int64($0)) } ?? .null),
                    ("refused_changes", .int(Int64(refused))),
                    ("seq", .int(Int64(s.seq))), ("open_conflicts", .int(Int64(s.openConflicts))),
                    ("field_states", .int(Int64(s.fieldStates))),
                    ("tables", .array(s.tables.map {
                        .object([("table", .string($0.table)), ("live", .int(Int64($0.live))),
                                 ("deleted", .int(Int64($0.deleted)))])
                    })),
                    ("peers", .array(s.peers.map {
                        .object([("replica", .string($0.replica.description)), ("received", .int(Int64($0.received))),
                                 ("acked", .int(Int64($0.acked))), ("unacknowledged", .int(Int64($0.unacknowledged)))])
                    })),
                ]).text)
                return
            }
            print("\(L10n.t(.lblReplica)): \(s.replica)")
            print("\(L10n.t(.lblHome)): \(home.directory)")
            if let settings {
                print("\(L10n.t(.lblServer)): \(settings.url)")
                if let session {
                    print("\(L10n.t(.lblUser)): \(session.user) (\(session.role))   \(L10n.t(.lblDevice)): \(session.deviceID)")
                }
                let zone = Workflow.countyZone(replica)
                let last = lastSync.map { "\(countyTime(HLCTimestamp(physical: UInt64(max(0, $0)) * 1000, logical: 0), zone)) (\(Workflow.zoneName(zone)))" }
                print("\(L10n.t(.lblLastSync)): \(last ?? L10n.t(.never))   \(L10n.t(.lblPending)): \(pending ?? 0)")
            }
            print("\(L10n.t(.lblSeq)): \(s.seq)   \(L10n.t(.lblFields)): \(s.fieldStates)   \(L10n.t(.lblConflicts)): \(s.openConflicts)")
            if refused > 0 { print("\(L10n.t(.lblRefused)): \(refused)   (daiban rejected list)") }
            if !s.tables.isEmpty {
                var t = TextTable(header: [L10n.t(.colTable), L10n.t(.colLive), L10n.t(.colDeleted)])
                for row in s.tables { t.rows.append([row.table, String(row.live), String(row.deleted)]) }
                print(t.render())
            }
            if s.peers.isEmpty {
                print(L10n.t(.lblNoPeers))
            } else {
                var t = TextTable(header: [L10n.t(.colPeer), L10n.t(.colReceived), L10n.t(.colAcked), L10n.t(.colPending)])
                for p in s.peers {
                    t.rows.append([p.replica.description, String(p.received), String(p.acked), String(p.unacknowledged)])
                }
                print(t.render())
            }
        }
    }
}
