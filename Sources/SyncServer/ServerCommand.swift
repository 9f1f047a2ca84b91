public import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ReplicaStore
import SyncCore
import CaseDomain
import SyncContract
import TerminalText
import CommandText

/// `daiban-server`: the county centre's sync server and its account administration.
public struct DaibanServerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "daiban-server",
        abstract: L10n.pick("daiban sync server: holds the county replica, accounts and devices; clients push and pull over HTTP.",
                            "daiban 同步服务器：保存全县副本、账号和设备；客户端通过 HTTP 上传和下载。"),
        version: SyncHTTP.versionText,
        subcommands: [Serve.self, UserCommand.self, DeviceCommand.self, AdminCommand.self, AuditCommand.self,
                      QuarantineCommand.self, BackupCommand.self, RestoreCommand.self])

    public init() {}

    /// Parses `CommandLine.arguments` and runs the command (the executable's whole `main`).
    public static func start() async { await ParserText.main(Self.self) }
}

/// `--data` and `--config`, shared by every command.
struct ServerOptions: ParsableArguments {
    @Option(help: .l("Data folder (default: $DAIBAN_DATA, else ./daiban-data).", "数据目录（默认：$DAIBAN_DATA，否则为 ./daiban-data）。")) var data: String?
    @Option(help: .l("JSON config file (default: <data>/server.json when present).", "JSON 配置文件（默认：<data>/server.json，存在时使用）。")) var config: String?
    @Option(help: .l("PostgreSQL database shared by several instances, postgres://USER@HOST:PORT/DB (default: $DAIBAN_DATABASE; none: SQLite in the data folder).",
                     "多个实例共用的 PostgreSQL 数据库，postgres://用户@主机:端口/库名（默认：$DAIBAN_DATABASE；不设则用数据目录中的 SQLite）。")) var database: String?

    /// Defaults < config file < environment < flags.
    func load(_ flags: (inout ServerConfig) -> Void = { _ in }) throws -> ServerConfig {
        let env = ProcessInfo.processInfo.environment
        var c = ServerConfig()
        let dataDir = data ?? env["DAIBAN_DATA"].flatMap { $0.isEmpty ? nil : $0 } ?? c.data
        let file = config ?? dataDir + "/server.json"
        if config != nil || FileManager.default.fileExists(atPath: file) { try c.merge(file: file) }
        try c.merge(environment: env)
        if let data { c.data = data }
        if let database { c.database = database }
        flags(&c)
        try c.validate()
        return c
    }

