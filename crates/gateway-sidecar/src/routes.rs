//! The route rules file (`--config.file`): which requests are which route, auth step and user
//! operation, plus the settings that shape the metrics (buckets, unmatched handling, sessions).
//!
//! ```yaml
//! prefix: /api                       # NestJS' global prefix, prepended to every rule's path
//! buckets: [0.005, 0.01, 0.1, 1]     # http_request_duration_seconds buckets
//! unmatched: { mode: normalize, max_routes: 100 }
//! sessions: { cookies: [refresh_token], idle_timeout: 30m, max_entries: 1000000 }
//! rules:
//!   - { methods: POST, path: /auth/login, auth: login, user_operation: authenticate }
//!   - { methods: [PUT, PATCH], path: /users/:id, user_operation: update }
//! ```
//!
//! Every check happens while the YAML is deserialised, so serde_yaml_ng puts the line and column
//! of the offending value in the message, and a bad file is one line naming the line.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use exporter_core::cli::UsageError;

/// The rules the sidecar ships with: the platform gateway's auth and user endpoints.
pub const DEFAULT_RULES: &str = include_str!("../routes.yml");

/// The method label values: the standard methods of RFC 9110 and PATCH, then `_OTHER` for any
/// other token, so a client cannot mint label values by inventing methods.
pub const METHOD_LABELS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];
/// Index of `_OTHER` in [`METHOD_LABELS`].
pub const OTHER_METHOD: usize = 9;

/// prom-client's default buckets, which the NestJS services' dashboards are built on.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `route` label of requests no rule matched (and of normalised routes past the cap).
pub const UNMATCHED: &str = "unmatched";

/// Index of a method in [`METHOD_LABELS`].
pub fn method_index(m: &hyper::Method) -> usize {
    use hyper::Method as M;
    match *m {
        M::GET => 0,
        M::HEAD => 1,
        M::POST => 2,
        M::PUT => 3,
        M::DELETE => 4,
        M::CONNECT => 5,
        M::OPTIONS => 6,
        M::TRACE => 7,
        M::PATCH => 8,
        _ => OTHER_METHOD,
    }
}

/// The `type` label of `auth_requests_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    Login,
    Logout,
    Refresh,
    Callback,
}

impl AuthType {
    pub const ALL: [AuthType; 4] = [
        AuthType::Login,
        AuthType::Logout,
        AuthType::Refresh,
        AuthType::Callback,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Login => "login",
            AuthType::Logout => "logout",
            AuthType::Refresh => "refresh",
            AuthType::Callback => "callback",
        }
    }
    /// Whether a successful request of this type opens a session.
    pub fn starts_session(self) -> bool {
        matches!(self, AuthType::Login | AuthType::Callback)
    }
}

/// The `operation` label of `user_operations_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserOp {
    Create,
    Update,
    Delete,
    Authenticate,
}

impl UserOp {
    pub const ALL: [UserOp; 4] = [
        UserOp::Create,
        UserOp::Update,
        UserOp::Delete,
        UserOp::Authenticate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            UserOp::Create => "create",
            UserOp::Update => "update",
            UserOp::Delete => "delete",
            UserOp::Authenticate => "authenticate",
        }
    }
}

/// What happens to requests no rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmatched {
    /// `route="unmatched"`.
    Label,
    /// Ids, UUIDs and long hex or token-like segments become `:id`; at most `max_routes`
    /// distinct results, the rest are `unmatched`.
    Normalize { max_routes: usize },
}

/// The session-tracking settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionSettings {
    /// Cookie names that carry a session, in order of preference.
    pub cookies: Vec<String>,
    pub idle_timeout: Duration,
    pub max_entries: usize,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            cookies: Vec::new(),
            idle_timeout: Duration::from_secs(30 * 60),
            max_entries: 1_000_000,
        }
    }
}

/// One path segment of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Lit(Box<str>),
    /// `:name` or `*`: exactly one non-empty segment.
    One,
    /// `**`, last only: any number of segments, none included.
    Rest,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Bit i set: the method at index i of [`METHOD_LABELS`] matches.
    methods: u16,
    segs: Vec<Seg>,
    pub route: String,
    pub auth: Option<AuthType>,
    pub user_op: Option<UserOp>,
}

