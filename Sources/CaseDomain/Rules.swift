public import SyncCore

/// The configurable rules ([P] in DOMAIN.md and the seed figures a county may set differently). The county
/// centre sets them as rows of the replicated `rule` table (`daiban rule set KEY VALUE`); every replica reads
/// the same values, so every replica judges the same way. Unset keys take the defaults below.
public struct Rules: Sendable {
    /// One rule: its key, default and meaning.
    public struct Definition: Sendable {
        public let key: String
        public let defaultValue: String
        public let meaning: String
        /// The meaning in Chinese.
        public let zh: String
    }

    public static let definitions: [Definition] = [
        .init(key: "leadership.lead_official_wan", defaultValue: "5000",
              meaning: "Investment (万元) from which an industrial investment-promotion project needs a lead official",
              zh: "工业招商引资项目总投资达到此数（万元）须明确牵头代办领导"),
        .init(key: "leadership.supervising_head_wan", defaultValue: "10000",
              meaning: "Investment (万元) from which it also needs a supervising head",
              zh: "总投资达到此数（万元）还须明确督办负责人"),
        .init(key: "leadership.inclusive", defaultValue: "true",
              meaning: "Whether 以上 includes the threshold itself", zh: "“以上”是否含本数"),
        .init(key: "leadership.categories", defaultValue: "INVESTMENT_PROMOTION",
              meaning: "Project categories the thresholds apply to (comma-separated)", zh: "适用上述门槛的项目类别（逗号分隔）"),
        .init(key: "leadership.industrial_only", defaultValue: "true",
              meaning: "Whether the thresholds apply to industrial projects only", zh: "门槛是否仅适用于工业项目"),
        .init(key: "timer.warning_wd", defaultValue: "2",
              meaning: "Working days left at which an item's timer turns WARNING", zh: "剩余多少个工作日时办件进入预警"),
        .init(key: "report_up.wd", defaultValue: "1",
              meaning: "Working days after local completion within which a 上报件 is reported up",
              zh: "上报件本级办结后须在多少个工作日内上报"),
        .init(key: "handover.wd", defaultValue: "2",
              meaning: "Working days after completion or termination within which the form reaches the office",
              zh: "办结或终止后须在多少个工作日内将办结单/终止单交回代办机构"),
        .init(key: "halfmonth.grace_wd", defaultValue: "1",
              meaning: "Working days after a half-month period within which its progress report is due",
              zh: "每半月结束后须在多少个工作日内反馈进展"),
        .init(key: "plan.wd", defaultValue: "3", meaning: "Working days after signing within which the plan is drafted",
              zh: "签约后须在多少个工作日内制定代办任务分解计划"),
        .init(key: "plan.code_items", defaultValue: "FG-01",
              meaning: "Catalogue items that give a project its 项目代码 (comma-separated): while a project has no code, its other items cannot be submitted before one of these is decided",
              zh: "赋予项目代码的事项编码（逗号分隔）：项目尚无项目代码时，须待其中一项办结后方可递交其他事项"),
        .init(key: "plan.code_free_stages", defaultValue: "ZHUTI_QUELI",
              meaning: "Stages whose items need no 项目代码 (comma-separated; 主体确立: the company is set up before the project exists)",
              zh: "无须项目代码的阶段（逗号分隔；主体确立阶段先于项目本身）"),
        .init(key: "evaluation.wd", defaultValue: "10", meaning: "Working days after handover within which evaluation follows",
              zh: "移交后须在多少个工作日内完成评价"),
        .init(key: "ticket.rectification_wd", defaultValue: "15",
              meaning: "Working days to rectify a negative review", zh: "差评整改期限（工作日）"),
        .init(key: "complaint.number_pattern", defaultValue: "TS-{yyyy}-{nnnn}",
              meaning: "How complaint numbers are made: {yyyy} the year received, {office} the receiving office, {nnnn} the next number of that year (as many digits as n's)",
              zh: "投诉编号规则：{yyyy} 受理年份，{office} 受理机构，{nnnn} 当年顺序号（n 的个数即位数）"),
        .init(key: "complaint.feedback_wd", defaultValue: "15",
              meaning: "Working days from receipt within which a complaint is answered (its 预警/逾期 timer)",
              zh: "投诉自受理起须在多少个工作日内反馈（据此预警、逾期）"),
        .init(key: "card.number_pattern", defaultValue: "KL-{yyyy}-{nnnn}",
              meaning: "How contact-card numbers are made when none is printed ({yyyy}, {office}, {nnnn} as for complaints)",
              zh: "代办联系卡编号规则（{yyyy}、{office}、{nnnn} 同投诉编号）"),
        .init(key: "ticket.number_pattern", defaultValue: "ZG-{yyyy}-{office}-{nnnn}",
              meaning: "How 差评整改 ticket numbers are made ({yyyy}, {office} of whoever records the review, {nnnn})",
              zh: "差评整改台账编号规则（{yyyy}、登记评价者所在机构 {office}、{nnnn}）"),
        .init(key: "supervise.after_wd", defaultValue: "3",
              meaning: "Working days overdue after which the centre's due list proposes a 督办 escalation of the item",
              zh: "办件逾期超过多少个工作日，中心的催办清单即建议督办"),
        .init(key: "supervise.level", defaultValue: "E3", meaning: "The escalation level a 督办 proposal names",
              zh: "建议督办时采用的协调层级"),
        .init(key: "county.time_zone", defaultValue: "Asia/Shanghai",
              meaning: "The county's time zone: dates and times are entered, recorded and shown in it (an IANA name)",
              zh: "本县时区：日期和时间均按此时区录入、记录和显示（IANA 时区名）"),
        .init(key: "calendar.version", defaultValue: "0", meaning: "The calendar version the centre last published",
              zh: "中心最近发布的工作日历版本"),
    ]

