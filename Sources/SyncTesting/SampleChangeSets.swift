import SyncCore

/// Hand-built change-sets used as encoding vectors and codec test inputs.
public enum SampleChangeSets {
    public static let names: [String: ReplicaID] = ["A": testReplica(1), "B": testReplica(2), "C": testReplica(3)]
    static let t0: UInt64 = 1_763_700_000_000

    static func v(_ value: FieldValue, _ vv: [(UInt64, UInt64)], _ ms: UInt64, _ writer: UInt64, _ author: String = "")
        -> FieldVersion
    {
        FieldVersion(value: value, vv: VersionVector(vv.map { (testReplica($0.0), $0.1) }),
                     hlc: HLCTimestamp(physical: t0 + ms, logical: UInt16(ms % 3)), writer: testReplica(writer),
                     author: author)
    }

    static func field(_ name: String, _ versions: FieldVersion...) -> FieldChange {
        FieldChange(name: name, state: FieldState(normalizing: versions))
    }

    /// `(name, change-set)` pairs, in vector order.
    public static let all: [(String, ChangeSet)] = [
        ("001-minimal", ChangeSet(sender: testReplica(1), fromSeq: 0, toSeq: 1, rows: [
            RowChange(table: "township", key: "T01", fields: [field("name", v(.text("棠下镇"), [(1, 1)], 0, 1))]),
        ])),
        ("002-value-types", ChangeSet(sender: testReplica(2), fromSeq: 3, toSeq: 9, rows: [
            RowChange(table: "project", key: "0190d1c2-7e4f-7a00-8000-000000000001", fields: [
                field("approval_type", v(.null, [(2, 1)], 1, 2)),
                field("is_industrial", v(.bool(true), [(2, 2)], 2, 2)),
                field("jobs", v(.int(-42), [(2, 1)], 3, 2)),
                field("name", v(.text("江门市新材料 smart 工厂 🏭"), [(2, 1)], 4, 2)),
                field("signed_on", v(.date(CivilDate(iso: "2025-10-09")!.daysSinceEpoch), [(2, 1)], 5, 2)),
                field("total_investment_wan", v(.decimal("12000.5"), [(1, 1), (2, 3)], 6, 2)),
            ]),
        ])),
        ("003-conflict-delete-acks", ChangeSet(
            sender: testReplica(3), fromSeq: 10, toSeq: 42,
            acks: [.init(replica: testReplica(1), seq: 7), .init(replica: testReplica(2), seq: 12)],
            rows: [
                RowChange(table: "project", key: "P1", fields: [
                    field("name", v(.text("丙"), [(1, 1), (2, 1)], 3, 2, "bob"), v(.text("丁"), [(1, 1), (3, 1)], 4, 3, "carol")),
                ]),
                RowChange(table: "project", key: "P2", fields: [
                    field("_deleted", v(.bool(true), [(1, 1)], 10, 1, "alice")),
                    field("name", v(.text("乙"), [(2, 2)], 8, 2, "bob")),
                ], covered: [CoveredChange(field: "name", vv: VersionVector([(testReplica(2), 1)]))]),
            ])),
        ("004-prefix-keys-two-tables", ChangeSet(sender: testReplica(1), fromSeq: 0, toSeq: 6, rows: [
            RowChange(table: "enterprise", key: "E-000100", fields: [field("name", v(.text("甲公司"), [(1, 1)], 0, 1))]),
            RowChange(table: "enterprise", key: "E-000101", fields: [field("name", v(.text("乙公司"), [(1, 1)], 1, 1))]),
            RowChange(table: "enterprise", key: "E-0002", fields: [field("uscc", v(.text("91440700MA4UXXXX0X"), [(1, 2)], 2, 1))]),
            RowChange(table: "township", key: "棠下", fields: [field("kind", v(.text("TOWN"), [(1, 1)], 3, 1))]),
            RowChange(table: "township", key: "棠下镇", fields: [field("kind", v(.text("TOWN"), [(1, 1)], 4, 1))]),
            RowChange(table: "x_future_table", key: "k", fields: [field("x_new_field", v(.int(7), [(1, 1)], 5, 1))]),
        ])),
        // The worked example of protocol/SPEC.md Appendix A.
        ("005-spec-appendix-a", ChangeSet(sender: testReplica(1), fromSeq: 0, toSeq: 2, rows: [
            RowChange(table: "township", key: "T01", fields: [
                field("kind", v(.text("TOWN"), [(1, 1)], 0, 1)),
                field("name", v(.text("棠下镇"), [(1, 1)], 0, 1)),
            ]),
        ])),
    ]
}
