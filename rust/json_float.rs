//! Python's `float.__repr__` for `f64`, written without calling Python.
//!
//! simplejson (and so awslambdaric) writes finite floats with `repr()`; `CPython`'s repr takes the
//! shortest digit string that round-trips (David Gay's mode 0) and then picks fixed or scientific
//! notation: scientific when the decimal exponent `decpt` (value = 0.DIGITS × 10^decpt) is
//! `< -3` or `> 16`, otherwise fixed with at least one digit after the point. `ryu` yields the same
//! shortest round-trip digits (the candidate closest to the exact value; a tie is settled below),
//! so its digits are taken and re-laid out (about 3× faster than going through `{:e}`).

/// Appends `repr(value)` as Python would print it (`1e+16`, `1e-07`, `-0.0`, `5e-324`,
/// `0.1`, `1000000000000000.0`), or `NaN` / `Infinity` / `-Infinity` for non-finite values
/// (simplejson's `allow_nan=True` spellings).
pub(crate) fn write_float_repr(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"Infinity" } else { b"-Infinity" });
        return;
    }
    let negative = value.is_sign_negative();
    if value == 0.0 {
        out.extend_from_slice(if negative { b"-0.0" } else { b"0.0" });
        return;
    }
    let mut digits = [0u8; 24];
    let (ndigits, exp10) = shortest_digits(value.abs(), &mut digits);
    prefer_even_on_tie(value.abs(), &mut digits[..ndigits], exp10);
    // value = d.ddd × 10^exp10 = 0.dddd × 10^(exp10 + 1)
    let decpt = exp10 + 1;
    let digits = &digits[..ndigits];
    if negative {
        out.push(b'-');
    }
    if (-3..=16).contains(&decpt) {
        if decpt <= 0 {
            out.extend_from_slice(b"0.");
            for _ in 0..(-decpt) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        } else {
            let decpt = decpt as usize;
            if ndigits <= decpt {
                out.extend_from_slice(digits);
                for _ in ndigits..decpt {
                    out.push(b'0');
                }
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(&digits[..decpt]);
                out.push(b'.');
                out.extend_from_slice(&digits[decpt..]);
            }
        }
    } else {
        out.push(digits[0]);
        if ndigits > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp10 < 0 { b'-' } else { b'+' });
        let e = exp10.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        crate::json_encode::write_u64(u64::from(e), out);
    }
}

/// When the exact value lies exactly halfway between two shortest candidates, `CPython`'s repr
/// picks the one whose last digit is even; the shortest-digits algorithm may pick the other (e.g.
/// `73177653367606.625` → Python `…606.62`, Rust `…606.63`). Only odd last digits can differ.
///
/// A tie needs the exact decimal expansion of `value` to have exactly one digit more than the
/// shortest repr, the last being 5: at most 18 significant digits, so the exact expansion is
/// computed as an integer ([`exact_digits`]) instead of formatting 1,100 digits. Values whose
/// shortest repr is their exact value (`12.5`, `0.25`, `3e20`) return after one multiplication.
fn prefer_even_on_tie(value: f64, digits: &mut [u8], exp10: i32) {
    let n = digits.len();
    let last = digits[n - 1];
    if (last - b'0') % 2 == 0 {
        return;
    }
    let Some((exact, exact_exp)) = exact_digits(value) else {
        return;
    };
    // exact × 10^exact_exp, against the shortest D × 10^(exp10 − (n − 1)).
    let exact_len = decimal_len(exact);
    if exact_len != n + 1 || exact % 10 != 5 || exact_exp + 1 != exp10 - (n as i32 - 1) {
        return;
    }
    let shortest = digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    let below = exact / 10;
    if shortest != below && shortest != below + 1 {
        return;
    }
    let even = if below % 2 == 0 { below } else { below + 1 };
    if even == shortest || decimal_len(even) != n {
        return;
    }
    // Only take the other candidate if it reads back as the same float (both are equally near).
    let candidate = format!("{even}e{}", exact_exp + 1);
    if candidate.parse::<f64>().ok() == Some(value) {
        let mut rest = even;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
}

/// Number of decimal digits of `v` (1 for 0).
fn decimal_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// `(m, e)` with `value` = m × 2^e and m odd, for a finite nonzero `value` (`None` for zero).
fn odd_mantissa(value: f64) -> Option<(u64, i32)> {
    let bits = value.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp2) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), biased - 1075)
    };
    if mantissa == 0 {
        return None;
    }
    let zeros = mantissa.trailing_zeros();
    Some((mantissa >> zeros, exp2 + zeros as i32))
}

