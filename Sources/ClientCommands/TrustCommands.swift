import TerminalText
import CommandText
import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncContract
import SyncCore
import SyncProtocol
import Crypto

/// `daiban rejected`: changes the server refused. They stay on this device (nothing typed is lost) until the
/// user reverts them, which takes the server's value back.
struct Rejected: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rejected",
        abstract: L10n.pick("Changes the server refused (拒收的变更): list them, or take the server's value back.", "服务器拒收的变更：查看，或恢复为服务器上的值。"),
        subcommands: [List.self, Revert.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list",
            abstract: L10n.pick("Refused changes still shown on this device (--all: reverted and replaced ones too).",
                                "列出本机仍显示的被拒收变更（--all：也列出已恢复和已被取代的）。"))
        @OptionGroup var home: HomeOptions
        @Flag(help: .l("Include reverted and superseded refusals.", "包括已恢复和已被取代的拒收记录。")) var all = false
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() throws {
            try reporting {
                let list = try home.open().refusals(all: all)
                if json {
                    print(JSON.array(list.map(rejectedJSON)).text)
                    return
                }
                if list.isEmpty {
                    print(L10n.t(.noRefusals))
                    return
                }
                var t = TextTable(header: [L10n.t(.colID), L10n.t(.colTable), L10n.t(.colRow), L10n.t(.colField),
                                           L10n.t(.colValue), L10n.t(.colReason), L10n.t(.colState)])
                for r in list {
                    t.rows.append([String(r.id), r.table, r.key, r.field, clip(r.value.displayText, width: 20),
                                   refusalReason(r.reason), stateName(r.state)])
                }
                print(t.render())
                for r in list where r.state == "open" { print("  #\(r.id): \(r.message)") }
            }
        }
    }

    struct Revert: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revert",
            abstract: L10n.pick("Take the server's value back for refused changes (the refused values stay listed with --all).",
                                "把被拒收的变更恢复为服务器上的值（被拒收的值仍可用 --all 查看）。"))
        @OptionGroup var home: HomeOptions
        @Argument(help: .l("Refusal ids from `daiban rejected list`.", "拒收记录编号（见 `daiban rejected list`）。")) var ids: [Int64] = []
        @Flag(help: .l("Revert every open refusal.", "恢复全部未处理的拒收变更。")) var all = false

        func validate() throws {
            guard all != !ids.isEmpty else { throw ValidationError(L10n.t(.revertNeedsOne)) }
        }

        func run() throws {
            try reporting {
                let n = try home.open().revertRefusals(all ? nil : ids)
                print(L10n.t(.reverted, n))
            }
        }
    }
}

func rejectedJSON(_ r: RejectedChange) -> JSON {
    .object([
        ("id", .int(r.id)), ("table", .string(r.table)), ("row", .string(r.key)), ("field", .string(r.field)),
        ("value", JSON(r.value)), ("writer", .string(r.writer.description)), ("author", .string(r.author)),
        ("hlc", .string(r.hlc.description)), ("reason", .string(r.reason)), ("message", .string(r.message)),
        ("refused_at", .string(utcTime(seconds: Int64(r.at / 1000)))), ("state", .string(r.state)),
    ])
}

private func stateName(_ s: String) -> String {
    guard L10n.chinese else { return s }
    return ["open": "待处理", "reverted": "已恢复", "superseded": "已被新修改取代"][s] ?? s
}

/// `daiban key`: this device's signing key.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "key",
        abstract: L10n.pick("This device's signing key (签名密钥): show its fingerprint, or replace it.", "本设备的签名密钥：查看指纹，或更换密钥。"),
        subcommands: [Show.self, Rotate.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: L10n.pick("The public key and its fingerprint.", "查看公钥及其指纹。"))
        @OptionGroup var home: HomeOptions
        @Flag(help: .l("Print as JSON.", "以 JSON 格式输出。")) var json = false

        func run() throws {
            try reporting {
                _ = try home.open()
                let key = try home.deviceKey().publicKey
                let hex = key.map { String(format: "%02x", $0) }.joined()
                let fp = fingerprint(key)
                if json {
                    print(JSON.object([("public_key", .string(hex)), ("fingerprint", .string(fp))]).text)
                } else {
                    print("\(L10n.t(.lblFingerprint)): \(fp)\n\(L10n.t(.lblPublicKey)): \(hex)")
                }
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rotate",
            abstract: L10n.pick("Make a new key; the server accepts it because the old key signs the hand-over (needs the link).",
                                "生成新密钥；由旧密钥签名交接，服务器据此接受新密钥（须联网）。"))
        @OptionGroup var home: HomeOptions

        func run() async throws {
            try await reportingAsync(home) {
                let replica = try home.open()
                guard var tokens = try home.session() else { throw CLIError(L10n.t(.notSignedIn)) }
                let old = try home.deviceKey()
                // The new key is on disk before the server learns it, and a rotation whose answer was lost is
                // finished by running the command again with the same new key.
                let pending = home.keyPath + ".new"
                let new: DeviceKey
                if let data = FileManager.default.contents(atPath: pending) {
                    new = try DeviceKey(rawRepresentation: [UInt8](data))
                } else {
                    new = DeviceKey()
                    try home.writePrivate(Data(new.rawRepresentation), to: pending)
                }
                // Bundles already made (on a stick, not yet relayed) stay valid under the old key up to here.
                let seq = try replica.currentSeq()
                let proof = old.sign(DeviceKeyRequest.rotationMessage(device: tokens.deviceID, newKey: new.publicKey, seq: seq))
                let connection = try home.connection()
                let sync = Synchronizer(replica: replica, connection: connection, tokens: tokens,
                                        saveTokens: { try home.saveSession($0); tokens = $0 })
                let result = await Result(catching: {
                    try await sync.authorized { token in
                        try await connection.setDeviceKey(new.publicKey, proof: proof, seq: seq, token: token)
                    }
                })
                await connection.shutdown()
                try result.get()
                guard rename(pending, home.keyPath) == 0 else {
                    throw CLIError("\(home.keyPath): \(String(cString: strerror(errno))); the new key is in \(pending)")
                }
                print(L10n.t(.keyRotated, fingerprint(new.publicKey)))
            }
        }
    }
}

/// The first 16 hex digits of the key's SHA-256 (what `daiban-server device list` shows).
func fingerprint(_ key: [UInt8]) -> String {
    SHA256.hash(data: Data(key)).prefix(8).map { String(format: "%02x", $0) }.joined()
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
