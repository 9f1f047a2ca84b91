import Foundation
import Dispatch
import Logging
import Metrics
import ReplicaStore
import SyncCore
import SyncProtocol
import SyncContract
import CaseDomain
import CaseWorkflow
import GRDB
import Synchronization
import HTTPTypes

/// What a push did, as returned to the client.
struct PushResult: Sendable {
    var report: ImportReport
    var acked: UInt64
    /// The server's current state of the refused fields the account may see.
    var current: [UInt8]?
}

extension DaibanServer {
    /// Bundle limits of a push.
    var pushLimits: ChangeSetLimits {
        var limits = ChangeSetLimits.default
        limits.maxCompressedBytes = config.maxPushBytes
        limits.maxDecompressedBytes = config.maxPushDecompressedBytes
        return limits
    }

    /// A device's own bundle: its sender must be the device, signed with the device's key; every version in it
    /// must be the device's own, authored by its user, and is judged by its account.
    func push(_ bytes: [UInt8], by p: Principal) async throws -> PushResult {
        let header = try ChangeSetReader(bytes: bytes, limits: pushLimits)
        guard header.sender == p.device.replica else {
            throw APIError.forbidden(ErrorCode.senderMismatch,
                                     "the bundle was written by replica \(header.sender.short), not this device's \(p.device.replica.short); to relay another device's bundle use /v1/relay")
        }
        guard let key = p.device.publicKey else {
            throw APIError.forbidden(ErrorCode.deviceKeyRequired,
                                     "this device has not registered its signing key; sign in again (daiban login)")
        }
        guard let sig = header.signature, sig.isValid, sig.publicKey == key else {
            throw APIError.forbidden(ErrorCode.badSignature,
                                     header.signature == nil ? "the bundle is not signed with the device's key"
                                                             : "the bundle's signature does not verify with the device's key")
        }
        return try await importJudged(bytes, writer: p.device.replica, judgedAs: Judged(p.user), refuseAll: nil,
                                      unverified: false, via: p)
    }

    /// Another device's bundle, forwarded as it was made (a township carrying an agent's USB stick): judged by the
    /// **writer's** account when the writer is a registered device (and then only with its valid signature); a
    /// writer that never signed in is judged as an agent with no cases of its own (`Judged.unverified`): it may
    /// register new cases with their work logs and materials, nothing more, whoever relays it.
    func relay(_ bytes: [UInt8], by p: Principal) async throws -> PushResult {
        guard p.user.role.mayRelay else {
            throw APIError.forbidden(ErrorCode.relayForbidden,
                                     "a \(p.user.role.rawValue) account may not relay other devices' bundles; relaying is for township and centre accounts")
        }
        let header = try ChangeSetReader(bytes: bytes, limits: pushLimits)
        let sender = header.sender
        guard sender != p.device.replica else { return try await push(bytes, by: p) }
        guard sender != replica.id else {
            throw APIError.forbidden(ErrorCode.senderMismatch, "a bundle cannot claim to come from the server")
        }
        let accounts = self.accounts
        let writer = try await accounts.device(replica: sender)
        guard let writer else {
            // Never signed in: nothing proves who wrote it. The key it signed with is remembered (once the import
            // succeeded), so that only the holder of that key can later register this replica id.
            let result = try await importJudged(bytes, writer: sender, judgedAs: .unverified(sender), refuseAll: nil,
                                                unverified: true, via: p)
            if let sig = header.signature, sig.isValid {
                let t = now()
                try await accounts.noteRelayedKey(replica: sender, sig.publicKey, now: t)
            }
            return result
        }
        var refuse: Rejection?
        let writerUser = try await accounts.user(id: writer.userID)
        if writer.revokedAt != nil || writerUser?.disabled != false {
            refuse = Rejection(.writerRevoked, "the writing device \(writer.id) is revoked or its user disabled")
        } else if let sig = header.signature, sig.isValid {
                let toSeq = header.toSeq, t = now()
            let known = try await accounts.isKey(sig.publicKey, of: writer.id, forBundleUpTo: toSeq, now: t)
            if !known {
                refuse = Rejection(.badSignature, "the bundle is signed with a key that is not device \(writer.id)'s for these changes (a retired key signs only what its device wrote before the rotation, for 30 days)")
            }
        } else {
            refuse = Rejection(.badSignature, header.signature == nil
                               ? "the bundle of device \(writer.id) is not signed; relays forward the device's own signed bundle"
                               : "the bundle's signature does not verify: it was altered after device \(writer.id) signed it")
        }
        if let refuse {
            logger.notice("relay refused", metadata: ["device_id": "\(p.device.id)", "writer_device": "\(writer.id)",
                                                      "reason": "\(refuse.reason)"])
        }
        return try await importJudged(bytes, writer: sender, judgedAs: writerUser.map(Judged.init) ?? .unverified(sender),
                                      refuseAll: refuse, unverified: false, via: p)
    }