impl Rule {
    fn matches(&self, method: usize, path: &[&str]) -> bool {
        if self.methods & (1 << method) == 0 {
            return false;
        }
        let mut i = 0;
        for seg in &self.segs {
            match seg {
                Seg::Rest => return true,
                Seg::One => {
                    if i >= path.len() {
                        return false;
                    }
                }
                Seg::Lit(l) => {
                    // Express routes without regard to ASCII case by default (its
                    // `caseSensitive: false`), so the app answers /Auth/Login as /auth/login.
                    if !path.get(i).is_some_and(|p| p.eq_ignore_ascii_case(l)) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == path.len()
    }
}

/// A loaded, validated rules file.
#[derive(Clone, Debug)]
pub struct Config {
    pub buckets: Vec<f64>,
    pub unmatched: Unmatched,
    pub sessions: SessionSettings,
    pub rules: Vec<Rule>,
}

impl Config {
    /// Reads and checks a rules file; `prefix` (from the command line) overrides the file's.
    pub fn load(path: &Path, prefix: Option<&str>) -> Result<Self, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError::new(format!("config file {}: {e}", path.display())))?;
        Self::parse(&text, prefix)
            .map_err(|e| UsageError::new(format!("config file {}: {e}", path.display())))
    }

    /// The built-in rules ([`DEFAULT_RULES`]).
    pub fn builtin(prefix: Option<&str>) -> Result<Self, UsageError> {
        Self::parse(DEFAULT_RULES, prefix)
            .map_err(|e| UsageError::new(format!("built-in rules: {e}")))
    }

    /// Parses rules text. The error is one line and names the line of the problem.
    pub fn parse(text: &str, prefix_override: Option<&str>) -> Result<Self, String> {
        let doc: FileDoc = serde_yaml_ng::from_str(text).map_err(|e| locate(text, &e))?;
        let prefix = match prefix_override {
            Some(p) => {
                Prefix::try_from(p.to_string())
                    .map_err(|e| format!("--config.prefix: {e}"))?
                    .0
            }
            None => doc.prefix.0,
        };
        let prefix_segs: Vec<Seg> = split(&prefix).map(|s| Seg::Lit(s.into())).collect();
        let rules = doc
            .rules
            .into_iter()
            .map(|r| {
                let mut segs = if r.prefix {
                    prefix_segs.clone()
                } else {
                    Vec::new()
                };
                segs.extend(r.path.segs);
                let route = match r.route {
                    Some(l) => l.0,
                    None if r.prefix && r.path.text == "/" && !prefix.is_empty() => prefix.clone(),
                    None if r.prefix => format!("{prefix}{}", r.path.text),
                    None => r.path.text,
                };
                Rule {
                    methods: r.methods.0,
                    segs,
                    route,
                    auth: r.auth,
                    user_op: r.user_operation,
                }
            })
            .collect();
        Ok(Config {
            buckets: doc
                .buckets
                .map(|b| b.0)
                .unwrap_or_else(|| DEFAULT_BUCKETS.to_vec()),
            unmatched: match doc.unmatched.mode {
                UnmatchedMode::Label => Unmatched::Label,
                UnmatchedMode::Normalize => Unmatched::Normalize {
                    max_routes: doc.unmatched.max_routes,
                },
            },
            sessions: SessionSettings {
                cookies: doc.sessions.cookies.into_iter().map(|c| c.0).collect(),
                idle_timeout: doc.sessions.idle_timeout.0,
                max_entries: doc.sessions.max_entries,
            },
            rules,
        })
    }

    /// The first rule that matches, if any.
    pub fn find(&self, method: usize, path: &str) -> Option<(usize, &Rule)> {
        // Up to 16 segments on the stack; longer paths (rare) take one allocation.
        let mut stack: [&str; 16] = [""; 16];
        let mut n = 0;
        let mut heap: Vec<&str> = Vec::new();
        for s in split(path) {
            if n < stack.len() {
                stack[n] = s;
            } else {
                if heap.is_empty() {
                    heap.extend_from_slice(&stack);
                }
                heap.push(s);
            }
            n += 1;
        }
        let segs = if heap.is_empty() {
            &stack[..n]
        } else {
            &heap[..]
        };
        self.rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(method, segs))
    }
}

