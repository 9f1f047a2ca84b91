/// Bounds every stored field state respects, whatever bundles arrive (`protocol/SPEC.md` §7.1).
///
/// The bundle limits bound one change-set; these bound the **merged** state, so that no device can build a
/// state that another replica could not read back (a field with more concurrent versions than a bundle may
/// carry would make every later pull of it fail). A version that would break a bound is not merged: it is kept
/// aside with a reason, like any refused version.
public enum StateBounds {
    /// Most concurrent versions of one field (the bundle limit `maxVersionsPerField`).
    public static let maxVersionsPerField = 64
    /// Most entries in one version vector (the bundle limit `maxVersionVectorEntries`). A merged state's join
    /// stays below it, so that a local write on top still fits.
    public static let maxVersionVectorEntries = 256
    /// Most bytes of text and decimal values across the versions of one field state (2 MiB).
    public static let maxFieldStateValueBytes = 2 << 20
    /// Most bytes of text and decimal values across all field states of one row (5 MiB), checked whenever a field
    /// state larger than `rowCheckThreshold` is merged. Smaller states are not summed: the widest declared table
    /// (30 fields) adds at most 2 MiB of them, so a row stays within 7 MiB and fits one push (8 MiB by default)
    /// and one pull chunk; a row travels whole.
    public static let maxRowValueBytes = 5 << 20
    /// Field states holding at most this many value bytes need no check of their row's total.
    public static let rowCheckThreshold = 64 << 10

    /// Bytes of text and decimal values across the versions of a field state.
    public static func valueBytes(_ state: FieldState) -> Int {
        var bytes = 0
        for v in state.versions {
            switch v.value {
            case .text(let s), .decimal(let s): bytes += s.utf8.count
            default: break
            }
        }
        return bytes
    }

    /// Why a row whose field states hold `bytes` value bytes in all may not be stored, or nil.
    public static func violation(rowValueBytes bytes: Int) -> Rejection? {
        bytes > maxRowValueBytes
            ? Rejection(.stateTooLarge, "the row would hold \(bytes) bytes of values; the limit is \(maxRowValueBytes)")
            : nil
    }

    /// Why `state` may not be stored, or nil when it is within the bounds.
    public static func violation(_ state: FieldState) -> Rejection? {
        if state.versions.count > maxVersionsPerField {
            return Rejection(.tooManyVersions,
                             "the field would hold \(state.versions.count) concurrent versions; the limit is \(maxVersionsPerField)")
        }
        if state.vv.entries.count >= maxVersionVectorEntries {
            return Rejection(.stateTooLarge,
                             "the field would have been written by \(state.vv.entries.count) replicas; the limit is \(maxVersionVectorEntries - 1)")
        }
        let bytes = valueBytes(state)
        if bytes > maxFieldStateValueBytes {
            return Rejection(.stateTooLarge,
                             "the field's versions would hold \(bytes) bytes of values; the limit is \(maxFieldStateValueBytes)")
        }
        return nil
    }

    /// Why a merged delete coverage may not be stored, or nil.
    public static func violation(covered vv: VersionVector) -> Rejection? {
        vv.entries.count > maxVersionVectorEntries
            ? Rejection(.stateTooLarge, "the deletion would cover \(vv.entries.count) replicas; the limit is \(maxVersionVectorEntries)")
            : nil
    }
}
