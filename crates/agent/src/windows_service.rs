//! The agent as a Windows service (`MamoriAgent`, LocalSystem, started with Windows):
//! `mamori-agent service install` registers it, `service uninstall` stops and removes it, and the
//! service control manager starts `mamori-agent service run`, which reports to the server as
//! `mamori-agent run` does until Windows asks it to stop.

use anyhow::{Context, Result};
use std::ffi::OsString;
use std::time::Duration;
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode, ServiceInfo,
    ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

pub const SERVICE_NAME: &str = "MamoriAgent";

define_windows_service!(ffi_service_main, service_main);

/// Hands the thread to the service control manager (only works when it started us).
pub fn run_as_service() -> Result<()> {
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .context("not started by the service control manager (use `mamori-agent service install`)")
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::Win32(exit),
        checkpoint: 0,
        wait_hint: Duration::from_secs(5),
        process_id: None,
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            let _ = stop_tx.send(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let _ = handle.set_service_status(status(ServiceState::Running, 0));
    let outcome = tokio::runtime::Builder::new_current_thread().enable_all().build().map(|rt| {
        rt.block_on(async {
            tokio::select! {
                r = crate::run(false, None, 30, 3600, None) => r,
                _ = stop_rx.changed() => Ok(()),
            }
        })
    });
    let exit = match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            // A service has no console: why it stopped goes beside its state.
            let log = crate::state::default_dir().join("service.log");
            let line =
                format!("{}: stopped: {e:#}\n", mamori_domain::UnixMillis(crate::client::now_ms()).rfc3339());
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
            1
        }
        Err(_) => 1,
    };
    let _ = handle.set_service_status(status(ServiceState::Stopped, exit));
}

/// Registers the service, started with Windows, running this executable.
pub fn install() -> Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CREATE_SERVICE)
        .context("opening the service control manager (run as an administrator)")?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: "Mamori endpoint agent".into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: std::env::current_exe()?,
        launch_arguments: vec!["service".into(), "run".into()],
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let service =
        manager.create_service(&info, ServiceAccess::CHANGE_CONFIG).context("creating the service")?;
    let _ = service
        .set_description("Reports this PC's inventory and events to Mamori; carries out its commands.");
    println!(
        "installed the {SERVICE_NAME} service; start it with `sc start {SERVICE_NAME}` or restart Windows"
    );
    Ok(())
}

/// Stops the service if it runs, and removes it.
pub fn uninstall() -> Result<()> {
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .context("opening the service control manager (run as an administrator)")?;
    let service = manager
        .open_service(SERVICE_NAME, ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE)
        .context("the service is not installed")?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        let _ = service.stop();
    }
    service.delete().context("removing the service")?;
    println!("removed the {SERVICE_NAME} service");
    Ok(())
}
