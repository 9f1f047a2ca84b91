import BadLink
import Foundation

let linkUsage = """
    usage: daiban-bench link --upstream HOST:PORT [--profile NAME] [--port P] [--seed N]

      The bad-link simulator on its own: listens on 127.0.0.1:P (default a free port) and forwards to
      HOST:PORT through the profile: clean, 2g (64 kbit/s, 600 ms RTT, 3% loss), 3g (1 Mbit/s, 300 ms RTT),
      flaky (2g, cut every 20–60 s) or silent (accepts, then forwards nothing). Point a client at the printed
      URL; the bytes carried and the cuts are printed every 10 s on stderr. Ctrl-C stops it.
    """

struct LinkOptions {
    var host = "127.0.0.1"
    var upstreamPort = 0
    var profile = LinkProfile.g2
    var port = 0
    var seed: UInt64 = 1

    static func parse(_ args: [String]) -> LinkOptions? {
        var o = LinkOptions()
        var i = 1
        var upstream = false
        while i + 1 < args.count {
            let v = args[i + 1]
            switch args[i] {
            case "--upstream":
                let parts = v.split(separator: ":")
                guard parts.count == 2, let p = Int(parts[1]) else { return nil }
                o.host = String(parts[0])
                o.upstreamPort = p
                upstream = true
            case "--profile": guard let p = LinkProfile.named(v) else { return nil }; o.profile = p
            case "--port": guard let p = Int(v) else { return nil }; o.port = p
            case "--seed": guard let s = UInt64(v) else { return nil }; o.seed = s
            default: return nil
            }
            i += 2
        }
        return upstream && i == args.count ? o : nil
    }
}

func runLink(_ o: LinkOptions) async throws {
    let proxy = try BadLinkProxy(upstreamHost: o.host, upstreamPort: o.upstreamPort, profile: o.profile, seed: o.seed)
    let port = try await proxy.start(port: o.port)
    FileHandle.standardOutput.write(Data("bad link \(o.profile) listening on http://127.0.0.1:\(port) → \(o.host):\(o.upstreamPort)\n".utf8))
    while true {
        try await Task.sleep(nanoseconds: 10_000_000_000)
        let s = proxy.stats
        progress("up \(s.upBytes) B, down \(s.downBytes) B, \(s.connections) connections, \(s.cuts) cuts")
    }
}