/// The exact decimal expansion of a finite positive `value` as `(D, e)` with value = D × 10^e and
/// D not a multiple of 10, when D has at most 19 digits; `None` when it has more (then no
/// shortest repr of at most 17 digits can be halfway between two candidates). With value =
/// m × 2^k, m odd: for k < 0, D = m × 5^−k and e = k; for k ≥ 0, D = (m / 5^z) × 2^(k − z) and e = z,
/// z being how many factors 10 the integer has.
fn exact_digits(value: f64) -> Option<(u64, i32)> {
    const LIMIT: u128 = 10_000_000_000_000_000_000;
    let (mut mantissa, exp2) = odd_mantissa(value)?;
    if exp2 < 0 {
        // 5^28 > 10^19: more factors of 5 cannot fit.
        let k = exp2.unsigned_abs();
        if k > 27 {
            return None;
        }
        let d = u128::from(mantissa) * 5u128.pow(k);
        return (d < LIMIT).then_some((d as u64, exp2));
    }
    let mut z = 0;
    while z < exp2 && mantissa % 5 == 0 {
        mantissa /= 5;
        z += 1;
    }
    let shift = (exp2 - z) as u32;
    if shift >= 64 || u128::from(mantissa) << shift >= LIMIT {
        return None;
    }
    Some(((mantissa << shift), z))
}

/// The shortest round-trip decimal digits of a finite, positive `value` (from `ryu`, which also
/// picks the candidate closest to the exact value), written into `digits` without leading or
/// trailing zeros. Returns `(count, exp10)` with value = d.ddd × 10^exp10.
fn shortest_digits(value: f64, digits: &mut [u8; 24]) -> (usize, i32) {
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(value).as_bytes();
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exp_part) = text.split_at(e_at);
    let mut exponent: i32 = 0;
    if let Some(exp_text) = exp_part.get(1..) {
        let (negative, body) = match exp_text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, exp_text),
        };
        for &b in body {
            exponent = exponent * 10 + i32::from(b - b'0');
        }
        if negative {
            exponent = -exponent;
        }
    }
    // mantissa = INT[.FRAC]; value = INTFRAC × 10^(exponent − len(FRAC)).
    let mut count = 0;
    let mut frac_len: i32 = 0;
    let mut after_point = false;
    for &b in mantissa {
        match b {
            b'.' => after_point = true,
            b'0' if count == 0 => {
                if after_point {
                    frac_len += 1;
                }
            }
            _ => {
                digits[count] = b;
                count += 1;
                if after_point {
                    frac_len += 1;
                }
            }
        }
    }
    let mut scale = exponent - frac_len;
    while count > 1 && digits[count - 1] == b'0' {
        count -= 1;
        scale += 1;
    }
    // INTFRAC without zeros = D (count digits) × 10^scale = d.ddd × 10^(scale + count − 1).
    (count, scale + i32::try_from(count).unwrap_or(0) - 1)
}

#[cfg(test)]
mod tests {
    use super::write_float_repr;

