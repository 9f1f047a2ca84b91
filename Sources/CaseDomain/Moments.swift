public import SyncCore

/// A date, or a date and a time of day, as a clerk types it from a paper form: `2025-11-20`,
/// `2025-11-20T14:30`, `2025-11-20 14:30`, `2025/11/20`, `2025.11.20`, `2025年11月20日`,
/// `2025年11月20日 14:30` or `2025年11月20日14时30分` (seconds are accepted and dropped). The time is the county's
/// local time (rule `county.time_zone`); it is stored as typed, normalised to `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
/// Pure: no clock, no time-zone database.
public struct LocalMoment: Sendable, Equatable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public let day: Int32
    /// Minutes after midnight, when a time was given.
    public let minutes: Int?

    public init(day: Int32, minutes: Int? = nil) {
        self.day = day
        self.minutes = minutes
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM`.
    public var description: String {
        let d = CivilDate.iso(day)
        guard let minutes else { return d }
        return d + "T" + two(minutes / 60) + ":" + two(minutes % 60)
    }

    private func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// The moment in `text`, or nil when it is neither a date nor a date and time.
    public static func parse(_ text: String) -> LocalMoment? {
        var s = ""
        for ch in text.trimmingBlanks() {
            switch ch {
            case "年", "月", "/", ".": s.append("-")
            case "日", "号": s.append(" ")
            case "时", "點", "点", "：": s.append(":")
            case "分", "秒": s.append(":")
            default: s.append(ch)
            }
        }
        let pieces = s.split(whereSeparator: { $0 == " " || $0 == "T" })
        guard pieces.count == 1 || pieces.count == 2 else { return nil }
        let date = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
        guard date.count == 3, date[0].count == 4, (1...2).contains(date[1].count), (1...2).contains(date[2].count),
              let y = Int(date[0]), let m = Int(date[1]), let d = Int(date[2]),
              date.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let civil = CivilDate(year: y, month: m, day: d) else { return nil }
        guard pieces.count == 2 else { return LocalMoment(day: civil.daysSinceEpoch) }
        let clock = pieces[1].split(separator: ":", omittingEmptySubsequences: true)
        guard (1...3).contains(clock.count), clock.allSatisfy({ (1...2).contains($0.count) && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let h = Int(clock[0]), (0...23).contains(h) else { return nil }
        let minute = clock.count > 1 ? Int(clock[1])! : 0
        guard (0...59).contains(minute), clock.count < 3 || Int(clock[2])! <= 59 else { return nil }
        return LocalMoment(day: civil.daysSinceEpoch, minutes: h * 60 + minute)
    }

    /// Whether `name` can name a time zone: `UTC` or an IANA name such as `Asia/Shanghai` (whether this machine's
    /// time-zone database knows it is checked where one is at hand).
    public static func plausibleZone(_ name: String) -> Bool {
        if name == "UTC" { return true }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return (2...3).contains(parts.count) && parts.allSatisfy { p in
            !p.isEmpty && p.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-+".contains($0)) }
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing blanks: spaces, tabs and the ideographic space (U+3000) a Chinese
    /// input method types.
    func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\u{3000}" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }
}
