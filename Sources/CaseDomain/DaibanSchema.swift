public import SyncCore

/// The replicated tables of the 代办 domain (`shared/DOMAIN.md` §1).
///
/// Field names follow DOMAIN.md. Enumerations are stored as their code text (for example `TOWN`,
/// `INVESTMENT_PROMOTION`), so that a newer build may add codes without breaking older replicas. Lists of ids
/// (roles, stages, items, team members) are comma-separated text.
///
/// Merge policies follow the field ownership of DOMAIN.md §3: every workflow status uses `ordered`, so a merge
/// never moves a case, an item, a resolution, an escalation, a ticket or a complaint backwards; append-only
/// records (work logs, progress reports, evaluations, pauses, material uses) are written once by one device and
/// never edited, so they cannot conflict; one-row-per-signer tables (meeting attendees) keep each department's
/// sign-off in its own row.
public enum DaibanSchema {
    private static func t(_ s: String) -> FieldSchema { FieldSchema(s, .text) }
    private static func d(_ s: String) -> FieldSchema { FieldSchema(s, .date) }
    private static func b(_ s: String) -> FieldSchema { FieldSchema(s, .bool) }
    private static func i(_ s: String) -> FieldSchema { FieldSchema(s, .integer) }
    private static func table(_ name: String, _ fields: [FieldSchema], indexes: [ProjectionIndex] = [],
                              searchable: [String] = []) -> TableSchema {
        TableSchema(name, fields, projected: true, indexes: indexes, searchable: searchable)
    }

    // MARK: 1.1 Organisation and people

    /// 代办机构 (§1.1): COUNTY_CENTER / TOWNSHIP / PARK / UPPER.
    public static let office = table("office", [
        FieldSchema("name", .text, nullable: false), t("level"), t("parent_id"),
        t("jurisdiction"), t("consult_phone"),
    ])

    /// 乡镇/园区 (§1.1).
    public static let township = table("township", [
        FieldSchema("name", .text, nullable: false),
        // TOWN / STREET / PARK / SMALL_TOWN / MICRO_PARK
        t("kind"), t("office_id"), t("connectivity"),
    ])

    /// 人员 with role assignments (§1.1). `login` ties a person to a daiban user; `roles` is comma-separated
    /// (AGENT, CHIEF_AGENT, LIAISON, WINDOW_LEAD, OFFICE_ADMIN, LEAD_OFFICIAL, SUPERVISING_HEAD, AUDITOR …).
    public static let person = table("person", [
        FieldSchema("name", .text, nullable: false), t("login"), t("office_id"), t("department_id"), t("title"),
        t("rank"), t("roles"), t("mobile"), t("backup_person_id"), b("active"),
    ], indexes: [["login"]])

    /// 进驻部门 / 审批部门 (§1.1).
    public static let department = table("department", [
        FieldSchema("name", .text, nullable: false), t("kind"), t("level"), t("entry_mode"), t("leader_id"),
        t("upper_name"), t("role"),
    ])

    // MARK: 1.2 Client side

    /// 项目业主 / 企业 (§1.2). The row id is derived from the USCC, so two devices registering the same
    /// enterprise offline write the same row.
    public static let enterprise = table("enterprise", [
        FieldSchema("name", .text, nullable: false),
        // 统一社会信用代码, 18 characters; the dedupe key.
        t("uscc"), t("address"),
        // 内资 / 外资 / 中外合资 …
        t("nature"), t("legal_rep"), t("operator"), t("email"), t("origin_flags"),
    ], indexes: [["uscc"]], searchable: ["name", "uscc"])

    /// 投资项目 (§1.2).
    public static let project = table("project", [
        t("enterprise_id"),
        FieldSchema("name", .text, nullable: false),
        // 项目代码, GB/T 40058-2021, 24 characters.
        t("project_code"), t("township_id"),
        // DAJIAN_DAMEI / INDUSTRIAL_PLATFORM / INVESTMENT_PROMOTION / OTHER
        t("category"), b("is_industrial"),
        // 总投资, 万元.
        FieldSchema("total_investment_wan", .decimal),
        // 备案 / 核准 / 审批
        t("approval_type"), b("is_major"), b("is_government_investment"), t("lead_official_id"),
        t("supervising_head_id"), t("referred_by"), t("address"), t("current_stage"),
    ], indexes: [["township_id"], ["enterprise_id"]], searchable: ["name", "project_code"])

    /// 代办联系卡 (§1.2).
    public static let contactCard = table("contact_card", [
        t("card_no"), t("issued_by_dept_id"), t("enterprise_id"), t("project_id"), t("eligible_reason"),
        t("service_type"), d("issued_on"), t("status"),
    ], indexes: [["project_id"], ["enterprise_id"]])

