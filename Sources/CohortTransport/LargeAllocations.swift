#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a coordinator or participant process allocates the multi-megabyte buffers a round is
/// made of (frames, models, plaintexts).
public enum LargeAllocations {
    /// Makes glibc serve every allocation of 256 KiB or more with its own mapping, returned to
    /// the system as soon as it is freed.
    ///
    /// A round allocates and frees model-sized buffers (4 MB at 10⁶ parameters: received frames,
    /// plaintext, noise, the noised mean, the checkpoint on the coordinator; the received model,
    /// the plaintext and the sealed frame on a participant) from NIO's event-loop
    /// threads and the concurrency pool's threads. glibc raises its mmap threshold to the size of
    /// the largest mapped block freed (up to 32 MiB), after which such buffers come from per-thread
    /// heaps that keep their peak size: in the round benchmark the coordinator's peak RSS was
    /// ~160 MB with the default, ~115 MB with a fixed threshold. Setting it also fixes the trim
    /// threshold. Idempotent; a no-op where glibc is not the allocator.
    public static func returnLargeBuffersToTheSystem() {
        #if canImport(Glibc)
        // <malloc.h> is not part of the Glibc module: look mallopt up (M_MMAP_THRESHOLD is -3).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else { return }
        _ = unsafeBitCast(symbol, to: Mallopt.self)(-3, 256 * 1024)
        #endif
    }
}
