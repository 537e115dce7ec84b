use super::decimal::trim_lead;
use super::*;
use crate::rng::Rng;
use regex::bytes::{Regex, RegexBuilder};

fn d(s: &str) -> Decimal {
    Decimal::parse(s).unwrap_or_else(|| panic!("bad decimal {s}"))
}

struct Compiled {
    parts: Vec<Regex>,
}

impl Compiled {
    fn new(parts: &[String]) -> Compiled {
        Compiled {
            parts: parts
                .iter()
                .map(|p| {
                    RegexBuilder::new(&format!("^(?:{p})$"))
                        .unicode(false)
                        .size_limit(1 << 30)
                        .dfa_size_limit(1 << 30)
                        .build()
                        .unwrap_or_else(|e| panic!("bad regex {p}: {e}"))
                })
                .collect(),
        }
    }
    fn accepts(&self, s: &str) -> bool {
        self.parts.iter().all(|r| r.is_match(s.as_bytes()))
    }
}

fn compile(c: &NumberConstraint) -> Option<Compiled> {
    number_regex(c)
        .unwrap_or_else(|e| panic!("{c:?}: {e}"))
        .map(|p| Compiled::new(&p))
}

/// The value of the written exponent of a spelling (saturating).
fn written_exp(s: &str) -> i64 {
    match s.find(['e', 'E']) {
        None => 0,
        Some(i) => {
            let x = &s[i + 1..];
            let (neg, digits) = match x.as_bytes()[0] {
                b'-' => (true, &x[1..]),
                b'+' => (false, &x[1..]),
                _ => (false, x),
            };
            let digits = digits.trim_start_matches('0');
            let v: i64 = if digits.len() > 12 {
                i64::MAX / 2
            } else if digits.is_empty() {
                0
            } else {
                digits.parse().unwrap()
            };
            if neg {
                -v
            } else {
                v
            }
        }
    }
}

/// Whether the module docs promise an exact verdict on spelling `s`
/// under `c`: its exponent is within the window of 0 or of one of `c`'s
/// scales, its value is zero, or its mantissa has at most `EXP_WINDOW`
/// digits on each side of the point.
fn promised_exact(c: &NumberConstraint, s: &str) -> bool {
    let body = s.trim_start_matches('-');
    let mant = &body[..body.find(['e', 'E']).unwrap_or(body.len())];
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let short = int.len() as i64 <= SCALE_WINDOW && frac.len() as i64 <= SCALE_WINDOW;
    // A bound's scale counts without a step; the step's always.
    let step = step_of(c).ok().flatten();
    let mut scales = Vec::new();
    if step.is_none() {
        for (b, _) in [&c.minimum, &c.maximum].into_iter().flatten() {
            scales.push(b.point);
        }
    }
    if let Some((_, p)) = step {
        scales.push(p);
    }
    let e = written_exp(s);
    e.abs() <= EXP_WINDOW
        || scales.iter().any(|sc| (e - sc).abs() <= SCALE_WINDOW)
        || short
        || Decimal::parse(s).is_some_and(|v| v.is_zero())
}

/// One spelling of `v` whose written exponent is `e`.
fn spell(v: &Decimal, e: i64, rng: &mut Rng) -> String {
    let mut out = String::new();
    if v.neg || (v.is_zero() && rng.chance(1, 3)) {
        out.push('-');
    }
    let zeros = |n: i64| "0".repeat(n.max(0) as usize);
    let s: String = v.digits.iter().map(|x| x.to_string()).collect();
    let len = s.len() as i64;
    let p = v.point - e;
    let trail = if rng.chance(1, 3) {
        zeros(rng.range(1, 3))
    } else {
        String::new()
    };
    if v.is_zero() {
        out.push('0');
        if rng.chance(1, 2) {
            out.push('.');
            out.push_str(&zeros(rng.range(1, 3)));
        }
    } else if p >= len {
        out.push_str(&s);
        out.push_str(&zeros(p - len));
        if !trail.is_empty() {
            out.push('.');
            out.push_str(&trail);
        }
    } else if p > 0 {
        out.push_str(&s[..p as usize]);
        out.push('.');
        out.push_str(&s[p as usize..]);
        out.push_str(&trail);
    } else {
        out.push_str("0.");
        out.push_str(&zeros(-p));
        out.push_str(&s);
        out.push_str(&trail);
    }
    if e != 0 || rng.chance(1, 4) {
        out.push(if rng.chance(1, 2) { 'e' } else { 'E' });
        if e < 0 {
            out.push('-');
        } else if rng.chance(1, 3) {
            out.push('+');
        } else if e == 0 && rng.chance(1, 3) {
            out.push('-');
        }
        out.push_str(&zeros(rng.range(0, 2) * rng.range(0, 1)));
        out.push_str(&e.abs().to_string());
    }
    out
}

