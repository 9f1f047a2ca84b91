public import SyncCore

/// The replicated tables of the 代办 domain (`shared/DOMAIN.md` §1).
///
/// Field names follow DOMAIN.md. Enumerations are stored as their code text (for example `TOWN`,
/// `INVESTMENT_PROMOTION`), so that a newer build may add codes without breaking older replicas.
public enum DaibanSchema {
    /// 乡镇/园区 (§1.1).
    public static let township = TableSchema("township", [
        FieldSchema("name", .text, nullable: false),
        // TOWN / STREET / PARK / SMALL_TOWN / MICRO_PARK
        FieldSchema("kind", .text),
    ])

    /// 项目业主 / 企业 (§1.2).
    public static let enterprise = TableSchema("enterprise", [
        FieldSchema("name", .text, nullable: false),
        // 统一社会信用代码, 18 characters; the dedupe key.
        FieldSchema("uscc", .text),
        FieldSchema("address", .text),
        // 内资 / 外资 / 中外合资 …
        FieldSchema("nature", .text),
    ])

    /// 投资项目 (§1.2).
    public static let project = TableSchema("project", [
        FieldSchema("enterprise_id", .text),
        FieldSchema("name", .text, nullable: false),
        // 项目代码, GB/T 40058-2021, 24 characters.
        FieldSchema("project_code", .text),
        FieldSchema("township_id", .text),
        // DAJIAN_DAMEI / INDUSTRIAL_PLATFORM / INVESTMENT_PROMOTION / OTHER
        FieldSchema("category", .text),
        FieldSchema("is_industrial", .bool),
        // 总投资, 万元.
        FieldSchema("total_investment_wan", .decimal),
        // 备案 / 核准 / 审批
        FieldSchema("approval_type", .text),
    ])

    /// Every table this build declares.
    public static let schema = Schema([township, enterprise, project])
}
