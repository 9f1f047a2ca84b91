import Foundation
import SyncTesting
import Testing

/// Runs the built `daiban` binary as a real process against temporary replica homes.
struct Daiban {
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["DAIBAN_BIN"] { return b }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [beside, beside.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("daiban").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return repositoryRoot + "/.build/debug/daiban"
    }()

    let home: String

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    func run(_ args: String..., lang: String = "C.UTF-8") throws -> Result {
        try Daiban.exec(Array(args) + ["--home", home], lang: lang)
    }

    static func exec(_ args: [String], lang: String = "C.UTF-8", stdin: String? = nil, binary: String = binary,
                     environment: [String: String] = [:]) throws -> Result
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["LANG"] = lang
        env["LC_ALL"] = nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        if let stdin {
            let input = Pipe()
            p.standardInput = input
            try p.run()
            input.fileHandleForWriting.write(Data((stdin + "\n").utf8))
            try input.fileHandleForWriting.close()
        } else {
            try p.run()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs and requires success.
    @discardableResult
    func ok(_ args: String..., stdin: String? = nil) throws -> String {
        let r = try Daiban.exec(Array(args) + ["--home", home], stdin: stdin)
        #expect(r.status == 0, "daiban \(args.joined(separator: " ")): \(r.stderr)")
        return r.stdout
    }

    func replicaID() throws -> String {
        let json = try ok("status", "--json")
        let o = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return o["replica"] as! String
    }
}

@Suite(.serialized) struct CLITests {
    /// The issue's scenario: three replicas converge through bundle files, with a conflict reviewed and
    /// resolved at the centre.
    @Test func threeReplicasConvergeThroughBundles() throws {
        let dir = try TemporaryDirectory("cli")
        defer { dir.cleanup() }
        let centre = Daiban(home: dir.file("centre")), agent = Daiban(home: dir.file("agent")),
            town = Daiban(home: dir.file("town"))
        try centre.ok("init", "--author", "centre")
        try agent.ok("init", "--author", "agent")
        try town.ok("init", "--author", "town")
        let (centreID, agentID, townID) = (try centre.replicaID(), try agent.replicaID(), try town.replicaID())

        try centre.ok("record", "put", "township", "T01", "name=棠下镇", "kind=TOWN")
        try centre.ok("record", "put", "project", "P1", "name=智能装备生产基地建设项目", "township_id=T01",
                      "total_investment_wan=12000.5", "is_industrial=true")
        try centre.ok("export", dir.file("c1.bundle"))
        try agent.ok("import", dir.file("c1.bundle"))
        try town.ok("import", dir.file("c1.bundle"))

        // Offline: both edit the same field; the agent also adds a row, the township deletes nothing.
        try agent.ok("record", "put", "project", "P1", "name=扩产项目（代办员）")
        try agent.ok("record", "put", "enterprise", "E1", "name=江门市甲科技有限公司", "uscc=91440700MA4UXXXX0X")
        try town.ok("record", "put", "project", "P1", "name=扩产项目（乡镇）", "approval_type=备案")

        try agent.ok("export", dir.file("a1.bundle"), "--for", centreID)
        try town.ok("export", dir.file("t1.bundle"), "--for", centreID)
        try centre.ok("import", dir.file("a1.bundle"))
        try centre.ok("import", dir.file("t1.bundle"))
        let again = try centre.ok("import", dir.file("t1.bundle"), "--json")
        #expect(again.contains("\"applied\":0"))

        let list = try JSONSerialization.jsonObject(with: Data(try centre.ok("conflicts", "list", "--json").utf8)) as! [[String: Any]]
        #expect(list.count == 1)
        let conflict = try #require(list.first)
        #expect(conflict["field"] as? String == "name")
        #expect((conflict["versions"] as! [Any]).count == 2)
        try centre.ok("conflicts", "show", conflict["id"] as! String)
        try centre.ok("conflicts", "resolve", conflict["id"] as! String, "--value", "扩产项目")
        #expect(try centre.ok("conflicts", "list", "--json") == "[]\n")

        try centre.ok("export", dir.file("c2a.bundle"), "--for", agentID)
        try centre.ok("export", dir.file("c2t.bundle"), "--for", townID)
        try agent.ok("import", dir.file("c2a.bundle"))
        try town.ok("import", dir.file("c2t.bundle"))

        for table in ["township", "enterprise", "project"] {
            let c = try centre.ok("record", "list", table, "--json")
            #expect(try agent.ok("record", "list", table, "--json") == c, "\(table)")
            #expect(try town.ok("record", "list", table, "--json") == c, "\(table)")
        }
        #expect(try agent.ok("record", "get", "project", "P1", "--json").contains("\"name\":\"扩产项目\""))
        #expect(try town.ok("conflicts", "list", "--json") == "[]\n")
    }