    /// The account store: the data folder's, or the shared PostgreSQL database's.
    func accounts() async throws -> (AccountStore, ServerConfig) {
        let c = try load()
        if let url = c.database { return (AccountStore(database: try await PostgresAccountDatabase(url: url)), c) }
        try FileManager.default.createDirectory(atPath: c.data, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        return (try AccountStore(path: c.accountsPath), c)
    }

    /// The replica: the data folder's, or (with a database) the data folder's copy of the shared one, brought up to
    /// date with the database first.
    /// - Parameter mayRebuild: the command holds the data folder's lock (no instance serves from it), so a stale
    ///   copy may be rebuilt.
    static func replica(_ c: ServerConfig, mayRebuild: Bool = false) async throws -> ReplicaDatabase {
        guard let url = c.database else { return try ReplicaDatabase.open(at: c.replicaPath, schema: DaibanSchema.schema) }
        // Opening the accounts runs the database's migrations, which make the log's tables.
        await (try PostgresAccountDatabase(url: url)).close()
        return try await offload {
            try SharedReplica.open(config: c, url: url, mayRebuild: mayRebuild, logger: Logger(label: "daiban.admin"))
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: L10n.pick("Run the server until SIGINT or SIGTERM.", "运行服务器，直到收到 SIGINT 或 SIGTERM。"))
    @OptionGroup var options: ServerOptions
    @Option(help: .l("Address to listen on (default 127.0.0.1).", "监听地址（默认 127.0.0.1）。")) var host: String?
    @Option(help: .l("Port (default 8080; 0 picks a free one and prints it).", "端口（默认 8080；填 0 则自动选一个空闲端口并打印出来）。")) var port: Int?
    @Option(help: .l("PEM certificate chain: serve HTTPS.", "PEM 证书链：启用 HTTPS。")) var tlsCert: String?
    @Option(help: .l("PEM private key for --tls-cert.", "--tls-cert 对应的 PEM 私钥。")) var tlsKey: String?

    func run() async throws {
        let config = try options.load { c in
            if let host { c.host = host }
            if let port { c.port = port }
            if let tlsCert { c.tlsCertificate = tlsCert }
            if let tlsKey { c.tlsKey = tlsKey }
        }
        let lock = try DataFolderLock(data: config.data, purpose: "serve")
        defer { withExtendedLifetime(lock) {} }
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "daiban.server")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let server = if let url = config.database {
            try await DaibanServer.open(config: config, database: url, logger: logger)
        } else {
            try DaibanServer(config: config, logger: logger)
        }
        if try await server.accounts.userCount() == 0 {
            logger.warning("no users yet: run `daiban-server admin bootstrap --data \(config.data)`")
        }
        let scheme = config.tlsCertificate == nil ? "http" : "https"
        let listenHost = config.host
        let app = try server.application { port in
            let line = "daiban-server listening on \(scheme)://\(listenHost):\(port) (replica \(server.replica.id))\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        try await app.runService()
        logger.info("stopped")
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: L10n.pick("Accounts.", "账号管理。"),
                                                    subcommands: [Add.self, List.self, Passwd.self, Disable.self,
                                                                  Enable.self, Blocks.self, Unblock.self])

    struct Blocks: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: L10n.pick("Sign-in counters: failed attempts per address, per user and per user from an address, and which block now.",
                                "登录计数：按地址、按用户、按用户加地址统计的失败次数，以及当前被暂停登录的项。"))
        @OptionGroup var options: ServerOptions
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() async throws {
            let now = unixNow()
            let entries = try await options.accounts().0.loginCounters(now: now)
            if json {
                printJSON(entries.map { e -> [String: Any] in
                    ["kind": e.kind.rawValue, "user": e.user ?? NSNull(), "address": e.address ?? NSNull(),
                     "failures": e.failures, "blocked_until": e.blockedUntil > now ? e.blockedUntil : NSNull(),
                     "fades_at": e.fadesAt]
                })
                return
            }
            let kinds: [LoginCounterEntry.Kind: L10n.Key] = [.address: .srvCounterAddress, .user: .srvCounterUser,
                                                             .pair: .srvCounterPair]
            printTable([L10n.t(.srvColCounter), L10n.t(.srvColUser), L10n.t(.srvColAddress), L10n.t(.srvColFailures),
                        L10n.t(.srvColBlockedUntil)],
                       entries.map { e in
                           [L10n.t(kinds[e.kind]!), e.user ?? "", e.address ?? "", String(e.failures),
                            e.blockedUntil > now ? isoTime(e.blockedUntil) : ""]
                       })
        }
    }

