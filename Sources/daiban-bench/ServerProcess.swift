import Foundation

/// One `push` line of the server's log (stderr, `StreamLogHandler`): what the server applied and how long
/// its handler took (`ms`: from the start of `DaibanServer.push` to after the import and device touch,
/// whole milliseconds, truncated).
struct ServerPushLog: Sendable {
    var bytes: Int
    var rows: Int
    var applied: Int
    var ignored: Int
    var ms: Int
}

/// A `daiban-server` child process on loopback: bootstrapped with one centre user, serving on a free port.
/// Its stdout is read until the "listening on" line; its stderr (the log) is drained on a thread that keeps
/// the `push` lines. `stop()` sends SIGTERM, then SIGKILL if it has not exited after 10 s.
final class ServerProcess: @unchecked Sendable {
    let url: String
    let data: String
    private let process: Process
    private let log: LogSink
    private let lock = NSLock()
    private var stopped = false

    /// The server's stderr, parsed as it arrives.
    private final class LogSink: @unchecked Sendable {
        let lock = NSLock()
        var pushes: [ServerPushLog] = []
        /// The `ms` of every `pull` line (one per pull chunk).
        var pullMillis: [Int] = []
        var tail: [String] = []
        /// Lines logged at level error or critical, the last few kept.
        var errors = 0
        var errorTail: [String] = []

        func line(_ line: String) {
            lock.withLock {
                tail.append(line)
                if tail.count > 20 { tail.removeFirst() }
                if line.contains(" error ") || line.contains(" critical ") {
                    errors += 1
                    errorTail.append(line)
                    if errorTail.count > 5 { errorTail.removeFirst() }
                }
            }
            // "… info daiban.server: after=… bytes=… … ms=… next=… user_id=… [SyncServer] pull"
            if line.hasSuffix("] pull") {
                if let token = line.split(separator: " ").first(where: { $0.hasPrefix("ms=") }), let ms = Int(token.dropFirst(3)) {
                    lock.withLock { pullMillis.append(ms) }
                }
                return
            }
            // "… info daiban.server: applied=… bytes=… conflicts=… device_id=… ignored=… ms=… rows=… user_id=… [SyncServer] push"
            guard line.hasSuffix("] push") else { return }
            var kv: [Substring: Int] = [:]
            for token in line.split(separator: " ") {
                guard let eq = token.firstIndex(of: "=") else { continue }
                if let v = Int(token[token.index(after: eq)...]) { kv[token[..<eq]] = v }
            }
            guard let applied = kv["applied"], let ms = kv["ms"] else { return }
            let entry = ServerPushLog(bytes: kv["bytes"] ?? 0, rows: kv["rows"] ?? 0, applied: applied,
                                      ignored: kv["ignored"] ?? 0, ms: ms)
            lock.withLock { pushes.append(entry) }
        }
    }

