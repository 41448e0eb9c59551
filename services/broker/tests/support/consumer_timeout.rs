//! RabbitMQ's `consumer_timeout`, lowered for a test: shared by the broker
//! tests and the distributed end-to-end tests (included with `#[path]`).

use std::process::Command;

pub fn rabbitmqctl(args: &[&str]) -> Result<String, String> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|e| format!("rabbitmqctl: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "rabbitmqctl {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Lowers `consumer_timeout` to 5 s and makes channels check it every
/// second (RabbitMQ's own test suites do the same); puts both back on drop.
pub struct LowConsumerTimeout {
    tick: String,
    timeout: String,
}

impl LowConsumerTimeout {
    pub fn set() -> Self {
        let get = |key: &str| {
            rabbitmqctl(&["eval", &format!("application:get_env(rabbit, {key}).")])
                .unwrap_or_else(|e| panic!("rabbitmqctl is needed (as root) for this test: {e}"))
        };
        let guard = LowConsumerTimeout {
            tick: get("channel_tick_interval"),
            timeout: get("consumer_timeout"),
        };
        for command in [
            "application:set_env(rabbit, channel_tick_interval, 1000).",
            "application:set_env(rabbit, consumer_timeout, 5000).",
        ] {
            rabbitmqctl(&["eval", command]).expect("rabbitmqctl eval");
        }
        guard
    }

    fn restore(key: &str, was: &str) {
        let command = match was
            .trim()
            .strip_prefix("{ok,")
            .and_then(|v| v.strip_suffix('}'))
        {
            Some(value) => format!("application:set_env(rabbit, {key}, {value})."),
            None => format!("application:unset_env(rabbit, {key})."),
        };
        if let Err(error) = rabbitmqctl(&["eval", &command]) {
            eprintln!("could not restore {key}: {error}");
        }
    }
}

impl Drop for LowConsumerTimeout {
    fn drop(&mut self) {
        Self::restore("consumer_timeout", &self.timeout);
        Self::restore("channel_tick_interval", &self.tick);
    }
}
