#!/usr/bin/env python3
"""Build benches/cases/regex.jsonl (peer-bench `regex` cases) and tests/data/regexes.jsonl.

Usage:
  make_regex_cases.py --testdata DIR --rxcheck BIN --cases OUT.jsonl --regexes OUT.jsonl [--seed 1]

DIR is rust-lang/regex's testdata/ (TOML). BIN is the helper built from tools/rxcheck.rs
(regex 1.x + regex-syntax 0.8 + regex-automata 0.4): for each pattern it reports the
look-around assertions in the HIR, whether each string is a whole-string match under Rust
semantics (`^(?:rx)$`) and whether a dense whole-string DFA builds within 64 MiB.

Selection from the TOML tests: `regex` is a single string (no regex sets), no
`compiles = false`, no `unescape`, no `unicode = false` / `utf8 = false`, no `bounds`,
no `line-terminator`, no `match-kind`/`search-kind` other than leftmost-first/leftmost;
`case-insensitive = true` becomes a `(?i)` prefix. The pattern must have no look-around at
all once a leading `^` and a trailing `$` are removed (those two are trivially true for a
whole-string match and are kept in the pattern text); multi-line `(?m)` anchors and `\A`/`\z`
are rejected too (only the HIR looks Start/End may appear, and only at the two ends). The pattern must compile in Python
(`regex` module, or `re`) as well as in Rust.

Instances: a test's haystack is a valid instance when its (first) match covers the whole
haystack, otherwise each matched substring is; haystacks that do not match as a whole
are invalid candidates. More valid strings are drawn with rstr.xeger; more invalid ones are
small mutations of valid ones. Every valid instance fully matches in Rust (regex crate)
and in Python; every invalid one fully matches in neither. Strings on which Rust and
Python disagree are dropped. With --peer-bench, valid instances that llguidance refuses only
because of its forced-bytes canonical tokenization (they pass with --no-forcing) are dropped,
so that every case is `ok` for the peer.
"""
import argparse, glob, json, os, random, re, subprocess, sys, tomllib

import regex as pyregex
import rstr
import warnings

warnings.simplefilter("ignore", FutureWarning)

MAX_LEN = 200


def py_compile(p):
    """Compile a Rust-syntax pattern in Python: `regex` module first, `re` second."""
    q = p.replace(r"\z", r"\Z")
    for mod in (pyregex, re):
        try:
            return mod.compile(q)
        except Exception:
            continue
    return None


def py_full(c, s):
    try:
        if isinstance(c, pyregex.Pattern):
            return c.fullmatch(s, timeout=2.0) is not None
        return c.fullmatch(s) is not None
    except (TimeoutError, MemoryError, RecursionError):
        return None


def spans(matches):
    for m in matches:
        if isinstance(m, dict):
            yield m["span"]
        elif m and isinstance(m[0], list):
            yield m[0]
        else:
            yield m


def load_testdata(d):
    groups = {}  # pattern -> dict(source, valid set, invalid set)
    n_tests = 0
    for f in sorted(glob.glob(os.path.join(d, "**", "*.toml"), recursive=True)):
        rel = os.path.relpath(f, d)
        for t in tomllib.load(open(f, "rb"))["test"]:
            n_tests += 1
            rx = t["regex"]
            if not isinstance(rx, str):
                continue
            if t.get("compiles", True) is False or t.get("unescape") or t.get("unicode", True) is False \
                    or t.get("utf8", True) is False or "bounds" in t or "line-terminator" in t:
                continue
            if t.get("match-kind", "leftmost-first") != "leftmost-first":
                continue
            if t.get("search-kind", "leftmost") != "leftmost":
                continue
            if t.get("case-insensitive"):
                rx = "(?i)" + rx
            g = groups.setdefault(rx, {"source": f"rust-lang/regex testdata/{rel} :: {t['name']}",
                                       "valid": [], "invalid": []})
            hb = t["haystack"].encode("utf-8")
            ms = list(spans(t["matches"]))
            if ms and ms[0] == [0, len(hb)]:
                g["valid"].append(t["haystack"])
                continue
            for s, e in ms:
                try:
                    g["valid"].append(hb[s:e].decode("utf-8"))
                except UnicodeDecodeError:
                    pass
            g["invalid"].append(t["haystack"])  # kept only if it is not a whole match
    return groups, n_tests


