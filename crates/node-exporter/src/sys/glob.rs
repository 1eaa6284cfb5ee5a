//! Go's `filepath.Glob`, `Match`, `Join` and `Clean`, for `--collector.textfile.directory`:
//! a pattern must match the same directories, in the same order, as node_exporter's.

use std::fs;
use std::path::Path;

/// Go's `filepath.Glob`: the sorted matches of a pattern; `Err` for a malformed pattern.
pub fn glob(pattern: &str) -> Result<Vec<String>, BadPattern> {
    compile(pattern)?;
    if !has_meta(pattern) {
        return Ok(if fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_string()]
        } else {
            Vec::new()
        });
    }
    let (dir, file) = match pattern.rfind('/') {
        Some(i) => (&pattern[..=i], &pattern[i + 1..]),
        None => ("", pattern),
    };
    let dir = match dir {
        "" => ".".to_string(),
        "/" => "/".to_string(),
        d => d[..d.len() - 1].to_string(),
    };
    if !has_meta(&dir) {
        return glob_in(&dir, file, Vec::new());
    }
    if dir == pattern {
        return Err(BadPattern);
    }
    let mut matches = Vec::new();
    for d in glob(&dir)? {
        matches = glob_in(&d, file, matches)?;
    }
    Ok(matches)
}

fn glob_in(dir: &str, pattern: &str, mut matches: Vec<String>) -> Result<Vec<String>, BadPattern> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        _ => return Ok(matches),
    }
    let names = super::read::dir_names(Path::new(dir)).unwrap_or_default();
    for name in names {
        if glob_match(pattern, &name)? {
            matches.push(go_join(dir, &name));
        }
    }
    Ok(matches)
}

fn has_meta(p: &str) -> bool {
    p.contains(['*', '?', '[', '\\'])
}

/// A malformed glob pattern (Go's `filepath.ErrBadPattern`).
#[derive(Debug, PartialEq)]
pub struct BadPattern;

enum Tok {
    Star,
    Any,
    Lit(char),
    Class(bool, Vec<(char, char)>),
}

fn compile(pattern: &str) -> Result<Vec<Tok>, BadPattern> {
    let mut toks = Vec::new();
    let mut it = pattern.chars().peekable();
    while let Some(c) = it.next() {
        toks.push(match c {
            '*' => Tok::Star,
            '?' => Tok::Any,
            '\\' => Tok::Lit(it.next().ok_or(BadPattern)?),
            '[' => {
                let negated = it.peek() == Some(&'^');
                if negated {
                    it.next();
                }
                let mut ranges = Vec::new();
                let esc = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| match it.next() {
                    None | Some('-') | Some(']') => Err(BadPattern),
                    Some('\\') => it.next().ok_or(BadPattern),
                    Some(c) => Ok(c),
                };
                loop {
                    match it.peek() {
                        Some(']') if !ranges.is_empty() => {
                            it.next();
                            break;
                        }
                        None => return Err(BadPattern),
                        _ => {}
                    }
                    let lo = esc(&mut it)?;
                    let hi = if it.peek() == Some(&'-') {
                        it.next();
                        esc(&mut it)?
                    } else {
                        lo
                    };
                    ranges.push((lo, hi));
                }
                Tok::Class(negated, ranges)
            }
            c => Tok::Lit(c),
        });
    }
    Ok(toks)
}

