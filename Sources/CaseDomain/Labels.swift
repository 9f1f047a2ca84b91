/// The Chinese names of the enumerated codes a clerk types or reads: stored values stay codes (so a newer build
/// may add codes), while inputs accept either the code or its Chinese name and tables under a zh locale show the
/// name. Pure data and lookups, no I/O.
public enum CodeLabels {
    public typealias Table = [(code: String, zh: String)]

    /// 登记渠道.
    public static let channel: Table = [
        ("ONLINE_PORTAL", "网上平台"), ("PHONE", "电话"), ("WINDOW", "窗口"), ("CONTACT_CARD", "代办联系卡"),
        ("ASSIGNED_BY_UPPER", "上级交办"), ("DEPT_REFERRAL", "部门转办"), ("FIELD_VISIT", "上门服务"),
    ]
    /// 委托范围.
    public static let scope: Table = [("FULL", "全程"), ("PARTIAL", "部分")]
    /// 协议签订状态.
    public static let signState: Table = [
        ("WAIT_SIGNING", "待签约"), ("SIGNING", "签约中"), ("APPLICANT_SIGNING", "申请人签约中"), ("SIGNED", "已签约"),
    ]
    /// 重点代办类别.
    public static let category: Table = [
        ("DAJIAN_DAMEI", "大建大美"), ("INDUSTRIAL_PLATFORM", "工业平台"), ("INVESTMENT_PROMOTION", "招商引资"), ("OTHER", "其他"),
    ]
    /// 登记表形式.
    public static let form: Table = [("paper", "纸质"), ("electronic", "电子")]
    /// 工作日志类别.
    public static let logKind: Table = [
        ("SITE_VISIT", "现场走访"), ("CALL", "电话联系"), ("WECHAT_QQ", "微信QQ"), ("SUBMISSION", "递交材料"), ("URGE", "催办"),
        ("SUPERVISE", "督办"), ("COORDINATE", "协调"), ("CONSULT", "咨询"), ("HANDOVER", "移交"),
    ]
    /// 暂停计时的原因.
    public static let pauseReason: Table = [
        ("SUPPLEMENT", "补正"), ("TECH_EVAL", "技术审查"), ("EXPERT", "专家评审"), ("HEARING", "听证"),
        ("SITE_SURVEY", "现场勘察"), ("COLLECTIVE_DISCUSSION", "集体讨论"),
    ]
    /// 审批结果.
    public static let decision: Table = [
        ("APPROVED", "通过"), ("APPROVED_TOLERANCE", "容缺通过"), ("DISAPPROVED", "不予通过"), ("ANSWERED", "已答复"),
    ]
    /// 办件类别 (六件).
    public static let handlingClass: Table = [
        ("IMMEDIATE", "即办件"), ("COMMITTED", "承诺件"), ("JOINT", "联办件"), ("ANSWERED", "答复件"),
        ("SUPPLEMENT", "补正件"), ("REPORT_UP", "上报件"),
    ]
    /// 会议类型.
    public static let meetingType: Table = [
        ("JOINT_MEETING", "联席会议"), ("JOINT_REVIEW", "联合审查"), ("DIFFICULT_CONSULTATION", "疑难会商"),
        ("JOINT_SITE_SURVEY", "联合踏勘"), ("JOINT_ACCEPTANCE", "联合验收"),
    ]
    /// 评价方向.
    public static let direction: Table = [
        ("OWNER_TO_AGENT", "业主评代办员"), ("AGENT_TO_DEPARTMENT", "代办员评部门"), ("OWNER_TO_DEPARTMENT", "业主评部门"),
        ("HAOCHAPING", "好差评"),
    ]
    /// 终止原因.
    public static let terminationReason: Table = [("PROJECT_REASON", "项目原因"), ("CLIENT_REQUEST", "委托方要求")]
    /// 投诉对象.
    public static let complaintTarget: Table = [("AGENT", "代办员"), ("DEPARTMENT", "部门"), ("WINDOW", "窗口"), ("PERSON", "个人")]
    /// 投诉类别.
    public static let complaintCategory: Table = [
        ("REPEATED_MATERIALS", "重复提交材料"), ("DELAY", "办理超时"), ("ATTITUDE", "服务态度"), ("IRREGULAR_FEE", "违规收费"),
        ("INTEGRITY", "廉洁问题"), ("OTHER", "其他"),
    ]
    /// 投诉办理状态.
    public static let complaintStatus: Table = [
        ("RECEIVED", "已受理"), ("INVESTIGATING", "调查中"), ("DISPOSED", "已处置"), ("FEEDBACK_GIVEN", "已反馈"),
        ("ARCHIVED", "已归档"),
    ]
    /// 代办项目状态.
    public static let caseStatus: Table = CaseStatus.allCases.map { ($0.rawValue, $0.zh) }
    /// 办件状态.
    public static let itemStatus: Table = ItemStatus.allCases.map { ($0.rawValue, $0.zh) }

