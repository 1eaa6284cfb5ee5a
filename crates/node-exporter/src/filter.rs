//! Include/exclude filters on device, mount and sensor names, as node_exporter's
//! `--collector.<name>.<thing>-include` / `-exclude` flags work: an include list, when given,
//! keeps only what matches; otherwise the exclude list drops what matches.

use regex_lite::Regex;

use exporter_core::cli::UsageError;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Filter {
    /// Compiles the two patterns. `flag` names the flag family in error messages:
    /// `--<flag>-include`, `--<flag>-exclude`.
    pub fn new(
        flag: &str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Self, UsageError> {
        Ok(Self {
            include: compile_optional_regex(&format!("{flag}-include"), include)?,
            exclude: compile_optional_regex(&format!("{flag}-exclude"), exclude)?,
        })
    }

    /// Whether `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        match (&self.include, &self.exclude) {
            (Some(inc), _) => !inc.is_match(name),
            (None, Some(exc)) => exc.is_match(name),
            (None, None) => false,
        }
    }
}

/// node_exporter's `deviceFilter`, where include and exclude both apply: a name is dropped when
/// the exclude pattern matches it *or* the include pattern does not (unlike [`Filter`], where a
/// given include wins). The arp and hwmon flags work this way.
#[derive(Debug, Clone, Default)]
pub struct BothFilter {
    include: Filter,
    exclude: Filter,
}

impl BothFilter {
    /// Compiles the two patterns; `flag` names the flag family in error messages.
    pub fn new(
        flag: &str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Self, UsageError> {
        Ok(Self {
            include: Filter::new(flag, include, None)?,
            exclude: Filter::new(flag, None, exclude)?,
        })
    }

    /// Whether `name` is filtered out.
    pub fn ignored(&self, name: &str) -> bool {
        self.exclude.ignored(name) || self.include.ignored(name)
    }
}

/// How an include flag given without an explicit exclude treats the exclude in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeAlone {
    /// It drops the default exclude, unless the deprecated flag was given at all (diskstats).
    DropsDefault,
    /// It drops any exclude, the deprecated flag's too, and says so at debug level
    /// (filesystem's mount points and fs types, as upstream's `newMountPointsFilter`).
    DropsAny,
}

/// A node_exporter `--<prefix>.<name>-include` / `-exclude` pair with a default exclude and a
/// deprecated `--<prefix>.<deprecated>` flag standing in for the exclude.
#[derive(Debug, Clone, Copy)]
pub struct FlagPair<'a> {
    /// `collector.filesystem`
    pub prefix: &'a str,
    /// `mount-points`
    pub name: &'a str,
    /// `ignored-mount-points`
    pub deprecated: &'a str,
    pub default_exclude: &'a str,
    pub include_alone: IncludeAlone,
}

impl FlagPair<'_> {
    /// Resolves the three flags into one filter as node_exporter does: the deprecated flag
    /// stands in for an unset exclude (both set is an error), an include given without an
    /// explicit exclude drops the exclude as [`IncludeAlone`] says, and two non-empty patterns
    /// are an error.
    pub fn resolve(
        &self,
        include: Option<&str>,
        exclude: Option<&str>,
        deprecated: Option<&str>,
    ) -> Result<Filter, UsageError> {
        let (prefix, name, old_name) = (self.prefix, self.name, self.deprecated);
        let exclude_set = exclude.is_some();
        let mut exclude = exclude.unwrap_or(self.default_exclude).to_string();
        if let Some(old) = deprecated.filter(|s| !s.is_empty()) {
            if exclude_set {
                return Err(UsageError::new(format!(
                    "--{prefix}.{old_name} and --{prefix}.{name}-exclude are mutually exclusive"
                )));
            }
            tracing::warn!("--{prefix}.{old_name} is DEPRECATED and will be removed in 2.0.0, use --{prefix}.{name}-exclude");
            exclude = old.to_string();
        }
        let include = include.unwrap_or("");
        if !include.is_empty() && !exclude_set {
            match self.include_alone {
                IncludeAlone::DropsDefault => {
                    if deprecated.is_none() {
                        exclude.clear();
                    }
                }
                IncludeAlone::DropsAny => {
                    tracing::debug!("{name}-exclude flag not set when {name}-include flag is set, assuming include is desired");
                    exclude.clear();
                }
            }
        }
        if !include.is_empty() && !exclude.is_empty() {
            return Err(UsageError::new(format!(
                "--{prefix}.{name}-exclude and --{prefix}.{name}-include are mutually exclusive"
            )));
        }
        Filter::new(&format!("{prefix}.{name}"), Some(include), Some(&exclude))
    }
}

