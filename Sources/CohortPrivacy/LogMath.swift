#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Numerical helpers for the RDP accountant, mirroring the ones in Google's `dp_accounting`
/// 0.6.0 (`rdp_privacy_accountant.py`) so the accountant reproduces its values.
enum LogMath {
    /// log(exp(x) + exp(y)), stable for large magnitudes (`_log_add`).
    @inline(__always)
    static func logAdd(_ x: Double, _ y: Double) -> Double {
        let a = min(x, y)
        let b = max(x, y)
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log|Γ(x)|, thread-safe (`lgamma` writes the global `signgam`; `lgamma_r` does not).
    @inline(__always)
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// log |C(n, k)| through log-gamma (`_log_comb`). For fractional n and k > n + 1 the
    /// coefficient is negative; like scipy's `gammaln`, this returns the log of its magnitude.
    @inline(__always)
    static func logBinomial(_ n: Double, _ k: Double) -> Double {
        logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
    }

    /// log(erfc(x)), accurate far into the tail where erfc underflows (`_log_erfc`, which uses
    /// scipy's `log_ndtr`).
    static func logErfc(_ x: Double) -> Double {
        // Below ~20 the C library's erfc is accurate to an ulp and far from underflow
        // (erfc(20) ≈ 5e-176), so its logarithm is accurate too.
        if x < 20 {
            return log(erfc(x))
        }
        // Asymptotic expansion erfc(x) = exp(-x²)/(x√π) · Σ_k (-1)^k (2k-1)!! / (2x²)^k;
        // at x ≥ 20 the ninth term is below 1e-17, so nine terms reach double precision.
        let inverseTwoXSquared = 1 / (2 * x * x)
        var term = 1.0
        var series = 1.0
        for k in 1...9 {
            term *= -Double(2 * k - 1) * inverseTwoXSquared
            series += term
        }
        return -x * x - log(x) - 0.5 * log(Double.pi) + log(series)
    }
}
