//! The `cpuN` directories of `<sysfs>/devices/system/cpu` and the kernel's CPU lists
//! (`0-3,8`), for the `cpu` and `cpufreq` collectors.

/// The number of a `cpuN` directory (anything the glob `cpu[0-9]*` matches).
pub fn cpu_number(name: &str) -> Option<&str> {
    super::read::glob_numbered(name, "cpu")
}

/// More CPUs than any kernel supports (NR_CPUS is at most 8192 on x86-64): a list naming more
/// is corrupt, and `0-4294967295` must not allocate 16 GiB (found by the proc_sys fuzz target,
/// as a 1.6 GB peak).
const MAX_CPUS: usize = 1 << 16;

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
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                let n = usize::try_from(b.saturating_sub(a)).unwrap_or(usize::MAX);
                if cpus.len().saturating_add(n) >= MAX_CPUS {
                    return Err(format!("cpu list names more than {MAX_CPUS} cpus"));
                }
                cpus.extend(a..=b)
            }
            None => cpus.push(num(part)?),
        }
        if cpus.len() > MAX_CPUS {
            return Err(format!("cpu list names more than {MAX_CPUS} cpus"));
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
        // Bounded: no 16 GiB vector for a corrupt list.
        assert!(parse_cpu_list("0-4294967295\n").is_err());
        assert!(parse_cpu_list("0-40000,0-40000\n").is_err());
        assert_eq!(parse_cpu_list("0-8191\n").unwrap().len(), 8192);
        assert_eq!(cpu_number("cpu12"), Some("12"));
        assert_eq!(cpu_number("cpufreq"), None);
        assert_eq!(cpu_number("cpuidle"), None);
    }
}
