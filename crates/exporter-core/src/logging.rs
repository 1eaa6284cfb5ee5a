//! Logging in promslog's shapes: logfmt (`time=… level=info msg="…" key=value`) or JSON, to stderr.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogArgs;

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(args: &LogArgs) {
    let level = match args.level.as_str() {
        "debug" => Level::DEBUG,
        "warn" => Level::WARN,
        "error" => Level::ERROR,
        _ => Level::INFO,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    let _ = if args.format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder.event_format(Logfmt).try_init()
    };
}

/// A logfmt line per event: time, level, msg, then the event's fields.
struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let level = match *meta.level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            _ => "debug",
        };
        write!(
            w,
            "time={} level={level} source={}",
            rfc3339_now(),
            meta.target()
        )?;
        let mut v = LogfmtVisitor {
            msg: None,
            fields: String::new(),
        };
        event.record(&mut v);
        if let Some(msg) = v.msg {
            write!(w, " msg={}", quote(&msg))?;
        }
        writeln!(w, "{}", v.fields)
    }
}

struct LogfmtVisitor {
    msg: Option<String>,
    fields: String,
}

impl Visit for LogfmtVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = Some(value.to_string());
        } else {
            self.fields.push(' ');
            self.fields.push_str(field.name());
            self.fields.push('=');
            self.fields.push_str(&quote(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Whether a character must not reach a log line as is: control characters (a `\r` or an
/// escape sequence in a consumer group's name would forge a line or repaint a terminal) and the
/// Unicode line and paragraph separators some viewers break lines at.
fn is_unsafe(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Quotes a logfmt value when it needs quoting, as go-logfmt does: with quotes, `\"`, `\\`,
/// `\n`, `\r`, `\t`, and `\uXXXX` for any other control character.
fn quote(s: &str) -> String {
    if !s.is_empty()
        && !s
            .chars()
            .any(|c| matches!(c, ' ' | '"' | '=' | '\\') || is_unsafe(c))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The current UTC time as `2006-01-02T15:04:05.000Z`, without pulling in a date crate.
fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::civil::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("plain"), "plain");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn control_characters_cannot_forge_a_line_or_a_field() {
        // A consumer group named with a carriage return, an escape sequence and a
        // line separator: nothing of it may reach the log raw.
        let forged = "g\r\ntime=x level=error msg=forged\u{1b}[2J\u{7f}\u{85}\u{2028}\0";
        let q = quote(forged);
        assert!(q.starts_with('"') && q.ends_with('"'), "{q}");
        assert!(
            !q.chars().any(|c| c.is_control() || c == '\u{2028}'),
            "{q:?}"
        );
        assert_eq!(
            q,
            "\"g\\r\\ntime=x level=error msg=forged\\u001b[2J\\u007f\\u0085\\u2028\\u0000\""
        );
        // A lone control character is enough to need quotes.
        assert_eq!(quote("a\u{1b}b"), "\"a\\u001bb\"");
        assert_eq!(quote("a\rb"), "\"a\\rb\"");
    }

    #[test]
    fn time_looks_like_rfc3339() {
        let t = rfc3339_now();
        assert_eq!(t.len(), 24, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
