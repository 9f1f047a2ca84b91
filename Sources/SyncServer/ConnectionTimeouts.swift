import NIOCore
import NIOHTTPTypes

/// Closes connections that stop making progress, so that a silent or slow client cannot hold the server
/// (a request that never completes its headers, an upload from a link that died without a reset, an idle
/// keep-alive connection). A response being computed or sent is never cut: only reading waits are bounded.
///
/// - Waiting for a request's headers (a new connection, or between requests): at most `headerTimeout`.
/// - Receiving a body: at most `readTimeout` without a byte.
final class ConnectionTimeouts: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum State { case waitingHead, readingBody, responding }
    private let headerTimeout: TimeAmount
    private let readTimeout: TimeAmount
    private var state = State.waitingHead
    private var deadline = NIODeadline.now()
    private var task: Scheduled<Void>?

    init(headerTimeout: TimeAmount, readTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.readTimeout = readTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { wait(context, headerTimeout) }
    }

    func channelActive(context: ChannelHandlerContext) {
        wait(context, headerTimeout)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        task?.cancel()
        task = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            state = .readingBody
            wait(context, readTimeout)
        case .body:
            deadline = .now() + readTimeout
        case .end:
            state = .responding
            task?.cancel()
            task = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), state == .responding {
            state = .waitingHead
            wait(context, headerTimeout)
        }
        context.write(data, promise: promise)
    }

    private func wait(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        deadline = .now() + timeout
        schedule(context)
    }

    private func schedule(_ context: ChannelHandlerContext) {
        task?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.fire(context)
        }
    }

    private func fire(_ context: ChannelHandlerContext) {
        guard state != .responding else { return }
        if NIODeadline.now() < deadline {
            schedule(context)  // progress since the task was scheduled
            return
        }
        context.close(promise: nil)
    }
}
