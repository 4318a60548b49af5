//! Generates `include/directus_chat.h` from `src/ffi` with cbindgen.
//!
//! The header is committed; CI rebuilds it and fails if it differs. The file is only
//! rewritten when its content changes, so builds do not dirty the tree needlessly.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let header = crate_dir.join("include").join("directus_chat.h");
    match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        Ok(bindings) => {
            bindings.write_to_file(&header);
        }
        // A half-edited tree must still build the library; the header check in CI
        // catches a header that could not be refreshed.
        Err(e) => println!("cargo:warning=cannot generate {}: {e}", header.display()),
    }
}