/// Go's `filepath.Match` for one path element.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let toks = compile(pattern)?;
    let s: Vec<char> = name.chars().collect();
    let one = |tok: &Tok, c: char| match tok {
        Tok::Any => c != '/',
        Tok::Lit(l) => *l == c,
        Tok::Class(neg, ranges) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *neg,
        Tok::Star => false,
    };
    // Matching with backtracking to the last star only: O(pattern x name). Trying every split
    // at every star was exponential; a 52-byte pattern of stars took longer than the fuzz
    // target's 10 s limit (found by the glob fuzz target).
    let (mut t, mut i) = (0, 0);
    // After the last star seen: the token following it and where in the name its match ends.
    let mut star: Option<(usize, usize)> = None;
    loop {
        match toks.get(t) {
            Some(Tok::Star) => {
                star = Some((t + 1, i));
                t += 1;
                continue;
            }
            Some(tok) if i < s.len() && one(tok, s[i]) => {
                t += 1;
                i += 1;
                continue;
            }
            None if i == s.len() => return Ok(true),
            _ => {}
        }
        // A mismatch: let the last star take one more character (never a separator).
        match star {
            Some((after, end)) if end < s.len() && s[end] != '/' => {
                star = Some((after, end + 1));
                t = after;
                i = end + 1;
            }
            _ => return Ok(false),
        }
    }
}

/// Go's `filepath.Join(dir, name)`.
pub fn go_join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        go_clean(name)
    } else {
        go_clean(&format!("{dir}/{name}"))
    }
}

/// Go's `filepath.Clean`: lexical, no file system access.
pub fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn many_stars_take_linear_time() {
        // From fuzz/corpus/glob/many_stars: exponential before, microseconds now.
        let t0 = std::time::Instant::now();
        let name = format!("{}0", "d".repeat(40));
        assert_eq!(
            glob_match("***?**??**?**?*?*?*?*?*?*?*?*x", &name),
            Ok(false)
        );
        assert_eq!(glob_match("*a*b*c*", "xxaxxbxxcxx"), Ok(true));
        assert_eq!(glob_match("a*/b", "ax/b"), Ok(true));
        assert_eq!(glob_match("a*b", "a/b"), Ok(false));
        assert_eq!(glob_match("*", ""), Ok(true));
        assert!(t0.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn globs_like_go() {
        assert_eq!(glob_match("*.prom", "a.prom"), Ok(true));
        assert_eq!(glob_match("*.prom", ".hidden.prom"), Ok(true));
        assert_eq!(glob_match("a?c", "abc"), Ok(true));
        assert_eq!(glob_match("a?c", "ac"), Ok(false));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("[^a-c]x", "dx"), Ok(true));
        assert_eq!(glob_match("\\*", "*"), Ok(true));
        assert_eq!(glob_match("x*y*z", "xaaybbz"), Ok(true));
        assert_eq!(glob_match("x*y*z", "xaaybb"), Ok(false));
        assert_eq!(glob_match("[", "a"), Err(BadPattern));
        assert_eq!(glob_match("[]a]", "a"), Err(BadPattern));
        assert_eq!(glob_match("[a-]", "a"), Err(BadPattern));
        assert_eq!(glob_match("a\\", "a"), Err(BadPattern));
        assert_eq!(go_clean(""), ".");
        assert_eq!(go_clean("/tmp//tf1/"), "/tmp/tf1");
        assert_eq!(go_clean("./tf1/../tf2/./a.prom"), "tf2/a.prom");
        assert_eq!(go_clean("/../x"), "/x");
        assert_eq!(go_clean("../../x"), "../../x");
        assert_eq!(go_join("dir/", "a.prom"), "dir/a.prom");
        assert_eq!(go_join("", "a.prom"), "a.prom");

        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        for d in ["node-b", "node-a", "other"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(dir.path().join("node-file"), "").unwrap();
        assert_eq!(
            glob(&format!("{root}/node-*")).unwrap(),
            vec![
                format!("{root}/node-a"),
                format!("{root}/node-b"),
                format!("{root}/node-file")
            ]
        );
        assert_eq!(glob(&format!("{root}/*/")).unwrap(), Vec::<String>::new());
        assert_eq!(
            glob(&format!("{root}/o*")).unwrap(),
            vec![format!("{root}/other")]
        );
        assert_eq!(
            glob(&format!("{root}/other")).unwrap(),
            vec![format!("{root}/other")]
        );
        assert_eq!(glob(&format!("{root}/none")).unwrap(), Vec::<String>::new());
        assert_eq!(glob(&format!("{root}/[")), Err(BadPattern));
        assert_eq!(glob(""), Ok(vec![]));
    }
}