    /// Applies a bundle in one transaction: every version the server does not hold is checked (provenance,
    /// author, clock, version vector, the account's rights on the row and field, the merged-state bounds); what
    /// passes lands, what fails is quarantined and reported per version.
    private func importJudged(_ bytes: [UInt8], writer: ReplicaID, judgedAs user: Judged, refuseAll: Rejection?,
                              unverified: Bool, via p: Principal) async throws -> PushResult {
        let started = DispatchTime.now()
        var options = ImportOptions(attribution: .init(user: p.user.name, device: String(p.device.id)), limits: pushLimits)
        let authorName = user.name
        let accountNames = Set(try await accounts.users().map(\.name))
        var checks = VersionChecks(
            writer: writer, account: user.userID,
            author: { author in
                if author == authorName { return nil }
                // An unregistered writer's author cannot be proved; it may not borrow a registered account's name.
                if unverified && !accountNames.contains(author) { return nil }
                return Rejection(.authorMismatch, "written as \"\(author)\" but the writing account is \(authorName)")
            },
            maxAheadMillis: UInt64(config.maxClockAheadSeconds) * 1000, now: wallClock)
        checks.unverifiedWriter = unverified
        checks.refuseAll = refuseAll
        options.checks = checks
        options.recordsReceipt = refuseAll == nil && !unverified
        let judge = WriteJudge(role: user.role, userID: user.userID, user: user.name, township: user.township,
                               department: user.department, unverified: unverified)
        options.authorize = { review in try judge.review(review) }
        options.factFields = { AccessRules.factFields($0) }
        options.rowOrder = { AccessRules.judgingOrder($0) }
        options.beforeCommit = { [replica] stamper in
            try judge.changes.settle(replica, stamper)
            if unverified { try replica.markUnverifiedWriter(writer, in: stamper) }
        }
        let opts = options
        let report = try await offload { [replica] in try replica.importBundle(bytes, options: opts) }
        try await accounts.touch(deviceID: p.device.id, now: now())
        // The server's state of what was refused, for what the *delivering* account may read (a relayer never
        // learns more through a refused relay than its own pull would give it); none when the bundle's provenance
        // failed as a whole.
        var current: [UInt8]?
        if !report.rejections.isEmpty && refuseAll == nil {
            let account = try await self.account(for: p.user)
            current = try await offload { [replica] in try Self.currentStates(replica, report.rejections, account) }
        }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        Metrics.pushBytes.record(bytes.count)
        Metrics.changesApplied.increment(by: report.applied)
        Metrics.conflictsOpen.record(report.conflictsAfter)
        if !report.rejections.isEmpty { Metrics.rejected.increment(by: report.rejections.count) }
        var reasons: [String: Int] = [:]
        for r in report.rejections { reasons[r.rejection.reason.rawValue, default: 0] += 1 }
        logger.info("push", metadata: [
            "user_id": "\(p.user.id)", "device_id": "\(p.device.id)", "judged_user_id": "\(user.userID)",
            "bytes": "\(bytes.count)", "rows": "\(report.rows)", "applied": "\(report.applied)",
            "ignored": "\(report.ignored)", "conflicts": "\(report.conflictsAfter)",
            "rejected": "\(report.rejections.count)",
            "reasons": "\(reasons.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
            "ms": "\(Int(ms))",
        ])
        return PushResult(report: report, acked: report.toSeq, current: current)
    }

