import ArgumentParser
import CaseDomain
import CaseWorkflow
import Foundation
import GRDB
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import TerminalText
import CommandText

extension L10n.Key {
    static let doctorAbstract = Self(
        en: "Check this laptop's replica: file integrity, clock, calendar, pending and refused changes, disk space, server.",
        zh: "检查本机副本：文件完整性、时钟、工作日历、待上传与被拒绝的修改、磁盘空间、服务器连通。")
    static let backupAbstract = Self(en: "Copy the whole replica into one file (consistent while you work; readable by you only).",
                                     zh: "将整个副本复制为一个文件（工作中也能得到一致的副本；仅本人可读）。")
    static let backupToHelp = Self(en: "The file to write.", zh: "要写入的文件。")
    static let backupForceHelp = Self(en: "Replace the file if it exists.", zh: "文件已存在时覆盖。")
    static let backupExists = Self(en: "{0} exists: choose another name or add --force", zh: "{0} 已存在：请换一个文件名，或加 --force 覆盖")
    static let backupBad = Self(en: "the copy {0} failed its check ({1}); the replica itself is unchanged",
                                zh: "副本文件 {0} 未通过检查（{1}）；原副本未受影响")
    static let backupDone = Self(en: "backed up replica {0} ({1} field states, sequence {2}) to {3}: {4} bytes in {5} s",
                                 zh: "已将副本 {0}（{1} 个字段状态，序号 {2}）备份到 {3}：{4} 字节，用时 {5} 秒")
    static let backupWorking = Self(en: "copying the replica…", zh: "正在复制副本…")
    static let checkIntegrity = Self(en: "replica file", zh: "副本文件")
    static let checkClock = Self(en: "clock", zh: "时钟")
    static let checkCalendar = Self(en: "working-day calendar", zh: "工作日历")
    static let checkPending = Self(en: "pending changes", zh: "待上传修改")
    static let checkRefused = Self(en: "refused changes", zh: "被拒绝的修改")
    static let checkDisk = Self(en: "disk space", zh: "磁盘空间")
    static let checkServer = Self(en: "server", zh: "服务器")
    static let stateOK = Self(en: "ok", zh: "正常")
    static let stateWarn = Self(en: "warning", zh: "注意")
    static let stateFail = Self(en: "problem", zh: "问题")
    static let stateSkip = Self(en: "not checked", zh: "未检查")
    static let integrityOK = Self(en: "SQLite finds the file sound", zh: "SQLite 检查文件完好")
    static let integrityBad = Self(en: "SQLite reports damage: {0}; restore from a backup (`daiban backup`) and sync",
                                   zh: "SQLite 报告文件损坏：{0}；请从备份恢复（`daiban backup`）后同步")
    static let clockNever = Self(en: "never compared with a server (bundle-only or not yet synced)", zh: "尚未与服务器比对（仅用数据包，或尚未同步）")
    static let clockOK = Self(en: "{0} s from the server's clock ({1})", zh: "与服务器时钟相差 {0} 秒（{1}）")
    static let clockAhead = Self(
        en: "{0} s ahead of the server ({1}): writes stamped now would be refused; set the date and time, then sync",
        zh: "比服务器快 {0} 秒（{1}）：现在填写的内容会被服务器拒绝；请校准日期时间后同步")
    static let clockOff = Self(en: "{0} s from the server's clock ({1}): set the date and time", zh: "与服务器时钟相差 {0} 秒（{1}）：请校准日期时间")
    static let clockBehindSeen = Self(en: "this clock reads {0}, before the server time last seen ({1}): set the date and time",
                                      zh: "本机时间为 {0}，早于上次所见的服务器时间（{1}）：请校准日期时间")
    static let clockLive = Self(en: "measured now", zh: "刚刚测得")
    static let clockLast = Self(en: "at the last sync", zh: "上次同步时")
    static let calendarOK = Self(en: "covers today; version {0}", zh: "覆盖今天；版本 {0}")
    static let pendingNone = Self(en: "none: the server has everything written here", zh: "无：本机填写的内容服务器都已收到")
    static let pendingSome = Self(en: "{0} field change(s) not yet on the server; last sync {1}", zh: "{0} 处修改尚未上传；上次同步 {1}")
    static let pendingOld = Self(en: "{0} field change(s) not yet on the server and no sync since {1}: sync when you have a link",
                                 zh: "{0} 处修改尚未上传，且自 {1} 起未同步：有网络时请同步")
    static let pendingBundle = Self(en: "bundle-only home: `daiban peers` shows what each peer has acknowledged",
                                    zh: "仅用数据包：用 `daiban peers` 查看各对端已确认的内容")
    static let neverSynced = Self(en: "never", zh: "从未")
    static let refusedNone = Self(en: "none", zh: "无")
    static let refusedSome = Self(en: "{0} change(s) the server refused: `daiban rejected list` shows why",
                                  zh: "{0} 处修改被服务器拒绝：用 `daiban rejected list` 查看原因")
    static let diskOK = Self(en: "{0} MiB free (the replica takes {1} MiB)", zh: "剩余 {0} MiB（副本占用 {1} MiB）")
    static let diskLow = Self(en: "only {0} MiB free (the replica takes {1} MiB): free some space before the next sync",
                              zh: "仅剩 {0} MiB（副本占用 {1} MiB）：下次同步前请清理磁盘")
    static let serverNone = Self(en: "no server set (`daiban init --server URL`)", zh: "未设置服务器（`daiban init --server 地址`）")
    static let serverOK = Self(en: "{0} answers (protocol {1})", zh: "{0} 可以连通（协议 {1}）")
    static let serverDown = Self(en: "{0} cannot be reached ({1}): work on offline and sync later; nothing is lost",
                                 zh: "无法连接 {0}（{1}）：可继续离线工作，稍后同步，内容不会丢失")
}