fn random_decimal(rng: &mut Rng, max_digits: i64, point: (i64, i64)) -> Decimal {
    if rng.chance(1, 30) {
        return d("0");
    }
    let n = rng.range(1, max_digits);
    let digits: Vec<u8> = (0..n).map(|_| rng.below(10) as u8).collect();
    let point = rng.range(point.0, point.1);
    let mut x = Decimal::from_parts(rng.chance(1, 2), trim_lead(digits), point);
    while x.digits.last() == Some(&0) {
        x.digits.pop();
    }
    Decimal::from_parts(x.neg, x.digits, x.point)
}

/// Values adjacent to `b`: `b` itself, and one unit more or less in the
/// last digit and in a digit beyond.
fn neighbours(b: &Decimal) -> Vec<Decimal> {
    let mut out = vec![b.clone(), b.negated()];
    let ulp_pos = b.point - b.digits.len() as i64;
    for k in [0, 1, 3] {
        let p = ulp_pos - k;
        let ulp = Decimal::from_parts(false, vec![1], p + 1);
        out.push(add(b, &ulp));
        out.push(add(b, &ulp.negated()));
    }
    out
}

/// Exact `a + b` (test helper; via big integers at a common exponent).
fn add(a: &Decimal, b: &Decimal) -> Decimal {
    let ea = a.point - a.digits.len() as i64;
    let eb = b.point - b.digits.len() as i64;
    let e = ea.min(eb);
    let scaled = |x: &Decimal, ex: i64| -> i128 {
        let mut v: i128 = 0;
        for &dg in &x.digits {
            v = v * 10 + dg as i128;
        }
        for _ in 0..(ex - e) {
            v *= 10;
        }
        if x.neg {
            -v
        } else {
            v
        }
    };
    let sum = scaled(a, ea) + scaled(b, eb);
    let text = format!("{sum}e{e}");
    d(&text)
}

/// Checks `c` against many spellings; returns the number checked.
fn check(c: &NumberConstraint, extra: &[Decimal], rng: &mut Rng) -> usize {
    let Some(re) = compile(c) else {
        // Empty: no value tried may satisfy it.
        let mut probes = extra.to_vec();
        for _ in 0..200 {
            probes.push(random_decimal(rng, 4, (-3, 4)));
        }
        for v in probes {
            assert!(!c.contains(&v), "{c:?} said empty but contains {v}");
        }
        return 0;
    };
    let mut values: Vec<Decimal> = extra.to_vec();
    for b in [&c.minimum, &c.maximum].into_iter().flatten() {
        values.extend(neighbours(&b.0));
    }
    if let Some(m) = &c.multiple_of {
        for k in [-3i64, -1, 1, 2, 7, 10] {
            let kd = d(&k.to_string());
            values.push(mul(m, &kd));
            if let Some((lo, _)) = &c.minimum {
                // A multiple near the lower bound.
                values.push(add(&mul(m, &floor_q(lo, m)), &mul(m, &kd)));
            }
        }
    }
    for _ in 0..60 {
        values.push(random_decimal(rng, 6, (-4, 6)));
    }
    values.push(d("0"));
    // The exponents at which the constraint's digits sit.
    let mut scales: Vec<i64> = [&c.minimum, &c.maximum]
        .into_iter()
        .flatten()
        .map(|b| b.0.point)
        .collect();
    scales.extend(
        c.multiple_of
            .as_ref()
            .map(|m| m.point - m.digits.len() as i64),
    );
    let mut n = 0;
    for v in &values {
        if v.digits.len() > 30 {
            continue;
        }
        let mut exps: Vec<i64> = vec![0, 1, -1, 2, -2, EXP_WINDOW, -EXP_WINDOW];
        exps.extend([EXP_WINDOW + 1, -EXP_WINDOW - 1, 45, -45, 999_999]);
        for &sc in &scales {
            for k in [
                -SCALE_WINDOW - 2,
                -SCALE_WINDOW,
                -1,
                0,
                1,
                SCALE_WINDOW,
                13,
                25,
            ] {
                exps.push(sc + k);
            }
        }
        exps.push(v.point);
        exps.push(v.point - 1);
        exps.push(v.point - v.digits.len() as i64);
        for _ in 0..3 {
            exps.push(rng.range(-EXP_WINDOW, EXP_WINDOW));
        }
        for e in exps {
            if (v.point - e).abs() > 60 {
                continue;
            }
            let s = spell(v, e, rng);
            n += 1;
            let val = Decimal::parse(&s).unwrap();
            assert_eq!(&val, v, "spelling {s} of {v}");
            let member = c.contains(&val);
            let got = re.accepts(&s);
            if promised_exact(c, &s) {
                assert_eq!(got, member, "{c:?}: {s} (member {member})");
            } else {
                assert!(!got || member, "{c:?}: false accept of {s}");
            }
        }
    }
    // Raw huge exponents never sneak in.
    for s in [
        "1e999999",
        "-1e999999",
        "9.9e999999",
        "1e-999999",
        "-1.5e-999999",
    ] {
        let val = Decimal::parse(s);
        if re.accepts(s) {
            assert!(val.is_some_and(|v| c.contains(&v)), "{c:?}: {s}");
        }
    }
    n
}

