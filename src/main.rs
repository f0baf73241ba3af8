use clap::Parser;

fn main() {
    let cli = scimd::cli::Cli::parse();
    scimd::cli::logging::init(cli.log_format);
    if let Err(message) = scimd::cli::run(cli) {
        eprintln!("scimd: {message}");
        std::process::exit(1);
    }
}
