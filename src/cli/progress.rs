//! Progress for long CLI work, drawn on stderr only when it is a terminal (indicatif hides itself otherwise),
//! so scripts and logs stay clean.

use indicatif::{ProgressBar, ProgressStyle};

pub fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_string());
    bar
}

/// A bar counting `total` items.
pub fn counter(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} ({elapsed}, {eta} left)") {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}
