/// The column headings a clerk's spreadsheet may use for a table's fields: the field's own key, or one of its
/// Chinese names (those `daiban … --format xlsx` writes among them, so an exported sheet imports back), and the
/// Chinese names of coded values. Pure data and lookups.
public enum ImportHeadings {
    static let aliases: [String: [String: [String]]] = [
        "catalogue_item": [
            "code": ["事项编码", "事项代码", "编码", "编号", "ID"], "name": ["事项名称", "名称", "NAME"],
            "department_id": ["实施部门", "部门", "部门编号", "审批部门", "DEPARTMENT"],
            "default_kind": ["办件类型", "即办/承诺", "事项类型", "KIND"],
            "committed_limit": ["承诺时限", "承诺期限", "承诺办结时限", "COMMITTED"],
            "committed_unit": ["承诺时限单位", "承诺期限单位", "承诺单位", "COMMITTEDUNIT"],
            "legal_limit": ["法定时限", "法定期限", "法定办结时限", "LEGAL"], "legal_unit": ["法定时限单位", "法定期限单位", "法定单位", "LEGALUNIT"],
            "stage": ["阶段", "审批阶段", "STAGE"], "approval_level": ["审批层级", "层级", "LEVEL"], "class_hint": ["办件类别", "CLASS"],
            "pauses_allowed": ["可暂停计时", "允许暂停计时", "特别程序", "PAUSES"],
            "required_materials": ["申请材料", "应交材料", "所需材料", "MATERIALS"],
            "acceptance_conditions": ["受理条件"], "issues_receipt": ["出具受理回执"],
            "requires_owner_in_person": ["需业主到场", "需本人到场"], "catalogue_status": ["事项状态", "状态"], "version": ["版本"],
        ],
        "calendar_day": [
            "date": ["日期", "DATE"], "workday": ["是否工作日", "工作日", "上班", "WORKDAY"],
            "source_notice": ["依据", "通知", "说明", "备注", "来源", "NOTICE", "SOURCE"],
        ],
    ]

    /// Columns the list commands show beside the fields (read, not imported).
    static let shownOnly: [String: Set<String>] = ["calendar_day": ["星期", "WEEKDAY"]]

    /// The field a heading names, "" for a column that is shown but not imported, or nil.
    public static func field(_ heading: String, table: String) -> String? {
        let h = heading.filter { !$0.isWhitespace && $0 != "\u{FEFF}" }
        if shownOnly[table]?.contains(h) == true { return "" }
        let fields = aliases[table] ?? [:]
        if fields[h] != nil { return h }
        return fields.first { $0.value.contains(h) }?.key
    }

    /// A coded value as a clerk types it (工作日, 承诺件 …) as its code; anything else unchanged.
    public static func value(_ raw: String, field: String, table: String) -> String {
        let v = raw.trimmingCharacters()
        switch (table, field) {
        case ("catalogue_item", "committed_unit"), ("catalogue_item", "legal_unit"):
            return ["工作日": "WD", "个工作日": "WD", "自然日": "ND", "日": "ND", "天": "ND"][v] ?? v.uppercased()
        case ("catalogue_item", "default_kind"), ("catalogue_item", "class_hint"):
            return CodeLabels.code(v, in: CodeLabels.handlingClass)
        default:
            return v
        }
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\u{3000}" }
        guard let a = firstIndex(where: { !blank($0) }), let b = lastIndex(where: { !blank($0) }) else { return "" }
        return String(self[a...b])
    }
}
