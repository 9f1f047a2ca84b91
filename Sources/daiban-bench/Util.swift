import Foundation
import ReplicaStore

/// Monotonic seconds.
@inline(__always)
func now() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// Runs `body` and returns its result with the elapsed seconds.
@inline(__always)
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let t0 = now()
    let r = try body()
    return (r, now() - t0)
}

/// A progress line on stderr.
func progress(_ message: String) {
    FileHandle.standardError.write(Data(("# " + message + "\n").utf8))
}

/// A `VmXXX:` figure of /proc/self/status, in MiB (0 when unavailable).
func procStatusMiB(_ key: String, pid: String = "self") -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if parts.count >= 2, let kb = Double(parts[1]) { return kb / 1024 }
    }
    return 0
}

/// Peak resident set size (VmHWM) in MiB.
/// CPU seconds (user + system) of process `pid` ("self" for this one), from /proc/PID/stat; 0 when unreadable.
func processCPUSeconds(_ pid: String = "self") -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    // After "pid (comm) ": state is field 3, utime 14 and stime 15 (1-based), in clock ticks.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func peakRSSMiB() -> Double { procStatusMiB("VmHWM") }
/// Current resident set size (VmRSS) in MiB.
func currentRSSMiB() -> Double { procStatusMiB("VmRSS") }

func median(_ xs: [Double]) -> Double {
    precondition(!xs.isEmpty)
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Fails the benchmark with a message (a failed correctness check makes every figure meaningless).
struct CheckFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw CheckFailure("check failed: " + message()) }
}

/// A number formatted for JSON: integers without a fraction, others with up to 4 decimals.
func jsonNumber(_ x: Double) -> String {
    if x.isNaN || x.isInfinite { return "null" }
    if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
    return String(format: "%.4f", x)
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

/// Human formatting: thousands separators for big numbers, 3 significant decimals for small ones.
func human(_ x: Double) -> String {
    if x.isNaN { return "—" }
    if abs(x) >= 1000 {
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.maximumFractionDigits = 0
        f.groupingSeparator = ","
        f.usesGroupingSeparator = true
        return f.string(from: NSNumber(value: x.rounded())) ?? String(Int64(x))
    }
    if x == x.rounded() { return String(Int64(x)) }
    if abs(x) >= 100 { return String(format: "%.1f", x) }
    if abs(x) >= 1 { return String(format: "%.2f", x) }
    return String(format: "%.3f", x)
}

/// Attributes the process's peak RSS to steps: `mark` reads VmHWM (the peak since the last mark), keeps the
/// overall maximum, and resets VmHWM to the current RSS by writing 5 to /proc/self/clear_refs.
/// When the reset is not allowed, every step reports the peak so far (an upper bound).
struct PeakTracker {
    private(set) var overall = 0.0

    /// - Returns: the peak RSS in MiB since the previous mark.
    /// - Parameter counts: whether this step counts toward the run's peak (diagnostics do not).
    mutating func mark(counts: Bool = true) -> Double {
        let hwm = peakRSSMiB()
        if counts { overall = max(overall, hwm) }
        if let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            h.write(Data("5".utf8))
            try? h.close()
        }
        return hwm
    }

    /// The peak over the whole run so far.
    mutating func total() -> Double {
        overall = max(overall, peakRSSMiB())
        return overall
    }
}

nonisolated(unsafe) var peaks = PeakTracker()

/// A subcommand's figures as an aligned table on stdout.
struct ReportTable {
    let summary: Metrics

    /// One `label  value unit` line; nothing when the figure is absent.
    func row(_ label: String, _ key: String, _ unit: String = "") {
        guard let v = summary[key] else { return }
        print("  " + label.padding(toLength: 46, withPad: " ", startingAt: 0) + " " + human(v) + (unit.isEmpty ? "" : " " + unit))
    }

    /// The `--breakdown` figures (when there are any) and the headline, which end every table.
    func finish(breakdown title: String, headline: [(String, Double)]) {
        let breakdown = summary.items.filter { $0.key.hasPrefix("breakdown_") }
        if !breakdown.isEmpty {
            print(title)
            for (k, _) in breakdown { row(String(k.dropFirst(10)), k) }
        }
        print("Headline")
        for (k, v) in headline {
            print("  " + k.padding(toLength: 46, withPad: " ", startingAt: 0) + " " + human(v))
        }
    }
}

/// A subcommand's `--json` object: the headline, the run's facts, `extra` members, each `perRepeat` figure per
/// repeat, then every other summary figure except `omit` (figures the headline already recomputes).
func printReportJSON(headline: [(String, Double)], repeats: Int, workload: Workload, clock: String, extra: [String],
                     perRepeat: [String], runs: [Metrics], summary: Metrics, omit: Set<String>) {
    var parts = headline.map { "\(jsonString($0.0)): \(jsonNumber($0.1))" }
    parts.append("\"repeats\": \(repeats)")
    parts.append("\"workload\": \(jsonString(workload.source))")
    parts.append("\"sqlite_version\": \(jsonString(sqliteVersion))")
    parts.append("\"clock\": \(jsonString(clock))")
    parts.append("\"durability\": \(jsonString(Durability.current.rawValue))")
    parts.append("\"page_cache_kib\": \(ReplicaDatabase.pageCacheKiB)")
    parts.append("\"cores\": \(ProcessInfo.processInfo.activeProcessorCount)")
    parts += extra
    parts.append("\"per_repeat\": {" + perRepeat.map { k in
        "\(jsonString(k)): [\(runs.map { jsonNumber($0[k]!) }.joined(separator: ", "))]"
    }.joined(separator: ", ") + "}")
    for (k, v) in summary.items where !omit.contains(k) { parts.append("\(jsonString(k)): \(jsonNumber(v))") }
    print("{\n  " + parts.joined(separator: ",\n  ") + "\n}")
}