    public private(set) var values: [String: String]

    /// Rules from the `rule` table's rows; unknown keys are kept (a newer build may use them).
    public init(_ values: [String: String] = [:]) {
        var v = Dictionary(uniqueKeysWithValues: Self.definitions.map { ($0.key, $0.defaultValue) })
        for (k, x) in values where !x.isEmpty { v[k] = x }
        self.values = v
    }

    /// Checks a value before it is set.
    public static func validate(key: String, value: String) throws(SyncError) {
        guard let def = definitions.first(where: { $0.key == key }) else {
            throw SyncError(.unknownField, "unknown rule \(key) (known: \(definitions.map(\.key).joined(separator: ", ")))")
        }
        switch def.defaultValue {
        case "true", "false":
            guard value == "true" || value == "false" else { throw SyncError(.typeMismatch, "\(key) is true or false") }
        case let d where Int(d) != nil:
            guard let n = Int(value), n >= 0 else { throw SyncError(.typeMismatch, "\(key) is a whole number ≥ 0") }
        default:
            if key == "county.time_zone", !LocalMoment.plausibleZone(value) {
                throw SyncError(.typeMismatch, "\(key) is a time-zone name such as Asia/Shanghai")
            }
        }
    }

    private func int(_ key: String) -> Int { Int(values[key] ?? "") ?? Int(Self.definitions.first { $0.key == key }!.defaultValue)! }
    private func bool(_ key: String) -> Bool { values[key] == "true" }

    /// The county's time zone (an IANA name).
    public var timeZone: String { values["county.time_zone"] ?? "Asia/Shanghai" }
    public var leadOfficialWan: Double { Double(values["leadership.lead_official_wan"] ?? "") ?? 5000 }
    public var supervisingHeadWan: Double { Double(values["leadership.supervising_head_wan"] ?? "") ?? 10000 }
    public var inclusive: Bool { bool("leadership.inclusive") }
    public var thresholdCategories: Set<String> {
        Set((values["leadership.categories"] ?? "").split(separator: ",").map { String($0) })
    }
    public var industrialOnly: Bool { bool("leadership.industrial_only") }
    public var warningWorkdays: Int { int("timer.warning_wd") }
    public var reportUpWorkdays: Int { int("report_up.wd") }
    /// The catalogue items that give a project its 项目代码.
    public var codeItems: [String] { listValue("plan.code_items") }
    /// The stages whose items need no 项目代码.
    public var codeFreeStages: [String] { listValue("plan.code_free_stages") }

    private func listValue(_ key: String) -> [String] {
        (values[key] ?? "").split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
    }
    public var handoverWorkdays: Int { int("handover.wd") }
    public var halfMonthGraceWorkdays: Int { int("halfmonth.grace_wd") }
    public var planWorkdays: Int { int("plan.wd") }
    public var rectificationWorkdays: Int { int("ticket.rectification_wd") }
    public var complaintFeedbackWorkdays: Int { int("complaint.feedback_wd") }
    public var cardNumberPattern: String { values["card.number_pattern"] ?? "KL-{yyyy}-{nnnn}" }
    public var ticketNumberPattern: String { values["ticket.number_pattern"] ?? "ZG-{yyyy}-{office}-{nnnn}" }
    public var superviseAfterWorkdays: Int { int("supervise.after_wd") }
    public var superviseLevel: String { values["supervise.level"] ?? "E3" }
    public var complaintNumberPattern: String { values["complaint.number_pattern"] ?? "TS-{yyyy}-{nnnn}" }

