import TerminalText

/// What the admin commands of `daiban-server` print for the operator, in English or Chinese.
extension L10n.Key {
    // Errors of the admin commands.
    static let srvNeedPasswordStdin = Self(en: "pass --password-stdin and pipe the password in",
                                           zh: "请加 --password-stdin，并通过管道输入密码")
    static let srvNoUser = Self(en: "no user {0}", zh: "没有用户 {0}")
    static let srvNoDevice = Self(en: "no device {0}", zh: "没有设备 {0}")
    static let srvBadRole = Self(en: "--role must be one of agent, township, center, liaison",
                                 zh: "--role 只能是 agent（代办员）、township（乡镇）、center（县中心）、liaison（部门联络员）之一")
    static let srvAlreadyBootstrapped = Self(en: "already bootstrapped: {0} user(s) exist; use `user add`",
                                             zh: "已初始化过：已有 {0} 个用户；请用 `user add` 添加用户")
    static let srvBadUserName = Self(en: "user names are 1–64 bytes without spaces", zh: "用户名须为 1–64 字节，且不含空格")
    static let srvShortPassword = Self(en: "passwords need at least 8 characters", zh: "密码至少须 8 个字符")
    static let srvBadDatabaseURL = Self(en: "the database must be a URL postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, optionally with ?sslmode=disable, prefer or require (the default)",
                                        zh: "数据库须为 postgres://用户[:密码]@主机[:端口]/库名 形式的地址，可带 ?sslmode=disable、prefer 或 require（默认）")
    static let srvDatabaseUnreachable = Self(en: "the database {0} did not answer within {1}", zh: "数据库 {0} 在 {1} 内没有应答")
    static let srvDatabaseFailed = Self(en: "the database {0} could not be opened: {1}", zh: "无法打开数据库 {0}：{1}")
    static let srvLayoutMismatch = Self(en: "the replica in {0} was started by a build whose replica layout ({1}) differs from this build's ({2}): run the same daiban-server build on every instance",
                                        zh: "{0} 中的副本由另一版本的服务器创建，其副本结构（{1}）与本版本（{2}）不同：所有实例须运行同一版本的 daiban-server")
    static let srvOwnReplicaInData = Self(en: "{0} holds a replica of its own, not a copy of the database's replica; give this instance an empty data folder (the copy is rebuilt from the database)",
                                          zh: "{0} 中是一个独立的副本，而不是数据库中副本的拷贝；请为该实例指定一个空的数据目录（拷贝会从数据库重建）")
    static let srvStaleCopy = Self(en: "{0} holds a copy of the replica that no longer matches the database's; it is rebuilt when an instance starts on this folder",
                                   zh: "{0} 中的副本拷贝已与数据库中的副本不一致；在该目录上启动实例时会自动重建")
    static let srvBackupOnPostgres = Self(en: "with --database the replica and the accounts are in PostgreSQL: back them up with pg_dump or pg_basebackup (the data folders hold only caches), and after a restore run `daiban-server admin new-epoch --database …`",
                                          zh: "使用 --database 时副本和账号都在 PostgreSQL 中：请用 pg_dump 或 pg_basebackup 备份（数据目录中只有缓存）；恢复后运行 `daiban-server admin new-epoch --database …`")
    static let srvUserExists = Self(en: "user {0} already exists", zh: "用户 {0} 已存在")
    static let srvConfigNotObject = Self(en: "{0} must hold a JSON object", zh: "{0} 的内容须为一个 JSON 对象")
    static let srvConfigUnknown = Self(en: "{0}: unknown setting \"{1}\"", zh: "{0}：没有设置项“{1}”")
    static let srvConfigWhole = Self(en: "{0} must be a whole number", zh: "{0} 须为整数")
    static let srvConfigRange = Self(en: "{0} must be {1}", zh: "{0} 须为 {1}")
    static let srvConfigTLS = Self(en: "TLS needs both a certificate and a key", zh: "启用 TLS 须同时提供证书和私钥")
    static let srvUnblockWhat = Self(en: "name a user, or pass --address, or both", zh: "请给出用户名，或加 --address，或两者都给")
    static let srvUnblocked = Self(en: "cleared {0} sign-in counter(s)", zh: "已清除 {0} 项登录计数")
    static let srvUnblockedNone = Self(en: "no sign-in counter matched; `user blocks` lists them", zh: "没有匹配的登录计数；可用 `user blocks` 查看")
    static let srvRowNeedsTable = Self(en: "--row needs --table", zh: "--row 须与 --table 同用")

