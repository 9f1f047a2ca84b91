import Foundation
import SyncTesting
import Testing

/// Under `LANG=zh_CN.UTF-8` every line a user reads is Chinese: the help of every command and option of both
/// executables, ArgumentParser's own headings and usage errors, and the errors of commands that fail.
@Suite struct ChineseTextTests {
    static let zh = "zh_CN.UTF-8"

    /// Every command path of an executable, from ArgumentParser's own dump of its command tree.
    static func commandPaths(_ binary: String) throws -> [[String]] {
        let dump = try Daiban.exec(["--experimental-dump-help"], binary: binary)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var paths: [[String]] = []
        func walk(_ c: [String: Any], _ path: [String]) {
            paths.append(path)
            for s in c["subcommands"] as? [[String: Any]] ?? [] where s["commandName"] as? String != "help" {
                walk(s, path + [s["commandName"] as! String])
            }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        return paths
    }

    /// Lines with English words and no Chinese. Excepted, as the issue allows: option names, `<placeholders>`,
    /// bracketed or backticked parts, codes in capitals, ids, paths and file names, and a line that is one
    /// token (a code or an id in a list).
    static func englishLines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { full in
            // The prefix alone does not make a message Chinese.
            // A usage line is syntax: the command's name and options.
            if full.hasPrefix("用法：") { return false }
            let line = full.replacingOccurrences(of: #"^\s*(错误|警告|提示|注意|说明)："#, with: "", options: .regularExpression)
            guard !line.unicodeScalars.contains(where: { (0x4E00...0x9FFF).contains($0.value) || (0x3000...0x303F).contains($0.value) })
            else { return false }
            // A wrapped list of codes (`dispatch, prepare, submit,`).
            if line.range(of: #"^\s*[a-z][a-z0-9-]*(,\s*[a-z][a-z0-9-]*)*,?\)?$"#, options: .regularExpression) != nil { return false }
            var s = line
            for pattern in [#"\b[a-z]+(-[a-z]+)+\b"#, #"`[^`]*`"#, #"\[[^\]]*\]"#, #"<[^>]*>"#, #"https?://\S+"#, #"(^|\s)--?[A-Za-z0-9][A-Za-z0-9-]*"#,
                            #"\S*[/$~.]\S*"#, #"\b[A-Z][A-Z0-9_]+\b"#, #"\b\S*\d\S*\b"#] {
                s = s.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
            }
            let words = s.split(whereSeparator: { !$0.isLetter }).filter { $0.count >= 2 }
            return words.count >= 2
        }
    }

    @Test func everyHelpPageIsChinese() throws {
        var checked = 0
        var english: [String] = []
        for binary in [Daiban.binary, ServerProcess.binary] {
            let name = URL(fileURLWithPath: binary).lastPathComponent
            let paths = try Self.commandPaths(binary)
            #expect(paths.count > (name == "daiban" ? 90 : 15), "\(name): \(paths.count) commands")
            for path in paths {
                let r = try Daiban.exec(path + ["--help"], lang: Self.zh, binary: binary)
                #expect(r.status == 0, "\(name) \(path.joined(separator: " ")) --help: \(r.stderr)")
                let lines = r.stdout.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                #expect(lines.count >= 3)
                checked += lines.count
                english += Self.englishLines(r.stdout).map { "\(name) \(path.joined(separator: " ")): \($0)" }
            }
        }
        #expect(english.isEmpty, "help lines without Chinese:\n\(english.joined(separator: "\n"))")
        #expect(checked > 1200)
        print("zh help: \(checked) lines checked")
    }

    @Test func failingCommandsExplainThemselvesInChinese() throws {
        let dir = try TemporaryDirectory("zh")
        defer { dir.cleanup() }
        let home = dir.file("home"), empty = dir.file("empty")
        try Daiban.exec(["init", "--author", "a04", "--home", home])
        try Data("not a bundle".utf8).write(to: URL(fileURLWithPath: dir.file("junk.dbb")))
        try Data("date,kind\n2025-13-01,WORK\n".utf8).write(to: URL(fileURLWithPath: dir.file("bad.csv")))
        let client: [[String]] = [
            ["frob"], ["case", "shw"], ["case", "show"], ["case", "show", "--bogus"], ["item", "frob", "X.1"],
            ["case", "show", "NOPE", "--home", home], ["case", "show", "X", "--home", empty],
            ["record", "get", "nosuch", "x", "--home", home], ["record", "put", "township", "t1", "bogus=1", "--home", home],
            ["import", dir.file("missing.dbb"), "--home", home], ["import", dir.file("junk.dbb"), "--home", home],
            ["rule", "set", "county.time_zone", "北京", "--home", home], ["rule", "set", "timer.warning_wd", "two", "--home", home],
            ["calendar", "import", dir.file("bad.csv"), "--home", home],
            ["case", "register", "--uscc", "1", "--enterprise", "E", "--project", "P", "--township", "石门乡",
             "--channel", "窗口", "--on", "2025-13-01", "--home", home],
            ["log", "add", "NOPE", "--kind", "电话联系", "--content", "x", "--home", home],
            ["sync", "--home", home], ["login", "--home", home],
        ]
        let server: [[String]] = [
            ["frob"], ["user", "add"], ["user", "add", "u1", "--role", "boss", "--data", dir.file("data")],
            ["user", "add", "u1", "--role", "agent", "--data", dir.file("data")],
            ["device", "revoke", "nope", "--data", dir.file("data")], ["serve", "--port", "many"],
            ["user", "unblock", "--data", dir.file("data")], ["user", "unblock", "nobody", "--data", dir.file("data")],
        ]
        try Data(#"{"nope": 1}"#.utf8).write(to: URL(fileURLWithPath: dir.file("bad.json")))
        let data = dir.file("data")
        #expect(try Daiban.exec(["user", "add", "u2", "--role", "agent", "--password-stdin", "--data", data], stdin: "pw-long-enough",
                                binary: ServerProcess.binary).status == 0)
        let withPassword: [([String], String)] = [
            (["user", "add", "a b", "--role", "agent", "--password-stdin", "--data", data], "pw-long-enough"),
            (["user", "add", "u3", "--role", "agent", "--password-stdin", "--data", data], "short"),
            (["user", "add", "u2", "--role", "agent", "--password-stdin", "--data", data], "pw-long-enough"),
        ]
        var english: [String] = []
        for (args, password) in withPassword {
            let r = try Daiban.exec(args, lang: Self.zh, stdin: password, binary: ServerProcess.binary)
            #expect(r.status != 0 && !r.stderr.isEmpty, "daiban-server \(args.joined(separator: " ")) should fail")
            english += Self.englishLines(r.stderr).map { "daiban-server \(args.joined(separator: " ")): \($0)" }
        }
        for args in [["serve", "--config", dir.file("bad.json"), "--data", data], ["serve", "--port", "70000", "--data", data]] {
            let r = try Daiban.exec(args, lang: Self.zh, binary: ServerProcess.binary)
            #expect(r.status != 0 && !r.stderr.isEmpty, "daiban-server \(args.joined(separator: " ")) should fail")
            english += Self.englishLines(r.stderr).map { "daiban-server \(args.joined(separator: " ")): \($0)" }
        }
        for (binary, commands) in [(Daiban.binary, client), (ServerProcess.binary, server)] {
            for args in commands {
                let r = try Daiban.exec(args, lang: Self.zh, binary: binary)
                let name = URL(fileURLWithPath: binary).lastPathComponent + " " + args.joined(separator: " ")
                #expect(r.status != 0, "\(name) should fail")
                #expect(!r.stderr.isEmpty, "\(name) says nothing")
                english += Self.englishLines(r.stderr).map { "\(name): \($0)" }
            }
        }
        #expect(english.isEmpty, "error lines without Chinese:\n\(english.joined(separator: "\n"))")
    }

    @Test func theCheckCatchesEnglish() {
        #expect(Self.englishLines("  --home <home>   Replica folder (default: $DAIBAN_HOME).").count == 1)
        #expect(Self.englishLines("Error: Missing expected argument '<case>'").count == 1)
        #expect(Self.englishLines("  --home <home>   副本目录（默认：$DAIBAN_HOME）").isEmpty)
        #expect(Self.englishLines("  - dispatch\n  - local-done\n  [OVERDUE] D-FG a04\n  IMMEDIATE, COMMITTED, JOINT\n  decide, cancel, withdraw)").isEmpty)
        #expect(Self.englishLines("  show the plan, then stop").count == 1)
        #expect(Self.englishLines("错误：unknown table nosuch [unknown_table]").count == 1)
    }

    /// A file the client cannot write is named with the reason, and nothing else changes.
    @Test func aWriteThatFailsSaysWhy() throws {
        let dir = try TemporaryDirectory("write-fail")
        defer { dir.cleanup() }
        let home = dir.file("home")
        try Daiban.exec(["init", "--author", "a04", "--home", home])
        try FileManager.default.createDirectory(atPath: home + "/server.json.tmp", withIntermediateDirectories: true)
        let r = try Daiban.exec(["init", "--server", "http://127.0.0.1:9", "--home", home], lang: Self.zh)
        #expect(r.status == 1)
        #expect(r.stderr.contains("server.json.tmp") && r.stderr.contains("Is a directory") && r.stderr.contains("其他数据未受影响"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home + "/server.json"))
    }
}
