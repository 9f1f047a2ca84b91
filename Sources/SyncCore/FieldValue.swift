/// A typed field value. This is the value space of the wire format and of the replica.
///
/// Decimals keep their canonical decimal text (no binary floating point ever touches money); dates are days
/// since 1970-01-01 in the proleptic Gregorian calendar.
public enum FieldValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Canonical decimal text: optional `-`, no leading zeros, no trailing fractional zeros, never `-0`.
    case decimal(String)
    case text(String)
    /// Days since 1970-01-01.
    case date(Int32)

    /// Text compares by its UTF-8 bytes (not by Unicode canonical equivalence), so that equality agrees
    /// with the wire's byte order and every replica makes the same choice.
    public static func == (a: FieldValue, b: FieldValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.decimal(let x), .decimal(let y)), (.text(let x), .text(let y)): x.utf8.elementsEqual(y.utf8)
        case (.date(let x), .date(let y)): x == y
        default: false
        }
    }

    public func hash(into h: inout Hasher) {
        h.combine(typeRank)
        switch self {
        case .null: break
        case .bool(let b): h.combine(b)
        case .int(let i): h.combine(i)
        case .decimal(let s), .text(let s): for b in s.utf8 { h.combine(b) }
        case .date(let d): h.combine(d)
        }
    }

    /// The value as a person types it: `12`, `3.5`, `true`, `2025-10-09`, the text itself, or empty for null.
    public var displayText: String {
        switch self {
        case .null: ""
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .decimal(let d): d
        case .text(let s): s
        case .date(let d): CivilDate(daysSinceEpoch: d).description
        }
    }

    /// A stable rank of the case, used for deterministic ordering of values of different types.
    var typeRank: Int {
        switch self {
        case .null: 0
        case .bool: 1
        case .int: 2
        case .decimal: 3
        case .text: 4
        case .date: 5
        }
    }

    /// A total order over values, used only as the last tie-break so that every replica picks the same
    /// version even from hostile input with equal clocks.
    public static func totalOrderLess(_ a: FieldValue, _ b: FieldValue) -> Bool {
        switch (a, b) {
        case (.bool(let x), .bool(let y)): return !x && y
        case (.int(let x), .int(let y)): return x < y
        case (.decimal(let x), .decimal(let y)): return Array(x.utf8).lexicographicallyPrecedes(y.utf8)
        case (.text(let x), .text(let y)): return Array(x.utf8).lexicographicallyPrecedes(y.utf8)
        case (.date(let x), .date(let y)): return x < y
        default: return a.typeRank < b.typeRank
        }
    }

    /// Canonicalises decimal text such as `"0012.50"` to `"12.5"`.
    /// - Returns: `nil` when the text is not a plain decimal number.
    public static func canonicalDecimal(_ text: String) -> String? {
        var s = Substring(text)
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let intPart = parts.first, !(intPart.isEmpty && (parts.count < 2 || parts[1].isEmpty)) else {
            return nil
        }
        let fracPart = parts.count == 2 ? parts[1] : ""
        guard intPart.allSatisfy(\.isASCIIDigit), fracPart.allSatisfy(\.isASCIIDigit) else { return nil }
        var digits = String(intPart.drop(while: { $0 == "0" }))
        if digits.isEmpty { digits = "0" }
        let frac = String(fracPart.reversed().drop(while: { $0 == "0" }).reversed())
        let body = frac.isEmpty ? digits : digits + "." + frac
        return negative && body != "0" ? "-" + body : body
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A calendar date without a time zone.
public struct CivilDate: Hashable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    /// Creates a date, checking that the day exists.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...CivilDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's civil-from-days).
    public init(daysSinceEpoch days: Int32) {
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Day numbers of 0001-01-01 … 9999-12-31, the dates a replica accepts.
    public static let supportedDays: ClosedRange<Int32> =
        CivilDate(year: 1, month: 1, day: 1)!.daysSinceEpoch...CivilDate(year: 9999, month: 12, day: 31)!.daysSinceEpoch

    /// Days since 1970-01-01.
    public var daysSinceEpoch: Int32 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int32(era * 146_097 + doe - 719_468)
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        // Written digit by digit: reports print hundreds of thousands of dates.
        String(unsafeUninitializedCapacity: 10) { b in
            var y = year
            for i in stride(from: 3, through: 0, by: -1) {
                b[i] = UInt8(48 + y % 10)
                y /= 10
            }
            b[4] = 45
            b[5] = UInt8(48 + month / 10)
            b[6] = UInt8(48 + month % 10)
            b[7] = 45
            b[8] = UInt8(48 + day / 10)
            b[9] = UInt8(48 + day % 10)
            return 10
        }
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
