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
                                        "--investment", "600", "--on", "2025-10-09", "--json"))
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
        let csv = try centre.ok("report", "overdue", "--as-of", "2025-11-24", "--format", "csv")
        #expect(csv.hasPrefix("case,case_no,item,item_name,"))
        #expect(csv.contains(",OVERDUE,"))

        // Every list, show and report answers --json.
        let commands: [[String]] = [
            ["enterprise", "list"], ["project", "list"], ["case", "list"], ["case", "list", "--mine"], ["case", "show", c],
            ["plan", "show", c], ["log", "list", c], ["catalogue", "list"], ["calendar", "show", "--month", "2025-10"],
            ["roster", "list"], ["rule", "list"], ["ticket", "list"], ["complaint", "list"], ["material", "list"],
            ["history", "case", c], ["due"],
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
}
