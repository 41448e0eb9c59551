//! One module per subcommand.

pub mod caption;
pub mod check;
pub mod config;
pub mod distributed;
pub mod links;
pub mod models;
pub mod process;
pub mod qc;
pub mod serve;

/// A progress callback for one file: `verb file: NN%` rewritten in place on
/// stderr when `show` (a terminal), silent otherwise. Call [`clear_line`]
/// when the file is done.
pub(crate) fn percent_progress(verb: &'static str, file: String, show: bool) -> impl FnMut(f64) {
    let mut last = -1i64;
    move |f: f64| {
        let percent = (f * 100.0) as i64;
        if show && percent != last {
            last = percent;
            eprint!("\r\x1b[2K{verb} {file}: {percent:>3}%");
        }
    }
}

/// Clears the progress line when one was shown.
pub(crate) fn clear_line(show: bool) {
    if show {
        eprint!("\r\x1b[2K");
    }
}
