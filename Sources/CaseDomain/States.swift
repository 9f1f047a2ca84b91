/// The case state machine of DOMAIN.md §2.1. ACTIVE is split into its two phases, PLANNING and EXECUTING;
/// COORDINATING is a flag (open escalations), not a state.
public enum CaseStatus: String, CaseIterable, Sendable, Codable {
    case prospect = "PROSPECT"
    case registered = "REGISTERED"
    case underReview = "UNDER_REVIEW"
    case rejected = "REJECTED"
    case agreementPending = "AGREEMENT_PENDING"
    case withdrawn = "WITHDRAWN"
    case planning = "PLANNING"
    case executing = "EXECUTING"
    case terminated = "TERMINATED"
    case completed = "COMPLETED"
    case handedOver = "HANDED_OVER"
    case evaluated = "EVALUATED"

    /// The `ordered` merge policy's rank, lowest first: concurrent status writes keep the furthest state, so a
    /// merge never moves a case backwards. A signed agreement outranks a concurrent withdrawal, a completion a
    /// concurrent termination; the losing value stays visible as a conflict for the centre.
    public static let mergeOrder: [CaseStatus] = [
        .prospect, .registered, .underReview, .agreementPending, .rejected, .withdrawn, .planning, .executing,
        .terminated, .completed, .handedOver, .evaluated,
    ]

    /// ACTIVE(PLANNING) or ACTIVE(EXECUTING).
    public var isActive: Bool { self == .planning || self == .executing }
    /// A state no transition leaves.
    public var isClosed: Bool { [.rejected, .withdrawn, .evaluated].contains(self) }

    public var zh: String {
        switch self {
        case .prospect: "提前介入"
        case .registered: "已登记"
        case .underReview: "审查中"
        case .rejected: "不予代办"
        case .agreementPending: "待签协议"
        case .withdrawn: "业主撤回"
        case .planning: "代办中(制定方案)"
        case .executing: "代办中(组织实施)"
        case .terminated: "已终止"
        case .completed: "已办结"
        case .handedOver: "已移交"
        case .evaluated: "已评价归档"
        }
    }
}

/// The plan-item (办件) state machine of DOMAIN.md §2.2. Decided items carry their result as the state.
public enum ItemStatus: String, CaseIterable, Sendable, Codable {
    case planned = "PLANNED"
    case dispatched = "DISPATCHED"
    case preparing = "PREPARING"
    case submitted = "SUBMITTED"
    case supplement = "SUPPLEMENT"
    case accepted = "ACCEPTED"
    case underReview = "UNDER_REVIEW"
    case specialProcedure = "SPECIAL_PROCEDURE"
    case localDone = "LOCAL_DONE"
    case reportedUp = "REPORTED_UP"
    case notAccepted = "NOT_ACCEPTED"
    case withdrawn = "WITHDRAWN"
    case cancelled = "CANCELLED"
    case answered = "ANSWERED"
    case disapproved = "DISAPPROVED"
    case approvedTolerance = "APPROVED_TOLERANCE"
    case approved = "APPROVED"

    /// The `ordered` merge rank, lowest first (final states last).
    public static let mergeOrder: [ItemStatus] = allCases

    /// No further transition.
    public var isFinal: Bool {
        [.notAccepted, .withdrawn, .cancelled, .answered, .disapproved, .approvedTolerance, .approved].contains(self)
    }
    /// A decision (办结 or 明确答复), locally or by the upper level.
    public var isDecision: Bool { [.answered, .disapproved, .approvedTolerance, .approved].contains(self) }
    /// What an item that depends on this one may proceed on: a positive decision, or the item is no longer needed.
    public var satisfiesDependents: Bool { [.answered, .approvedTolerance, .approved, .cancelled].contains(self) }
    /// The department's clock runs (accepted, not final, not paused).
    public var clockRuns: Bool { [.accepted, .underReview, .localDone, .reportedUp].contains(self) }

    /// The decisions `item decide` accepts.
    public static let decisions: [ItemStatus] = [.approved, .approvedTolerance, .disapproved, .answered]

    public var zh: String {
        switch self {
        case .planned: "已计划"
        case .dispatched: "已派单"
        case .preparing: "准备材料"
        case .submitted: "已申报"
        case .supplement: "补正中"
        case .accepted: "已受理"
        case .underReview: "审查中"
        case .specialProcedure: "特别程序"
        case .localDone: "本级办结待上报"
        case .reportedUp: "已上报"
        case .notAccepted: "不予受理"
        case .withdrawn: "已撤件"
        case .cancelled: "已取消"
        case .answered: "明确答复"
        case .disapproved: "办结(不通过)"
        case .approvedTolerance: "办结(容缺通过)"
        case .approved: "办结(通过)"
        }
    }
}

/// 投诉 process (GB/T 36113-2018).
public enum ComplaintStatus: String, CaseIterable, Sendable {
    case received = "RECEIVED"
    case investigating = "INVESTIGATING"
    case disposed = "DISPOSED"
    case feedbackGiven = "FEEDBACK_GIVEN"
    case archived = "ARCHIVED"
}

/// Roles of DOMAIN.md §1.1.
public enum PersonRole: String, CaseIterable, Sendable {
    case agent = "AGENT"
    case chiefAgent = "CHIEF_AGENT"
    case liaison = "LIAISON"
    case windowLead = "WINDOW_LEAD"
    case windowStaff = "WINDOW_STAFF"
    case deptLeader = "DEPT_LEADER"
    case leadOfficial = "LEAD_OFFICIAL"
    case supervisingHead = "SUPERVISING_HEAD"
    case officeAdmin = "OFFICE_ADMIN"
    case auditor = "AUDITOR"
    case referrer = "REFERRER"
}

/// Escalation levels of §2.3.
public enum EscalationLevel: String, CaseIterable, Sendable {
    case e0 = "E0", e1 = "E1", e2 = "E2", e3 = "E3", e4 = "E4", ex = "EX"
}

/// The five grades of an evaluation; the first two count as satisfied, the last two as a 差评.
public enum Grade: String, CaseIterable, Sendable {
    case verySatisfied = "非常满意"
    case satisfied = "满意"
    case basicallySatisfied = "基本满意"
    case dissatisfied = "不满意"
    case veryDissatisfied = "非常不满意"

    public var isSatisfied: Bool { self == .verySatisfied || self == .satisfied }
    public var isNegative: Bool { self == .dissatisfied || self == .veryDissatisfied }
}