    struct Unblock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: L10n.pick("Forget the sign-in counters of a user, of an address, or both: they sign in again at once.",
                                "清除某个用户、某个地址（或两者）的登录计数，使其立即可以重新登录。"))
        @OptionGroup var options: ServerOptions
        @Argument(help: .l("Login name.", "登录名。")) var name: String?
        @Option(help: .l("An address the sign-ins come from (IPv6: its /64).", "登录来源地址（IPv6 按 /64 计）。")) var address: String?

        func run() async throws {
            guard name != nil || address != nil else { throw ValidationError(L10n.t(.srvUnblockWhat)) }
            let accounts = try await options.accounts().0
            if let name, try await !accounts.users().contains(where: { $0.name.utf8.elementsEqual(name.utf8) }) {
                throw AccountError(L10n.t(.srvNoUser, name))
            }
            let n = try await accounts.clearLoginCounters(user: name, address: address)
            print(n == 0 ? L10n.t(.srvUnblockedNone) : L10n.t(.srvUnblocked, n))
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: L10n.pick("Set a user's password (read from stdin); with --revoke-sessions every device must sign in again.",
                                "设置用户密码（从标准输入读取）；加 --revoke-sessions 则该用户的各设备须重新登录。"))
        @OptionGroup var options: ServerOptions
        @Argument(help: .l("Login name.", "登录名。")) var name: String
        @Flag(help: .l("Read the password from the first line of stdin (required).", "从标准输入的第一行读取密码（必须指定）。")) var passwordStdin = false
        @Flag(help: .l("End every session of the user at once (a leaked password): its devices sign in again.", "立即结束该用户的全部登录（密码泄露时使用）：其设备须重新登录。"))
        var revokeSessions = false

        func run() async throws {
            guard passwordStdin else { throw ValidationError(L10n.t(.srvNeedPasswordStdin)) }
            let (accounts, config) = try await options.accounts()
            let password = readLine(strippingNewline: true) ?? ""
            guard try await accounts.setPassword(name: name, password: password, cost: config.bcryptCost,
                                           revokeSessions: revokeSessions, now: unixNow()) else {
                throw AccountError(L10n.t(.srvNoUser, name))
            }
            print(L10n.t(.passwordChanged, name))
            if revokeSessions { print(L10n.t(.sessionsRevoked, name)) }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: L10n.pick("Stop a user at once: no sign-in, and every token already issued is refused (devices are kept).",
                                "立即停用用户：不能登录，已签发的凭据一律拒绝（设备保留）。"))
        @OptionGroup var options: ServerOptions
        @Argument(help: .l("Login name.", "登录名。")) var name: String

        func run() async throws {
            guard try await options.accounts().0.setDisabled(name: name, true) else { throw AccountError(L10n.t(.srvNoUser, name)) }
            print(L10n.t(.userDisabled, name))
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: L10n.pick("Re-enable a disabled user.", "重新启用已停用的用户。"))
        @OptionGroup var options: ServerOptions
        @Argument(help: .l("Login name.", "登录名。")) var name: String

        func run() async throws {
            guard try await options.accounts().0.setDisabled(name: name, false) else { throw AccountError(L10n.t(.srvNoUser, name)) }
            print(L10n.t(.userEnabled, name))
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: L10n.pick("Add a user; the password is read from stdin.", "添加用户；密码从标准输入读取。"))
        @OptionGroup var options: ServerOptions
        @Argument(help: .l("Login name (no spaces).", "登录名（不含空格）。")) var name: String
        @Option(help: .l("agent | township | center | liaison", "角色：agent（代办员）| township（乡镇）| center（县中心）| liaison（部门联络员）")) var role: String
        @Option(help: .l("Township id (township and agent accounts).", "乡镇 id（乡镇账号和代办员账号）。")) var township: String?
        @Option(help: .l("Department id (liaison accounts).", "部门 id（联络员账号）。")) var department: String?
        @Flag(help: .l("Read the password from the first line of stdin (required).", "从标准输入的第一行读取密码（必须指定）。")) var passwordStdin = false

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError(L10n.t(.srvBadRole))
            }
            guard passwordStdin else { throw ValidationError(L10n.t(.srvNeedPasswordStdin)) }
            let (accounts, config) = try await options.accounts()
            let password = readLine(strippingNewline: true) ?? ""
            let user = try await accounts.addUser(name: name, role: role, township: township, department: department,
                                            password: password, cost: config.bcryptCost, now: unixNow())
            print(L10n.t(.userAdded, user.name, user.role.rawValue, user.id))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: L10n.pick("Every user.", "列出全部用户。"))
        @OptionGroup var options: ServerOptions
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() async throws {
            let users = try await options.accounts().0.users()
            if json {
                printJSON(users.map { u -> [String: Any] in
                    ["id": u.id, "name": u.name, "role": u.role.rawValue, "township": u.township ?? NSNull(),
                     "department": u.department ?? NSNull(), "created_at": u.createdAt, "disabled": u.disabled]
                })
                return
            }
            printTable([L10n.t(.srvColID), L10n.t(.srvColName), L10n.t(.srvColRole), L10n.t(.srvColTownship),
                        L10n.t(.srvColDepartment), L10n.t(.srvColState)],
                       users.map { [String($0.id), $0.name, $0.role.rawValue, $0.township ?? "", $0.department ?? "",
                                    $0.disabled ? L10n.t(.srvUserDisabled) : L10n.t(.srvUserActive)] })
        }
    }
}

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: L10n.pick("Client replicas bound to users.", "设备：绑定到用户的客户端副本。"),
                                                    subcommands: [List.self, Revoke.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: L10n.pick("Every device.", "列出全部设备。"))
        @OptionGroup var options: ServerOptions
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() async throws {
            let devices = try await options.accounts().0.devices()
            if json {
                printJSON(devices.map { d -> [String: Any] in
                    ["id": d.id, "user": d.userName, "name": d.name, "replica": d.replica.description,
                     "created_at": d.createdAt, "last_seen_at": d.lastSeenAt ?? NSNull(),
                     "revoked_at": d.revokedAt ?? NSNull(), "key_fingerprint": d.keyFingerprint ?? NSNull(),
                     "clock_skew_seconds": d.clockSkewMillis.map { $0 / 1000 } ?? NSNull()]
                })
                return
            }
            printTable([L10n.t(.srvColID), L10n.t(.srvColUser), L10n.t(.srvColName), L10n.t(.srvColReplica), L10n.t(.srvColKey),
                        L10n.t(.srvColClockSkew), L10n.t(.srvColLastSeen), L10n.t(.srvColRevoked)], devices.map {
                [String($0.id), $0.userName, $0.name, $0.replica.description, $0.keyFingerprint ?? "-",
                 $0.clockSkewMillis.map { skewText($0) } ?? "-", $0.lastSeenAt.map(isoTime) ?? "-",
                 $0.revokedAt.map(isoTime) ?? ""]
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: L10n.pick("Stop a device from pushing or pulling (its refresh tokens are deleted at once).", "停用设备，使其不能上传或下载（其刷新凭据立即删除）。"))
        @OptionGroup var options: ServerOptions
        @Argument(help: .l("Device id from `device list`.", "设备编号（见 `device list`）。")) var id: Int64

        func run() async throws {
            guard try await options.accounts().0.revoke(deviceID: id, now: unixNow()) else {
                throw AccountError(L10n.t(.srvNoDevice, id))
            }
            print(L10n.t(.deviceRevoked, id))
        }
    }
}

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "admin", abstract: L10n.pick("First-run administration.", "首次运行时的管理操作。"),
                                                    subcommands: [Bootstrap.self, NewEpoch.self])

    struct NewEpoch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "new-epoch",
            abstract: L10n.pick("After restoring the data folder from a backup: make every client pull from the start and push everything again.",
                                "从备份恢复数据目录后使用：让各客户端从头下载并重新上传全部数据。"))
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let c = try options.load()
            let lock = try DataFolderLock(data: c.data, purpose: "admin new-epoch")
            defer { withExtendedLifetime(lock) {} }
            let replica = try await ServerOptions.replica(c, mayRebuild: true)
            let epoch = try DaibanServer.epoch(replica, renew: true)
            print(L10n.t(.newEpoch, epoch))
        }
    }

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: L10n.pick("Create the first centre user and print how to sign in (only when there are no users).",
                                "创建第一个县中心用户并打印登录方法（仅在尚无用户时可用）。"))
        @OptionGroup var options: ServerOptions
        @Option(help: .l("Login name.", "登录名。")) var name = "admin"
        @Option(help: .l("Server URL to print in the instructions.", "登录说明中显示的服务器地址。")) var url: String?
        @Flag(help: .l("Read the password from stdin instead of generating one.", "从标准输入读取密码，不自动生成。")) var passwordStdin = false

        func run() async throws {
            let (accounts, config) = try await options.accounts()
            let existing = try await accounts.userCount()
            guard existing == 0 else {
                throw AccountError(L10n.t(.srvAlreadyBootstrapped, existing))
            }
            let password = passwordStdin ? (readLine(strippingNewline: true) ?? "") : generatePassword()
            try await accounts.addUser(name: name, role: .center, password: password, cost: config.bcryptCost, now: unixNow())
            let server = url ?? "\(config.tlsCertificate == nil ? "http" : "https")://\(config.host):\(config.port)"
            print(L10n.t(.bootstrapped, name))
            if !passwordStdin { print(L10n.t(.bootstrapPassword, password)) }
            print(L10n.t(.bootstrapNext, server, name))
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: L10n.pick("Copy the data folder, consistently and checked, while the server keeps serving.",
                            "复制数据目录（一致且经过校验），服务器可照常运行。"),
        discussion: L10n.pick("The copy holds both databases and server.json, not the token key. Restore it with `daiban-server restore --from FOLDER`.",
                              "备份包含两个数据库和 server.json，不含令牌密钥。用 `daiban-server restore --from 目录` 恢复。"))
    @OptionGroup var options: ServerOptions
    @Option(help: ArgumentHelp(L10n.pick("Folder to create for the copy.", "要新建的备份目录。"), valueName: "folder")) var to: String
    @Flag(help: .l("Replace the folder if it exists.", "目录已存在时覆盖。")) var force = false
    @Flag(help: .l("Print the result as JSON.", "以 JSON 格式输出结果。")) var json = false

    func run() async throws {
        let config = try options.load()
        if config.database != nil { throw ConfigError(L10n.t(.srvBackupOnPostgres)) }
        let started = Date()
        if !json { FileHandle.standardError.write(Data((L10n.t(.srvBackupWorking) + "\n").utf8)) }
        let s = try ServerBackup.make(config: config, to: to, force: force)
        let seconds = Date().timeIntervalSince(started)
        if json {
            printJSON(["folder": s.folder, "replica": s.replica, "field_states": s.fieldStates, "seq": Int(s.seq),
                       "users": s.users, "devices": s.devices, "bytes": s.bytes, "seconds": seconds] as [String: Any])
        } else {
            print(L10n.t(.srvBackupDone, s.folder, s.replica, s.fieldStates, s.seq, s.users, s.devices, s.bytes,
                         String(format: "%.1f", seconds)))
        }
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: L10n.pick("Put a backup in place of the data folder (server stopped) and start a new epoch.",
                            "用备份替换数据目录（须先停止服务器），并开始新纪元。"),
        discussion: L10n.pick("The files replaced are moved to <data>/before-restore-<time>/, never deleted. On their next sync the clients pull from the start and push everything again, so the server gets back what it lost since the backup. With the backup's accounts the server gets a new token key.",
                              "被替换的文件移到 <data>/before-restore-<时间>/，不会删除。各客户端下次同步时从头下载并重新上传全部数据，服务器由此补回备份之后丢失的内容。恢复备份中的账号时，服务器会换用新的令牌密钥。"))
    @OptionGroup var options: ServerOptions
    @Option(help: ArgumentHelp(L10n.pick("Backup folder made by `daiban-server backup`.", "由 `daiban-server backup` 生成的备份目录。"), valueName: "folder")) var from: String
    @Flag(help: .l("Restore the replica only; keep the data folder's accounts, devices and token key.",
                   "只恢复副本；保留数据目录中现有的账号、设备和令牌密钥。")) var keepAccounts = false
    @Flag(help: .l("Print the result as JSON.", "以 JSON 格式输出结果。")) var json = false

    func run() async throws {
        let config = try options.load()
        if config.database != nil { throw ConfigError(L10n.t(.srvBackupOnPostgres)) }
        let lock = try DataFolderLock(data: config.data, purpose: "restore")
        defer { withExtendedLifetime(lock) {} }
        let r = try ServerBackup.restore(from: from, config: config, keepAccounts: keepAccounts)
        let s = r.summary
        if json {
            printJSON(["data": s.folder, "from": from, "replica": s.replica, "field_states": s.fieldStates, "seq": Int(s.seq),
                       "users": s.users, "devices": s.devices, "epoch": r.epoch, "kept_at": r.keptAt ?? NSNull(),
                       "accounts_restored": r.accountsRestored] as [String: Any])
            return
        }
        print(L10n.t(.srvRestoreDone, s.folder, from, s.replica, s.fieldStates, s.users, s.devices, r.epoch))
        if let kept = r.keptAt { print(L10n.t(.srvRestoreKept, kept)) }
        if r.accountsRestored { print(L10n.t(.srvRestoreAccounts)) }
        print(L10n.t(.srvRestoreNext))
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: L10n.pick("全程留痕: who delivered which field version, from which device, when.", "全程留痕：谁在何时从哪台设备送达了哪个字段版本。"))
    @OptionGroup var options: ServerOptions
    @Option(help: .l("Only this table.", "只看该表。")) var table: String?
    @Option(help: .l("Only this row (with --table).", "只看该记录（与 --table 同用）。")) var row: String?
    @Option(help: .l("Most entries, newest first.", "最多显示的条数（最新的在前）。")) var limit = 100
    @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

    func validate() throws {
        if row != nil && table == nil { throw ValidationError(L10n.t(.srvRowNeedsTable)) }
    }

    func run() async throws {
        let c = try options.load()
        let replica = try await ServerOptions.replica(c)
        let entries = try replica.audit(table: table, key: row, limit: limit)
        if json {
            printJSON(entries.map { e -> [String: Any] in
                ["table": e.table, "row": e.key, "field": e.field, "writer": e.writer.description, "author": e.author,
                 "hlc": e.hlc.description, "via_user": e.viaUser, "via_device": e.viaDevice,
                 "applied_at": e.appliedAt]
            })
            return
        }
        printTable([L10n.t(.srvColTable), L10n.t(.srvColRow), L10n.t(.srvColField), L10n.t(.srvColAuthor), L10n.t(.srvColWriter),
                    L10n.t(.srvColVia), L10n.t(.srvColApplied)], entries.map {
            [$0.table, $0.key, $0.field, $0.author, $0.writer.short, "\($0.viaUser)@\($0.viaDevice)",
             isoTime(Int64($0.appliedAt / 1000))]
        })
    }
}

struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: L10n.pick("Versions the server refused (rights, scope, clocks, signatures, bounds), with the reason, kept for review.",
                            "隔离区：服务器拒收的版本（权限、范围、时钟、签名、限额）及拒收原因，留存备查。"))
    @OptionGroup var options: ServerOptions
    @Option(help: .l("Most entries, newest first.", "最多显示的条数（最新的在前）。")) var limit = 100
    @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

    func run() async throws {
        let c = try options.load()
        let replica = try await ServerOptions.replica(c)
        let entries = try replica.quarantine(limit: limit)
        if json {
            printJSON(entries.map { e -> [String: Any] in
                ["table": e.table, "row": e.key, "field": e.field, "value": e.value.displayText, "writer": e.writer.description,
                 "author": e.author, "hlc": e.hlc.description, "via_user": e.viaUser ?? NSNull(), "via_device": e.viaDevice ?? NSNull(),
                 "reason": e.reason, "message": e.message, "account": e.account ?? NSNull(),
                 "refused_at": e.at.map { Int64($0 / 1000) } ?? NSNull()]
            })
            return
        }
        printTable([L10n.t(.srvColTable), L10n.t(.srvColRow), L10n.t(.srvColField), L10n.t(.srvColValue), L10n.t(.srvColAuthor),
                    L10n.t(.srvColWriter), L10n.t(.srvColVia), L10n.t(.srvColReason)], entries.map {
            [$0.table, $0.key, $0.field, clip($0.value.displayText, width: 30), $0.author, $0.writer.short,
             "\($0.viaUser ?? "")@\($0.viaDevice ?? "")", $0.reason]
        })
    }
}