    fn repr(v: f64) -> String {
        let mut out = Vec::new();
        write_float_repr(v, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    // The halfway cases below are written exactly on purpose (they are exact binary values).
    #[allow(clippy::excessive_precision)]
    fn matches_python_repr_on_known_values() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e15, "1500000000000000.0"),
            (1e-7, "1e-07"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.001_234, "0.001234"),
            (5e-324, "5e-324"),
            (1e308, "1e+308"),
            (1.797_693_134_862_315_7e308, "1.7976931348623157e+308"),
            (2.225_073_858_507_201_4e-308, "2.2250738585072014e-308"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (9_007_199_254_740_993.0, "9007199254740992.0"),
            (1e22, "1e+22"),
            (2.5e20, "2.5e+20"),
            (123.456, "123.456"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
            (1.234e-100, "1.234e-100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (std::f64::consts::PI, "3.141592653589793"),
            (12_345_678_901_234_567.0, "1.2345678901234568e+16"),
            (1_234_567_890_123_456.7, "1234567890123456.8"),
            (-935_764_834_124_542.25, "-935764834124542.2"),
            (73_177_653_367_606.625, "73177653367606.62"),
            (2_181_084_933_252_552.25, "2181084933252552.2"),
        ];
        for &(value, expected) in cases {
            assert_eq!(repr(value), expected, "repr of {value:e}");
        }
    }

    /// The previous tie check (exact digits by formatting 1,100 of them), kept as the reference.
    fn prefer_even_on_tie_reference(value: f64, digits: &mut [u8], exp10: i32) {
        let n = digits.len();
        let last = digits[n - 1];
        if (last - b'0') % 2 == 0 || !tie_possible(value) {
            return;
        }
        // The exact decimal expansion of an f64 has at most 767 significant digits.
        let exact = format!("{value:.1100e}");
        let Some((mantissa, exp)) = exact.split_once('e') else {
            return;
        };
        if exp.parse::<i32>().ok() != Some(exp10) {
            return;
        }
        let exact_digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
        let significant = exact_digits.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
        let exact_digits = &exact_digits[..significant];
        if exact_digits.len() != n + 1 || exact_digits[n] != b'5' || exact_digits[..n - 1] != digits[..n - 1] {
            return;
        }
        // Halfway between `…(d)` and `…(d±1)`: take the neighbour of `last` on the other side.
        let other = if exact_digits[n - 1] == last {
            if last == b'9' {
                return;
            }
            last + 1
        } else if exact_digits[n - 1] + 1 == last {
            last - 1
        } else {
            return;
        };
        let mut candidate = String::with_capacity(n + 8);
        for (i, &d) in digits.iter().enumerate() {
            candidate.push(char::from(if i == n - 1 { other } else { d }));
        }
        candidate.push('e');
        candidate.push_str(&(exp10 - (n as i32 - 1)).to_string());
        if candidate.parse::<f64>().ok() == Some(value) {
            digits[n - 1] = other;
        }
    }

    /// Cheap filter for [`prefer_even_on_tie`]: a tie needs the exact decimal expansion of `value` to
    /// have at most 18 significant digits (one more than the longest shortest repr). With
    /// `value = m × 2^e`, `m` odd: for `e < 0` the expansion is the integer `m × 5^-e` (last digit 5)
    /// scaled, so it has `⌊log10(m) + (-e)·log10 5⌋ + 1` digits; for `e ≥ 0` the value is an integer,
    /// and below 2^53 every integer is a float, so its shortest repr is exact and no tie exists.
    fn tie_possible(value: f64) -> bool {
        let Some((mantissa, exp2)) = super::odd_mantissa(value) else {
            return false;
        };
        let mantissa_bits = 64 - mantissa.leading_zeros() as i32;
        if exp2 >= 0 {
            return mantissa_bits + exp2 > 53;
        }
        // A lower bound of log10(m × 5^k) (m ≥ 2^(bits-1)); the digit count is ⌊log10⌋ + 1. The
        // small margin absorbs rounding in this estimate: borderline values take the exact check.
        let log5 = 1.0 - std::f64::consts::LOG10_2;
        let log10_lower = f64::from(mantissa_bits - 1) * std::f64::consts::LOG10_2 + f64::from(-exp2) * log5;
        log10_lower < 18.000_001
    }

    /// Halfway candidates (x.5, x.25, x.125 … at every magnitude where ties occur, and random bit
    /// patterns): the integer tie check agrees with the formatted reference.
    #[test]
    // Rounding the random integers to floats is the point: any float will do.
    #[allow(clippy::cast_precision_loss)]
    fn tie_check_matches_reference() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        for i in 0..200_000u64 {
            let r = next();
            let v = match i % 4 {
                0 => f64::from_bits(r),
                1 => (r >> (r % 50)) as f64 + [0.5, 0.25, 0.125, 0.375, 0.0625][(i % 5) as usize],
                2 => ((r >> 11) as f64) * 2f64.powi((r % 40) as i32),
                _ => ((r % 100_000_000) as f64) / [2.0, 4.0, 8.0, 1024.0, 3.0][(i % 5) as usize],
            };
            if !v.is_finite() || v == 0.0 {
                continue;
            }
            let v = v.abs();
            let mut digits = [0u8; 24];
            let (n, exp10) = super::shortest_digits(v, &mut digits);
            let mut fast = digits;
            super::prefer_even_on_tie(v, &mut fast[..n], exp10);
            let mut slow = digits;
            prefer_even_on_tie_reference(v, &mut slow[..n], exp10);
            assert_eq!(fast[..n], slow[..n], "{v:e}");
            checked += 1;
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn round_trips() {
        // A cheap xorshift over bit patterns: every output must parse back to the same bits.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = f64::from_bits(state);
            if !v.is_finite() {
                continue;
            }
            let text = repr(v);
            let back: f64 = text.parse().unwrap_or(f64::NAN);
            assert_eq!(back.to_bits(), v.to_bits(), "{text}");
        }
    }
}
