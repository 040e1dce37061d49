//! USB devices on Linux, from sysfs (`/sys/bus/usb/devices`): each device's vendor and product
//! ids, its name and serial when it gives them, and whether one of its interfaces is mass
//! storage (class 08). Polled every two seconds; the difference between two scans is the
//! attach and remove events.

use mamori_proto::agent::UsbDevice;
use std::collections::BTreeMap;
use std::path::Path;

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The USB devices under `root` (normally `/sys/bus/usb/devices`), by their sysfs name.
pub fn scan(root: &Path) -> BTreeMap<String, UsbDevice> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(root) else { return out };
    let entries: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    for (name, dir) in &entries {
        // Devices are named like `1-1` or `2-1.4`; interfaces like `1-1:1.0`; root hubs `usb1`.
        if name.contains(':') || name.starts_with("usb") {
            continue;
        }
        let (Some(vendor_id), Some(product_id)) = (read(dir, "idVendor"), read(dir, "idProduct")) else {
            continue;
        };
        let mass_storage = entries
            .iter()
            .filter(|(n, _)| n.starts_with(&format!("{name}:")))
            .any(|(_, d)| read(d, "bInterfaceClass").as_deref() == Some("08"));
        let clip = |s: Option<String>| s.map(|v| v.chars().filter(|c| !c.is_control()).take(128).collect());
        out.insert(
            name.clone(),
            UsbDevice {
                vendor_id,
                product_id,
                product: clip(read(dir, "product")),
                serial: clip(read(dir, "serial")),
                mass_storage,
            },
        );
    }
    out
}

/// What changed between two scans: (attached, removed).
pub fn changes(
    before: &BTreeMap<String, UsbDevice>,
    now: &BTreeMap<String, UsbDevice>,
) -> (Vec<UsbDevice>, Vec<UsbDevice>) {
    let attached = now.iter().filter(|(k, v)| before.get(*k) != Some(v)).map(|(_, v)| v.clone()).collect();
    let removed = before.iter().filter(|(k, v)| now.get(*k) != Some(v)).map(|(_, v)| v.clone()).collect();
    (attached, removed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn device(root: &Path, name: &str, vendor: &str, product: &str, class: &str) {
        let d = root.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("idVendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(d.join("idProduct"), format!("{product}\n")).unwrap();
        std::fs::write(d.join("product"), "Example Stick\n").unwrap();
        let i = root.join(format!("{name}:1.0"));
        std::fs::create_dir_all(&i).unwrap();
        std::fs::write(i.join("bInterfaceClass"), format!("{class}\n")).unwrap();
    }

    #[test]
    fn sees_a_stick_come_and_go() {
        let root = tempfile::tempdir().unwrap();
        device(root.path(), "1-1", "046d", "c52b", "03");
        std::fs::create_dir_all(root.path().join("usb1")).unwrap();
        let before = scan(root.path());
        assert_eq!(before.len(), 1);
        assert!(!before["1-1"].mass_storage, "a keyboard receiver");
        device(root.path(), "2-1.4", "0781", "5581", "08");
        let now = scan(root.path());
        let (attached, removed) = changes(&before, &now);
        assert_eq!(attached.len(), 1);
        assert!(attached[0].mass_storage && attached[0].vendor_id == "0781");
        assert_eq!(attached[0].product.as_deref(), Some("Example Stick"));
        assert!(removed.is_empty());
        std::fs::remove_dir_all(root.path().join("2-1.4")).unwrap();
        let (attached, removed) = changes(&now, &scan(root.path()));
        assert!(attached.is_empty());
        assert_eq!(removed[0].product_id, "5581");
        assert!(scan(&root.path().join("missing")).is_empty());
    }
}
