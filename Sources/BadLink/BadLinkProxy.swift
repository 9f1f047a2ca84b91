public import NIOCore
import NIOPosix
import Synchronization

/// What crossed the simulated link so far.
public struct LinkStats: Sendable, Equatable {
    /// Bytes delivered client → server and server → client.
    public var upBytes = 0
    public var downBytes = 0
    public var connections = 0
    /// Connections reset by a cut (periodic, after a byte count, or at `cutAll`).
    public var cuts = 0
    /// Connections reset on arrival because the link was down.
    public var refusedWhileDown = 0
}

/// A TCP proxy on 127.0.0.1 that makes a good loopback link into a bad one: between a client and a server, it
/// imposes delay and jitter, a bandwidth cap per direction, loss (as retransmission delay), cuts at random
/// moments and byte offsets, periods when the link is down, and silence (the socket stays open and nothing
/// moves). It needs no root and no kernel features.
///
/// Each direction is a queue with a virtual clock: a segment (at most 1,460 bytes, as on Ethernet) leaves when
/// the link is free and arrives `oneWayDelay` (plus jitter, plus a retransmission delay when lost) later, in
/// order. Reading from the sender stops while more than `window` bytes wait, so the sender's own TCP window
/// fills up, as it would on a slow link.
public final class BadLinkProxy: Sendable {
    public static let segmentBytes = 1460
    /// Bytes a direction holds before it stops reading from its sender.
    public static let window = 16 << 10
    /// The sockets' buffers and segment size, small as on a slow radio link: on loopback the kernel would
    /// otherwise take megabytes from the sender at once (a 64 KiB segment size, buffers tuned for it), and the
    /// sender would think its upload done long before the link carried it.
    static let socketBuffer: SocketOptionValue = 16 << 10
    static let maxSegment = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_MAXSEG))

    struct State {
        var profile: LinkProfile
        var upstream: SocketAddress
        var stats = LinkStats()
        var rng: UInt64
        var downUntil = NIODeadline.uptimeNanoseconds(0)
        var links: [ObjectIdentifier: Link] = [:]
        var closed = false
        /// Client → server bytes after which the link goes silent by itself (`silence(afterUpBytes:)`).
        var silenceAt: Int?
    }

    let state: Mutex<State>
    let group: any EventLoopGroup
    private let ownsGroup: Bool
    private let channel: Mutex<(any Channel)?> = Mutex(nil)
    private let _port: Mutex<Int> = Mutex(0)

    /// A proxy to `upstream` (not yet listening: call `start`). `seed` fixes every random choice.
    public init(upstream: SocketAddress, profile: LinkProfile, seed: UInt64 = 1, group: (any EventLoopGroup)? = nil) {
        state = Mutex(State(profile: profile, upstream: upstream, rng: seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed))
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        ownsGroup = group == nil
    }

    public convenience init(upstreamHost: String = "127.0.0.1", upstreamPort: Int, profile: LinkProfile, seed: UInt64 = 1)
        throws
    {
        self.init(upstream: try SocketAddress(ipAddress: upstreamHost, port: upstreamPort), profile: profile, seed: seed)
    }

    /// Listens on `host:port` (0: a free port) and returns the port.
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> Int {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(Self.maxSegment, value: SocketOptionValue(Self.segmentBytes))
            .serverChannelOption(.socketOption(.so_rcvbuf), value: Self.socketBuffer)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.so_sndbuf), value: Self.socketBuffer)
            .childChannelInitializer { [self] child in
                child.eventLoop.makeCompletedFuture { accept(child) }
            }
            .bind(host: host, port: port).get()
        channel.withLock { $0 = server }
        let bound = server.localAddress?.port ?? port
        _port.withLock { $0 = bound }
        scheduleFlap()
        return bound
    }

    /// The port it listens on (0 before `start`).
    public var port: Int { _port.withLock { $0 } }
    public var url: String { "http://127.0.0.1:\(port)" }

    /// The profile now in force; a change applies to the next segment of every connection. Leaving silence cuts
    /// the connections that were silenced (their bytes are gone), as a link that comes back would.
    public var profile: LinkProfile {
        get { state.withLock { $0.profile } }
        set {
            let wasSilent = state.withLock { s -> Bool in
                defer { s.profile = newValue }
                return s.profile.silent
            }
            if wasSilent && !newValue.silent { cutAll() }
        }
    }

    /// Where connections go; a change applies to new connections (a restarted server on another port).
    public var upstream: SocketAddress {
        get { state.withLock { $0.upstream } }
        set { state.withLock { $0.upstream = newValue } }
    }

    /// New connections go to `host:port` from now on.
    public func redirect(toPort port: Int, host: String = "127.0.0.1") throws {
        upstream = try SocketAddress(ipAddress: host, port: port)
    }

    public var stats: LinkStats { state.withLock { $0.stats } }

    /// Goes silent by itself once `bytes` more have gone from client to server (exactly there, whatever the
    /// load: the count is taken as segments are delivered). Setting a profile that is not silent afterwards
    /// brings the link back, as with `profile`.
    public func silence(afterUpBytes bytes: Int) {
        state.withLock { $0.silenceAt = $0.stats.upBytes + bytes }
    }

    /// Resets every open connection now.
    public func cutAll() {
        let links = state.withLock { Array($0.links.values) }
        for link in links { link.loop.execute { link.cut() } }
    }

    public func shutdown() async {
        let links = state.withLock { s -> [Link] in
            s.closed = true
            return Array(s.links.values)
        }
        for link in links { link.loop.execute { link.close() } }
        let ch = channel.withLock { $0 }
        try? await ch?.close()
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    // MARK: Internals

    /// A number in 0..<1 from the proxy's seeded generator (SplitMix64).
    func random() -> Double {
        state.withLock { s in
            s.rng &+= 0x9E37_79B9_7F4A_7C15
            var z = s.rng
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }
    }

    func random(in range: ClosedRange<Double>) -> Double { range.lowerBound + random() * (range.upperBound - range.lowerBound) }

    private func accept(_ child: any Channel) {
        let (upstream, down, closed) = state.withLock { s -> (SocketAddress, Bool, Bool) in
            s.stats.connections += 1
            let down = s.downUntil > .now()
            if down { s.stats.refusedWhileDown += 1 }
            return (s.upstream, down, s.closed)
        }
        if down || closed {
            Link.reset(child)
            return
        }
        let link = Link(proxy: self, inbound: child)
        state.withLock { $0.links[ObjectIdentifier(link)] = link }
        try? child.pipeline.syncOperations.addHandler(Forward(link: link, up: true))
        ClientBootstrap(group: child.eventLoop)
            .channelOption(.autoRead, value: false)
            .channelOption(BadLinkProxy.maxSegment, value: SocketOptionValue(BadLinkProxy.segmentBytes))
            .channelOption(.socketOption(.so_rcvbuf), value: BadLinkProxy.socketBuffer)
            .channelOption(.socketOption(.so_sndbuf), value: BadLinkProxy.socketBuffer)
            .connectTimeout(.seconds(10))
            .channelInitializer { out in
                out.eventLoop.makeCompletedFuture { try out.pipeline.syncOperations.addHandler(Forward(link: link, up: false)) }
            }
            .connect(to: upstream)
            .whenComplete { result in
                switch result {
                case .success(let out): link.connected(out)
                case .failure: link.close()
                }
            }
    }

    func forget(_ link: Link) {
        _ = state.withLock { $0.links.removeValue(forKey: ObjectIdentifier(link)) }
    }

    func count(up: Bool, _ n: Int) {
        state.withLock { s in
            if up { s.stats.upBytes += n } else { s.stats.downBytes += n }
            if let at = s.silenceAt, s.stats.upBytes >= at {
                s.profile.silent = true
                s.silenceAt = nil
            }
        }
    }

    func countCut() { state.withLock { $0.stats.cuts += 1 } }

    /// The periodic cut of the profile's `cutEvery`, then `downFor` seconds down; rechecked every second while
    /// the profile has none.
    private func scheduleFlap() {
        let (every, closed) = state.withLock { ($0.profile.cutEvery, $0.closed) }
        guard !closed else { return }
        let wait = every.map { random(in: $0) } ?? 1
        group.next().scheduleTask(in: .nanoseconds(Int64(wait * 1e9))) { [self] in
            let (still, downFor) = state.withLock { ($0.profile.cutEvery, $0.profile.downFor) }
            if every != nil, still != nil {
                state.withLock { $0.downUntil = .now() + .nanoseconds(Int64(downFor * 1e9)) }
                cutAll()
            }
            scheduleFlap()
        }
    }
}