/// Path segments, without empty ones: `/a//b/` is `a`, `b`, as Express routes it.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The error on one line, with its line number. serde_yaml_ng gives a position for nearly every
/// error; for the few it cannot place (a check at the end of a list), the line of the key the
/// message starts with is looked up.
fn locate(text: &str, e: &serde_yaml_ng::Error) -> String {
    let msg = one_line(&e.to_string());
    if e.location().is_some() || msg.contains(" at line ") {
        return msg;
    }
    let key = msg.split(':').next().unwrap_or("").trim();
    let line = text.lines().position(|l| {
        let l = l.trim_start().trim_start_matches("- ").trim_start();
        !key.is_empty() && l.starts_with(key) && l[key.len()..].starts_with(':')
    });
    match line {
        Some(n) => format!("{msg} at line {}", n + 1),
        None => msg,
    }
}

/// The normalised form of an unmatched path, or `None` when it cannot be made into a bounded
/// label (too long or too deep). Segments that look like identifiers become `:id`: all digits,
/// UUIDs, hex of 8 or more with a digit, and long or token-like segments, so that neither ids nor
/// secrets in paths (reset tokens, signed links) reach a label.
pub fn normalize(path: &str) -> Option<String> {
    const MAX_SEGMENTS: usize = 8;
    let mut out = String::with_capacity(path.len().min(128));
    for (i, seg) in split(path).enumerate() {
        if i >= MAX_SEGMENTS {
            return None;
        }
        out.push('/');
        if looks_like_id(seg) {
            out.push_str(":id");
        } else {
            out.push_str(seg);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Some(out)
}

fn looks_like_id(seg: &str) -> bool {
    let b = seg.as_bytes();
    if b.len() > 32 {
        return true;
    }
    // Anything but plain word characters (percent-escapes, '@', '=', '+', ...) is data, not a
    // route: e-mail addresses, encoded values, base64.
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        return true;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == b.len() {
        return true;
    }
    if is_uuid(b) {
        return true;
    }
    if b.len() >= 8 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    // Mixed letters and digits at token length: ObjectIds in other spellings, nanoids, slugs
    // with ids. Route names of that shape are rare; ids of that shape are common.
    b.len() >= 16 && digits > 0
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

pub use exporter_core::cli::parse_duration;

// ---- The file's shape. Each newtype validates itself while deserialising, so errors carry the
// ---- position serde_yaml_ng adds.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    prefix: Prefix,
    #[serde(default)]
    buckets: Option<Buckets>,
    #[serde(default)]
    unmatched: UnmatchedDoc,
    #[serde(default)]
    sessions: SessionsDoc,
    rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    path: Template,
    #[serde(default)]
    methods: Methods,
    #[serde(default)]
    route: Option<Label>,
    #[serde(default)]
    auth: Option<AuthType>,
    #[serde(default)]
    user_operation: Option<UserOp>,
    /// Whether the global prefix applies to this rule (default yes).
    #[serde(default = "yes")]
    prefix: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnmatchedDoc {
    #[serde(default)]
    mode: UnmatchedMode,
    #[serde(default = "default_max_routes")]
    max_routes: usize,
}

impl Default for UnmatchedDoc {
    fn default() -> Self {
        Self {
            mode: UnmatchedMode::Label,
            max_routes: default_max_routes(),
        }
    }
}

fn default_max_routes() -> usize {
    100
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum UnmatchedMode {
    #[default]
    Label,
    Normalize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsDoc {
    #[serde(default)]
    cookies: Vec<CookieName>,
    #[serde(default = "default_idle")]
    idle_timeout: DurationField,
    #[serde(default = "default_max_entries")]
    max_entries: usize,
}

impl Default for SessionsDoc {
    fn default() -> Self {
        Self {
            cookies: Vec::new(),
            idle_timeout: default_idle(),
            max_entries: default_max_entries(),
        }
    }
}

fn default_idle() -> DurationField {
    DurationField(Duration::from_secs(30 * 60))
}

fn default_max_entries() -> usize {
    1_000_000
}

#[derive(Default)]
struct Prefix(String);

impl TryFrom<String> for Prefix {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim_end_matches('/');
        if t.is_empty() {
            return Ok(Prefix(String::new()));
        }
        if !t.starts_with('/') {
            return Err(format!("prefix {s:?} must start with '/'"));
        }
        for seg in split(t) {
            if !seg.bytes().all(is_path_char) || seg.starts_with(':') || seg.contains('*') {
                return Err(format!("prefix {s:?}: bad segment {seg:?}"));
            }
        }
        Ok(Prefix(t.to_string()))
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Prefix::try_from(String::deserialize(d)?).map_err(de::Error::custom)
    }
}

fn is_path_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'@'
                | b'%'
        )
}

/// A path template: `/users/:id`, `/files/*`, `/static/**`.
struct Template {
    text: String,
    segs: Vec<Seg>,
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !s.starts_with('/') {
            return Err(format!("bad path template {s:?}: must start with '/'"));
        }
        let parts: Vec<&str> = split(&s).collect();
        let mut segs = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let seg = if *p == "**" {
                if i + 1 != parts.len() {
                    return Err(format!(
                        "bad path template {s:?}: '**' may only be the last segment"
                    ));
                }
                Seg::Rest
            } else if *p == "*" {
                Seg::One
            } else if let Some(name) = p.strip_prefix(':') {
                if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return Err(format!(
                        "bad path template {s:?}: bad parameter {p:?} (want :name)"
                    ));
                }
                Seg::One
            } else {
                if let Some(c) = p.bytes().find(|c| !is_path_char(*c)) {
                    return Err(format!(
                        "bad path template {s:?}: character {:?} not allowed in a segment",
                        c as char
                    ));
                }
                Seg::Lit((*p).into())
            };
            segs.push(seg);
        }
        let text = if s.len() > 1 {
            s.trim_end_matches('/').to_string()
        } else {
            s
        };
        Ok(Template { text, segs })
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Template::try_from(String::deserialize(d)?).map_err(de::Error::custom)
    }
}