fn mul(a: &Decimal, b: &Decimal) -> Decimal {
    let mut prod = vec![0u32; a.digits.len() + b.digits.len()];
    for (i, &x) in a.digits.iter().enumerate() {
        for (j, &y) in b.digits.iter().enumerate() {
            prod[i + j + 1] += x as u32 * y as u32;
        }
    }
    for i in (1..prod.len()).rev() {
        let carry = prod[i] / 10;
        prod[i] %= 10;
        prod[i - 1] += carry;
    }
    let digits: Vec<u8> = prod.iter().map(|&x| x as u8).collect();
    let point = a.point + b.point;
    let lead = digits.iter().take_while(|&&x| x == 0).count();
    let mut ds = digits[lead..].to_vec();
    while ds.last() == Some(&0) {
        ds.pop();
    }
    Decimal::from_parts(a.neg != b.neg, ds, point - lead as i64)
}

/// `floor(x / m)` as a Decimal (small values only).
fn floor_q(x: &Decimal, m: &Decimal) -> Decimal {
    let (mm, p) = m.int_exp().unwrap();
    let (q, _) = floor_div(x, mm, p);
    let mut text: String = q.mag.iter().map(|x| x.to_string()).collect();
    if text.is_empty() {
        text = "0".into();
    }
    if q.neg {
        text.insert(0, '-');
    }
    d(&text)
}

fn num(
    integer: bool,
    lo: Option<(&str, bool)>,
    hi: Option<(&str, bool)>,
    m: Option<&str>,
) -> NumberConstraint {
    NumberConstraint {
        integer,
        minimum: lo.map(|(s, x)| (d(s), x)),
        maximum: hi.map(|(s, x)| (d(s), x)),
        multiple_of: m.map(d),
    }
}

/// `nat_range` and `exp_range` against every number up to 2,500.
#[test]
fn exponent_ranges() {
    let ranges = [
        (1, Some(1)),
        (1, Some(9)),
        (3, Some(17)),
        (21, Some(288)),
        (99, Some(100)),
        (100, Some(999)),
        (109, Some(1021)),
        (321, None),
        (1, None),
        (1000, Some(1999)),
    ];
    for (lo, hi) in ranges {
        let re = Regex::new(&format!("^(?:{})$", nat_range(lo, hi))).unwrap();
        for n in 0..2500u64 {
            let want = n >= lo && hi.is_none_or(|h| n <= h);
            assert_eq!(
                re.is_match(n.to_string().as_bytes()),
                want,
                "{lo}..{hi:?}: {n}"
            );
        }
        assert!(!re.is_match(b"01") && !re.is_match(b""));
        let (l, h) = (lo as i64, hi.map(|h| h as i64));
        let up = Regex::new(&format!("^(?:{})$", exp_range(Some(l), h))).unwrap();
        let down = Regex::new(&format!("^(?:{})$", exp_range(h.map(|h| -h), Some(-l)))).unwrap();
        for n in [
            lo,
            lo + 1,
            lo.saturating_sub(1),
            hi.unwrap_or(5000),
            hi.unwrap_or(5000) + 1,
        ] {
            let want = n >= lo && hi.is_none_or(|h| n <= h);
            for (text, re) in [
                (format!("e{n}"), &up),
                (format!("E+00{n}"), &up),
                (format!("e-0{n}"), &down),
            ] {
                assert_eq!(re.is_match(text.as_bytes()), want, "{lo}..{hi:?}: {text}");
            }
            assert!(!up.is_match(format!("e-{n}").as_bytes()));
            assert!(!down.is_match(format!("e{n}").as_bytes()));
        }
    }
}

