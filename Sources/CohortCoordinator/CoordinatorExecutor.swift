import Dispatch

/// The coordinator actor's executor: a serial dispatch queue of its own.
///
/// The actor appends to the ledger (a write and an fsync per entry) and writes suspensions, the
/// round queue and adopted policies synchronously, in the order its state changes. On this queue
/// those blocking calls hold a thread of its own and never one of Swift's cooperative pool, on
/// which connection handlers and the network run; actor isolation still orders every access.
final class CoordinatorExecutor: SerialExecutor {
    private let queue = DispatchQueue(label: "cohort.coordinator")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }
}

/// Blocking work (encoding and fsyncing a checkpoint) on a queue of its own, off the actor and
/// off the cooperative pool.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "cohort.coordinator.files", qos: .utility)
    /// Reads for operators (model exports) wait on a queue of their own, so a large export never
    /// holds up the next checkpoint.
    private static let readQueue = DispatchQueue(label: "cohort.coordinator.reads", qos: .utility)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(on: queue, body)
    }

    static func read<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(on: readQueue, body)
    }

    private static func run<T: Sendable>(
        on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
