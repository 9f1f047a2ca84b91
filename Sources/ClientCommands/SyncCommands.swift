import TerminalText
import CommandText
import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncProtocol
import SyncContract
import SyncCore
import CaseWorkflow

/// `<home>/server.json`: where this replica syncs.
struct ServerSettings: Codable {
    var url: String
    var caFile: String?
}

extension HomeOptions {
    var serverPath: String { directory + "/server.json" }
    var sessionPath: String { directory + "/session.json" }

    func serverSettings() throws -> ServerSettings {
        guard let data = FileManager.default.contents(atPath: serverPath) else {
            throw CLIError(L10n.t(.noServer, directory))
        }
        do { return try JSONDecoder().decode(ServerSettings.self, from: data) } catch {
            throw CLIError(L10n.t(.damagedHomeFile, serverPath, "daiban init --server URL"))
        }
    }

    func saveServerSettings(_ s: ServerSettings) throws {
        try writePrivate(JSONEncoder().encode(s), to: serverPath)
    }

    func session() throws -> SessionTokens? {
        guard let data = FileManager.default.contents(atPath: sessionPath) else { return nil }
        do { return try JSONDecoder().decode(SessionTokens.self, from: data) } catch {
            throw CLIError(L10n.t(.damagedHomeFile, sessionPath, "daiban login"))
        }
    }

    /// Tokens live in the home with mode 0600, written atomically.
    func saveSession(_ s: SessionTokens) throws {
        try writePrivate(JSONEncoder().encode(s), to: sessionPath)
    }