#[test]
fn decimal_parse_and_order() {
    assert_eq!(d("1.5e1"), d("15"));
    assert_eq!(d("150e-1"), d("15.000"));
    assert_eq!(d("-0"), d("0"));
    assert_eq!(d("0.0e5"), d("0"));
    assert_eq!(d("1E+1"), d("10"));
    assert_eq!(d("1e007"), d("10000000"));
    assert!(d("1e400") > d("1.7976931348623157e308"));
    assert!(d("-2") < d("-1.5"));
    assert!(d("0.001") < d("0.01"));
    assert!(d("9007199254740993") > d("9007199254740992"));
    assert!(Decimal::parse("01").is_some());
    for bad in [
        "",
        "-",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "1x",
        "0x1",
        "1e99999999999999",
    ] {
        assert!(Decimal::parse(bad).is_none(), "{bad}");
    }
    assert!(d("1.5e1").is_integer());
    assert!(!d("1.5").is_integer());
    assert!(d("0.75").is_multiple_of(&d("0.25")));
    assert!(d("4.5").is_multiple_of(&d("1.5")));
    assert!(!d("4.6").is_multiple_of(&d("1.5")));
    assert!(d("21e30").is_multiple_of(&d("7")));
    assert!(!d("1e-30").is_multiple_of(&d("1e-29")));
    assert_eq!(d("-125e-3").to_string(), "-1.25e-1");
}

