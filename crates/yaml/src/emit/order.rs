//! go-yaml v2's "natural" map key order.
//!
//! At the first differing character: two letters compare by code point; a letter sorts after
//! a non-letter; otherwise the digit runs starting there compare by value, then the shorter run
//! first, then by code point. A string that is a prefix of the other sorts first.

fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn digit_value(c: char) -> i64 {
    // Go computes `rune - '0'`, which is only meaningful for ASCII digits.
    i64::from(u32::from(c)) - i64::from(u32::from('0'))
}

/// True when key `a` sorts before key `b`.
pub(crate) fn key_less(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return less_chars(a.as_bytes(), b.as_bytes());
    }
    less_chars(
        &a.chars().collect::<Vec<_>>(),
        &b.chars().collect::<Vec<_>>(),
    )
}

fn less_chars<T: Copy + Into<char> + PartialEq>(a: &[T], b: &[T]) -> bool {
    let ch = |s: &[T], i: usize| -> char { s[i].into() };
    let n = a.len().min(b.len());
    for i in 0..n {
        if a[i] == b[i] {
            continue;
        }
        let (ac, bc) = (ch(a, i), ch(b, i));
        let al = is_letter(ac);
        let bl = is_letter(bc);
        if al && bl {
            return ac < bc;
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ac == '0' || bc == '0' {
            let mut j = i;
            while j > 0 && is_digit(ch(a, j - 1)) {
                j -= 1;
                if ch(a, j) != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < a.len() && is_digit(ch(a, ai)) {
            an = an.wrapping_mul(10).wrapping_add(digit_value(ch(a, ai)));
            ai += 1;
        }
        let mut bi = i;
        while bi < b.len() && is_digit(ch(b, bi)) {
            bn = bn.wrapping_mul(10).wrapping_add(digit_value(ch(b, bi)));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ac < bc;
    }
    a.len() < b.len()
}

/// Sorts map entries by key in go-yaml v2's order.
///
/// The order is not transitive for some mixes of digits and letters (`019é`, `0bA.`, `1.5`
/// form a cycle); go-yaml then depends on Go's random map order, so any result is as right.
/// A hand-written sort is used because the standard library's may panic on such orders.
pub(crate) fn sort_entries<T>(entries: &mut [(&str, T)]) {
    if entries.len() <= 12 {
        for i in 1..entries.len() {
            let mut j = i;
            while j > 0 && key_less(entries[j].0, entries[j - 1].0) {
                entries.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    // Merge sort over indices, then apply the permutation.
    let n = entries.len();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut buf = vec![0usize; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut a, mut b, mut k) = (start, mid, start);
            while a < mid && b < end {
                if key_less(entries[idx[b]].0, entries[idx[a]].0) {
                    buf[k] = idx[b];
                    b += 1;
                } else {
                    buf[k] = idx[a];
                    a += 1;
                }
                k += 1;
            }
            buf[k..k + (mid - a)].copy_from_slice(&idx[a..mid]);
            k += mid - a;
            buf[k..k + (end - b)].copy_from_slice(&idx[b..end]);
            start = end;
        }
        std::mem::swap(&mut idx, &mut buf);
        width *= 2;
    }
    permute(entries, &idx);
}

/// Reorders `v` so that `v[i]` becomes the old `v[order[i]]`.
fn permute<T>(v: &mut [T], order: &[usize]) {
    let mut done = vec![false; v.len()];
    for start in 0..v.len() {
        if done[start] {
            continue;
        }
        let mut cur = start;
        loop {
            done[cur] = true;
            let next = order[cur];
            if next == start {
                break;
            }
            v.swap(cur, next);
            cur = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_matches_kustomize() {
        // Captured from `kubectl kustomize` (v5.5.0).
        let want = [
            "", "-", "_a", "~", "1", "1.5", "02", "10", "Key", "a", "a b", "a: b", "a_", "aB",
            "ab", "e", "key_a", "keyA", "keys2", "keys10", "null", "x1y", "x01y", "x001y", "yes",
            "z9", "z09a", "É",
        ];
        let mut entries: Vec<(&str, ())> = want.iter().rev().map(|k| (*k, ())).collect();
        sort_entries(&mut entries);
        let got: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
        assert_eq!(got, want);

        let mut many: Vec<(&str, ())> = want
            .iter()
            .rev()
            .chain(want.iter())
            .map(|k| (*k, ()))
            .collect();
        sort_entries(&mut many);
        let got: Vec<&str> = many.iter().step_by(2).map(|(k, _)| *k).collect();
        assert_eq!(got, want, "merge sort path");
        let cyclic = ["019é", "0bA.", "1.5", "axy"];
        let mut entries: Vec<(&str, ())> = cyclic.iter().map(|k| (*k, ())).collect();
        sort_entries(&mut entries); // Not transitive: must simply not panic.
        assert_eq!(entries.len(), 4);

        let want2 = ["9", "10", "a0", "a00", "a1", "a1-", "a1_", "a1b", "aa"];
        let mut entries: Vec<(&str, ())> = want2.iter().rev().map(|k| (*k, ())).collect();
        sort_entries(&mut entries);
        let got: Vec<&str> = entries.iter().map(|(k, _)| *k).collect();
        assert_eq!(got, want2);
    }
}
