//! Sizes with suffixes, hex, and human-readable numbers.

/// Parses a size: a number with an optional K, M, G or T suffix (powers of 1024, either case,
/// optionally followed by `B` or `iB`): `4096`, `64K`, `64M`, `1G`, `512MiB`.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(format!(
            "{s:?} is not a size (a number with an optional K, M, G or T suffix)"
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is too large a size"))?;
    let lower = suffix.to_ascii_lowercase();
    let unit = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => {
            return Err(format!(
                "{s:?} has an unknown size suffix {suffix:?} (use K, M, G or T)"
            ))
        }
    };
    if unit.is_empty() && !lower.is_empty() && lower != "b" {
        return Err(format!("{s:?} has an unknown size suffix {suffix:?}"));
    }
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large a size"))
}

/// Lowercase hex of `b`.
pub(crate) fn to_hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (an even number of hex digits; either case is accepted).
pub(crate) fn from_hex(s: &[u8]) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    s.chunks_exact(2)
        .enumerate()
        .map(|(i, p)| match (nibble(p[0]), nibble(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!(
                "not a hex digit at position {}",
                2 * i + usize::from(nibble(p[0]).is_some())
            )),
        })
        .collect()
}

/// `n` bytes in a unit that reads well (`64.0 MiB`).
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `n` with thousands separators (`1,234,567`).
pub(crate) fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2GB"), Ok(2 << 30));
        assert_eq!(parse_size("100B"), Ok(100));
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(&[0, 0xab, 0x10, 0xff]), "00ab10ff");
        assert_eq!(from_hex(b"00ab10FF"), Ok(vec![0, 0xab, 0x10, 0xff]));
        assert_eq!(from_hex(b""), Ok(vec![]));
        assert!(from_hex(b"abc").is_err());
        assert!(from_hex(b"zz").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
    }
}