#[test]
fn edge_cases() {
    assert!(
        number_regex(&num(false, Some(("2", false)), Some(("1", false)), None))
            .unwrap()
            .is_none()
    );
    assert!(
        number_regex(&num(false, Some(("1", true)), Some(("1", false)), None))
            .unwrap()
            .is_none()
    );
    assert!(
        number_regex(&num(false, Some(("1", false)), Some(("1", false)), None))
            .unwrap()
            .is_some()
    );
    assert!(
        number_regex(&num(true, Some(("0.5", true)), Some(("0.9", true)), None))
            .unwrap()
            .is_none()
    );
    assert!(number_regex(&num(
        false,
        Some(("1", false)),
        Some(("2", false)),
        Some("3")
    ))
    .unwrap()
    .is_none());
    assert!(number_regex(&num(
        true,
        Some(("0.1", false)),
        Some(("0.9", false)),
        Some("0.5")
    ))
    .unwrap()
    .is_none());
    assert!(number_regex(&num(
        false,
        Some(("1e300", false)),
        Some(("1e300", false)),
        Some("3")
    ))
    .unwrap()
    .is_none());
    assert!(number_regex(&num(false, None, None, Some("0"))).is_err());
    assert!(number_regex(&num(false, None, None, Some("-1"))).is_err());
    let e = number_regex(&num(false, Some(("1e2000", false)), None, None)).unwrap_err();
    assert_eq!(e.keyword(), Keyword::Minimum);

    let re = compile(&num(false, Some(("0", false)), Some(("0", false)), None)).unwrap();
    for s in ["0", "-0", "0.0", "-0.000e-5", "0E+999999999999"] {
        assert!(re.accepts(s), "{s}");
    }
    for s in ["1e-30", "-1e-30", "0.0001"] {
        assert!(!re.accepts(s), "{s}");
    }

    let re = compile(&num(true, None, None, None)).unwrap();
    for s in [
        "1", "-0", "1.0", "1e2", "1.5e1", "150e-1", "1E+1", "1e007", "5.000",
    ] {
        assert!(re.accepts(s), "{s}");
    }
    for s in ["1.5", "15e-2", "0.1", "1e-1", "01", "1.", "-"] {
        assert!(!re.accepts(s), "{s}");
    }

    let re = compile(&num(false, None, Some(("1e300", false)), None)).unwrap();
    for s in [
        "1e300", "1E+300", "10e299", "0.1e301", "1e299", "9.99e299", "1e20", "1e150",
    ] {
        assert!(re.accepts(s), "{s}");
    }
    for s in ["1.0000000001e300", "1e301", "2e300", "1000e298"] {
        assert!(!re.accepts(s), "{s}");
    }
    assert!(re.accepts(&format!("1{}", "0".repeat(300))));
    assert!(!re.accepts(&format!("1{}1", "0".repeat(299))));
    assert!(!re.accepts("1e999999"));

    let re = compile(&num(false, Some(("0", false)), None, None)).unwrap();
    assert!(re.accepts("1e999999"));
    assert!(!re.accepts("-1e-999999"));
    assert!(re.accepts("-0e-999999"));

    let big = "1.7976931348623157e308";
    let re = compile(&num(false, None, Some((big, false)), None)).unwrap();
    assert!(re.accepts(&format!("17976931348623157{}", "0".repeat(292))));
    assert!(re.accepts(&format!("17976931348623157{}.0e20", "0".repeat(272))));
    assert!(!re.accepts(&format!("17976931348623157{}1", "0".repeat(291))));
    assert!(!re.accepts(&format!("17976931348623158{}", "0".repeat(292))));
    assert!(re.accepts("1797693134.8623157e299"));
    assert!(re.accepts("1.79769313486231569999e308"));
    assert!(!re.accepts("1.79769313486231570001e308"));
    assert!(!re.accepts("17976931348623158e292"));

    // Bounds whose own exponent is far from 0 are exact near it.
    let re = compile(&num(false, None, Some(("1e22", false)), None)).unwrap();
    for s in [
        "1e21",
        "10e20",
        "1.0e21",
        "1e22",
        "0.00001e27",
        "100000000000000000000",
    ] {
        assert!(re.accepts(s), "{s}");
    }
    for s in [
        "1.000000000000000000001e22",
        "1e23",
        "10000000000000000000001",
    ] {
        assert!(!re.accepts(s), "{s}");
    }
    let re = compile(&num(false, Some(("1e-30", false)), None, None)).unwrap();
    for s in ["1e-29", "1e-30", "0.1e-29", "1.5e-30", "1e30"] {
        assert!(re.accepts(s), "{s}");
    }
    for s in ["9.99e-31", "1e-31", "0", "-1e-29"] {
        assert!(!re.accepts(s), "{s}");
    }
    let re = compile(&num(false, Some(("0", true)), Some(("1e-25", false)), None)).unwrap();
    for s in ["1e-26", "1e-25", "1E-025", "0.5e-25", "1e-999"] {
        assert!(re.accepts(s), "{s}");
    }
    for s in ["1.1e-25", "1e-24", "0", "-1e-26", "1e999"] {
        assert!(!re.accepts(s), "{s}");
    }
    let re = compile(&num(false, None, None, Some("1e-30"))).unwrap();
    assert!(re.accepts("1e-29") && re.accepts("3e-30") && !re.accepts("1e-31"));
    let re = compile(&num(false, None, None, Some("1e30"))).unwrap();
    assert!(re.accepts("1e30") && re.accepts("3e31") && !re.accepts("1e29"));

    let re = compile(&num(true, Some(("9007199254740993", true)), None, None)).unwrap();
    assert!(!re.accepts("9007199254740993"));
    assert!(re.accepts("9007199254740994"));
    assert!(re.accepts("9.007199254740994e15"));
    assert!(!re.accepts("9.0071992547409935e15"));
}