    func connection() throws -> ServerConnection {
        let s = try serverSettings()
        let timeout = ProcessInfo.processInfo.environment["DAIBAN_CONNECT_TIMEOUT"].flatMap(Int64.init) ?? 10
        return try ServerConnection(url: s.url, caFile: s.caFile, connectTimeout: max(1, timeout))
    }
}

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "login",
        abstract: L10n.pick("Sign in; registers this replica as your device. Tokens are kept in the home (mode 0600).",
                            "登录，并把本副本登记为你的设备。登录凭据保存在副本目录中（权限 0600）。"))
    @OptionGroup var home: HomeOptions
    @Option(help: .l("User name (default: the last one signed in).", "用户名（默认：上次登录的用户）。")) var user: String?
    @Flag(help: .l("Read the password from the first line of stdin.", "从标准输入的第一行读取密码。")) var passwordStdin = false
    @Option(help: .l("A name for this device (default: the host name).", "本设备的名称（默认：主机名）。")) var deviceName: String?

    func run() async throws {
        try await reportingAsync(home) {
            let replica = try home.open()
            guard let name = user ?? (try? home.session())?.user else { throw CLIError(L10n.t(.needUser)) }
            let password: String
            if passwordStdin {
                password = readLine(strippingNewline: true) ?? ""
            } else {
                FileHandle.standardError.write(Data(L10n.t(.passwordPrompt, name).utf8))
                password = String(cString: getpass(""))
            }
            let connection = try home.connection()
            defer { Task { await connection.shutdown() } }
            let tokens = try await connection.login(
                user: name, password: password, replica: replica.id,
                deviceName: deviceName ?? ProcessInfo.processInfo.hostName, signer: try home.deviceKey())
            await connection.shutdown()
            try home.saveSession(tokens)
            try replica.setAuthor(tokens.user)
            // Writes made before signing in carry another author; the server takes a device's writes only under
            // its account, so those still waiting are written again as the signed-in user (values unchanged).
            let pushed = UInt64(try replica.syncState(SyncStateKey.pushCursor) ?? "0") ?? 0
            let reauthored = try home.open().reauthorPending(after: pushed, author: tokens.user)
            print(L10n.t(.signedIn, tokens.user, tokens.role, tokens.deviceID, connection.baseURL))
            if reauthored > 0 { note(L10n.t(.reauthored, reauthored, tokens.user)) }
        }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync",
        abstract: L10n.pick("Push local changes, then pull until up to date; resumes where an interrupted sync stopped.",
                            "先上传本地变更，再下载到与服务器一致；同步中断后从断点继续。"))
    @OptionGroup var home: HomeOptions
    @Flag(help: .l("Print the report as JSON.", "以 JSON 格式输出结果。")) var json = false
    @Option(help: .l("Retries per request after a transient failure.", "每个请求遇到临时故障后的重试次数。")) var retries = 4
    @Option(help: .l("Target size of one pushed chunk in bytes (smaller chunks resend less on a link that keeps dropping).",
                     "每个上传分块的目标字节数（网络时断时续时，分块越小，重传越少）。"))
    var chunkBytes = 256 << 10

    func validate() throws {
        guard chunkBytes >= 4096 else { throw ValidationError("--chunk-bytes must be at least 4096") }
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
    }

    func run() async throws {
        try await reportingAsync(home) {
            let replica = try home.open()
            guard let tokens = try home.session() else { throw CLIError(L10n.t(.notSignedIn)) }
            // One sync per home at a time (a scheduled sync and a manual one would only repeat each other's
            // work, and race to spend the same refresh token). The lock goes with the process.
            let lock = open(home.directory + "/sync.lock", O_CREAT | O_RDWR, 0o600)
            guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else { throw CLIError(L10n.t(.syncRunning)) }
            defer { close(lock) }
            let connection = try home.connection()
            let sync = Synchronizer(replica: replica, connection: connection, tokens: tokens,
                                    saveTokens: { try home.saveSession($0) })
            sync.retries = retries
            sync.chunkBytes = chunkBytes
            sync.rowsOfExit = ReadScope.rowsOfExit
            var lastNote = Date()
            let result: Result<SyncReport, any Error>
            do {
                result = .success(try await sync.run { p in
                    guard Date().timeIntervalSince(lastNote) > 0.5 else { return }
                    lastNote = Date()
                    note(L10n.t(.syncProgress, L10n.t(p.phase == .push ? .phasePush : .phasePull), p.chunks,
                                byteSize(p.bytes), p.fields))
                })
            } catch {
                result = .failure(error)
            }
            await connection.shutdown()
            let r = try result.get()
            if json {
                print(JSON.object([
                    ("server", .string(connection.baseURL)),
                    ("pushed_chunks", .int(Int64(r.pushedChunks))), ("pushed_bytes", .int(Int64(r.pushedBytes))),
                    ("pushed_fields", .int(Int64(r.pushedFields))),
                    ("pulled_chunks", .int(Int64(r.pulledChunks))), ("pulled_bytes", .int(Int64(r.pulledBytes))),
                    ("pulled_fields", .int(Int64(r.pulledFields))), ("pulled_applied", .int(Int64(r.pulledApplied))),
                    ("open_conflicts", .int(Int64(r.conflictsOpen))), ("quarantined", .int(Int64(r.quarantined))),
                    ("refused", .object(r.refused.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
                    ("relayed_bundles", .int(Int64(r.relayedBundles))), ("purged_rows", .int(Int64(r.purgedRows))),
                    ("restamped", .int(Int64(r.restamped))),
                    ("clock_skew_seconds", r.clockSkewSeconds.map { .double($0) } ?? .null),
                    ("retries", .int(Int64(r.retries))),
                    ("seconds", .double(r.seconds)),
                ]).text)
                return
            }
            print(L10n.t(.synced, connection.baseURL, r.pushedFields, byteSize(r.pushedBytes), r.pulledFields,
                         r.pulledApplied, byteSize(r.pulledBytes), String(format: "%.1f", r.seconds), r.conflictsOpen))
            reportRefusals(r)
        }
    }
}

/// Tells the user, in plain words, what the server refused, what moved, and what their clock does.
func reportRefusals(_ r: SyncReport) {
    if r.relayedBundles > 0 { note(L10n.t(.relayed, r.relayedBundles)) }
    if r.restamped > 0 { note(L10n.t(.restamped, r.restamped)) }
    if r.purgedRows > 0 { note(L10n.t(.purged, r.purgedRows)) }
    if r.deferredExits > 0 { note(L10n.t(.exitDeferred)) }
    if let skew = r.clockSkewSeconds, abs(skew) > 120 {
        note(L10n.t(skew > 0 ? .clockAheadWarning : .clockBehindWarning, Int(abs(skew) / 60)))
    }
    guard r.quarantined > 0 else { return }
    let reasons = r.refused.sorted { $0.key < $1.key }.map { "\(refusalReason($0.key)) ×\($0.value)" }.joined(separator: "，")
    note(L10n.t(.refusedSummary, r.quarantined, reasons))
    if r.refused["clock_ahead"] != nil { note(L10n.t(.fixClock)) }
}

/// A refusal reason in the user's language.
func refusalReason(_ code: String) -> String {
    let zh: [String: String] = [
        "forbidden": "无权修改", "outside_scope": "不在本账号负责范围", "scope_field": "归属字段只能由县中心修改",
        "unknown_field": "服务器不认识的表或字段", "vv_claim": "版本信息不可信", "author_mismatch": "作者与账号不符",
        "unsigned_relay": "转交的数据缺少原设备签名", "bad_signature": "签名无效", "writer_revoked": "原设备已停用",
        "clock_ahead": "本机时钟超前", "too_many_versions": "并发版本过多", "state_too_large": "字段数据过大",
    ]
    let en: [String: String] = [
        "forbidden": "not this account's to write", "outside_scope": "outside this account's cases",
        "scope_field": "a field only the centre changes", "unknown_field": "a table or field the server does not know",
        "vv_claim": "an untrustworthy version vector", "author_mismatch": "author is not the account",
        "unsigned_relay": "relayed without the writer's signature", "bad_signature": "bad signature",
        "writer_revoked": "the writing device is revoked", "clock_ahead": "this device's clock is ahead",
        "too_many_versions": "too many concurrent versions", "state_too_large": "field too large",
    ]
    return ((L10n.chinese ? zh : en)[code] ?? code) + " [\(code)]"
}

/// Like `reporting`, for commands that talk to the server: an unreachable server is exit code 3 with the
/// number of changes still waiting; an expired session asks to sign in again.
func reportingAsync(_ home: HomeOptions, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let e as SyncClientError {
        let text = localized(e)
        switch e {
        case .unreachable, .stalled:
            let pending = (try? pendingChanges(home)) ?? 0
            fail(L10n.t(.unreachable, text, pending), code: 3)
        case .server(_, let code, _, _)
            where ["invalid_refresh_token", "device_revoked", "user_disabled", "invalid_credentials"].contains(code):
            fail(L10n.t(.signInAgain, text))
        default:
            fail(text)
        }
    } catch {
        try reporting { throw error }
    }
}

/// The server's message, or under a Chinese locale a Chinese one for the codes people meet (the code is kept).
func localized(_ e: SyncClientError) -> String {
    guard L10n.chinese else { return e.description }
    switch e {
    case .unreachable(let message), .stalled(let message):
        var m = message
        for (en, zh) in [("cannot reach ", "连接不上 "), ("the connection to ", "与 "), (" broke: ", " 的连接中断："),
                         ("no answer to the connection attempt", "连接请求无应答"), ("connection refused", "服务器拒绝连接（服务未启动？）"),
                         ("the connection was cut (reset)", "连接被切断（重置）"), ("the server closed the connection", "服务器关闭了连接"),
                         ("no route to the server", "网络不通，无法到达服务器"), ("the server's name was not found", "找不到服务器地址")] {
            m = m.replacingOccurrences(of: en, with: zh)
        }
        if let r = m.range(of: #"the link went silent for (\d+) s"#, options: .regularExpression) {
            let n = m[r].filter(\.isNumber)
            m.replaceSubrange(r, with: "网络已 \(n) 秒没有任何数据（链路中断）")
        }
        return "无法连接服务器（\(m)）"
    case .server(_, let code, _, let retryAfter):
        let zh: [String: String] = [
            "unauthenticated": "尚未登录", "token_expired": "登录已过期", "invalid_token": "登录凭据无效",
            "invalid_credentials": "用户名或密码错误", "invalid_refresh_token": "登录已失效",
            "too_many_attempts": "登录尝试过多，已暂停登录，请 \(retryAfter ?? 60) 秒后再试，或请县中心解除暂停",
            "device_revoked": "本设备已被中心停用，本地数据仍然保留", "user_disabled": "该账号已停用",
            "replica_taken": "本副本已登记在其他用户名下，请用 daiban init 新建副本",
            "upgrade_required": "客户端版本过旧，请升级 daiban", "protocol_unsupported": "服务器版本过旧，请升级服务器",
            "relay_forbidden": "代办员账号只能上传本机录入的变更", "sender_mismatch": "数据包不是本设备生成的",
            "payload_too_large": "上传的数据过大", "forbidden": "无权执行此操作",
            "device_key_required": "服务器尚未登记本设备的签名密钥，请重新登录",
            "device_key_mismatch": "本设备的签名密钥与服务器登记的不一致；请联系县中心",
            "bad_signature": "签名验证失败（数据包或登录的签名不符）",
            "storage_full": "服务器磁盘已满，本次上传没有保存；本机的变更都还在，请稍后再同步", "cursor_ahead": "服务器数据已被替换，将重新同步",
        ]
        return zh[code].map { "\($0) [\(code)]" } ?? e.description
    case .invalidResponse:
        return "服务器返回了无法识别的内容：" + e.description
    }
}

/// `137 B`, `12.5 KiB`, `3.2 MiB`.
func byteSize(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) }
    return String(format: "%.1f MiB", Double(n) / 1_048_576)
}

/// Field changes the server has not acknowledged yet.
func pendingChanges(_ home: HomeOptions) throws -> Int {
    let replica = try home.open()
    return try replica.fieldStates(after: UInt64(try replica.syncState(SyncStateKey.pushCursor) ?? "0") ?? 0)
}

/// The centre's device directory, by replica id (empty for other roles).
func deviceDirectory(_ replica: ReplicaDatabase) -> [String: DirectoryEntry] {
    guard let text = try? replica.syncState(SyncStateKey.directory),
          let list = try? JSONDecoder().decode([DirectoryEntry].self, from: Data(text.utf8))
    else { return [:] }
    return Dictionary(list.map { ($0.replica, $0) }, uniquingKeysWith: { a, _ in a })
}