    // MARK: 1.3 Catalogue and reference data

    /// 事项 (§1.3). Limits are a number and a unit (WD 工作日 / ND 自然日); an empty legal limit means the
    /// statute gives none (or it is unverified).
    public static let catalogueItem = table("catalogue_item", [
        t("code"), FieldSchema("name", .text, nullable: false), t("department_id"), t("acceptance_conditions"),
        t("required_materials"), i("legal_limit"), t("legal_unit"), i("committed_limit"), t("committed_unit"),
        t("default_kind"), b("issues_receipt"), t("stage"), t("approval_level"), t("class_hint"),
        t("pauses_allowed"), b("requires_owner_in_person"), t("catalogue_status"), i("version"),
    ])

    /// 工作日历 (reference data, §0.7): one row per date (`YYYY-MM-DD` key). 调休 make-up working days are
    /// rows with `workday` true on a weekend; days without a row follow Monday–Friday.
    public static let calendarDay = table("calendar_day", [
        FieldSchema("workday", .bool, nullable: false), t("source_notice"), i("version"),
    ])

    /// Configurable rules ([P] in DOMAIN.md), set by the county centre and replicated: key = rule name.
    public static let rule = table("rule", [t("value"), t("note")])

    // MARK: 1.4 The agency case

    /// 代办登记表 (§1.4). `dedupe_key` is (uscc, normalised project name, township).
    public static let registration = table("registration", [
        t("reg_no"), t("channel"), t("enterprise_id"), t("project_id"), t("township_id"), t("dedupe_key"),
        t("requested_scope"), t("requested_items"), t("requested_stages"), t("received_by_office_id"),
        t("received_by_person_id"), d("received_at"), t("occurred_at"), t("contact_card_id"), t("case_id"),
        t("duplicate_of"), t("form"),
    ], indexes: [["dedupe_key"], ["case_id"], ["reg_no"]])

    static let signStates = ["WAIT_SIGNING", "SIGNING", "APPLICANT_SIGNING", "SIGNED"]

    /// 投资项目委托代办协议 (§1.4). The fee is always zero (004 §三(一)).
    public static let agreement = table("agreement", [
        t("agreement_code"), t("case_id"), t("registration_id"), t("project_id"), t("enterprise_id"),
        t("office_id"), t("scope"), t("stages"), t("items"), t("agent_id"), FieldSchema("fee", .decimal),
        b("principle_ack"), FieldSchema("sign_state", .text, policy: .ordered(signStates)), d("signed_on"),
    ], indexes: [["case_id"], ["agreement_code"]])

    /// 代办项目, the aggregate root (§1.4). `status` merges by `CaseStatus.mergeOrder`.
    public static let `case` = table("case", [
        t("case_no"), t("project_id"), t("enterprise_id"), t("township_id"), t("office_id"), t("agreement_id"),
        FieldSchema("status", .text, policy: .ordered(CaseStatus.mergeOrder.map(\.rawValue))),
        t("agent_id"), t("chief_agent_id"), t("team"), t("liaisons"), t("lead_official_id"),
        t("supervising_head_id"), d("registered_on"), d("reviewed_on"), d("signed_on"), d("plan_confirmed_on"),
        d("completed_on"), d("terminated_on"), d("handed_over_on"), d("evaluated_on"), t("reason"),
        t("dedupe_key"),
    ], indexes: [["agent_id", "status"], ["township_id", "status"], ["status"], ["chief_agent_id"], ["project_id"],
                 ["enterprise_id"], ["team"], ["case_no"],
                 // Covering the reports that walk every case in key order beside its items or progress reports.
                 ["_key", "status", "agent_id", "chief_agent_id", "signed_on", "completed_on", "terminated_on"]],
        searchable: ["case_no"])