/// One proxied connection: the client's socket, the server's, and a shaped queue each way. Confined to the
/// client socket's event loop.
final class Link: @unchecked Sendable {
    struct Direction {
        /// When the simulated link is next free to send.
        var nextFree = NIODeadline.uptimeNanoseconds(0)
        /// When the last scheduled segment arrives (later segments never overtake it).
        var lastArrival = NIODeadline.uptimeNanoseconds(0)
        var queued = 0
        var wantsRead = false
        var ended = false
    }

    let proxy: BadLinkProxy
    let loop: any EventLoop
    let inbound: any Channel
    var outbound: (any Channel)?
    var up = Direction(), down = Direction()
    /// Bytes forwarded over both directions, and where a byte-offset cut falls.
    var carried = 0
    var cutAt: Int?
    var closed = false
    var silenced = false

    init(proxy: BadLinkProxy, inbound: any Channel) {
        self.proxy = proxy
        self.inbound = inbound
        loop = inbound.eventLoop
        if let r = proxy.profile.cutAfterBytes {
            cutAt = r.lowerBound + Int(proxy.random() * Double(r.upperBound - r.lowerBound))
        }
    }

    func connected(_ out: any Channel) {
        guard !closed else {
            out.close(promise: nil)
            return
        }
        outbound = out
        inbound.read()
        out.read()
    }

