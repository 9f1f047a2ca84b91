import CoreMetrics
import Foundation
import Metrics
import Prometheus
import SyncContract
import Synchronization

/// The server's own metrics (swift-metrics, exported by swift-prometheus at `GET /metrics`).
///
/// Request counts and latency histograms come from Hummingbird's `MetricsMiddleware`.
enum Metrics {
    static let pushBytes = Recorder(label: "daiban_push_bytes")
    static let pullBytes = Recorder(label: "daiban_pull_bytes")
    static let pullChunks = Counter(label: "daiban_pull_chunks_total")
    static let changesApplied = Counter(label: "daiban_changes_applied_total")
    static let conflictsOpen = Gauge(label: "daiban_conflicts_open")
    static let loginFailures = Counter(label: "daiban_login_failures_total")
    static let loginRejected = Counter(label: "daiban_login_throttled_total")
    static let rejected = Counter(label: "daiban_versions_rejected_total")

    /// `daiban_build_info{version, protocol, instance_id} 1`: which build answers, on which instance (several
    /// instances behind one address are told apart by it).
    static func announce(instance: String) {
        Gauge(label: "daiban_build_info", dimensions: [
            ("version", SyncHTTP.release), ("protocol", String(SyncHTTP.protocolVersion)), ("instance_id", instance),
        ]).record(1)
    }

    /// The machine's name as `gethostname` gives it (no DNS lookup), for the default instance id.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(cString: buffer)
        return ServerConfig.isValidInstance(name) ? name : "localhost"
    }

    /// The process-wide registry; the first use bootstraps swift-metrics with it (once per process).
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(20), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        factory.defaultValueHistogramBuckets = [256, 1024, 4096, 16384, 65536, 262_144, 1_048_576, 4_194_304]
        MetricsSystem.bootstrap(factory)
        return registry
    }()
}
