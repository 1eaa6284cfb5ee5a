//! Prints the MSK IAM token kafka-exporter makes for fixed inputs, and its expiry (unix
//! milliseconds), one per line: what tests/kafka/test_msk_iam.py compares with AWS's reference
//! signer. The credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and (if set)
//! AWS_SESSION_TOKEN, never from the command line.
//!
//!   msk-iam-token REGION UNIX_SECONDS

use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use kafka_exporter::client::aws_iam::{presign, user_agent};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (region, seconds) = match args.as_slice() {
        [r, t] => match t.parse::<u64>() {
            Ok(t) => (r.clone(), t),
            Err(e) => {
                eprintln!("msk-iam-token: UNIX_SECONDS {t:?}: {e}");
                return ExitCode::from(64);
            }
        },
        _ => {
            eprintln!("usage: msk-iam-token REGION UNIX_SECONDS");
            return ExitCode::from(64);
        }
    };
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let session = std::env::var("AWS_SESSION_TOKEN").ok();
    let creds = Credentials::new(
        var("AWS_ACCESS_KEY_ID"),
        var("AWS_SECRET_ACCESS_KEY"),
        session,
        None,
        "environment",
    );
    match presign(
        &creds,
        &region,
        UNIX_EPOCH + Duration::from_secs(seconds),
        &user_agent(),
    ) {
        Ok((token, expires)) => {
            let ms = expires
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            println!("{token}\n{ms}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("msk-iam-token: {e}");
            ExitCode::from(1)
        }
    }
}
