//! YAML timestamps as go-yaml reads them and Go's `time.Time` writes them to JSON.
//!
//! go-yaml tries four Go layouts in turn (`2006-1-2T15:4:5.999999999Z07:00`, the same with a
//! lower-case `t`, `2006-1-2 15:4:5.999999999` and `2006-1-2`) after checking the text starts
//! with four digits and a dash. kustomize's output then carries the RFC 3339 text Go's
//! `MarshalJSON` produces, e.g. `2001-12-14` becomes `2001-12-14T00:00:00Z`.

/// A parsed timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timestamp {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// Zone offset in seconds east of UTC.
    offset: i32,
}

/// Parses `s` with go-yaml's timestamp layouts.
pub(crate) fn parse(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let lead = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if lead != 4 || b.get(4) != Some(&b'-') {
        return None;
    }
    let mut p = Cursor { b, i: 0 };
    let year = p.fixed(4)?;
    p.lit(b'-')?;
    let month = p.num()?;
    p.lit(b'-')?;
    let day = p.num()?;
    let mut t = Timestamp {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset: 0,
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return None;
    }
    if p.done() {
        return Some(t);
    }
    let sep = p.next()?;
    let zoned = match sep {
        b'T' | b't' => true,
        b' ' => false,
        _ => return None,
    };
    t.hour = p.num()?;
    p.lit(b':')?;
    t.minute = p.num()?;
    p.lit(b':')?;
    t.second = p.num()?;
    if t.hour > 23 || t.minute > 59 || t.second > 59 {
        return None;
    }
    if matches!(p.peek(), Some(b'.' | b',')) && p.b.get(p.i + 1).is_some_and(u8::is_ascii_digit) {
        p.i += 1;
        let start = p.i;
        while p.peek().is_some_and(|c| c.is_ascii_digit()) {
            p.i += 1;
        }
        let digits = &p.b[start..p.i];
        let mut nanos = 0u32;
        for k in 0..9 {
            nanos = nanos * 10 + digits.get(k).map_or(0, |d| u32::from(d - b'0'));
        }
        t.nanos = nanos;
    }
    if zoned {
        match p.next()? {
            b'Z' => {}
            sign @ (b'+' | b'-') => {
                let hh = p.fixed(2)?;
                p.lit(b':')?;
                let mm = p.fixed(2)?;
                if hh > 24 || mm > 60 {
                    return None;
                }
                let off = (hh * 3600 + mm * 60) as i32;
                t.offset = if sign == b'-' { -off } else { off };
            }
            _ => return None,
        }
    }
    p.done().then_some(t)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }
    fn done(&self) -> bool {
        self.i == self.b.len()
    }
    fn lit(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }
    /// Exactly `n` digits.
    fn fixed(&mut self, n: usize) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            let c = self.next()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    }
    /// One or two digits (Go's non-fixed `getnum`).
    fn num(&mut self) -> Option<u32> {
        let c = self.next()?;
        if !c.is_ascii_digit() {
            return None;
        }
        let mut v = u32::from(c - b'0');
        if let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            self.i += 1;
            v = v * 10 + u32::from(d - b'0');
        }
        Some(v)
    }
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Timestamp {
    /// Go's RFC 3339 text with trimmed nanoseconds, as `time.Time.MarshalJSON` writes it.
    pub(crate) fn rfc3339(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            s.push('Z');
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let off = self.offset.unsigned_abs() / 60;
            s.push_str(&format!("{sign}{:02}:{:02}", off / 60, off % 60));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: &str) -> Option<String> {
        parse(s).map(|t| t.rfc3339())
    }

    #[test]
    fn layouts_and_json_text() {
        assert_eq!(fmt("2001-12-14").as_deref(), Some("2001-12-14T00:00:00Z"));
        assert_eq!(
            fmt("2001-12-14T21:59:43.10Z").as_deref(),
            Some("2001-12-14T21:59:43.1Z")
        );
        assert_eq!(
            fmt("2001-12-14t21:59:43.10-05:00").as_deref(),
            Some("2001-12-14T21:59:43.1-05:00")
        );
        assert_eq!(
            fmt("2001-12-14 21:59:43.10").as_deref(),
            Some("2001-12-14T21:59:43.1Z")
        );
        assert_eq!(fmt("2001-1-2").as_deref(), Some("2001-01-02T00:00:00Z"));
        assert_eq!(fmt("2000-02-29").as_deref(), Some("2000-02-29T00:00:00Z"));
        for bad in [
            "2001-02-29",
            "2001-13-01",
            "2001-12-14T21:59:43",
            "20011-1-1",
            "2001-12-14x",
        ] {
            assert_eq!(fmt(bad), None, "{bad}");
        }
        assert_eq!(fmt("2001-12-14 21:59:43.10 -5"), None);
    }
}