def rxcheck(binary, items):
    inp = "".join(json.dumps({"regex": rx, "strings": ss}) + "\n" for rx, ss in items)
    out = subprocess.run([binary], input=inp, capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]


def mutations(s, rnd):
    out = [s + "x", s + "!", "#" + s, s + " ", s[:-1], s[1:], s + s[-1:] * 3]
    if len(s) > 2:
        i = rnd.randrange(len(s))
        out.append(s[:i] + rnd.choice("Z9_ -%") + s[i + 1:])
        out.append(s[:i] + s[i + 1:])
    return [m for m in out if m != s]


# Hand-written practical patterns: (name, pattern, extra valid, invalid)
PRACTICAL = [
    ("iso-date", r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
     ["2024-01-15", "1999-12-31", "2000-02-29", "2023-10-01"],
     ["2024-13-01", "2024-1-5", "24-01-15", "2024/01/15", "2024-00-10", "2024-01-32", "2024-01-15T"]),
    ("iso-time", r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?",
     ["00:00", "23:59:59", "12:30:45.123", "08:05:00.5"],
     ["24:00", "12:60", "1:30", "12:30:", "12:30:45.", "12-30"]),
    ("iso-datetime", r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)",
     ["2024-01-15T10:30:00Z", "2023-06-01T08:00:00+02:00", "1999-12-31T23:59:59.999-05:30"],
     ["2024-01-15 10:30:00Z", "2024-01-15T10:30:00", "2024-01-15T25:00:00Z", "2024-01-15T10:30Z", "2024-01-15T10:30:00+2:00"]),
    ("uuid", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
     ["123e4567-e89b-12d3-a456-426614174000", "C9BF9E57-1685-4C89-BAFB-FF5AF830BE8A", "00000000-0000-0000-0000-000000000000"],
     ["123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400", "g23e4567-e89b-12d3-a456-426614174000", "{123e4567-e89b-12d3-a456-426614174000}"]),
    ("uuid-v4", r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
     ["c9bf9e57-1685-4c89-bafb-ff5af830be8a", "00000000-0000-4000-8000-000000000000"],
     ["c9bf9e57-1685-3c89-bafb-ff5af830be8a", "c9bf9e57-1685-4c89-cafb-ff5af830be8a", "C9BF9E57-1685-4C89-BAFB-FF5AF830BE8A"]),
    ("email", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
     ["user@example.com", "jane.doe+tag@mail.example.org", "a_b-c%d@sub-domain.co.uk", "x@y.io"],
     ["user@", "@example.com", "user@example", "user example@example.com", "user@example.c", "user@@example.com"]),
    ("ipv4", r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
     ["192.168.0.1", "10.0.0.254", "8.8.8.8", "255.255.255.255", "0.0.0.0"],
     ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "192.168.0.1 "]),
    ("ipv6-full", r"([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}",
     ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "fe80:0:0:0:202:b3ff:fe1e:8329", "1:2:3:4:5:6:7:8"],
     ["2001:db8::1", "1:2:3:4:5:6:7", "12345:2:3:4:5:6:7:8", "g:2:3:4:5:6:7:8"]),
    ("us-phone", r"(\+1[ .-]?)?(\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}",
     ["(555) 123-4567", "555-123-4567", "+1 555.123.4567", "5551234567", "+1-555-123-4567"],
     ["555-1234", "(555 123-4567", "+2 555 123 4567", "555-123-45678", "phone: 555-123-4567"]),
    ("integer", r"-?(0|[1-9]\d*)",
     ["0", "-1", "42", "1234567890", "-9007199254740993"],
     ["01", "-0x1", "+5", "1.0", "", "- 1", "1e3"]),
    ("json-number", r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?",
     ["0", "-0.5", "3.14159", "1e10", "6.02E+23", "-1.5e-7", "10"],
     ["01", ".5", "1.", "1e", "1e+", "+1", "1.5e3.2", "NaN"]),
    ("decimal-2dp", r"-?\d{1,3}(,\d{3})*(\.\d{2})?",
     ["1,234.56", "999", "-12,345,678.00", "0.99"],
     ["1234,56", "1,23.45", "12.3", "1,234.567", ",123"]),
    ("hex-colour", r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})",
     ["#fff", "#FFAA00", "#1a2b3c", "#11223344"],
     ["fff", "#ffff", "#12345", "#ggg", "#1234567"]),
    ("semver", r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-((0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?",
     ["1.0.0", "0.1.2", "2.10.3-alpha.1", "1.0.0-rc.1+build.5", "10.20.30+meta-data"],
     ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0+", "1.0.0.0"]),
    ("url", r"https?://([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(:\d{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@-]*)*(\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?(#[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?",
     ["https://example.com", "http://api.example.org:8080/v1/items?id=42&sort=asc", "https://en.wikipedia.org/wiki/Regular_expression#Syntax", "https://sub.domain.co.uk/a/b/c/"],
     ["ftp://example.com", "https://", "https://example", "http//example.com", "https://exa mple.com", "https://example.com/a b"]),
    ("slug", r"[a-z0-9]+(-[a-z0-9]+)*",
     ["hello-world", "a", "2024-recap", "constrained-decoding-with-llms"],
     ["Hello-World", "-hello", "hello-", "hello--world", "hello_world", ""]),
    ("base64", r"([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?",
     ["SGVsbG8gd29ybGQ=", "YWJj", "YQ==", "dGVzdGluZyAxMjM0NTY3ODkw", ""],
     ["SGVsbG8gd29ybGQ", "YQ=", "Y===", "ab$d", "YWJj="]),
    ("base64url-jwt", r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
     ["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "a.b.", "x-y.z_w.q"],
     ["eyJhbGciOiJIUzI1NiJ9", "a..b", ".a.b", "a.b.c.d", "a+b.c.d"]),
    ("mac-address", r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}",
     ["00:1A:2B:3C:4D:5E", "aa-bb-cc-dd-ee-ff", "01:23:45:67:89:ab"],
     ["00:1A:2B:3C:4D", "001A2B3C4D5E", "00:1A:2B:3C:4D:5G", "00:1A:2B:3C:4D:5E:6F"]),
    ("us-zip", r"\d{5}(-\d{4})?",
     ["90210", "10001-1234", "00501"],
     ["9021", "902101", "10001-123", "10001 1234", "ABCDE"]),
    ("uk-postcode", r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
     ["SW1A 1AA", "EC1A1BB", "W1A 0AX", "M1 1AE", "B33 8TH"],
     ["sw1a 1aa", "SW1A 1A", "1SW 1AA", "SW1A-1AA"]),
    ("credit-card", r"\d{4}([ -]?\d{4}){3}",
     ["4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"],
     ["4111 1111 1111", "4111_1111_1111_1111", "41111 1111 1111 111", "4111 1111 1111 1111 1"]),
    ("iso-duration", r"P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?",
     ["P1D", "PT1H30M", "P3Y6M4DT12H30M5S", "PT0.5S", "P2W"],
     ["1D", "P1H", "PT1D", "p1d", "P1.5D"]),
    ("time-12h", r"(0?[1-9]|1[0-2]):[0-5]\d ?([AaPp][Mm])",
     ["9:30 AM", "12:00pm", "01:15 PM", "11:59am"],
     ["13:00 PM", "9:60 AM", "9:30", "0:30 AM", "9:30 XM"]),
    ("identifier", r"[A-Za-z_][A-Za-z0-9_]*",
     ["foo", "_private", "camelCase2", "SNAKE_CASE_NAME", "x"],
     ["2fast", "foo-bar", "", "has space", "é"]),
    ("hashtag-unicode", r"#\w{1,30}",
     ["#rust", "#constrained_decoding", "#日本語", "#Ünïcödé", "#2024"],
     ["rust", "#", "#has space", "#a-b", "#" + "a" * 31]),
    ("unicode-words", r"\p{L}+( \p{L}+)*",
     ["hello world", "naïve café", "Привет мир", "こんにちは", "Ελληνικά γράμματα"],
     ["hello  world", " hello", "hello1", "hello world ", ""]),
    ("sha256-hex", r"[0-9a-f]{64}",
     ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "0" * 64],
     ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "g" * 64]),
    ("git-sha-short", r"[0-9a-f]{7,40}",
     ["a1b2c3d", "2b527599eb9eea0dcc288c704584f242f26a5c61", "deadbeefcafe"],
     ["a1b2c3", "A1B2C3D", "xyzxyzx", "2b527599eb9eea0dcc288c704584f242f26a5c612"]),
    ("quoted-string", r'"([^"\\\n]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"',
     ['"hello"', '""', '"say \\"hi\\""', '"tab\\tand\\u00e9"', '"ünïcode ✓"'],
     ['"unterminated', 'hello', '"bad \\x escape"', '"a"b"', '"line\nbreak"']),
    ("csv-row", r'([^,"\n]*|"([^"]|"")*")(,([^,"\n]*|"([^"]|"")*"))*',
     ["a,b,c", 'name,"Smith, John",42', ",,", '"he said ""hi""",x'],
     ['"unterminated,b', 'a,"b"c', "a\nb"]),
    ("key-value", r"[a-z_]+=[^;\s]+(;[a-z_]+=[^;\s]+)*",
     ["a=1", "user_id=42;lang=en", "k=v;x=y;z=w"],
     ["a=", "=1", "a=1;", "A=1", "a=1; b=2"]),
    ("log-line", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (DEBUG|INFO|WARN|ERROR) \[[a-z.]+\] .+",
     ["2024-01-15 10:30:00 INFO [app.server] started on port 8080", "2023-12-31 23:59:59 ERROR [db] connection refused"],
     ["2024-01-15 10:30:00 TRACE [app] x", "2024-01-15 10:30:00 INFO app started", "2024-01-15 INFO [app] x"]),
    ("sql-select-simple", r"SELECT (\*|[a-z_]+(, [a-z_]+)*) FROM [a-z_]+( WHERE [a-z_]+ (=|<|>|<=|>=|!=) ('[^']*'|\d+))?;?",
     ["SELECT * FROM users;", "SELECT id, name FROM customers WHERE age >= 21", "SELECT name FROM pets WHERE kind = 'cat';"],
     ["select * from users", "SELECT FROM users", "SELECT * FROM users WHERE", "SELECT *, id FROM t"]),
    ("answer-choice", r"(The answer is|Answer:) \(?[A-E]\)?\.?",
     ["The answer is (B).", "Answer: C", "The answer is D", "Answer: (E)"],
     ["The answer is F", "answer: C", "The answer is: B", "Answer:C"]),
    ("yes-no-maybe", r"(yes|no|maybe)",
     ["yes", "no", "maybe"], ["Yes", "yess", "", "nope"]),
    ("percent", r"(100|[1-9]?\d)(\.\d+)?%",
     ["50%", "99.9%", "100%", "0%", "7.25%"],
     ["101%", "50", "-5%", "05%", "50.%"]),
    ("currency-usd", r"\$(0|[1-9]\d{0,2}(,\d{3})*)(\.\d{2})?",
     ["$0.99", "$1,000", "$1,234,567.89", "$5"],
     ["$01", "1.00", "$1,00", "$1.5", "$ 5"]),
    ("roman-numeral", r"M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})",
     ["MMXXIV", "XLII", "MCMXCIX", "IV", "DCCCLXXXVIII"],
     ["IIII", "VV", "IC", "MMMM", "XLX"]),
    ("file-path", r"(/[A-Za-z0-9._-]+)+/?",
     ["/usr/local/bin", "/home/user/.bashrc", "/var/log/", "/a"],
     ["usr/local", "/", "//usr", "/usr/lo cal", "C:\\Windows"]),
    ("windows-path", r"[A-Z]:\\([^\\/:*?\"<>|\r\n]+\\)*[^\\/:*?\"<>|\r\n]*",
     ["C:\\Windows\\System32\\drivers", "D:\\", "C:\\Program Files\\App\\app.exe"],
     ["C:/Windows", "CC:\\x", "C:\\a*b", "\\\\server\\share"]),
    ("html-tag", r"<([a-z][a-z0-9]*)( [a-z-]+=\"[^\"]*\")*>",
     ['<div>', '<a href="https://example.com">', '<input type="text" data-id="42">'],
     ["<div", "<1div>", "<div class=x>", "</div>", "<DIV>"]),
    ("markdown-link", r"\[[^\]\n]+\]\([^)\s]+\)",
     ["[Rust](https://www.rust-lang.org)", "[docs](./README.md)", "[a b c](#anchor)"],
     ["[Rust] (https://rust-lang.org)", "[](x)", "[a](b c)", "Rust(https://x)"]),
    ("latlon", r"-?([1-8]?\d(\.\d+)?|90(\.0+)?), ?-?(180(\.0+)?|((1[0-7]\d)|([1-9]?\d))(\.\d+)?)",
     ["40.7128, -74.0060", "-33.8688,151.2093", "90, 180", "0.0, 0.0"],
     ["91, 0", "40.7128, -181", "40.7128 -74.0060", "40.7128,"]),
    ("isbn13", r"97[89]-?\d{1,5}-?\d{1,7}-?\d{1,7}-?\d",
     ["978-3-16-148410-0", "9780306406157", "979-10-90636-07-1"],
     ["978-3-16-14841a-0", "977-3-16-148410-0", "ISBN 978-3-16-148410-0"]),
    ("bool-or-null", r"true|false|null", ["true", "false", "null"], ["True", "nil", "tru", "truefalse"]),
    ("ip-port", r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d):([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])",
     ["127.0.0.1:8080", "10.0.0.1:65535", "192.168.1.10:22"],
     ["127.0.0.1", "127.0.0.1:65536", "127.0.0.1:0", "127.0.0.1:"]),
    ("json-flat-object", r'\{ *("[a-z]+" *: *("[^"]*"|-?\d+|true|false|null)( *, *"[a-z]+" *: *("[^"]*"|-?\d+|true|false|null))*)? *\}',
     ['{}', '{"a": 1}', '{"name": "Ann", "age": 30, "ok": true}', '{ "x" : null }'],
     ['{', '{"a" 1}', '{"a": 1,}', "{'a': 1}", '{"A": 1}']),
]