/// `daiban doctor`: what a clerk or the county's IT needs to know about one laptop, each with what to do.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: L10n.t(.doctorAbstract))
    @OptionGroup var home: HomeOptions
    @OptionGroup var output: OutputOptions
    @Flag(help: .l("Do not contact the server (judge the clock by the last sync).", "不连接服务器（按上次同步判断本机时钟）。")) var offline = false

    enum State: String { case ok, warning, problem, skipped }

    struct Check {
        var key: String
        var name: L10n.Key
        var state: State
        var detail: String
    }

    func run() async throws {
        var failed = false
        try await reportingAsync(home) {
            var checks: [Check] = []
            func add(_ key: String, _ name: L10n.Key, _ state: State, _ detail: String) {
                checks.append(Check(key: key, name: name, state: state, detail: detail))
            }
            let replica: ReplicaDatabase
            do {
                replica = try home.open()
            } catch let e as DatabaseError {
                // A file SQLite cannot even open is the one problem worth reporting: nothing else can be checked.
                add("integrity", .checkIntegrity, .problem, L10n.t(.integrityBad, e.message ?? "\(e.resultCode)"))
                show(checks)
                failed = true
                return
            }

            let problems = try replica.integrityProblems()
            add("integrity", .checkIntegrity, problems.isEmpty ? .ok : .problem,
                problems.isEmpty ? L10n.t(.integrityOK) : L10n.t(.integrityBad, problems.prefix(3).joined(separator: "; ")))

            // The server, then the clock: a live measurement beats the last sync's.
            let settings = try? home.serverSettings()
            var liveSkew: Double?
            if let settings, !offline {
                do {
                    let connection = try home.connection()
                    do {
                        let (health, serverTime) = try await connection.health()
                        if let serverTime { liveSkew = (Date().timeIntervalSince1970 * 1000 - Double(serverTime)) / 1000 }
                        add("server", .checkServer, .ok, L10n.t(.serverOK, settings.url, health.protocol))
                    } catch {
                        add("server", .checkServer, .warning, L10n.t(.serverDown, settings.url, String(describing: error)))
                    }
                    await connection.shutdown()
                } catch {
                    add("server", .checkServer, .warning, L10n.t(.serverDown, settings.url, String(describing: error)))
                }
            } else {
                add("server", .checkServer, .skipped, settings == nil ? L10n.t(.serverNone) : "--offline")
            }

            let lastSkew = try replica.syncState(SyncStateKey.clockSkewMillis).flatMap(Double.init).map { $0 / 1000 }
            let seenServer = try replica.syncState(SyncStateKey.serverTimeSeen).flatMap(Double.init)
            let nowMillis = Date().timeIntervalSince1970 * 1000
            if let skew = liveSkew ?? lastSkew {
                let when = L10n.t(liveSkew != nil ? .clockLive : .clockLast)
                let seconds = String(format: "%+.0f", skew)
                if skew > 300 { add("clock", .checkClock, .problem, L10n.t(.clockAhead, seconds, when)) }
                else if abs(skew) > 60 { add("clock", .checkClock, .warning, L10n.t(.clockOff, seconds, when)) }
                else if liveSkew == nil, let seen = seenServer, nowMillis < seen - 86_400_000 {
                    add("clock", .checkClock, .warning, L10n.t(.clockBehindSeen, localTime(millis: nowMillis), localTime(millis: seen)))
                } else { add("clock", .checkClock, .ok, L10n.t(.clockOK, seconds, when)) }
            } else {
                add("clock", .checkClock, .skipped, L10n.t(.clockNever))
            }

            let wf = Workflow(replica: replica)
            if let warning = try wf.calendarWarning(for: wf.today()) {
                add("calendar", .checkCalendar, .warning, warning)
            } else {
                add("calendar", .checkCalendar, .ok, L10n.t(.calendarOK, try wf.read { try $0.calendarVersions().local }))
            }

            if settings != nil {
                let pending = try pendingChanges(home)
                let last = try replica.syncState(SyncStateKey.lastSyncAt).flatMap(Double.init)
                let lastText = last.map { localTime(millis: $0 * 1000) } ?? L10n.t(.neverSynced)
                if pending == 0 { add("pending", .checkPending, .ok, L10n.t(.pendingNone)) }
                else if (last ?? 0) < Date().timeIntervalSince1970 - 3 * 86_400 {
                    add("pending", .checkPending, .warning, L10n.t(.pendingOld, pending, lastText))
                } else { add("pending", .checkPending, .ok, L10n.t(.pendingSome, pending, lastText)) }
                let refused = try replica.refusals().count
                add("refused", .checkRefused, refused == 0 ? .ok : .warning,
                    refused == 0 ? L10n.t(.refusedNone) : L10n.t(.refusedSome, refused))
            } else {
                add("pending", .checkPending, .skipped, L10n.t(.pendingBundle))
            }

            var fs = statvfs()
            let replicaMiB = fileMiB(home.databasePath) + fileMiB(home.databasePath + "-wal")
            if statvfs(home.directory, &fs) == 0 {
                let free = Double(fs.f_bavail) * Double(fs.f_frsize) / 1_048_576
                let state: State = free < 50 ? .problem : (free < max(500, replicaMiB) ? .warning : .ok)
                add("disk", .checkDisk, state, L10n.t(state == .ok ? .diskOK : .diskLow, Int(free), Int(replicaMiB.rounded(.up))))
            }

            show(checks)
            failed = checks.contains { $0.state == .problem }
        }
        if failed { throw ExitCode(1) }
    }

    func show(_ checks: [Check]) {
        var g = Grid(name: "doctor", columns: [
            Grid.Column("check", "CHECK", "检查项"), Grid.Column("state", "STATE", "状态"), Grid.Column("detail", "DETAIL", "说明"),
        ])
        for c in checks {
            let state: String = output.effective == .json ? c.state.rawValue : L10n.t(label(c.state))
            g.rows.append([.text(output.effective == .json ? c.key : L10n.t(c.name)), .text(state), .text(c.detail)])
        }
        g.summary = [(Grid.Column("problems", "problems", "问题"), .int(checks.filter { $0.state == .problem }.count)),
                     (Grid.Column("warnings", "warnings", "注意"), .int(checks.filter { $0.state == .warning }.count))]
        if output.effective == .table {
            // Every word of the advice matters here: the details are not clipped as list cells are.
            var t = TextTable(header: g.columns.map(\.heading))
            t.rows = g.rows.map { $0.map(\.display) }
            print(t.render())
            print(g.summary.map { "\($0.0.heading): \($0.1.display)" }.joined(separator: "   "))
        } else {
            emit(g, output)
        }
    }

    func label(_ s: State) -> L10n.Key {
        switch s {
        case .ok: .stateOK
        case .warning: .stateWarn
        case .problem: .stateFail
        case .skipped: .stateSkip
        }
    }

    func fileMiB(_ path: String) -> Double {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.doubleValue ?? 0) / 1_048_576
    }
}