    /// The code `text` names in `table`: the code itself (any letter case) or its Chinese name, blanks around
    /// ignored. Text that is neither comes back unchanged, for the step to refuse with the list of choices.
    /// 人员角色.
    public static let role: Table = [
        ("AGENT", "代办员"), ("CHIEF_AGENT", "首席代办员"), ("LIAISON", "联络员"), ("WINDOW_LEAD", "窗口负责人"),
        ("WINDOW_STAFF", "窗口工作人员"), ("DEPT_LEADER", "部门负责人"), ("LEAD_OFFICIAL", "牵头代办领导"),
        ("SUPERVISING_HEAD", "督办负责人"), ("OFFICE_ADMIN", "代办机构管理员"), ("AUDITOR", "审计员"), ("REFERRER", "推荐人"),
    ]
    /// 中介服务的类别 (any other text is kept as typed).
    public static let intermediaryKind: Table = [
        ("EIA_REPORT", "环评报告编制"), ("SURVEY", "测绘"), ("DRAWING_REVIEW", "施工图审查"), ("SAFETY_ASSESSMENT", "安全评价"),
        ("ENERGY_REPORT", "节能报告编制"), ("FEASIBILITY", "可行性研究报告编制"), ("GEOHAZARD", "地质灾害危险性评估"),
        ("SOIL_WATER", "水土保持方案编制"), ("LIGHTNING", "防雷检测"), ("FIRE_TEST", "消防检测"), ("OTHER", "其他"),
    ]
    /// 中介服务的状态.
    public static let serviceStatus: Table = [("OPEN", "进行中"), ("DELIVERED", "已交付"), ("CANCELLED", "已取消")]

    public static func code(_ text: String, in table: Table) -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let hit = table.first(where: { $0.code == t || $0.zh == t || $0.code.uppercased() == t.uppercased() }) { return hit.code }
        // 「代办中」 for 「代办中(组织实施)」: the name before its note in brackets, when that is unique.
        let short = table.filter { entry in
            guard let open = entry.zh.firstIndex(where: { $0 == "(" || $0 == "（" }), open != entry.zh.startIndex else { return false }
            return entry.zh[..<open] == t
        }
        return short.count == 1 ? short[0].code : text
    }

    /// The Chinese name of `code` in `table`, or the code when it has none.
    /// What tables show for a code met without its column (a report's row kinds, states), first; then every
    /// labelled code, the case and item states before the rest.
    static let shown: [String: String] = [
        "COMPLETION": "办结单", "TERMINATION": "终止单", "ESCALATION": "协调升级", "RESOLUTION": "会议决议", "PAUSED": "暂停计时",
        "ON_TIME": "按时", "LATE": "迟报", "MISSING": "缺报", "DUE": "待办", "OPEN": "未结", "DONE": "已完成", "CLOSED": "已销号",
        "RESOLVED": "已解决", "ITEM": "办件", "REPORT_UP": "上报件", "HALFMONTH": "半月汇总", "HANDOVER": "移交",
        "FULL": "全程代办", "PARTIAL": "部分代办", "SUPPLEMENT": "补办件", "PLAN": "计划表", "SERVICE": "中介服务",
        "SUPERVISE": "督办", "PROPOSED": "建议", "NORMAL": "正常", "WARNING": "预警", "OVERDUE": "逾期",
    ]

    /// The Chinese name of a code shown without its column, or nil.
    public static func name(of code: String) -> String? {
        if let n = shown[code] { return n }
        for table in [caseStatus, itemStatus, handlingClass, channel, signState, category, logKind, pauseReason, decision,
                      meetingType, direction, terminationReason, complaintCategory, complaintStatus, role, intermediaryKind,
                      serviceStatus] {
            if let hit = table.first(where: { $0.code == code }) { return hit.zh }
        }
        return nil
    }

    public static func zh(_ code: String, in table: Table) -> String {
        table.first { $0.code == code }?.zh ?? code
    }
}

/// Yes or no as a clerk types it: 是/否, yes/no, y/n, true/false, 1/0 (any letter case).
public func parseYesNo(_ text: String) -> Bool? {
    switch text.trimmingCharacters(in: .whitespaces).lowercased() {
    case "是", "对", "yes", "y", "true", "1": true
    case "否", "不", "no", "n", "false", "0": false
    default: nil
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> Substring {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return s
    }
}

extension Set where Element == Character {
    fileprivate static let whitespaces: Set<Character> = [" ", "\t", "\u{3000}"]
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation in this module).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = "", rest = Substring(self)
        while let r = rest.range(ofText: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }

    func range(ofText target: String) -> Range<String.Index>? { Substring(self).range(ofText: target) }
}

extension Substring {
    func range(ofText target: String) -> Range<String.Index>? {
        guard !target.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i ..< index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
