public import CaseDomain
import Foundation
public import GRDB
public import ReplicaStore
public import SyncCore
public import TerminalText

/// A refused step: a stable code for scripts and a message in the user's language that names the reason.
/// Nothing is written when one is thrown (the whole command is one transaction).
public struct WorkflowError: Error, CustomStringConvertible, Sendable {
    public let code: String
    public let description: String
    public init(_ code: String, _ key: L10n.Key, _ args: Any...) {
        self.code = code
        description = L10n.format(key, args)
    }
}

/// The person a replica acts as: the roster row whose `login` is the replica's author (the signed-in user).
public struct Actor: Sendable {
    public var id: String
    public var name: String
    public var roles: Set<String>
    public var officeID: String?
    public var departmentID: String?
    /// COUNTY_CENTER / TOWNSHIP / PARK / UPPER, from the person's office.
    public var officeLevel: String?

    public func has(_ role: PersonRole) -> Bool { roles.contains(role.rawValue) }
    /// An office administrator of the county centre: may do everything an office may, anywhere.
    public var isCentreAdmin: Bool { has(.officeAdmin) && officeLevel == "COUNTY_CENTER" }
}

/// The 代办 workflow on one replica. Every command runs in one write transaction: it reads the current rows
/// (the replica's query tables, including this transaction's own writes), checks the transition's
/// preconditions and who may perform it, then writes. Every date a command records is the date the event
/// occurred as entered on the device (`on`, default today), never the date it syncs.
public struct Workflow: Sendable {
    public let replica: ReplicaDatabase
    /// Today's date in the county (days since the epoch); tests pin it.
    public let today: @Sendable () -> Int32
    /// The county's time zone (rule `county.time_zone`): what "today" and "now" mean, and how times are shown.
    public let zone: TimeZone

    public init(replica: ReplicaDatabase, today: (@Sendable () -> Int32)? = nil) {
        self.replica = replica
        let zone = Workflow.countyZone(replica)
        self.zone = zone
        self.today = today ?? { Workflow.localToday(in: zone) }
    }

    /// The zone the replica's rules name, or Asia/Shanghai when unset or unknown to this machine.
    public static func countyZone(_ replica: ReplicaDatabase) -> TimeZone {
        let name = (try? replica.get(table: "rule", key: "county.time_zone"))?
            .flatMap { r in r.deleted ? nil : r.fields.first { $0.name == "value" }?.value.displayText }
        return name.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "Asia/Shanghai")!
    }

    /// The date in `zone`.
    public static func localToday(in zone: TimeZone) -> Int32 {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = zone
        let c = cal.dateComponents([.year, .month, .day], from: Date())
        return CivilDate(year: c.year!, month: c.month!, day: c.day!)!.daysSinceEpoch
    }

    /// The time in `zone` as `YYYY-MM-DDTHH:MM`.
    public static func localTimestamp(in zone: TimeZone, at date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = "yyyy-MM-dd'T'HH:mm"
        return f.string(from: date)
    }

    /// Now in the county, as `YYYY-MM-DDTHH:MM`.
    public func now() -> String { Workflow.localTimestamp(in: zone) }

    /// How a column heading names the zone its times are in: 北京时间 for China's zone under a zh locale, else the
    /// IANA name.
    public static func zoneName(_ zone: TimeZone) -> String {
        L10n.chinese && ["Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"].contains(zone.identifier) ? "北京时间" : zone.identifier
    }

    /// Runs a command: `body` reads and writes through the session; all of it commits or none.
    public func perform<T>(_ body: (Session) throws -> T) throws -> T {
        try replica.write { tx in try body(Session(tx: tx, replica: replica, zone: zone)) }
    }

    /// Runs a read on one snapshot.
    public func read<T>(_ body: (Reader) throws -> T) throws -> T {
        try replica.query { db in try body(Reader(author: replica.author, zone: zone, { db })) }
    }
}

/// Read access to the domain's query tables.
public class Reader {
    let author: String
    /// The county's time zone.
    public let zone: TimeZone
    private let provider: () throws -> Database
    private var cachedRules: Rules?
    private var cachedCalendar: WorkCalendar?
    private var cachedNames: [String: [String: String]] = [:]

    init(author: String, zone: TimeZone, _ provider: @escaping () throws -> Database) {
        self.author = author
        self.zone = zone
        self.provider = provider
    }

    /// Now in the county, as `YYYY-MM-DDTHH:MM`.
    public func now() -> String { Workflow.localTimestamp(in: zone) }

    /// A column heading for times in the county's zone: `RECEIVED (Asia/Shanghai)`, 受理时间（北京时间）.
    func timeColumn(_ key: String, _ en: String, _ zh: String) -> Grid.Column {
        let zone = Workflow.zoneName(zone)
        return Grid.Column(key, "\(en) (\(zone))", "\(zh)（\(zone)）")
    }

    /// The database with up-to-date query tables.
    public func db() throws -> Database { try provider() }

    /// One row of a projected table, or nil.
    public func row(_ table: String, _ key: String) throws -> Row? {
        try Row.fetchOne(db().cachedStatement(sql: "SELECT * FROM v_\(table) WHERE _key = ?"), arguments: [key])
    }

    /// Rows of a projected table matching a SQL condition.
    public func rows(_ table: String, where condition: String = "1", _ arguments: StatementArguments = [],
                     orderBy: String = "_key") throws -> [Row] {
        try Row.fetchAll(db().cachedStatement(sql: "SELECT * FROM v_\(table) WHERE \(condition) ORDER BY \(orderBy)"),
                         arguments: arguments)
    }

