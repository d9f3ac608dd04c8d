#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a coordinator or participant process allocates the multi-megabyte buffers a round is
/// made of (frames, models, plaintexts, sums, noise).
public enum LargeAllocations {
    /// Makes glibc keep freed model-sized buffers in one heap and hand them out again, instead
    /// of mapping fresh pages for each.
    ///
    /// A round allocates and frees model-sized buffers (4 MB at 10⁶ parameters: every received
    /// update frame, the invitation and evaluation frames, the noise, the noised mean and the
    /// checkpoint on the coordinator; the received model and the sealed frame on a participant)
    /// from NIO's event-loop threads and the concurrency pool's threads. Served by `mmap` (the
    /// previous setting, a 256 KiB threshold), each comes back as fresh pages that the kernel
    /// zeroes and maps one fault per 4 KiB: ~20 000 faults and ~25 % of the coordinator's CPU per
    /// round at 8 × 10⁶ (docs/PERFORMANCE.md). With glibc's default, its threshold rises after the
    /// first large free and such buffers come from per-thread arenas that each keep their peak
    /// (~160 MB coordinator RSS). So: one arena for every thread (no per-thread peaks), buffers up to
    /// 32 MiB (the largest threshold glibc allows) from the heap, whose top is returned to the
    /// system only beyond 32 MiB free. Buffers beyond 32 MiB (models over 8 × 10⁶ parameters) are
    /// still mapped and unmapped each time. Idempotent; a no-op where glibc is not the allocator.
    public static func reuseLargeBuffers() {
        #if canImport(Glibc)
        // <malloc.h> is not part of the Glibc module: look mallopt up. Its parameters:
        // M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3, M_ARENA_MAX -8.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(-8, 1)
        _ = mallopt(-3, 32 << 20)
        _ = mallopt(-1, 32 << 20)
        #endif
    }
}
