import TerminalText
import Foundation

extension L10n.Key {
    static let error = Self(en: "error: {0}", zh: "错误：{0}")
    static let findAbstract = Self(en: "Find cases by enterprise name or USCC, project name or code, or case number (any part of them).",
                                   zh: "按企业名称或统一社会信用代码、项目名称或项目代码、案号（其中任意一段）查找代办项目。")
    static let findTextHelp = Self(en: "What to look for (Chinese, letters or digits; blanks and punctuation are ignored).",
                                   zh: "要查找的内容（汉字、字母或数字；空格和标点不计）。")
    static let limitHelp = Self(en: "At most this many cases.", zh: "最多列出的项目数。")
    static let caseArgumentHelp = Self(
        en: "The case: its case number, registration number, agreement code, 办结单/终止单 number, or the start of its id.",
        zh: "代办项目：案号、登记编号、协议编号、办结单或终止单编号，或项目 id 的开头部分。")
    static let valueTooLarge = Self(en: "{0}", zh: "内容过大：一段文字最多 1 MiB，一条记录的文字合计最多 5 MiB，未写入任何内容（{0}）")
    static let badDateArg = Self(en: "{0} is not a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)",
                                 zh: "“{0}”不是日期（YYYY-MM-DD）或日期时间（YYYY-MM-DDTHH:MM）")
    static let refusedSummary = Self(
        en: "warning: the server refused {0} change(s) ({1}); they stay on this device and the centre sees them: `daiban rejected list` shows each, `daiban rejected revert` takes the server's value back",
        zh: "警告：服务器拒收了 {0} 个变更（{1}）；这些变更仍保留在本机，县中心可以看到：用 `daiban rejected list` 查看详情，用 `daiban rejected revert` 恢复为服务器上的值")
    static let fixClock = Self(
        en: "this computer's clock is ahead of the server's: set the correct date and time, then run `daiban sync` again; your changes will be re-stamped and sent",
        zh: "本机时钟快于服务器：请把日期和时间调准后再运行 `daiban sync`，您的变更会重新加盖时间后上传")
    static let clockAheadWarning = Self(en: "warning: this computer's clock is about {0} minute(s) ahead of the server's; please correct it",
                                        zh: "警告：本机时钟比服务器快约 {0} 分钟，请校准")
    static let clockBehindWarning = Self(en: "warning: this computer's clock is about {0} minute(s) behind the server's; please correct it",
                                         zh: "警告：本机时钟比服务器慢约 {0} 分钟，请校准")
    static let restamped = Self(en: "{0} change(s) stamped with the wrong clock were written again with the corrected time",
                                zh: "已用校准后的时间重新记录 {0} 个时间有误的变更")
    static let relayed = Self(en: "forwarded {0} bundle(s) of other devices, as they were signed", zh: "已转交 {0} 个其他设备的数据包（保持原签名）")
    static let purged = Self(en: "{0} row(s) of cases no longer assigned to you were removed from this device",
                             zh: "已从本机移除 {0} 条不再由您负责的项目记录")
    static let exitDeferred = Self(en: "a case left your scope but still has changes made here; it is removed after they reach the server",
                                   zh: "有项目已不由您负责，但本机仍有未上传的修改；上传后再从本机移除")
    static let reauthored = Self(en: "{0} change(s) made before signing in will travel as {1}", zh: "登录前录入的 {0} 个变更将以 {1} 的名义上传")
    static let noRefusals = Self(en: "the server has refused nothing of this device", zh: "服务器没有拒收本机的任何变更")
    static let revertNeedsOne = Self(en: "give refusal ids or --all", zh: "请给出拒收记录编号，或使用 --all")
    static let reverted = Self(en: "{0} refused change(s) reverted to the server's value", zh: "已将 {0} 个被拒收的变更恢复为服务器上的值")
    static let keyRotated = Self(en: "new signing key {0} registered with the server", zh: "新签名密钥 {0} 已在服务器登记")
    static let lblFingerprint = Self(en: "fingerprint", zh: "指纹")
    static let lblPublicKey = Self(en: "public key", zh: "公钥")
    static let colReason = Self(en: "REASON", zh: "原因")
    static let colState = Self(en: "STATE", zh: "状态")
    static let lblRefused = Self(en: "refused changes", zh: "被拒收的变更")
    static let relayKept = Self(en: "kept for relay: the next `daiban sync` forwards it to the server as it was signed",
                                zh: "已留存待转交：下次 `daiban sync` 时按原签名转交服务器")
    static let exportedParts = Self(en: "wrote {0} bundle(s): {1}; import them in this order", zh: "已写出 {0} 个数据包：{1}；请按此顺序导入")
    static let signatureNote = Self(en: "signed by {0}", zh: "签名：{0}")
    static let signatureBad = Self(en: "warning: the bundle's signature does not verify (it was changed after signing)",
                                   zh: "警告：数据包签名验证失败（签名后被改动过）")
    static let importRefused = Self(en: "{0} version(s) were not applied ({1}); they are kept aside", zh: "{0} 个版本未被应用（{1}），已另行保存")
    static let cannotWrite = Self(en: "cannot write {0}: {1}; nothing else was changed", zh: "无法写入 {0}：{1}；其他数据未受影响")
    static let historyLocalOnly = Self(en: "note: the server's trail is not available ({0}); showing what this replica holds",
                                       zh: "提示：无法获取服务器留痕记录（{0}），仅显示本副本所存版本")
    static let materialsComplete = Self(en: "the item's materials are complete", zh: "该办件材料已齐全")
    static let materialsMissing = Self(en: "still missing: {0}", zh: "尚缺材料：{0}")
    static let supplementNotice = Self(en: "一次性告知 (told at once): {0}", zh: "一次性告知尚缺材料：{0}")
    static let wroteExcel = Self(en: "wrote {0}: {1} row(s)", zh: "已写出 {0}：{1} 行")
    static let diskFull = Self(en: "the disk is full (nothing was changed: free some space and run the command again)",
                               zh: "磁盘已满（未做任何改动：请腾出空间后再运行此命令）")
    static let diskFullWrite = Self(
        en: "the disk is full: this command's changes were not kept, and nothing written before was lost; free some space and run it again",
        zh: "磁盘已满：本次命令的修改未保存，之前的数据没有丢失；请腾出空间后重新运行")
    static let noRows = Self(en: "(none)", zh: "（无）")
    static let registered = Self(en: "registration {0} recorded; case {1}", zh: "已登记 {0}；代办项目 {1}")
    static let registeredDuplicate = Self(en: "registration {0} recorded as a duplicate of {2}; no new case: {1}",
                                          zh: "登记 {0} 与 {2} 重复，已关联，不新开项目：{1}")
    static let caseNow = Self(en: "case {0}: {1}", zh: "代办项目 {0}：{1}")
    static let itemNow = Self(en: "item {0}: {1}", zh: "办件 {0}：{1}")
    static let flags = Self(en: "flags", zh: "提示")
    static let planTitle = Self(en: "Task plan", zh: "代办任务分解计划表")
    static let registrationsTitle = Self(en: "Registrations", zh: "登记")
    static let handoverDue = Self(en: "case {0}: hand the form to the office by {1}", zh: "代办项目 {0}：请于 {1} 前将单据移交代办机构")
    static let handoverOnTime = Self(en: "case {0}: handover received on time", zh: "代办项目 {0}：已按时移交")
    static let handoverLate = Self(en: "case {0}: handover received late (after 2 working days)", zh: "代办项目 {0}：移交超过 2 个工作日")
    static let progressRecorded = Self(en: "case {0}: progress report for {1}..{2} recorded", zh: "代办项目 {0}：{1}..{2} 半月汇总已登记")
    static let badAttendee = Self(en: "expected ORG:PERSON, got {0}", zh: "应为 单位:人员，实际为 {0}")
    static let badResolution = Self(en: "expected TEXT|DEPARTMENT|YYYY-MM-DD, got {0}", zh: "应为 决议|责任部门|YYYY-MM-DD，实际为 {0}")
    static let signed = Self(en: "signed {0}", zh: "已签字 {0}")
    static let doneMsg = Self(en: "{0} done", zh: "{0} 已办结")
    static let needLevel = Self(en: "give --level (E0–E4, EX) or --resolve", zh: "请指定 --level（E0–E4、EX）或 --resolve")
    static let ticketOpened = Self(en: "差评回访整改 ticket {0} opened", zh: "已建立差评回访整改台账 {0}")
    static let updated = Self(en: "{0} updated", zh: "{0} 已更新")
    static let fileTooLarge = Self(en: "{0} is larger than 64 MiB", zh: "{0} 超过 64 MiB")
    static let calendarImported = Self(en: "{0} date(s) imported as calendar version {1}; {2} open item(s) got new due dates",
                                       zh: "已导入 {0} 个日期，日历版本 {1}；{2} 个在办事项的期限已重算")
    static let imported2 = Self(en: "{0} row(s) written, {1} unchanged", zh: "写入 {0} 条，{1} 条未变")
    static let unknownReport = Self(en: "unknown report {0} (known: {1})", zh: "没有报表 {0}（可用：{1}）")
    static let initialized = Self(en: "created replica {0} in {1}", zh: "已在 {1} 创建副本 {0}")
    static let alreadyInitialized = Self(en: "{0} already holds replica {1}", zh: "{0} 已有副本 {1}")
    static let needAuthor = Self(
        en: "who writes on this replica? give --author NAME (your login in the roster, e.g. a04) or --user NAME; $USER is not set",
        zh: "本副本由谁填写？请用 --author 登录名（花名册中的登录名，如 a04）或 --user 用户名 指定；当前未设置 $USER")
    static let askAuthor = Self(en: "Your login (as in the roster, e.g. a04): ", zh: "请输入你的登录名（与花名册一致，如 a04）：")
    static let badAuthor = Self(en: "{0} is not a login: 1–64 bytes, no blanks", zh: "“{0}”不是有效的登录名：1–64 字节，不含空格")
    static let authorChanged = Self(en: "writes on this replica are now recorded as {0}", zh: "本副本此后的填写记为 {0}")
    static let authorFixed = Self(
        en: "this replica already holds writes by {0}; its author cannot change now (sign in with `daiban login` to write as another user)",
        zh: "本副本已有 {0} 填写的内容，作者不能再更改（如需以其他用户身份填写，请用 `daiban login` 登录）")
    static let noReplica = Self(en: "no replica in {0}: run `daiban init` first", zh: "{0} 中没有副本：请先运行 `daiban init`")
    static let written = Self(en: "{0} {1}: {2} field(s) written", zh: "{0} {1}：已写入 {2} 个字段")
    static let deleted = Self(en: "{0} {1} deleted", zh: "{0} {1} 已删除")
    static let notFound = Self(en: "{0} has no row {1}", zh: "{0} 中没有记录 {1}")
    static let badAssignment = Self(en: "expected FIELD=VALUE, got {0}", zh: "应为 字段=值，实际为 {0}")
    static let exported = Self(en: "wrote {0}: {1} row(s), {2} field change(s), {3} bytes ({4})",
                               zh: "已写出 {0}：{1} 条记录，{2} 个字段变更，{3} 字节（{4}）")
    static let exportAll = Self(en: "everything", zh: "全部数据")
    static let exportFor = Self(en: "what {0} has not acknowledged", zh: "{0} 尚未确认的部分")
    static let reading = Self(en: "reading {0} ({1} bytes)…", zh: "正在读取 {0}（{1} 字节）…")
    static let imported = Self(en: "imported bundle from {0}: {1} row(s), {2} field change(s) applied, {3} already known",
                               zh: "已导入来自 {0} 的数据包：{1} 条记录，应用 {2} 个字段变更，{3} 个已存在")
    static let applying = Self(en: "… {0} rows applied", zh: "… 已应用 {0} 条记录")
    static let collecting = Self(en: "collecting changes…", zh: "正在收集变更…")
    static let conflictsNow = Self(en: "open conflicts: {0} → {1}", zh: "未解决冲突：{0} → {1}")
    static let gap = Self(en: "note: this bundle starts after changes not yet received from {0}; import the earlier bundle too",
                          zh: "注意：该数据包之前还有来自 {0} 的变更未收到，请同时导入更早的数据包")
    static let skew = Self(en: "warning: {0} timestamp(s) are more than the allowed drift ahead of this clock; check the sender's date",
                           zh: "警告：{0} 个时间戳超前本机时钟超过允许偏差，请检查发送方设备日期")
    static let noConflicts = Self(en: "no open conflicts", zh: "没有未解决的冲突")
    static let resolved = Self(en: "conflict {0} resolved; sync (or export a bundle) to share the resolution",
                               zh: "冲突 {0} 已解决；同步（或导出数据包）即可传达该决定")
    static let resolveNeedsOne = Self(en: "give exactly one of --value or --delete", zh: "请在 --value 与 --delete 中指定且仅指定一个")
    static let deletedMark = Self(en: "(deleted)", zh: "（已删除）")
    static let deletionVersion = Self(en: "row deleted", zh: "记录已删除")
    static let winnerMark = Self(en: "shown", zh: "当前值")