func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }

/// `+3 min`, `-12 s`: a device clock against the server's.
private func skewText(_ ms: Int64) -> String {
    let s = ms / 1000
    return abs(s) >= 120 ? L10n.t(.srvSkewMinutes, String(format: "%+d", s / 60)) : L10n.t(.srvSkewSeconds, String(format: "%+d", s))
}

private func isoTime(_ seconds: Int64) -> String {
    let f = ISO8601DateFormatter()
    return f.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
}

private func generatePassword() -> String {
    let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
    var g = SystemRandomNumberGenerator()
    return String((0..<20).map { _ in alphabet[Int(g.next(upperBound: UInt(alphabet.count)))] })
}

private func printJSON(_ value: Any) {
    let data = try! JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

private func printTable(_ header: [String], _ rows: [[String]]) {
    print(TextTable(header: header, rows: rows).render())
}

extension L10n.Key {
    static let userAdded = Self(en: "added user {0} ({1}, id {2})", zh: "已添加用户 {0}（{1}，编号 {2}）")
    static let passwordChanged = Self(en: "password of {0} changed", zh: "已修改 {0} 的密码")
    static let sessionsRevoked = Self(en: "every session of {0} was ended; its devices sign in again", zh: "{0} 的所有登录已失效，各设备需重新登录")
    static let userDisabled = Self(en: "disabled {0}", zh: "已停用 {0}")
    static let userEnabled = Self(en: "enabled {0}", zh: "已启用 {0}")
    static let deviceRevoked = Self(en: "revoked device {0}", zh: "已停用设备 {0}")
    static let newEpoch = Self(en: "new epoch {0}: restart the server; clients resynchronise on their next sync",
                               zh: "新纪元 {0}：请重启服务器；各客户端下次同步时将重新同步全部数据")
    static let bootstrapped = Self(en: "created centre user {0}", zh: "已创建中心用户 {0}")
    static let bootstrapPassword = Self(en: "password (shown once, keep it safe): {0}", zh: "密码（仅显示一次，请妥善保管）：{0}")
    static let bootstrapNext = Self(
        en: "point a client at this server:\n  daiban init --server {0} --home ./centre-home\n  daiban login --home ./centre-home --user {1} --password-stdin",
        zh: "让客户端连接本服务器：\n  daiban init --server {0} --home ./centre-home\n  daiban login --home ./centre-home --user {1} --password-stdin")
}
