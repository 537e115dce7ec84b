//! The `formwork` command line.
//!
//! The library holds the engine; this binary holds what only a command line
//! needs: argument parsing ([`args`], the only user of clap), reading files
//! and stdin within bounds ([`input`]), output that survives a closed pipe
//! ([`output`]), one module per subcommand, the benchmark protocol
//! ([`bench`]), the one dispatch from a constraint's kind to its frontend
//! ([`constraint`]) and the rewording of library errors into flags
//! ([`wording`]).

mod args;
mod bench;
mod constraint;
mod fuzz;
#[cfg(feature = "model")]
mod generate;
mod input;
mod mask;
mod output;
mod repair;
#[cfg(feature = "serve")]
mod serve;
mod wording;

use args::{Cli, Cmd, Given};
use clap::{CommandFactory, FromArgMatches};
use output::{note, Failure};
use std::process::ExitCode;

/// Runs one subcommand; `given` holds its command-line matches.
fn run(cli: Cli, given: &Given) -> Result<(), Failure> {
    match cli.cmd {
        Cmd::Repair(a) => repair::command(a),
        #[cfg(feature = "model")]
        Cmd::Generate(a) => match generate::command(a, given)? {
            true => Ok(()),
            false => Err("incomplete output (raise --max-tokens)".into()),
        },
        #[cfg(feature = "serve")]
        Cmd::Serve(a) => serve::command(a),
        Cmd::Mask(a) => mask::command(a, given),
        Cmd::Fuzz(a) => fuzz::command(a, given),
        Cmd::Bench(a) => bench::command(a, given),
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let given = Given(matches.subcommand().map(|(_, m)| m));
    match run(cli, &given) {
        Ok(()) | Err(Failure::StdoutClosed) => ExitCode::SUCCESS,
        Err(Failure::Error(e)) => {
            note!("error: {}", wording::cli_message(&e));
            ExitCode::FAILURE
        }
    }
}