    // Column and label names.
    static let colID = Self(en: "ID", zh: "编号")
    static let colTable = Self(en: "TABLE", zh: "表")
    static let colRow = Self(en: "ROW", zh: "记录")
    static let colField = Self(en: "FIELD", zh: "字段")
    static let colKind = Self(en: "KIND", zh: "类型")
    static let colVersions = Self(en: "VERSIONS", zh: "版本")
    static let colItem = Self(en: "ITEM", zh: "项目")
    static let colValue = Self(en: "VALUE", zh: "值")
    static let colReplica = Self(en: "REPLICA", zh: "副本")
    static let colAuthor = Self(en: "AUTHOR", zh: "作者")
    static let colTime = Self(en: "TIME ({0})", zh: "时间（{0}）")
    static let colLive = Self(en: "LIVE", zh: "有效")
    static let colDeleted = Self(en: "DELETED", zh: "已删除")
    static let colPeer = Self(en: "PEER", zh: "对端")
    static let colReceived = Self(en: "RECEIVED", zh: "已接收")
    static let colAcked = Self(en: "ACKED", zh: "已确认")
    static let colPending = Self(en: "UNACKED", zh: "未确认")
    static let lblReplica = Self(en: "replica", zh: "副本")
    static let lblHome = Self(en: "home", zh: "目录")
    static let lblSeq = Self(en: "local sequence", zh: "本地序号")
    static let lblConflicts = Self(en: "open conflicts", zh: "未解决冲突")
    static let lblFields = Self(en: "field states", zh: "字段状态")
    static let lblNoPeers = Self(en: "no peers yet: nothing imported", zh: "尚无对端：未导入过数据包")
}

