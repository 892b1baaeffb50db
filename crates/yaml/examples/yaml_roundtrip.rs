//! Reads a YAML stream (file argument or stdin) and prints it the way `kubectl kustomize`
//! would print those objects. Used to compare fjord-yaml against kustomize by hand.

use std::io::Read;

fn main() {
    let mut input = Vec::new();
    let read = match std::env::args().nth(1) {
        Some(path) => std::fs::read(path).map(|b| input = b),
        None => std::io::stdin().read_to_end(&mut input).map(|_| ()),
    };
    if let Err(e) = read {
        eprintln!("read: {e}");
        std::process::exit(2);
    }
    let result = fjord_yaml::parse_documents(&input)
        .map_err(|e| e.to_string())
        .and_then(|docs| fjord_yaml::emit_documents(&docs).map_err(|e| e.to_string()));
    match result {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
