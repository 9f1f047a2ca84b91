public import TerminalText
import CommandText
import ArgumentParser
import CaseDomain
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import ReplicaStore
import SyncCore
import SyncProtocol

/// `--home`, shared by every command.
public struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: .l("Replica folder (default: $DAIBAN_HOME, else $XDG_DATA_HOME/daiban, else ~/.local/share/daiban).",
                                  "副本目录（默认：$DAIBAN_HOME，其次 $XDG_DATA_HOME/daiban，再次 ~/.local/share/daiban）。"))
    var home: String?

    public init() {}

    /// The replica folder.
    var directory: String {
        if let home { return home }
        let env = ProcessInfo.processInfo.environment
        if let h = env["DAIBAN_HOME"], !h.isEmpty { return h }
        if let x = env["XDG_DATA_HOME"], !x.isEmpty { return x + "/daiban" }
        return (env["HOME"] ?? ".") + "/.local/share/daiban"
    }

    var databasePath: String { directory + "/replica.sqlite" }
    /// This device's Ed25519 signing key (32 bytes, mode 0600): every bundle the replica makes is signed with it.
    var keyPath: String { directory + "/device.key" }

    /// Opens the replica with its signing key, or fails with a hint to run `daiban init`.
    func open() throws -> ReplicaDatabase {
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw CLIError(L10n.t(.noReplica, directory))
        }
        var replica = try ReplicaDatabase.open(at: databasePath, schema: DaibanSchema.schema)
        replica.signer = try deviceKey()
        return replica
    }

    /// The device key, made on first use (a home from before keys existed gets one then).
    func deviceKey() throws -> DeviceKey {
        if let data = FileManager.default.contents(atPath: keyPath) { return try DeviceKey(rawRepresentation: [UInt8](data)) }
        let key = DeviceKey()
        try writePrivate(Data(key.rawRepresentation), to: keyPath)
        return key
    }

    /// Writes a file readable by its owner only, atomically and durably: a crash or a power cut leaves the old file
    /// or the new one, and a failure (a full disk …) says why and leaves the old one.
    func writePrivate(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp"
        func failure(_ file: String) -> CLIError {
            let code = errno
            unlink(tmp)
            return CLIError(L10n.t(.cannotWrite, file, code == ENOSPC ? L10n.t(.diskFull) : String(cString: strerror(code))))
        }
        let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure(tmp) }
        var ok = data.withUnsafeBytes { buf -> Bool in
            var done = 0
            while done < buf.count {
                let n = write(fd, buf.baseAddress! + done, buf.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        let saved = errno
        close(fd)
        guard ok else { errno = saved; throw failure(tmp) }
        guard rename(tmp, path) == 0 else { throw failure(path) }
        let dir = Glibc.open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY)
        if dir >= 0 { fsync(dir); close(dir) }
    }
}

/// A failure the CLI reports as one line and exit code 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs a command body, turning known errors into one localized line on stderr and exit code 1.
func reporting(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as SyncError {
        fail((e.code == .valueTooLarge ? L10n.t(.valueTooLarge, e.message) : localized(e)) + " [\(e.code)]")
    } catch let e as CLIError {
        fail(e.description)
    } catch let e as StoreCorruption {
        fail(e.description)
    } catch let e as CocoaError {
        let path = (e.userInfo[NSFilePathErrorKey] as? String).map { $0 + ": " } ?? ""
        fail(path + localized(e))
    } catch let e as DatabaseError where e.resultCode == .SQLITE_FULL {
        fail(L10n.t(.diskFullWrite))
    } catch let e as DatabaseError {
        fail("SQLite: \(e.message ?? "error \(e.resultCode)")")
    }
}

/// A schema, input or bundle error: under a zh locale a Chinese sentence for its code, then the detail (which
/// names tables, fields and ids, never values).
func localized(_ e: SyncError) -> String {
    guard L10n.chinese else { return e.message }
    let zh: [SyncError.Code: String] = [
        .unknownTable: "没有这个表", .unknownField: "没有这个字段", .typeMismatch: "值的格式不对",
        .nullNotAllowed: "此项不能为空", .reservedField: "这是系统保留字段，不能直接写入", .invalidKey: "记录编号无效",
        .unknownRow: "没有这条记录", .unknownConflict: "没有这个冲突", .badMagic: "这不是 daiban 数据包",
        .unsupportedVersion: "数据包来自更新版本的 daiban，请先升级本机的 daiban", .checksumMismatch: "数据包已损坏（校验不符），请重新导出",
        .truncated: "数据包不完整（可能未拷贝完），请重新拷贝", .malformed: "数据包内容有误，请重新导出",
        .corruptStream: "数据包内容有误，请重新导出", .compressedTooLarge: "数据包过大", .decompressedTooLarge: "数据包解压后过大",
        .expansionRatioExceeded: "数据包解压比例异常，已拒收", .versionVectorTooLarge: "版本信息过大，已拒收",
        .tooManyItems: "条目过多，已拒收", .ownReplica: "这是本副本自己导出的数据包，无须导入",
        .counterOutOfRange: "版本计数超出范围，已拒收", .badName: "表名或字段名无效",
    ]
    guard let sentence = zh[e.code] else { return e.message }
    return "\(sentence)（\(e.message)）"
}

/// A file error in plain words, in Chinese under a zh locale.
func localized(_ e: CocoaError) -> String {
    guard L10n.chinese else { return e.localizedDescription }
    switch e.code {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "文件不存在"
    case .fileReadNoPermission: return "没有读取此文件的权限"
    case .fileWriteNoPermission: return "没有写入此处的权限"
    case .fileWriteOutOfSpace: return "磁盘空间已满，未写入任何内容"
    case .fileWriteFileExists: return "文件已存在"
    case .fileReadCorruptFile: return "文件已损坏"
    case .fileReadTooLarge: return "文件过大"
    default: return "无法读写文件（\(e.localizedDescription)）"
    }
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data((L10n.t(.error, message) + "\n").utf8))
    Foundation.exit(code)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of an HLC timestamp.
func utcTime(_ hlc: HLCTimestamp) -> String {
    let ms = Int64(hlc.physical)
    let days = ms / 86_400_000
    let secs = (ms % 86_400_000) / 1000
    func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(CivilDate(daysSinceEpoch: Int32(days))) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))"
}

/// `YYYY-MM-DD HH:MM:SS` of a clock reading in the county's time zone (what tables show; JSON keeps UTC).
func countyTime(_ hlc: HLCTimestamp, _ zone: TimeZone) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = zone
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: Double(hlc.physical) / 1000))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of Unix seconds.
func utcTime(seconds: Int64) -> String {
    utcTime(HLCTimestamp(physical: UInt64(max(0, seconds)) * 1000, logical: 0))
}