extension L10n.Key {
    static let serverSet = Self(en: "this replica syncs with {0}; next: daiban login --user NAME --password-stdin",
                                zh: "本副本将与 {0} 同步；下一步：daiban login --user 用户名 --password-stdin")
    static let attached = Self(en: "replica {0} in {1} now syncs with {2}", zh: "{1} 中的副本 {0} 现与 {2} 同步")
    static let noServer = Self(en: "no server set for {0}: run `daiban init --server URL` first",
                               zh: "{0} 未设置服务器：请先运行 `daiban init --server 地址`")
    static let damagedHomeFile = Self(en: "{0} is damaged (not what daiban wrote); nothing else was changed: run `{1}` to write it again",
                                      zh: "{0} 已损坏（不是 daiban 写入的内容）；其他内容未受影响：请运行 `{1}` 重新生成")
    static let notSignedIn = Self(en: "not signed in: run `daiban login` first", zh: "尚未登录：请先运行 `daiban login`")
    static let passwordPrompt = Self(en: "password for {0}: ", zh: "{0} 的密码：")
    static let needUser = Self(en: "--user is required", zh: "需要 --user")
    static let signedIn = Self(en: "signed in as {0} ({1}); this replica is device {2} on {3}",
                               zh: "已以 {0}（{1}）登录；本副本为 {3} 上的设备 {2}")
    static let syncProgress = Self(en: "{0}: {1} chunk(s), {2}, {3} field change(s)",
                                   zh: "{0}：{1} 个分块，{2}，{3} 个字段变更")
    static let phasePush = Self(en: "push", zh: "上传")
    static let phasePull = Self(en: "pull", zh: "下载")
    static let synced = Self(en: "synced with {0}: pushed {1} field change(s) ({2}), pulled {3} ({4} applied, {5}) in {6} s; open conflicts: {7}",
                             zh: "已与 {0} 同步：上传 {1} 个字段变更（{2}），下载 {3} 个（应用 {4} 个，{5}），用时 {6} 秒；未解决冲突：{7}")
    static let unreachable = Self(en: "{0}. Nothing was lost: {1} local change(s) stay pending; run `daiban sync` again when the link is back.",
                                  zh: "{0}。数据未丢失：{1} 个本地变更仍待上传；网络恢复后请再次运行 `daiban sync`。")
    static let signInAgain = Self(en: "{0}. Sign in again with `daiban login`; local changes are kept.",
                                  zh: "{0}。请用 `daiban login` 重新登录；本地变更已保留。")
    static let lblServer = Self(en: "server", zh: "服务器")
    static let lblUser = Self(en: "user", zh: "用户")
    static let lblDevice = Self(en: "device", zh: "设备")
    static let lblLastSync = Self(en: "last sync", zh: "上次同步")
    static let lblPending = Self(en: "pending changes", zh: "待上传变更")
    static let never = Self(en: "never", zh: "从未")
    static let colDevice = Self(en: "DEVICE", zh: "设备")
    static let syncRunning = Self(en: "another daiban sync is running for this home; try again when it has finished",
                                  zh: "此副本已有另一个 daiban sync 在运行；请待其结束后再试")
}
