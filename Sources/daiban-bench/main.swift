import Foundation
import ReplicaStore

let usage = """
    usage: daiban-bench faults CAMPAIGN [--short] [--plant] …   (daiban-bench faults --help)
           daiban-bench load [--agents N] [--minutes M] [--short] [--json] …   (daiban-bench load --help)
           daiban-bench link --upstream HOST:PORT [--profile NAME] [--port P]
           daiban-bench engine [--workload DIR] [--repeat N] [--json] [--clock fixed|wall] [--breakdown]
           daiban-bench stream [--fields N] [--json]
           daiban-bench sync [--workload DIR] [--repeat N] [--json] [--server PATH] [--breakdown]
           daiban-bench county [--cases N] [--repeat N] [--json] [--dir D] [--regenerate] [--only OPS] [--no-pin]
                               [--fixtures DIR] [--daiban PATH]

      engine: phases A, B and C of the workload on replica files in this process.
      sync:   the initial rows and replica 0's Phase B changes over loopback HTTP, through a real daiban-server
              process (client A pushes, a new client B bootstraps, then A pushes the changes and B pulls them).
      county: a generated county (default 200,000 cases, 10 plan items each) on a centre replica and an agent
              replica (a copy signed in as g0001): the agent's case list --mine and due, every report on the centre,
              in this process and through the daiban CLI, against raw SQLite reads of the same files.

      --workload DIR  read the canonical dump (python3 gen.py dump DIR); without it, generate a workload of
                      the same shape from a seeded PRNG
      --repeat N      run the timed phases N times on fresh replicas and report medians (default 3)
      --json          print one JSON object on stdout instead of a table
      --clock C       replicas' wall clock: fixed (default; one constant instant, so HLCs, tie-breaks and
                      sizes repeat exactly) or wall (the system clock); engine only (sync: always fixed)
      --breakdown     after the last run, time sub-steps; not in the medians. engine: transaction envelope, SQL
                      replays, GRDB statements, raw SQLite with a 64 MiB cache, what the Phase B bytes pay for.
                      sync: the same chunks exported and imported in this process without HTTP, the server's
                      import with and without its audit attribution
      --server PATH   the daiban-server executable (sync; default: daiban-server next to this executable)
    county: --repeat N (default 5); --cases N (default 200000); --dir D holds the replicas (default
      /tmp/daiban-county, reused when it holds a county of that size; --regenerate rebuilds it); --fixtures DIR
      the roster, catalogue and calendar (default Tests/Fixtures/yunling); --daiban PATH the CLI (default: daiban
      next to this executable); --only OPS times only these operations (comma-separated JSON keys without _ms,
      e.g. due,report_overdue,cli_due); --no-pin reads each replica file through once instead of locking it in
      memory (mmap + mlock) while its operations run.
    Progress goes to stderr, figures to stdout.
    """

struct Options {
    /// `engine` or `sync`.
    var command = "engine"
    var workload: String?
    var server: String?
    var repeats = 3
    var json = false
    var breakdown = false
    var wallClock = false
}

func parseOptions(_ args: [String]) -> Options? {
    guard let command = args.first, ["engine", "sync"].contains(command) else { return nil }
    var o = Options()
    o.command = command
    var i = 1
    while i < args.count {
        switch args[i] {
        case "--workload" where i + 1 < args.count:
            o.workload = args[i + 1]; i += 2
        case "--repeat" where i + 1 < args.count:
            guard let n = Int(args[i + 1]), n >= 1 else { return nil }
            o.repeats = n; i += 2
        case "--json":
            o.json = true; i += 1
        case "--breakdown":
            o.breakdown = true; i += 1
        case "--server" where i + 1 < args.count && command == "sync":
            o.server = args[i + 1]; i += 2
        case "--clock" where i + 1 < args.count && ["fixed", "wall"].contains(args[i + 1]) && command == "engine":
            o.wallClock = args[i + 1] == "wall"; i += 2
        default:
            return nil
        }
    }
    return o
}

/// Figures taken as medians over the repeats; the rest (sizes, counts) are the same in every repeat.
func summarize(_ runs: [Metrics]) -> Metrics {
    var out = Metrics()
    for run in runs {
        for (key, _) in run.items where out[key] == nil { out.set(key, median(runs.compactMap { $0[key] })) }
    }
    return out
}