    /// A row that must exist.
    func require(_ table: String, _ key: String, _ what: L10n.Key) throws -> Row {
        guard let r = try row(table, key) else { throw WorkflowError("not_found", .notFound, L10n.t(what), key) }
        return r
    }

    /// The configured rules.
    public func rules() throws -> Rules {
        if let cachedRules { return cachedRules }
        var values: [String: String] = [:]
        for r in try Row.fetchAll(db(), sql: "SELECT _key, value FROM v_rule") { values[r[0]] = r[1] }
        let rules = Rules(values)
        cachedRules = rules
        return rules
    }

    /// The name of a township, department or person (small reference tables, read whole once per reader), so
    /// tables can show 名称 next to ids.
    public func name(_ table: String, _ id: String?) throws -> String? {
        guard let id else { return nil }
        if let names = cachedNames[table] { return names[id] }
        var names: [String: String] = [:]
        for r in try Row.fetchAll(db(), sql: "SELECT _key, name FROM v_\(table)") { names[r[0]] = r[1] }
        cachedNames[table] = names
        return names[id]
    }

    /// The synced working-day calendar.
    public func calendar() throws -> WorkCalendar {
        if let cachedCalendar { return cachedCalendar }
        var entries: [Int32: Bool] = [:]
        for r in try Row.fetchAll(db(), sql: "SELECT _key, workday FROM v_calendar_day") {
            if let d = CivilDate.days(r[0]) { entries[d] = r[1] }
        }
        let cal = WorkCalendar(entries: entries)
        cachedCalendar = cal
        return cal
    }

    /// The highest calendar version present here, and the version the centre last published (a `rule`).
    public func calendarVersions() throws -> (local: Int, published: Int) {
        let local = try Int.fetchOne(db(), sql: "SELECT max(version) FROM v_calendar_day") ?? 0
        return (local, try rules().calendarVersion)
    }

    /// The person this replica acts as.
    public func actor() throws -> Actor {
        guard let p = try Row.fetchOne(db(), sql: "SELECT * FROM v_person WHERE login = ? ORDER BY _key LIMIT 1",
                                       arguments: [author])
        else { throw WorkflowError("not_in_roster", .notInRoster, author) }
        let office: String? = p["office_id"]
        let level: String? = try office.flatMap { try row("office", $0)?["level"] }
        return Actor(id: p["_key"], name: p["name"], roles: Set(list(p["roles"])), officeID: office,
                     departmentID: p["department_id"], officeLevel: level)
    }
}

/// A command's transaction: reads see its own writes.
public final class Session: Reader {
    let tx: ReplicaTransaction
    let replica: ReplicaDatabase

    init(tx: ReplicaTransaction, replica: ReplicaDatabase, zone: TimeZone) {
        self.tx = tx
        self.replica = replica
        super.init(author: replica.author, zone: zone) { try tx.queryDatabase() }
    }

    /// Writes fields of a row (null values are written as null; absent keys are left alone).
    public func put(_ table: String, _ key: String, _ values: [String: FieldValue]) throws {
        try tx.put(table: table, key: key, values)
    }
}

// MARK: - Small helpers shared by the commands

/// Comma-separated list text → items (empty items dropped).
func list(_ text: String?) -> [String] {
    (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

func date(_ d: Int32) -> FieldValue { .date(d) }
func text(_ s: String?) -> FieldValue { s.map { .text($0) } ?? .null }
func days(_ row: Row, _ column: String) -> Int32? { (row[column] as String?).flatMap(isoDays) }

/// Days since the epoch of `YYYY-MM-DD` (or the date part of `YYYY-MM-DDTHH:MM`), without allocating: reports
/// parse millions of these.
func isoDays(_ s: String) -> Int32? {
    var s = s
    return s.withUTF8 { isoDays($0) }
}

/// A fresh random row id with a readable prefix.
func newID(_ prefix: String) -> String {
    prefix + "-" + String(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF, radix: 16)
}

/// A stable id from text (FNV-1a 64): two devices deriving it from the same facts write the same row.
public func stableID(_ prefix: String, _ text: String) -> String {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 {
        h ^= UInt64(b)
        h = h &* 0x100_0000_01b3
    }
    let hex = String(h, radix: 16)
    return prefix + "-" + String(repeating: "0", count: 16 - hex.count) + hex
}

/// Project-name normalisation for duplicate detection: full-width to half-width, case folded, spaces and
/// punctuation removed (「年产50万套 新能源…（一期）」 and 「年产50万套新能源…(一期)」 are the same).
public func normalisedName(_ name: String) -> String {
    let half = name.applyingTransform(.fullwidthToHalfwidth, reverse: false) ?? name
    return String(half.lowercased().unicodeScalars.filter {
        !CharacterSet.whitespacesAndNewlines.contains($0) && !CharacterSet.punctuationCharacters.contains($0)
            && !CharacterSet.symbols.contains($0)
    }.map(Character.init))
}

/// The duplicate-registration key (DOMAIN.md §3): uscc, normalised project name, township.
public func dedupeKey(uscc: String, projectName: String, township: String) -> String {
    uscc.trimmingCharacters(in: .whitespaces).uppercased() + "|" + normalisedName(projectName) + "|" + township
}