    // The data folder's lock, backups and restores.
    static let srvLockOpen = Self(en: "cannot open {0}: {1}", zh: "无法打开 {0}：{1}")
    static let srvFileMissing = Self(en: "{0} does not exist", zh: "{0} 不存在")
    static let srvFileError = Self(en: "cannot write {0} to disk: {1}", zh: "无法把 {0} 写入磁盘：{1}")
    static let srvLockHeld = Self(en: "another daiban-server process is using the data folder {0} ({1}); stop it first",
                                  zh: "另一个 daiban-server 进程正在使用数据目录 {0}（{1}）；请先停止它")
    static let srvBackupNoData = Self(en: "{0} holds no server data (no replica.sqlite)", zh: "{0} 中没有服务器数据（缺少 replica.sqlite）")
    static let srvBackupExists = Self(en: "{0} already exists; pass --force to replace it", zh: "{0} 已存在；如要覆盖，请加 --force")
    static let srvBackupMissing = Self(en: "{0} is not a server backup: {1} is missing", zh: "{0} 不是服务器备份：缺少 {1}")
    static let srvBackupBad = Self(en: "{0} is damaged: {1}", zh: "{0} 已损坏：{1}")
    static let srvBackupInside = Self(en: "{0} overlaps the data folder {1}; back up to a folder outside it",
                                      zh: "{0} 与数据目录 {1} 重叠；请备份到数据目录以外的目录")
    static let srvRestoreIncomplete = Self(
        en: "a restore of {0} did not finish; run the same `daiban-server restore` again before serving",
        zh: "{0} 的恢复没有完成；请先再次运行同一条 `daiban-server restore`，然后再启动服务")
    static let srvRestoreAccounts = Self(
        en: "the accounts are as they were at the backup: devices revoked, users disabled and passwords changed since are back as they were; check `daiban-server device list` and `user list`",
        zh: "账号已回到备份时的状态：备份之后停用的设备、停用的用户和修改的密码都已恢复原状；请检查 `daiban-server device list` 和 `user list`")
    static let srvBackupWorking = Self(en: "copying the data folder (the server may keep serving)…",
                                       zh: "正在复制数据目录（服务器可以照常运行）……")
    static let srvBackupDone = Self(
        en: "backed up to {0}: replica {1}, {2} field states up to change {3}, {4} user(s), {5} device(s), {6} bytes, {7} s",
        zh: "已备份到 {0}：副本 {1}，{2} 个字段状态（至第 {3} 号修改），{4} 个用户，{5} 台设备，{6} 字节，用时 {7} 秒")
    static let srvRestoreDone = Self(
        en: "restored {0} from {1}: replica {2}, {3} field states, {4} user(s), {5} device(s); new epoch {6}",
        zh: "已从 {1} 恢复 {0}：副本 {2}，{3} 个字段状态，{4} 个用户，{5} 台设备；新纪元 {6}")
    static let srvRestoreKept = Self(en: "the files it replaced are kept in {0}", zh: "被替换的文件保存在 {0}")
    static let srvRestoreNext = Self(
        en: "start the server again: on its next sync every client pulls from the start and pushes everything it holds, so what the backup lacked comes back",
        zh: "请重新启动服务器：各客户端下次同步时会从头下载，并重新上传本机的全部数据，备份之后缺少的内容由此补回")

    // Column headers of the admin tables.
    static let srvColID = Self(en: "ID", zh: "编号")
    static let srvColName = Self(en: "NAME", zh: "名称")
    static let srvColRole = Self(en: "ROLE", zh: "角色")
    static let srvColTownship = Self(en: "TOWNSHIP", zh: "乡镇")
    static let srvColDepartment = Self(en: "DEPARTMENT", zh: "部门")
    static let srvColState = Self(en: "STATE", zh: "状态")
    static let srvColUser = Self(en: "USER", zh: "用户")
    static let srvColReplica = Self(en: "REPLICA", zh: "副本")
    static let srvColKey = Self(en: "KEY", zh: "密钥指纹")
    static let srvColClockSkew = Self(en: "CLOCK SKEW", zh: "时钟偏差")
    static let srvColLastSeen = Self(en: "LAST SEEN", zh: "最近连接")
    static let srvColRevoked = Self(en: "REVOKED", zh: "停用时间")
    static let srvColTable = Self(en: "TABLE", zh: "表")
    static let srvColRow = Self(en: "ROW", zh: "记录")
    static let srvColField = Self(en: "FIELD", zh: "字段")
    static let srvColValue = Self(en: "VALUE", zh: "值")
    static let srvColAuthor = Self(en: "AUTHOR", zh: "作者")
    static let srvColWriter = Self(en: "WRITER", zh: "写入副本")
    static let srvColVia = Self(en: "VIA", zh: "送达账号@设备")
    static let srvColApplied = Self(en: "APPLIED", zh: "接收时间")
    static let srvColReason = Self(en: "REASON", zh: "原因")

    static let srvColCounter = Self(en: "COUNTS", zh: "计数对象")
    static let srvColAddress = Self(en: "ADDRESS", zh: "地址")
    static let srvColFailures = Self(en: "FAILURES", zh: "失败次数")
    static let srvColBlockedUntil = Self(en: "BLOCKED UNTIL", zh: "暂停登录至")

    // Cell values.
    static let srvCounterAddress = Self(en: "address", zh: "地址")
    static let srvCounterUser = Self(en: "user", zh: "用户")
    static let srvCounterPair = Self(en: "user from address", zh: "用户＋地址")
    static let srvUserDisabled = Self(en: "disabled", zh: "已停用")
    static let srvUserActive = Self(en: "active", zh: "正常")
    static let srvSkewMinutes = Self(en: "{0} min", zh: "{0} 分钟")
    static let srvSkewSeconds = Self(en: "{0} s", zh: "{0} 秒")
}
