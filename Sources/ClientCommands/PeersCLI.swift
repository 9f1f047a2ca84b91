import ArgumentParser
import CaseWorkflow
import Foundation
import ReplicaStore
import SyncClient
import SyncCore
import TerminalText

extension L10n.Key {
    static let peersAbstract = Self(en: "The replicas this one exchanges with: names, users, what each has received.",
                                    zh: "与本副本交换数据的对端副本：名称、用户、各自已收到的内容。")
    static let peersNameAbstract = Self(en: "Give a peer a name to use with `export --for` (or clear it).",
                                        zh: "为对端副本起一个名称，供 `export --for` 使用（或清除名称）。")
    static let peerArgHelp = Self(
        en: "The peer: its name, `centre`, `server`, its user's login, or its replica id (or the id's first digits).",
        zh: "对端副本：名称、centre（中心）、server（服务器）、其用户的登录名，或副本 id（或 id 的前几位）。")
    static let peerNameHelp = Self(en: "The name to give it.", zh: "要起的名称。")
    static let peerClearHelp = Self(en: "Remove the name instead.", zh: "改为清除名称。")
    static let peerNamed = Self(en: "peer {0} is now called {1}", zh: "对端副本 {0} 现名为 {1}")
    static let peerUnnamed = Self(en: "peer {0} has no name now", zh: "对端副本 {0} 的名称已清除")
    static let peerNameTaken = Self(en: "the name {0} is already given to peer {1}", zh: "名称 {0} 已用于对端副本 {1}")
    static let peerBadName = Self(en: "a peer's name is 1–32 characters without blanks, and not a replica id",
                                  zh: "对端名称须为 1–32 个字符、不含空格，且不能是副本 id")
    static let peerUnknown = Self(
        en: "no peer {0} here; known peers: {1} (`daiban peers` lists them; a 32-digit replica id is always accepted)",
        zh: "本副本没有对端“{0}”；已知对端：{1}（用 `daiban peers` 查看；也可直接使用 32 位副本 id）")
    static let peerAmbiguous = Self(en: "{0} could be several peers: {1}; use a name or the replica id",
                                    zh: "“{0}”对应多个对端副本：{1}；请使用名称或副本 id")
    static let noneYet = Self(en: "none yet", zh: "暂无")
}

/// The name a peer answers to, and how to find one from what a user types.
struct PeerDirectory {
    let replica: ReplicaDatabase
    let peers: [PeerInfo]
    let server: ReplicaID?
    let people: [String: RosterEntry]

    init(_ replica: ReplicaDatabase) throws {
        self.replica = replica
        var peers = try replica.peers()
        server = try replica.syncState(SyncStateKey.serverReplica).flatMap(ReplicaID.init(hex:))
        if let server, !peers.contains(where: { $0.replica == server }) {
            peers.append(PeerInfo(replica: server))
        }
        self.peers = peers
        people = (try? Workflow(replica: replica).people(logins: peers.compactMap(\.author))) ?? [:]
    }

    /// A peer whose user sits in the county centre's office, or the server (which holds the county's replica).
    func isCentre(_ p: PeerInfo) -> Bool {
        p.replica == server || p.author.flatMap { people[$0]?.officeLevel } == "COUNTY_CENTER"
    }

    /// `centre`, `server`: the names every home knows without being told.
    func builtInNames(_ p: PeerInfo) -> [String] {
        (p.replica == server ? ["server"] : []) + (isCentre(p) ? ["centre"] : [])
    }

    func label(_ p: PeerInfo) -> String {
        ([p.alias].compactMap { $0 } + builtInNames(p) + [p.author].compactMap { $0 } + [p.replica.short]).joined(separator: "/")
    }

