import Foundation
import SyncServer
import Synchronization
import Testing

/// SPEC §12.7's rule on PostgreSQL with two instances: a pull cursor never passes a change that commits later with a
/// smaller stamp, for the stamping the store uses (`.serialised`); the textbook case also runs with a plain sequence
/// (`.sequence`), which it must catch skipping.
@Suite(.enabled(if: Backend.enabled.contains(.postgres), "DAIBAN_TEST_SKIP_POSTGRES=1 leaves out the PostgreSQL tests"))
struct NoSkipTests {
    /// What the tasks of one run count.
    final class Tally: Sendable {
        let done = Atomic<Int>(0)
        let retries = Atomic<Int>(0)
        let sent = Atomic<Int>(0)
        let streams = Mutex<[[PostgresStamps.Change]]>([])
    }

    /// Two instances on one fresh database.
    static func instances(_ mechanism: PostgresStamps.Mechanism) async throws
        -> (AccountBackend, [PostgresAccountDatabase], [PostgresStamps])
    {
        let backend = try await AccountBackend.make(.postgres)
        var databases: [PostgresAccountDatabase] = []
        var stamps: [PostgresStamps] = []
        for _ in 0..<2 {
            let db = try await PostgresAccountDatabase(url: backend.url!, maxConnections: 12, startTimeout: AccountBackend.startTimeout)
            databases.append(db)
            stamps.append(try await PostgresStamps(db, mechanism: mechanism))
        }
        return (backend, databases, stamps)
    }

    static func close(_ backend: AccountBackend, _ databases: [PostgresAccountDatabase]) async throws {
        for d in databases { await d.close() }
        try await backend.close()
    }

    /// Pulls from `cursor` until no more, returning the changes and the new cursor.
    static func drain(_ s: PostgresStamps, from cursor: UInt64, limit: Int) async throws -> ([PostgresStamps.Change], UInt64) {
        var cursor = cursor
        var got: [PostgresStamps.Change] = []
        while true {
            let chunk = try await s.chunk(after: cursor, limit: limit)
            got += chunk.changes
            cursor = chunk.next
            if !chunk.more { return (got, cursor) }
        }
    }

    /// The textbook case: T1 stamps first and commits last, on instance A; T2 stamps later and commits first, on
    /// instance B; a pull on B comes between the two commits. Serialised, T2 cannot stamp while T1 holds the
    /// counter: the pull comes while T2 waits, and both commit before the next pull.
    @Test(arguments: [PostgresStamps.Mechanism.serialised, .sequence])
    func aSlowTransactionIsNotPassed(_ mechanism: PostgresStamps.Mechanism) async throws {
        let (backend, databases, s) = try await Self.instances(mechanism)
        let (stamped, stampedSignal) = AsyncStream<Void>.makeStream()
        let (release, releaseSignal) = AsyncStream<Void>.makeStream()
        let slow = Task {
            try await s[0].apply(writer: "t1", numbers: [1], pauses: .init(holdingStamps: {
                stampedSignal.yield()
                for await _ in release {}
            }))
        }
        for await _ in stamped { break }
        let fast = Task { try await s[1].apply(writer: "t2", numbers: [1]) }
        switch mechanism {
        case .serialised: try await backend.waitForLockWaits(1)
        case .sequence: _ = try await fast.value
        }
        let (first, cursor) = try await Self.drain(s[1], from: 0, limit: 10)
        releaseSignal.finish()
        _ = try await slow.value
        _ = try await fast.value
        let (second, _) = try await Self.drain(s[0], from: cursor, limit: 10)
        let writers = (first + second).map(\.writer).sorted()
        switch mechanism {
        case .serialised:
            #expect(writers == ["t1", "t2"], "both changes reach the puller: \(writers)")
        case .sequence:
            #expect(writers == ["t2"], "the planted defect must show: the sequence lets the cursor pass t1 (\(writers))")
        }
        try await Self.close(backend, databases)
    }

    /// Many pushers on both instances, slow transactions among them, retries on the other instance, and pullers
    /// interleaved throughout: every pulled stream holds every committed change exactly once. (With a plain sequence
    /// most runs lose changes, but not every run: the planted defect is shown by the textbook case above.)
    @Test func concurrentPushesAndPullsSkipNothing() async throws {
        let mechanism = PostgresStamps.Mechanism.serialised
        let (backend, databases, s) = try await Self.instances(mechanism)
        let pushers = 8, pushes = 12
        let run = Tally()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for p in 0..<pushers {
                group.addTask {
                    var g = SystemRandomNumberGenerator()
                    var next: Int64 = 0
                    for _ in 0..<pushes {
                        let count = Int.random(in: 1...4, using: &g)
                        let numbers = (0..<count).map { next + Int64($0) }
                        next += Int64(count)
                        run.sent.add(count, ordering: .relaxed)
                        let pauses = PostgresStamps.Pauses(beforeStamps: .milliseconds(Int.random(in: 0...20, using: &g)),
                                                           beforeCommit: .milliseconds(Int.random(in: 0...3, using: &g) == 0 ? 40 : 0))
                        try await s[p % 2].apply(writer: "w\(p)", numbers: numbers, pauses: pauses)
                        // Now and then the answer is lost and the push is retried on the other instance.
                        if Int.random(in: 0..<4, using: &g) == 0 {
                            #expect(try await s[(p + 1) % 2].apply(writer: "w\(p)", numbers: numbers).isEmpty,
                                    "a retry on the other instance applies nothing twice")
                            run.retries.add(1, ordering: .relaxed)
                        }
                    }
                    run.done.add(1, ordering: .relaxed)
                }
            }
            for r in 0..<4 {
                group.addTask {
                    var cursor: UInt64 = 0
                    var got: [PostgresStamps.Change] = []
                    // Pull in small chunks while the pushers run, then once more after the last of them.
                    while run.done.load(ordering: .relaxed) < pushers {
                        let chunk = try await s[r % 2].chunk(after: cursor, limit: 5)
                        got += chunk.changes
                        cursor = chunk.next
                        try await Task.sleep(for: .milliseconds(Int.random(in: 1...15)))
                    }
                    let (rest, _) = try await Self.drain(s[(r + 1) % 2], from: cursor, limit: 5)
                    run.streams.withLock { $0.append(got + rest) }
                }
            }
            try await group.waitForAll()
        }
        let (committed, _) = try await Self.drain(s[0], from: 0, limit: 1_000)
        let all = Set(committed)
        #expect(committed.count == all.count)
        #expect(all.count == run.sent.load(ordering: .relaxed), "every change sent was committed once")
        var exact = 0
        for stream in run.streams.withLock({ $0 }) where stream.count == all.count && Set(stream) == all {
            exact += 1
        }
        #expect(exact == 4, "\(exact) of 4 pulled streams hold every one of the \(all.count) committed changes exactly once")
        print("no-skip \(mechanism): \(pushers) pushers × \(pushes) pushes on 2 instances, \(run.retries.load(ordering: .relaxed)) retries, \(all.count) changes committed, \(exact) of 4 interleaved pull streams exact")
        try await Self.close(backend, databases)
    }
}