    /// The next number `pattern` gives for `year` and `office`, after the numbers already `taken`: {yyyy} the year,
    /// {office} the office, {nnnn} one above the highest number of that year and office (as many digits as n's).
    public static func nextNumber(pattern: String, year: Int, office: String, taken: [String]) -> String {
        var p = pattern.replacingAll("{yyyy}", with: String(year)).replacingAll("{office}", with: office)
        guard let open = p.range(ofText: "{n"), let close = p[open.upperBound...].firstIndex(of: "}"),
              p[open.lowerBound ..< close].dropFirst().allSatisfy({ $0 == "n" }) else { return p }
        let width = p.distance(from: open.lowerBound, to: close) - 1
        let prefix = String(p[..<open.lowerBound]), suffix = String(p[p.index(after: close)...])
        var highest = 0
        for t in taken where t.hasPrefix(prefix) && t.hasSuffix(suffix) && t.count > prefix.count + suffix.count {
            let middle = t.dropFirst(prefix.count).dropLast(suffix.count)
            if let n = Int(middle), middle.allSatisfy(\.isNumber) { highest = max(highest, n) }
        }
        let digits = String(highest + 1)
        p = prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits + suffix
        return p
    }
    public var calendarVersion: Int { int("calendar.version") }

    /// Which officials a project needs (004 §1(3)): a lead official from the first threshold, a supervising
    /// head from the second.
    public func leadershipRequired(category: String?, industrial: Bool, investmentWan: Double?)
        -> (leadOfficial: Bool, supervisingHead: Bool)
    {
        guard let w = investmentWan, let category, thresholdCategories.contains(category),
            industrial || !industrialOnly
        else { return (false, false) }
        func reaches(_ t: Double) -> Bool { inclusive ? w >= t : w > t }
        return (reaches(leadOfficialWan), reaches(supervisingHeadWan))
    }
}

/// Half-month periods (DOMAIN.md §1.4 [P]): 1st–15th and 16th–end of month.
public enum HalfMonth {
    /// The period containing `day`.
    public static func period(containing day: Int32) -> (start: Int32, end: Int32) {
        let c = CivilDate(daysSinceEpoch: day)
        if c.day <= 15 {
            return (CivilDate(year: c.year, month: c.month, day: 1)!.daysSinceEpoch,
                    CivilDate(year: c.year, month: c.month, day: 15)!.daysSinceEpoch)
        }
        return (CivilDate(year: c.year, month: c.month, day: 16)!.daysSinceEpoch,
                CivilDate(year: c.year, month: c.month, day: CivilDate.daysIn(month: c.month, year: c.year))!.daysSinceEpoch)
    }

    /// Periods numbered consecutively (two a month): the number of the period containing `day`.
    public static func number(containing day: Int32) -> Int {
        let c = CivilDate(daysSinceEpoch: day)
        return (c.year * 12 + c.month - 1) * 2 + (c.day > 15 ? 1 : 0)
    }

    /// The period numbered `k` (see `number(containing:)`).
    public static func period(number k: Int) -> (start: Int32, end: Int32) {
        let year = k / 24, month = k / 2 % 12 + 1
        let last = k % 2 == 0 ? 15 : CivilDate.daysIn(month: month, year: year)
        return (CivilDate(year: year, month: month, day: k % 2 == 0 ? 1 : 16)!.daysSinceEpoch,
                CivilDate(year: year, month: month, day: last)!.daysSinceEpoch)
    }

    /// The periods a case owes a report for: those ending after the agreement was signed and no later than
    /// `until` (the completion or termination date, or the last finished period before `asOf`).
    public static func owed(signedOn: Int32, until: Int32) -> [(start: Int32, end: Int32)] {
        var out: [(Int32, Int32)] = []
        var p = period(containing: signedOn)
        while p.end <= until {
            if p.end > signedOn { out.append(p) }
            p = period(containing: p.end + 1)
        }
        return out
    }
}