/// A route label given in the file.
struct Label(String);

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.len() > 200 || s.chars().any(char::is_control) {
            return Err(de::Error::custom(format!(
                "bad route label {s:?}: want 1 to 200 printable characters"
            )));
        }
        Ok(Label(s))
    }
}

/// A cookie name (an RFC 6265 token).
struct CookieName(String);

impl<'de> Deserialize<'de> for CookieName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = !s.is_empty()
            && s.bytes().all(|c| {
                c.is_ascii_graphic()
                    && !matches!(
                        c,
                        b'(' | b')'
                            | b'<'
                            | b'>'
                            | b'@'
                            | b','
                            | b';'
                            | b':'
                            | b'\\'
                            | b'"'
                            | b'/'
                            | b'['
                            | b']'
                            | b'?'
                            | b'='
                            | b'{'
                            | b'}'
                    )
            });
        if !ok {
            return Err(de::Error::custom(format!("bad cookie name {s:?}")));
        }
        Ok(CookieName(s))
    }
}

struct DurationField(Duration);

impl<'de> Deserialize<'de> for DurationField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let v = parse_duration(&s).map_err(de::Error::custom)?;
        if v.is_zero() {
            return Err(de::Error::custom("idle_timeout must be above zero"));
        }
        Ok(DurationField(v))
    }
}

struct Buckets(Vec<f64>);

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Checked element by element, so an error points at the bad bound's line.
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Buckets;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of increasing bucket bounds")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buckets, A::Error> {
                let mut v: Vec<f64> = Vec::new();
                while let Some(b) = seq.next_element::<f64>()? {
                    if !b.is_finite() {
                        return Err(de::Error::custom("bounds must be finite (+Inf is implied)"));
                    }
                    if v.last().is_some_and(|l| *l >= b) {
                        return Err(de::Error::custom(format!(
                            "bounds must increase ({b} after {})",
                            v.last().copied().unwrap_or_default()
                        )));
                    }
                    if v.len() == 64 {
                        return Err(de::Error::custom("at most 64 bounds"));
                    }
                    v.push(b);
                }
                if v.is_empty() {
                    return Err(de::Error::custom("want at least one bucket bound"));
                }
                Ok(Buckets(v))
            }
        }
        d.deserialize_seq(V)
    }
}

