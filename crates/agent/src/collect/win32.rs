//! Calls into Win32 — the only unsafe code in Mamori, each call with its SAFETY note.
//!
//! The desktop as the session helper sees it: key presses and clicks counted by low-level hooks
//! (`WH_KEYBOARD_LL`, `WH_MOUSE_LL`) — the hook is told a key went down and counts it; the key's
//! code, in the structure the hook is handed, is never read — idle time from `GetLastInputInfo`,
//! the window in front from `GetForegroundWindow` with its process's executable and its title,
//! the lock from the input desktop (`Winlogon` while locked), the screen locked with
//! `LockWorkStation`, and messages in a message box. For the service: its named pipe, which
//! interactive users may open, the user at its other end, and the USB devices present
//! (SetupAPI).

use crate::session::{DesktopSource, Front};
use anyhow::{Context, Result};
use std::sync::atomic::{AtomicU32, Ordering};
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LPARAM, LRESULT, LocalFree, WPARAM};
use windows_sys::Win32::UI::WindowsAndMessaging as wm;

static KEYS: AtomicU32 = AtomicU32::new(0);
static CLICKS: AtomicU32 = AtomicU32::new(0);

unsafe extern "system" fn keyboard_hook(code: i32, wparam: WPARAM, lparam: LPARAM) -> LRESULT {
    // Only the kind of event is looked at; `lparam` (which holds the key) is passed on unread.
    if code >= 0 && matches!(wparam as u32, wm::WM_KEYDOWN | wm::WM_SYSKEYDOWN) {
        KEYS.fetch_add(1, Ordering::Relaxed);
    }
    unsafe { wm::CallNextHookEx(std::ptr::null_mut(), code, wparam, lparam) }
}

unsafe extern "system" fn mouse_hook(code: i32, wparam: WPARAM, lparam: LPARAM) -> LRESULT {
    if code >= 0 && matches!(wparam as u32, wm::WM_LBUTTONDOWN | wm::WM_RBUTTONDOWN | wm::WM_MBUTTONDOWN) {
        CLICKS.fetch_add(1, Ordering::Relaxed);
    }
    unsafe { wm::CallNextHookEx(std::ptr::null_mut(), code, wparam, lparam) }
}

pub struct WindowsDesktop;

impl WindowsDesktop {
    /// Installs the input hooks on a thread of their own (low-level hooks are called on the
    /// installing thread's message loop).
    pub fn start() -> Result<WindowsDesktop> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: plain Win32 calls; the hook procedures have the signature HOOKPROC needs
            // and live for the whole program.
            unsafe {
                // The thread's message queue exists before the hooks do, so no event finds it missing.
                let mut msg: wm::MSG = std::mem::zeroed();
                wm::PeekMessageW(&mut msg, std::ptr::null_mut(), 0, 0, wm::PM_NOREMOVE);
                let keyboard =
                    wm::SetWindowsHookExW(wm::WH_KEYBOARD_LL, Some(keyboard_hook), std::ptr::null_mut(), 0);
                let mouse = wm::SetWindowsHookExW(wm::WH_MOUSE_LL, Some(mouse_hook), std::ptr::null_mut(), 0);
                let _ = tx.send(!keyboard.is_null() && !mouse.is_null());
                while wm::GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {}
            }
        });
        let hooked = rx.recv().unwrap_or(false);
        anyhow::ensure!(hooked, "the input hooks could not be installed (is this a desktop session?)");
        Ok(WindowsDesktop)
    }
}

fn wide(s: &std::ffi::OsStr) -> Vec<u16> {
    use std::os::windows::ffi::OsStrExt;
    s.encode_wide().chain(std::iter::once(0)).collect()
}

/// The executable's name without its folder or `.exe`, e.g. `chrome`.
fn process_name(pid: u32) -> Option<String> {
    use windows_sys::Win32::System::Threading::{
        OpenProcess, PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
    };
    // SAFETY: the handle is closed below; the buffer's length is passed with it.
    unsafe {
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            return None;
        }
        let mut buf = [0u16; 1024];
        let mut len = buf.len() as u32;
        let ok = QueryFullProcessImageNameW(process, PROCESS_NAME_WIN32, buf.as_mut_ptr(), &mut len);
        CloseHandle(process);
        if ok == 0 {
            return None;
        }
        let path = String::from_utf16_lossy(&buf[..len as usize]);
        let file = path.rsplit(['\\', '/']).next().unwrap_or(&path);
        Some(file.strip_suffix(".exe").or_else(|| file.strip_suffix(".EXE")).unwrap_or(file).to_owned())
    }
}

