//! With the `pmdk` feature: links Debian's libpmemobj and compiles PMDK's example B-tree
//! (`tree_map/btree_map.c`, shipped by libpmemobj-dev under /usr/share/doc) as the
//! `pmdk-btree` peer. Without the example source the peer is left out (cfg `pmdk_btree` unset).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(pmdk_btree)");
    println!("cargo::rerun-if-env-changed=PMDK_EXAMPLES_DIR");
    #[cfg(feature = "pmdk")]
    pmdk();
}

#[cfg(feature = "pmdk")]
fn pmdk() {
    use std::path::PathBuf;
    let dir = std::env::var_os("PMDK_EXAMPLES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/doc/libpmemobj-dev/examples"));
    let tree = dir.join("tree_map");
    let src = tree.join("btree_map.c");
    if src.is_file() {
        println!("cargo::rerun-if-changed={}", src.display());
        cc::Build::new()
            .file(&src)
            .include(&tree)
            .warnings(false)
            .flag_if_supported("-std=gnu99")
            .compile("pmdk_btree_map");
        println!("cargo::rustc-cfg=pmdk_btree");
    } else {
        println!(
            "cargo::warning=PMDK's example B-tree not found at {} (libpmemobj-dev ships it); \
             the pmdk-btree peer is left out",
            src.display()
        );
    }
    println!("cargo::rustc-link-lib=dylib=pmemobj");
}