#[test]
fn fixed_constraints_oracle() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let bounds = [
        "0",
        "0.5",
        "1e-3",
        "-1e-3",
        "1",
        "-1",
        "7",
        "100",
        "-100",
        "1.25",
        "-2.5",
        "123.456",
        "1e21",
        "1e-21",
        "9007199254740993",
        "-0.000314",
        "99.99",
        "1e22",
        "-1e22",
        "1e-25",
        "1e-30",
        "1e308",
        "-1e308",
        "1.5e-300",
        "18446744073709551615",
        "18446744073709551616",
        "18446744073709551617",
        "-9223372036854775809",
        "99999999999999999999",
    ];
    let steps = [
        None,
        Some("1"),
        Some("2"),
        Some("3"),
        Some("5"),
        Some("7"),
        Some("10"),
        Some("0.1"),
        Some("0.01"),
        Some("0.5"),
        Some("0.25"),
        Some("1.5"),
        Some("2.5"),
        Some("100"),
        Some("12"),
        Some("0.125"),
        Some("1e30"),
        Some("1e-30"),
        Some("2.5e-28"),
    ];
    let mut total = 0;
    for (i, b) in bounds.iter().enumerate() {
        let other = bounds[(i * 7 + 3) % bounds.len()];
        for (j, m) in steps.iter().enumerate() {
            // The far and big bounds (from "1e22" on) with fewer steps.
            if i >= 17 && j % 4 != 0 {
                continue;
            }
            let integer = j % 3 == 0;
            let (x1, x2) = (j % 2 == 0, j % 4 < 2);
            let cs = [
                num(integer, Some((b, x1)), None, *m),
                num(integer, None, Some((b, x2)), *m),
                num(integer, Some((b, x1)), Some((other, x2)), *m),
                num(integer, Some((other, x1)), Some((b, x2)), *m),
            ];
            for c in cs {
                total += check(&c, &[], &mut rng);
            }
        }
    }
    for m in steps.iter().flatten() {
        total += check(&num(false, None, None, Some(m)), &[], &mut rng);
    }
    eprintln!("fixed constraints: {total} spellings checked");
    assert!(total > 50_000);
}

#[test]
fn random_constraints_oracle() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let steps = [
        "1", "2", "3", "5", "7", "10", "0.1", "0.01", "0.5", "0.25", "1.5", "2.5", "100",
    ];
    let mut total = 0;
    for _ in 0..400 {
        let lo = rng
            .chance(2, 3)
            .then(|| (random_decimal(&mut rng, 4, (-3, 4)), rng.chance(1, 2)));
        let hi = rng
            .chance(2, 3)
            .then(|| (random_decimal(&mut rng, 4, (-3, 4)), rng.chance(1, 2)));
        let c = NumberConstraint {
            integer: rng.chance(1, 3),
            minimum: lo,
            maximum: hi,
            multiple_of: rng.chance(1, 2).then(|| d(steps[rng.below(steps.len())])),
        };
        total += check(&c, &[], &mut rng);
    }
    eprintln!("random constraints: {total} spellings checked");
    assert!(total > 50_000);
}

/// Random syntactically valid spellings (any digits, any exponent) never
/// disagree inside the window and never falsely accept outside.
#[test]
fn raw_spellings_oracle() {
    let mut rng = Rng(42);
    let cs = [
        num(false, Some(("-1.5", false)), Some(("2.25", true)), None),
        num(true, Some(("-20", true)), Some(("300", false)), None),
        num(false, Some(("0.001", true)), None, Some("0.001")),
        num(true, None, Some(("1e3", false)), Some("3")),
        num(false, None, None, Some("0.25")),
    ];
    let mut n = 0;
    for c in &cs {
        let re = compile(c).unwrap();
        for _ in 0..20_000 {
            let mut s = String::new();
            if rng.chance(1, 2) {
                s.push('-');
            }
            let il = rng.range(0, 5);
            if il == 0 {
                s.push('0');
            } else {
                s.push((b'1' + rng.below(9) as u8) as char);
                for _ in 1..il {
                    s.push((b'0' + rng.below(10) as u8) as char);
                }
            }
            if rng.chance(1, 2) {
                s.push('.');
                for _ in 0..rng.range(1, 5) {
                    s.push((b'0' + rng.below(10) as u8) as char);
                }
            }
            if rng.chance(1, 2) {
                s.push_str(["e", "E", "e+", "e-", "E-"][rng.below(5)]);
                for _ in 0..rng.range(1, 3) {
                    s.push((b'0' + rng.below(10) as u8) as char);
                }
            }
            let v = Decimal::parse(&s).unwrap();
            let (member, got) = (c.contains(&v), re.accepts(&s));
            if promised_exact(c, &s) {
                assert_eq!(got, member, "{c:?}: {s}");
            } else {
                assert!(!got || member, "{c:?}: {s}");
            }
            n += 1;
        }
        for s in [
            "", "-", "1.", ".5", "01", "1e", "--1", "1..2", "1.2.3", "+1", "1e+-1",
        ] {
            assert!(!re.accepts(s), "{c:?}: {s:?}");
        }
    }
    eprintln!("raw spellings: {n} checked");
}

