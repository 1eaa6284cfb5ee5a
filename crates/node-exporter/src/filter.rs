//! Include/exclude filters on device, mount and sensor names, as node_exporter's
//! `--collector.<name>.<thing>-include` / `-exclude` flags work: an include list, when given,
//! keeps only what matches; otherwise the exclude list drops what matches.

use regex::Regex;

use exporter_core::cli::UsageError;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Filter {
    /// Compiles the two patterns. `flag` names the flag family in error messages. Go's regexp
    /// and Rust's regex agree on the RE2 syntax these flags use.
    pub fn new(
        flag: &str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Self, UsageError> {
        let compile = |kind: &str, p: Option<&str>| -> Result<Option<Regex>, UsageError> {
            match p {
                None | Some("") => Ok(None),
                Some(p) => Regex::new(p).map(Some).map_err(|e| {
                    UsageError::new(format!(
                        "--{flag}-{kind}: bad regular expression: {}",
                        one_line(&e.to_string())
                    ))
                }),
            }
        };
        Ok(Self {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
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

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_pattern_is_one_line() {
        let e = Filter::new("collector.netdev.device", Some("("), None).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("--collector.netdev.device-include: bad regular expression"));
        assert!(!e.to_string().contains('\n'));
    }
}
