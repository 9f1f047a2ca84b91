public import SyncCore

/// Who may write which fields (DOMAIN.md §3, "field ownership keeps conflicts rare"), as the server enforces it on
/// every push. The CLI refuses the same steps earlier with a clear message; this is the guard against a device
/// that bypasses it (`daiban record put`, a modified client). Roles are the server's account roles.
///
/// - `center`: everything.
/// - `township`: everything except the county's reference data.
/// - `agent`: the cases' own records (registration, plan, items, logs, reports, meetings, escalations, forms,
///   evaluations, materials); not reference data, assignment, review, agreement signing, handover receipt,
///   complaint handling or ticket follow-up; a case status only as the agent's own steps set it.
/// - `liaison`: the department side of items (受理, 补正, 上报, 办结), clock pauses, meeting sign-off and
///   resolutions, escalations, and rectification of tickets.
public enum FieldOwnership {
    /// Reference data only the county centre publishes.
    public static let centreTables: Set<String> = ["rule", "calendar_day", "catalogue_item", "office", "department", "person"]

    /// Fields of the office (the case's township office or the centre).
    static let officeFields: [String: Set<String>] = [
        "case": ["agent_id", "chief_agent_id", "team", "liaisons", "lead_official_id", "supervising_head_id", "case_no",
                 "reviewed_on", "reason", "handed_over_on", "evaluated_on"],
        "project": ["lead_official_id", "supervising_head_id"],
        "completion_form": ["received_by_office_id", "received_by_person_id", "received_at"],
        "termination_form": ["received_by_office_id", "received_by_person_id", "received_at"],
        "ticket": ["category", "verified", "malicious_or_mistaken", "callback_at", "callback_by", "feedback_at"],
    ]
    static let officeTables: Set<String> = ["agreement", "complaint", "contact_card"]

    /// The case states an agent's own steps produce (registration, plan confirmed, completion, termination).
    static let agentCaseStatuses: Set<String> = ["REGISTERED", "EXECUTING", "COMPLETED", "TERMINATED"]

    /// What a liaison's device may write ("*" = every field of the table).
    static let liaisonFields: [String: Set<String>] = [
        "plan_item": ["status", "accepted_on", "decided_on", "local_done_on", "report_up_due", "reported_up_on",
                      "reported_up_to", "elapsed_wd", "handling_class", "committed_due", "legal_due", "recorded_by",
                      "on_behalf", "had_supplement", "cert_no", "platform_case_no", "submitted_on"],
        "item_pause": ["*"],
        "meeting_attendee": ["signed", "signed_at"],
        "meeting_resolution": ["status", "done_on"],
        "escalation": ["*"],
        "ticket": ["action", "rectified_at", "feedback_at"],
    ]

    /// Whether a device of `role` may write `field` of `table` with the versions in `state`.
    public static func allows(role: String, table: String, field: String, state: FieldState) -> Bool {
        switch role {
        case "center":
            return true
        case "township":
            return !centreTables.contains(table)
        case "agent":
            if centreTables.contains(table) || officeTables.contains(table) { return false }
            if officeFields[table]?.contains(field) == true { return false }
            if table == "case" && field == "status" {
                return state.versions.allSatisfy { agentCaseStatuses.contains($0.value.displayText) }
            }
            if table == "ticket" && field == "status" {
                return state.versions.allSatisfy { $0.value.displayText == "OPEN" }
            }
            return true
        case "liaison":
            guard let fields = liaisonFields[table] else { return false }
            if table == "plan_item" && field == "status" {
                return state.versions.allSatisfy { !["PLANNED", "DISPATCHED", "PREPARING", "CANCELLED"].contains($0.value.displayText) }
            }
            return fields.contains("*") || fields.contains(field)
        default:
            return false
        }
    }
}
