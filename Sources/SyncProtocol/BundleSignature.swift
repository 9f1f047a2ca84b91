import Crypto
import SyncCore

/// A device's Ed25519 signing key (`protocol/SPEC.md` §5.2). `daiban init` makes one per replica; the server
/// learns its public half at login and from then on accepts bundles of that device only when they carry its
/// signature, whoever delivers them.
public struct DeviceKey: Sendable {
    let key: Curve25519.Signing.PrivateKey

    /// A fresh random key.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// A key from its 32-byte private representation.
    /// - Throws: `SyncError` `malformed` when the bytes are not a key.
    public init(rawRepresentation bytes: [UInt8]) throws(SyncError) {
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: bytes) } catch {
            throw SyncError(.malformed, "the device key file does not hold an Ed25519 key")
        }
    }

    /// The 32 private bytes (kept in the home, mode 0600).
    public var rawRepresentation: [UInt8] { [UInt8](key.rawRepresentation) }

    /// The 32-byte public key the server registers.
    public var publicKey: [UInt8] { [UInt8](key.publicKey.rawRepresentation) }

    /// Signs `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        // Signing with a valid key cannot fail; BoringSSL reports only allocation failures here.
        (try? [UInt8](key.signature(for: message))) ?? []
    }
}

/// Checks an Ed25519 signature made by the holder of `publicKey`.
public func verifySignature(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
    guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else {
        return false
    }
    return key.isValidSignature(signature, for: message)
}

/// The bundle trailer (`protocol/SPEC.md` §5.2): a sequence of `type u8 ‖ length varint ‖ bytes` entries.
/// Type 1 is the writer's signature: its 32-byte Ed25519 public key, then the 64-byte signature over
/// `"daiban-bundle-v1" ‖ 0x00 ‖ bytes[0..36) ‖ compressed payload`.
public enum BundleTrailer {
    /// Entry type of a signature.
    public static let signatureType: UInt8 = 1
    /// Length of a signature entry's body: public key and signature.
    static let signatureBody = 32 + 64
    /// Domain separation, so that a bundle signature can never be mistaken for any other signed message.
    static let context: [UInt8] = Array("daiban-bundle-v1".utf8) + [0]

    /// The signed message of a bundle whose first 36 header bytes and compressed payload are given.
    static func message(header36: ArraySlice<UInt8>, payload: ArraySlice<UInt8>) -> [UInt8] {
        var m = context
        m.reserveCapacity(context.count + 36 + payload.count)
        m.append(contentsOf: header36)
        m.append(contentsOf: payload)
        return m
    }

    /// One signature entry.
    static func signatureEntry(publicKey: [UInt8], signature: [UInt8]) -> [UInt8] {
        var w = ByteWriter()
        w.byte(signatureType)
        w.varint(UInt64(signatureBody))
        w.raw(publicKey)
        w.raw(signature)
        return w.bytes
    }

    /// The size of a trailer holding one signature.
    static var signedLength: Int { 1 + 1 + signatureBody }

    /// The entries of a trailer, or nil when it is not a well-formed entry sequence.
    static func entries(_ trailer: ArraySlice<UInt8>) -> [(type: UInt8, body: ArraySlice<UInt8>)]? {
        var out: [(UInt8, ArraySlice<UInt8>)] = []
        var i = trailer.startIndex
        while i < trailer.endIndex {
            let type = trailer[i]
            i += 1
            var length: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < trailer.endIndex, shift < 63 else { return nil }
                let b = trailer[i]
                i += 1
                length |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
            }
            guard length <= UInt64(trailer.endIndex - i) else { return nil }
            out.append((type, trailer[i..<(i + Int(length))]))
            i += Int(length)
        }
        return out
    }
}

/// What a bundle's trailer says about who made it.
public struct BundleSignature: Hashable, Sendable {
    /// The signer's 32-byte public key.
    public var publicKey: [UInt8]
    /// Whether the signature verifies under that key (a tampered bundle fails here).
    public var isValid: Bool
}
