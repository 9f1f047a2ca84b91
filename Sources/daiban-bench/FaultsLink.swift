import BadLink
import Foundation
import SyncCore
import SyncClient

/// A township's day of work — about 2,000 field changes, each row with a 200-character note — synced by a fresh
/// device through the bad-link simulator: on a clean link (the baseline), under `2g` (must finish in 60 s),
/// under `flaky` (must finish; a resume re-sends at most the chunk that was cut), and under `silent` (the
/// client must give up within the stall time plus the drain allowance, say so, and the next sync must finish).
/// Each phase has its own server, whose file must then hold every row the device typed, as typed.
///
/// Planted defect: the silent-link client waits 10,000 s for a byte instead of the stall time (as the old
/// fixed read wait did, only longer).
func linkCampaign(_ o: FaultOptions, _ dir: URL) async throws -> CampaignResult {
    var result = CampaignResult(name: "link")
    let dayRows = 167  // × 12 fields ≈ 2,000 changes

    /// One phase: a fresh server behind the simulator, and a fresh device that signs in on a clean link and
    /// types `days` of work (the same work for the same day). Afterwards the server's file must hold every row
    /// the device typed, as typed.
    func phase(_ name: String, days: Int, stall: Int = ServerConnection.defaultStallSeconds,
               _ body: (FieldClient, BadLinkProxy, ServerProcess) async throws -> Void) async throws {
        let data = dir.appendingPathComponent("server-\(name)").path
        let (server, proxy) = try await serverBehindProxy(o, data: data)
        defer { server.stop() }
        let c = try await FieldClient.create(dir: dir, name: name, url: proxy.url, stallSeconds: stall)
        for day in 0..<days {
            var dice = Chance(o.seed &+ UInt64(day))
            try c.write(rows: dayRows, noteChars: 200, dice: &dice)
        }
        do {
            try await body(c, proxy, server)
        } catch {
            await c.shutdown()
            await proxy.shutdown()
            throw error
        }
        await c.shutdown()
        await proxy.shutdown()
        server.stop()
        let there = try benchRows(openServerReplica(data))
        let mine = try benchRows(c.replica)
        result.expect(mine == there, "\(name): \(mine.count) rows typed, \(there.count) on the server, or values differ")
    }

    /// One sync under `profile`, with its time and the bytes each way.
    func timedSync(_ c: FieldClient, _ proxy: BadLinkProxy, _ profile: LinkProfile, retries: Int = 4) async throws
        -> (report: SyncReport, seconds: Double, up: Int, down: Int)
    {
        proxy.profile = profile
        let before = proxy.stats
        let t0 = now()
        let report = try await c.sync(retries: retries)
        let after = proxy.stats
        return (report, now() - t0, after.upBytes - before.upBytes, after.downBytes - before.downBytes)
    }

    if !o.plant {
        // 1. The baseline: a clean link.
        try await phase("clean", days: 1) { c, proxy, _ in
            let base = try await timedSync(c, proxy, .clean)
            result.figures.set("field changes in a day", Double(c.fields))
            result.figures.set("clean: seconds", base.seconds)
            result.figures.set("clean: bytes up", Double(base.up))
            result.figures.set("clean: bytes down", Double(base.down))
            progress(String(format: "  clean: %d fields, %.2f s, %d B up, %d B down", c.fields, base.seconds, base.up, base.down))
        }

        // 2. 2G: the same day's work must sync in under a minute. In the short mode the device gives up after
        // 3 s of silence, so its 8-second chunks also show that an upload longer than the stall time that still
        // moves is not cut.
        try await phase("g2", days: 1, stall: o.short ? 3 : ServerConnection.defaultStallSeconds) { c, proxy, _ in
            let slow = try await timedSync(c, proxy, .g2)
            result.figures.set("2g: seconds", slow.seconds)
            result.figures.set("2g: bytes up", Double(slow.up))
            result.figures.set("2g: bytes down", Double(slow.down))
            result.figures.set("2g: chunks", Double(slow.report.pushedChunks))
            result.figures.set("2g: retries", Double(slow.report.retries))
            result.expect(slow.report.pushedFields == c.fields, "2g: pushed \(slow.report.pushedFields) of \(c.fields) fields")
            result.expect(slow.seconds < 60, "2g: the day's work took \(slow.seconds) s (promise: under 60 s)")
            progress(String(format: "  2g: %.1f s, %d B up, %d B down", slow.seconds, slow.up, slow.down))
        }

        // 3. Flaky: cut at random points; the agent runs sync again until it completes.
        var flakyProfile = LinkProfile.flaky
        if o.short { flakyProfile.cutEvery = 8...16 }
        try await phase("flaky", days: o.short ? 1 : 5) { c, proxy, server in
            proxy.profile = flakyProfile
            let before = proxy.stats
            var attempts = 0, resumes = 0
            let t0 = now()
            while true {
                attempts += 1
                do {
                    resumes += try await c.sync(retries: 4).retries
                    break
                } catch {
                    resumes += 1
                    progress("  flaky: attempt \(attempts) stopped: \(error)")
                    guard attempts < 30 else {
                        result.fail("flaky: no complete sync in \(attempts) attempts: \(error)")
                        break
                    }
                    try await Task.sleep(nanoseconds: 1_000_000_000)
                }
            }
            let seconds = now() - t0
            let after = proxy.stats
            let cuts = after.cuts - before.cuts
            // A chunk the server received whole but whose answer was cut comes again and is ignored: count those.
            let lines = server.allPushLogs
            let duplicates = lines.filter { $0.applied == 0 && $0.ignored > 0 }.count
            result.figures.set("flaky: field changes", Double(c.fields))
            result.figures.set("flaky: seconds", seconds)
            result.figures.set("flaky: cuts", Double(cuts))
            result.figures.set("flaky: sync attempts", Double(attempts))
            result.figures.set("flaky: resumes", Double(resumes))
            result.figures.set("flaky: chunks applied", Double(lines.filter { $0.applied > 0 }.count))
            result.figures.set("flaky: chunks received again", Double(duplicates))
            result.figures.set("flaky: bytes up", Double(after.upBytes - before.upBytes))
            result.expect(cuts > 0, "flaky: the link was never cut (the phase tested nothing)")
            result.expect(duplicates <= cuts, "flaky: \(duplicates) chunks came twice for \(cuts) cuts (a resume re-sends at most one)")
            progress("  flaky: \(c.fields) fields in \(String(format: "%.1f", seconds)) s, \(cuts) cuts, \(attempts) attempts, \(duplicates) chunks twice")
        }
    }

    // 4. Silent: the link stops mid-upload without a reset.
    let stall = o.short ? 3 : ServerConnection.defaultStallSeconds
    let bound = Double(stall) + 32 + 2  // the stall time, the drain allowance (at most 32 s), slack
    try await phase("silent", days: 1, stall: o.plant ? 10_000 : stall) { c, proxy, _ in
        proxy.profile = .g2
        proxy.silence(afterUpBytes: 12_000)
        let silencer = Task {
            while !proxy.profile.silent { try await Task.sleep(nanoseconds: 10_000_000) }
            return now()
        }
        let outcome = try await within(bound + 10) { () -> String in
            do {
                _ = try await c.sync(retries: 4)
                return "completed"
            } catch let e as SyncClientError {
                if case .stalled = e { return "stalled: \(e)" }
                return "other: \(e)"
            } catch {
                return "other: \(error)"
            }
        }
        let gaveUp = now()
        silencer.cancel()
        let waited = (try? await silencer.value).map { gaveUp - $0 } ?? -1
        result.figures.set("silent: stall seconds", Double(stall))
        result.figures.set("silent: seconds from silence to giving up", waited)
        result.figures.set("silent: bound", bound)
        switch outcome {
        case nil: result.fail("silent: the client was still waiting \(Int(bound + 10)) s after the link went silent (bound \(Int(bound)) s)")
        case let text? where text.hasPrefix("stalled"):
            result.expect(waited <= bound, "silent: gave up \(waited) s after the silence (bound \(bound) s)")
            result.expect(text.contains("silent for \(stall) s"), "silent: the message does not say the link went silent: \(text)")
        case let text?: result.fail("silent: expected a stall, got \(text)")
        }
        progress("  silent: gave up after \(String(format: "%.1f", waited)) s (bound \(Int(bound)) s): \(outcome ?? "still waiting")")
        guard outcome != nil else { return }
        // The link comes back: the next sync completes, and nothing is left pending.
        let again = try await timedSync(c, proxy, .g2)
        result.figures.set("silent: next sync seconds", again.seconds)
        result.expect(again.report.pushedFields > 0, "silent: the next sync pushed nothing")
        let after = try await c.sync(retries: 0)
        result.expect(after.pushedFields == 0, "silent: \(after.pushedFields) changes were still pending after the next sync")
    }
    return result
}
