public import ArgumentParser
import Foundation
import TerminalText

/// Help and parser text in the user's language.
///
/// Commands declare every abstract and help text in both languages (`L10n.pick`, `.l(_:_:)`); what
/// ArgumentParser itself writes (headings, usage errors, the built-in `--help` and `--version` lines) is
/// rendered in English by the library and translated here, line by line, under a zh locale.
extension ArgumentHelp {
    /// Help text in English and Chinese; the locale picks one when the command line is parsed.
    public static func l(_ en: String, _ zh: String) -> ArgumentHelp { ArgumentHelp(L10n.pick(en, zh)) }
}

extension L10n {
    /// `en` or `zh` by the locale: for abstracts, discussions and help declared next to their command.
    public static func pick(_ en: String, _ zh: String) -> String { chinese ? zh : en }
}

public enum ParserText {
    /// ArgumentParser's fixed English, in the order the replacements run (longer patterns first).
    static let replacements: [(pattern: String, zh: String)] = [
        (#"^OVERVIEW: "#, "说明："),
        (#"^USAGE: "#, "用法："),
        (#"^Usage: "#, "用法："),
        (#"^ARGUMENTS:$"#, "参数："),
        (#"^OPTIONS:$"#, "选项："),
        (#"^SUBCOMMANDS:$"#, "子命令："),
        (#"^(.+) SUBCOMMANDS:$"#, "$1 子命令："),
        (#"^  See '(.+) <subcommand>' for detailed help\.$"#, "  用 '$1 <子命令>' 查看各子命令的详细帮助。"),
        (#"Show help information\."#, "显示帮助信息。"),
        (#"Show the version\."#, "显示版本号。"),
        (#"\(values: ([^;)]*); default as flag: ([^)]*)\)"#, "（可选值：$1；作为开关时默认：$2）"),
        (#"\(values: ([^;)]*); default: ([^)]*)\)"#, "（可选值：$1；默认：$2）"),
        (#"\(values: ([^)]*)\)"#, "（可选值：$1）"),
        (#"\(default as flag: ([^)]*)\)"#, "（作为开关时默认：$1）"),
        (#"\(default: ([^)]*)\)"#, "（默认：$1）"),
        (#" \(default\)"#, "（默认）"),
        (#"^Error: "#, "错误："),
        (#"^Help:  "#, "说明："),
        (#"Missing expected argument '([^']*)'"#, "缺少参数 '$1'"),
        (#"Missing one of: (.*)$"#, "缺少以下之一：$1"),
        (#"Missing value for '([^']*)'"#, "选项 '$1' 缺少值"),
        (#"Unknown option '([^']*)'"#, "没有选项 '$1'"),
        (#"Invalid option: (.*)$"#, "无效的选项：$1"),
        (#"Missing required subcommand\."#, "缺少子命令。"),
        (#"Unexpected argument '([^']*)'"#, "多余的参数 '$1'"),
        (#"^([0-9]+) unexpected arguments: (.*)$"#, "$1 个多余的参数：$2"),
        (#"The value '([^']*)' is invalid for '([^']*)'\. Please provide one of (.*)\.$"#, "'$1' 不是 '$2' 的有效值。可选值：$3。"),
        (#"The value '([^']*)' is invalid for '([^']*)'\. Please provide one of the following:$"#, "'$1' 不是 '$2' 的有效值。可选值如下："),
        (#"The value '([^']*)' is invalid for '([^']*)'"#, "'$1' 不是 '$2' 的有效值"),
        (#"The value '([^']*)' is invalid\."#, "值 '$1' 无效。"),
        (#"The option '([^']*)' does not take any value, but '([^']*)' was specified\."#, "选项 '$1' 不带值，但给出了 '$2'。"),
        (#"^   or: "#, "   或："),
        (#" in '([^']*)'$"#, "（位于 '$1'）"),
        (#"The value '([^']*)' cannot be used with (.*)$"#, "值 '$1' 不能与 $2 同时使用"),
        (#"^(.*) cannot be used (more than once|together)(.*)$"#, "$1 不能重复或同时使用$3"),
        (#"Command '([^']*)' is not a parent of the current command\."#, "'$1' 不是当前命令的上级命令。"),
        (#"Unknown subcommand '([^']*)'"#, "没有子命令 '$1'"),
        (#"Did you mean '([^']*)'\?"#, "是否要用 '$1'？"),
        (#"^  See '(.+)' for more information\.$"#, "  用 '$1' 查看详细说明。"),
        (#"Value to be set with (.*) had already been set with (.*)$"#, "$1 与已给出的 $2 重复"),
        (#"^  - "#, "  - "),
    ]

    /// The value and default notes, which ArgumentParser may wrap over several lines: run on the whole text.
    static let wrapping: [(pattern: String, zh: String)] = [
        (#"\(values: ([^;)]*); default as flag: ([^)]*)\)"#, "（可选值：$1；作为开关时默认：$2）"),
        (#"\(values: ([^;)]*); default: ([^)]*)\)"#, "（可选值：$1；默认：$2）"),
        (#"\(values: ([^)]*)\)"#, "（可选值：$1）"),
        (#"\(default as flag: ([^)]*)\)"#, "（作为开关时默认：$1）"),
        (#"\(default: ([^)]*)\)"#, "（默认：$1）"),
    ]

    static let compiled: [(NSRegularExpression, String)] = replacements.map {
        (try! NSRegularExpression(pattern: $0.pattern, options: [.anchorsMatchLines]), $0.zh)
    }
    static let compiledWrapping: [(NSRegularExpression, String)] = wrapping.map {
        (try! NSRegularExpression(pattern: $0.pattern), $0.zh)
    }

    /// ArgumentParser's text with its fixed English translated (unchanged under an English locale).
    public static func localize(_ text: String) -> String {
        guard L10n.chinese else { return text }
        var text = text
        for (re, template) in compiledWrapping {
            text = re.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var s = String(line)
            for (re, template) in compiled {
                s = re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
            }
            return s
        }.joined(separator: "\n")
    }

    /// Parses the command line and runs the command, writing ArgumentParser's help and errors in the
    /// user's language: the whole `main` of an executable.
    public static func main<C: AsyncParsableCommand>(_ root: C.Type, _ arguments: [String]? = nil) async -> Never {
        do {
            var command = try root.parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch {
            let code = root.exitCode(for: error)
            let text = localize(root.fullMessage(for: error))
            if code == .success {
                if !text.isEmpty { print(text) }
            } else {
                if !text.isEmpty { FileHandle.standardError.write(Data((text + "\n").utf8)) }
            }
            exit(code.rawValue)
        }
    }
}
