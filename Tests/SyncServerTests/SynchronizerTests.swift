import CaseDomain
import Foundation
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncClient
import SyncCore
import SyncServer
import SyncProtocol
import SyncTesting
import Testing

/// The client library against a live server on 127.0.0.1 (real HTTP, real SQLite on both sides).
@Suite struct SynchronizerTests {
    /// Runs `body` with a live server for `fixture` and the URL to reach it.
    func live(_ f: ServerFixture, _ body: @Sendable @escaping (String) async throws -> Void) async throws {
        let app = Application(router: f.server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))")
        }
    }

    /// Signs `replica` in as `user` and runs one whole sync.
    @discardableResult
    func sync(_ replica: ReplicaDatabase, _ user: String, _ url: String) async throws -> SyncReport {
        let connection = try ServerConnection(url: url)
        let tokens = try await connection.login(user: user, password: "pw-\(user)-secret", replica: replica.id,
                                                deviceName: user, signer: replica.signer)
        let s = Synchronizer(replica: replica, connection: connection, tokens: tokens, saveTokens: { _ in })
        s.chunkBytes = 8 << 10
        s.retries = 0
        do {
            let report = try await s.run()
            await connection.shutdown()
            return report
        } catch {
            await connection.shutdown()
            throw error
        }
    }

    @Test func pushThenPullConvergesAndSendsNothingTwice() async throws {
        let f = try ServerFixture { $0.pullChunkBytes = 8 << 10 }
        try await f.user("agent", .center)
        try await f.user("centre", .center)
        let agent = try f.replica("agent"), centre = try f.replica("centre")
        try fill(agent, rows: 600)
        try fill(centre, rows: 300, prefix: "C")
        try await live(f) { url in
            let a1 = try await sync(agent, "agent", url)
            #expect(a1.pushedFields == 600 && a1.pushedChunks > 1)
            let why = try agent.refusals().prefix(3).map(\.message)
            #expect(a1.refused.isEmpty, "\(a1.refused) \(why)")
            let c1 = try await sync(centre, "centre", url)
            #expect(c1.pushedFields == 300)
            #expect(c1.pulledApplied == 600, "the centre's own rows do not come back")
            let a2 = try await sync(agent, "agent", url)
            #expect(a2.pushedFields == 0, "pulled data is not pushed back")
            #expect(a2.pulledApplied == 300)
            // A second round moves nothing.
            let a3 = try await sync(agent, "agent", url)
            let c3 = try await sync(centre, "centre", url)
            #expect(a3.pushedFields + a3.pulledFields + c3.pushedFields + c3.pulledFields == 0)
        }
        #expect(try agent.snapshot() == centre.snapshot())
        #expect(try agent.snapshot() == f.server.replica.snapshot())
    }

    /// Four devices write overlapping rows and sync at the same time, for several rounds; afterwards every
    /// replica equals the server's, conflicts included.
    @Test func concurrentSyncsConverge() async throws {
        let f = try ServerFixture { $0.pullChunkBytes = 8 << 10 }
        // Centre devices see and write everything, so every replica must equal the server's; scoped roles are
        // covered by the leak test.
        let users = ["centre": Role.center, "c2": .center, "c3": .center, "c4": .center]
        for (name, role) in users { try await f.user(name, role) }
        var replicas: [(String, ReplicaDatabase)] = []
        for name in users.keys.sorted() { replicas.append((name, try f.replica(name))) }
        let all = replicas
        try await live(f) { url in
            for round in 0..<4 {
                for (i, (_, r)) in all.enumerated() {
                    var g = SeededGenerator(seed: UInt64(round * 10 + i))
                    try r.write { tx in
                        for _ in 0..<150 {
                            let key = "T\(g.next() % 200)"
                            try tx.put(table: "township", key: key, ["name": .text("第\(round)轮\(i)号\(g.next() % 1000)")])
                        }
                    }
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (name, r) in all {
                        group.addTask { try await sync(r, name, url) }
                    }
                    try await group.waitForAll()
                }
            }
            // Quiet rounds: everyone catches up.
            for _ in 0..<2 { for (name, r) in all { try await sync(r, name, url) } }
        }
        let reference = try f.server.replica.snapshot()
        #expect(!reference.conflicts.isEmpty, "overlapping writes made conflicts")
        for (name, r) in replicas { #expect(try r.snapshot() == reference, "\(name)") }
    }

    @Test func anOversizedFieldTravelsAloneInsteadOfBlocking() async throws {
        let f = try ServerFixture { $0.pullChunkBytes = 4096 }
        try await f.user("agent", .center)
        try await f.user("centre", .center)
        let agent = try f.replica("agent"), centre = try f.replica("centre")
        var g = SeededGenerator(seed: 3)
        let long = String(String.UnicodeScalarView((0..<20_000).map { _ in Unicode.Scalar(0x4E00 + UInt32(g.next() % 20_000))! }))
        try agent.write { tx in try tx.put(table: "township", key: "BIG", ["name": .text(long)]) }
        try fill(agent, rows: 100)
        try await live(f) { url in
            try await sync(agent, "agent", url)
            let r = try await sync(centre, "centre", url)
            #expect(r.pulledApplied == 101)
        }
        #expect(try centre.get(table: "township", key: "BIG")?.fields.first { $0.name == "name" }?.value == .text(long))
    }

    /// The server's folder is restored from an older backup: `admin new-epoch` makes clients push what the
    /// server lost and pull from the start.
    @Test func aRestoredServerGetsBackWhatItLost() async throws {
        let f = try ServerFixture()
        try await f.user("agent", .center)
        try await f.user("centre", .center)
        let agent = try f.replica("agent"), centre = try f.replica("centre")
        try fill(agent, rows: 20)
        let backup = f.dir.file("backup")
        try await live(f) { url in
            try await sync(agent, "agent", url)
            try await sync(centre, "centre", url)
        }
        try FileManager.default.copyItem(atPath: f.server.config.data, toPath: backup)
        try agent.write { tx in try tx.put(table: "township", key: "LATE", ["name": .text("备份之后")]) }
        try await live(f) { url in
            try await sync(agent, "agent", url)
            try await sync(centre, "centre", url)
        }
        // Restore: the old folder comes back and gets a new epoch.
        var config = f.server.config
        config.data = backup
        let restored = try ServerFixture.reopen(config, clock: f.clock)
        try DaibanServer.epoch(restored.replica, renew: true)
        let fresh = try ServerFixture.reopen(config, clock: f.clock)
        #expect(try fresh.replica.get(table: "township", key: "LATE") == nil)
        let g = try ServerFixture(server: fresh, dir: f.dir, clock: f.clock)
        try await live(g) { url in
            try await sync(centre, "centre", url)
            try await sync(agent, "agent", url)
        }
        #expect(try fresh.replica.get(table: "township", key: "LATE") != nil)
        #expect(try fresh.replica.snapshot() == agent.snapshot())
        #expect(try centre.snapshot() == agent.snapshot())
    }

    /// `daiban-server backup` while pushes land: every copy is one snapshot (a push is wholly in it or not at
    /// all); restored into a data folder, with its new epoch, the server gets back from its clients what came
    /// after the copy.
    @Test func aBackupTakenWhileServingIsConsistentAndRestoresWhole() async throws {
        let f = try ServerFixture()
        try await f.user("agent", .center)
        try await f.user("centre", .center)
        let agent = try f.replica("agent"), centre = try f.replica("centre")
        try fill(agent, rows: 300)
        let config = f.server.config
        let copies = (0..<3).map { f.dir.file("backup-\($0)") }
        try await live(f) { url in
            try await sync(agent, "agent", url)
            try await sync(centre, "centre", url)
            let pushes = Task {
                for round in 0..<12 {
                    try agent.write { tx in
                        for i in 0..<5 { try tx.put(table: "township", key: "R\(round)-\(i)", ["name": .text("第\(round)轮")]) }
                    }
                    try await self.sync(agent, "agent", url)
                }
            }
            for copy in copies {
                try await Task.sleep(for: .milliseconds(40))
                _ = try ServerBackup.make(config: config, to: copy)
            }
            try await pushes.value
        }
        var rounds: [Int] = []
        for copy in copies {
            let replica = try ReplicaDatabase.open(at: copy + "/replica.sqlite", schema: DaibanSchema.schema)
            #expect(replica.id == f.server.replica.id)
            var whole = 0
            for round in 0..<12 {
                let held = try (0..<5).filter { try replica.get(table: "township", key: "R\(round)-\($0)") != nil }.count
                #expect(held == 0 || held == 5, "\(copy): round \(round) is half in the copy (\(held) of 5 rows)")
                if held == 5 { whole += 1 }
            }
            rounds.append(whole)
            #expect(throws: ConfigError.self) { try ServerBackup.make(config: config, to: copy) }
        }
        #expect(rounds == rounds.sorted(), "later copies hold no fewer pushes: \(rounds)")
        print("backups taken while serving held \(rounds) of 12 pushes")
        try agent.write { tx in try tx.put(table: "township", key: "LATE", ["name": .text("备份之后")]) }
        try await live(f) { url in try await sync(agent, "agent", url) }

        #expect(!FileManager.default.fileExists(atPath: copies[0] + "/token.key"), "a backup cannot sign tokens")
        #expect(throws: ConfigError.self, "a backup inside the data folder") {
            try ServerBackup.make(config: config, to: config.data + "/copy")
        }
        #expect(throws: ConfigError.self, "a backup over the data folder") {
            try ServerBackup.make(config: config, to: config.data + "/", force: true)
        }
        #expect(FileManager.default.fileExists(atPath: config.data + "/replica.sqlite"))
        _ = try ServerBackup.make(config: config, to: f.dir.file("slash") + "/")

        var restoredConfig = config
        restoredConfig.data = f.dir.file("restored")
        let first = try ServerBackup.restore(from: copies[2], config: restoredConfig)
        #expect(first.keptAt == nil && first.accountsRestored)
        let key = FileManager.default.contents(atPath: restoredConfig.data + "/token.key")
        let again = try ServerBackup.restore(from: copies[2], config: restoredConfig)
        let kept = try #require(again.keptAt)
        #expect(FileManager.default.fileExists(atPath: kept + "/replica.sqlite"), "what a restore replaces is kept")
        #expect(first.epoch != again.epoch)
        #expect(key != nil && FileManager.default.contents(atPath: restoredConfig.data + "/token.key") != key,
                "restored accounts come with a new token key")
        // An interrupted restore: the server refuses the folder until the restore is run again.
        try Data("restore from x\n".utf8).write(to: URL(fileURLWithPath: restoredConfig.data + "/restore.incomplete"))
        #expect(throws: ConfigError.self) { try ServerFixture.reopen(restoredConfig, clock: f.clock) }
        let keyBefore = FileManager.default.contents(atPath: restoredConfig.data + "/token.key")
        let third = try ServerBackup.restore(from: copies[2], config: restoredConfig, keepAccounts: true)
        #expect(!third.accountsRestored && third.summary.users == 2)
        #expect(FileManager.default.contents(atPath: restoredConfig.data + "/token.key") == keyBefore, "kept accounts keep their key")
        let fresh = try ServerFixture.reopen(restoredConfig, clock: f.clock)
        #expect(try fresh.replica.get(table: "township", key: "LATE") == nil)
        let g = try ServerFixture(server: fresh, dir: f.dir, clock: f.clock)
        try await live(g) { url in
            try await sync(agent, "agent", url)
            try await sync(centre, "centre", url)
        }
        #expect(try fresh.replica.get(table: "township", key: "LATE") != nil)
        #expect(try fresh.replica.snapshot() == agent.snapshot())
        #expect(try centre.snapshot() == agent.snapshot())
    }

    /// One process per data folder: a second `serve`, a restore or a new epoch is refused while one holds it.
    @Test func theDataFolderLockIsExclusive() throws {
        let dir = try TemporaryDirectory("lock")
        defer { dir.cleanup() }
        let data = dir.file("data")
        var held: DataFolderLock? = try DataFolderLock(data: data, purpose: "serve")
        #expect(held != nil)
        #expect(throws: ConfigError.self) { try DataFolderLock(data: data, purpose: "restore") }
        held = nil
        #expect(throws: Never.self) { _ = try DataFolderLock(data: data, purpose: "restore") }
    }
}
