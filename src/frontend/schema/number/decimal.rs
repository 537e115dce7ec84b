//! Exact decimal arithmetic for the number regexes: [`Decimal`], a JSON
//! number read from its text without rounding (a bound, a step, an enum
//! value), and a small signed big integer for the quotients of a bound by
//! a step. Nothing here goes through `f64`.

use std::cmp::Ordering;
use std::fmt;

/// Most significant digits accepted in a `multipleOf` (its integer part `m`
/// must fit in a `u64`).
pub(crate) const MAX_STEP_DIGITS: usize = 18;

/// A decimal number, exact: `±0.d₁d₂…dₙ × 10^point`.
///
/// `digits` has no leading or trailing zeros; zero has no digits, `point`
/// 0 and is never negative.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Decimal {
    pub(super) neg: bool,
    pub(super) digits: Vec<u8>,
    pub(super) point: i64,
}

impl Decimal {
    /// Parses JSON number text exactly (`"1.5e-3"`, `"-20"`, `"1e400"`).
    ///
    /// Leading zeros in the integer part are tolerated. Returns `None` for
    /// anything else, or for an exponent beyond ±10¹².
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let (neg, body) = match text.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, text),
        };
        let (mant, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = match mant.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (mant, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return None;
        }
        let e: i64 = match exp {
            None => 0,
            Some(x) => {
                let (eneg, d) = match x.as_bytes().first() {
                    Some(b'+') => (false, &x[1..]),
                    Some(b'-') => (true, &x[1..]),
                    _ => (false, x),
                };
                if !all_digits(d) {
                    return None;
                }
                let d = d.trim_start_matches('0');
                if d.len() > 12 {
                    return None;
                }
                let v: i64 = if d.is_empty() { 0 } else { d.parse().ok()? };
                if eneg {
                    -v
                } else {
                    v
                }
            }
        };
        let mut digits: Vec<u8> = int
            .bytes()
            .chain(frac.unwrap_or("").bytes())
            .map(|b| b - b'0')
            .collect();
        let mut point = int.len() as i64 + e;
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        point -= lead as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        Some(Decimal::from_parts(neg, digits, point))
    }

    pub(super) fn from_parts(neg: bool, digits: Vec<u8>, point: i64) -> Decimal {
        if digits.is_empty() {
            Decimal {
                neg: false,
                digits,
                point: 0,
            }
        } else {
            Decimal { neg, digits, point }
        }
    }

    /// Whether the value is zero.
    pub(crate) fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether the value is negative (zero never is).
    pub(crate) fn is_negative(&self) -> bool {
        self.neg
    }

    /// The value with its sign flipped.
    #[cfg(test)]
    pub(crate) fn negated(&self) -> Decimal {
        Decimal::from_parts(!self.neg, self.digits.clone(), self.point)
    }

    /// The absolute value.
    pub(crate) fn abs(&self) -> Decimal {
        Decimal::from_parts(false, self.digits.clone(), self.point)
    }

    /// Whether the value is an integer.
    pub(crate) fn is_integer(&self) -> bool {
        self.digits.len() as i64 <= self.point || self.is_zero()
    }

    /// The value as a `u64`, when it is a non-negative integer that fits.
    pub(crate) fn to_u64(&self) -> Option<u64> {
        if self.neg || !self.is_integer() || self.point > 20 {
            return None;
        }
        let mut v: u64 = 0;
        for i in 0..self.point.max(0) as usize {
            let d = self.digits.get(i).copied().unwrap_or(0);
            v = v.checked_mul(10)?.checked_add(d as u64)?;
        }
        Some(v)
    }

    /// Whether `self` is an integer multiple of `step` (`step > 0`).
    ///
    /// Exact, for any exponents; `step` must have at most
    /// [`MAX_STEP_DIGITS`] significant digits (returns `false` otherwise).
    pub(crate) fn is_multiple_of(&self, step: &Decimal) -> bool {
        if self.is_zero() {
            return true;
        }
        let Some((m, p)) = step.int_exp() else {
            return false;
        };
        let e = self.point - self.digits.len() as i64;
        if e < p {
            // self has a nonzero digit below 10^p.
            return false;
        }
        let mut r: u128 = 0;
        for &d in &self.digits {
            r = (r * 10 + d as u128) % m as u128;
        }
        r = r * pow_mod(10, (e - p) as u64, m as u128) % m as u128;
        r == 0
    }

    /// The least common multiple of two steps (both `> 0`): a number is a
    /// multiple of both exactly when it is a multiple of this. `None` when
    /// it has more than [`MAX_STEP_DIGITS`] significant digits.
    pub(crate) fn lcm(&self, other: &Decimal) -> Option<Decimal> {
        let (m1, p1) = self.int_exp()?;
        let (m2, p2) = other.int_exp()?;
        let p = p1.min(p2);
        let scale = |m: u64, q: i64| -> Option<u128> {
            10u128
                .checked_pow(u32::try_from(q - p).ok()?)?
                .checked_mul(m as u128)
        };
        let (a, b) = (scale(m1, p1)?, scale(m2, p2)?);
        let gcd = |mut x: u128, mut y: u128| {
            while y != 0 {
                (x, y) = (y, x % y);
            }
            x
        };
        let l = (a / gcd(a, b)).checked_mul(b)?;
        let d = Decimal::parse(&format!("{l}e{p}"))?;
        d.int_exp().map(|_| d)
    }

    /// `(m, p)` with value `= m × 10^p`, when the digits fit a `u64`.
    pub(super) fn int_exp(&self) -> Option<(u64, i64)> {
        if self.is_zero() || self.digits.len() > MAX_STEP_DIGITS {
            return None;
        }
        let m = self.digits.iter().fold(0u64, |a, &d| a * 10 + d as u64);
        Some((m, self.point - self.digits.len() as i64))
    }
}

