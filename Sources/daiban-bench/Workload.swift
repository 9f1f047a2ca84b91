import Foundation
import SyncCore

/// The twelve fields of a case record, in the workload's order (`gen.py` FIELDS).
let benchFields = ["name", "project", "town", "status", "stage", "agent", "phone",
                   "invest_wan", "jobs", "signed_on", "due_on", "note"]
/// Fields that hold integers; every other field holds text (dates stay ISO strings, as in the workload).
let integerFields: Set<String> = ["invest_wan", "jobs"]
let benchTable = "bench_case"

/// The bench schema: one table, twelve last-writer-wins fields.
let benchSchema = Schema([
    TableSchema(benchTable, benchFields.map { FieldSchema($0, integerFields.contains($0) ? .integer : .text) })
])

/// One field update `(record, field, value)`; records and fields are indexes, to keep the workload small.
struct Op {
    var record: Int32
    var field: UInt8
    var value: FieldValue
}

/// The whole workload in memory.
struct Workload {
    /// Record ids in creation order (`P00000` …).
    var keys: [String]
    /// Initial values, `initial[record][field]` in `benchFields` order.
    var initial: [[FieldValue]]
    /// Phase B: one op list per replica, in application order.
    var phaseB: [[Op]]
    /// Phase C: ops in application order.
    var phaseC: [Op]
    /// Where it came from (for the report).
    var source: String

    /// Mean bare value payload (UTF-8 bytes, ints in decimal) over the Phase B and C ops.
    func meanPayload(_ ops: some Collection<Op>) -> Double {
        var total = 0
        for op in ops { total += op.value.displayText.utf8.count }
        return ops.isEmpty ? 0 : Double(total) / Double(ops.count)
    }
}

// MARK: Reading the canonical dump

enum WorkloadError: Error, CustomStringConvertible {
    case bad(String)
    var description: String {
        switch self { case .bad(let s): "workload: \(s)" }
    }
}

/// A JSON value as the dump uses them (no floats, no booleans, no nulls).
enum JSON {
    case string(String)
    case int(Int64)
    case array([JSON])
    case object([(String, JSON)])
}

/// A tiny JSON parser for the dump's lines. Foundation's `JSONSerialization` works too, but its object
/// graph for 18 MB of JSON raised the process's peak RSS by tens of MiB, which the benchmark reports.
struct JSONLines {
    private let b: [UInt8]
    private var i = 0
    private var line = 1
    let name: String

    init(_ url: URL) throws {
        b = [UInt8](try Data(contentsOf: url))
        name = url.lastPathComponent
    }

    private func fail(_ what: String) -> WorkloadError { .bad("\(name) line \(line): \(what)") }

