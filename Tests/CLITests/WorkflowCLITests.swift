import Foundation
import SyncTesting
import Testing

/// The 代办 workflow through the real `daiban` binary: a centre home and an agent's laptop exchanging bundle files.
@Suite(.serialized) struct WorkflowCLITests {
    static let fixtures = repositoryRoot + "/Tests/Fixtures/yunling"

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    /// `from` exports what `to` lacks; `to` imports it.
    func send(_ from: Daiban, _ to: Daiban, _ dir: TemporaryDirectory) throws {
        let file = dir.file("bundle-\(UUID().uuidString).dbz")
        try from.ok("export", file, "--for", try to.replicaID())
        try to.ok("import", file)
    }

    @Test func aCaseFromRegistrationToHandoverOnTheCommandLine() throws {
        let dir = try TemporaryDirectory("cli-workflow")
        defer { dir.cleanup() }
        let centre = Daiban(home: dir.file("centre")), agent = Daiban(home: dir.file("agent"))
        try centre.ok("init", "--author", "admin")
        try centre.ok("roster", "import", Self.fixtures + "/roster.json")
        try centre.ok("catalogue", "import", Self.fixtures + "/catalogue.csv")
        #expect(try centre.ok("calendar", "import", Self.fixtures + "/calendar-2025.csv").contains("version 1"))
        try agent.ok("init", "--author", "a04")
        try send(centre, agent, dir)

        let reg = try json(try agent.ok("case", "register", "--uscc", "92330999TEST00003X", "--enterprise", "云岭石门山居文旅有限公司",
                                        "--project", "石门村闲置农房民宿改造项目", "--township", "OFF-SM", "--channel", "WINDOW",
                                        "--project-code", "2025-330999-61-03-000033", "--investment", "600", "--on", "2025-10-09",
                                        "--json"))
        let c = try #require(reg["case"] as? String)
        try send(agent, centre, dir)
        try centre.ok("case", "review", c, "--eligible", "--case-no", "C3", "--on", "2025-10-10")
        try centre.ok("case", "agree", c, "--code", "XY-2025-0058", "--scope", "FULL", "--on", "2025-10-13")
        #expect(try centre.ok("case", "assign", c, "--agent", "A04").contains("PLANNING"))
        try send(centre, agent, dir)
        try agent.ok("plan", "add", c, "--item", "GD-02")
        try agent.ok("plan", "confirm", c, "--on", "2025-10-13")
        for (step, on) in [("dispatch", "2025-10-20"), ("submit", "2025-10-27"), ("accept", "2025-10-27")] {
            try agent.ok("item", step, "\(c).1", "--on", on)
        }
        // Before the decision the item is overdue as of 11/04: it is on the agent's 催办 list.
        let due = try json(try agent.ok("due", "--as-of", "2025-11-04", "--json"))
        let dueRows = try #require(due["rows"] as? [[String: Any]])
        #expect(dueRows.contains { $0["kind"] as? String == "ITEM" && $0["state"] as? String == "OVERDUE" })
        try agent.ok("item", "decide", "\(c).1", "--result", "APPROVED", "--on", "2025-11-05")
        #expect(try agent.ok("case", "complete", c, "--form-no", "BJ-2025-0021", "--on", "2025-11-06").contains("2025-11-10"))

        // An illegal step: one line, its reason, exit 1, in the user's language.
        let again = try agent.run("case", "complete", c)
        #expect(again.status == 1 && again.stderr.contains("[illegal_transition]") && again.stderr.contains("COMPLETED"))
        #expect(again.stderr.split(separator: "\n").count == 1)
        let zh = try agent.run("case", "complete", c, lang: "zh_CN.UTF-8")
        #expect(zh.stderr.hasPrefix("错误：") && zh.stderr.contains("不能执行"))
        let forbidden = try agent.run("case", "handover", c)
        #expect(forbidden.status == 1 && forbidden.stderr.contains("[forbidden]"))

        try send(agent, centre, dir)
        #expect(try centre.ok("case", "handover", c, "--received-at", "2025-11-10T16:20").contains("on time"))
        let handover = try json(try centre.ok("report", "handover", "--as-of", "2025-11-24", "--json"))
        let summary = try #require(handover["summary"] as? [String: Any])
        #expect(summary["received"] as? Int == 1 && summary["on_time"] as? Int == 1)
        let csv = try centre.ok("report", "overdue", "--as-of", "2025-11-24", "--format", "csv", "--csv-keys")
        #expect(csv.hasPrefix("case,case_no,item,item_name,"))
        // For Excel: a byte-order mark and headings in the user's language.
        #expect(try centre.ok("report", "overdue", "--as-of", "2025-11-24", "--format", "csv").hasPrefix("\u{FEFF}CASE,CASE NO,"))
        let zhCSV = try Daiban.exec(["report", "overdue", "--as-of", "2025-11-24", "--format", "csv", "--home", centre.home],
                                    lang: "zh_CN.UTF-8")
        #expect(zhCSV.stdout.hasPrefix("\u{FEFF}代办项目,"), "\(zhCSV.stdout.prefix(80))")
        #expect(csv.contains(",OVERDUE,"))

        // The 办结单 printed, named as on paper; the check code ties the paper to the record.
        let form = try json(try centre.ok("form", "办结单", "BJ-2025-0021", "--json"))
        let code = try #require(form["check_code"] as? String)
        let printed = try centre.ok("form", "completion", c, "--output", dir.file("bj.pdf"))
        #expect(printed.contains(code) && FileManager.default.fileExists(atPath: dir.file("bj.pdf")))
        try centre.ok("form", "completion", c, "--output", dir.file("bj.html"))
        #expect(try String(contentsOfFile: dir.file("bj.html"), encoding: .utf8).contains("代办项目办结单"))
        #expect(try centre.ok("form", "completion", c, "--verify", code.lowercased()).contains("matches"))
        let forged = try centre.run("form", "completion", c, "--verify", "0000-0000-0000")
        #expect(forged.status == 1 && forged.stderr.contains("does not match"))
        #expect(try centre.run("form", "meeting", c).stderr.contains("[not_found]"))

        // Every list, show and report answers --json.
        let commands: [[String]] = [
            ["enterprise", "list"], ["project", "list"], ["case", "list"], ["case", "list", "--mine"], ["case", "show", c],
            ["plan", "show", c], ["log", "list", c], ["catalogue", "list"], ["calendar", "show", "--month", "2025-10"],
            ["roster", "list"], ["rule", "list"], ["ticket", "list"], ["complaint", "list"], ["material", "list"],
            ["history", "case", c], ["due"], ["peers"], ["case", "find", "石门"],
        ] + ["overdue", "report-up", "handover", "halfmonth", "agents", "departments", "satisfaction", "thresholds",
             "complaints", "register", "coordination", "materials"].map { ["report", $0] }
        for args in commands {
            let r = try Daiban.exec(args + ["--json", "--home", centre.home])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) != nil, "\(args) is not JSON: \(r.stdout)")
        }
    }

    /// A centre home signed in as `admin` with the fixture roster.
    func centreWithRoster(_ dir: TemporaryDirectory) throws -> Daiban {
        let centre = Daiban(home: dir.file("centre"))
        try centre.ok("init", "--author", "admin")
        try centre.ok("roster", "import", Self.fixtures + "/roster.json")
        return centre
    }

    @Test func jsonAndCSVKeepQuotesBackslashesAndControlCharacters() throws {
        let dir = try TemporaryDirectory("cli-json-escapes")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        let name = "厂房\"二期\"\\改造\n第\t2段\u{1}"
        try centre.ok("case", "register", "--uscc", "91330999TEST00009X", "--enterprise", "企业", "--project", name,
                      "--township", "OFF-DG", "--channel", "PHONE")
        let list = try json(try centre.ok("case", "list", "--json"))
        let rows = try #require(list["rows"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["project"] as? String == name)
        let csv = try centre.ok("case", "list", "--format", "csv")
        #expect(csv.contains("\"厂房\"\"二期\"\"\\改造\n第\t2段\u{1}\""), "CSV quotes the field and doubles its quotes")
    }

    @Test func chineseTablesAlignAndShowStatusNames() throws {
        let dir = try TemporaryDirectory("cli-workflow-zh")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        for (uscc, name) in [("91330999TEST00001X", "年产50万套新能源汽车精密零部件项目"), ("91330999TEST00002X", "Cold chain")] {
            try centre.ok("case", "register", "--uscc", uscc, "--enterprise", "企业\(uscc.suffix(3))", "--project", name,
                          "--township", "OFF-DG", "--channel", "PHONE")
        }
        let r = try centre.run("case", "list", lang: "zh_CN.UTF-8")
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init).filter { $0.contains("OFF-DG") || $0.contains("乡镇") }
        #expect(lines.count == 3)
        #expect(r.stdout.contains("已登记"), "status codes show as their Chinese names")
        // The township column starts in the same terminal column on every line.
        let columns = lines.map { line -> Int in
            let prefix = line.components(separatedBy: line.contains("乡镇") ? "乡镇" : "OFF-DG").first!
            return prefix.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x2E80 && $1.value <= 0x9FFF || $1.value >= 0xFF00 && $1.value <= 0xFF60 ? 2 : 1) }
        }
        #expect(Set(columns).count == 1, "\(lines)")
    }

    /// A clerk names cases by what is on paper: case number, registration number, agreement code, form number,
    /// the start of the id, or (with `case find`) any part of a name or code, in Chinese.
    @Test func casesAreNamedByWhatIsOnPaper() throws {
        let dir = try TemporaryDirectory("cli-paper-ids")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        try centre.ok("catalogue", "import", Self.fixtures + "/catalogue.csv")
        try centre.ok("calendar", "import", Self.fixtures + "/calendar-2025.csv")
        let reg = try json(try centre.ok("case", "register", "--uscc", "92330999TEST00003X", "--enterprise", "云岭石门山居文旅有限公司",
                                         "--project", "石门村闲置农房民宿改造项目", "--township", "石门乡", "--channel", "窗口",
                                         "--scope", "全程", "--industrial", "否", "--reg-no", "DJ-2025-0017", "--on", "2025-10-09",
                                         "--json"))
        let c = try #require(reg["case"] as? String)
        let other = try json(try centre.ok("case", "register", "--uscc", "91330999TEST00004X", "--enterprise", "东港精密机械有限公司",
                                           "--project", "年产50万套精密零部件项目", "--township", "OFF-DG", "--channel", "PHONE", "--json"))
        let c2 = try #require(other["case"] as? String)

        // The registration number and the start of the id name the case before it has a number.
        try centre.ok("case", "review", "DJ-2025-0017", "--eligible", "--case-no", "2025-017", "--on", "2025-10-10")
        try centre.ok("case", "agree", "2025-017", "--code", "XY-2025-0058", "--scope", "FULL", "--on", "2025-10-13")
        try centre.ok("case", "assign", "XY-2025-0058", "--agent", "吴丽娟", "--team", "a05, 周敏")
        try centre.ok("plan", "add", " 2025-017 ", "--item", "GD-02")
        try centre.ok("plan", "confirm", String(c.prefix(c.count - 2)), "--on", "2025-10-13")
        try centre.ok("item", "dispatch", "2025-017.1", "--on", "2025-10-20")
        let shown = try json(try centre.ok("case", "show", "2025-017", "--json"))
        #expect(shown["case"] as? String == c)
        #expect(shown["agent"] as? String == "A04" && shown["team"] as? String == "A05,A06", "\(shown)")
        let listed = try #require(try json(try centre.ok("case", "list", "--township", "石门乡", "--status", "代办中(组织实施)", "--json"))["rows"]
            as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["township_name"] as? String == "石门乡" && listed[0]["agent_name"] as? String == "吴丽娟")
        let bad = try centre.run("case", "register", "--uscc", "91330999TEST00005X", "--enterprise", "某公司", "--project", "某项目",
                                 "--township", "石门乡", "--channel", "PHONE", "--major", "也许")
        #expect(bad.status != 0)
        let items = try #require(shown["items"] as? [[String: Any]])
        #expect(items.first?["status"] as? String == "DISPATCHED")

        // Not found and ambiguous: one line each, in the user's language, nothing written.
        let missing = try centre.run("case", "show", "DJ-2099-0001", lang: "zh_CN.UTF-8")
        #expect(missing.status == 1 && missing.stderr.contains("本副本中没有代办项目“DJ-2099-0001”") && missing.stderr.contains("[not_found]"))
        let common = String(zip(c, c2).prefix { $0 == $1 }.map(\.0))
        if common.unicodeScalars.count >= 4 {
            let both = try centre.run("case", "show", common)
            #expect(both.status == 1 && both.stderr.contains("[ambiguous]") && both.stderr.contains(c) && both.stderr.contains(c2))
        }
        let noItem = try centre.run("item", "submit", "2025-017.9")
        #expect(noItem.status == 1 && noItem.stderr.contains("[not_found]"))

        // Search: any part of the names or codes, full-width or not, one character or many.
        func found(_ text: String) throws -> [String] {
            let g = try json(try centre.ok("case", "find", text, "--json"))
            return try #require(g["rows"] as? [[String: Any]]).compactMap { $0["case"] as? String }
        }
        #expect(try found("石门") == [c])
        #expect(try found("民宿改造") == [c])
        #expect(try found("精密") == [c2])
        #expect(try found("ＴＥＳＴ００００4") == [c2], "full-width and case folded")
        #expect(try found("test0000").sorted() == [c, c2].sorted())
        #expect(try found("东") == [c2])
        #expect(try found("017") == [c])
        #expect(try found("门石").isEmpty, "pairs out of order do not match")
        #expect(try found("石门村闲置农房民宿改造项目二期").isEmpty)
        let table = try centre.run("case", "find", "石门", lang: "zh_CN.UTF-8")
        #expect(table.status == 0 && table.stdout.contains("云岭石门山居文旅有限公司"))
        let blank = try centre.run("case", "find", "（ ）", lang: "zh_CN.UTF-8")
        #expect(blank.status == 1 && blank.stderr.contains("没有可查找的内容"))

        // A renamed enterprise is found by its new name only.
        try centre.ok("enterprise", "add", "--uscc", "91330999TEST00004X", "--name", "东港智造有限公司")
        #expect(try found("智造") == [c2])
        #expect(try found("精密机械").isEmpty)
        #expect(try found("精密") == [c2], "the project still has it")
    }

    /// Peers by name: `centre` found through the roster, names given here, logins, id prefixes; never a guess.
    @Test func peersAreNamedNotNumbered() throws {
        let dir = try TemporaryDirectory("cli-peers")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        let agent = Daiban(home: dir.file("agent")), town = Daiban(home: dir.file("town"))
        try agent.ok("init", "--author", "a04")
        try town.ok("init", "--author", "sm-admin")
        let centreID = try centre.replicaID()
        let none = try agent.run("export", dir.file("x.bundle"), "--for", "centre", lang: "zh_CN.UTF-8")
        #expect(none.status == 1 && none.stderr.contains("本副本没有对端“centre”") && none.stderr.contains("暂无"))
        try send(centre, agent, dir)
        try send(centre, town, dir)
        try agent.ok("record", "put", "project", "P1", "name=扩产项目")

        // The centre is known by its user's office in the roster, in English or Chinese, and by its user's login.
        for name in ["centre", "中心", "admin", String(centreID.prefix(6))] {
            let out = try agent.ok("export", dir.file("a.bundle"), "--for", name)
            #expect(out.contains(String(centreID.prefix(8))), "\(name): \(out)")
        }
        let peers = try json(try agent.ok("peers", "--json"))
        let rows = try #require(peers["rows"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["replica"] as? String == centreID && rows[0]["user"] as? String == "admin")
        #expect(rows[0]["name"] as? String == "centre" && rows[0]["person"] as? String != nil)
        let table = try agent.run("peers", lang: "zh_CN.UTF-8")
        #expect(table.status == 0 && table.stdout.contains("名称") && table.stdout.contains("centre"))

        // A name given here; names are unique; ids are not names.
        try agent.ok("peers", "name", "centre", "县中心")
        #expect(try agent.ok("export", dir.file("b.bundle"), "--for", "县中心").contains(String(centreID.prefix(8))))
        try town.ok("import", dir.file("b.bundle"))
        try centre.ok("import", dir.file("b.bundle"))
        try send(centre, town, dir)
        try town.ok("peers", "name", "a04", "吴丽娟的电脑")
        let taken = try town.run("peers", "name", "centre", "吴丽娟的电脑", lang: "zh_CN.UTF-8")
        #expect(taken.status == 1 && taken.stderr.contains("已用于对端副本"))
        let badName = try town.run("peers", "name", "centre", centreID)
        #expect(badName.status == 1)
        #expect(try town.ok("export", dir.file("c.bundle"), "--for", "吴丽娟的电脑").contains(String(try agent.replicaID().prefix(8))))
        try town.ok("peers", "name", "吴丽娟的电脑", "--clear")
        #expect(try town.run("export", dir.file("c.bundle"), "--for", "吴丽娟的电脑").status == 1)
    }

    /// What Excel on a Chinese PC saves (GB18030/GBK, or UTF-8 with a BOM) imports like UTF-8; other bytes are
    /// refused with advice, and nothing is written.
    @Test func excelsChineseEncodingsImport() throws {
        let dir = try TemporaryDirectory("cli-gbk")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        let csv = "code,name,department_id,default_kind,committed_limit,committed_unit\nZZ-01,企业投资项目备案（测试）,D-FG,IMMEDIATE,0,WD\n"
        let utf8 = dir.file("utf8.csv"), gbk = dir.file("gbk.csv"), bom = dir.file("bom.csv"), bad = dir.file("bad.csv")
        try Data(csv.utf8).write(to: URL(fileURLWithPath: utf8))
        try Data([0xEF, 0xBB, 0xBF] + Array(csv.replacingOccurrences(of: "ZZ-01", with: "ZZ-02").utf8)).write(to: URL(fileURLWithPath: bom))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/iconv")
        p.arguments = ["-f", "UTF-8", "-t", "GBK", utf8]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let gbkBytes = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(gbkBytes.count < csv.utf8.count, "GBK takes two bytes per character where UTF-8 takes three")
        try gbkBytes.write(to: URL(fileURLWithPath: gbk))
        try centre.ok("catalogue", "import", gbk)
        try centre.ok("catalogue", "import", bom)
        let list = try centre.ok("catalogue", "list", "--json")
        #expect(list.contains("企业投资项目备案（测试）") && list.contains("ZZ-02"), "\(list)")
        try Data([0x63, 0x6F, 0x64, 0x65, 0x0A, 0xFF, 0xFE, 0x00, 0x81]).write(to: URL(fileURLWithPath: bad))
        let refused = try centre.run("catalogue", "import", bad, lang: "zh_CN.UTF-8")
        #expect(refused.status == 1 && refused.stderr.contains("GB18030"), "\(refused.stderr)")

        // Chinese headings and values, as a county office types its own sheet, in GBK.
        let chinese = "事项编码,事项名称,实施部门,办件类型,承诺时限,承诺时限单位\nZZ-03,测试事项三,D-FG,承诺件,3,自然日\n"
        let zhCSV = dir.file("zh.csv")
        try Data(chinese.utf8).write(to: URL(fileURLWithPath: zhCSV))
        let conv = Process()
        conv.executableURL = URL(fileURLWithPath: "/usr/bin/iconv")
        conv.arguments = ["-f", "UTF-8", "-t", "GB18030", "-o", dir.file("zh-gbk.csv"), zhCSV]
        try conv.run()
        conv.waitUntilExit()
        try centre.ok("catalogue", "import", dir.file("zh-gbk.csv"))
        #expect(try centre.ok("catalogue", "list", "--json").contains("\"ND\""))

        // Excel out and back in: the catalogue as a workbook with Chinese headings imports into another replica.
        let book = dir.file("目录.xlsx")
        let wrote = try Daiban.exec(["catalogue", "list", "--format", "xlsx", "--output", book, "--home", centre.home], lang: "zh_CN.UTF-8")
        #expect(wrote.status == 0 && wrote.stdout.contains("已写出"), "\(wrote.stderr)")
        let other = try centreWithRoster(try TemporaryDirectory("cli-xlsx"))
        try other.ok("catalogue", "import", book)
        func codes(_ d: Daiban) throws -> [String] {
            let o = try JSONSerialization.jsonObject(with: Data(try d.ok("catalogue", "list", "--json").utf8)) as! [String: Any]
            return (o["rows"] as! [[String: Any]]).map { "\($0["id"]!)|\($0["committed_unit"] ?? "")|\($0["default_kind"] ?? "")" }.sorted()
        }
        #expect(try codes(other) == codes(centre))
        // A bad cell is named by sheet, row and column; nothing is written.
        let broken = try Daiban.exec(["catalogue", "import", dir.file("zh.csv").replacingOccurrences(of: "zh.csv", with: "missing.xlsx"),
                                      "--home", other.home], lang: "zh_CN.UTF-8")
        #expect(broken.status == 1 && broken.stderr.contains("文件不存在"))
        // Every report goes to Excel too, dates as dates.
        let report = dir.file("overdue.xlsx")
        try centre.ok("report", "overdue", "--format", "xlsx", "--output", report)
        #expect(FileManager.default.fileExists(atPath: report))
    }

    /// Complaints carry a number (given, or the next of the county's pattern), the receiving office, a category,
    /// a date for every step and a feedback deadline with 预警/逾期; `report materials` counts 重复提交材料.
    @Test func complaintsAreNumberedAndTimed() throws {
        let dir = try TemporaryDirectory("cli-complaints")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        try centre.ok("calendar", "import", Self.fixtures + "/calendar-2025.csv")
        let first = try centre.ok("complaint", "add", "--complainant", "某业主", "--category", "重复提交材料", "--on", "2025-10-09")
        #expect(first.hasPrefix("TS-2025-0001 "), "\(first)")
        try centre.ok("complaint", "add", "--no", "TS-2025-0012", "--category", "DELAY", "--on", "2025-11-03")
        #expect(try centre.ok("complaint", "add", "--category", "其他", "--on", "2025-11-04").hasPrefix("TS-2025-0013 "))
        let taken = try centre.run("complaint", "add", "--no", "TS-2025-0012")
        #expect(taken.status == 1 && taken.stderr.contains("[duplicate]"))
        #expect(try centre.run("complaint", "add", "--category", "天气").status == 1)
        try centre.ok("complaint", "update", "TS-2025-0001", "--status", "调查中", "--on", "2025-10-10")
        try centre.ok("complaint", "update", "TS-2025-0001", "--status", "FEEDBACK_GIVEN", "--on", "2025-10-20")
        try centre.ok("rule", "set", "complaint.number_pattern", "{office}-TS{yyyy}-{nnn}")
        #expect(try centre.ok("complaint", "add", "--on", "2025-11-05").hasPrefix("OFF-CTY-TS2025-001 "))

        let report = try json(try centre.ok("report", "complaints", "--as-of", "2025-11-24", "--json"))
        let rows = try #require(report["rows"] as? [[String: Any]])
        let one = try #require(rows.first { $0["complaint_no"] as? String == "TS-2025-0001" })
        #expect(one["category"] as? String == "REPEATED_MATERIALS" && one["timer"] as? String == "NORMAL", "\(one)")
        #expect(one["office"] as? String == "云岭县投资项目代办服务中心")
        let twelve = try #require(rows.first { $0["complaint_no"] as? String == "TS-2025-0012" })
        #expect(twelve["timer"] as? String == "WARNING" || twelve["timer"] as? String == "OVERDUE", "\(twelve)")
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["repeated_materials"] as? Int == 1)
        let materials = try #require(try json(try centre.ok("report", "materials", "--json"))["summary"] as? [String: Any])
        #expect(materials["repeated_materials_complaints"] as? Int == 1)
    }

    /// 代办联系卡: issued to an enterprise, used by the case registered with it, shown on the case, voided only
    /// while unused; the card report counts them.
    @Test func contactCardsFromIssueToUse() throws {
        let dir = try TemporaryDirectory("cli-cards")
        defer { dir.cleanup() }
        let centre = try centreWithRoster(dir)
        try centre.ok("enterprise", "add", "--uscc", "91330999TEST00001X", "--name", "云岭华泰精密机械有限公司")
        #expect(try centre.ok("card", "issue", "--no", "KL-2025-0031", "--enterprise", "91330999TEST00001X",
                              "--department", "县招商服务中心", "--reason", "招商引资", "--on", "2025-09-08").contains("KL-2025-0031"))
        #expect(try centre.ok("card", "issue", "--enterprise", "91330999TEST00001X", "--department", "D-SW",
                              "--reason", "GOV_MAJOR", "--service", "协调督办").contains("KL-20"))
        #expect(try centre.run("card", "issue", "--no", "KL-2025-0031", "--enterprise", "91330999TEST00001X",
                               "--department", "D-ZS", "--reason", "GOV_MAJOR").stderr.contains("[duplicate]"))
        let reg = try json(try centre.ok("case", "register", "--uscc", "91330999TEST00001X", "--enterprise", "云岭华泰精密机械有限公司",
                                         "--project", "年产50万套新能源汽车精密零部件项目", "--township", "OFF-DG",
                                         "--channel", "代办联系卡", "--contact-card", "KL-2025-0031", "--json"))
        let c = try #require(reg["case"] as? String)
        try centre.ok("card", "use", "KL-2025-0031", c)
        #expect(try json(try centre.ok("case", "show", c, "--json"))["contact_card"] as? String == "KL-2025-0031")
        let again = try centre.run("card", "use", "KL-2025-0031", c)
        #expect(again.status == 1 && again.stderr.contains("[illegal_transition]"))
        #expect(try centre.run("card", "void", "KL-2025-0031").stderr.contains("[illegal_transition]"))
        let list = try json(try centre.ok("card", "list", "--json"))
        let rows = try #require(list["rows"] as? [[String: Any]])
        let used = try #require(rows.first { $0["card_no"] as? String == "KL-2025-0031" })
        #expect(used["status"] as? String == "USED" && used["case"] as? String == c && used["department"] as? String == "县招商服务中心")
        let other = try #require(rows.first { $0["card_no"] as? String != "KL-2025-0031" }?["card_no"] as? String)
        try centre.ok("card", "void", other)
        let report = try #require(try json(try centre.ok("report", "cards", "--json"))["summary"] as? [String: Any])
        #expect(report["cards"] as? Int == 2 && report["used"] as? Int == 1 && report["void"] as? Int == 1)
        #expect(try centre.run("card", "use", other, c).status == 1, "a void card serves no case")
    }
}
