#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide settings a Cohort executable makes once, first thing in its entry point.
///
/// Libraries never call these: changing a signal disposition or the allocator's behaviour is the
/// host process's decision (a test runner or an embedding application may want otherwise).
public enum ProcessSetup {
    /// The settings `cohort-coordinator` and `cohort-participant` make: broken pipes are errors,
    /// not a fatal signal, and large buffers are reused from one heap rather than mapped afresh.
    public static func forServer() {
        ignoreBrokenPipes()
        LargeAllocations.reuseLargeBuffers()
    }

    /// Makes a write to a pipe whose reader has gone (an alert command or an external trainer
    /// that exits without reading its input) fail with `EPIPE` instead of killing the process.
    /// NIO's sockets do not need it; `Pipe` writes through Foundation do. Idempotent.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }
}
