//! Output that never panics: stdout errors become [`Failure`]s, and a reader
//! that goes away (`formwork fuzz ... | head`) ends the program quietly, as
//! ripgrep does; stderr notes are best-effort.
use std::io::{self, Write};

/// How a run that did not succeed ends.
pub enum Failure {
    /// Reported on stderr as `error: ...`, exit code 1.
    Error(String),
    /// Whoever read stdout closed it: stop quietly, exit code 0.
    StdoutClosed,
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Error(e)
    }
}

impl From<&str> for Failure {
    fn from(e: &str) -> Failure {
        Failure::Error(e.to_string())
    }
}

/// A failed write to stdout.
pub fn stdout_error(e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Failure::StdoutClosed
    } else {
        Failure::Error(format!("cannot write to stdout: {e}"))
    }
}

/// Line-buffered stdout: each line reaches the reader as it is written,
/// so `fuzz -n 1000000 | head` sees its first lines at once.
pub struct Out(io::LineWriter<io::StdoutLock<'static>>);

impl Out {
    pub fn new() -> Out {
        Out(io::LineWriter::new(io::stdout().lock()))
    }

    /// Writes `line` and a newline.
    pub fn line(&mut self, line: impl std::fmt::Display) -> Result<(), Failure> {
        writeln!(self.0, "{line}").map_err(stdout_error)
    }

    /// Writes `text` as it is (no newline) and flushes it to the reader.
    pub fn piece(&mut self, text: &str) -> Result<(), Failure> {
        self.0.write_all(text.as_bytes()).map_err(stdout_error)?;
        self.flush()
    }

    pub fn flush(&mut self) -> Result<(), Failure> {
        self.0.flush().map_err(stdout_error)
    }
}

/// `eprintln!` without the panic when stderr is gone: a note that cannot
/// be written has nowhere else to go.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use note;
