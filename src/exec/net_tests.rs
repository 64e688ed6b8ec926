//! The network half of confinement on a direct (Landlock) run: `Network::Tcp` allows
//! connecting only to its ports, fails closed where Landlock cannot restrict TCP, and every
//! confined run is refused Unix sockets (seccomp) but keeps `socketpair`.

use super::confine::{LandlockStatus, PreparedRuleset, landlock_status};
use super::{Confinement, ExecError, ExecSpec, Network};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

fn confined(script: &str, cwd: &Path, network: Network) -> ExecSpec {
    ExecSpec {
        argv: vec!["/usr/bin/python3".into(), "-c".into(), script.into()],
        cwd: cwd.to_path_buf(),
        env: Vec::new(),
        timeout: Duration::from_secs(30),
        max_output_bytes: 1 << 20,
        memory_limit: None,
        confinement: Confinement::ReadOnlyExcept {
            read_write: vec![cwd.to_path_buf()],
        },
        confinement_required: true,
        isolation: Default::default(),
        network,
    }
}

fn say(text: &str) {
    let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("{text}\n"));
}

fn output(spec: &ExecSpec) -> String {
    let mut sink = Vec::new();
    let out = super::run(spec, &mut sink).expect("run");
    String::from_utf8_lossy(&out.kept_output).into_owned()
}

const PROBE: &str = r#"
import socket, sys
for port in sys.argv[1:] or PORTS:
    try:
        socket.create_connection(("127.0.0.1", int(port)), 2)
        print("open", port)
    except OSError as e:
        print("closed", port, e.errno)
try:
    socket.socket(socket.AF_UNIX).close()
    print("unix socket made")
except OSError as e:
    print("unix refused", e.errno)
a, b = socket.socketpair()
a.send(b"ok")
print("pair", b.recv(2).decode())
"#;

#[test]
fn tcp_connects_only_to_listed_ports_and_unix_sockets_are_refused() {
    if !Path::new("/usr/bin/python3").exists() {
        say("skipping: no /usr/bin/python3");
        return;
    }
    match landlock_status() {
        LandlockStatus::Available { abi } if abi >= 4 => {}
        other => {
            say(&format!(
                "skipping: Landlock cannot restrict TCP here: {other:?}"
            ));
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let (pa, po) = (
        allowed.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    let script = PROBE.replace("PORTS", &format!("[{pa}, {po}]"));
    let out = output(&confined(
        &script,
        dir.path(),
        Network::Tcp {
            connect_ports: vec![pa],
        },
    ));
    assert!(out.contains(&format!("open {pa}")), "{out}");
    assert!(out.contains(&format!("closed {po} 13")), "{out}");
    assert!(
        out.contains("unix refused 13") && out.contains("pair ok"),
        "{out}"
    );
    // The host's network: both ports.
    let out = output(&confined(&script, dir.path(), Network::Host));
    assert!(
        out.contains(&format!("open {pa}")) && out.contains(&format!("open {po}")),
        "{out}"
    );
    assert!(out.contains("unix refused 13"), "{out}");
    // No network, even without namespaces: no socket at all.
    let out = output(&confined(&script, dir.path(), Network::None));
    assert!(out.contains(&format!("closed {pa} 13")), "{out}");
    assert!(
        out.contains("unix refused 13") && out.contains("pair ok"),
        "{out}"
    );
}

#[test]
fn tcp_ports_fail_closed_without_landlock_abi_4() {
    let tcp = Network::Tcp {
        connect_ports: vec![443],
    };
    match PreparedRuleset::build(3, &[], &tcp) {
        Err(ExecError::Network { reason }) => assert!(reason.contains("ABI 4"), "{reason}"),
        other => panic!("ABI 3 must refuse port rules: {other:?}"),
    }
}
