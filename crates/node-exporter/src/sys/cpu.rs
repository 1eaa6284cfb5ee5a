//! The `cpuN` directories of `<sysfs>/devices/system/cpu` and the kernel's CPU lists
//! (`0-3,8`), for the `cpu` and `cpufreq` collectors.

/// The number of a `cpuN` directory (anything the glob `cpu[0-9]*` matches).
pub fn cpu_number(name: &str) -> Option<&str> {
    super::read::glob_numbered(name, "cpu")
}

/// A kernel CPU list (`0-3,8,10-11\n`, or empty) as numbers.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut cpus = Vec::new();
    for part in text.trim_end_matches('\n').split(',') {
        if part.is_empty() {
            continue;
        }
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|e| format!("invalid cpu {s:?} in list: {e}"))
        };
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(num(a)?..=num(b)?),
            None => cpus.push(num(part)?),
        }
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("\n"), Ok(vec![]));
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Ok(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert!(parse_cpu_list("x\n").is_err());
        assert_eq!(cpu_number("cpu12"), Some("12"));
        assert_eq!(cpu_number("cpufreq"), None);
        assert_eq!(cpu_number("cpuidle"), None);
    }
}
