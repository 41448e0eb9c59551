use clap::Parser;
use moocpipe::Cli;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Kept to the end: dropping it exports the spans not yet sent.
    let telemetry = moocpipe_telemetry::init("error", &cli.service_name());
    let code = match moocpipe::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("moocpipe: {e:#}");
            std::process::ExitCode::from(2)
        }
    };
    drop(telemetry);
    code
}
