import Foundation

/// CLI messages in English or Chinese, chosen from `LC_ALL`, `LC_MESSAGES` or `LANG` (zh* → Chinese).
public enum L10n {
    public static let chinese: Bool = {
        let env = ProcessInfo.processInfo.environment
        let lang = [env["LC_ALL"], env["LC_MESSAGES"], env["LANG"]].compactMap { $0 }.first { !$0.isEmpty } ?? ""
        return lang.lowercased().hasPrefix("zh")
    }()

    /// The message for `key` with `%@`-free positional substitution: `{0}`, `{1}`, ….
    public static func t(_ key: Key, _ args: Any...) -> String { format(key, args) }

    /// `t` for an argument list built at run time.
    public static func format(_ key: Key, _ args: [Any]) -> String {
        var s = chinese ? key.zh : key.en
        for (i, a) in args.enumerated() { s = s.replacingOccurrences(of: "{\(i)}", with: "\(a)") }
        return s
    }

    /// One message in both languages; modules declare theirs as `static let` in an extension.
    public struct Key: Sendable {
        public let en: String
        public let zh: String
        public init(en: String, zh: String) {
            self.en = en
            self.zh = zh
        }
    }
}
