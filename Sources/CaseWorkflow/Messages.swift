public import TerminalText

extension L10n.Key {
    static let dependencyOpen = Self(en: "item {0} waits for item {1} ({2}): submit it once that one is decided",
                                     zh: "办件 {0} 须待办件 {1}（当前：{2}）办结后方可递交")
    static let dependencyMissing = Self(en: "item {0} depends on item {1}, which is not in the plan",
                                        zh: "办件 {0} 依赖的办件 {1} 不在计划中")
    static let needsProjectCode = Self(
        en: "item {0} needs the project's 项目代码: record it on the project (`daiban project add … project_code=…`) or decide {1} first",
        zh: "办件 {0} 须有项目代码：请先在项目中填写项目代码（`daiban project add … project_code=…`），或先办结 {1}")
    static let notFound = Self(en: "no {0} {1} on this replica", zh: "本副本中没有{0} {1}")
    static let notInRoster = Self(en: "no person in the roster has login {0}: the office adds you with `daiban roster import` or `daiban record put person`",
                                  zh: "人员名册中没有登录名为 {0} 的人员：请代办机构通过 `daiban roster import` 或 `daiban record put person` 添加")
    static let illegalCaseStep = Self(en: "{0} is not allowed: case {1} is {2}; this step needs {3}",
                                      zh: "不能执行 {0}：代办项目 {1} 当前状态为 {2}，该步骤要求状态为 {3}")
    static let illegalItemStep = Self(en: "item {0} is not allowed: item {1} is {2}; this step needs {3}",
                                      zh: "不能执行事项步骤 {0}：办件 {1} 当前状态为 {2}，该步骤要求状态为 {3}")
    static let needOfficeAdmin = Self(en: "{0} is for the case's office administrators; {1} is not one",
                                      zh: "{0} 须由该项目所属代办机构管理员办理；{1} 无此权限")
    static let needCentreAdmin = Self(en: "reference data is published by the county centre's administrators; {0} is not one",
                                      zh: "参考数据须由县代办中心管理员发布；{0} 无此权限")
    static let needCaseAgent = Self(en: "{0} is for the case's agents and office; {1} is not assigned to case {2}",
                                    zh: "{0} 须由该项目的代办员或代办机构办理；{1} 未被指派到代办项目 {2}")
    static let needLiaison = Self(en: "item {0} is recorded by the department's liaison or the case's agent; {1} is neither",
                                  zh: "事项步骤 {0} 须由该部门代办联络员或本项目代办员登记；{1} 均不是")
    static let needRegistrar = Self(en: "{0} may not register cases (needs AGENT, WINDOW_STAFF or OFFICE_ADMIN)",
                                    zh: "{0} 无权登记（需代办员、窗口人员或机构管理员角色）")
    static let wrongRole = Self(en: "{0} does not hold the role {1}", zh: "{0} 不具有 {1} 角色")
    static let badChoice = Self(en: "{0} must be one of: {1}", zh: "{0} 只能是：{1}")
    static let badUSCC = Self(en: "a unified social credit code has 18 characters, got {0}", zh: "统一社会信用代码应为 18 位，实际为 {0}")
    static let unknownZone = Self(en: "this computer does not know the time zone {0} (for example Asia/Shanghai)",
                                  zh: "本机不认识时区 {0}（例如 Asia/Shanghai）")
    static let materialNotRequired = Self(
        en: "a {0} is not among the materials item {1} requires ({2}); give --extra to attach it beyond the list",
        zh: "“{0}”不在办件 {1} 的应交材料中（{2}）；如确需额外提交，请加 --extra")
    static let materialExpired = Self(en: "material {0} expired on {1}; record its renewal first",
                                      zh: "材料 {0} 已于 {1} 过期，请先登记更新后的材料")
    static let needMissingList = Self(en: "say what is missing with --missing (this device holds no materials of the case)",
                                      zh: "请用 --missing 写明尚缺材料（本设备没有该项目的材料记录）")
    static let badAmount = Self(en: "{0} is not an amount in 万元", zh: "{0} 不是以万元为单位的金额")
    static let badDate = Self(en: "{0} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)", zh: "{0} 不是日期（YYYY-MM-DD 或 YYYY-MM-DDTHH:MM）")
    static let badHash = Self(en: "a file hash is 64 hexadecimal digits (SHA-256)", zh: "文件摘要应为 64 位十六进制（SHA-256）")
    static let needReason = Self(en: "a rejection needs a reason", zh: "不予代办须填写原因")
    static let needCase = Self(en: "give at least one case", zh: "请至少指定一个代办项目")
    static let feeNotZero = Self(en: "the agency service is free: the agreement fee must be 0",
                                 zh: "代办服务一律无偿：协议费用必须为 0")
    static let partialNeedsScope = Self(en: "a PARTIAL agreement lists its items (--items) or stages (--stages)",
                                        zh: "部分代办协议须列明委托事项（--items）或阶段（--stages）")
    static let agreementCodeTaken = Self(en: "agreement code {0} is already used by case {1}", zh: "协议编号 {0} 已被代办项目 {1} 使用")
    static let nothingToAssign = Self(en: "nothing to record: give at least one option", zh: "没有要登记的内容：请至少指定一个选项")
    static let itemsOpen = Self(en: "the case cannot be completed: {0} plan item(s) are not final ({1})",
                                zh: "不能办结：还有 {0} 个办件未办结（{1}）")
    static let needEvaluation = Self(en: "case {0} lacks the 回访 evaluations {1}: record them with `daiban eval add`",
                                     zh: "代办项目 {0} 尚缺回访评价：{1}；请先用 `daiban eval add` 登记")
    static let evaluateTerminated = Self(en: "case {0} was terminated, not completed: it stays HANDED_OVER",
                                         zh: "代办项目 {0} 为终止而非办结，保持“已移交”状态，不进入评价归档")
    static let closeBlocked = Self(
        en: "case {0} still has {1} open escalation(s) and {2} meeting resolution(s) not carried out: resolve them, or close with --override REASON",
        zh: "代办项目 {0} 尚有 {1} 项未解决的协调事项、{2} 项未落实的会议议定事项：请先办结，或以 --override 原因 强制归档")
    static let outsideScope = Self(en: "{0} is outside the partial agreement (delegated: {1})",
                                   zh: "{0} 不在部分代办协议的委托范围内（委托：{1}）")
    static let itemNumberTaken = Self(en: "the plan already has item #{0}", zh: "计划表中已有第 {0} 项")
    static let planEmpty = Self(en: "the plan of case {0} has no items yet", zh: "代办项目 {0} 的计划表还没有事项")
    static let notAttendee = Self(en: "{0} is not an attendee of meeting {1}", zh: "{0} 不是会议 {1} 的参会人")
    static let signOwnLine = Self(en: "{0} may sign only their own line (or, as recorder, for an attendee)",
                                  zh: "{0} 只能签署本人一栏（记录人可代为登记）")
    static let alreadyDone = Self(en: "{0} is already closed", zh: "{0} 已办结")
    static let ticketNotRectified = Self(en: "ticket {0} cannot close before rectification (or a review finding it malicious or mistaken)",
                                         zh: "台账 {0} 未整改（或经复核认定为误评、恶意差评）前不能销号")
    static let complaintBackwards = Self(en: "a complaint does not go back from {0} to {1}", zh: "投诉状态不能从 {0} 退回 {1}")
    static let recordNoKey = Self(en: "{0}: no {1}", zh: "{0}：缺少 {1}")
    static let recordUnknownColumn = Self(en: "{0}: unknown column {1} for {2}", zh: "{0}：{2} 没有列 {1}")
    static let recordBadValue = Self(en: "{0}, column {1}: {2}", zh: "{0}，列 {1}：{2}")
    static let placeRow = Self(en: "row {0}", zh: "第 {0} 行")
    static let placeSheetRow = Self(en: "sheet {0}, row {1}", zh: "工作表“{0}”第 {1} 行")
    static let placeRecord = Self(en: "record {0}", zh: "第 {0} 条记录")
    static let unknownHeading = Self(en: "{0}: the heading {1} names no field of {2}", zh: "{0}：表头“{1}”不是 {2} 的字段")
    static let badWorkbook = Self(en: "cannot read the Excel workbook: {0}", zh: "无法读取 Excel 工作簿：{0}")
    static let wrongRank = Self(en: "{0} has rank {1}; this needs {2}", zh: "{0} 的职级为 {1}，此处须为 {2}")
    static let wrongJurisdiction = Self(en: "{0} sits in {1}, not in the case's township {2}", zh: "{0} 属于 {1}，不属于本项目所在的 {2}")
    static let complaintNumberTaken = Self(en: "complaint number {0} is already taken here", zh: "投诉编号 {0} 已被使用")
    static let complaintNumberFixed = Self(en: "complaint {0} keeps its number", zh: "投诉 {0} 的编号不能更改")
    static let proposeSupervise = Self(
        en: "{0} WD overdue: propose 督办 — daiban escalate {2} --level {1} --item {2}.{3}",
        zh: "已逾期 {0} 个工作日：建议督办——daiban escalate {2} --level {1} --item {2}.{3}")
    static let badEncoding = Self(
        en: "the file is neither UTF-8 nor GB18030/GBK text: save it from Excel as CSV (UTF-8 or the default Chinese encoding)",
        zh: "文件既不是 UTF-8 也不是 GB18030/GBK 文本：请在 Excel 中另存为 CSV（UTF-8 或默认的中文编码）")
    static let badCSV = Self(en: "{0} has more fields than the heading row", zh: "{0}的字段多于表头")
    static let badCalendarFile = Self(en: "the calendar file is neither CSV nor the calendar JSON", zh: "日历文件既不是 CSV 也不是日历 JSON")
    static let badRosterFile = Self(en: "the roster file must be a JSON object with offices, townships, departments, people",
                                     zh: "名册文件应为包含 offices、townships、departments、people 的 JSON 对象")
    static let committedOverLegal = Self(en: "{0} ({1}): the committed limit exceeds the legal limit",
                                         zh: "{0}（{1}）：承诺期限超过法定期限")
    static let calendarOlder = Self(en: "warning: this replica's working-day calendar is version {0}, the centre published {1}; sync before trusting due dates",
                                    zh: "警告：本副本工作日历为第 {0} 版，县中心已发布第 {1} 版；请先同步再看期限")
    static let calendarEmpty = Self(en: "warning: no working-day calendar on this replica; weekends only (import one with `daiban calendar import`)",
                                    zh: "警告：本副本没有工作日历，仅按周末计算（请用 `daiban calendar import` 导入）")
    static let calendarNotCovering = Self(en: "warning: the calendar covers {1}..{2}, not {0}; holidays there are unknown",
                                          zh: "警告：工作日历仅覆盖 {1}..{2}，不含 {0}，该日期附近的节假日未知")

