/// How a simulated link behaves: delay, a bandwidth cap, loss, cuts and silence. Rates are per direction.
public struct LinkProfile: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    /// One-way delay in seconds (half the round trip).
    public var oneWayDelay: Double = 0
    /// Extra delay per segment, uniform in 0…jitter seconds; segments still arrive in order, as on TCP.
    public var jitter: Double = 0
    /// The cap per direction in bytes per second; nil is unlimited.
    public var bytesPerSecond: Int?
    /// The chance that a segment is lost. A lost segment is sent again after `retransmitDelay`, and everything
    /// behind it waits (TCP delivers in order), so loss shows as delay, never as missing bytes.
    public var loss: Double = 0
    public var retransmitDelay: Double = 0
    /// Every connection is cut (reset) at a random moment in this many seconds, again and again.
    public var cutEvery: ClosedRange<Double>?
    /// A connection is cut after a random number of bytes in this range (counted over both directions).
    public var cutAfterBytes: ClosedRange<Int>?
    /// After a cut the link is down for this long: new connections are accepted and reset at once.
    public var downFor: Double = 0
    /// Forward nothing and close nothing: the socket stays open and silent, like a dead radio link.
    public var silent = false

    public init(name: String) { self.name = name }

    /// A straight wire.
    public static let clean = LinkProfile(name: "clean")

    /// A poor 2G (EDGE) link: 64 kbit/s each way, 600 ms round trip, 3% loss.
    public static let g2: LinkProfile = {
        var p = LinkProfile(name: "2g")
        p.oneWayDelay = 0.3
        p.jitter = 0.05
        p.bytesPerSecond = 64_000 / 8
        p.loss = 0.03
        p.retransmitDelay = 0.8
        return p
    }()

    /// A 3G link: 1 Mbit/s each way, 300 ms round trip.
    public static let g3: LinkProfile = {
        var p = LinkProfile(name: "3g")
        p.oneWayDelay = 0.15
        p.jitter = 0.02
        p.bytesPerSecond = 1_000_000 / 8
        p.loss = 0.005
        p.retransmitDelay = 0.4
        return p
    }()

    /// The 2G link, cut at a random point every 20–60 s and down for 2 s each time.
    public static let flaky: LinkProfile = {
        var p = g2
        p.name = "flaky"
        p.cutEvery = 20...60
        p.downFor = 2
        return p
    }()

    /// Accepts connections and then says nothing.
    public static let silentLink: LinkProfile = {
        var p = LinkProfile(name: "silent")
        p.silent = true
        return p
    }()

    public static let all: [LinkProfile] = [.clean, .g2, .g3, .flaky, .silentLink]

    /// `2g`, `3g`, `flaky`, `silent` or `clean`.
    public static func named(_ name: String) -> LinkProfile? { all.first { $0.name == name } }

    public var description: String {
        var parts: [String] = []
        if let b = bytesPerSecond { parts.append("\(b * 8 / 1000) kbit/s") }
        if oneWayDelay > 0 { parts.append("\(Int((oneWayDelay * 2000).rounded())) ms RTT") }
        if loss > 0 { parts.append("\(loss * 100)% loss") }
        if let c = cutEvery { parts.append("cut every \(Int(c.lowerBound))–\(Int(c.upperBound)) s") }
        if let c = cutAfterBytes { parts.append("cut after \(c.lowerBound)–\(c.upperBound) B") }
        if silent { parts.append("silent") }
        return name + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
    }
}
