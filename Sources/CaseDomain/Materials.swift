/// The materials an approval item needs (the catalogue's 申请材料 list) and what is still missing. Pure: lists in,
/// lists out, so every replica reaches the same 一次性告知.
public enum Materials {
    /// The entries of a list as a clerk types it: separated by `；`, `;`, `、`, `，`, `,` or line breaks, blanks
    /// trimmed, empty entries and repeats dropped, order kept.
    public static func list(_ text: String?) -> [String] {
        guard let text else { return [] }
        var seen: Set<String> = [], out: [String] = []
        var entry = "", depth = 0
        func flush() {
            let e = entry.trimmingBlanks()
            if !e.isEmpty, seen.insert(key(e)).inserted { out.append(e) }
            entry = ""
        }
        // A separator inside brackets belongs to the entry: 法定代表人身份证明（身份证、护照） is one material.
        for ch in text {
            switch ch {
            case "（", "(", "【", "[": depth += 1; entry.append(ch)
            case "）", ")", "】", "]": depth = max(0, depth - 1); entry.append(ch)
            case "；", ";", "\n", "\r": depth = 0; flush()
            case "、", "，", ",": if depth == 0 { flush() } else { entry.append(ch) }
            default: entry.append(ch)
            }
        }
        flush()
        return out
    }

    /// How two spellings of one material compare: blanks and the brackets' width ignored, letters in one case.
    public static func key(_ name: String) -> String {
        var s = ""
        for ch in name {
            switch ch {
            case " ", "\t", "\u{3000}": continue
            case "（": s.append("(")
            case "）": s.append(")")
            default: s.append(contentsOf: ch.lowercased())
            }
        }
        return s
    }

    /// Whether `type` is one of `required` (an empty list requires nothing in particular, so anything fits).
    public static func fits(_ type: String, _ required: [String]) -> Bool {
        required.isEmpty || required.contains { key($0) == key(type) }
    }

    /// `required` less what `provided` covers, in the order of `required`.
    public static func missing(required: [String], provided: [String]) -> [String] {
        let have = Set(provided.map(key))
        return required.filter { !have.contains(key($0)) }
    }

    /// A list written back as one text, the way the catalogue and the notice store it.
    public static func joined(_ entries: [String]) -> String { entries.joined(separator: "；") }
}
