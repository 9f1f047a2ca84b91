public import SyncCore

/// A time limit's unit: 工作日 (working days from the synced calendar) or 自然日 (calendar days).
public enum LimitUnit: String, Sendable, CaseIterable {
    case workDays = "WD"
    case naturalDays = "ND"
}

/// A clock pause [from, to): the days from `from` up to the day before `to` do not count. An open pause
/// (`to` nil) runs until resumed.
public struct ClockPause: Hashable, Sendable {
    public var from: Int32
    public var to: Int32?
    public var reason: String
    public init(from: Int32, to: Int32?, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }
    func covers(_ day: Int32) -> Bool { day >= from && (to.map { day < $0 } ?? true) }
}

/// 正常 / 预警 / 逾期.
public enum TimerState: String, Sendable, Codable {
    case normal = "NORMAL"
    case warning = "WARNING"
    case overdue = "OVERDUE"
    public var zh: String {
        switch self {
        case .normal: "正常"
        case .warning: "预警"
        case .overdue: "逾期"
        }
    }
}

/// The working-day calendar (DOMAIN.md §0.7): 调休 cannot be derived by rule, so the calendar is data. A
/// date with an entry is a working day or not as the entry says (holidays, make-up Saturdays and Sundays);
/// any other date is a working day from Monday to Friday.
///
/// Days are `CivilDate.daysSinceEpoch` values. All counting follows the [P] rule of §2.2: the start day is
/// not counted.
public struct WorkCalendar: Sendable {
    public private(set) var entries: [Int32: Bool]
    /// `cumulative[i]`: working days in [`base`, `base` + i], over the entries' years and ten years either side,
    /// so counting working days between two dates is a subtraction. Reports count millions of spans.
    private let base: Int32
    private let cumulative: [Int32]

    public init(entries: [Int32: Bool] = [:]) {
        self.entries = entries
        let year2000 = CivilDate(year: 2000, month: 1, day: 1)!.daysSinceEpoch
        let lo = (entries.keys.min() ?? year2000) - 3660, hi = (entries.keys.max() ?? year2000 + 36525) + 3660
        var counts: [Int32] = []
        counts.reserveCapacity(Int(hi - lo) + 1)
        var n: Int32 = 0
        for day in lo...hi {
            if entries[day] ?? (Self.weekday(day) < 5) { n += 1 }
            counts.append(n)
        }
        base = lo
        cumulative = counts
    }

    /// The whole years the entries fall in (calendars are published per year): outside them only weekends
    /// are known.
    public var coverage: ClosedRange<Int32>? {
        guard let lo = entries.keys.min(), let hi = entries.keys.max() else { return nil }
        let first = CivilDate(year: CivilDate(daysSinceEpoch: lo).year, month: 1, day: 1)!
        let last = CivilDate(year: CivilDate(daysSinceEpoch: hi).year, month: 12, day: 31)!
        return first.daysSinceEpoch...last.daysSinceEpoch
    }

    /// Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday).
    public static func weekday(_ day: Int32) -> Int { Int(((Int64(day) + 3) % 7 + 7) % 7) }

    public func isWorkday(_ day: Int32) -> Bool {
        if let e = entries[day] { return e }
        return Self.weekday(day) < 5
    }

    /// The due date of a limit counted from `start`: the day the `limit`-th counted day falls on. A day counts
    /// when no pause covers it and, for working days, when it is a working day. A zero limit is due on `start`.
    public func due(from start: Int32, limit: Int, unit: LimitUnit, pauses: [ClockPause] = []) -> Int32 {
        var day = start
        var counted = 0
        while counted < limit {
            day += 1
            if pauses.contains(where: { $0.covers(day) }) { continue }
            if unit == .naturalDays || isWorkday(day) { counted += 1 }
        }
        return day
    }

    /// Working days in (a, b]; zero when b ≤ a.
    public func workdays(after a: Int32, through b: Int32) -> Int {
        guard b > a else { return 0 }
        if a >= base && Int(b - base) < cumulative.count {
            return Int(cumulative[Int(b - base)] - cumulative[Int(a - base)])
        }
        var n = 0
        for d in (a + 1)...b where isWorkday(d) { n += 1 }
        return n
    }

    /// The `n`-th working day after `day` (`day` itself when n is 0).
    public func addingWorkdays(_ n: Int, to day: Int32) -> Int32 { due(from: day, limit: n, unit: .workDays) }

    /// The timer state of a deadline: a finished item is OVERDUE when it finished after `due`; an open one is
    /// OVERDUE after `due` and WARNING when at most `warningWorkdays` working days remain (due today included).
    public func timer(due: Int32, finished: Int32?, asOf: Int32, warningWorkdays: Int) -> TimerState {
        if let finished { return finished > due ? .overdue : .normal }
        if asOf > due { return .overdue }
        return workdays(after: asOf, through: due) <= warningWorkdays ? .warning : .normal
    }
}

extension CivilDate {
    /// Parses `YYYY-MM-DD` into days since the epoch.
    public static func days(_ iso: String) -> Int32? { CivilDate(iso: iso)?.daysSinceEpoch }
    /// `YYYY-MM-DD` of days since the epoch.
    public static func iso(_ days: Int32) -> String { CivilDate(daysSinceEpoch: days).description }
}
