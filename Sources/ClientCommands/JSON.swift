import SyncCore

/// A JSON value with ordered object keys, so output shapes stay stable for scripts.
indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null

    /// A field value: numbers for integers, strings for text, decimals (exact) and dates (YYYY-MM-DD).
    init(_ v: FieldValue) {
        switch v {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .decimal(let d): self = .string(d)
        case .text(let s): self = .string(s)
        case .date: self = .string(v.displayText)
        }
    }

    var text: String {
        switch self {
        case .object(let pairs):
            return "{" + pairs.map { JSON.string($0.0).text + ":" + $0.1.text }.joined(separator: ",") + "}"
        case .array(let items):
            return "[" + items.map(\.text).joined(separator: ",") + "]"
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where u.value < 0x20:
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                default: out.unicodeScalars.append(u)
                }
            }
            return out + "\""
        case .int(let i): return String(i)
        case .double(let d): return d.isFinite ? String((d * 1000).rounded() / 1000) : "null"
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}
