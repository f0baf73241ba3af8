use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = scimd::cli::Cli::parse();
    if let Err(message) = scimd::cli::run(cli) {
        eprintln!("scimd: {message}");
        std::process::exit(1);
    }
}
