use clap::Parser;
use moocpipe::Cli;

fn main() -> std::process::ExitCode {
    moocpipe_telemetry::init("error");
    let cli = Cli::parse();
    match moocpipe::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("moocpipe: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