    /// The account of a user, with its roster people (read from the server's replica).
    func account(for user: User) async throws -> Account { try await account(for: Judged(user)) }

    /// First brings the replica up to the shared log (on PostgreSQL): what every request reads, its account and
    /// then its pull or its conflicts, is at least what every instance had committed when it began.
    func account(for user: Judged) async throws -> Account {
        try await offload { [replica] in
            try replica.catchUp()
            return try replica.query { db in
                try AccountDirectory.account(db, role: user.role, userID: user.userID, user: user.name,
                                             township: user.township, department: user.department)
            }
        }
    }

    /// The server's state of refused fields, for the rows the account may see, as one unsigned bundle.
    static func currentStates(_ replica: ReplicaDatabase, _ refused: [RejectedVersion], _ account: Account) throws -> [UInt8]? {
        var wanted: [ExactText: (table: String, key: String, fields: Set<String>)] = [:]
        for r in refused {
            let id = ExactText(r.table + "\u{0}" + r.key)
            wanted[id, default: (r.table, r.key, [])].fields.insert(r.field)
        }
        var rows: [RowChange] = []
        try replica.query { db in
            let reader = FactsReader(snapshot: db)
            for (_, w) in wanted {
                guard let state = try ReplicaDatabase.rowState(db, table: w.table, key: w.key),
                      AccessRules.mayRead(account, try reader.rowFacts(table: w.table, key: w.key, exists: true))
                else { continue }
                let fields = w.fields.compactMap { f in state.fields[f].map { FieldChange(name: f, state: $0) } }
                if !fields.isEmpty { rows.append(RowChange(table: w.table, key: w.key, fields: fields)) }
            }
        }
        guard !rows.isEmpty else { return nil }
        return ChangeSetEncoder().encode(ChangeSet(sender: replica.id, fromSeq: 0, toSeq: 0, rows: rows))
    }

    // MARK: Pull

    /// One chunk of everything after `cursor` that the caller may see, leaving out what its own replica wrote.
    func pull(after cursor: UInt64, by p: Principal, includeOwn: Bool = false, maxBytes: Int? = nil) async throws
        -> ChangeChunk
    {
        // A smaller chunk asked for is granted down to 16 KiB; the learnt fields-per-chunk hint is kept for the
        // server's own size only (and scaled down for a smaller one).
        let started = DispatchTime.now()
        let target = min(config.pullChunkBytes, max(Self.minimumPullChunkBytes, maxBytes ?? config.pullChunkBytes))
        let ownSize = target == config.pullChunkBytes
        let hint = max(1, chunkHint.withLock { $0 } * target / max(1, config.pullChunkBytes))
        let account = try await account(for: p.user)
        let (chunk, learnt) = try await offload { [replica, facts] () throws -> (ChangeChunk, Int) in
            let seq = try replica.currentSeq()
            guard cursor <= seq else {
                throw APIError(.conflict, ErrorCode.cursorAhead,
                               "cursor \(cursor) is past this server's last change \(seq) (server data was replaced); pull again from 0")
            }
            // Versions that claim this device's replica but reached the server without its proof are sent to it too.
            let filter: WriterFilter = try includeOwn || replica.isUnverifiedWriter(p.device.replica)
                ? .all : .excluding(p.device.replica)
            var exporter = ChunkedExporter(targetBytes: target, fieldsPerChunk: hint)
            exporter.acksFor = p.device.replica
            exporter.splitsOversizedRows = true
            let rows: RowFilter? = account.role == .center ? nil : ReadScope.rowFilter(account, shared: facts)
            let chunk = try exporter.next(from: replica, after: cursor, filter: filter, rows: rows)
            return (chunk, exporter.fieldsPerChunk)
        }
        try await accounts.touch(deviceID: p.device.id, now: now())
        if ownSize { chunkHint.withLock { $0 = learnt } }
        Metrics.pullBytes.record(chunk.bytes.count)
        Metrics.pullChunks.increment()
        logger.info("pull", metadata: [
            "user_id": "\(p.user.id)", "device_id": "\(p.device.id)", "after": "\(cursor)", "next": "\(chunk.next)",
            "fields": "\(chunk.changeSet.fieldCount)", "bytes": "\(chunk.bytes.count)", "more": "\(chunk.more)",
            "ms": "\(Int(Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6))",
        ])
        return chunk
    }

