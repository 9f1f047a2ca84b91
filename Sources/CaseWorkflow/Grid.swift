import Foundation
public import TerminalText

/// A list, a `show` or a report: named columns (English and Chinese headings), rows of cells and headline
/// figures. The CLI renders it as an aligned table, CSV or JSON; the keys are the JSON names.
public struct Grid: Sendable {
    public struct Column: Sendable {
        public let key: String
        public let en: String
        public let zh: String
        public init(_ key: String, _ en: String, _ zh: String) {
            self.key = key
            self.en = en
            self.zh = zh
        }
        public var heading: String { L10n.chinese ? zh : en }
    }

    public enum Cell: Sendable, Equatable {
        case text(String)
        case int(Int)
        case real(Double)
        case bool(Bool)
        case null

        public init(_ s: String?) { self = s.map(Cell.text) ?? .null }
        public init(_ i: Int?) { self = i.map(Cell.int) ?? .null }

        /// Table and CSV text: reals with one decimal (amounts in 万元, rates in %), bools as ✓/✗ (是/否 in Chinese).
        public var display: String {
            switch self {
            case .text(let s): s
            case .int(let i): String(i)
            case .real(let d): d.isFinite ? String(format: "%.1f", d) : ""
            case .bool(let b): L10n.chinese ? (b ? "是" : "否") : (b ? "yes" : "no")
            case .null: ""
            }
        }

        public var textValue: String? { if case .text(let s) = self { s } else { nil } }
        public var intValue: Int? { if case .int(let i) = self { i } else { nil } }
    }

    public var name: String
    public var columns: [Column]
    public var rows: [[Cell]] = []
    /// Headline figures, in order.
    public var summary: [(Column, Cell)] = []

    public init(name: String, columns: [Column]) {
        self.name = name
        self.columns = columns
    }

    /// A cell by column key.
    public func value(_ row: Int, _ key: String) -> Cell? {
        columns.firstIndex { $0.key == key }.map { rows[row][$0] }
    }

    /// A summary figure by key.
    public func figure(_ key: String) -> Cell? { summary.first { $0.0.key == key }?.1 }

    /// Rows as key → cell, for lookups in tests and scripts.
    public func records() -> [[String: Cell]] {
        rows.map { Dictionary(uniqueKeysWithValues: zip(columns.map(\.key), $0)) }
    }
}

extension Grid.Column {
    static let caseID = Self("case", "CASE", "代办项目")
    static let caseNo = Self("case_no", "CASE NO", "编号")
    static let item = Self("item", "ITEM", "事项")
    static let itemName = Self("item_name", "ITEM NAME", "事项名称")
    static let department = Self("department", "DEPARTMENT", "部门")
    static let township = Self("township", "TOWNSHIP", "乡镇/园区")
    static let agent = Self("agent", "AGENT", "代办员")
    static let townshipName = Self("township_name", "TOWNSHIP NAME", "乡镇名称")
    static let departmentName = Self("department_name", "DEPARTMENT NAME", "部门名称")
    static let agentName = Self("agent_name", "AGENT NAME", "代办员姓名")
    static let status = Self("status", "STATUS", "状态")
    static let due = Self("due", "DUE", "期限")
}
