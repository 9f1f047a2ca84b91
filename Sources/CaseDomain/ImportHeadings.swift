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
        "office": [
            "id": ["编号", "机构编号", "ID"], "name": ["名称", "机构名称", "NAME"], "level": ["层级", "机构层级", "LEVEL"],
            "parent_id": ["上级机构", "PARENT"], "jurisdiction": ["辖区", "JURISDICTION"], "consult_phone": ["咨询电话", "电话", "PHONE"],
        ],
        "township": [
            "id": ["编号", "乡镇编号", "ID"], "name": ["名称", "乡镇名称", "NAME"], "kind": ["类型", "KIND"],
            "office_id": ["代办机构", "所属机构", "机构", "OFFICE"], "connectivity": ["网络状况", "网络", "CONNECTIVITY"],
        ],
        "department": [
            "id": ["编号", "部门编号", "ID"], "name": ["名称", "部门名称", "NAME"], "kind": ["类型", "KIND"], "level": ["层级", "LEVEL"],
            "entry_mode": ["进驻方式", "ENTRY"], "leader_id": ["分管领导", "LEADER"], "upper_name": ["上级部门", "UPPER"], "role": ["职能", "ROLE"],
        ],
        "person": [
            "id": ["编号", "人员编号", "ID"], "name": ["姓名", "名称", "NAME"], "login": ["登录名", "账号", "LOGIN"],
            "office_id": ["机构", "所属机构", "OFFICE"], "department_id": ["部门", "所属部门", "DEPARTMENT"], "title": ["职务", "TITLE"],
            "rank": ["职级", "RANK"], "roles": ["角色", "ROLES"], "mobile": ["手机", "手机号", "电话", "MOBILE"],
            "backup_person_id": ["AB角", "备岗人员", "BACKUP"], "active": ["在岗", "是否在岗", "ACTIVE"],
        ],
        "rule": ["id": ["规则", "键", "KEY", "ID"], "value": ["值", "取值", "VALUE"], "note": ["说明", "备注", "NOTE"]],
        "calendar_day": [
            "date": ["日期", "DATE"], "workday": ["是否工作日", "工作日", "上班", "WORKDAY"],
            "source_notice": ["依据", "通知", "说明", "备注", "来源", "NOTICE", "SOURCE"],
        ],
    ]

    /// Columns the list commands show beside the fields (read, not imported).
    static let shownOnly: [String: Set<String>] = ["calendar_day": ["星期", "WEEKDAY"]]

    /// The table a roster workbook's sheet holds, by its name (`人员`, `people` …).
    public static func rosterTable(sheet name: String) -> String? {
        let n = name.filter { !$0.isWhitespace }.lowercased()
        let names: [String: [String]] = [
            "office": ["offices", "office", "机构", "代办机构"], "township": ["townships", "township", "乡镇", "乡镇园区"],
            "department": ["departments", "department", "部门", "审批部门"], "person": ["people", "person", "人员", "花名册"],
            "rule": ["rules", "rule", "规则"],
        ]
        return names.first { $0.value.contains(n) }?.key
    }

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
        let v = raw.trimmingBlanks()
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
