import BadLink
import Foundation
import SyncCore
import SyncClient
import Synchronization

/// Least-squares slope of `y` over `x`.
func slope(_ points: [(x: Double, y: Double)]) -> Double {
    guard points.count >= 2 else { return 0 }
    let n = Double(points.count)
    let mx = points.map(\.x).reduce(0, +) / n, my = points.map(\.y).reduce(0, +) / n
    let sxx = points.map { ($0.x - mx) * ($0.x - mx) }.reduce(0, +)
    let sxy = points.map { ($0.x - mx) * ($0.y - my) }.reduce(0, +)
    return sxx == 0 ? 0 : sxy / sxx
}

/// Many clients, each typing a few rows and syncing every few seconds, against one server for minutes. The
/// server's resident memory and open descriptors are sampled; after the warm-up (the first fifth) they must stay
/// flat, and no sync and no server log line may report an error. Every client's rows reach the server.
///
/// Planted defect: every sync opens a new connection and never closes it (a client that leaks its HTTP client),
/// so the server's descriptors climb.
func soakCampaign(_ o: FaultOptions, _ dir: URL) async throws -> CampaignResult {
    var result = CampaignResult(name: "soak")
    let minutes = o.minutes ?? (o.short ? 1 : 30)
    let count = o.clients ?? (o.short ? 20 : 100)
    let pause = o.short ? 0.2...1.5 : 2.0...12.0
    let data = dir.appendingPathComponent("server").path
    // The sign-in limiter lets about 40 new devices sign in from one address per quarter of an hour, and the
    // clients all come from 127.0.0.1: after each 30, the address's counters are cleared with `user unblock`, as
    // an operator would for a training room, while the server keeps serving.
    let (server, proxy) = try await serverBehindProxy(o, data: data)
    defer { server.stop() }
    var clients: [FieldClient] = []
    for i in 0..<count {
        if i > 0 && i % 30 == 0 { try ServerProcess.unblock(executable: o.serverPath, data: data, address: "127.0.0.1") }
        clients.append(try await FieldClient.create(dir: dir, name: "s\(i)", url: proxy.url))
    }
    progress("  \(count) clients for \(minutes) min against \(server.url)")

    final class Tally: Sendable {
        let errors = Mutex<[String]>([])
        let syncs = Mutex(0)
        let leaked = Mutex<[ServerConnection]>([])
    }
    let tally = Tally()
    let seed = o.seed, plant = o.plant, url = proxy.url
    let start = now()
    let end = start + minutes * 60
    let sampler = Task { () -> [(t: Double, rss: Double, fds: Double)] in
        var samples: [(t: Double, rss: Double, fds: Double)] = []
        while now() < end {
            samples.append((now() - start, server.residentMiB(), Double(server.openDescriptors())))
            try? await Task.sleep(nanoseconds: UInt64((o.short ? 2.0 : 10.0) * 1e9))
        }
        return samples
    }
    await withTaskGroup(of: Void.self) { group in
        for (i, c) in clients.enumerated() {
            group.addTask {
                var dice = Chance(seed &+ UInt64(i) &* 7919)
                while now() < end {
                    try? await Task.sleep(nanoseconds: UInt64(dice.double(pause) * 1e9))
                    guard now() < end else { break }
                    do {
                        try c.write(rows: dice.int(1...20), noteChars: dice.int(0...3) == 0 ? 200 : 0, dice: &dice)
                        if plant {
                            // The defect: a fresh connection per sync, never shut down, each keeping its idle
                            // connection open until the server closes it.
                            let leak = try ServerConnection(url: url, idleSeconds: 3600)
                            tally.leaked.withLock { $0.append(leak) }
                            let tokens = try await leak.refresh(c.tokens.refreshToken)
                            c.tokens = tokens
                            let s = Synchronizer(replica: c.replica, connection: leak, tokens: tokens, saveTokens: { [c] t in c.tokens = t })
                            _ = try await s.run()
                        } else {
                            _ = try await c.sync(retries: 2)
                        }
                        tally.syncs.withLock { $0 += 1 }
                    } catch {
                        tally.errors.withLock { if $0.count < 20 { $0.append("\(c.name): \(error)") } }
                    }
                }
            }
        }
    }
    let samples = await sampler.value
    // Everything typed reaches the server: each client syncs once more, then one of them pulls everything.
    for c in clients { _ = try? await c.sync(retries: 2) }
    _ = try? await clients[0].sync(retries: 2)
    let all = try benchRows(clients[0].replica)
    let typed = clients.reduce(0) { $0 + $1.rows }
    result.expect(all.count == typed, "\(all.count) rows reached the centre of \(typed) typed")
    for c in clients { await c.shutdown() }
    for l in tally.leaked.withLock({ $0 }) { await l.shutdown() }
    await proxy.shutdown()

    let warm = samples.filter { $0.t >= minutes * 60 / 5 }
    let rssSlope = slope(warm.map { ($0.t / 3600, $0.rss) })
    let fdSlope = slope(warm.map { ($0.t / 3600, $0.fds) })
    let first = warm.first, last = warm.suffix(max(1, warm.count / 5))
    let fdGrowth = (last.map(\.fds).max() ?? 0) - (first?.fds ?? 0)
    let rssGrowth = (last.map(\.rss).max() ?? 0) - (first?.rss ?? 0)
    let errorList = tally.errors.withLock { $0 }
    let serverErrors = server.errorLines
    result.figures.set("clients", Double(count))
    result.figures.set("minutes", minutes)
    result.figures.set("syncs", Double(tally.syncs.withLock { $0 }))
    result.figures.set("rows typed", Double(typed))
    result.figures.set("sync errors", Double(errorList.count))
    result.figures.set("server error lines", Double(serverErrors.count))
    result.figures.set("samples after warm-up", Double(warm.count))
    result.figures.set("server RSS after warm-up (MiB)", first?.rss ?? 0)
    result.figures.set("server RSS at the end (MiB)", samples.last?.rss ?? 0)
    result.figures.set("server RSS slope (MiB/hour)", rssSlope)
    result.figures.set("server descriptors after warm-up", first?.fds ?? 0)
    result.figures.set("server descriptors at the end", samples.last?.fds ?? 0)
    result.figures.set("server descriptors slope (per hour)", fdSlope)
    for e in errorList.prefix(5) { result.fail("sync error: \(e)") }
    for e in serverErrors.last.prefix(5) { result.fail("server logged: \(e)") }
    // Flat: the last fifth stays within a few descriptors of the level after warm-up (the clients keep one
    // connection each), and memory within 32 MiB (SQLite's page cache and the allocator settle in that).
    result.expect(fdGrowth <= 16, "the server's descriptors grew by \(Int(fdGrowth)) after warm-up (slope \(Int(fdSlope))/hour)")
    result.expect(rssGrowth <= 32, String(format: "the server's RSS grew by %.1f MiB after warm-up (slope %.1f MiB/hour)", rssGrowth, rssSlope))
    return result
}