def run_peer(binary, tokenizer, rows, extra=()):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        cp, op = os.path.join(d, "c.jsonl"), os.path.join(d, "o.jsonl")
        with open(cp, "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        subprocess.run([binary, "--tokenizer", tokenizer, "--cases", cp, "--out", op, *extra],
                       check=True, capture_output=True)
        return {json.loads(l)["id"]: json.loads(l)["status"] for l in open(op)}


def peer_filter(binary, tokenizer, cases, stats):
    """Drop valid instances that llguidance rejects only because of its byte forcing: where
    the grammar forces bytes it allows just the canonical tokenization of them, so a valid
    string tokenized differently is refused (it passes with --no-forcing). Any other
    rejection is an error."""
    rows = [{"id": f"{ci}/{vi}", "kind": "regex", "grammar": c["grammar"], "valid": [v]}
            for ci, c in enumerate(cases) for vi, v in enumerate(c["valid"])]
    st = run_peer(binary, tokenizer, rows)
    bad = [r for r in rows if st[r["id"]] != "ok"]
    if bad:
        st2 = run_peer(binary, tokenizer, bad, ["--no-forcing"])
        for r in bad:
            if st2[r["id"]] != "ok":
                sys.exit(f"llguidance rejects {r} even with --no-forcing: fix the case")
    dropped = {r["id"] for r in bad}
    out = []
    for ci, c in enumerate(cases):
        gone = [v for vi, v in enumerate(c["valid"]) if f"{ci}/{vi}" in dropped]
        if gone:
            print(f"forcing artifact, dropped from {c['id']}: {gone}", file=sys.stderr)
        c = dict(c, valid=[v for vi, v in enumerate(c["valid"]) if f"{ci}/{vi}" not in dropped])
        if len(c["valid"]) >= 2:
            out.append(c)
        else:
            stats["drop_forcing_too_few"] = stats.get("drop_forcing_too_few", 0) + 1
    stats["valid_dropped_forcing"] = len(dropped)
    return out


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # rstr draws from sets of characters: their order depends on the hash seed
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "PYTHONHASHSEED": "0"})
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", required=True)
    ap.add_argument("--rxcheck", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--regexes", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-dfa-bytes", type=int, default=16 << 20)
    ap.add_argument("--drop", default="", help="comma-separated case ids to leave out")
    ap.add_argument("--peer-bench", help="peer-bench binary: drop valid instances llguidance rejects")
    ap.add_argument("--tokenizer", help="tokenizer.json for --peer-bench")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    random.seed(args.seed)  # rstr draws from the global random state
    drop = set(x for x in args.drop.split(",") if x)

    groups, n_tests = load_testdata(args.testdata)
    cands = []  # (id, pattern, source, valid seeds, invalid seeds)
    for rx, g in groups.items():
        cands.append((None, rx, g["source"], g["valid"], g["invalid"], "testdata"))
    for name, rx, valid, invalid in PRACTICAL:
        cands.append((f"practical/{name}", rx, "hand-written (formwork)", valid, invalid, "practical"))

    # pass 1: syntax/looks/DFA
    info = rxcheck(args.rxcheck, [(c[1], []) for c in cands])
    stats = {"testdata_tests": n_tests, "testdata_patterns": len(groups)}
    kept = []
    for c, inf in zip(cands, info):
        why = None
        if "error" in inf:
            why = "rust-error"
        elif inf["stripped_looks"] or not set(inf["looks"]) <= {"Start", "End"}:
            why = "look-around"
        elif "dfa_error" in inf or inf.get("dfa_bytes", 0) > args.max_dfa_bytes:
            why = "dfa-too-big"
        elif py_compile(c[1]) is None:
            why = "python-error"
        if why:
            stats[f"drop_{c[5]}_{why}"] = stats.get(f"drop_{c[5]}_{why}", 0) + 1
            if c[5] == "practical":
                print(f"practical pattern dropped: {c[0]} {why} {inf}", file=sys.stderr)
            continue
        kept.append(c)

    # pass 2: instances
    todo = []
    for cid, rx, src, valid, invalid, kind in kept:
        pc = py_compile(rx)
        vs = list(dict.fromkeys(valid))
        if True:
            try:
                sre = re.compile(rx.replace(r"\z", r"\Z"))
            except Exception:
                sre = None
            if sre is not None:
                for _ in range(40):
                    if len(vs) >= 8:
                        break
                    try:
                        s = rstr.xeger(sre)
                    except Exception:
                        break
                    if len(s) <= MAX_LEN and s not in vs:
                        vs.append(s)
        inv = list(dict.fromkeys(invalid))
        for v in vs[:6]:
            inv += mutations(v, rnd)
        inv = [s for s in dict.fromkeys(inv) if s not in vs and len(s) <= MAX_LEN + 10]
        todo.append((cid, rx, src, vs, inv, kind, pc))
    res = rxcheck(args.rxcheck, [(t[1], t[3] + t[4]) for t in todo])
    cases, regexes = [], []
    used_ids = set()
    for (cid, rx, src, vs, inv, kind, pc), r in zip(todo, res):
        full = r["full"]
        rv, ri = full[:len(vs)], full[len(vs):]
        good_v = [s for s, ok in zip(vs, rv) if ok and py_full(pc, s) is True]
        bad_v = [s for s, ok in zip(vs, rv) if not (ok and py_full(pc, s) is True)]
        if kind == "practical" and any(s in bad_v for s in dict.fromkeys(vs)
                                       if s in [x for p in PRACTICAL if p[1] == rx for x in p[2]]):
            print(f"WARNING hand-written valid rejected: {cid}: {bad_v}", file=sys.stderr)
        good_i = [s for s, ok in zip(inv, ri) if not ok and py_full(pc, s) is False]
        if kind == "practical":
            hand_inv = [x for p in PRACTICAL if p[1] == rx for x in p[3]]
            for s, ok in zip(inv, ri):
                if s in hand_inv and (ok or py_full(pc, s) is not False):
                    print(f"WARNING hand-written invalid accepted: {cid}: {s!r}", file=sys.stderr)
        nonempty = [s for s in good_v if s]
        if len(nonempty) < 2 or not good_i:
            stats[f"drop_{kind}_too_few_instances"] = stats.get(f"drop_{kind}_too_few_instances", 0) + 1
            continue
        # keep the seeds first, then generated ones; at most 8 valid / 6 invalid
        good_v = nonempty[:8]
        good_i = good_i[:6]
        if cid is None:
            base = src.split("testdata/", 1)[1].replace(".toml :: ", "/")
            cid = base
            k = 2
            while cid in used_ids:
                cid = f"{base}~{k}"
                k += 1
        used_ids.add(cid)
        if cid in drop:
            stats["dropped_by_flag"] = stats.get("dropped_by_flag", 0) + 1
            continue
        cases.append({"id": cid, "kind": "regex", "grammar": rx, "valid": good_v, "invalid": good_i,
                      "source": src})
        if kind == "testdata":
            regexes.append({"regex": rx, "source": src})
        else:
            regexes.append({"regex": rx, "source": f"hand-written: {cid}"})
        stats[f"kept_{kind}"] = stats.get(f"kept_{kind}", 0) + 1
    if args.peer_bench:
        cases = peer_filter(args.peer_bench, args.tokenizer, cases, stats)
        keep = {c["grammar"] for c in cases}
        regexes = [r for r in regexes if r["regex"] in keep]
    with open(args.cases, "w") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    with open(args.regexes, "w") as f:
        for r in regexes:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    stats["cases"] = len(cases)
    stats["valid"] = sum(len(c["valid"]) for c in cases)
    stats["invalid"] = sum(len(c["invalid"]) for c in cases)
    print(json.dumps(stats, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
