import Foundation
import SyncTesting

// daiban-fuzz: the fuzz targets, two ways.
//
//   daiban-fuzz TARGET [libFuzzer options] [CORPUS_DIR...]
//       in a build with `-sanitize=fuzzer,address -DFUZZING` (scripts/fuzz.sh): libFuzzer drives TARGET
//   daiban-fuzz replay TARGET [--mutations N] [--seed S] FILE_OR_DIR...
//       in any build: every file (and every file under a folder) through TARGET, then N seeded mutations of
//       them (bit flips, byte changes, truncations, splices, repeats); a crash fails the run. The test command
//       runs this over the seeds and the regression inputs (CI's short fuzz).

let usage = """
    usage: daiban-fuzz TARGET [libFuzzer options] [CORPUS...]     (fuzzing build, scripts/fuzz.sh)
           daiban-fuzz replay TARGET [--mutations N] [--seed S] FILE_OR_DIR...
      TARGET: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

/// Every regular file at or under `path`, sorted.
func files(_ path: String) -> [String] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { fail("no such file: \(path)") }
    guard isDir.boolValue else { return [path] }
    let all = FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? []
    return all.map { path + "/" + $0 }.filter {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue
    }.sorted()
}

/// Repeatable mutations: the test support's seeded generator.
struct Mix {
    var g: SeededGenerator
    init(seed: UInt64) { g = SeededGenerator(seed: seed) }
    mutating func next() -> UInt64 { g.next() }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
}

/// One mutation of `input`, sometimes mixed with `other`.
func mutate(_ input: [UInt8], _ other: [UInt8], _ mix: inout Mix) -> [UInt8] {
    var out = input
    for _ in 0...mix.below(4) {
        switch mix.below(7) {
        case 0 where !out.isEmpty: out[mix.below(out.count)] ^= UInt8(1 << mix.below(8))
        case 1 where !out.isEmpty: out[mix.below(out.count)] = [0, 0xFF, 0x7F, 0x80, 0x22, 0x2C, 0x0A][mix.below(7)]
        case 2 where !out.isEmpty: out.removeSubrange(mix.below(out.count)...)
        case 3 where !out.isEmpty:
            let a = mix.below(out.count), n = min(out.count - a, 1 + mix.below(64))
            out.insert(contentsOf: out[a..<(a + n)], at: mix.below(out.count))
        case 4 where !other.isEmpty:
            let cut = mix.below(out.count + 1), from = mix.below(other.count)
            out = Array(out[..<cut]) + other[from...]
        case 5 where !out.isEmpty: out.remove(at: mix.below(out.count))
        default: out.insert(UInt8(truncatingIfNeeded: mix.next()), at: mix.below(out.count + 1))
        }
    }
    return out
}

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

nonisolated(unsafe) var selected = FuzzTarget.changeset
#endif

var args = CommandLine.arguments
if args.count >= 3, args[1] == "replay" {
    guard let target = FuzzTarget(rawValue: args[2]) else { fail(usage) }
    var mutations = 0, seed: UInt64 = 1, inputs: [String] = []
    var i = 3
    while i < args.count {
        switch args[i] {
        case "--mutations" where i + 1 < args.count: mutations = Int(args[i + 1]) ?? 0; i += 2
        case "--seed" where i + 1 < args.count: seed = UInt64(args[i + 1]) ?? 1; i += 2
        default: inputs += files(args[i]); i += 1
        }
    }
    guard !inputs.isEmpty else { fail(usage) }
    let corpus = inputs.map { [UInt8](FileManager.default.contents(atPath: $0) ?? Data()) }
    let t0 = Date()
    for (path, bytes) in zip(inputs, corpus) {
        FileHandle.standardError.write(Data("# \(target.rawValue): \(path)\n".utf8))
        target.run(bytes)
    }
    var mix = Mix(seed: seed)
    for n in 0..<mutations {
        let a = corpus[mix.below(corpus.count)], b = corpus[mix.below(corpus.count)]
        target.run(mutate(a, b, &mix))
        if (n + 1) % 20_000 == 0 { FileHandle.standardError.write(Data("# \(target.rawValue): \(n + 1) mutations\n".utf8)) }
    }
    print(String(format: "%@: %d inputs and %d mutations, no crash (%.1f s)", target.rawValue, corpus.count, mutations,
                 Date().timeIntervalSince(t0)))
    exit(0)
}

#if FUZZING
// The target is the first argument, or DAIBAN_FUZZ_TARGET (libFuzzer's child processes, for -jobs and -merge,
// get its own options only, so the choice travels in the environment).
if args.count >= 2, let target = FuzzTarget(rawValue: args[1]) {
    setenv("DAIBAN_FUZZ_TARGET", target.rawValue, 1)
    args.remove(at: 1)
}
guard let target = ProcessInfo.processInfo.environment["DAIBAN_FUZZ_TARGET"].flatMap(FuzzTarget.init(rawValue:)) else {
    fail(usage)
}
selected = target
var argc = Int32(args.count)
var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
let status = cargs.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        selected.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
exit(status)
#else
fail(usage + "\n(this build has no libFuzzer: build with scripts/fuzz.sh, or use replay)")
#endif
