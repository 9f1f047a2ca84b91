import CaseWorkflow
import Foundation
import SyncContract
import SyncCore
import SyncProtocol
import SyncTesting

/// The inputs a hostile peer or a clerk's file can reach, each behind one function that must never crash, hang
/// or grow without bound, whatever the bytes: it either reads them or throws.
enum FuzzTarget: String, CaseIterable {
    /// A bundle as a push body or a pulled chunk: envelope, signature block, zlib payload, change-set. The first
    /// byte chooses: even, the rest is a whole bundle; odd, the rest is a payload, which the harness compresses
    /// and wraps in an envelope with a matching checksum (as an attacker can), so mutations reach the payload
    /// decoder instead of stopping at the checksum.
    case changeset
    /// The JSON bodies both sides read: requests the server takes, answers the client takes.
    case http
    /// The files a clerk imports: catalogue, calendar and roster, as CSV (UTF-8 or GB18030), JSON or Excel.
    case importer

    func run(_ data: [UInt8]) {
        switch self {
        case .changeset:
            guard let selector = data.first else { return }
            let rest = Array(data.dropFirst())
            let bundle = selector & 1 == 0 ? rest
                : Bomb.bundle(compressed: Zlib.compress(rest, level: 1), declaredPlain: UInt32(truncatingIfNeeded: rest.count))
            if let cs = try? ChangeSetReader.decode(bundle) {
                // What decodes must encode again, and decode to the same change-set.
                let again = try? ChangeSetReader.decode(ChangeSetEncoder(level: 1).encode(cs))
                precondition(again == cs, "a decoded change-set does not survive re-encoding")
            }
        case .http:
            guard let selector = data.first else { return }
            let body = Data(data.dropFirst())
            let decoder = SyncHTTP.decoder()
            switch selector % 9 {
            case 0: _ = try? decoder.decode(LoginRequest.self, from: body)
            case 1: _ = try? decoder.decode(RefreshRequest.self, from: body)
            case 2: _ = try? decoder.decode(DeviceKeyRequest.self, from: body)
            case 3: _ = try? decoder.decode(SessionResponse.self, from: body)
            case 4: _ = try? decoder.decode(PushResponse.self, from: body)
            case 5: _ = try? decoder.decode(ErrorBody.self, from: body)
            case 6: _ = try? decoder.decode(DevicesResponse.self, from: body)
            case 7: _ = try? decoder.decode(ScopeExitsResponse.self, from: body)
            default: _ = try? decoder.decode(HealthResponse.self, from: body)
            }
        case .importer:
            guard let selector = data.first else { return }
            let kinds = ["catalogue", "calendar", "roster"]
            _ = try? Workflow.readImport(Data(data.dropFirst()), kind: kinds[Int(selector) % kinds.count])
        }
    }
}