    /// Bytes read from one side, to be delivered to the other.
    func received(_ buffer: ByteBuffer, up isUp: Bool) {
        guard !closed else { return }
        let profile = proxy.profile
        if profile.silent {
            silenced = true
            return  // swallowed; reading stops, so the sender's window fills and it waits for ever
        }
        var buffer = buffer
        var dir = isUp ? up : down
        let now = NIODeadline.now()
        while buffer.readableBytes > 0 {
            var n = min(buffer.readableBytes, BadLinkProxy.segmentBytes)
            var cutHere = false
            if let at = cutAt, carried + n >= at {
                n = max(0, at - carried)
                cutHere = true
            }
            let segment = buffer.readSlice(length: n)!
            carried += n
            let start = max(now, dir.nextFree)
            var sendTime = 0.0
            if let bps = profile.bytesPerSecond { sendTime = Double(n) / Double(bps) }
            if profile.loss > 0 && proxy.random() < profile.loss { sendTime += profile.retransmitDelay }
            dir.nextFree = start + .nanoseconds(Int64(sendTime * 1e9))
            let delay = profile.oneWayDelay + profile.jitter * proxy.random()
            let arrival = max(dir.lastArrival, dir.nextFree + .nanoseconds(Int64(delay * 1e9)))
            dir.lastArrival = arrival
            dir.queued += n
            let target = isUp ? outbound : inbound
            loop.scheduleTask(deadline: arrival) { [self, cutHere] in
                deliver(segment, to: target, up: isUp, cut: cutHere)
            }
            if cutHere { break }
        }
        if isUp { up = dir } else { down = dir }
    }

    private func deliver(_ segment: ByteBuffer, to target: (any Channel)?, up isUp: Bool, cut: Bool) {
        guard !closed else { return }
        if proxy.profile.silent {
            silenced = true
            return
        }
        let n = segment.readableBytes
        if n > 0 { target?.writeAndFlush(segment, promise: nil) }
        proxy.count(up: isUp, n)
        if isUp { up.queued -= n } else { down.queued -= n }
        if cut {
            self.cut()
            return
        }
        resumeIfRoom(up: isUp)
        finishIfEnded(up: isUp)
    }

    /// Whether a side may read again: its direction has room and the link is not silent.
    func mayRead(up isUp: Bool) -> Bool {
        !closed && (isUp ? up.queued : down.queued) < BadLinkProxy.window && !proxy.profile.silent
    }

    func readLater(up isUp: Bool) {
        if isUp { up.wantsRead = true } else { down.wantsRead = true }
    }

    private func resumeIfRoom(up isUp: Bool) {
        let wants = isUp ? up.wantsRead : down.wantsRead
        guard wants, mayRead(up: isUp) else { return }
        if isUp { up.wantsRead = false; inbound.read() } else { down.wantsRead = false; outbound?.read() }
    }

    /// The sending side closed: close the receiving side once what it sent has arrived. On a silent link the
    /// close does not get through either (a dead radio link carries no FIN): the other side stays open.
    func ended(up isUp: Bool) {
        if isUp { up.ended = true } else { down.ended = true }
        if silenced || proxy.profile.silent {
            silenced = true
            return
        }
        finishIfEnded(up: isUp)
    }

    private func finishIfEnded(up isUp: Bool) {
        let dir = isUp ? up : down
        guard dir.ended, dir.queued == 0 else { return }
        close()
    }

    func cut() {
        guard !closed else { return }
        proxy.countCut()
        closed = true
        Link.reset(inbound)
        if let outbound { Link.reset(outbound) }
        proxy.forget(self)
    }

    func close() {
        guard !closed else { return }
        closed = true
        inbound.close(promise: nil)
        outbound?.close(promise: nil)
        proxy.forget(self)
    }

    /// Closes with SO_LINGER 0, so the peer sees a reset rather than an orderly end.
    static func reset(_ channel: any Channel) {
        guard let provider = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Reads one socket into the link.
final class Forward: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let link: Link
    let up: Bool

    init(link: Link, up: Bool) {
        self.link = link
        self.up = up
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(unwrapInboundIn(data), up: up)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if link.mayRead(up: up) { context.read() } else { link.readLater(up: up) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.ended(up: up)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        link.close()
    }
}
