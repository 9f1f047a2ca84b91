/// A hybrid logical clock timestamp: 48 bits of Unix milliseconds and a 16-bit logical counter.
///
/// Timestamps order as plain 64-bit integers. The physical part stays close to wall-clock time, the
/// logical part orders events within one millisecond and events that follow a timestamp from a
/// device whose clock runs ahead.
public struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// `physical << 16 | logical`.
    public var rawValue: UInt64

    /// Creates a timestamp from its packed form.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// The largest physical part (48 bits of milliseconds, the year 10889).
    public static let maxPhysical: UInt64 = (1 << 48) - 1

    /// Creates a timestamp from milliseconds and a logical counter; a physical part beyond 48 bits saturates
    /// at `maxPhysical` (it never wraps around to the past).
    public init(physical: UInt64, logical: UInt16) {
        rawValue = min(physical, Self.maxPhysical) << 16 | UInt64(logical)
    }

    /// Unix time in milliseconds.
    public var physical: UInt64 { rawValue >> 16 }
    /// The logical counter within `physical`.
    public var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// The zero timestamp, older than every real one.
    public static let zero = HLCTimestamp(rawValue: 0)

    public static func < (a: HLCTimestamp, b: HLCTimestamp) -> Bool { a.rawValue < b.rawValue }

    /// `physical.logical`, for example `1763700000000.3`.
    public var description: String { "\(physical).\(logical)" }
}

/// The replica's hybrid logical clock (Kulkarni et al., 2014).
///
/// `now()` is injected so that tests run on a manual clock. The clock never moves backwards, even when the
/// device clock does. A remote timestamp more than `maxDrift` milliseconds ahead of the device clock is still
/// ordered correctly by version vectors, but the local clock absorbs it only up to `now + maxDrift`, so one
/// laptop with a wrong date cannot drag every replica's clock into the future. `observe` reports such skew.
///
/// ```swift
/// var clock = HybridLogicalClock(last: .zero, maxDrift: 300_000) { 1_763_700_000_000 }
/// let a = clock.tick()
/// let b = clock.tick()   // same millisecond: logical + 1
/// assert(a < b)
/// ```
public struct HybridLogicalClock: Sendable {
    /// The last timestamp handed out or observed.
    public private(set) var last: HLCTimestamp
    /// How far ahead of the device clock a remote timestamp may pull this clock, in milliseconds.
    public var maxDrift: UInt64
    /// The device's wall clock in Unix milliseconds.
    public let now: @Sendable () -> UInt64

    /// Creates a clock that continues from `last`.
    public init(last: HLCTimestamp, maxDrift: UInt64 = 5 * 60 * 1000, now: @escaping @Sendable () -> UInt64) {
        self.last = last
        self.maxDrift = maxDrift
        self.now = now
    }

    /// A new timestamp greater than every timestamp seen so far.
    public mutating func tick() -> HLCTimestamp {
        let wall = min(now(), HLCTimestamp.maxPhysical)
        if wall > last.physical {
            last = HLCTimestamp(physical: wall, logical: 0)
        } else {
            last = Self.successor(of: last)
        }
        return last
    }

    /// Moves the clock past a timestamp received from another replica.
    /// - Returns: `false` when the remote timestamp was further ahead than `maxDrift` (it was clamped).
    @discardableResult
    public mutating func observe(_ remote: HLCTimestamp) -> Bool {
        let (sum, overflow) = now().addingReportingOverflow(maxDrift)
        let ceiling = HLCTimestamp(physical: overflow ? HLCTimestamp.maxPhysical : sum, logical: UInt16.max)
        let withinDrift = remote <= ceiling
        let bounded = withinDrift ? remote : ceiling
        if bounded > last { last = bounded }
        return withinDrift
    }

    private static func successor(of t: HLCTimestamp) -> HLCTimestamp {
        if t.rawValue == UInt64.max { return t }  // saturates at the end of time instead of wrapping
        return t.logical == UInt16.max
            ? HLCTimestamp(physical: t.physical + 1, logical: 0)
            : HLCTimestamp(rawValue: t.rawValue + 1)
    }

    /// Sets the clock back to `to` (never used on a healthy replica): after a device clock that ran ahead was
    /// corrected, the replica re-stamps its own future-dated pending writes and continues from the real time.
    /// Causality does not depend on it: version vectors order every write (see `protocol/SPEC.md` §2.2).
    public mutating func reset(to t: HLCTimestamp) {
        last = t
    }
}