impl DesktopSource for WindowsDesktop {
    fn take_input(&self) -> (u32, u32) {
        (KEYS.swap(0, Ordering::Relaxed), CLICKS.swap(0, Ordering::Relaxed))
    }

    fn idle_ms(&self) -> Option<u64> {
        use windows_sys::Win32::System::SystemInformation::GetTickCount;
        use windows_sys::Win32::UI::Input::KeyboardAndMouse::{GetLastInputInfo, LASTINPUTINFO};
        let mut info = LASTINPUTINFO { cbSize: std::mem::size_of::<LASTINPUTINFO>() as u32, dwTime: 0 };
        // SAFETY: `info` is sized as the call requires.
        let ok = unsafe { GetLastInputInfo(&mut info) };
        (ok != 0).then(|| u64::from(unsafe { GetTickCount() }.wrapping_sub(info.dwTime)))
    }

    fn front(&self) -> Option<Front> {
        // SAFETY: the window handle is only passed back to user32; buffers carry their lengths.
        unsafe {
            let window = wm::GetForegroundWindow();
            if window.is_null() {
                return None;
            }
            let mut pid = 0u32;
            wm::GetWindowThreadProcessId(window, &mut pid);
            let mut title = [0u16; 512];
            let n = wm::GetWindowTextW(window, title.as_mut_ptr(), title.len() as i32);
            let title = String::from_utf16_lossy(&title[..usize::try_from(n).unwrap_or(0)]);
            Some(Front { app: process_name(pid)?, title })
        }
    }

    fn locked(&self) -> Option<bool> {
        use windows_sys::Win32::System::StationsAndDesktops::{
            CloseDesktop, DESKTOP_SWITCHDESKTOP, GetUserObjectInformationW, OpenInputDesktop, UOI_NAME,
        };
        // SAFETY: the desktop handle is closed below; the buffer's length is passed with it.
        unsafe {
            let desktop = OpenInputDesktop(0, 0, DESKTOP_SWITCHDESKTOP);
            if desktop.is_null() {
                // The input desktop is the secure one (locked, or a UAC prompt).
                return Some(true);
            }
            let mut name = [0u16; 64];
            let mut needed = 0u32;
            let ok = GetUserObjectInformationW(
                desktop as HANDLE,
                UOI_NAME,
                name.as_mut_ptr().cast(),
                (name.len() * 2) as u32,
                &mut needed,
            );
            CloseDesktop(desktop);
            if ok == 0 {
                return None;
            }
            let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
            Some(!String::from_utf16_lossy(&name[..end]).eq_ignore_ascii_case("Default"))
        }
    }

    fn show_message(&self, text: &str) -> Result<String, String> {
        let (text, caption) = (wide(text.as_ref()), wide("Mamori".as_ref()));
        // The box waits for the user; the helper does not.
        std::thread::spawn(move || {
            // SAFETY: both strings are NUL-terminated and outlive the call.
            unsafe {
                wm::MessageBoxW(
                    std::ptr::null_mut(),
                    text.as_ptr(),
                    caption.as_ptr(),
                    wm::MB_OK | wm::MB_TOPMOST | wm::MB_SETFOREGROUND,
                )
            };
        });
        Ok("shown in a message box".into())
    }

    fn lock_screen(&self) -> Result<String, String> {
        // SAFETY: no arguments.
        if unsafe { windows_sys::Win32::System::Shutdown::LockWorkStation() } != 0 {
            Ok("locked".into())
        } else {
            Err(format!("LockWorkStation failed: {}", std::io::Error::last_os_error()))
        }
    }

    fn sign_out(&self) -> Result<String, String> {
        Self::sign_out_now()
    }
}

impl WindowsDesktop {
    fn sign_out_now() -> Result<String, String> {
        use windows_sys::Win32::System::Shutdown::{EWX_LOGOFF, ExitWindowsEx, SHTDN_REASON_FLAG_PLANNED};
        // SAFETY: flags only.
        if unsafe { ExitWindowsEx(EWX_LOGOFF, SHTDN_REASON_FLAG_PLANNED) } != 0 {
            Ok("signing out".into())
        } else {
            Err(format!("ExitWindowsEx failed: {}", std::io::Error::last_os_error()))
        }
    }
}

