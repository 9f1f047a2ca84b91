import Foundation
import SyncCore
import SyncProtocol
import SyncTesting
import Testing

/// Replays `protocol/vectors/encoding`: decoded form ⇄ exact payload and bundle bytes.
/// `RECORD_VECTORS=1 swift test --filter EncodingVectorTests` rewrites them (and fails, so a recording is noticed).
@Suite struct EncodingVectorTests {
    static let dir = repositoryRoot + "/protocol/vectors/encoding"

    @Test(arguments: SampleChangeSets.all.map(\.0))
    func replay(name: String) throws {
        let cs = SampleChangeSets.all.first { $0.0 == name }!.1
        let j = VectorJSON(names: SampleChangeSets.names)
        let path = Self.dir + "/\(name).json"
        if ProcessInfo.processInfo.environment["RECORD_VECTORS"] == "1" {
            let names = SampleChangeSets.names.mapValues(\.description)
            let doc: [String: Any] = [
                "name": name, "replicas": names, "change_set": j.json(cs),
                "payload_hex": ChangeSetEncoder().payload(cs).hex, "bundle_hex": ChangeSetEncoder().encode(cs).hex,
            ]
            try FileManager.default.createDirectory(atPath: Self.dir, withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
                .write(to: URL(fileURLWithPath: path))
            Issue.record("recorded \(path)")
            return
        }
        let v = try VectorJSON.load(path)
        let vj = try VectorJSON(json: v["replicas"])
        let decodedForm = try vj.changeSet(v["change_set"])
        let bundle = try #require([UInt8](hex: v["bundle_hex"] as! String))
        // The normative checks: the bytes decode to the decoded form, and the decoded form encodes to the payload.
        #expect(try ChangeSetReader.decode(bundle) == decodedForm)
        #expect(ChangeSetEncoder().payload(decodedForm).hex == v["payload_hex"] as! String)
        #expect(decodedForm == cs)
        // With the same zlib the whole bundle is byte-identical.
        #expect(ChangeSetEncoder().encode(decodedForm) == bundle)
    }
}