pub(super) fn pow_mod(mut b: u128, mut e: u64, m: u128) -> u128 {
    let mut r = 1 % m;
    b %= m;
    while e > 0 {
        if e & 1 == 1 {
            r = r * b % m;
        }
        b = b * b % m;
        e >>= 1;
    }
    r
}

impl fmt::Display for Decimal {
    /// Scientific notation: `-0.125e3` is written `-1.25e2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return write!(f, "0");
        }
        if self.neg {
            write!(f, "-")?;
        }
        write!(f, "{}", self.digits[0])?;
        if self.digits.len() > 1 {
            write!(f, ".")?;
            for d in &self.digits[1..] {
                write!(f, "{d}")?;
            }
        }
        let e = self.point - 1;
        if e != 0 {
            write!(f, "e{e}")?;
        }
        Ok(())
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Decimal) -> Ordering {
        let sign = |d: &Decimal| {
            if d.is_zero() {
                0
            } else if d.neg {
                -1
            } else {
                1
            }
        };
        let (a, b) = (sign(self), sign(other));
        if a != b || a == 0 {
            return a.cmp(&b);
        }
        let mag = self
            .point
            .cmp(&other.point)
            .then_with(|| self.digits.cmp(&other.digits));
        if a < 0 {
            mag.reverse()
        } else {
            mag
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A signed integer: sign and decimal digits, most significant first, no
/// leading zeros (zero is empty and non-negative).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct BigInt {
    pub(super) neg: bool,
    pub(super) mag: Vec<u8>,
}

pub(super) fn trim_lead(mut v: Vec<u8>) -> Vec<u8> {
    let lead = v.iter().take_while(|&&d| d == 0).count();
    v.drain(..lead);
    v
}

pub(super) fn mag_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

pub(super) fn mag_inc(v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    let mut i = v.len();
    loop {
        if i == 0 {
            v.insert(0, 1);
            return v;
        }
        i -= 1;
        if v[i] == 9 {
            v[i] = 0;
        } else {
            v[i] += 1;
            return v;
        }
    }
}

/// `v - 1` for `v >= 1`.
pub(super) fn mag_dec(v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    let mut i = v.len();
    while i > 0 {
        i -= 1;
        if v[i] == 0 {
            v[i] = 9;
        } else {
            v[i] -= 1;
            break;
        }
    }
    trim_lead(v)
}

impl BigInt {
    pub(super) fn add_one(&self, up: bool) -> BigInt {
        let (neg, mag) = match (self.neg, up, self.mag.is_empty()) {
            (_, false, true) => (true, vec![1]),
            (false, true, _) | (true, false, _) => (self.neg, mag_inc(&self.mag)),
            (false, false, _) | (true, true, _) => (self.neg, mag_dec(&self.mag)),
        };
        BigInt {
            neg: neg && !mag.is_empty(),
            mag,
        }
    }

    pub(super) fn cmp(&self, o: &BigInt) -> Ordering {
        match (self.neg, o.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => mag_cmp(&self.mag, &o.mag),
            (true, true) => mag_cmp(&o.mag, &self.mag),
        }
    }
}

/// `(floor(x / (m × 10^p)), whether the division is exact)`.
pub(super) fn floor_div(x: &Decimal, m: u64, p: i64) -> (BigInt, bool) {
    let t = x.point - x.digits.len() as i64 - p;
    let mut num = x.digits.clone();
    let mut exact = true;
    if t >= 0 {
        num.extend(std::iter::repeat_n(0, t as usize));
    } else {
        let keep = (num.len() as i64 + t).max(0) as usize;
        exact = num[keep..].iter().all(|&d| d == 0);
        num.truncate(keep);
    }
    let mut q = Vec::with_capacity(num.len());
    let mut r: u128 = 0;
    for d in num {
        r = r * 10 + d as u128;
        q.push((r / m as u128) as u8);
        r %= m as u128;
    }
    exact &= r == 0;
    let q = BigInt {
        neg: false,
        mag: trim_lead(q),
    };
    if !x.neg {
        (q, exact)
    } else {
        let q = if exact { q } else { q.add_one(true) };
        (
            BigInt {
                neg: !q.mag.is_empty(),
                mag: q.mag,
            },
            exact,
        )
    }
}
