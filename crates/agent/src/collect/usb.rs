//! USB devices — on Linux from sysfs (`/sys/bus/usb/devices`), on Windows from SetupAPI's device
//! nodes: each device's vendor and product ids, its name and serial when it gives them, and
//! whether it (or one of its interfaces) is mass storage (class 08 on Linux; the `USBSTOR` driver
//! on Windows). Polled every two seconds; the difference between two scans is the attach and
//! remove events.

use mamori_proto::agent::UsbDevice;
use std::collections::BTreeMap;
use std::path::Path;

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The USB devices present on this PC.
pub fn present() -> BTreeMap<String, UsbDevice> {
    #[cfg(windows)]
    {
        from_windows(&super::win32::usb_nodes())
    }
    #[cfg(not(windows))]
    {
        scan(Path::new("/sys/bus/usb/devices"))
    }
}

/// `VID_0781&PID_5581` → ("0781", "5581").
#[cfg_attr(not(windows), allow(dead_code))]
fn vid_pid(part: &str) -> Option<(String, String)> {
    let mut vid = None;
    let mut pid = None;
    for field in part.split('&') {
        let upper = field.to_ascii_uppercase();
        if let Some(v) = upper.strip_prefix("VID_") {
            vid = Some(v.to_ascii_lowercase());
        } else if let Some(p) = upper.strip_prefix("PID_") {
            pid = Some(p.to_ascii_lowercase());
        }
    }
    let hex4 = |s: &String| s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
    Some((vid.filter(hex4)?, pid.filter(hex4)?))
}

/// Devices from SetupAPI's USB nodes — (instance id, service, name) — by instance id. A device
/// is `USB\VID_xxxx&PID_xxxx\<serial>`; an interface of a composite device adds `&MI_nn` and
/// makes its device mass storage when the `USBSTOR` driver serves it. A generated instance (with
/// `&` in it) is no serial.
#[cfg_attr(not(windows), allow(dead_code))]
pub fn from_windows(nodes: &[(String, Option<String>, Option<String>)]) -> BTreeMap<String, UsbDevice> {
    let clip =
        |s: &Option<String>| s.as_ref().map(|v| v.chars().filter(|c| !c.is_control()).take(128).collect());
    let mut out = BTreeMap::new();
    let mut storage_interfaces = Vec::new();
    for (id, service, name) in nodes {
        let parts: Vec<&str> = id.split('\\').collect();
        let [bus, hardware, instance] = parts[..] else { continue };
        if !bus.eq_ignore_ascii_case("USB") {
            continue;
        }
        let Some((vendor_id, product_id)) = vid_pid(hardware) else { continue };
        let storage = service.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("USBSTOR"));
        if hardware.to_ascii_uppercase().contains("&MI_") {
            if storage {
                storage_interfaces.push((vendor_id, product_id));
            }
            continue;
        }
        let serial = Some(instance).filter(|s| !s.contains('&') && !s.is_empty()).map(str::to_owned);
        out.insert(
            id.clone(),
            UsbDevice {
                vendor_id,
                product_id,
                product: clip(name),
                serial: clip(&serial),
                mass_storage: storage,
            },
        );
    }
    for device in out.values_mut() {
        if storage_interfaces.contains(&(device.vendor_id.clone(), device.product_id.clone())) {
            device.mass_storage = true;
        }
    }
    out
}

/// The USB devices under `root` (normally `/sys/bus/usb/devices`), by their sysfs name.
#[cfg_attr(windows, allow(dead_code))]
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

    #[test]
    fn windows_nodes_make_devices() {
        let node = |id: &str, service: Option<&str>, name: &str| {
            (id.to_owned(), service.map(str::to_owned), Some(name.to_owned()))
        };
        let nodes = vec![
            node(r"USB\ROOT_HUB30\4&1b1e3e47&0&0", Some("USBHUB3"), "USB Root Hub"),
            node(r"USB\VID_0781&PID_5581\4C530001230312116325", Some("USBSTOR"), "Ultra USB 3.0"),
            node(r"USB\VID_046D&PID_C52B\6&2b8a1f5&0&1", Some("usbccgp"), "Unifying Receiver"),
            node(r"USB\VID_046D&PID_C52B&MI_00\7&1f2e&0&0000", Some("HidUsb"), "HID"),
            node(r"USB\VID_0BDA&PID_0316\20120501030900000", Some("usbccgp"), "Card reader"),
            node(r"USB\VID_0BDA&PID_0316&MI_00\7&aa&0&0000", Some("USBSTOR"), "Card reader storage"),
            node(r"HID\VID_046D&PID_C52B\8&1", Some("mouhid"), "not a USB node"),
        ];
        let devices = from_windows(&nodes);
        assert_eq!(devices.len(), 3, "{devices:?}");
        let stick = &devices[r"USB\VID_0781&PID_5581\4C530001230312116325"];
        assert_eq!((stick.vendor_id.as_str(), stick.product_id.as_str()), ("0781", "5581"));
        assert_eq!(stick.serial.as_deref(), Some("4C530001230312116325"));
        assert!(stick.mass_storage);
        let receiver = &devices[r"USB\VID_046D&PID_C52B\6&2b8a1f5&0&1"];
        assert!(!receiver.mass_storage);
        assert_eq!(receiver.serial, None, "a generated instance id is no serial");
        assert!(devices[r"USB\VID_0BDA&PID_0316\20120501030900000"].mass_storage, "storage on an interface");
    }

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