func runEngine(_ o: Options) throws {
    let t0 = now()
    let workload: Workload
    if let dir = o.workload {
        progress("reading workload from \(dir)")
        workload = try loadWorkload(dir: dir)
    } else {
        progress("generating workload (seeded PRNG)")
        workload = generateWorkload()
    }
    progress(String(format: "mean value payload: phase B %.1f B, phase C %.1f B",
                    workload.meanPayload(workload.phaseB.joined()), workload.meanPayload(workload.phaseC)))
    let workloadPeak = peaks.mark()
    progress(String(format: "RSS after loading the workload: %.1f MiB (peak %.1f)", currentRSSMiB(), workloadPeak))
    progress("workload: \(workload.keys.count) records, phase B \(workload.phaseB.map(\.count)) updates, phase C \(workload.phaseC.count) updates (\(String(format: "%.1f", now() - t0)) s)")

    let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("daiban-bench-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }

    var runs: [Metrics] = []
    var rssAfter: [Double] = []
    for rep in 1...o.repeats {
        let dir = root.appendingPathComponent("run\(rep)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Replicas live only inside this scope, so their files close before the folder is removed.
        var metrics = try { () throws -> Metrics in
            var run = EngineRun(workload: workload, dir: dir, wallClock: o.wallClock)
            run.keepBundles = o.breakdown && rep == o.repeats
            progress("run \(rep)/\(o.repeats): phase A (initial load)")
            let bundle = try run.phaseA()
            progress(String(format: "  RSS now %.1f MiB, peak so far %.1f MiB", currentRSSMiB(), peaks.total()))
            progress("run \(rep)/\(o.repeats): phase B (offline edits, pairwise sync)")
            try run.phaseB(initialBundle: bundle)
            progress(String(format: "  RSS now %.1f MiB, peak so far %.1f MiB", currentRSSMiB(), peaks.total()))
            progress("run \(rep)/\(o.repeats): phase C (bulk delta)")
            let oracle = try run.phaseC(initialBundle: bundle)
            progress(String(format: "  RSS now %.1f MiB, peak so far %.1f MiB", currentRSSMiB(), peaks.total()))
            progress("run \(rep)/\(o.repeats): raw SQLite baseline")
            let raw = try runRawSQLite(path: dir.appendingPathComponent("raw.sqlite").path, workload: workload,
                                       ops: workload.phaseC, oracle: oracle, oneTxOps: workload.phaseB[0])
            run.m.set("raw_sqlite_load_s", raw.loadSeconds)
            run.m.set("raw_sqlite_load_rows_per_s", raw.loadRowsPerSecond)
            run.m.set("raw_sqlite_upsert_s", raw.upsertSeconds)
            run.m.set("raw_sqlite_upserts_per_s", raw.upsertsPerSecond)
            run.m.set("raw_sqlite_one_upsert_tx_per_s", raw.oneUpsertTxPerSecond)
            run.m.set("peak_rss_mib_raw_sqlite", peaks.mark())
            if o.breakdown && rep == o.repeats {
                progress("run \(rep)/\(o.repeats): breakdown (sub-step timings, not part of the medians)")
                try run.breakdown(initialBundle: bundle)
                run.m.set("peak_rss_mib_breakdown_not_counted", peaks.mark(counts: false))
            }
            return run.m
        }()
        metrics.set("apply_vs_raw_ratio", metrics["phase_c_apply_updates_per_s"]! / metrics["raw_sqlite_upserts_per_s"]!)
        try FileManager.default.removeItem(at: dir)
        rssAfter.append(currentRSSMiB())
        progress(String(format: "run %d done: apply %.0f/s, raw %.0f/s, ratio %.3f, peak RSS %.1f MiB",
                        rep, metrics["phase_c_apply_updates_per_s"]!, metrics["raw_sqlite_upserts_per_s"]!,
                        metrics["apply_vs_raw_ratio"]!, peaks.overall))
        runs.append(metrics)
    }

    let s = summarize(runs)
    let apply = s["phase_c_apply_updates_per_s"]!
    let raw = s["raw_sqlite_upserts_per_s"]!
    let headline: [(String, Double)] = [
        ("write_ops_per_s", s["phase_b_write_ops_per_s"]!),
        ("apply_changes_per_s", apply),
        ("raw_sqlite_upserts_per_s", raw),
        ("apply_vs_raw_ratio", apply / raw),
        ("raw_sqlite_one_upsert_tx_per_s", s["raw_sqlite_one_upsert_tx_per_s"]!),
        ("write_tx_cost_vs_raw", s["raw_sqlite_one_upsert_tx_per_s"]! / s["phase_b_write_ops_per_s"]!),
        ("import_s", s["phase_a_import_s"]!),
        ("raw_sqlite_load_s", s["raw_sqlite_load_s"]!),
        ("converge_s", s["phase_b_converge_s"]!),
        ("wire_bytes_per_change", s["phase_b_raw_bytes_per_update"]!),
        ("wire_bytes_per_change_compressed", s["phase_b_bundle_bytes_per_update"]!),
        ("peak_rss_mib", peaks.overall),  // every counted step was marked; --breakdown is not counted
    ]
    let perRepeatKeys = ["phase_b_write_ops_per_s", "phase_c_apply_updates_per_s", "raw_sqlite_upserts_per_s",
                         "apply_vs_raw_ratio", "phase_b_converge_s"]
    if o.json {
        printReportJSON(headline: headline, repeats: o.repeats, workload: workload, clock: o.wallClock ? "wall" : "fixed",
                        extra: ["\"peak_rss_mib_workload_load\": \(jsonNumber(workloadPeak))",
                                "\"rss_after_each_repeat_mib\": [\(rssAfter.map(jsonNumber).joined(separator: ", "))]"],
                        perRepeat: perRepeatKeys, runs: runs, summary: s, omit: ["apply_vs_raw_ratio"])
    } else {
        printTable(summary: s, headline: headline, workload: workload, repeats: o.repeats, clock: o.wallClock ? "wall" : "fixed")
    }
    progress(String(format: "total %.1f s", now() - t0))
}

func printTable(summary s: Metrics, headline: [(String, Double)], workload: Workload, repeats: Int, clock: String) {
    let table = ReportTable(summary: s)
    func row(_ label: String, _ key: String, _ unit: String = "") { table.row(label, key, unit) }
    print("daiban-bench engine — \(workload.source); medians of \(repeats); \(clock) clock; SQLite \(sqliteVersion); \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("Phase A — initial load (10,000 records × 12 fields)")
    row("create (one transaction)", "phase_a_create_s", "s")
    row("export: read change-set", "phase_a_export_query_s", "s")
    row("export: encode (payload + zlib-6)", "phase_a_encode_s", "s")
    row("  of which zlib (estimate)", "phase_a_zlib_s", "s")
    row("field states", "phase_a_field_states")
    row("raw payload", "phase_a_raw_bytes", "B")
    row("bundle (zlib-6)", "phase_a_bundle_bytes", "B")
    row("bundle bytes per field", "phase_a_bundle_bytes_per_field", "B")
    row("B import", "phase_a_import_s", "s")
    row("  of which decode only (inflate + parse)", "phase_a_decode_only_s", "s")
    row("B import + read full state", "phase_a_import_and_read_s", "s")
    print("Phase B — 3 replicas × 20,000 offline updates, one pairwise round")
    row("local writes (one transaction each)", "phase_b_write_s", "s")
    row("local write ops/s", "phase_b_write_ops_per_s")
    row("encode 6 deltas (read + payload + zlib-6)", "phase_b_encode_s", "s")
    row("  of which zlib (estimate)", "phase_b_zlib_s", "s")
    row("apply 6 deltas", "phase_b_apply_s", "s")
    row("  of which decode only (inflate + parse)", "phase_b_decode_only_s", "s")
    row("merge throughput (120,000 / apply)", "phase_b_merge_updates_per_s", "updates/s")
    row("time to convergence (encode + apply)", "phase_b_converge_s", "s")
    row("  without zlib compression", "phase_b_converge_s_excl_zlib_compress", "s")
    row("updates delivered", "phase_b_updates_delivered")
    row("field states shipped (latest state only)", "phase_b_field_states_shipped")
    row("raw payload", "phase_b_raw_bytes", "B")
    row("bundles (zlib-6)", "phase_b_bundle_bytes", "B")
    row("raw bytes per update", "phase_b_raw_bytes_per_update", "B")
    row("bundle bytes per update", "phase_b_bundle_bytes_per_update", "B")
    row("bundle bytes per field state shipped", "phase_b_bundle_bytes_per_field_state", "B")
    row("conflict cells / open conflicts", "phase_b_conflict_cells")
    row("open conflicts after sync", "phase_b_open_conflicts")
    row("conflicts won by 11", "phase_b_conflicts_won_r11")
    row("conflicts won by 12", "phase_b_conflicts_won_r12")
    row("conflicts won by 13", "phase_b_conflicts_won_r13")
    row("conflicts with equal values", "phase_b_conflicts_same_value")
    print("Phase C — 100,000 updates in one transaction, one delta")
    row("bulk write", "phase_c_write_s", "s")
    row("bulk write ops/s", "phase_c_write_ops_per_s")
    row("encode (read + payload + zlib-6)", "phase_c_encode_s", "s")
    row("  of which zlib (estimate)", "phase_c_zlib_s", "s")
    row("field states shipped", "phase_c_field_states")
    row("raw payload", "phase_c_raw_bytes", "B")
    row("bundle (zlib-6)", "phase_c_bundle_bytes", "B")
    row("bundle bytes per update", "phase_c_bundle_bytes_per_update", "B")
    row("A apply (import)", "phase_c_apply_s", "s")
    row("  of which decode only (inflate + parse)", "phase_c_decode_only_s", "s")
    row("A apply updates/s", "phase_c_apply_updates_per_s")
    print("Raw SQLite (same rows, C API, WAL, synchronous=\(Durability.current.pragma), the engine's page cache)")
    row("load 10,000 rows", "raw_sqlite_load_s", "s")
    row("upsert 100,000 (one transaction)", "raw_sqlite_upsert_s", "s")
    row("upserts/s", "raw_sqlite_upserts_per_s")
    row("one upsert per transaction (Phase B list of 11)", "raw_sqlite_one_upsert_tx_per_s", "tx/s")
    print("Peak RSS by step (VmHWM since the previous step)")
    row("phase A create", "peak_rss_mib_phase_a_create", "MiB")
    row("phase A export", "peak_rss_mib_phase_a_export", "MiB")
    row("phase A import + verify", "peak_rss_mib_phase_a_import_verify", "MiB")
    row("phase B setup (3 imports + baseline)", "peak_rss_mib_phase_b_setup", "MiB")
    row("phase B writes + encode + apply", "peak_rss_mib_phase_b_sync", "MiB")
    row("phase B verification (row states, oracle)", "peak_rss_mib_phase_b_verify", "MiB")
    row("phase C (setup, write, encode, apply)", "peak_rss_mib_phase_c", "MiB")
    row("phase C verification (oracle)", "peak_rss_mib_phase_c_verify", "MiB")
    row("raw SQLite", "peak_rss_mib_raw_sqlite", "MiB")
    table.finish(breakdown: "Breakdown (last run only, µs per operation)", headline: headline)
}

let args = Array(CommandLine.arguments.dropFirst())
if args.first == "faults" {
    guard let faults = FaultOptions.parse(args) else {
        FileHandle.standardError.write(Data((faultsUsage + "\n").utf8))
        exit(2)
    }
    do { exit(try await runFaults(faults)) } catch {
        FileHandle.standardError.write(Data("daiban-bench: \(error)\n".utf8))
        exit(1)
    }
}
if args.first == "load" {
    guard let load = LoadOptions.parse(args) else {
        FileHandle.standardError.write(Data((loadUsage + "\n").utf8))
        exit(2)
    }
    do { exit(try await runLoad(load)) } catch {
        FileHandle.standardError.write(Data("daiban-bench: \(error)\n".utf8))
        exit(1)
    }
}
if args.first == "link" {
    guard let link = LinkOptions.parse(args) else {
        FileHandle.standardError.write(Data((linkUsage + "\n").utf8))
        exit(2)
    }
    do { try await runLink(link) } catch {
        FileHandle.standardError.write(Data("daiban-bench: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if args.first == "county" {
    guard let county = parseCountyOptions(args) else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    do { try runCounty(county) } catch {
        FileHandle.standardError.write(Data("daiban-bench: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if args.first == "stream" {
    if getenv("DAIBAN_DURABILITY") == nil { setenv("DAIBAN_DURABILITY", "normal", 1) }
    do { try runStream(args) } catch {
        FileHandle.standardError.write(Data("daiban-bench: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
// The engine and sync figures compare with SQLite at the same durability: `normal` unless DAIBAN_DURABILITY says
// otherwise (the peers' naive SQLite runs WAL with synchronous=NORMAL too). The figure set records which.
if getenv("DAIBAN_DURABILITY") == nil { setenv("DAIBAN_DURABILITY", "normal", 1) }
guard let options = parseOptions(args) else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
do {
    if options.command == "sync" { try await runSync(options) } else { try runEngine(options) }
} catch {
    FileHandle.standardError.write(Data("daiban-bench: \(error)\n".utf8))
    exit(1)
}
