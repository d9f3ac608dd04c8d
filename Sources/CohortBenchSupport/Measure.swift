import Foundation

/// Timing helpers: monotonic clock, best-of and median of repeated runs.
public enum Measure {
    /// Seconds taken by `body`, on the monotonic clock.
    public static func seconds(_ body: () -> Void) -> Double {
        let clock = ContinuousClock()
        let elapsed = clock.measure(body)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    /// The median of `repetitions` timings of `body`.
    public static func median(repetitions: Int, _ body: () -> Void) -> Double {
        let times = (0..<repetitions).map { _ in seconds(body) }.sorted()
        return times[times.count / 2]
    }

    /// The fastest of `repetitions` timings of `body`: on a shared machine the least disturbed.
    public static func best(repetitions: Int, _ body: () -> Void) -> Double {
        (0..<repetitions).map { _ in seconds(body) }.min()!
    }

    /// Prints one JSON line with sorted keys.
    public static func emit(_ fields: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        FileHandle.standardOutput.synchronizeFile()
    }

    /// This process's peak resident set size (`VmHWM` in /proc/self/status), in bytes; nil
    /// where procfs is missing. Read at the end of a run, it is the high-water mark of the run.
    public static func peakResidentBytes() -> Int? { statusBytes("VmHWM") }

    /// Resident file-backed pages now (`RssFile`): mostly the executable's and the Swift
    /// runtime's code, shared by every process that maps them, and counted in `VmHWM`.
    public static func residentFileBytes() -> Int? { statusBytes("RssFile") }

    /// Another process's resident set size now (`VmRSS`), in bytes; nil once it has exited.
    public static func residentBytes(ofProcess pid: Int32) -> Int? { statusBytes("VmRSS", of: "\(pid)") }

    private static func statusBytes(_ field: String, of process: String = "self") -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            // "VmHWM:     12345 kB"
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
        }
        return nil
    }

    /// CPU time this process has used so far (user + system, all threads), in seconds.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) * 1e-6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Minor page faults of this process so far (all threads): pages first touched, mostly
    /// fresh buffers the kernel has to zero and map.
    public static func minorPageFaults() -> Int {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
        return usage.ru_minflt
    }

    /// Prevents the optimiser from discarding a computed value.
    @inline(never)
    public static func consume<T>(_ value: T) {
        withExtendedLifetime(value) {}
    }
}