    @Test func badInputFailsWithOneLineAndChangesNothing() throws {
        let dir = try TemporaryDirectory("cli-bad")
        defer { dir.cleanup() }
        let r = Daiban(home: dir.file("r"))
        try r.ok("init", "--author", "clerk")
        try r.ok("record", "put", "township", "T01", "name=棠下镇")
        try r.ok("export", dir.file("good.bundle"))
        let before = try r.ok("status", "--json") + r.ok("record", "list", "township", "--json")

        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir.file("good.bundle"))))
        var flipped = good
        flipped[flipped.count / 2] ^= 0x40
        try Data(flipped).write(to: URL(fileURLWithPath: dir.file("flipped.bundle")))
        try Data(good.prefix(good.count - 3)).write(to: URL(fileURLWithPath: dir.file("short.bundle")))
        FileManager.default.createFile(atPath: dir.file("huge.bundle"), contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("huge.bundle")))
        try h.truncate(atOffset: 65 << 20)
        try h.close()

        let cases: [[String]] = [
            ["record", "put", "nosuch", "X", "a=1"],
            ["record", "put", "township", "T01", "nosuch=1"],
            ["record", "put", "project", "P9", "name=甲", "total_investment_wan=很多"],
            ["record", "put", "project", "P9", "name=甲", "is_industrial=maybe"],
            ["record", "put", "township", "T02", "kind=TOWN"],
            ["record", "get", "township", "NOPE"],
            ["import", dir.file("flipped.bundle")],
            ["import", dir.file("short.bundle")],
            ["import", dir.file("huge.bundle")],
            ["import", dir.file("missing.bundle")],
            ["conflicts", "show", "0000"],
            ["conflicts", "resolve", "0000"],
            ["conflicts", "resolve", "0000", "--value", "x", "--delete"],
            ["export", dir.file("out.bundle"), "--for", "not-a-replica-id"],
        ]
        for args in cases {
            let res = try Daiban.exec(args + ["--home", r.home])
            #expect(res.status != 0, "\(args)")
            let lines = res.stderr.split(separator: "\n").filter { !$0.hasPrefix("reading ") }
            #expect(lines.count == 1, "\(args): \(res.stderr)")
            #expect(lines.first?.hasPrefix("error:") == true, "\(args): \(res.stderr)")
        }
        #expect(try r.ok("status", "--json") + r.ok("record", "list", "township", "--json") == before)
    }

    /// A replica's author is never an empty guess: without `--author`, `--user` or `$USER` init explains what to
    /// give; the author can change until the replica's first own write, never after.
    @Test func theAuthorIsExplainedAndFixedAtTheFirstWrite() throws {
        let dir = try TemporaryDirectory("cli-author")
        defer { dir.cleanup() }
        let home = dir.file("r")
        let none = try Daiban.exec(["init", "--home", home], lang: "zh_CN.UTF-8", stdin: "", environment: ["USER": ""])
        #expect(none.status == 1 && none.stderr.contains("--author") && none.stderr.contains("登录名"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home + "/replica.sqlite"))
        let r = Daiban(home: home)
        try r.ok("init", "--author", "wrong-name")
        let bundle = dir.file("c.bundle")
        let other = Daiban(home: dir.file("o"))
        try other.ok("init", "--author", "admin")
        try other.ok("record", "put", "township", "T01", "name=棠下镇", "kind=TOWN")
        try other.ok("export", bundle)
        try r.ok("import", bundle)  // what others wrote does not fix the author
        #expect(try r.ok("init", "--author", "a04").contains("a04"))
        try r.ok("record", "put", "township", "T02", "name=石门乡", "kind=TOWN")
        let late = try r.run("init", "--author", "a05")
        #expect(late.status == 1 && late.stderr.contains("a04"), "\(late.stderr)")
        let history = try r.ok("history", "township", "T02", "--local", "--json")
        #expect(history.contains("\"a04\"") && !history.contains("wrong-name"), "\(history)")
        #expect(try r.run("init", "--author", "two words").status == 1)
    }

    @Test func bothProgramsSayTheirVersion() throws {
        for binary in [Daiban.binary, ServerProcess.binary] {
            let r = try Daiban.exec(["--version"], binary: binary)
            #expect(r.status == 0 && r.stdout.range(of: #"^\d+\.\d+\.\d+ \(sync protocol \d+\)\n$"#, options: .regularExpression) != nil,
                    "\(binary): \(r.stdout) \(r.stderr)")
        }
    }

    @Test func messagesFollowLangAndTablesAlignWideText() throws {
        let dir = try TemporaryDirectory("cli-zh")
        defer { dir.cleanup() }
        let r = Daiban(home: dir.file("r"))
        try r.ok("init", "--author", "clerk")
        try r.ok("record", "put", "township", "T01", "name=棠下镇", "kind=TOWN")
        try r.ok("record", "put", "township", "T02", "name=Hecheng", "kind=STREET")
        let zh = try r.run("record", "put", "nosuch", "X", "a=1", lang: "zh_CN.UTF-8")
        #expect(zh.stderr.hasPrefix("错误："))
        let table = try r.ok("record", "list", "township").split(separator: "\n").map(String.init)
        // "kind" starts in the same terminal column on every line, whatever the width of the names before it.
        let columns = table.dropFirst().map { line -> Int in
            let prefix = line.components(separatedBy: "TOWN").first!.components(separatedBy: "STREET").first!
            return prefix.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x4E00 && $1.value <= 0x9FFF ? 2 : 1) }
        }
        #expect(Set(columns).count == 1, "\(table)")
    }
}
