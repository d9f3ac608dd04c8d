import X509

/// Who is on the other end of a verified TLS connection: a role and a name, both taken from the
/// certificate the consortium CA issued.
///
/// Rules (fail closed): the subject must carry exactly one organizational unit naming a known
/// role and exactly one common name that is a valid Cohort name. When the certificate carries a
/// `cohort://<role>/<name>` URI SAN (every non-coordinator certificate does), it must agree with
/// OU and CN; a mismatch means the certificate was not issued by `cohort certs` and is refused.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The peer's role.
    public let role: PeerRole
    /// The peer's name (a participant's silo name, the coordinator's host name…).
    public let name: String

    /// Creates an identity; `name` must satisfy ``PeerIdentity/validateName(_:)``.
    public init(role: PeerRole, name: String) throws(TransportError) {
        try Self.validateName(name)
        self.role = role
        self.name = name
    }

    public var description: String { "\(role) \(name)" }

    /// The URI SAN that names this identity.
    public var uri: String { "\(PeerIdentity.uriScheme)://\(role.rawValue)/\(name)" }

    static let uriScheme = "cohort"

    /// Checks that `name` is usable as a certificate name, a file name and a URI path segment:
    /// 1–64 characters from `A–Z a–z 0–9 . _ -`, not starting with `.` or `-`.
    public static func validateName(_ name: String) throws(TransportError) {
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
        guard (1...64).contains(name.utf8.count), allowed, !name.hasPrefix("."), !name.hasPrefix("-") else {
            throw TransportError(
                code: "identity.invalid_name",
                message:
                    "name \"\(name.prefix(80))\" must be 1-64 characters of A-Z a-z 0-9 . _ - and not start with . or -"
            )
        }
    }

    /// Reads the identity from a certificate that TLS has already verified against the consortium CA.
    public init(certificate: Certificate) throws(TransportError) {
        let units = Self.attributes(in: certificate.subject) { $0.type == .RDNAttributeType.organizationalUnitName }
        let names = Self.attributes(in: certificate.subject) { $0.type == .RDNAttributeType.commonName }
        guard units.count == 1, let roleName = units.first else {
            throw TransportError(
                code: "identity.missing_role",
                message:
                    "certificate \(certificate.subject) has \(units.count) organizational units; exactly one naming the role is required"
            )
        }
        guard let role = PeerRole(rawValue: roleName) else {
            throw TransportError(
                code: "identity.unknown_role",
                message: "certificate role \"\(roleName.prefix(80))\" is not one of "
                    + PeerRole.allCases.map(\.rawValue).joined(separator: ", ")
                    + "; reissue it with `cohort certs issue --role …`"
            )
        }
        guard names.count == 1, let name = names.first else {
            throw TransportError(
                code: "identity.missing_name",
                message: "certificate \(certificate.subject) has \(names.count) common names; exactly one is required; "
                    + "reissue it with `cohort certs issue`"
            )
        }
        try self.init(role: role, name: name)

        let sans: SubjectAlternativeNames?
        do {
            sans = try certificate.extensions.subjectAlternativeNames
        } catch {
            throw TransportError(
                code: "identity.bad_san",
                message: "certificate \(certificate.subject): subject alternative names do not parse (\(error)); "
                    + "reissue it with `cohort certs issue`")
        }
        let uris = (sans ?? SubjectAlternativeNames()).compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix("\(Self.uriScheme)://") { return uri }
            return nil
        }
        guard uris.allSatisfy({ $0 == uri }) else {
            throw TransportError(
                code: "identity.san_mismatch",
                message:
                    "certificate URI SAN \(uris) disagrees with its subject (\(uri)); reissue it with `cohort certs issue`"
            )
        }
    }

    static func attributes(
        in name: DistinguishedName,
        where matches: (RelativeDistinguishedName.Attribute) -> Bool
    ) -> [String] {
        name.flatMap { rdn in rdn.filter(matches).compactMap { String($0.value) } }
    }
}