    private mutating func skipSpaces() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D { i += 1 }
    }

    /// The next line's value, or nil at the end of the file.
    mutating func next() throws -> JSON? {
        while i < b.count, b[i] == 0x0A || b[i] == 0x20 || b[i] == 0x0D { if b[i] == 0x0A { line += 1 }; i += 1 }
        if i >= b.count { return nil }
        let v = try value()
        skipSpaces()
        guard i >= b.count || b[i] == 0x0A else { throw fail("trailing characters") }
        return v
    }

    private mutating func value() throws -> JSON {
        skipSpaces()
        guard i < b.count else { throw fail("unexpected end") }
        switch b[i] {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            i += 1
            var out: [JSON] = []
            skipSpaces()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            while true {
                out.append(try value())
                skipSpaces()
                guard i < b.count else { throw fail("unterminated array") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "{"):
            i += 1
            var out: [(String, JSON)] = []
            skipSpaces()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            while true {
                skipSpaces()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let k = try string()
                skipSpaces()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected :") }
                i += 1
                out.append((k, try value()))
                skipSpaces()
                guard i < b.count else { throw fail("unterminated object") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
                throw fail("expected , or }")
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = i
            if b[i] == UInt8(ascii: "-") { i += 1 }
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { i += 1 }
            guard i == b.count || !".eE".utf8.contains(b[i]),
                  let n = Int64(String(decoding: b[start..<i], as: UTF8.self))
            else { throw fail("only integers are expected") }
            return .int(n)
        default:
            throw fail("unexpected character")
        }
    }

    private mutating func string() throws -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < b.count else { throw fail("unterminated escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let low = try hex4()
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw fail("bad \\u escape") }
                out.append(contentsOf: String(Character(scalar)).utf8)
            default: throw fail("bad escape")
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count, let v = UInt32(String(decoding: b[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        i += 4
        return v
    }
}

private func fieldValue(_ v: JSON, field: String, where context: String) throws -> FieldValue {
    switch (integerFields.contains(field), v) {
    case (true, .int(let n)): return .int(n)
    case (false, .string(let s)): return .text(s)
    default: throw WorkloadError.bad("\(context): \(field) holds the wrong kind of value")
    }
}

/// Reads `initial.jsonl`, `phase_b_replica{0,1,2}.jsonl` and `phase_c.jsonl` from `dir`.
func loadWorkload(dir: String) throws -> Workload {
    let base = URL(fileURLWithPath: dir)
    let fieldIndex = Dictionary(uniqueKeysWithValues: benchFields.enumerated().map { ($1, UInt8($0)) })

    var keys: [String] = []
    var initial: [[FieldValue]] = []
    var lines = try JSONLines(base.appendingPathComponent("initial.jsonl"))
    while let line = try lines.next() {
        let n = keys.count + 1
        guard case .array(let pair) = line, pair.count == 2, case .string(let key) = pair[0],
              case .object(let rec) = pair[1]
        else { throw WorkloadError.bad("initial.jsonl line \(n) is not [id, {field: value}]") }
        let values = Dictionary(rec, uniquingKeysWith: { a, _ in a })
        keys.append(key)
        initial.append(try benchFields.map { f in
            guard let v = values[f] else { throw WorkloadError.bad("initial.jsonl line \(n) lacks \(f)") }
            return try fieldValue(v, field: f, where: "initial.jsonl line \(n)")
        })
    }
    let recordIndex = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, Int32($0)) })

    func ops(_ name: String) throws -> [Op] {
        var out: [Op] = []
        var lines = try JSONLines(base.appendingPathComponent(name))
        while let line = try lines.next() {
            let n = out.count + 1
            guard case .array(let t) = line, t.count == 3, case .string(let key) = t[0], case .string(let f) = t[1],
                  let r = recordIndex[key], let fi = fieldIndex[f]
            else { throw WorkloadError.bad("\(name) line \(n) is not [known id, known field, value]") }
            out.append(Op(record: r, field: fi, value: try fieldValue(t[2], field: f, where: "\(name) line \(n)")))
        }
        return out
    }
    let phaseB = try (0..<3).map { try ops("phase_b_replica\($0).jsonl") }
    let phaseC = try ops("phase_c.jsonl")
    return Workload(keys: keys, initial: initial, phaseB: phaseB, phaseC: phaseC, source: "dump \(dir)")
}

// MARK: Generating a workload of the same shape

/// xoshiro256** seeded through SplitMix64: small, fast, deterministic on every platform.
struct SeededGenerator: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }
}

/// The value pools of `gen.py` (the note pool has 264 entries, 263 distinct characters).
private enum Pools {
    static let pool: [Character] = Array(
        "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
            + "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好"
            + "应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道"
            + "命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求"
            + "老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府研质信办")
    static let industry = ["科技", "实业", "新材料", "电子", "机械", "食品", "生物科技", "智能装备", "物流", "建材"]
    static let projectSuffix = ["生产基地建设项目", "技术改造项目", "扩产项目", "研发中心项目", "智能化改造项目"]
    static let towns = ["棠下镇", "杜阮镇", "荷塘镇", "大泽镇", "司前镇", "沙堆镇", "古井镇", "三江镇", "睦洲镇",
                        "崖门镇", "双水镇", "罗坑镇", "大鳌镇", "会城街道", "环市街道"]
    static let status = ["待受理", "已受理", "办理中", "待补正", "已办结", "已退回", "暂停"]
    static let stage = ["签约", "立项", "用地", "规划许可", "施工许可", "竣工验收", "投产"]
    static let surname: [Character] = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡余杜叶程苏魏吕丁任沈姚卢")
    static let digits: [Character] = Array("0123456789")
}

private func text(_ rng: inout SeededGenerator, _ n: Int) -> String {
    var s = ""
    s.unicodeScalars.reserveCapacity(n)
    for _ in 0..<n { s.append(Pools.pool.randomElement(using: &rng)!) }
    return s
}