    /// The peer `text` names: a full replica id (known or not); else a name given here; else `centre`/`中心` or
    /// `server`/`服务器` (the server when this home syncs with one, centre users' replicas otherwise); else the
    /// login of the peer's user; else the start (4+ digits) of its replica id. Several matches are refused.
    func resolve(_ text: String) throws -> ReplicaID {
        if let id = ReplicaID(hex: text) { return id }
        let t = text.trimmingCharacters(in: .whitespaces)
        let lower = t.lowercased()
        let keyword: String? = switch lower {
        case "centre", "center", "中心", "代办中心": "centre"
        case "server", "服务器": "server"
        default: nil
        }
        let rounds: [(PeerInfo) -> Bool] = [
            { $0.alias == t },
            { p in keyword.map { k in
                // With a server, "centre" is the server: bundles for the centre should reach the county replica.
                k == "server" ? p.replica == server : (server.map { p.replica == $0 } ?? isCentre(p))
            } ?? false },
            { $0.author == t },
            { lower.count >= 4 && lower.allSatisfy(\.isHexDigit) && $0.replica.description.hasPrefix(lower) },
        ]
        for matches in rounds {
            let hits = peers.filter(matches)
            if hits.count == 1 { return hits[0].replica }
            if hits.count > 1 { throw CLIError(L10n.t(.peerAmbiguous, t, hits.map(label).joined(separator: ", "))) }
        }
        throw CLIError(L10n.t(.peerUnknown, t, peers.isEmpty ? L10n.t(.noneYet) : peers.map(label).joined(separator: ", ")))
    }

    var grid: Grid {
        typealias C = Grid.Column
        var g = Grid(name: "peers", columns: [
            C("replica", "REPLICA", "副本"), C("name", "NAME", "名称"), C("user", "USER", "用户"),
            C("person", "PERSON", "姓名"), C("office", "OFFICE", "机构"), C("received", "RECEIVED", "已收到至"),
            C("acked", "ACKED", "对方已确认至"), C("last_import", "LAST IMPORT", "最近导入"),
        ])
        for p in peers {
            let names = ([p.alias].compactMap { $0 } + builtInNames(p)).joined(separator: ", ")
            let person = p.author.flatMap { people[$0] }
            g.rows.append([
                .text(p.replica.description), names.isEmpty ? .null : .text(names), Grid.Cell(p.author),
                Grid.Cell(person?.name), Grid.Cell(person?.office), .int(Int(p.received)), .int(Int(p.acked)),
                Grid.Cell(p.lastImportAt.map { localTime(millis: Double($0)) }),
            ])
        }
        g.summary = [(C("peers", "peers", "对端数"), .int(peers.count))]
        return g
    }
}

struct PeersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "peers", abstract: L10n.t(.peersAbstract),
                                                    subcommands: [List.self, Name.self], defaultSubcommand: List.self)
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: L10n.t(.peersAbstract))
        @OptionGroup var home: HomeOptions
        @OptionGroup var output: OutputOptions
        func run() throws {
            try reporting { emit(try PeerDirectory(try home.open()).grid, output) }
        }
    }
    struct Name: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "name", abstract: L10n.t(.peersNameAbstract))
        @OptionGroup var home: HomeOptions
        @Argument(help: ArgumentHelp(L10n.t(.peerArgHelp), valueName: "peer")) var peer: String
        @Argument(help: ArgumentHelp(L10n.t(.peerNameHelp), valueName: "name")) var name: String?
        @Flag(help: ArgumentHelp(L10n.t(.peerClearHelp))) var clear = false
        func run() throws {
            try reporting {
                let replica = try home.open()
                let id = try PeerDirectory(replica).resolve(peer)
                if clear {
                    try replica.setPeerAlias(nil, for: id)
                    print(L10n.t(.peerUnnamed, id.short))
                    return
                }
                guard let name, (1...32).contains(name.count), !name.contains(where: \.isWhitespace),
                      ReplicaID(hex: name) == nil else { throw CLIError(L10n.t(.peerBadName)) }
                do {
                    try replica.setPeerAlias(name, for: id)
                } catch let taken as PeerNameTaken {
                    throw CLIError(L10n.t(.peerNameTaken, taken.name, taken.holder.short))
                }
                print(L10n.t(.peerNamed, id.short, name))
            }
        }
    }
}