    static let whatCase = Self(en: "case", zh: "代办项目")
    static let whatTownship = Self(en: "township", zh: "乡镇/园区")
    static let whatPerson = Self(en: "person", zh: "人员")
    static let whatPlanItem = Self(en: "plan item", zh: "办件")
    static let whatService = Self(en: "intermediary service", zh: "中介服务")
    static let badUnit = Self(en: "{0} is not a unit of days: WD (working days) or ND (natural days)", zh: "“{0}”不是时限单位：WD（工作日）或 ND（自然日）")
    static let badDays = Self(en: "{0} is not a number of days (0–3650)", zh: "“{0}”不是有效的天数（0–3650）")
    static let needProvider = Self(en: "name the provider the owner chose (--provider)", zh: "请填写业主选定的中介机构（--provider）")
    static let itemOfAnotherCase = Self(en: "item {0} is not an item of case {1}", zh: "办件 {0} 不属于代办项目 {1}")
    static let serviceClosed = Self(en: "service {0} is already {1}", zh: "中介服务 {0} 已经是 {1} 状态")
    static let whatCatalogueItem = Self(en: "catalogue item", zh: "事项")
    static let whatForm = Self(en: "form", zh: "单据")
    static let whatMeeting = Self(en: "meeting", zh: "会议")
    static let whatAgreement = Self(en: "agreement", zh: "委托代办协议")
    static let whatRegistration = Self(en: "registration", zh: "登记")
    static let whatProgress = Self(en: "progress report", zh: "半月进展反馈")
    static let whatResolution = Self(en: "resolution", zh: "会议决议")
    static let whatEscalation = Self(en: "escalation", zh: "协调事项")
    static let whatTicket = Self(en: "ticket", zh: "整改台账")
    static let whatComplaint = Self(en: "complaint", zh: "投诉")
    static let whatMaterial = Self(en: "material", zh: "材料")
}
