//! A worker on a network island: its own network namespace, joined to this
//! machine by a veth pair whose link the fault suite takes down and up. The
//! island reaches RabbitMQ, Garage and PostgreSQL (which listen on the
//! loopback only) through TCP forwarders in this process that listen on the
//! host end of the pair. Both ends are link-local addresses of namespaces
//! this process made: no traffic leaves the machine.
//!
//! Needs root (`ip netns`, `ip link`), as the fault suite's other
//! machine-level faults do.

use crate::faults::fresh_name;
use crate::pipeline::Pipeline;
use std::process::Command;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The host's end of the pair, where the forwarders listen.
const HOST_ADDR: &str = "169.254.213.1";
/// The island's end.
const ISLAND_ADDR: &str = "169.254.213.2";

pub struct Island {
    namespace: String,
    host_link: String,
    /// (what it forwards to on 127.0.0.1, where it listens on the host end)
    ports: Vec<(u16, u16)>,
    forwarders: Vec<JoinHandle<()>>,
}

impl Island {
    /// Makes the namespace and the pair, and forwarders to the broker, the
    /// pipeline's Garage node and PostgreSQL.
    pub async fn create(p: &Pipeline) -> Island {
        let namespace = fresh_name("moocpipe-");
        let host_link = fresh_name("mph");
        let island_link = fresh_name("mpi");
        ip(&["netns", "add", &namespace]);
        let mut island = Island {
            namespace: namespace.clone(),
            host_link: host_link.clone(),
            ports: Vec::new(),
            forwarders: Vec::new(),
        };
        ip(&[
            "link",
            "add",
            &host_link,
            "type",
            "veth",
            "peer",
            "name",
            &island_link,
        ]);
        ip(&["link", "set", &island_link, "netns", &namespace]);
        ip(&["addr", "add", &format!("{HOST_ADDR}/30"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &namespace, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&[
            "addr",
            "add",
            &format!("{ISLAND_ADDR}/30"),
            "dev",
            &island_link,
        ]);
        inside(&["link", "set", &island_link, "up"]);
        inside(&["link", "set", "lo", "up"]);
        for target in [5672, p.garage.s3_port, 5432] {
            let listener = TcpListener::bind((HOST_ADDR, 0))
                .await
                .expect("listen on the host end of the pair");
            let port = listener.local_addr().expect("address").port();
            island.ports.push((target, port));
            island
                .forwarders
                .push(tokio::spawn(forward(listener, target)));
        }
        island
    }

    /// The command that runs a program on the island.
    pub fn wrapper(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.namespace]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// The pipeline's environment as seen from the island: the broker, the
    /// store and the database through the forwarders.
    pub fn env(&self, p: &Pipeline) -> Vec<(String, String)> {
        let via = |target: u16| {
            let port = self
                .ports
                .iter()
                .find(|(t, _)| *t == target)
                .map(|(_, port)| *port)
                .expect("a forwarder for every service");
            format!("{HOST_ADDR}:{port}")
        };
        let local = |port: u16| format!("127.0.0.1:{port}");
        let database = p.database.url.replace(&local(5432), &via(5432));
        assert_ne!(
            database, p.database.url,
            "the test database must be on 127.0.0.1:5432 for the island"
        );
        vec![
            (
                "MOOCPIPE_AMQP_URL".to_owned(),
                moocpipe_broker::DEFAULT_AMQP_URL.replace(&local(5672), &via(5672)),
            ),
            (
                "MOOCPIPE_S3_ENDPOINT".to_owned(),
                format!("http://{}", via(p.garage.s3_port)),
            ),
            ("MOOCPIPE_DATABASE_URL".to_owned(), database),
        ]
    }

    /// Takes the island's link down (packets dropped, connections hang) or
    /// up again.
    pub fn link(&self, up: bool) {
        ip(&[
            "link",
            "set",
            &self.host_link,
            if up { "up" } else { "down" },
        ]);
    }

    /// Removes the namespace (and with it the pair) and the forwarders.
    pub fn remove(self) {
        drop(self);
    }
}

impl Drop for Island {
    fn drop(&mut self) {
        for forwarder in &self.forwarders {
            forwarder.abort();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .output();
    }
}

/// Every connection to `listener`, copied both ways to 127.0.0.1:`target`.
async fn forward(listener: TcpListener, target: u16) {
    while let Ok((mut inbound, _)) = listener.accept().await {
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("run ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {} (the cut-off fault needs root for network namespaces)",
        String::from_utf8_lossy(&out.stderr)
    );
}
