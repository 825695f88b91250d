//! `pkv`: the command-line tool of pobj-kv (the commands arrive with the KV issue).
fn main() {
    eprintln!("pkv: no commands yet; see the README");
    std::process::exit(2);
}
