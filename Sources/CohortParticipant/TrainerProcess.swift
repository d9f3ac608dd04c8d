import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One run of an external trainer command, which can be stopped: at the round's deadline, or
/// when the participant is stopped (its task cancelled).
///
/// Stopping sends SIGTERM to the trainer's process group — the command runs through `/bin/sh -c`,
/// so the group holds the shell and whatever it started (python, a pipeline) — and SIGKILL to the
/// group ``grace`` later if the shell is still running. Once the shell has exited after a stop,
/// the group is sent SIGKILL at once: a grandchild that ignored SIGTERM must not outlive the run.
/// Foundation's `Process` starts each child as the leader of a new process group on Linux and
/// macOS; should it not, only the shell itself is signalled (never this participant's own group).
final class TrainerProcess: Sendable {
    /// Why a run was stopped.
    enum StopReason: Sendable, Equatable {
        /// The deadline passed while the trainer ran.
        case deadline
        /// The participant is stopping (its task was cancelled).
        case cancelled
    }

    private struct State {
        var pid: pid_t?
        /// Whether `pid` leads its own process group (then the group is signalled).
        var leadsGroup = false
        var status: Int32?
        var stopReason: StopReason?
        var waiter: CheckedContinuation<Int32, Never>?
    }

    private let state = Mutex(State())
    /// How long the trainer has between SIGTERM and SIGKILL.
    let grace: Duration

    init(grace: Duration) {
        self.grace = grace
    }

    /// Why the run was stopped, if it was.
    var stopReason: StopReason? { state.withLock { $0.stopReason } }

    /// Records the started child; a stop requested before it existed is carried out now.
    func started(pid: pid_t) {
        // Read outside the lock: a system call, and the child cannot change group once exec'd.
        let leadsGroup = pid > 0 && getpgid(pid) == pid
        let stopNow = state.withLock { state -> Bool in
            state.pid = pid
            state.leadsGroup = leadsGroup
            return state.stopReason != nil && state.status == nil
        }
        if stopNow { terminate() }
    }

    /// The child (the shell) exited; `Process.terminationHandler` calls this.
    func exited(status: Int32) {
        let (waiter, killGroup) = state.withLock { state -> (CheckedContinuation<Int32, Never>?, Bool) in
            state.status = status
            defer { state.waiter = nil }
            return (state.waiter, state.stopReason != nil)
        }
        // A stopped run leaves nothing behind: members of the group that outlived the shell go too.
        if killGroup { signalGroupOnly(SIGKILL) }
        waiter?.resume(returning: status)
    }

    /// Waits for the child's exit status.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let status = state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiter = continuation
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Stops the run for `reason` (the first reason wins); nothing happens after it exited.
    func stop(_ reason: StopReason) {
        let running = state.withLock { state -> Bool in
            guard state.stopReason == nil, state.status == nil else { return false }
            state.stopReason = reason
            return state.pid != nil
        }
        if running { terminate() }
    }

    /// SIGTERM now, SIGKILL after the grace period unless the child exited meanwhile.
    private func terminate() {
        send(SIGTERM)
        let grace = grace
        Task { [self] in
            try? await Task.sleep(for: grace)
            if state.withLock({ $0.status == nil }) { send(SIGKILL) }
        }
    }

    private func send(_ signal: Int32) {
        let target = state.withLock { state -> pid_t? in
            guard let pid = state.pid, pid > 0, state.status == nil else { return nil }
            return state.leadsGroup ? -pid : pid
        }
        if let target { _ = kill(target, signal) }
    }

    /// Signals the group after the shell exited (its id stays reserved while members remain).
    private func signalGroupOnly(_ signal: Int32) {
        let group = state.withLock { state -> pid_t? in
            guard let pid = state.pid, pid > 0, state.leadsGroup else { return nil }
            return pid
        }
        if let group { _ = kill(-group, signal) }
    }
}