/// An instance of the service's named pipe, which interactive users (the helpers) may read and
/// write, and only the system and administrators may do more.
pub fn pipe_instance(
    name: &std::ffi::OsStr,
    first: bool,
) -> Result<tokio::net::windows::named_pipe::NamedPipeServer> {
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
    let sddl = wide("D:(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)".as_ref());
    let mut descriptor = std::ptr::null_mut();
    // SAFETY: the SDDL string is NUL-terminated; the descriptor is freed after the pipe is made.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            std::ptr::null_mut(),
        )
    };
    anyhow::ensure!(ok != 0, "building the pipe's security descriptor: {}", std::io::Error::last_os_error());
    let mut attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor,
        bInheritHandle: 0,
    };
    // SAFETY: `attributes` is a valid SECURITY_ATTRIBUTES for the duration of the call.
    let server = unsafe {
        tokio::net::windows::named_pipe::ServerOptions::new()
            .first_pipe_instance(first)
            .create_with_security_attributes_raw(name, (&raw mut attributes).cast())
    };
    // SAFETY: allocated by the conversion above.
    unsafe { LocalFree(descriptor) };
    server.with_context(|| format!("creating the named pipe {}", name.to_string_lossy()))
}

/// `DOMAIN\user` of the process at the other end of a pipe, from its token.
pub fn pipe_client_user(pipe: &tokio::net::windows::named_pipe::NamedPipeServer) -> String {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::Security::{
        GetTokenInformation, LookupAccountSidW, TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::System::Pipes::GetNamedPipeClientProcessId;
    use windows_sys::Win32::System::Threading::{
        OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    let mut pid = 0u32;
    // SAFETY: handles are closed below; buffers carry their lengths.
    unsafe {
        if GetNamedPipeClientProcessId(pipe.as_raw_handle() as HANDLE, &mut pid) == 0 {
            return "unknown".into();
        }
        let unknown = || format!("process {pid}");
        let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if process.is_null() {
            return unknown();
        }
        let mut token = std::ptr::null_mut();
        let opened = OpenProcessToken(process, TOKEN_QUERY, &mut token);
        CloseHandle(process);
        if opened == 0 {
            return unknown();
        }
        let mut buf = [0u64; 64];
        let mut len = 0u32;
        let got = GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr().cast(),
            std::mem::size_of_val(&buf) as u32,
            &mut len,
        );
        CloseHandle(token);
        if got == 0 {
            return unknown();
        }
        let user = &*(buf.as_ptr().cast::<TOKEN_USER>());
        let (mut name, mut domain) = ([0u16; 256], [0u16; 256]);
        let (mut name_len, mut domain_len, mut kind) = (256u32, 256u32, 0);
        let found = LookupAccountSidW(
            std::ptr::null(),
            user.User.Sid,
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut kind,
        );
        if found == 0 {
            return unknown();
        }
        let name = String::from_utf16_lossy(&name[..name_len as usize]);
        let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
        if domain.is_empty() { name } else { format!("{domain}\\{name}") }
    }
}

/// The USB devices present: (instance id, service, name) of each device and interface node, as
/// SetupAPI lists them; [`super::usb::from_windows`] makes devices of them.
pub fn usb_nodes() -> Vec<(String, Option<String>, Option<String>)> {
    use windows_sys::Win32::Devices::DeviceAndDriverInstallation::{
        DIGCF_ALLCLASSES, DIGCF_PRESENT, SP_DEVINFO_DATA, SPDRP_DEVICEDESC, SPDRP_FRIENDLYNAME,
        SPDRP_SERVICE, SetupDiDestroyDeviceInfoList, SetupDiEnumDeviceInfo, SetupDiGetClassDevsW,
        SetupDiGetDeviceInstanceIdW, SetupDiGetDeviceRegistryPropertyW,
    };
    let enumerator = wide("USB".as_ref());
    let mut out = Vec::new();
    // SAFETY: the device list is destroyed below; every buffer is passed with its size.
    unsafe {
        let set = SetupDiGetClassDevsW(
            std::ptr::null(),
            enumerator.as_ptr(),
            std::ptr::null_mut(),
            DIGCF_PRESENT | DIGCF_ALLCLASSES,
        );
        if set == -1 {
            return out;
        }
        let text = |buf: &[u16]| {
            let end = buf.iter().position(|c| *c == 0).unwrap_or(buf.len());
            Some(String::from_utf16_lossy(&buf[..end])).filter(|s| !s.is_empty())
        };
        let property = |data: &SP_DEVINFO_DATA, which| {
            let mut buf = [0u16; 256];
            let ok = SetupDiGetDeviceRegistryPropertyW(
                set,
                data,
                which,
                std::ptr::null_mut(),
                buf.as_mut_ptr().cast(),
                (buf.len() * 2) as u32,
                std::ptr::null_mut(),
            );
            if ok != 0 { text(&buf) } else { None }
        };
        for index in 0..1024 {
            let mut data: SP_DEVINFO_DATA = std::mem::zeroed();
            data.cbSize = std::mem::size_of::<SP_DEVINFO_DATA>() as u32;
            if SetupDiEnumDeviceInfo(set, index, &mut data) == 0 {
                break;
            }
            let mut id = [0u16; 512];
            if SetupDiGetDeviceInstanceIdW(set, &data, id.as_mut_ptr(), id.len() as u32, std::ptr::null_mut())
                == 0
            {
                continue;
            }
            let Some(id) = text(&id) else { continue };
            let name = property(&data, SPDRP_FRIENDLYNAME).or_else(|| property(&data, SPDRP_DEVICEDESC));
            out.push((id, property(&data, SPDRP_SERVICE), name));
        }
        SetupDiDestroyDeviceInfoList(set);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wine runs these one at a time: SetupAPI's first call there can stall the input path long
    /// enough for Windows' hook timeout to skip an event.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Input injected as a user's would be (SendInput) reaches the hooks and is counted.
    #[test]
    fn the_hooks_count_key_presses_and_clicks() {
        let _serial = ONE_AT_A_TIME.lock();
        use windows_sys::Win32::UI::Input::KeyboardAndMouse::{
            INPUT, INPUT_0, INPUT_KEYBOARD, INPUT_MOUSE, KEYBDINPUT, KEYEVENTF_KEYUP, MOUSEEVENTF_LEFTDOWN,
            MOUSEEVENTF_LEFTUP, MOUSEINPUT, SendInput,
        };
        let desktop = WindowsDesktop::start().expect("hooks installed");
        let _ = desktop.take_input();
        let key = |flags| INPUT {
            r#type: INPUT_KEYBOARD,
            Anonymous: INPUT_0 {
                ki: KEYBDINPUT { wVk: 0x41, wScan: 0, dwFlags: flags, time: 0, dwExtraInfo: 0 },
            },
        };
        let click = |flags| INPUT {
            r#type: INPUT_MOUSE,
            Anonymous: INPUT_0 {
                mi: MOUSEINPUT { dx: 0, dy: 0, mouseData: 0, dwFlags: flags, time: 0, dwExtraInfo: 0 },
            },
        };
        // One press (and release) at a time, each waited for: a hook that falls behind is
        // skipped by Windows, and a loaded CI machine must not make the test flaky.
        let send = |inputs: &[INPUT]| {
            // SAFETY: the slice and its element size are passed together.
            let sent = unsafe {
                SendInput(inputs.len() as u32, inputs.as_ptr(), std::mem::size_of::<INPUT>() as i32)
            };
            assert_eq!(sent as usize, inputs.len(), "SendInput took every event");
            let mut counted = (0, 0);
            for _ in 0..25 {
                std::thread::sleep(std::time::Duration::from_millis(20));
                let (k, c) = desktop.take_input();
                counted = (counted.0 + k, counted.1 + c);
                if counted != (0, 0) {
                    // Let a wrongly counted release arrive too, before judging.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    let (k, c) = desktop.take_input();
                    return (counted.0 + k, counted.1 + c);
                }
            }
            counted
        };
        // An event Windows skipped (its hook timeout) is sent again; one counted counts once.
        let counted =
            |inputs: &[INPUT]| (0..5).map(|_| send(inputs)).find(|c| *c != (0, 0)).unwrap_or((0, 0));
        for press in 0..5 {
            assert_eq!(counted(&[key(0), key(KEYEVENTF_KEYUP)]), (1, 0), "key press {press}, counted once");
        }
        assert_eq!(counted(&[click(MOUSEEVENTF_LEFTDOWN), click(MOUSEEVENTF_LEFTUP)]), (0, 1), "one click");
    }

    #[test]
    fn the_usb_list_answers() {
        let _serial = ONE_AT_A_TIME.lock();
        // Wine lists no USB devices; the enumeration must still answer, not fail.
        let nodes = usb_nodes();
        let _ = crate::collect::usb::from_windows(&nodes);
    }

    #[test]
    fn the_desktop_answers_without_a_user_at_it() {
        let _serial = ONE_AT_A_TIME.lock();
        // Under Wine in CI there is no one at the keyboard: these must answer, not fail.
        let desktop = WindowsDesktop;
        assert!(desktop.idle_ms().is_some(), "GetLastInputInfo answers");
        let _ = desktop.front();
        let _ = desktop.locked();
    }
}
