import CSodium

/// Process-wide libsodium initialisation.
///
/// `sodium_init` must run once before any other libsodium call. A Swift global `let` is
/// initialised exactly once, thread-safely (swift_once), so touching `Sodium.ready` from any
/// thread is enough.
public enum Sodium {
    private static let initResult: Int32 = sodium_init()

    /// Ensures libsodium is initialised; traps only if the library cannot initialise at all,
    /// which leaves no secure randomness and therefore nothing safe to do.
    @inline(__always)
    public static func ensureInitialized() {
        precondition(initResult >= 0, "libsodium failed to initialise (sodium_init returned \(initResult))")
    }

    /// Zeroes `count` bytes at `pointer` in a way the compiler cannot elide.
    public static func memzero(_ pointer: UnsafeMutableRawPointer, count: Int) {
        sodium_memzero(pointer, count)
    }

    /// Constant-time comparison of two byte sequences of equal length.
    public static func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBytes { l in
            rhs.withUnsafeBytes { r in sodium_memcmp(l.baseAddress, r.baseAddress, lhs.count) == 0 }
        }
    }
}