/// Builds each part into a dense DFA like the lexer does; returns
/// (total regex bytes, DFA states per part).
fn dfa_stats(c: &NumberConstraint) -> (usize, Vec<usize>) {
    use regex_automata::dfa::Automaton;
    use regex_automata::util::start;
    use regex_automata::Anchored;
    let parts = number_regex(c).unwrap().unwrap();
    let size = parts.iter().map(|p| p.len()).sum();
    eprintln!(
        "  part sizes {:?}",
        parts.iter().map(|p| p.len()).collect::<Vec<_>>()
    );
    let states = parts
        .iter()
        .map(|p| {
            let dfa = crate::lexer::dense_builder(None).build(p).unwrap();
            // Count the states reachable from the anchored start.
            let start = dfa
                .start_state(&start::Config::new().anchored(Anchored::Yes))
                .unwrap();
            let mut seen = std::collections::HashSet::from([start]);
            let mut stack = vec![start];
            while let Some(s) = stack.pop() {
                for b in 0..=255u8 {
                    let t = dfa.next_state(s, b);
                    if !dfa.is_dead_state(t) && seen.insert(t) {
                        stack.push(t);
                    }
                }
            }
            seen.len()
        })
        .collect();
    (size, states)
}

#[test]
fn sizes() {
    let cases = [
        ("integer", num(true, None, None, None)),
        (
            "0 <= x <= 100, integer",
            num(true, Some(("0", false)), Some(("100", false)), None),
        ),
        (
            "number in [0.5, 99.99)",
            num(false, Some(("0.5", false)), Some(("99.99", true)), None),
        ),
        ("x <= 1e300", num(false, None, Some(("1e300", false)), None)),
        (
            "x <= 1.7976931348623157e308",
            num(false, None, Some(("1.7976931348623157e308", false)), None),
        ),
        (
            "x > 9007199254740993, integer",
            num(true, Some(("9007199254740993", true)), None, None),
        ),
        ("multipleOf 0.01", num(false, None, None, Some("0.01"))),
        ("multipleOf 0.25", num(false, None, None, Some("0.25"))),
        ("multipleOf 3", num(false, None, None, Some("3"))),
        ("multipleOf 7", num(false, None, None, Some("7"))),
        ("multipleOf 1.5", num(false, None, None, Some("1.5"))),
        ("multipleOf 12", num(false, None, None, Some("12"))),
        (
            "1 <= x <= 1000, multipleOf 5",
            num(false, Some(("1", false)), Some(("1000", false)), Some("5")),
        ),
    ];
    for (name, c) in cases {
        let (size, states) = dfa_stats(&c);
        eprintln!("{name}: {size} bytes, DFA states per part {states:?}");
        assert!(size < MAX_REGEX_BYTES);
    }
}

/// Which steps compile, and their sizes (printed with --nocapture).
#[test]
fn step_support() {
    let mut rng = Rng(7);
    for m in [
        "16", "64", "1e-30", "1e30", "0.0625", "11", "13", "37", "0.3", "1024", "9",
    ] {
        let c = num(false, None, None, Some(m));
        match number_regex(&c) {
            Ok(Some(p)) => {
                let size: usize = p.iter().map(|x| x.len()).sum();
                eprintln!("multipleOf {m}: {size} bytes");
                if size < 30_000 {
                    check(&c, &[], &mut rng);
                }
            }
            Ok(None) => panic!("multipleOf {m} cannot be empty"),
            Err(e) => {
                assert_eq!(e.keyword(), Keyword::MultipleOf);
                eprintln!("multipleOf {m}: {e}");
            }
        }
    }
}

/// The example that documented `value_regex`.
#[test]
fn example_value_regex() {
    let re = value_regex(&Decimal::parse("1e22").unwrap()).unwrap();
    let re = regex::Regex::new(&format!("^(?:{re})$")).unwrap();
    for s in [
        "1e22",
        "10000000000000000000000",
        "1.0E+22",
        "0.1e23",
        "10e21",
    ] {
        assert!(re.is_match(s), "{s}");
    }
    assert!(!re.is_match("1e21") && !re.is_match("1.0000000000000000000001e22"));
}

/// The example that documented `lcm`.
#[test]
fn example_lcm() {
    let l = Decimal::parse("0.4")
        .unwrap()
        .lcm(&Decimal::parse("1.5").unwrap())
        .unwrap();
    assert_eq!(l, Decimal::parse("6").unwrap());
}
