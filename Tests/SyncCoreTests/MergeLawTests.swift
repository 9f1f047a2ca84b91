import PropertyBased
import SyncCore
import SyncTesting
import Testing

/// Merging field and row states is commutative, associative and idempotent.
@Suite struct MergeLawTests {
    /// A random field state: 1–3 versions over 3 replicas, with colliding values, clocks and vectors.
    static func randomState(_ g: inout SeededGenerator) -> FieldState {
        let values: [FieldValue] = [.text("甲"), .text("乙"), .int(1), .null]
        let versions = (0..<Int.random(in: 1...3, using: &g)).map { _ -> FieldVersion in
            var pairs: [(ReplicaID, UInt64)] = []
            for r in 1...3 where Bool.random(using: &g) { pairs.append((testReplica(UInt64(r)), UInt64.random(in: 1...3, using: &g))) }
            if pairs.isEmpty { pairs = [(testReplica(1), 1)] }
            return FieldVersion(value: values.randomElement(using: &g)!, vv: VersionVector(pairs),
                                hlc: HLCTimestamp(physical: UInt64.random(in: 0...3, using: &g), logical: 0),
                                writer: pairs.randomElement(using: &g)!.0)
        }
        return FieldState(normalizing: versions)
    }

    static func randomRow(_ g: inout SeededGenerator) -> RowState {
        var row = RowState()
        for f in ["a", "b", Schema.deletedField] where Bool.random(using: &g) {
            row.fields[f] = f == Schema.deletedField
                ? FieldState(FieldVersion(value: .bool(Bool.random(using: &g)), vv: VersionVector([(testReplica(1), UInt64.random(in: 1...2, using: &g))]),
                                          hlc: .zero, writer: testReplica(1)))
                : randomState(&g)
        }
        if Bool.random(using: &g) { row.covered["a"] = randomState(&g).vv }
        return row
    }

    @Test func fieldMergeLaws() async {
        await propertyCheck(count: 1000, input: Gen<UInt64>.value()) { seed in
            var g = SeededGenerator(seed: seed)
            let (a, b, c) = (Self.randomState(&g), Self.randomState(&g), Self.randomState(&g))
            #expect(a.merged(with: b) == b.merged(with: a), "commutative, seed \(seed)")
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)), "associative, seed \(seed)")
            #expect(a.merged(with: a) == a, "idempotent, seed \(seed)")
            #expect(a.merged(with: b).merged(with: b) == a.merged(with: b), "absorbs duplicates, seed \(seed)")
        }
    }

    @Test func rowMergeLaws() async {
        await propertyCheck(count: 1000, input: Gen<UInt64>.value()) { seed in
            var g = SeededGenerator(seed: seed)
            let (a, b, c) = (Self.randomRow(&g), Self.randomRow(&g), Self.randomRow(&g))
            #expect(a.merged(with: b) == b.merged(with: a), "commutative, seed \(seed)")
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)), "associative, seed \(seed)")
            #expect(a.merged(with: a) == a, "idempotent, seed \(seed)")
            let ab = a.merged(with: b)
            #expect(ab.conflicts(table: "t", key: "k") { _ in .lww } == b.merged(with: a).conflicts(table: "t", key: "k") { _ in .lww })
        }
    }

    /// A conflict is reported exactly when the versions were concurrent and their values differ.
    @Test func conflictIffConcurrentAndDifferent() async {
        await propertyCheck(count: 1000, input: Gen<UInt64>.value()) { seed in
            var g = SeededGenerator(seed: seed)
            let values: [FieldValue] = [.text("甲"), .text("乙")]
            let a = testReplica(1), b = testReplica(2)
            var ra = RowState()
            try ra.write(field: "f", value: .text("初"), replica: a, hlc: HLCTimestamp(physical: 1, logical: 0), author: "")
            var rb = ra
            let bSeesA = Bool.random(using: &g)
            try ra.write(field: "f", value: values.randomElement(using: &g)!, replica: a, hlc: HLCTimestamp(physical: 2, logical: 0), author: "")
            if bSeesA { rb = rb.merged(with: ra) }
            try rb.write(field: "f", value: values.randomElement(using: &g)!, replica: b, hlc: HLCTimestamp(physical: 3, logical: 0), author: "")
            let merged = ra.merged(with: rb)
            let versions = [ra.fields["f"]!.versions[0], rb.fields["f"]!.versions[0]]
            let concurrent = versions[0].vv.compare(versions[1].vv) == .concurrent
            #expect(concurrent == !bSeesA)
            let expectConflict = concurrent && versions[0].value != versions[1].value
            #expect(merged.conflicts(table: "t", key: "k") { _ in .lww }.isEmpty == !expectConflict, "seed \(seed)")
        }
    }
}

@Suite struct ClockTests {
    @Test func versionVectorOrder() {
        let a = VersionVector([(testReplica(1), 1)])
        let b = a.incremented(for: testReplica(2))
        #expect(a.compare(b) == .before)
        #expect(b.compare(a) == .after)
        #expect(a.compare(a) == .equal)
        #expect(a.incremented(for: testReplica(1)).compare(b) == .concurrent)
        #expect(a.joined(with: b) == b)
        #expect(VersionVector(sortedEntries: [.init(replica: testReplica(2), counter: 1), .init(replica: testReplica(1), counter: 1)]) == nil)
    }

    @Test func hlcIsMonotonicWhenTheWallClockGoesBack() {
        let wall = ManualClock(1_000_000)
        var clock = HybridLogicalClock(last: .zero) { wall.now() }
        let t1 = clock.tick()
        wall.set(500_000)  // the device clock jumps back
        let t2 = clock.tick()
        #expect(t1 < t2)
        #expect(t2.physical == 1_000_000 && t2.logical == 1)
    }

    @Test func hlcRespectsCausalityWithinDrift() {
        let wall = ManualClock(1_000_000)
        var clock = HybridLogicalClock(last: .zero, maxDrift: 60_000) { wall.now() }
        let remote = HLCTimestamp(physical: 1_030_000, logical: 7)
        let accepted = clock.observe(remote)
        #expect(accepted)
        #expect(clock.tick() > remote)
    }

    @Test func hlcClampsTimestampsBeyondDrift() {
        let wall = ManualClock(1_000_000)
        var clock = HybridLogicalClock(last: .zero, maxDrift: 60_000) { wall.now() }
        // A laptop whose date is a year ahead must not drag this clock a year into the future.
        let accepted = clock.observe(HLCTimestamp(physical: 1_000_000 + 365 * 86_400_000, logical: 0))
        #expect(!accepted)
        #expect(clock.tick().physical <= 1_060_001)
    }

    @Test func datesRoundTrip() {
        for days in [Int32(-719_162), -1, 0, 20_371, 2_932_896] {
            let d = CivilDate(daysSinceEpoch: days)
            #expect(d.daysSinceEpoch == days)
            #expect(CivilDate(iso: d.description) == d)
        }
        #expect(CivilDate(iso: "2025-02-29") == nil)
        #expect(FieldValue.canonicalDecimal("0012.50") == "12.5")
        #expect(FieldValue.canonicalDecimal("-0.0") == "0")
        #expect(FieldValue.canonicalDecimal("1e5") == nil)
    }
}