/// The device's local time of a Unix millisecond instant, `YYYY-MM-DD HH:MM`.
func localTime(millis: Double) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.dateFormat = "yyyy-MM-dd HH:mm"
    return f.string(from: Date(timeIntervalSince1970: millis / 1000))
}

/// `daiban backup --to FILE`: one consistent file of the whole replica.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "backup", abstract: L10n.t(.backupAbstract))
    @OptionGroup var home: HomeOptions
    @Option(help: ArgumentHelp(L10n.t(.backupToHelp), valueName: "file")) var to: String
    @Flag(help: ArgumentHelp(L10n.t(.backupForceHelp))) var force = false
    @Flag(help: .l("Print the result as JSON.", "以 JSON 格式输出结果。")) var json = false

    /// Opens the copy on its own, checks it is sound and the same replica, and closes it again.
    func check(_ path: String, against id: ReplicaID) throws -> ReplicaStatus {
        let copy = try ReplicaDatabase.open(at: path, schema: DaibanSchema.schema)
        let problems = try copy.integrityProblems()
        guard problems.isEmpty, copy.id == id else { throw CLIError(L10n.t(.backupBad, to, problems.first ?? "replica id")) }
        return try copy.status()
    }

    func run() throws {
        try reporting {
            let replica = try home.open()
            let fm = FileManager.default
            if fm.fileExists(atPath: to) && !force { throw CLIError(L10n.t(.backupExists, to)) }
            let started = Date()
            note(L10n.t(.backupWorking))
            // Into a temporary name beside the target, checked, then moved: a failed copy never replaces a good one.
            let tmp = to + ".partial"
            try? fm.removeItem(atPath: tmp)
            try replica.backup(to: tmp)
            let status: ReplicaStatus
            do {
                status = try check(tmp, against: replica.id)
            } catch {
                for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: tmp + suffix) }
                throw error
            }
            if fm.fileExists(atPath: to) { try fm.removeItem(atPath: to) }
            try fm.moveItem(atPath: tmp, toPath: to)
            for suffix in ["-wal", "-shm"] { try? fm.removeItem(atPath: tmp + suffix) }
            let bytes = (try? fm.attributesOfItem(atPath: to)[.size] as? NSNumber)?.intValue ?? 0
            let seconds = Date().timeIntervalSince(started)
            if json {
                print(JSON.object([("file", .string(to)), ("replica", .string(replica.id.description)), ("bytes", .int(Int64(bytes))),
                                   ("field_states", .int(Int64(status.fieldStates))), ("seq", .int(Int64(status.seq))),
                                   ("seconds", .double(seconds))]).text)
            } else {
                print(L10n.t(.backupDone, replica.id.short, status.fieldStates, status.seq, to, bytes, String(format: "%.1f", seconds)))
            }
        }
    }
}
