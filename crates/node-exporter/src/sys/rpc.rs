//! What the `nfs` and `nfsd` collectors share in reading `<procfs>/net/rpc/nfs` and
//! `<procfs>/net/rpc/nfsd`: the NFSv2 and v3 procedure names, and the line parsers (each line is a
//! key and numbers; a `procN` line starts with its count).

/// NFSv2 procedures, in the kernel's order (after the count).
pub const V2_PROCS: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures.
pub const V3_PROCS: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// The numbers of a line after its key; any non-number fails the file, as in procfs.
pub fn parse_values(line: &str, values: &[&str]) -> Result<Vec<u64>, String> {
    values
        .iter()
        .map(|v| v.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("error parsing NFS metric line {line:?}: {e}"))
}

/// Checks a line's value count.
pub fn expect_len(what: &str, v: &[u64], n: usize) -> Result<(), String> {
    if v.len() == n {
        Ok(())
    } else {
        Err(format!("invalid {what} line {v:?}"))
    }
}

/// A `procN` line: the leading count must match, and be at least `min`.
pub fn proc_counts(what: &str, v: &[u64], min: usize) -> Result<Vec<u64>, String> {
    let n = v.first().copied().unwrap_or(0) as usize;
    if v.len() - 1 != n || n < min {
        return Err(format!("invalid {what} line {v:?}"));
    }
    Ok(v[1..].to_vec())
}
