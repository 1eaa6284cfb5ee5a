//! The pci.ids database (https://pci-ids.ucw.cz/), read as upstream's `loadPCIIds` reads it:
//! vendors (no indent), their devices (one tab) and subsystems (two tabs), and after `C xx`
//! lines the classes, subclasses (one tab) and programming interfaces (two tabs). Id and name
//! are separated by two spaces; lines that lack them are skipped.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct PciIds {
    vendors: HashMap<String, String>,
    /// `(vendor, device)` -> name
    devices: HashMap<(String, String), String>,
    /// `(vendor:device, subvendor:subdevice)` -> name
    subsystems: HashMap<(String, String), String>,
    classes: HashMap<String, String>,
    subclasses: HashMap<String, String>,
    prog_ifs: HashMap<String, String>,
}

/// `id  name`, trimmed: the line split at its first two-space separator.
fn id_name(line: &str) -> Option<(&str, &str)> {
    line.split_once("  ").map(|(a, b)| (a.trim(), b.trim()))
}

impl PciIds {
    pub fn parse(text: &str) -> Self {
        let mut ids = PciIds::default();
        let (mut vendor, mut device, mut base, mut subclass) =
            (String::new(), String::new(), String::new(), String::new());
        let mut in_class = false;
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let one_tab = line.starts_with('\t') && !line.starts_with("\t\t");
            let two_tabs = line.starts_with("\t\t") && !line.starts_with("\t\t\t");
            if let Some(rest) = line.strip_prefix("C ") {
                if let Some((_, name)) = id_name(line) {
                    // The id is what follows "C" up to the separator.
                    let id = rest.split_once("  ").map_or("", |(a, _)| a).trim();
                    ids.classes.insert(id.to_string(), name.to_string());
                    base = id.to_string();
                    in_class = true;
                }
                continue;
            }
            if one_tab && in_class {
                if let Some((id, name)) = id_name(&line[1..]) {
                    if !base.is_empty() {
                        subclass = format!("{base}{id}");
                        ids.subclasses.insert(subclass.clone(), name.to_string());
                    }
                }
                continue;
            }
            if two_tabs && in_class {
                if let Some((id, name)) = id_name(&line[2..]) {
                    if !subclass.is_empty() {
                        ids.prog_ifs
                            .insert(format!("{subclass}{id}"), name.to_string());
                    }
                }
                continue;
            }
            if !line.starts_with('\t') {
                if let Some((id, name)) = id_name(line) {
                    vendor = id.to_string();
                    ids.vendors.insert(vendor.clone(), name.to_string());
                    device.clear();
                    in_class = false;
                }
                continue;
            }
            if one_tab {
                if let Some((id, name)) = id_name(&line[1..]) {
                    if !vendor.is_empty() {
                        device = id.to_string();
                        ids.devices
                            .insert((vendor.clone(), device.clone()), name.to_string());
                    }
                }
                continue;
            }
            // Two or more tabs: a subsystem `subvendor subdevice  name`.
            if let Some((id, name)) = id_name(&line[2..]) {
                if !vendor.is_empty() && !device.is_empty() {
                    let parts: Vec<&str> = id.split_whitespace().collect();
                    if let [sv, sd] = parts.as_slice() {
                        ids.subsystems.insert(
                            (format!("{vendor}:{device}"), format!("{sv}:{sd}")),
                            name.to_string(),
                        );
                    }
                }
            }
        }
        ids
    }

    pub fn vendor(&self, id: &str) -> String {
        let id = bare(id).to_lowercase();
        self.vendors.get(&id).cloned().unwrap_or(id)
    }

    pub fn device(&self, vendor: &str, device: &str) -> String {
        let key = (bare(vendor).to_lowercase(), bare(device).to_lowercase());
        self.devices.get(&key).cloned().unwrap_or(key.1)
    }

    pub fn subsystem(
        &self,
        vendor: &str,
        device: &str,
        sub_vendor: &str,
        sub_device: &str,
    ) -> String {
        let key = (
            format!("{}:{}", bare(vendor), bare(device)),
            format!("{}:{}", bare(sub_vendor), bare(sub_device)),
        );
        self.subsystems
            .get(&key)
            .cloned()
            .unwrap_or_else(|| bare(sub_device).to_string())
    }

    /// The most specific name: programming interface, subclass, then class.
    pub fn class(&self, class: &str) -> String {
        let id = bare(class).to_lowercase();
        for (len, map) in [
            (6, &self.prog_ifs),
            (4, &self.subclasses),
            (2, &self.classes),
        ] {
            if let Some(name) = id.get(..len).and_then(|k| map.get(k)) {
                return name.clone();
            }
        }
        format!("Unknown class ({id})")
    }
}

fn bare(id: &str) -> &str {
    id.strip_prefix("0x").unwrap_or(id)
}