    /// 代办任务分解计划表 item (§1.4). Limits are copied from the catalogue when planned, so a later
    /// catalogue version does not move a running item's deadlines. Due dates are derived on every
    /// acceptance, pause and resume, and recomputed when the calendar changes.
    public static let planItem = table("plan_item", [
        t("case_id"), i("n"), t("stage"), t("catalogue_item_id"), t("department_id"), t("liaison_id"),
        t("depends_on"), d("planned_due"), d("dispatched_on"), d("submitted_on"), d("accepted_on"),
        t("handling_class"), FieldSchema("status", .text, policy: .ordered(ItemStatus.mergeOrder.map(\.rawValue))),
        i("committed_limit"), t("committed_unit"), i("legal_limit"), t("legal_unit"), d("committed_due"),
        d("legal_due"), d("local_done_on"), d("report_up_due"), d("reported_up_on"), t("reported_up_to"),
        d("decided_on"), i("elapsed_wd"), t("platform_case_no"), t("cert_no"), t("recorded_by"),
        b("on_behalf"), b("had_supplement"),
    ], indexes: [["case_id"], ["status", "committed_due"], ["department_id"], ["liaison_id"],
                 // The centre's reports over ~2M items read only the rows they show through these.
                 ProjectionIndex(["case_id", "n"], where: PlanItemSQL.finishedLate),
                 ProjectionIndex(["committed_due"], where: PlanItemSQL.open),
                 ProjectionIndex(["legal_due"], where: PlanItemSQL.open),
                 ProjectionIndex(["case_id", "n"], where: PlanItemSQL.localDone),
                 // Covering the decided items' figures: departments (grouped by department and working days),
                 // agents (grouped by case).
                 ProjectionIndex(["department_id", "elapsed_wd", "decided_on", "local_done_on", "committed_due", "legal_due",
                                  "had_supplement", "status"], where: PlanItemSQL.finished),
                 ProjectionIndex(["case_id", "decided_on", "local_done_on", "committed_due"], where: PlanItemSQL.finished)])

    /// Conditions over `v_plan_item` that partial indexes are built on. A query uses such an index only when its
    /// WHERE clause repeats the condition, so queries take the text from here.
    public enum PlanItemSQL {
        /// Not finished (neither decided nor done at the local level).
        public static let open = "decided_on IS NULL AND local_done_on IS NULL"
        /// Finished after the earlier of its deadlines. The county's part of a 上报件 ends when it is done at the
        /// local level (`local_done_on`); the upper level's decision after that is timed apart (report-up).
        public static let finishedLate =
            "coalesce(local_done_on, decided_on) > min(coalesce(committed_due, '9'), coalesce(legal_due, '9'))"
        /// Decided by the department (approved, refused, answered …).
        public static let decided = "decided_on IS NOT NULL"
        /// Done at the local level (上报件).
        public static let localDone = "local_done_on IS NOT NULL"
        /// The county's part is over: decided here, or done here and reported up.
        public static let finished = "(decided_on IS NOT NULL OR local_done_on IS NOT NULL)"
    }

    /// A clock pause of a plan item (补正 / 特别程序), [from, to): `to` empty while it runs.
    public static let itemPause = table("item_pause", [
        t("plan_item_id"), t("case_id"), d("from"), d("to"), t("reason"),
    ], indexes: [["plan_item_id"], ["case_id"]])

    /// 一次性告知: what a department told the owner is missing, all at once, when it asked for 补正. `missing` lists
    /// the materials separated by "；".
    public static let supplementNotice = table("supplement_notice", [
        t("plan_item_id"), t("case_id"), d("notified_on"), t("missing"), t("notice_no"), t("recorded_by"),
    ], indexes: [["plan_item_id"], ["case_id"]])

    /// 中介服务: intermediary work an approval waits for (环评报告编制, 测绘, 施工图审查 …), done by a provider the
    /// owner chose, timed like an item from its contract date by the committed days.
    public static let intermediaryService = table("intermediary_service", [
        t("case_id"), t("plan_item_id"), t("kind"), t("provider"), t("provider_uscc"), d("contract_on"),
        i("committed_days"), t("committed_unit"), d("due"), d("delivered_on"),
        // Concurrent steps never move it back; a delivery recorded anywhere is a fact and wins over a cancel.
        FieldSchema("status", .text, policy: .ordered(["OPEN", "CANCELLED", "DELIVERED"])), t("note"), t("recorded_by"),
        t("cancel_reason"),
    ], indexes: [["case_id"], ["status", "due"]])

    /// 工作日志 (§1.4), append-only: `occurred_at` is the device time as entered.
    public static let workLog = table("work_log", [
        t("case_id"), t("plan_item_id"), t("author_id"), t("occurred_at"), t("recorded_at"), t("kind"),
        t("content"), t("next_action"),
    ], indexes: [["case_id"]])

    /// 半月进度汇总 (§1.4), append-only.
    public static let progressReport = table("progress_report", [
        t("case_id"), d("period_start"), d("period_end"), d("delivered_on"), t("channel"), t("summary"),
        t("author_id"),
    ], indexes: [["case_id", "period_start", "delivered_on"]])

    /// 联合审批协调会议记录表 (§1.4).
    public static let meeting = table("meeting", [
        t("case_ids"), t("type"), t("convened_by"), t("level"), d("date"), t("venue"), t("chair_id"),
        t("recorder_id"), t("issues"),
    ])

