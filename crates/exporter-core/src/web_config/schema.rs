//! The file as written: serde structures that refuse unknown fields and duplicate keys as
//! yaml.v2's `UnmarshalStrict` does, YAML 1.1 booleans, and Go's zero-value and path rules.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Deserialize, Default, Debug)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping with tls_server_config, http_server_config, basic_auth_users or rate_limit"
)]
pub(super) struct RawConfig {
    pub(super) tls_server_config: Option<RawTls>,
    pub(super) http_server_config: Option<RawHttp>,
    pub(super) rate_limit: Option<RawRateLimit>,
    #[serde(default, deserialize_with = "unique_map")]
    pub(super) basic_auth_users: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of tls_server_config settings"
)]
pub(super) struct RawTls {
    pub(super) cert: Option<String>,
    pub(super) key: Option<String>,
    pub(super) client_ca: Option<String>,
    pub(super) cert_file: Option<String>,
    pub(super) key_file: Option<String>,
    pub(super) client_auth_type: Option<String>,
    pub(super) client_ca_file: Option<String>,
    pub(super) cipher_suites: Option<Vec<String>>,
    pub(super) curve_preferences: Option<Vec<String>>,
    pub(super) min_version: Option<String>,
    pub(super) max_version: Option<String>,
    #[serde(default, deserialize_with = "yaml11_bool")]
    pub(super) prefer_server_cipher_suites: Option<bool>,
    pub(super) client_allowed_sans: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of http_server_config settings"
)]
pub(super) struct RawHttp {
    /// Accepted; this server speaks HTTP/1.1 only (Prometheus scrapes over HTTP/1.1 anyway).
    #[allow(dead_code)]
    #[serde(default, deserialize_with = "yaml11_bool")]
    pub(super) http2: Option<bool>,
    #[serde(default, deserialize_with = "unique_map")]
    pub(super) headers: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields, expecting = "a mapping with interval and burst")]
pub(super) struct RawRateLimit {
    /// A Go duration (`1s`, `500ms`) or an integer number of nanoseconds, as yaml.v2 reads a
    /// `time.Duration`.
    pub(super) interval: Option<serde_yaml_ng::Value>,
    pub(super) burst: Option<u32>,
}

/// A mapping of strings that refuses a key given twice, as yaml.v2's `UnmarshalStrict` does
/// (serde_yaml_ng would keep the last one silently).
fn unique_map<'de, D>(d: D) -> Result<Option<BTreeMap<String, Option<String>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<BTreeMap<String, Option<String>>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of names to strings")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_map(self)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, Option<String>>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "mapping key {k:?} already defined"
                    )));
                }
                out.insert(k, v);
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(V)
}

/// A boolean as yaml.v2 (YAML 1.1) reads one: `yes`/`no`/`on`/`off` too, not only true/false.
fn yaml11_bool<'de, D>(d: D) -> Result<Option<bool>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error as _;
    Ok(match Option::<serde_yaml_ng::Value>::deserialize(d)? {
        None | Some(serde_yaml_ng::Value::Null) => None,
        Some(serde_yaml_ng::Value::Bool(b)) => Some(b),
        Some(serde_yaml_ng::Value::String(s)) => match s.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
                Some(true)
            }
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
            | "FALSE" => Some(false),
            _ => return Err(D::Error::custom(format!("{s:?} is not a boolean"))),
        },
        Some(other) => {
            return Err(D::Error::custom(format!(
                "expected a boolean, got {}",
                serde_yaml_ng::to_string(&other).unwrap_or_default().trim()
            )))
        }
    })
}

/// Empty strings mean "not set", as Go's zero values do.
pub(super) fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// config_util.JoinDir: absolute paths as they are, relative ones under the config's directory.
pub(super) fn join_dir(dir: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}
