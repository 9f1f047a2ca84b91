/// Names and keys compare by their UTF-8 bytes everywhere (`protocol/SPEC.md` §2.4).
///
/// Swift's `String` equality is Unicode canonical equivalence: `"é"` (U+00E9) equals `"e\u{301}"`. Two replicas
/// that let such strings collapse in a dictionary while SQLite and the wire keep them apart would diverge, so
/// table and field names are restricted to lower-case ASCII, and row keys and authors, which may be any text,
/// are kept in `ExactText` wherever they are compared or hashed.
public enum Names {
    /// Longest table or field name, in bytes.
    public static let maxNameBytes = 64

    /// Whether `name` is a valid table or field name: 1–64 bytes of `a`–`z`, `0`–`9` and `_`.
    public static func isValid(_ name: String) -> Bool {
        var n = 0
        for b in name.utf8 {
            n += 1
            guard n <= maxNameBytes, (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F else { return false }
        }
        return n > 0
    }
}

/// A string compared and hashed by its UTF-8 bytes, for sets and dictionaries of keys and authors.
public struct ExactText: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { text = value }

    public static func == (a: ExactText, b: ExactText) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    public func hash(into h: inout Hasher) {
        var t = text
        t.withUTF8 { h.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
    public var description: String { text }
}
