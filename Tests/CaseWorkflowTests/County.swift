import CaseDomain
import CaseWorkflow
import Foundation
import ReplicaStore
import SyncCore
import SyncTesting
import Testing

/// A fictional county (云岭县, DOMAIN.md §6) of file-backed replicas, each signed in as one person, that sync
/// by exchanging bundles through the centre, as devices do through the server.
final class County {
    let dir: TemporaryDirectory
    private(set) var replicas: [String: ReplicaDatabase] = [:]
    private var next: UInt64 = 1
    static let fixtures = repositoryRoot + "/Tests/Fixtures/yunling"

    /// `members`: replica name → login (author). "centre" is created first and loads the reference data.
    init(_ members: [String: String]) throws {
        dir = try TemporaryDirectory("county")
        try add("centre", login: "admin")
        for (name, login) in members.sorted(by: { $0.key < $1.key }) { try add(name, login: login) }
        let centre = wf("centre")
        _ = try centre.importRoster(data: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/roster.json")))
        _ = try centre.importCatalogue(data: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/catalogue.csv")))
        _ = try centre.importCalendar(data: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/calendar-2025.csv")), version: nil)
        try syncAll()
    }

    deinit { dir.cleanup() }

    func add(_ name: String, login: String) throws {
        replicas[name] = try ReplicaDatabase.create(at: dir.file("\(name).sqlite"), schema: DaibanSchema.schema,
                                                    id: testReplica(next), author: login)
        next += 1
    }

    func replica(_ name: String) -> ReplicaDatabase { replicas[name]! }

    /// The workflow of a replica; "today" is the fixtures' as-of date unless a step says when it happened.
    func wf(_ name: String) -> Workflow {
        Workflow(replica: replicas[name]!, today: { day("2025-11-24") })
    }

    /// One device syncs with the centre: push, then pull.
    func sync(_ name: String) throws {
        let c = replica("centre"), r = replica(name)
        _ = try c.importBundle(try r.exportBundle(for: c.id).bytes)
        _ = try r.importBundle(try c.exportBundle(for: r.id).bytes)
    }

    /// Every device syncs, twice round, so everyone has everything.
    func syncAll() throws {
        for _ in 0..<2 { for name in replicas.keys.sorted() where name != "centre" { try sync(name) } }
    }
}

func day(_ iso: String) -> Int32 { CivilDate.days(iso)! }

/// Expects a workflow refusal with `code`, and that the replica did not change.
func expectRefused(_ code: String, _ replica: ReplicaDatabase, _ body: () throws -> Void,
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    let before = try replica.snapshot()
    do {
        try body()
        Issue.record("expected \(code), the step was accepted", sourceLocation: sourceLocation)
    } catch let e as WorkflowError {
        #expect(e.code == code, "\(e.description)", sourceLocation: sourceLocation)
        #expect(!e.description.isEmpty, sourceLocation: sourceLocation)
    }
    #expect(try replica.snapshot() == before, "a refused step changed the replica", sourceLocation: sourceLocation)
}