/// Days from 2020-01-01 to 2025-12-31 (2,192 days), as `gen.py` draws them.
private let firstDay = CivilDate(year: 2020, month: 1, day: 1)!.daysSinceEpoch

private func generatedValue(_ rng: inout SeededGenerator, field: String) -> FieldValue {
    switch field {
    case "name":
        return .text("江门市" + text(&rng, Int.random(in: 2...3, using: &rng)) + Pools.industry.randomElement(using: &rng)! + "有限公司")
    case "project":
        return .text(text(&rng, Int.random(in: 2...4, using: &rng)) + Pools.projectSuffix.randomElement(using: &rng)!)
    case "town": return .text(Pools.towns.randomElement(using: &rng)!)
    case "status": return .text(Pools.status.randomElement(using: &rng)!)
    case "stage": return .text(Pools.stage.randomElement(using: &rng)!)
    case "agent":
        return .text(String(Pools.surname.randomElement(using: &rng)!) + text(&rng, Int.random(in: 1...2, using: &rng)))
    case "phone":
        return .text("13" + String((0..<9).map { _ in Pools.digits.randomElement(using: &rng)! }))
    case "invest_wan": return .int(Int64.random(in: 50...2_000_000, using: &rng))
    case "jobs": return .int(Int64.random(in: 5...5_000, using: &rng))
    case "signed_on", "due_on":
        return .text(CivilDate(daysSinceEpoch: firstDay + Int32.random(in: 0..<2192, using: &rng)).description)
    case "note": return .text(text(&rng, 200))
    default: preconditionFailure("unknown field \(field)")
    }
}

/// Generates a workload with the shape of `gen.py` (counts, groups, conflict cells, value pools), from a
/// seeded xoshiro256** instead of CPython's Mersenne Twister, so values differ but distributions match.
func generateWorkload(seed: UInt64 = 20_240_611) -> Workload {
    let nRecords = 10_000, updatesB = 20_000, conflictsPerPair = 3_000, updatesC = 100_000
    let nFields = benchFields.count
    let keys = (0..<nRecords).map { i -> String in
        let s = String(i)
        return "P" + String(repeating: "0", count: max(0, 5 - s.count)) + s
    }
    var rng = SeededGenerator(seed: seed)
    let initial = (0..<nRecords).map { _ in benchFields.map { generatedValue(&rng, field: $0) } }

    rng = SeededGenerator(seed: seed + 1)
    let perm = Array(0..<nRecords).shuffled(using: &rng)
    let own = [Array(perm[0..<3000]), Array(perm[3000..<6000]), Array(perm[6000..<9000])]
    var shared: [(Int, Int)] = []
    for r in perm[9000...] { for f in 0..<nFields { shared.append((r, f)) } }
    // Draw 9,000 cells without replacement: a partial Fisher–Yates shuffle.
    for i in 0..<(3 * conflictsPerPair) {
        shared.swapAt(i, Int.random(in: i..<shared.count, using: &rng))
    }
    let pairs = [(0, 1), (1, 2), (0, 2)]
    var phaseB: [[Op]] = [[], [], []]
    for (p, (a, b)) in pairs.enumerated() {
        for (r, f) in shared[(p * conflictsPerPair)..<((p + 1) * conflictsPerPair)] {
            for who in [a, b] {
                phaseB[who].append(Op(record: Int32(r), field: UInt8(f),
                                      value: generatedValue(&rng, field: benchFields[f])))
            }
        }
    }
    for k in 0..<3 {
        for _ in 0..<(updatesB - phaseB[k].count) {
            let f = Int.random(in: 0..<nFields, using: &rng)
            let r = own[k].randomElement(using: &rng)!
            phaseB[k].append(Op(record: Int32(r), field: UInt8(f), value: generatedValue(&rng, field: benchFields[f])))
        }
        phaseB[k].shuffle(using: &rng)
    }

    rng = SeededGenerator(seed: seed + 2)
    let phaseC = (0..<updatesC).map { _ -> Op in
        let f = Int.random(in: 0..<nFields, using: &rng)
        let r = Int.random(in: 0..<nRecords, using: &rng)
        return Op(record: Int32(r), field: UInt8(f), value: generatedValue(&rng, field: benchFields[f]))
    }
    return Workload(keys: keys, initial: initial, phaseB: phaseB, phaseC: phaseC,
                    source: "generated (xoshiro256**, seed \(seed))")
}
