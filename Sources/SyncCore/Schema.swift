/// The logical type of a replicated field.
public enum FieldType: String, Hashable, Sendable, CaseIterable {
    case text, integer, decimal, bool, date
}

/// One declared field of a replicated table.
public struct FieldSchema: Hashable, Sendable {
    /// The field name: lower-case ASCII letters, digits and `_`, not starting with `_` (reserved).
    public var name: String
    /// The value type.
    public var type: FieldType
    /// Whether the field may hold null.
    public var nullable: Bool
    /// How concurrent writes pick the visible value.
    public var policy: MergePolicy

    /// Declares a field.
    public init(_ name: String, _ type: FieldType, nullable: Bool = true, policy: MergePolicy = .lww) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.policy = policy
    }

    /// Parses what a person typed (`FIELD=VALUE` on the command line) into a typed value.
    ///
    /// An empty text means null for nullable fields. Integers are decimal; decimals are plain decimal
    /// numbers; bools are `true`/`false` (also `1`/`0`, `yes`/`no`, `是`/`否`); dates are `YYYY-MM-DD`.
    /// - Throws: `SyncError` with code `type_mismatch` or `null_not_allowed`.
    public func parse(_ text: String) throws(SyncError) -> FieldValue {
        if text.isEmpty && nullable { return .null }
        switch type {
        case .text:
            return .text(text)
        case .integer:
            guard let i = Int64(text) else { throw mismatch("an integer") }
            return .int(i)
        case .decimal:
            guard let d = FieldValue.canonicalDecimal(text) else { throw mismatch("a decimal number") }
            return .decimal(d)
        case .bool:
            switch text.lowercased() {
            case "true", "1", "yes", "y", "是": return .bool(true)
            case "false", "0", "no", "n", "否": return .bool(false)
            default: throw mismatch("true or false")
            }
        case .date:
            guard let d = CivilDate(iso: text) else { throw mismatch("a date YYYY-MM-DD") }
            return .date(d.daysSinceEpoch)
        }
    }

    /// Checks that a typed value fits this field.
    /// - Throws: `SyncError` with code `type_mismatch` or `null_not_allowed`.
    public func validate(_ value: FieldValue) throws(SyncError) {
        switch (type, value) {
        case (_, .null):
            if !nullable { throw SyncError(.nullNotAllowed, "field \(name) may not be empty") }
        case (.text, .text), (.integer, .int), (.decimal, .decimal), (.bool, .bool), (.date, .date):
            return
        default:
            throw SyncError(.typeMismatch, "field \(name) holds \(type.rawValue) values")
        }
    }

    private func mismatch(_ expected: String) -> SyncError {
        SyncError(.typeMismatch, "field \(name) expects \(expected)")
    }
}

/// A replicated table: its name and its declared fields.
public struct TableSchema: Hashable, Sendable {
    /// The table name (lower-case ASCII).
    public var name: String
    /// The declared fields, in display order.
    public var fields: [FieldSchema]
    /// Whether the replica keeps a query table (`v_<name>`: one SQL column per field, the winning values)
    /// up to date in every transaction, for the domain's lists, due dates and reports.
    public var projected: Bool
    /// Indexes of the query table.
    public var indexes: [ProjectionIndex]
    /// Text fields of a query table whose words a replica indexes for substring search (names, codes).
    public var searchable: [String]

    /// Declares a table.
    public init(_ name: String, _ fields: [FieldSchema], projected: Bool = false, indexes: [ProjectionIndex] = [],
                searchable: [String] = []) {
        self.name = name
        self.fields = fields
        self.projected = projected
        self.indexes = indexes
        self.searchable = searchable
    }

    /// The field called `name`, if declared.
    public func field(_ name: String) -> FieldSchema? { fields.first { $0.name == name } }
}

/// An index of a query table: field names, and for a partial index the SQL condition (over the field names)
/// a row must meet to be indexed. A query uses a partial index only when its WHERE clause contains that same
/// condition, so a domain keeps the condition text in one constant and uses it in both places.
public struct ProjectionIndex: Hashable, Sendable, ExpressibleByArrayLiteral {
    public var columns: [String]
    public var condition: String?

    public init(_ columns: [String], where condition: String? = nil) {
        self.columns = columns
        self.condition = condition
    }

    public init(arrayLiteral columns: String...) { self.init(columns) }
}

/// The schema registry: every replicated table this build knows.
///
/// Tables and fields it does not know still replicate: they are stored and forwarded unchanged and merge
/// last-writer-wins until a build that knows them is installed.
public struct Schema: Hashable, Sendable {
    /// Tables by name.
    public private(set) var tables: [String: TableSchema]

    /// The hidden field that carries a row's deletion flag.
    public static let deletedField = "_deleted"

    /// Creates a registry.
    public init(_ tables: [TableSchema]) {
        self.tables = Dictionary(tables.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Adds or replaces tables (the domain layer and the benchmark declare their own).
    public func adding(_ more: [TableSchema]) -> Schema {
        var s = self
        for t in more { s.tables[t.name] = t }
        return s
    }

    /// The merge policy for a field, `lww` when the field is unknown.
    public func policy(table: String, field: String) -> MergePolicy {
        tables[table]?.field(field)?.policy ?? .lww
    }

    /// The declared table.
    /// - Throws: `unknown_table`.
    public func table(_ name: String) throws(SyncError) -> TableSchema {
        guard let t = tables[name] else {
            throw SyncError(.unknownTable, "unknown table \(name) (known: \(tables.keys.sorted().joined(separator: ", ")))")
        }
        return t
    }

    /// The declared field of a declared table.
    /// - Throws: `unknown_table`, `unknown_field` or `reserved_field`.
    public func field(table: String, _ name: String) throws(SyncError) -> FieldSchema {
        let t = try self.table(table)
        if name.hasPrefix("_") { throw SyncError(.reservedField, "field names starting with _ are reserved") }
        guard let f = t.field(name) else {
            throw SyncError(.unknownField, "table \(table) has no field \(name) (known: \(t.fields.map(\.name).joined(separator: ", ")))")
        }
        return f
    }
}