    /// One attendee line of a meeting; the attendee (or the recorder for them) signs their own row.
    public static let meetingAttendee = table("meeting_attendee", [
        t("meeting_id"), t("department_id"), t("org"), t("person_id"), t("title"), b("signed"), t("signed_at"),
    ], indexes: [["meeting_id"]])

    /// A meeting resolution, tracked until done.
    public static let meetingResolution = table("meeting_resolution", [
        t("meeting_id"), t("case_id"), t("text"), t("responsible_department_id"), d("due"),
        FieldSchema("status", .text, policy: .ordered(["OPEN", "DONE"])), d("done_on"),
    ], indexes: [["meeting_id"], ["status"]])

    /// 协调/升级 (§2.3): E0–E4 and EX 疑难会商.
    public static let escalation = table("escalation", [
        t("case_id"), t("plan_item_id"), t("level"), t("raised_by"), d("raised_at"), t("target"), t("reason"),
        t("meeting_id"), FieldSchema("status", .text, policy: .ordered(["OPEN", "RESOLVED"])), d("resolved_at"),
        t("outcome"),
    ], indexes: [["case_id"], ["status"]])

    /// 代办项目办结单 (§1.4). `received_at` is the office's receipt as it occurred (device time).
    public static let completionForm = table("completion_form", [
        t("case_id"), t("form_no"), d("completed_on"), d("materials_handed_on"), b("owner_signed"),
        d("handover_due"), t("received_by_office_id"), t("received_by_person_id"), t("received_at"),
    ], indexes: [["case_id"], ["form_no"]])

    /// 代办项目委托终止单 (§1.4).
    public static let terminationForm = table("termination_form", [
        t("case_id"), t("form_no"), t("reason_type"), t("reason_text"), d("terminated_on"), b("owner_signed"),
        d("handover_due"), t("received_by_office_id"), t("received_by_person_id"), t("received_at"),
    ], indexes: [["case_id"], ["form_no"]])

    /// 评价 (§1.4), append-only.
    public static let evaluation = table("evaluation", [
        t("case_id"), t("direction"), t("target_person_id"), t("target_department_id"), t("grade"),
        t("dim_attitude"), t("dim_efficiency"), t("dim_quality"), b("real_name"), t("channel"), t("comment"),
        t("occurred_at"), t("recorded_by"),
    ], indexes: [["case_id"]])

    /// 差评回访整改台账 (§1.4).
    public static let ticket = table("ticket", [
        t("evaluation_id"), t("case_id"), t("category"), b("verified"), b("malicious_or_mistaken"),
        d("callback_at"), t("callback_by"), t("action"), t("responsible"), d("rectification_due"),
        d("rectified_at"), d("feedback_at"), FieldSchema("status", .text, policy: .ordered(["OPEN", "CLOSED"])),
        t("ticket_no"),
    ], indexes: [["evaluation_id"], ["case_id"], ["ticket_no"]])

    /// 投诉 (§1.4), GB/T 36113-2018 process.
    public static let complaint = table("complaint", [
        t("complainant"), t("channel"), t("target_kind"), t("target_id"), t("case_id"), t("content"),
        d("received_at"), FieldSchema("status", .text, policy: .ordered(ComplaintStatus.allCases.map(\.rawValue))),
        t("findings"), t("disposition"), d("feedback_at"), d("archived_at"), b("upheld"),
        b("applied_to_assessment"), t("complaint_no"), t("received_by_office_id"), t("category"), d("investigating_on"),
        d("disposed_on"), d("due"), t("received_time"),
    ], indexes: [["status"], ["case_id"], ["complaint_no"]])

    /// 材料 (§1.4): metadata and the SHA-256 of the file; the file itself does not travel yet.
    public static let material = table("material", [
        t("scope"), t("enterprise_id"), t("project_id"), t("type"), t("title"), t("file_hash"), i("file_size"),
        i("version"), t("issued_by"), d("valid_until"), t("source"), t("produced_by_item_id"), t("scanned_by"),
        t("scanned_at"),
    ], indexes: [["project_id"], ["enterprise_id"]])

    /// 材料使用 (§1.4): a material reused for a plan item.
    public static let materialUse = table("material_use", [
        t("material_id"), t("plan_item_id"), t("case_id"), d("used_on"), b("accepted"), t("rejected_reason"),
    ], indexes: [["case_id"]])

    /// Every table this build declares.
    public static let schema = Schema([
        office, township, person, department, enterprise, project, contactCard, catalogueItem, calendarDay, rule,
        registration, agreement, `case`, planItem, itemPause, supplementNotice, intermediaryService, workLog, progressReport, meeting, meetingAttendee,
        meetingResolution, escalation, completionForm, terminationForm, evaluation, ticket, complaint, material,
        materialUse,
    ])
}