/// A regex over names that repeat on every scrape (vmstat and netstat field names): each name is
/// matched once, later scrapes look the answer up. The set of names a kernel writes is fixed, so
/// the memo stays small.
#[derive(Debug)]
pub struct MemoMatch {
    regex: Regex,
    seen: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl MemoMatch {
    pub fn new(regex: Regex) -> Self {
        Self {
            regex,
            seen: Default::default(),
        }
    }

    pub fn is_match(&self, name: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&m) = seen.get(name) {
            return m;
        }
        let m = self.regex.is_match(name);
        seen.insert(name.to_string(), m);
        m
    }
}

/// Compiles the regular expression given to `--<flag>`. A bad one is a usage error naming the
/// flag, on one line. Go's regexp and Rust's regex agree on the RE2 syntax these flags use.
pub fn compile_regex(flag: &str, pattern: &str) -> Result<Regex, UsageError> {
    Regex::new(pattern).map_err(|e| {
        UsageError::new(format!(
            "--{flag}: bad regular expression: {}",
            one_line(&e.to_string())
        ))
    })
}

/// [`compile_regex`] for a pattern that may be absent: none or an empty one is no regex.
pub fn compile_optional_regex(
    flag: &str,
    pattern: Option<&str>,
) -> Result<Option<Regex>, UsageError> {
    match pattern {
        None | Some("") => Ok(None),
        Some(p) => compile_regex(flag, p).map(Some),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn memo_match_answers_like_the_regex() {
        let m = MemoMatch::new(Regex::new("^(a|b)").unwrap());
        for _ in 0..2 {
            assert!(m.is_match("apple"));
            assert!(!m.is_match("cherry"));
        }
    }

    #[test]
    fn include_wins_over_exclude() {
        let f = Filter::new("x", Some("^eth"), Some("^eth1$")).unwrap();
        assert!(!f.ignored("eth1"));
        assert!(f.ignored("lo"));
        let f = Filter::new("x", None, Some("^lo$")).unwrap();
        assert!(f.ignored("lo"));
        assert!(!f.ignored("eth0"));
        assert!(!Filter::default().ignored("anything"));
    }

    #[test]
    fn both_filter_applies_both_patterns() {
        let f = BothFilter::new("x", Some("^eth"), Some("^eth1$")).unwrap();
        assert!(f.ignored("eth1"));
        assert!(f.ignored("lo"));
        assert!(!f.ignored("eth0"));
        assert!(!BothFilter::default().ignored("anything"));
    }

    #[test]
    fn compile_regex_names_the_flag() {
        let e = compile_regex("collector.vmstat.fields", "(")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--collector.vmstat.fields: bad regular expression: "),
            "{e}"
        );
        assert!(!e.contains('\n'));
        assert!(compile_optional_regex("x", Some("")).unwrap().is_none());
        assert!(compile_optional_regex("x", None).unwrap().is_none());
        assert!(compile_optional_regex("x", Some("^a")).unwrap().is_some());
    }

    #[test]
    fn bad_pattern_is_one_line() {
        let e = Filter::new("collector.netdev.device", Some("("), None).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("--collector.netdev.device-include: bad regular expression"));
        assert!(!e.to_string().contains('\n'));
    }
}
