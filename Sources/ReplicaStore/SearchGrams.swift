import Foundation

/// Substring search over names and codes in any script. Chinese has no spaces between words, so a word index
/// of whole tokens cannot find 「石门」 inside 「云岭石门山居文旅有限公司」. Instead every searchable value is
/// normalised (full-width to half-width, case folded, everything but letters and digits dropped) and indexed as
/// its overlapping character pairs plus its last character. A query of two or more characters matches the
/// documents holding all of its pairs; one character matches by prefix. Pairs can match out of order, so the
/// caller confirms each hit with `contains` on the normalised value.
public enum SearchGrams {
    /// The searchable form of a text: half-width, lower-case, letters and digits only.
    public static func normalised(_ text: String) -> String {
        let half = text.applyingTransform(.fullwidthToHalfwidth, reverse: false) ?? text
        return String(String.UnicodeScalarView(half.lowercased().unicodeScalars.filter {
            $0.properties.isAlphabetic || $0.properties.numericType != nil
        }))
    }

    /// The document indexed for a row's searchable values: distinct pairs and last characters, space-separated.
    public static func document(_ values: [String]) -> String {
        var seen = Set<String>(), out: [String] = []
        for value in values {
            let chars = Array(normalised(value))
            for i in chars.indices {
                let gram = i + 1 < chars.count ? String(chars[i ... i + 1]) : String(chars[i])
                if seen.insert(gram).inserted { out.append(gram) }
            }
        }
        return out.joined(separator: " ")
    }

    /// The FTS5 query for `text`, or nil when nothing searchable is left after normalising it.
    public static func match(_ text: String) -> String? {
        let chars = Array(normalised(text))
        switch chars.count {
        case 0: return nil
        case 1: return "\"\(chars[0])\"*"
        default:
            var grams: [String] = []
            for i in 0 ..< chars.count - 1 {
                let g = String(chars[i ... i + 1])
                if !grams.contains(g) { grams.append(g) }
            }
            return grams.map { "\"\($0)\"" }.joined(separator: " ")
        }
    }
}