    /// Rows that left the caller's scope after event `after` and are still outside it.
    func scopeExits(after: Int64, by p: Principal) async throws -> ScopeExitsResponse {
        let account = try await account(for: p.user)
        return try await offload { [replica] in
            let (exits, last) = try replica.scopeExits(subjects: AccountDirectory.subjects(account), after: after)
            var out: [ScopeExitsResponse.Exit] = []
            try replica.query { db in
                let reader = FactsReader(snapshot: db)
                for e in exits where !AccessRules.mayRead(account, try reader.rowFacts(table: e.table, key: e.key, exists: true)) {
                    out.append(.init(id: e.id, table: e.table, key: e.key))
                }
            }
            return ScopeExitsResponse(exits: out, next: last)
        }
    }
}

/// The account a pushed or relayed bundle is judged as.
struct Judged: Sendable {
    var role: Role
    /// Recorded as the creator of the rows it creates.
    var userID: String
    var name: String
    var township: String?
    var department: String?

    init(_ u: User) {
        role = u.role
        userID = String(u.id)
        name = u.name
        township = u.township
        department = u.department
    }

    private init(role: Role, userID: String, name: String) {
        self.role = role
        self.userID = userID
        self.name = name
    }

    /// A device that never signed in: an agent with no people in the roster and no cases, whose new rows are its
    /// own (their creator is the replica, never an account).
    static func unverified(_ replica: ReplicaID) -> Judged {
        Judged(role: .agent, userID: "unverified:" + replica.description, name: "unverified:" + replica.description)
    }
}

/// The write rules of one push, with the scope changes it makes (see `ScopeChanges`).
final class WriteJudge: @unchecked Sendable {
    let role: Role
    let userID: String
    let user: String
    let township: String?
    let department: String?
    let changes: ScopeChanges
    private var account: Account?
    private var reader: FactsReader?
    private var stale = false

    let unverified: Bool

    init(role: Role, userID: String, user: String, township: String?, department: String?, unverified: Bool) {
        self.role = role
        self.userID = userID
        self.user = user
        self.township = township
        self.department = department
        self.unverified = unverified
        changes = ScopeChanges(account: userID)
    }

    /// The judge of one incoming row (called once per row that carries something new).
    func review(_ r: RowReview) throws -> @Sendable (String, FieldValue) -> Rejection? {
        if reader == nil { reader = FactsReader(db: { r.db }, query: { try r.queryDatabase() }) }
        let reader = reader!
        if stale { reader.invalidate() }
        let facts = try reader.rowFacts(table: r.change.table, key: r.change.key, exists: r.exists, incoming: r.change)
        try changes.touch(r.change, facts, reader, isDeleted: r.deleted)
        // What this row changes may change the facts of the cases after it.
        stale = ["case", "plan_item", "project", "enterprise"].contains(r.change.table)
        if role == .center { return { _, _ in nil } }
        if account == nil {
            account = try AccountDirectory.account(try r.queryDatabase(), role: role, userID: userID, user: user,
                                                   township: township, department: department)
            account?.unverified = unverified
        }
        let account = account!
        // Values of the row's case links that name a row of another case (or none).
        var foreign: [String: Set<ExactText>] = [:]
        if let links = AccessRules.caseLinks[r.change.table] {
            let caseKey = facts.cases.first?.key
            for f in r.change.fields {
                guard let target = links[f.name] else { continue }
                for v in f.state.versions where v.value != .null {
                    let text = v.value.displayText
                    if try caseKey.map({ try reader.belongs(target, text, toCase: $0) }) != true {
                        foreign[f.name, default: []].insert(ExactText(text))
                    }
                }
            }
        }
        let mismatch = Rejection(.scopeField, "\(r.change.table) \(r.change.key) names rows that do not belong to its case")
        let outside = foreign
        return { field, value in
            let r = AccessRules.rejection(account, facts, field: field, incoming: value)
            if r?.reason == .outsideScope { return r }
            if outside[field]?.contains(ExactText(value.displayText)) == true { return mismatch }
            return r
        }
    }
}