    /// The environment for the children: ours without `DAIBAN_*` and `LOG_LEVEL` (so nothing in the caller's
    /// shell changes the port, data folder, chunk size or bcrypt cost), plus `LOG_LEVEL=info` (the push lines).
    static func environment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DAIBAN_") && $0.key != "LOG_LEVEL" }
        // The durability the engine and sync figures compare at: the server runs what the raw baseline runs.
        if let durability = getenv("DAIBAN_DURABILITY").map({ String(cString: $0) }) { env["DAIBAN_DURABILITY"] = durability }
        env["LOG_LEVEL"] = "info"
        return env
    }

    /// `daiban-server admin bootstrap --data DATA --name USER --password-stdin`, fed `password`.
    static func bootstrap(executable: String, data: String, user: String, password: String,
                          environment extra: [String: String] = [:]) throws {
        try command(executable, ["admin", "bootstrap", "--data", data, "--name", user, "--password-stdin"], stdin: password + "\n",
                    environment: extra)
    }

    /// `daiban-server user unblock --address ADDRESS --data DATA`: the address's sign-in counters are forgotten.
    static func unblock(executable: String, data: String, address: String) throws {
        try command(executable, ["user", "unblock", "--address", address, "--data", data])
    }

    /// Runs one admin command of `daiban-server` to its end; a failure carries its output.
    private static func command(_ executable: String, _ arguments: [String], stdin input: String? = nil,
                                environment extra: [String: String] = [:]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = environment().merging(extra) { $1 }
        let stdin = Pipe(), out = Pipe()
        p.standardInput = stdin
        p.standardOutput = out
        p.standardError = out
        try p.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CheckFailure("daiban-server \(arguments.prefix(2).joined(separator: " ")) exited with \(p.terminationStatus): \(text)")
        }
    }

    /// Starts `daiban-server serve --data DATA --port 0` and waits (up to 30 s) for its listening line.
    /// `environment` adds to (or replaces in) the children's environment.
    init(executable: String, data: String, environment extra: [String: String] = [:]) throws {
        self.data = data
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["serve", "--data", data, "--host", "127.0.0.1", "--port", "0"]
        process.environment = Self.environment().merging(extra) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        self.process = process
        let log = LogSink()
        self.log = log

        // stdout: the listening line, then drained until EOF.
        final class Found: @unchecked Sendable {
            let lock = NSLock()
            var url: String?
            var text = ""
            let ready = DispatchSemaphore(value: 0)
        }
        let found = Found()
        Thread {
            let h = out.fileHandleForReading
            var buffer = Data()
            var signalled = false
            while true {
                let chunk = h.availableData
                if chunk.isEmpty { break }
                guard !signalled else { continue }
                buffer.append(chunk)
                let text = String(decoding: buffer, as: UTF8.self)
                found.lock.withLock { found.text = text }
                // "daiban-server listening on http://127.0.0.1:PORT (replica …)"
                for line in text.split(separator: "\n") where line.hasPrefix("daiban-server listening on ") {
                    let rest = line.dropFirst("daiban-server listening on ".count)
                    if !signalled, let u = rest.split(separator: " ").first {
                        found.lock.withLock { found.url = String(u) }
                        signalled = true
                        found.ready.signal()
                    }
                }
            }
            if !signalled { found.ready.signal() }
        }.start()

        // stderr: the log, one line at a time.
        Thread {
            let h = err.fileHandleForReading
            var pending = Data()
            while true {
                let chunk = h.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let nl = pending.firstIndex(of: 0x0A) {
                    log.line(String(decoding: pending[pending.startIndex..<nl], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...nl)
                }
            }
        }.start()

        if found.ready.wait(timeout: .now() + 30) == .timedOut {
            process.terminate()
            throw CheckFailure("daiban-server did not print its listening line within 30 s")
        }
        guard let u = found.lock.withLock({ found.url }) else {
            process.waitUntilExit()
            let tail = log.lock.withLock { log.tail.joined(separator: "\n") }
            throw CheckFailure("daiban-server exited (\(process.terminationStatus)) before listening: \(found.text)\n\(tail)")
        }
        url = u
    }

    deinit { stop() }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var port: Int { Int(url.split(separator: ":").last ?? "") ?? 0 }

    /// SIGKILL now, and wait for the process to be gone (a crash: no shutdown, no checkpoint).
    func crash() {
        lock.withLock { stopped = true }
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Error lines logged so far, and the last of them.
    var errorLines: (count: Int, last: [String]) { log.lock.withLock { (log.errors, log.errorTail) } }

    /// Every push line logged so far.
    var allPushLogs: [ServerPushLog] { log.lock.withLock { log.pushes } }

    /// The handling time of every pull chunk logged so far (milliseconds).
    var allPullMillis: [Int] { log.lock.withLock { log.pullMillis } }

    /// CPU seconds the process has used (user + system, from /proc/PID/stat).
    func cpuSeconds() -> Double { processCPUSeconds(String(pid)) }

    /// The server's resident set (VmRSS) in MiB and its open descriptors (entries of /proc/PID/fd).
    func residentMiB() -> Double { procStatusMiB("VmRSS", pid: String(pid)) }

    func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    /// How many push lines the server has logged so far.
    var pushCount: Int { log.lock.withLock { log.pushes.count } }

    /// The push lines after the first `from`, once there are `from + count` of them (the line is logged before
    /// the response is sent, but reaches us through a pipe and a thread, so wait up to 10 s).
    func pushLogs(from: Int, count: Int) throws -> [ServerPushLog] {
        let deadline = now() + 10
        while true {
            let got = log.lock.withLock { log.pushes.count >= from + count ? Array(log.pushes[from..<(from + count)]) : nil }
            if let got { return got }
            guard now() < deadline else {
                throw CheckFailure("the server logged \(pushCount - from) push lines, expected \(count)")
            }
            usleep(2_000)
        }
    }

    /// Last lines of the server's log (for error messages).
    var logTail: String { log.lock.withLock { log.tail.joined(separator: "\n") } }

    /// The server process's peak RSS (VmHWM of /proc/PID/status) in MiB, 0 when unavailable.
    func peakRSSMiB() -> Double { process.isRunning ? procStatusMiB("VmHWM", pid: String(pid)) : 0 }

    /// SIGTERM, then SIGKILL after 10 s; waits for the process to exit. Safe to call more than once.
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first, process.isRunning else { return }
        process.terminate()
        let deadline = now() + 10
        while process.isRunning && now() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