/// `methods:`: one method, `PUT|PATCH`, `*`, or a list. Default: every method.
struct Methods(u16);

impl Default for Methods {
    fn default() -> Self {
        Methods(ALL_METHODS)
    }
}

const ALL_METHODS: u16 = (1 << METHOD_LABELS.len()) - 1;

fn method_bits(s: &str) -> Result<u16, String> {
    let mut bits = 0;
    for m in s.split('|') {
        let m = m.trim();
        if m == "*" {
            bits |= ALL_METHODS;
            continue;
        }
        match METHOD_LABELS[..OTHER_METHOD]
            .iter()
            .position(|l| l.eq_ignore_ascii_case(m))
        {
            Some(i) => bits |= 1 << i,
            None => {
                return Err(format!(
                    "unknown method {m:?} (want one of {}, or *)",
                    METHOD_LABELS[..OTHER_METHOD].join(", ")
                ))
            }
        }
    }
    Ok(bits)
}

impl<'de> Deserialize<'de> for Methods {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Methods;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a method, \"PUT|PATCH\", \"*\" or a list of methods")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Methods, E> {
                method_bits(s).map(Methods).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Methods, A::Error> {
                let mut bits = 0;
                while let Some(s) = seq.next_element::<String>()? {
                    bits |= method_bits(&s).map_err(de::Error::custom)?;
                }
                if bits == 0 {
                    return Err(de::Error::custom("methods: empty list"));
                }
                Ok(Methods(bits))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn route<'a>(c: &'a Config, m: &str, p: &str) -> Option<&'a str> {
        let mi = method_index(&hyper::Method::from_bytes(m.as_bytes()).unwrap());
        c.find(mi, p).map(|(_, r)| r.route.as_str())
    }

    #[test]
    fn builtin_rules_cover_the_platform_endpoints() {
        let c = Config::builtin(Some("/api")).unwrap();
        assert_eq!(
            route(&c, "POST", "/api/auth/login"),
            Some("/api/auth/login")
        );
        assert_eq!(
            route(&c, "GET", "/api/auth/callback"),
            Some("/api/auth/callback")
        );
        assert_eq!(route(&c, "PATCH", "/api/users/42"), Some("/api/users/:id"));
        assert_eq!(
            route(&c, "DELETE", "/api/users/42/"),
            Some("/api/users/:id")
        );
        assert_eq!(route(&c, "POST", "/auth/login"), None);
        let (_, r) = c.find(2, "/api/users").unwrap();
        assert_eq!(r.user_op, Some(UserOp::Create));
        let (_, r) = c.find(2, "/api/auth/login").unwrap();
        assert_eq!(r.auth, Some(AuthType::Login));
        assert_eq!(r.user_op, Some(UserOp::Authenticate));
        assert_eq!(c.buckets, DEFAULT_BUCKETS.to_vec());
        let c = Config::builtin(None).unwrap();
        assert_eq!(route(&c, "POST", "/auth/logout"), Some("/auth/logout"));
    }

    #[test]
    fn templates_params_and_wildcards() {
        let c = Config::parse(
            "prefix: /v1/\nrules:\n\
             - {path: /a/:x/b, methods: GET}\n\
             - {path: /files/*, methods: 'PUT|PATCH', route: files}\n\
             - {path: /static/**, prefix: false}\n\
             - {path: /, methods: [get, head]}\n",
            None,
        )
        .unwrap();
        assert_eq!(route(&c, "GET", "/v1/a/7/b"), Some("/v1/a/:x/b"));
        assert_eq!(route(&c, "POST", "/v1/a/7/b"), None);
        assert_eq!(route(&c, "GET", "/v1/a//b"), None);
        assert_eq!(route(&c, "PATCH", "/v1/files/x"), Some("files"));
        assert_eq!(route(&c, "PATCH", "/v1/files/x/y"), None);
        assert_eq!(route(&c, "BREW", "/static"), Some("/static/**"));
        assert_eq!(route(&c, "GET", "/static/a/b/c"), Some("/static/**"));
        assert_eq!(route(&c, "HEAD", "/v1"), Some("/v1"));
        assert_eq!(route(&c, "GET", "/v1/x"), None);
        let deep = format!("/static{}", "/x".repeat(40));
        assert_eq!(route(&c, "GET", &deep), Some("/static/**"));
    }

    #[test]
    fn literal_segments_match_without_case_as_express_does() {
        // Express routes case-insensitively by default (`caseSensitive: false`): the app
        // answers /Auth/Login as /auth/login, so it must count as a login here too, or a
        // brute force with odd casing escapes `auth_requests_total`.
        let c = Config::builtin(Some("/api")).unwrap();
        assert_eq!(
            route(&c, "POST", "/API/Auth/LOGIN"),
            Some("/api/auth/login")
        );
        let (_, r) = c.find(2, "/api/AUTH/login").unwrap();
        assert_eq!(r.auth, Some(AuthType::Login));
        assert_eq!(route(&c, "GET", "/Api/Users/Me"), Some("/api/users/:id"));
    }

    #[test]
    fn first_match_wins() {
        let c = Config::parse(
            "rules:\n- {path: /users/me, route: me}\n- {path: /users/:id}\n",
            None,
        )
        .unwrap();
        assert_eq!(route(&c, "GET", "/users/me"), Some("me"));
        assert_eq!(route(&c, "GET", "/users/3"), Some("/users/:id"));
    }

    fn err(text: &str) -> String {
        Config::parse(text, None).unwrap_err()
    }

    #[test]
    fn errors_name_the_line() {
        let e = err("rules:\n  - path: /ok\n  - path: users/:id\n");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("must start with '/'"), "{e}");
        let e = err("rules:\n  - path: /ok\n    colour: blue\n");
        assert!(e.contains("unknown field `colour`"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        let e = err("rules:\n  - path: /a/**/b\n");
        assert!(e.contains("line 2") && e.contains("'**'"), "{e}");
        let e = err("rules:\n  - path: '/a/:'\n");
        assert!(e.contains("bad parameter"), "{e}");
        let e = err("rules:\n  - path: /a\n    methods: [GET, BREW]\n");
        assert!(e.contains("BREW") && e.contains("line 3"), "{e}");
        let e = err("rules:\n  - path: /a\n    auth: signup\n");
        assert!(e.contains("signup") && e.contains("line 3"), "{e}");
        let e = err("buckets: [1, 0.5]\nrules: []\n");
        assert!(e.contains("increase") && e.contains("line 1"), "{e}");
        let e = err("rules: []\nbuckets: []\n");
        assert!(
            e.contains("at least one") && e.contains("line 2") && e.starts_with("buckets: want"),
            "{e}"
        );
        let e = err("rules: [\n");
        assert!(e.contains("line"), "{e}");
        let e = err("sessions:\n  idle_timeout: soon\nrules: []\n");
        assert!(e.contains("soon") && e.contains("line 2"), "{e}");
        let e = err("sessions:\n  cookies: ['a b']\nrules: []\n");
        assert!(e.contains("cookie"), "{e}");
        let e = err("prefix: api\nrules: []\n");
        assert!(e.contains("prefix"), "{e}");
        assert!(!err("rules: [{path: '/a b'}]").contains('\n'));
    }

    #[test]
    fn normalizer_replaces_ids_and_tokens() {
        let n = |p| normalize(p).unwrap();
        assert_eq!(n("/orders/123/items"), "/orders/:id/items");
        assert_eq!(n("/x/3f2504e0-4f89-11d3-9a0c-0305e82c3301"), "/x/:id");
        assert_eq!(n("/blob/deadbeef00"), "/blob/:id");
        assert_eq!(
            n("/reset/eyJhbGciOiJIUzI1NiJ9xyzxyzxyzxyzxyzxyz"),
            "/reset/:id"
        );
        assert_eq!(n("/mail/a%40b.c"), "/mail/:id");
        assert_eq!(n("/health"), "/health");
        assert_eq!(n("/"), "/");
        assert_eq!(n("/v2/users"), "/v2/users");
        assert!(normalize("/a/b/c/d/e/f/g/h/i").is_none());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
    }
}
