//! A hang turned into a test failure: the tests of callbacks that call back into the library.

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` on its own thread and panics with `what` if it has not finished within a minute
/// (it hung, or it panicked: a panic drops the sender without sending).
pub fn within_a_minute(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, rx) = mpsc::channel();
    std::thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(60)).is_ok(),
        "{what} hung (or panicked)"
    );
}
